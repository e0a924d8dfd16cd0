//! Admission through the running gateway, with the in-process limit store: exact counts under
//! concurrency, leases that come back however a request ends, token reservations settled to
//! the provider's usage, per-provider limits that skip to the next candidate, and the guard
//! against guessing keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{chat, request_bytes, send, Conn};
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;

/// A gateway in front of `m` whose one key has `limits` (and `extra` key fields), with `more`
/// config appended.
async fn gateway(m: &MockProvider, limits: &str, more: &str) -> TestGateway {
    let yaml = format!(
        "providers:\n{}keys:\n  - {{ key: {KEY}, name: tester, limits: {{ {limits} }} }}\n{more}",
        provider(m.name(), &m.base_url(), "[gpt-4o-mini]", ""),
    );
    TestGateway::start(&yaml).await
}

fn header(r: &common::http::Response, name: &str) -> Option<String> {
    r.header(name).map(str::to_string)
}

#[tokio::test]
async fn requests_per_minute_admit_exactly_the_limit_under_concurrency() {
    let m = mock("a").await;
    let gw = gateway(&m, "rpm: 50", "").await;
    let asks = (0..200).map(|_| {
        let addr = gw.addr;
        tokio::spawn(async move { chat(addr, KEY, &hello("gpt-4o-mini")).await })
    });
    let mut ok = Vec::new();
    let mut refused = 0;
    for ask in asks {
        let r = ask.await.unwrap();
        match r.status {
            200 => ok.push(r),
            429 => {
                refused += 1;
                assert_eq!(
                    r.json()["error"]["code"],
                    "rate_limit_exceeded",
                    "{}",
                    r.text()
                );
                let wait: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
                assert!((1..=61).contains(&wait), "retry-after {wait}");
                assert_eq!(
                    header(&r, "x-ratelimit-limit-requests").as_deref(),
                    Some("50")
                );
                assert_eq!(
                    header(&r, "x-ratelimit-remaining-requests").as_deref(),
                    Some("0")
                );
            }
            s => panic!("status {s}: {}", r.text()),
        }
    }
    assert_eq!((ok.len(), refused), (50, 150));
    assert_eq!(
        m.requests().len(),
        50,
        "only the admitted reached the provider"
    );
    // Each admission saw one less left: 49 down to 0, each once.
    let mut remaining: Vec<u64> = ok
        .iter()
        .map(|r| {
            assert_eq!(
                header(r, "x-ratelimit-limit-requests").as_deref(),
                Some("50")
            );
            header(r, "x-ratelimit-remaining-requests")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..50).collect::<Vec<u64>>());
}

#[tokio::test]
async fn every_lease_comes_back_after_a_cancellation_storm() {
    let m = mock("a").await;
    let hold = held_streams(&m);
    let gw = gateway(&m, "concurrency: 100", "").await;
    let mut open = Vec::new();
    for _ in 0..100 {
        let conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
        assert_eq!(conn.status, 200);
        open.push(conn);
    }
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429, "the 101st: {}", r.text());
    assert_eq!(
        r.json()["error"]["message"],
        "Rate limit reached for this key: 100 requests at once. Try again in 1s."
    );
    assert_eq!(header(&r, "retry-after").as_deref(), Some("1"));
    // Every client goes away mid-stream.
    drop(open);
    // All 100 leases come back: 100 streams are admitted again, and a 101st is not.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = Vec::new();
    while again.len() < 100 {
        let conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
        match conn.status {
            200 => again.push(conn),
            429 => {
                assert!(
                    Instant::now() < deadline,
                    "{} leases came back",
                    again.len()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            s => panic!("status {s}"),
        }
    }
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429);
    // Finished streams give theirs back as soon as the client has its last byte.
    hold.add_permits(1000);
    for mut conn in again {
        conn.read_until("[DONE]").await;
    }
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Waits until `n` requests have been logged (settlement runs just before the log line).
async fn logged(gw: &TestGateway, n: usize) {
    gw.log_lines_with("tollgate::access", n).await;
}

#[tokio::test]
async fn tokens_are_reserved_before_and_settled_to_the_provider_s_usage_after() {
    let m = mock("a").await;
    let hold = held_streams(&m);
    let gw = gateway(&m, "tpm: 1000", "").await;
    let mut body = streaming("gpt-4o-mini");
    body["max_tokens"] = json!(300);
    // The reservation: a quarter of the body's bytes for the prompt, and max_tokens.
    let reserve = (body.to_string().len() as u64).div_ceil(4) + 300;
    let fit = 1000 / reserve;
    assert_eq!(fit, 3, "reserve {reserve}");
    let mut open = Vec::new();
    for _ in 0..10 {
        let conn = open_stream(&gw, &body).await;
        match conn.status {
            200 => {
                assert_eq!(
                    conn.header("x-ratelimit-remaining-tokens"),
                    Some(
                        (1000 - reserve * (open.len() as u64 + 1))
                            .to_string()
                            .as_str()
                    )
                );
                open.push(conn);
            }
            429 => {}
            s => panic!("status {s}"),
        }
    }
    assert_eq!(open.len() as u64, fit, "never more reserved than the limit");
    hold.add_permits(1000);
    for mut conn in open {
        conn.read_until("[DONE]").await;
    }
    logged(&gw, 10).await;
    // Each used 3 prompt and 3 answer tokens ("say hi please" → "Hello from a!"): the rest of
    // each reservation came back.
    let mut small = hello("gpt-4o-mini");
    small["max_tokens"] = json!(100);
    let r = chat(gw.addr, KEY, &small).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reserve_small = (small.to_string().len() as u64).div_ceil(4) + 100;
    assert_eq!(
        header(&r, "x-ratelimit-remaining-tokens"),
        Some((1000 - 3 * 6 - reserve_small).to_string())
    );
    // Without max_tokens the answer is reserved at `admission.output_reserve` (4096), more
    // than the whole limit: such a request waits for an empty window.
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429);
}

