//! A provider that attacks the gateway: it echoes tollgate's key back in error bodies, events,
//! headers and broken header blocks, redirects, trickles, never ends a line or a stream, and
//! keeps sending to a client that stopped reading.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::http::chat;
use common::*;
use std::time::{Duration, Instant};

/// An error body that quotes the request's `Authorization` header, as some middleboxes do, in
/// plain and unicode-escaped spellings, and the client key for good measure.
fn echoing_error(status: u16) -> Behavior {
    Behavior::wire(move |req| {
        let auth = req.header("authorization").unwrap_or("").to_string();
        let escaped = auth.replace('a', "\\u0061");
        let body = format!(
            r#"{{"error":{{"message":"rejected header Authorization: {auth}; also saw {KEY}","type":"invalid_request_error","param":null,"code":null,"detail":"{escaped}"}}}}"#
        );
        format!(
            "HTTP/1.1 {status} Whatever\r\nconnection: close\r\ncontent-type: application/json\r\nretry-after: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })
}

fn assert_clean(text: &str) {
    assert!(
        !text.contains(UPSTREAM_KEY) && !text.contains(KEY),
        "a key leaked: {text}"
    );
}

#[tokio::test]
async fn a_provider_error_that_quotes_the_key_reaches_the_client_masked() {
    let m = mock("alpha").await;
    let gw = gateway_for(&m, "").await;
    for status in [400, 404, 422, 429, 500, 503] {
        for stream in [false, true] {
            m.set_default(echoing_error(status));
            let body = if stream {
                streaming("gpt-4o-mini")
            } else {
                hello("gpt-4o-mini")
            };
            let r = chat(gw.addr, KEY, &body).await;
            assert_eq!(r.status, status, "{}", r.text());
            assert_clean(&r.text());
            // The retry-after header quoted the key too: it is dropped, not passed on.
            assert_eq!(r.header("retry-after"), None);
            assert_eq!(
                r.json()["error"]["message"],
                "rejected header Authorization: Bearer [REDACTED]; also saw [REDACTED]"
            );
            assert_eq!(r.json()["error"]["detail"], "Bearer [REDACTED]");
        }
    }
    assert_clean(&gw.log_with("status=503").await);
}

#[tokio::test]
async fn a_harmless_retry_after_on_a_passed_through_429_reaches_the_client() {
    let m = mock("alpha").await;
    m.set_default(Behavior::wire(|_| {
        let body = r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 7\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }));
    let gw = gateway_for(&m, "").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json()["error"]["message"], "slow down");
}

/// A close-delimited event stream: the head, then `events`, then whatever the behaviour adds.
fn event_stream(events: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{events}"
    )
    .into_bytes()
}

fn chunk(content: &str) -> String {
    let c = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
        "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {c}\n\n")
}

