//! Metering through the running gateway: for every client dialect against every provider
//! dialect, streamed and not, the ledger holds exactly the usage the provider reported (prompt
//! cache reads and writes and reasoning included, each dialect reporting them its own way) and
//! the cost computed by hand from the configured prices; a client that leaves mid-stream is
//! billed the provider's final usage; and `/metrics`, read with the Prometheus project's own
//! text-format parser, agrees with the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::send;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tollgate_mock::ExtraUsage;

const DIALECTS: [&str; 4] = ["openai", "openai-responses", "anthropic", "gemini"];

/// What every mock answer reports on top of its own counts.
const EXTRA: ExtraUsage = ExtraUsage {
    cache_read: 100,
    cache_write: 20,
    reasoning: 7,
};

/// One provider per dialect on one mock, each serving `m-<dialect>` at the same prices,
/// every request in the ledger at `log`; `metering` adds to that config section.
async fn gateway(log: &Path, metering: &str) -> (MockProvider, TestGateway) {
    let m = mock("mock").await;
    m.set_default(Behavior {
        extra_usage: Some(EXTRA),
        ..Behavior::default()
    });
    let mut yaml = format!(
        "state: {{ usage_log: \"{}\" }}\nmetering: {{ ledger_fsync: 50ms{metering} }}\nproviders:\n",
        log.display()
    );
    yaml.push_str(&providers_of_every_dialect(&m, "m"));
    yaml.push_str(&keys());
    yaml.push_str("pricing:\n");
    for d in DIALECTS {
        yaml.push_str(&format!(
            "  m-{d}: {{ input: 2.50, cached_input: 1.25, cache_write: 3.125, output: 10.00 }}\n"
        ));
    }
    (m, TestGateway::start(&yaml).await)
}

async fn ask(gw: &TestGateway, client: &str, provider: &str, stream: bool) {
    let r = ask_as(gw.addr, client, &format!("m-{provider}"), stream).await;
    assert_eq!(r.status, 200, "{client} <- {provider}: {}", r.text());
}

/// What the mock reports for "Be brief." and "say hi please" answered with "Hello from
/// mock!" (5 prompt words, 3 answer words) plus [`EXTRA`], in each provider's dialect, read
/// as dialects.md §3.3 says.
fn reported(provider: &str) -> Value {
    match provider {
        // Cached tokens inside the prompt total, reasoning inside the output total.
        "openai" | "openai-responses" => {
            json!({"input": 125, "cache_read": 100, "cache_write": 20, "output": 10, "reasoning": 7})
        }
        // input_tokens (5) + cache reads + cache writes; thinking is in output_tokens, with no
        // count of its own.
        "anthropic" => {
            json!({"input": 125, "cache_read": 100, "cache_write": 20, "output": 10, "reasoning": 0})
        }
        // The cache inside promptTokenCount, no cache writes; output = candidates + thoughts.
        _ => {
            json!({"input": 105, "cache_read": 100, "cache_write": 0, "output": 10, "reasoning": 7})
        }
    }
}

/// By hand, in micro-USD, at $2.50 input, $1.25 cached, $3.125 cache write, $10 output per
/// million tokens: (5 × 2.5 + 100 × 1.25 + 20 × 3.125 + 10 × 10) = 300 for all but Gemini,
/// (5 × 2.5 + 100 × 1.25 + 10 × 10) = 237.5 → 238 for it (rounded once, half up).
fn priced(provider: &str) -> i64 {
    if provider == "gemini" {
        238
    } else {
        300
    }
}

#[tokio::test]
async fn every_pair_streamed_or_not_records_the_provider_s_usage_and_its_exact_cost() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("usage.jsonl");
    let (_m, gw) = gateway(&log, "").await;
    let mut asked = Vec::new();
    for client in DIALECTS {
        for provider in DIALECTS {
            for stream in [false, true] {
                ask(&gw, client, provider, stream).await;
                asked.push((client, provider, stream));
                // One at a time, so that the ledger's order is the asking order.
                ledger_lines(&log, asked.len()).await;
            }
        }
    }
    let lines = ledger_lines(&log, 32).await;
    for (line, (client, provider, stream)) in lines.iter().zip(&asked) {
        let pair = format!("{client} <- {provider}, stream {stream}");
        assert_eq!(line["kind"], "request", "{pair}");
        assert_eq!(line["dialect"], *client, "{pair}");
        assert_eq!(line["provider_dialect"], *provider, "{pair}");
        assert_eq!(line["provider"], format!("m-{provider}"), "{pair}");
        assert_eq!(line["model"], format!("m-{provider}"), "{pair}");
        assert_eq!(line["stream"], *stream, "{pair}");
        assert_eq!(line["end"], "completed", "{pair}");
        assert_eq!(line["estimated"], false, "{pair}");
        assert_eq!(line["usage"], reported(provider), "{pair}");
        assert_eq!(line["cost_micro_usd"], priced(provider), "{pair}");
    }
}