#[tokio::test]
async fn a_provider_at_its_own_limit_is_skipped_for_the_next_candidate() {
    let a = mock("a").await;
    let b = mock("b").await;
    let yaml = format!(
        "providers:\n{}{}{}",
        provider("a", &a.base_url(), "[gpt-4o-mini]", "limits: { rpm: 2 }"),
        provider(
            "b",
            &b.base_url(),
            "[gpt-4o-mini]",
            "priority: 1, limits: { rpm: 1 }"
        ),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let answer = |r: &common::http::Response| {
        r.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for expected in ["Hello from a!", "Hello from a!", "Hello from b!"] {
        let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
        assert_eq!((r.status, answer(&r).as_str()), (200, expected));
        // A provider's limits are the operator's business, not shown to the client.
        assert_eq!(header(&r, "x-ratelimit-limit-requests"), None);
    }
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with(
            "Rate limit reached for the providers of this model: 2 requests per minute."
        ),
        "{message}"
    );
    assert_eq!((a.requests().len(), b.requests().len()), (2, 1));
}

#[tokio::test]
async fn a_group_s_limit_is_shared_by_its_keys() {
    let m = mock("a").await;
    let yaml = format!(
        "providers:\n{}keys:\n  - {{ key: {KEY}, name: one, group: team }}\n  - {{ key: sk-client-two, name: two, group: team }}\ngroups:\n  team: {{ limits: {{ rpm: 3 }} }}\n",
        provider(m.name(), &m.base_url(), "[gpt-4o-mini]", ""),
    );
    let gw = TestGateway::start(&yaml).await;
    let mut statuses = Vec::new();
    for key in [KEY, "sk-client-two", KEY, "sk-client-two"] {
        statuses.push(chat(gw.addr, key, &hello("gpt-4o-mini")).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit reached for this group: 3 requests per minute."));
}

#[tokio::test]
async fn an_anthropic_client_is_told_its_limits_the_anthropic_way() {
    let m = mock("a").await;
    let yaml = format!(
        "providers:\n{}keys:\n  - {{ key: {KEY}, name: tester, limits: {{ rpm: 1, tpm: 100000 }} }}\n",
        provider(m.name(), &m.base_url(), "[claude-x]", ""),
    );
    let gw = TestGateway::start(&yaml).await;
    let body = json!({"model": "claude-x", "max_tokens": 100,
        "messages": [{"role": "user", "content": "say hi please"}]})
    .to_string();
    let ask = || {
        send(
            gw.addr,
            "POST",
            "/v1/messages",
            &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
            body.as_bytes(),
        )
    };
    let r = ask().await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reserve = (body.len() as u64).div_ceil(4) + 100;
    assert_eq!(
        header(&r, "anthropic-ratelimit-requests-limit").as_deref(),
        Some("1")
    );
    assert_eq!(
        header(&r, "anthropic-ratelimit-requests-remaining").as_deref(),
        Some("0")
    );
    assert_eq!(
        header(&r, "anthropic-ratelimit-tokens-remaining"),
        Some((100_000 - reserve).to_string())
    );
    let reset = header(&r, "anthropic-ratelimit-requests-reset").unwrap();
    let at = humantime::parse_rfc3339(&reset).unwrap();
    let ahead = at.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(
        ahead > Duration::from_secs(55) && ahead <= Duration::from_secs(63),
        "{reset}"
    );
    assert_eq!(header(&r, "x-ratelimit-limit-requests"), None);
    let r = ask().await;
    assert_eq!(r.status, 429);
    let v: Value = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(header(&r, "retry-after").is_some());
    assert_eq!(
        header(&r, "anthropic-ratelimit-requests-remaining").as_deref(),
        Some("0")
    );
}

/// A request from `from` (a loopback address other than 127.0.0.1 is another client).
async fn chat_from(from: &str, to: SocketAddr, key: &str) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let auth = format!("Bearer {key}");
    let bytes = request_bytes(
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        hello("gpt-4o-mini").to_string().as_bytes(),
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, &bytes)
        .await
        .unwrap();
    Conn::read_head(stream, Vec::new()).await.status
}

#[tokio::test]
async fn an_address_that_keeps_guessing_keys_is_cut_off_and_others_are_not() {
    let m = mock("a").await;
    let gw = gateway(&m, "", "admission: { auth_failures_per_minute: 5 }\n").await;
    for _ in 0..5 {
        assert_eq!(chat_from("127.0.0.1", gw.addr, "sk-wrong-guess").await, 401);
    }
    assert_eq!(chat_from("127.0.0.1", gw.addr, "sk-wrong-guess").await, 429);
    // Even the right key is not heard from there for now.
    assert_eq!(chat_from("127.0.0.1", gw.addr, KEY).await, 429);
    // Another address is.
    assert_eq!(chat_from("127.0.0.2", gw.addr, KEY).await, 200);
    assert_eq!(chat_from("127.0.0.2", gw.addr, "sk-wrong-guess").await, 401);
    assert_eq!(m.requests().len(), 1);
}

#[tokio::test]
async fn a_lease_ends_when_the_client_has_its_last_byte_not_when_the_provider_closes() {
    let m = mock("a").await;
    // The provider keeps its body open for 5 s after `[DONE]`.
    m.set_default(Behavior {
        linger_after_done: Duration::from_secs(5),
        ..Behavior::default()
    });
    let gw = gateway(&m, "concurrency: 1", "").await;
    let mut conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    conn.read_until("[DONE]").await;
    let started = Instant::now();
    loop {
        let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 429);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "the lease waited for the provider"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
