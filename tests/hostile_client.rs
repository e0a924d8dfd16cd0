//! A client that attacks the gateway on a raw socket: slowloris headers, giant headers, slow
//! bodies, connection floods, broken chunked framing, duplicate fields, two keys at once, and
//! giant values the gateway might echo back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{chat, request_bytes, send, Conn};
use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn gateway_with(server: &str) -> (MockProvider, TestGateway) {
    let m = mock("alpha").await;
    let yaml = format!(
        "server: {{ threads: 1, {server} }}\nproviders:\n{}{}",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    (m, gw)
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Everything the peer sends until it closes; fails if it is still open after `within`.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 16384];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection was still open after {within:?}; got {:?}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

fn chat_request(body: &str) -> Vec<u8> {
    request_bytes(
        "POST",
        "/v1/chat/completions",
        &[("authorization", &format!("Bearer {KEY}"))],
        body.as_bytes(),
    )
}

#[tokio::test]
async fn a_header_block_trickled_a_byte_at_a_time_gets_408_at_the_deadline() {
    let (_m, gw) = gateway_with("header_timeout: 1s").await;
    let mut s = connect(gw.addr).await;
    let started = Instant::now();
    let request = chat_request(&hello("gpt-4o-mini").to_string());
    // Slowloris: one byte every 100 ms; each read alone is well within Pingora's own timeout.
    let writer = async {
        for b in request {
            if s.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), writer).await;
    let answer = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":{"message":"The request header block did not arrive within 1 seconds","type":"invalid_request_error","param":null,"code":"request_timeout"}}"#),
        "{answer}"
    );
}

#[tokio::test]
async fn the_admin_listener_has_the_same_header_deadline() {
    let (_m, gw) = gateway_with("header_timeout: 1s").await;
    let mut s = connect(gw.admin).await;
    for b in b"GET /healthz HTTP/1.1\r\nhost: x\r\n" {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let answer = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_at_the_header_deadline() {
    let (_m, gw) = gateway_with("header_timeout: 1s").await;
    let mut s = connect(gw.addr).await;
    let started = Instant::now();
    let answer = read_to_close(&mut s, Duration::from_secs(4)).await;
    assert_eq!(answer, "");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn the_header_deadline_applies_again_to_the_next_request_on_the_connection() {
    let (_m, gw) = gateway_with("header_timeout: 1s").await;
    let mut s = connect(gw.addr).await;
    s.write_all(&chat_request(&hello("gpt-4o-mini").to_string()))
        .await
        .unwrap();
    let mut conn = Conn::read_head(s, Vec::new()).await;
    assert_eq!(conn.status, 200);
    assert!(String::from_utf8_lossy(&conn.body().await).contains("Hello from alpha!"));
    // The keep-alive connection idles longer than the header deadline: that is allowed.
    let mut s = conn.into_stream();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    for b in b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n" {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let answer = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    // The path said Anthropic: the answer is in Anthropic's shape.
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.ends_with(r#"{"type":"error","error":{"type":"invalid_request_error","message":"The request header block did not arrive within 1 seconds"}}"#),
        "{answer}"
    );
}

#[tokio::test]
async fn a_header_block_over_the_cap_gets_431_and_one_under_it_goes_through() {
    let (_m, gw) = gateway_with("max_header_bytes: 16384").await;
    let mut s = connect(gw.addr).await;
    let filler = "a".repeat(17_000);
    s.write_all(
        format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-filler: {filler}").as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"error":{"message":"The request header block is larger than the 16384 bytes this gateway accepts","type":"invalid_request_error","param":null,"code":"request_header_too_large"}}"#),
        "{answer}"
    );

    // 15,000 bytes of header, and a body after it, are fine.
    let filler = "a".repeat(15_000);
    let auth = format!("Bearer {KEY}");
    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth), ("x-filler", &filler)],
        hello("gpt-4o-mini").to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once_and_a_freed_slot_is_reused() {
    let (_m, gw) = gateway_with("max_connections: 2").await;
    let a = connect(gw.addr).await;
    let b = connect(gw.addr).await;
    // Let the two be accepted and counted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut c = connect(gw.addr).await;
    let _ = c
        .write_all(&chat_request(&hello("gpt-4o-mini").to_string()))
        .await;
    let answer = read_to_close(&mut c, Duration::from_secs(2)).await;
    assert_eq!(answer, "", "the third connection got an answer");
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200);
    drop(b);
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_the_connection_closes() {
    let (m, gw) = gateway_with("body_timeout: 1s").await;
    let mut s = connect(gw.addr).await;
    let body = hello("gpt-4o-mini").to_string();
    let mut request = chat_request(&body);
    request.truncate(request.len() - body.len() + 10);
    s.write_all(&request).await.unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut s, Duration::from_secs(4)).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"error":{"message":"The request body did not arrive within 1 seconds","type":"invalid_request_error","param":null,"code":"request_timeout"}}"#),
        "{answer}"
    );
    assert!(m.requests().is_empty());
}

