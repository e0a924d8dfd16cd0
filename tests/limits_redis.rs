//! Limits shared through Redis: two tollgate processes on one `redis-server` (the test's own,
//! on an ephemeral port) never admit more together than the key allows; leases come back,
//! also from a replica that died; and an outage follows `state.on_redis_error`, then heals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::chat;
use common::redis::RedisServer;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// A gateway in front of `m`, its key limited by `limits`, its limits kept in `redis`.
async fn replica(m: &MockProvider, redis: &RedisServer, limits: &str, state: &str) -> TestGateway {
    let yaml = format!(
        "state: {{ backend: redis, redis_url: \"{}\"{state} }}\nproviders:\n{}keys:\n  - {{ key: {KEY}, name: tester, limits: {{ {limits} }} }}\n",
        redis.url(),
        provider(m.name(), &m.base_url(), "[gpt-4o-mini]", ""),
    );
    TestGateway::start(&yaml).await
}

#[tokio::test]
async fn two_replicas_admit_exactly_the_key_s_requests_per_minute_together() {
    let redis = RedisServer::start().await;
    let m = mock("a").await;
    let one = replica(&m, &redis, "rpm: 50", "").await;
    let two = replica(&m, &redis, "rpm: 50", "").await;
    let statuses = hellos_at_once(&[one.addr, two.addr], 200).await;
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((ok, limited), (50, 150), "{statuses:?}");
    assert_eq!(m.requests().len(), 50);
}

#[tokio::test]
async fn two_replicas_share_concurrency_and_tokens_and_leases_come_back() {
    let redis = RedisServer::start().await;
    let m = mock("a").await;
    let hold = held_streams(&m);
    let limits = "concurrency: 100, tpm: 10000000";
    let one = replica(&m, &redis, limits, "").await;
    let two = replica(&m, &redis, limits, "").await;
    let mut open = Vec::new();
    for i in 0..110 {
        let gw = if i % 2 == 0 { &one } else { &two };
        let conn = open_stream(gw, &streaming("gpt-4o-mini")).await;
        if conn.status == 200 {
            open.push(conn);
        } else {
            assert_eq!(conn.status, 429);
        }
    }
    assert_eq!(open.len(), 100, "a hundred at once across both replicas");
    // A cancellation storm: every client goes away mid-stream, and every lease comes back.
    drop(open);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = Vec::new();
    while again.len() < 100 {
        let gw = if again.len() % 2 == 0 { &two } else { &one };
        let conn = open_stream(gw, &streaming("gpt-4o-mini")).await;
        if conn.status == 200 {
            again.push(conn);
        } else {
            assert!(
                Instant::now() < deadline,
                "{} leases came back",
                again.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        chat(one.addr, KEY, &hello("gpt-4o-mini")).await.status,
        429,
        "{}\n{}",
        one.log(),
        two.log()
    );
    hold.add_permits(1000);
    for mut c in again {
        c.read_until("[DONE]").await;
    }

    // Tokens: with 1000 a minute and about 330 reserved each, three fit across both.
    let redis2 = RedisServer::start().await;
    let m2 = mock("b").await;
    let hold = held_streams(&m2);
    let one = replica(&m2, &redis2, "tpm: 1000", "").await;
    let two = replica(&m2, &redis2, "tpm: 1000", "").await;
    let mut body = streaming("gpt-4o-mini");
    body["max_tokens"] = json!(300);
    let reserve = (body.to_string().len() as u64).div_ceil(4) + 300;
    assert_eq!(1000 / reserve, 3);
    let mut open = Vec::new();
    for i in 0..8 {
        let gw = if i % 2 == 0 { &one } else { &two };
        let conn = open_stream(gw, &body).await;
        if conn.status == 200 {
            open.push(conn);
        }
    }
    assert_eq!(open.len(), 3, "never more reserved than the limit");
    hold.add_permits(1000);
    for mut c in open {
        c.read_until("[DONE]").await;
    }
    // Settled to the usage: 6 tokens each ("say hi please" → "Hello from b!"), the rest back.
    let mut small = hello("gpt-4o-mini");
    small["max_tokens"] = json!(100);
    let reserve_small = (small.to_string().len() as u64).div_ceil(4) + 100;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let r = chat(two.addr, KEY, &small).await;
        let left: Option<u64> = r
            .header("x-ratelimit-remaining-tokens")
            .filter(|_| r.status == 200)
            .and_then(|v| v.parse().ok());
        // A probe admitted reserves too, and is settled like the others once it is logged; one
        // refused (the streams' reservations not settled yet) takes nothing.
        // Settlement runs after each answer, on its own: wait for the numbers to add up.
        let admitted_before = seen.iter().flatten().count() as u64;
        seen.push(left);
        if left == Some(1000 - 3 * 6 - 6 * admitted_before - reserve_small) {
            break;
        }
        assert!(Instant::now() < deadline, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_leases_of_a_replica_that_died_expire() {
    let redis = RedisServer::start().await;
    let m = mock("a").await;
    let _hold = held_streams(&m);
    let state = ", redis_lease_ttl: 2s";
    let mut doomed = replica(&m, &redis, "concurrency: 2", state).await;
    let other = replica(&m, &redis, "concurrency: 2", state).await;
    let _a = open_stream(&doomed, &streaming("gpt-4o-mini")).await;
    let _b = open_stream(&doomed, &streaming("gpt-4o-mini")).await;
    assert_eq!(
        chat(other.addr, KEY, &hello("gpt-4o-mini")).await.status,
        429
    );
    // Renewed while the replica lives: still held after more than one time to live.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        chat(other.addr, KEY, &hello("gpt-4o-mini")).await.status,
        429
    );
    doomed.signal("KILL");
    doomed.wait_exit(Duration::from_secs(5)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = chat(other.addr, KEY, &hello("gpt-4o-mini")).await.status;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dead replica's leases never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_redis_outage_follows_the_configured_policy_and_heals_by_itself() {
    let mut redis = RedisServer::start().await;
    let m = mock("a").await;
    let open = replica(&m, &redis, "rpm: 1000", ", on_redis_error: fail_open").await;
    let closed = replica(&m, &redis, "rpm: 1000", ", on_redis_error: fail_closed").await;
    assert_eq!(
        chat(open.addr, KEY, &hello("gpt-4o-mini")).await.status,
        200
    );
    assert_eq!(
        chat(closed.addr, KEY, &hello("gpt-4o-mini")).await.status,
        200
    );

    redis.stop();
    for _ in 0..5 {
        // Open: the replica's own limits hold meanwhile.
        let r = chat(open.addr, KEY, &hello("gpt-4o-mini")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // Closed: refused, in the client's dialect, with a hint to come back.
        let r = chat(closed.addr, KEY, &hello("gpt-4o-mini")).await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(
            r.json()["error"]["message"],
            "Rate limits cannot be checked right now; try again shortly."
        );
    }
    // Said once per outage, not once per request.
    let log = closed.log_with("redis unreachable").await;
    assert_eq!(log.matches("redis unreachable").count(), 1, "{log}");

    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while chat(closed.addr, KEY, &hello("gpt-4o-mini")).await.status != 200 {
        assert!(
            Instant::now() < deadline,
            "never recovered:\n{}",
            closed.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    closed.log_with("redis reachable again").await;
    assert_eq!(
        chat(open.addr, KEY, &hello("gpt-4o-mini")).await.status,
        200
    );
}
