//! Balances: a key with `budget_usd` is admitted only while its balance covers what the
//! request may cost, so concurrent requests cannot overdraw it, in process or through Redis;
//! a used-up key is told so in its own dialect before any provider is called; balances survive
//! a restart (rebuilt from the ledger); and the admin API reads and credits them behind its
//! token, never showing a key's secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{chat, send, Response};
use common::redis::RedisServer;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const ADMIN: &str = "admin-token-for-tests-0123456789";

/// A key with a $10 budget whose every request costs exactly $1 (a per-request price and
/// no token prices), so its balance covers exactly ten.
fn config(m: &MockProvider, state: &str) -> String {
    format!(
        "state: {{ {state} }}\nmetering: {{ ledger_fsync: 100ms }}\nadmin: {{ token: {ADMIN} }}\nproviders:\n{}keys:\n  - {{ key: {KEY}, name: tester, budget_usd: 10 }}\n  - {{ key: sk-free-key-0001, name: free }}\npricing:\n  gpt-4o-mini: {{ input: 0, output: 0, per_request: 1.00 }}\n",
        provider("alpha", &m.base_url(), "[gpt-4o-mini, gpt-4o]", ""),
    )
}

fn ledger_state(dir: &Path) -> String {
    format!("usage_log: \"{}\"", dir.join("usage.jsonl").display())
}

async fn admin(
    gw: &TestGateway,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    send(gw.admin, method, path, &headers, &body).await
}

/// An admin GET with the right token.
async fn admin_get(gw: &TestGateway, path: &str) -> Response {
    admin(gw, "GET", path, Some(ADMIN), &Value::Null).await
}

