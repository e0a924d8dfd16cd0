//! The usage ledger: one JSON line per request that reached admission, with the provider's
//! usage and its exact cost, on disk when a graceful stop has finished.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::chat;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn every_admitted_request_has_exactly_one_record_on_disk_after_sigterm() {
    let m = mock("alpha").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ledger").join("usage.jsonl");
    let yaml = format!(
        "state: {{ usage_log: \"{}\" }}\nproviders:\n{}keys:\n  - {{ key: {KEY}, name: tester, group: team, limits: {{ rpm: 2 }} }}\ngroups:\n  team: {{ price_multiplier: 2 }}\npricing:\n  gpt-4o-mini: {{ input: 2.50, output: 10.00 }}\n",
        log.display(),
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
    );
    let mut gw = TestGateway::start(&yaml).await;
    assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 200);
    let mut streamed = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    streamed.read_until("[DONE]").await;
    drop(streamed);
    // The stream is logged (and its record written) just after its last byte: in order.
    gw.log_lines_with("tollgate::access", 2).await;
    assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 429);
    // Never admitted (no key): no record.
    assert_eq!(
        chat(gw.addr, "sk-wrong-key-1", &hello("gpt-4o-mini"))
            .await
            .status,
        401
    );
    gw.log_with("status=429").await;
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).await, Some(0));

    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3, "{text}");
    let mut ids = Vec::new();
    for (r, (stream, status, end)) in records.iter().zip([
        (false, 200, "completed"),
        (true, 200, "completed"),
        (false, 429, "rate_limited"),
    ]) {
        let mut r = r.clone();
        let o = r.as_object_mut().unwrap();
        let ts = o.remove("ts").unwrap();
        assert!(
            humantime::parse_rfc3339(ts.as_str().unwrap()).is_ok(),
            "{ts}"
        );
        ids.push(
            o.remove("request_id")
                .unwrap()
                .as_str()
                .unwrap()
                .to_string(),
        );
        assert!(o.remove("ms").unwrap().as_u64().is_some());
        let served = status == 200;
        for latency in ["ttft_ms", "upstream_ms"] {
            let v = o.remove(latency).unwrap();
            assert_eq!(v.is_u64(), served, "{latency}: {v}");
        }
        assert_eq!(
            r,
            json!({"kind": "request", "key": "tester", "group": "team", "dialect": "openai",
                "model": "gpt-4o-mini",
                "provider": if served { json!("alpha") } else { Value::Null },
                "provider_dialect": if served { json!("openai") } else { Value::Null },
                "upstream_model": if served { json!("gpt-4o-mini") } else { Value::Null },
                "estimated": false,
                "stream": stream, "status": status, "end": end,
                // "say hi please" → "Hello from alpha!", as the mock reports it.
                "usage": if served {
                    json!({"input": 3, "cache_read": 0, "cache_write": 0, "output": 3, "reasoning": 0})
                } else { Value::Null },
                // (3 × $2.50 + 3 × $10.00) per million tokens, × 2 for the group.
                "cost_micro_usd": if served { json!(75) } else { Value::Null },
                "attempts": if served { 1 } else { 0 }}),
        );
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each record has its own id");
}
