//! `/metrics` on the admin listener: what was served, by whom, with how many tokens, and what
//! the limits turned away, in Prometheus text format; label values never come from a client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{chat, send};
use common::*;
use std::time::{Duration, Instant};

async fn scrape(gw: &TestGateway) -> String {
    let r = send(gw.admin, "GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text()
}

/// Scrapes until every one of `lines` is there (a request is counted just after its answer).
async fn scrape_until(gw: &TestGateway, lines: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(gw).await;
        if lines.iter().all(|l| text.lines().any(|got| got == *l)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "missing some of {lines:#?} in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn requests_tokens_and_refusals_are_counted_with_labels_from_the_config() {
    let m = mock("alpha").await;
    let yaml = format!(
        "providers:\n{}keys:\n  - {{ key: {KEY}, name: tester, group: team, limits: {{ rpm: 3 }} }}\ngroups:\n  team: {{ price_multiplier: 2 }}\npricing:\n  gpt-4o-mini: {{ input: 2.50, output: 10.00 }}\n",
        provider("alpha", &m.base_url(), "[gpt-4o-mini, \"gpt-5*\"]", ""),
    );
    let gw = TestGateway::start(&yaml).await;
    for _ in 0..2 {
        assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 200);
    }
    // Served by a glob: a client's own name for it is not a label.
    assert_eq!(
        chat(gw.addr, KEY, &hello("gpt-5-attacker-chosen"))
            .await
            .status,
        200
    );
    assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 429);
    assert_eq!(
        chat(gw.addr, "sk-wrong-key-1", &hello("gpt-4o-mini"))
            .await
            .status,
        401
    );

    let text = scrape_until(
        &gw,
        &[
            r#"tollgate_requests_total{dialect="openai",model="gpt-4o-mini",provider="alpha",route="generate",status="200"} 2"#,
            r#"tollgate_requests_total{dialect="openai",model="other",provider="alpha",route="generate",status="200"} 1"#,
            r#"tollgate_requests_total{dialect="openai",model="gpt-4o-mini",provider="-",route="generate",status="429"} 1"#,
            r#"tollgate_requests_total{dialect="openai",model="-",provider="-",route="generate",status="401"} 1"#,
            // "say hi please" → "Hello from alpha!": 3 and 3 tokens each, as the mock reports.
            r#"tollgate_tokens_total{kind="input",model="gpt-4o-mini",provider="alpha"} 6"#,
            r#"tollgate_tokens_total{kind="output",model="gpt-4o-mini",provider="alpha"} 6"#,
            r#"tollgate_tokens_total{kind="input",model="other",provider="alpha"} 3"#,
            r#"tollgate_upstream_attempts_total{provider="alpha"} 3"#,
            // 3 × $2.50 + 3 × $10.00 per million tokens, × 2 for the group: 75 µUSD each.
            r#"tollgate_cost_micro_usd_total{model="gpt-4o-mini",provider="alpha"} 150"#,
            r#"tollgate_rate_limited_total{limit="rpm",scope="key"} 1"#,
            r#"tollgate_request_duration_seconds_count{dialect="openai",route="generate"} 5"#,
            "tollgate_redis_outages_total 0",
        ],
    )
    .await;
    assert!(!text.contains("attacker"), "{text}");
    gw.log_with("cost_micro_usd=75").await;
    assert!(text.contains("# TYPE tollgate_request_duration_seconds histogram"));
    assert!(text.contains("tollgate_requests_in_flight "));
}