async fn balance(gw: &TestGateway) -> Value {
    let r = admin_get(gw, "/admin/keys/tester/balance").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Waits until the balance has nothing reserved (every request settled), and returns it.
async fn settled(gw: &TestGateway) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let b = balance(gw).await;
        if b["reserved_micro_usd"] == 0 {
            return b;
        }
        assert!(Instant::now() < deadline, "still reserved: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 50 requests at once against a balance that covers 10.
async fn fifty_at_once(gw: &TestGateway, m: &MockProvider) {
    let statuses = hellos_at_once(&[gw.addr], 50).await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(
        r.json()["error"]["code"],
        "insufficient_quota",
        "{}",
        r.text()
    );
    assert_eq!(r.header("x-should-retry"), Some("false"));
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((ok, refused), (10, 40), "{statuses:?}");
    // The refused never reached the provider.
    assert_eq!(m.requests().len(), 10);
    let b = settled(gw).await;
    assert_eq!(b["spent_micro_usd"], 10_000_000, "{b}");
    assert_eq!(b["available_micro_usd"], 0, "{b}");
}

#[tokio::test]
async fn fifty_concurrent_requests_cannot_overdraw_a_balance_that_covers_ten() {
    let dir = tempfile::tempdir().unwrap();
    let m = mock("alpha").await;
    // Each answer takes a while, so all fifty are in flight together.
    m.set_default(Behavior {
        header_delay: Duration::from_millis(200),
        ..Behavior::default()
    });
    let gw = TestGateway::start(&config(&m, &ledger_state(dir.path()))).await;
    fifty_at_once(&gw, &m).await;
    // A model without a price would cost it nothing: a budgeted key may not use one.
    let r = chat(gw.addr, KEY, &hello("gpt-4o")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.json()["error"]["message"],
        "The model `gpt-4o` has no price, and this key's use is limited by its budget."
    );
    assert_eq!(
        chat(gw.addr, "sk-free-key-0001", &hello("gpt-4o"))
            .await
            .status,
        200
    );
    // A key without a budget is not limited by money.
    assert_eq!(
        chat(gw.addr, "sk-free-key-0001", &hello("gpt-4o-mini"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn through_redis_two_replicas_cannot_overdraw_a_balance_together() {
    let redis = RedisServer::start().await;
    let m = mock("alpha").await;
    m.set_default(Behavior {
        header_delay: Duration::from_millis(200),
        ..Behavior::default()
    });
    let state = format!("backend: redis, redis_url: \"{}\"", redis.url());
    let one = TestGateway::start(&config(&m, &state)).await;
    let two = TestGateway::start(&config(&m, &state)).await;
    let statuses = hellos_at_once(&[one.addr, two.addr], 50).await;
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((ok, refused), (10, 40), "{statuses:?}");
    assert_eq!(m.requests().len(), 10);
    // Both replicas see one balance.
    for gw in [&one, &two] {
        let b = settled(gw).await;
        assert_eq!(b["spent_micro_usd"], 10_000_000, "{b}");
        assert_eq!(b["available_micro_usd"], 0, "{b}");
    }
    // A credit through one replica is spendable through the other at once.
    let r = admin(
        &one,
        "POST",
        "/admin/keys/tester/credit",
        Some(ADMIN),
        &json!({"amount_usd": "1"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(chat(two.addr, KEY, &hello("gpt-4o-mini")).await.status, 200);
    assert_eq!(chat(one.addr, KEY, &hello("gpt-4o-mini")).await.status, 429);
    // Every ledger line is in Redis's stream too (50 requests, 1 credit, 2 more requests), and
    // the admin API reads it when there is no ledger file.
    let usage = |query: &'static str| {
        let one = &one;
        async move {
            let r = admin_get(one, query).await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = usage("/admin/usage?key=tester&limit=10000").await;
        let n = all["data"].as_array().unwrap().len();
        if n == 53 {
            let ends = |end: &str| {
                all["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|l| l["end"] == end)
                    .count()
            };
            assert_eq!((ends("completed"), ends("insufficient_balance")), (11, 41));
            break;
        }
        assert!(Instant::now() < deadline, "{n} lines in the stream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = usage("/admin/usage?key=tester&from=2000-01-01T00:00:00Z&limit=5").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    assert_eq!(page["has_more"], true);
    let none = usage("/admin/usage?key=tester&to=2000-01-01T00:00:00Z").await;
    assert_eq!(none["data"], json!([]));
}

#[tokio::test]
async fn a_used_up_key_is_told_so_in_its_own_dialect_before_any_provider_is_called() {
    let m = mock("alpha").await;
    let host = m.addr();
    let others = format!(
        "  - {{ name: beta, dialect: anthropic, base_url: \"http://{host}\", api_key: {UPSTREAM_KEY}, models: [m-anthropic] }}\n  - {{ name: gamma, dialect: gemini, base_url: \"http://{host}\", api_key: {UPSTREAM_KEY}, models: [gpt-4o-mini] }}\n"
    );
    let yaml = format!(
        "providers:\n{}{others}keys:\n  - {{ key: {KEY}, name: tester, budget_usd: 0.001 }}\npricing:\n  gpt-4o-mini: {{ input: 2.50, output: 10.00 }}\n  m-anthropic: {{ input: 2.50, output: 10.00 }}\n",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
    );
    let gw = TestGateway::start(&yaml).await;
    // $0.001 covers a request whose answer is capped at 50 tokens ($0.000558 at most) but not
    // one that may run to 4,096 (the admission default): its 78-byte body is estimated at 20
    // prompt tokens, so 20 × $2.50 + 4,096 × $10.00 per million = $0.041010.
    let mut small = hello("gpt-4o-mini");
    small["max_tokens"] = json!(50);
    assert_eq!(chat(gw.addr, KEY, &small).await.status, 200);
    // Charged when it is logged, just after the client has its answer.
    gw.log_with("cost_micro_usd=38").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"error": {"message": "You exceeded your current quota: this key has $0.000962 left and this request may cost up to $0.041010. Lower max_tokens or ask for more credit.",
            "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}})
    );
    let served = m.requests().len();
    // The 256 answer tokens these requests allow ($0.00256) are more than is left.
    let r = ask_as(gw.addr, "anthropic", "m-anthropic", false).await;
    assert_eq!(r.status, 402, "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "billing_error");
    let r = ask_as(gw.addr, "gemini", "gpt-4o-mini", false).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(m.requests().len(), served, "no provider was called");
}

#[tokio::test]
async fn the_admin_api_wants_its_token_and_never_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let m = mock("alpha").await;
    let gw = TestGateway::start(&config(&m, &ledger_state(dir.path()))).await;
    assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 200);
    let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    for token in [None, Some("wrong-token-wrong-token"), Some("")] {
        for (method, path) in [
            ("GET", "/admin/keys/tester/balance"),
            ("POST", "/admin/keys/tester/credit"),
            ("GET", "/admin/usage"),
        ] {
            let r = admin(&gw, method, path, token, &json!({"amount_usd": "100"})).await;
            assert_eq!(r.status, 401, "{method} {path} with {token:?}");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
    // Everything the admin API says is kept, to look for secrets in at the end.
    let mut said = String::new();
    let b = settled(&gw).await;
    said.push_str(&b.to_string());
    assert_eq!(
        b,
        json!({"key": "tester", "budget_micro_usd": 10_000_000, "credit_micro_usd": 0,
            "spent_micro_usd": 1_000_000, "reserved_micro_usd": 0,
            "available_micro_usd": 9_000_000, "available_usd": "9.000000"})
    );
    let r = admin(
        &gw,
        "POST",
        "/admin/keys/tester/credit",
        Some(ADMIN),
        &json!({"amount_usd": "2.5", "note": "top-up"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    said.push_str(&r.text());
    assert_eq!(r.json()["available_micro_usd"], 11_500_000);
    for (body, status) in [
        (json!({"amount_usd": "1.0000001"}), 400),
        (json!({"amount_usd": 0}), 400),
        (json!({"amount": 5}), 400),
    ] {
        let r = admin(&gw, "POST", "/admin/keys/tester/credit", Some(ADMIN), &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let r = admin_get(&gw, "/admin/keys/nobody/balance").await;
    assert_eq!(r.status, 404);
    let r = admin_get(&gw, "/admin/keys/free/balance").await;
    assert_eq!(r.status, 409);

    // The usage of a key over a time range: its request and its credit.
    let r = admin_get(&gw, &format!("/admin/usage?key=tester&from={started}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    said.push_str(&r.text());
    let lines = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["kind"], "request");
    assert_eq!(lines[0]["cost_micro_usd"], 1_000_000);
    assert_eq!(lines[1]["kind"], "credit");
    assert_eq!(lines[1]["amount_micro_usd"], 2_500_000);
    assert_eq!(lines[1]["note"], "top-up");
    let r = admin_get(&gw, "/admin/usage?key=tester&to=2000-01-01T00:00:00Z").await;
    assert_eq!(r.json()["data"], json!([]));
    let r = admin_get(&gw, "/admin/usage?key=free").await;
    assert_eq!(r.json()["data"], json!([]));
    // Nothing the admin API said, and nothing in the ledger, holds a key's secret.
    let everything = format!(
        "{said}{}",
        std::fs::read_to_string(dir.path().join("usage.jsonl")).unwrap()
    );
    assert!(
        !everything.contains(KEY) && !everything.contains(ADMIN),
        "{everything}"
    );
    assert!(!gw.log_with("credit added").await.contains(ADMIN));

    // Without a token in the config there is no admin API; health and metrics stay.
    let plain = gateway_for(&m, "").await;
    let r = admin_get(&plain, "/admin/keys/tester/balance").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        send(plain.admin, "GET", "/healthz", &[], b"").await.status,
        200
    );
    assert_eq!(
        send(plain.admin, "GET", "/metrics", &[], b"").await.status,
        200
    );
}

#[tokio::test]
async fn balances_survive_a_restart_and_a_kill_keeps_every_line_written() {
    let dir = tempfile::tempdir().unwrap();
    let m = mock("alpha").await;
    let yaml = config(&m, &ledger_state(dir.path()));
    let mut gw = TestGateway::start(&yaml).await;
    for _ in 0..3 {
        assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 200);
    }
    let r = admin(
        &gw,
        "POST",
        "/admin/keys/tester/credit",
        Some(ADMIN),
        &json!({"amount_usd": "5"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let before = settled(&gw).await;
    assert_eq!(before["available_micro_usd"], 12_000_000, "{before}");
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).await, Some(0));

    let mut gw = TestGateway::start(&yaml).await;
    assert_eq!(balance(&gw).await, before);

    // SIGKILL: every line the ledger has written survives it (3 requests, the credit, 2 more).
    for _ in 0..2 {
        assert_eq!(chat(gw.addr, KEY, &hello("gpt-4o-mini")).await.status, 200);
    }
    let before_kill = settled(&gw).await;
    ledger_lines(&dir.path().join("usage.jsonl"), 6).await;
    gw.signal("KILL");
    gw.wait_exit(Duration::from_secs(10)).await;
    let gw = TestGateway::start(&yaml).await;
    assert_eq!(balance(&gw).await, before_kill);
    assert_eq!(before_kill["available_micro_usd"], 10_000_000);
}