#[tokio::test]
async fn a_malformed_chunk_size_gets_400_and_the_connection_closes() {
    let (m, gw) = gateway_with("grace_period: 10s").await;
    let mut s = connect(gw.addr).await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        !answer.to_ascii_lowercase().contains("keep-alive"),
        "{answer}"
    );
    assert!(m.requests().is_empty());
}

#[tokio::test]
async fn a_body_naming_the_model_twice_is_refused() {
    let (m, gw) = gateway_with("grace_period: 10s").await;
    for body in [
        r#"{"model":"gpt-4o-mini","messages":[],"model":"gpt-4o"}"#,
        r#"{"model":"gpt-4o-mini","messages":[],"mod\u0065l":"o1"}"#,
        r#"{"model":"gpt-4o-mini","stream":false,"messages":[],"stream":true}"#,
    ] {
        let auth = format!("Bearer {KEY}");
        let r = send(
            gw.addr,
            "POST",
            "/v1/chat/completions",
            &[("authorization", &auth)],
            body.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 400, "{body}");
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            message == "The request body has more than one `model` member"
                || message == "The request body has more than one `stream` member",
            "{message}"
        );
    }
    assert!(m.requests().is_empty());
}

#[tokio::test]
async fn two_different_keys_are_refused_and_the_same_key_twice_is_fine() {
    let (_m, gw) = gateway_with("grace_period: 10s").await;
    let body = hello("gpt-4o-mini").to_string();
    let bearer = format!("Bearer {KEY}");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: [Case; 4] = [
        (
            "/v1/chat/completions",
            vec![
                ("authorization", bearer.as_str()),
                ("x-api-key", "sk-someone-else"),
            ],
            400,
        ),
        (
            "/v1/chat/completions?key=sk-client-test&key=sk-someone-else",
            vec![],
            400,
        ),
        (
            "/v1/chat/completions",
            vec![
                ("authorization", bearer.as_str()),
                ("authorization", "Bearer sk-someone-else"),
            ],
            400,
        ),
        (
            "/v1/chat/completions?key=sk-client-test",
            vec![("authorization", bearer.as_str()), ("x-api-key", KEY)],
            200,
        ),
    ];
    for (target, headers, status) in cases {
        let r = send(gw.addr, "POST", target, &headers, body.as_bytes()).await;
        assert_eq!(r.status, status, "{target} {headers:?}: {}", r.text());
        if status == 400 {
            assert_eq!(
                r.json()["error"]["message"],
                "The request carries two different API keys; send exactly one."
            );
        }
    }
}

#[tokio::test]
async fn giant_model_names_and_paths_are_not_echoed_back_whole() {
    let (_m, gw) = gateway_with("grace_period: 10s").await;
    let model = "m".repeat(1024 * 1024);
    let r = chat(gw.addr, KEY, &hello(&model)).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["error"]["message"],
        format!(
            "The model `{}…` does not exist or you do not have access to it.",
            "m".repeat(256)
        )
    );
    let path = format!("/{}", "p".repeat(60_000));
    let r = send(gw.addr, "GET", &path, &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["error"]["message"],
        format!("Invalid URL (GET /{}…)", "p".repeat(255))
    );
    // The last request's line is in: the whole log is.
    let log = gw.log_with(&"p".repeat(200)).await;
    assert!(
        log.len() < 8_000,
        "the log repeats what the client sent: {} bytes",
        log.len()
    );
}

#[tokio::test]
async fn a_body_left_unread_by_an_early_answer_is_not_taken_for_the_next_request() {
    let (_m, gw) = gateway_with("grace_period: 10s").await;
    let mut s = connect(gw.addr).await;
    // A wrong key is refused before the body is read; the body is larger than a header may be.
    let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user",
        "content": "x".repeat(200_000)}]})
    .to_string();
    let request = request_bytes(
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer sk-not-a-key")],
        body.as_bytes(),
    );
    s.write_all(&request).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
}