#[tokio::test]
async fn a_client_that_leaves_after_the_first_event_is_billed_the_provider_s_final_usage() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("usage.jsonl");
    let (m, gw) = gateway(&log, "").await;
    for (i, provider) in DIALECTS.iter().enumerate() {
        let hold = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        m.push(Behavior {
            hold_after_first: Some(hold.clone()),
            reply: Some(format!("one {}", "more ".repeat(199).trim_end())),
            extra_usage: Some(EXTRA),
            ..Behavior::default()
        });
        let mut conn = open_as(gw.addr, "openai", &format!("m-{provider}"), true).await;
        assert_eq!(conn.status, 200);
        conn.read_until("\"content\":\"one\"").await;
        drop(conn);
        // Time for the gateway to see the client go while the provider holds its stream; were
        // the rest sent first, it could still fit in the closed socket's buffer.
        tokio::time::sleep(Duration::from_millis(300)).await;
        hold.add_permits(1);
        let lines = ledger_lines(&log, i + 1).await;
        let line = &lines[i];
        assert_eq!(line["end"], "client_disconnected", "{provider}: {line}");
        assert_eq!(line["estimated"], false, "{provider}: {line}");
        // All 200 words the provider generated, not the one the client saw.
        let mut want = reported(provider);
        want["output"] = json!(200 + 7);
        assert_eq!(line["usage"], want, "{provider}");
    }
}

/// Every sample of a `/metrics` page, parsed by `prometheus_client.parser`: name and sorted
/// labels → value.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python with prometheus_client (scripts/deps --test installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser refused the page:\n{text}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_agree_with_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("usage.jsonl");
    let (_m, gw) = gateway(&log, "").await;
    for provider in DIALECTS {
        for stream in [false, true] {
            ask(&gw, "openai", provider, stream).await;
        }
    }
    let lines = ledger_lines(&log, 8).await;
    let page = send(gw.admin, "GET", "/metrics", &[], b"").await.text();
    let samples = parse_metrics(&page);
    let get = |name: &str| samples.get(name).copied().unwrap_or(0.0);

    let mut ledger_tokens: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut ledger_cost: BTreeMap<String, i64> = BTreeMap::new();
    for l in &lines {
        let provider = l["provider"].as_str().unwrap().to_string();
        for (kind, n) in l["usage"].as_object().unwrap() {
            *ledger_tokens
                .entry((kind.clone(), provider.clone()))
                .or_default() += n.as_u64().unwrap();
        }
        *ledger_cost.entry(provider).or_default() += l["cost_micro_usd"].as_i64().unwrap();
    }
    for ((kind, provider), n) in &ledger_tokens {
        let model = provider.replace("p-", "m-");
        let name =
            format!("tollgate_tokens_total{{kind={kind},model={model},provider={provider}}}");
        assert_eq!(get(&name), *n as f64, "{name}");
    }
    for (provider, micro) in &ledger_cost {
        let name = format!("tollgate_cost_micro_usd_total{{model={provider},provider={provider}}}");
        assert_eq!(get(&name), *micro as f64, "{name}");
    }
    for provider in DIALECTS {
        let name = format!(
            "tollgate_requests_total{{dialect=openai,model=m-{provider},provider=m-{provider},route=generate,status=200}}"
        );
        assert_eq!(get(&name), 2.0, "{name}");
        for stream in ["false", "true"] {
            let name = format!(
                "tollgate_time_to_first_token_seconds_count{{model=m-{provider},provider=m-{provider},stream={stream}}}"
            );
            assert_eq!(get(&name), 1.0, "{name}");
        }
    }
    assert_eq!(
        get("tollgate_gateway_overhead_seconds_count{dialect=openai,route=generate}"),
        8.0
    );
    // Streams with more than one output token have a time per token.
    let per_token: f64 = samples
        .iter()
        .filter(|(k, _)| k.starts_with("tollgate_time_per_output_token_seconds_count"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(per_token, 4.0);
}

#[tokio::test]
async fn a_request_cancelled_before_the_provider_s_first_byte_costs_nothing_unless_configured() {
    for (charge, cost) in [(false, Value::Null), (true, json!(83))] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("usage.jsonl");
        let (m, gw) = gateway(&log, &format!(", charge_cancelled: {charge}")).await;
        m.set_default(Behavior {
            header_delay: Duration::from_secs(3),
            ..Behavior::default()
        });
        let conn = open_as(gw.addr, "openai", "m-openai", false);
        // The client gives up while the provider has not answered yet.
        let _ = tokio::time::timeout(Duration::from_millis(300), conn).await;
        let line = &ledger_lines(&log, 1).await[0];
        assert_eq!(line["end"], "client_disconnected", "{line}");
        assert_eq!(line["cost_micro_usd"], cost, "{line}");
        if charge {
            // The prompt alone, estimated from the request's 130 bytes: 33 tokens at $2.50 a
            // million, 82.5 µUSD, rounded half up.
            assert_eq!(line["estimated"], true);
            assert_eq!(line["usage"]["input"], 33);
            assert_eq!(line["usage"]["output"], 0);
        } else {
            assert_eq!(line["usage"], Value::Null);
        }
    }
}