#[tokio::test]
async fn a_key_in_a_stream_is_masked_even_when_it_arrives_one_byte_at_a_time() {
    let m = mock("alpha").await;
    m.set_default(Behavior {
        trickle: Some(Duration::from_millis(1)),
        ..Behavior::wire(|req| {
            let auth = req.header("authorization").unwrap_or("").to_string();
            let error = serde_json::json!({"error": {"message": format!("upstream said: {auth}"),
                "type": "server_error", "param": null, "code": null}});
            event_stream(&format!("{}data: {error}\n\n", chunk("hi")))
        })
    });
    let gw = gateway_for(&m, "").await;
    let r = chat(gw.addr, KEY, &streaming("gpt-4o-mini")).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert_clean(&text);
    assert!(
        text.ends_with("data: {\"error\":{\"message\":\"upstream said: Bearer [REDACTED]\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\ndata: [DONE]\n\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_broken_header_block_that_reflects_the_key_stays_out_of_the_log() {
    let m = mock("alpha").await;
    m.set_default(Behavior::wire(|req| {
        let auth = req.header("authorization").unwrap_or("").to_string();
        format!("HTTP/1.1 200 OK\r\nx-echo-authorization: {auth}\r\nthis line has no colon\r\n\r\n")
            .into_bytes()
    }));
    let gw = gateway_for(&m, "").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["error"]["code"], "bad_upstream_response");
    // The error kind and the provider's name are logged; the header block is not.
    let log = gw.log_with("provider=alpha error=InvalidHTTPHeader").await;
    assert_clean(&log);
    assert!(!log.contains("x-echo-authorization"), "{log}");
}

#[tokio::test]
async fn a_key_pasted_where_the_log_repeats_it_is_masked_in_the_log() {
    let m = mock("alpha").await;
    let gw = gateway_for(&m, "").await;
    // A key pasted into the model field and into the path: both are logged, neither whole.
    let r = chat(gw.addr, KEY, &hello(KEY)).await;
    assert_eq!(r.status, 404);
    let r = common::http::send(gw.addr, "GET", &format!("/v1/{UPSTREAM_KEY}"), &[], b"").await;
    assert_eq!(r.status, 404);
    gw.log_with("model=\"[REDACTED]\"").await;
    let log = gw.log_with("path=\"/v1/[REDACTED]\"").await;
    assert_clean(&log);
}

#[tokio::test]
async fn a_provider_redirect_becomes_a_502() {
    let m = mock("alpha").await;
    for status in [301, 302, 307, 308] {
        m.set_default(Behavior::wire(move |_| {
            format!("HTTP/1.1 {status} Moved\r\nlocation: http://elsewhere.example/steal\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}")
                .into_bytes()
        }));
        let gw = gateway_for(&m, "").await;
        let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
        assert_eq!(r.status, 502, "{status}");
        assert_eq!(r.header("location"), None);
        assert!(!r.text().contains("elsewhere"), "{}", r.text());
    }
}

/// Reads a stream to its end and returns its text and how long it took.
async fn stream_to_end(gw: &TestGateway) -> (String, Duration) {
    let started = Instant::now();
    let mut conn = open_stream(gw, &streaming("gpt-4o-mini")).await;
    assert_eq!(conn.status, 200);
    let body = tokio::time::timeout(Duration::from_secs(15), conn.body())
        .await
        .expect("the stream was still open after 15 s");
    (String::from_utf8(body).unwrap(), started.elapsed())
}

#[tokio::test]
async fn bytes_that_never_complete_an_event_do_not_keep_a_stream_alive() {
    let m = mock("alpha").await;
    // One real event, then one more line of an event that never ends, every 50 ms for ever.
    m.set_default(Behavior {
        endless: Some(Bytes::from_static(b"data: x\n")),
        event_delay: Duration::from_millis(50),
        ..Behavior::wire(|_| event_stream(&format!("{}data: {{\"choices\":[", chunk("hi"))))
    });
    let gw = gateway_for(&m, "timeouts: { idle: 1s }").await;
    let (text, took) = stream_to_end(&gw).await;
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(text.starts_with(&chunk("hi")), "{text}");
    assert!(
        text.ends_with("data: {\"error\":{\"message\":\"the provider sent no data in time\",\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_timeout\"}}\n\ndata: [DONE]\n\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stream_that_never_ends_is_cut_at_the_total_deadline() {
    let m = mock("alpha").await;
    m.set_default(Behavior {
        endless: Some(Bytes::from(chunk("more"))),
        event_delay: Duration::from_millis(100),
        ..Behavior::wire(|_| event_stream(&chunk("hi")))
    });
    let gw = gateway_for(&m, "timeouts: { idle: 1s, total: 2s }").await;
    let (text, took) = stream_to_end(&gw).await;
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    assert!(text.contains(&chunk("more")), "{text}");
    assert!(
        text.ends_with("data: {\"error\":{\"message\":\"the provider did not finish its answer in time\",\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_timeout\"}}\n\ndata: [DONE]\n\n"),
        "{text}"
    );
    // tollgate hung up on the provider.
    let deadline = Instant::now() + Duration::from_secs(5);
    while m.broken_writes() == 0 {
        assert!(
            Instant::now() < deadline,
            "the provider connection was kept open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_line_that_never_ends_is_cut_at_the_event_cap() {
    let m = mock("alpha").await;
    m.set_default(Behavior {
        endless: Some(Bytes::from(vec![b'a'; 16 * 1024])),
        ..Behavior::wire(|_| event_stream(&format!("{}data: ", chunk("hi"))))
    });
    let yaml = format!(
        "server: {{ threads: 1, max_event_bytes: 65536 }}\nproviders:\n{}{}",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let (text, _) = stream_to_end(&gw).await;
    assert_eq!(
        text,
        format!("{}data: {{\"error\":{{\"message\":\"the provider sent a line longer than 65536 bytes\",\"type\":\"server_error\",\"param\":null,\"code\":\"bad_upstream_response\"}}}}\n\ndata: [DONE]\n\n", chunk("hi"))
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_releases_the_stream_and_the_provider() {
    let m = mock("alpha").await;
    m.set_default(Behavior {
        endless: Some(Bytes::from(chunk(&"z".repeat(16 * 1024)))),
        ..Behavior::wire(|_| event_stream(&chunk("hi")))
    });
    let yaml = format!(
        "server: {{ threads: 1, grace_period: 30s, client_write_timeout: 1s }}\nproviders:\n{}{}",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
        keys()
    );
    let mut gw = TestGateway::start(&yaml).await;
    // The head arrives, then the client reads nothing more and keeps its socket open.
    let conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    assert_eq!(conn.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while m.broken_writes() == 0 {
        assert!(
            Instant::now() < deadline,
            "the provider is still streaming to a client that stopped reading:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.log_with("failure=\"client stopped reading mid-stream\"")
        .await;
    // The request is over: a graceful stop exits at once.
    gw.signal("TERM");
    let started = Instant::now();
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).await, Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(conn);
}

#[tokio::test]
async fn bodies_beyond_the_memory_budget_get_503_and_the_budget_comes_back() {
    let m = mock("alpha").await;
    // Work stealing off with two threads (other tests run the default, on): both of Pingora's
    // schedulers are tested.
    let yaml = format!(
        "server: {{ threads: 2, work_stealing: false, max_buffered_bytes: 300000 }}\nproviders:\n{}{}",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let big = |n: usize| serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "w ".repeat(n)}]});
    // The first request's body is held while the provider thinks.
    m.push(Behavior {
        header_delay: Duration::from_millis(1500),
        ..Behavior::default()
    });
    let addr = gw.addr;
    let first = tokio::spawn(async move { chat(addr, KEY, &big(100_000)).await });
    m.wait_for_requests(1).await;
    let r = chat(gw.addr, KEY, &big(100_000)).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["code"], "overloaded");
    assert_eq!(first.await.unwrap().status, 200);
    // Both bodies were given back: the same request now fits.
    let r = chat(gw.addr, KEY, &big(100_000)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // One body alone larger than the budget never fits.
    let r = chat(gw.addr, KEY, &big(160_000)).await;
    assert_eq!(r.status, 503);
    assert_eq!(m.requests().len(), 2);
}
