//! Chat Completions end to end: keys, routing, renames, bodies, streaming and error shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{chat, send, Conn};
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

async fn one_provider(extra: &str) -> (MockProvider, TestGateway) {
    let m = mock("alpha").await;
    let yaml = format!(
        "providers:\n{}{}",
        provider("alpha", &m.base_url(), "[gpt-4o-mini, gpt-4o]", extra),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    (m, gw)
}

#[tokio::test]
async fn non_streaming_answer_is_relayed_with_exact_body_and_framing() {
    let (m, gw) = one_provider("").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let body = r.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from alpha!"
    );
    assert_eq!(body["usage"]["prompt_tokens"], 3);
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let seen = m.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/v1/chat/completions");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer sk-upstream-test")
    );
    assert_eq!(
        seen[0].json(),
        hello("gpt-4o-mini"),
        "body passes through unchanged"
    );
}

#[tokio::test]
async fn model_map_renames_upstream_and_the_client_sees_its_own_name() {
    let (m, gw) = one_provider("model_map: { gpt-4o: gpt-4o-2024-08-06 }").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"], "gpt-4o");
    assert_eq!(m.requests()[0].json()["model"], "gpt-4o-2024-08-06");

    let mut body = hello("gpt-4o");
    body["stream"] = json!(true);
    let r = chat(gw.addr, KEY, &body).await;
    let text = r.text();
    assert!(text.contains("\"model\":\"gpt-4o\""), "{text}");
    assert!(
        !text.contains("2024-08-06"),
        "the provider's name leaked: {text}"
    );
    assert_eq!(m.requests()[1].json()["model"], "gpt-4o-2024-08-06");
}

#[tokio::test]
async fn every_key_style_authenticates_and_no_client_key_reaches_the_provider() {
    let (m, gw) = one_provider("").await;
    let body = hello("gpt-4o-mini").to_string();
    let bearer = format!("Bearer {KEY}");
    let styles: [(&[(&str, &str)], String); 4] = [
        (
            &[("authorization", bearer.as_str())],
            "/v1/chat/completions".into(),
        ),
        (&[("x-api-key", KEY)], "/v1/chat/completions".into()),
        (&[("x-goog-api-key", KEY)], "/v1/chat/completions".into()),
        (&[], format!("/v1/chat/completions?key={KEY}")),
    ];
    for (headers, target) in &styles {
        let r = send(gw.addr, "POST", target, headers, body.as_bytes()).await;
        assert_eq!(r.status, 200, "{target} {headers:?}: {}", r.text());
    }
    let seen = m.requests();
    assert_eq!(seen.len(), 4);
    for req in &seen {
        assert_eq!(
            req.target, "/v1/chat/completions",
            "no query string goes upstream"
        );
        for (name, value) in &req.headers {
            assert!(
                !value.contains(KEY),
                "client key reached the provider in {name}"
            );
        }
        assert_eq!(req.header("x-api-key"), None);
        assert_eq!(req.header("x-goog-api-key"), None);
    }
    // Once the four requests' lines are in, nothing in the log is a key.
    let log = gw.log_lines_with("status=200", 4).await;
    assert!(!log.contains(KEY), "a key was logged");
    assert!(!log.contains(UPSTREAM_KEY), "a provider key was logged");
}

#[tokio::test]
async fn missing_unknown_and_restricted_keys_are_refused() {
    let m = mock("alpha").await;
    let yaml = format!(
        "providers:\n{}keys:\n  - {{ key: {KEY}, name: tester, models: [\"gpt-4o*\"] }}\n  - {{ key_sha256: {}, name: hashed }}\n",
        provider("alpha", &m.base_url(), "[gpt-4o-mini, o3]", ""),
        sha256_hex("sk-other-client")
    );
    let gw = TestGateway::start(&yaml).await;

    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        &[],
        hello("gpt-4o-mini").to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "invalid_api_key");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");

    let r = chat(gw.addr, "sk-wrong-key", &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
               "param": null, "code": "invalid_api_key"}})
    );

    let r = chat(gw.addr, KEY, &hello("o3")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "This key is not allowed to use the model `o3`",
               "type": "invalid_request_error", "param": null, "code": "model_not_allowed"}})
    );
    assert_eq!(
        m.requests().len(),
        0,
        "refused requests never reach the provider"
    );
}

#[tokio::test]
async fn key_sha256_authenticates_without_the_plaintext_in_the_config() {
    let m = mock("alpha").await;
    let hashed = sha256_hex("sk-hashed-client");
    let yaml = format!(
        "providers:\n{}keys:\n  - {{ key_sha256: {hashed}, name: hashed }}\n",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", "")
    );
    let gw = TestGateway::start(&yaml).await;
    let r = chat(gw.addr, "sk-hashed-client", &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn sha256_hex(s: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn models_lists_what_the_key_may_use() {
    let m = mock("alpha").await;
    let yaml = format!(
        "providers:\n{}{}keys:\n  - {{ key: {KEY}, name: tester, models: [\"gpt-4o*\"] }}\n",
        provider("alpha", &m.base_url(), "[gpt-4o-mini, o3, gpt-4o]", ""),
        provider("beta", &m.base_url(), "[\"*\", gpt-4.1]", ""),
    );
    let gw = TestGateway::start(&yaml).await;
    let r = send(
        gw.addr,
        "GET",
        "/v1/models",
        &[("authorization", &format!("Bearer {KEY}"))],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"object": "list", "data": [
            {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "tollgate"},
            {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "tollgate"},
        ]})
    );
}

#[tokio::test]
async fn a_one_mebibyte_body_goes_through_and_bodies_over_the_cap_get_413() {
    let m = mock("alpha").await;
    let yaml = format!(
        "server: {{ threads: 1, max_body_bytes: 2000000 }}\nproviders:\n{}{}",
        provider(
            "alpha",
            &m.base_url(),
            "[gpt-4o]",
            "model_map: { gpt-4o: gpt-4o-2024-08-06 }"
        ),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let big = "lorem ".repeat(1024 * 1024 / 6 + 1);
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": big}]});
    let sent = body.to_string();
    assert!(sent.len() >= 1024 * 1024);
    let r = chat(gw.addr, KEY, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["usage"]["prompt_tokens"], 1024 * 1024 / 6 + 1);
    let got = m.requests()[0].body.clone();
    assert_eq!(
        got.len(),
        sent.len() + "-2024-08-06".len(),
        "the whole body arrived, renamed in place"
    );
    assert_eq!(
        String::from_utf8(got.to_vec()).unwrap(),
        sent.replacen("\"gpt-4o\"", "\"gpt-4o-2024-08-06\"", 1)
    );

    let huge = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(2_100_000)}]});
    let r = chat(gw.addr, KEY, &huge).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "request_too_large");
    assert_eq!(m.requests().len(), 1);
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (m, gw) = one_provider("").await;
    let body = hello("gpt-4o-mini").to_string();
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut tmp = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut tmp))
            .await
            .expect("tollgate must answer Expect: 100-continue before the body is sent")
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&tmp[..n]);
    }
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        got.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    stream.write_all(body.as_bytes()).await.unwrap();
    let r = Conn::read_head(stream, got[end..].to_vec())
        .await
        .finish()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from alpha!"
    );
    assert_eq!(m.requests()[0].json(), hello("gpt-4o-mini"));
}

#[tokio::test]
async fn the_first_event_arrives_while_the_provider_holds_back_the_rest() {
    let m = mock("alpha").await;
    let hold = Arc::new(Semaphore::new(0));
    m.push(Behavior {
        hold_after_first: Some(hold.clone()),
        ..Behavior::default()
    });
    let gw = gateway_for(&m, "").await;

    let mut body = hello("gpt-4o-mini");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let auth = format!("Bearer {KEY}");
    let mut conn = Conn::open(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(conn.status, 200);
    assert_eq!(conn.header("content-type"), Some("text/event-stream"));
    assert_eq!(conn.header("transfer-encoding"), Some("chunked"));
    let first = tokio::time::timeout(
        Duration::from_secs(5),
        conn.read_until("\"content\":\"Hello\""),
    )
    .await
    .expect("the first content event must arrive while the provider is still holding");
    assert!(!first.contains("[DONE]"));
    assert_eq!(hold.available_permits(), 0, "the provider is still holding");
    hold.add_permits(1);
    let rest = String::from_utf8(conn.body().await).unwrap();
    let all = first + &rest;
    let expected: String = [
        r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":" from"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":" alpha!"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
        r#"{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":null,"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        "[DONE]",
    ]
    .iter()
    .map(|d| format!("data: {d}\n\n"))
    .collect();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn usage_is_always_asked_of_the_provider_but_shown_only_to_clients_that_asked() {
    let (m, gw) = one_provider("").await;
    let body = streaming("gpt-4o-mini");
    let all = String::from_utf8(open_stream(&gw, &body).await.body().await).unwrap();
    // The provider was asked, after the client's own bytes.
    let sent = String::from_utf8(m.requests()[0].body.to_vec()).unwrap();
    let client = body.to_string();
    assert_eq!(
        sent,
        format!(
            "{},\"stream_options\":{{\"include_usage\":true}}}}",
            &client[..client.len() - 1]
        )
    );
    // The client did not ask: no usage-only chunk reaches it, but the log has the numbers.
    assert!(!all.contains("\"choices\":[]"), "{all}");
    assert!(!all.contains("prompt_tokens"), "{all}");
    assert!(all.ends_with("data: [DONE]\n\n"));
    assert_eq!(all.matches("data: ").count(), 6, "{all}");
    gw.log_with("stream=true attempts=1 retry=\"-\" input_tokens=3 output_tokens=3")
        .await;

    // A client that asked gets the chunk, and the provider gets the body as it came.
    let mut body = streaming("gpt-4o-mini");
    body["stream_options"] = json!({"include_usage": true});
    let all = String::from_utf8(open_stream(&gw, &body).await.body().await).unwrap();
    assert_eq!(m.requests()[1].body, body.to_string().as_bytes());
    assert!(
        all.contains("\"choices\":[],\"usage\":{\"prompt_tokens\":3"),
        "{all}"
    );
}

#[tokio::test]
async fn events_split_across_provider_writes_reach_the_client_whole() {
    let (m, gw) = one_provider("").await;
    m.set_default(Behavior {
        split_events: true,
        ..Behavior::default()
    });
    let mut conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    let mut pieces = Vec::new();
    while let Some(p) = conn.next().await {
        pieces.push(String::from_utf8(p).unwrap());
    }
    for p in &pieces {
        assert!(p.ends_with("\n\n"), "a client write ended mid-event: {p:?}");
    }
    let all = pieces.concat();
    assert_eq!(all.matches("data: ").count(), 6, "{all}");
    assert!(all.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn routes_methods_and_bodies_get_openai_errors() {
    let (m, gw) = one_provider("").await;
    let auth = format!("Bearer {KEY}");
    let h = [("authorization", auth.as_str())];

    let r = send(gw.addr, "POST", "/v1/nothing-here", &h, b"{}").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "Invalid URL (POST /v1/nothing-here)", "type": "invalid_request_error", "param": null, "code": null}})
    );

    let r = send(gw.addr, "GET", "/v1/chat/completions", &h, b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(r.json()["error"]["code"], "method_not_allowed");

    let r = send(gw.addr, "POST", "/v1/chat/completions", &h, b"{not json").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("We could not parse the JSON body"));

    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        &h,
        br#"{"messages":[]}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "you must provide a model parameter"
    );

    let r = chat(gw.addr, KEY, &hello("no-such-model")).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "The model `no-such-model` does not exist or you do not have access to it.",
               "type": "invalid_request_error", "param": null, "code": "model_not_found"}})
    );
    assert_eq!(m.requests().len(), 0);
}

#[tokio::test]
async fn a_providers_own_4xx_passes_through_but_its_auth_failure_does_not() {
    let (m, gw) = one_provider("").await;
    m.push(Behavior::status(400));
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "Invalid value for 'temperature'.", "type": "invalid_request_error", "param": null, "code": "invalid_value"}})
    );
    // The provider's own verdict on the request is final: no other provider is asked.
    gw.log_with(r#"status=400 route="generate" key="tester" model="gpt-4o-mini" provider="alpha" stream=false attempts=1 retry="no""#)
        .await;

    // A provider that rejects the gateway's own key: the client learns it is the gateway's
    // fault (502), and never sees the provider's message, which quotes part of that key.
    m.push(Behavior::status(401));
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "the provider rejected the gateway's credentials (status 401)",
               "type": "server_error", "param": null, "code": "bad_upstream_response"}})
    );
    assert!(!r.text().contains("sk-up"));
    assert_eq!(
        m.requests().len(),
        2,
        "a provider that refused the gateway's key is not asked again"
    );
}

#[tokio::test]
async fn a_head_preflight_gets_headers_only_and_the_connection_stays_usable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_m, gw) = one_provider("").await;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"HEAD / HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut tmp = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut tmp).await.unwrap();
        assert!(n > 0);
        head.extend_from_slice(&tmp[..n]);
    }
    let text = String::from_utf8(head.clone()).unwrap();
    // Claude Code probes `HEAD /` before its first request: the server is there.
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "no body after a HEAD answer: {text:?}"
    );
    let auth = format!("authorization: Bearer {KEY}\r\n");
    s.write_all(format!("GET /v1/models HTTP/1.1\r\nhost: t\r\n{auth}\r\n").as_bytes())
        .await
        .unwrap();
    let r = Conn::read_head(s, Vec::new()).await.finish().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["object"], "list");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_releases_its_request() {
    let m = mock("alpha").await;
    let hold = Arc::new(Semaphore::new(0));
    let long_reply = "word ".repeat(400).trim_end().to_string();
    m.push(Behavior {
        hold_after_first: Some(hold.clone()),
        event_delay: Duration::from_millis(2),
        reply: Some(long_reply),
        ..Behavior::default()
    });
    let mut gw = gateway_for(&m, "").await;
    let mut conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    conn.read_until("\"content\":\"word\"").await;
    drop(conn);
    hold.add_permits(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !gw
        .log()
        .contains("failure=\"client disconnected mid-stream\"")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway never noticed:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The provider's stream was read to its end, sending nothing on, for the usage it reports
    // there: all 400 words it generated, not the few the client saw.
    let log = gw.log();
    let line = log
        .lines()
        .find(|l| l.contains("client disconnected mid-stream"))
        .unwrap();
    assert!(line.contains("input_tokens=3 output_tokens=400"), "{line}");
    // Nothing is left in flight: a graceful stop exits at once instead of waiting out the grace period.
    gw.signal("TERM");
    let started = std::time::Instant::now();
    assert_eq!(gw.wait_exit(Duration::from_secs(5)).await, Some(0));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn with_no_reading_after_a_disconnect_the_provider_is_hung_up_on_at_once() {
    let m = mock("alpha").await;
    let hold = Arc::new(Semaphore::new(0));
    m.push(Behavior {
        hold_after_first: Some(hold.clone()),
        event_delay: Duration::from_millis(20),
        reply: Some("word ".repeat(400).trim_end().to_string()),
        ..Behavior::default()
    });
    let yaml = format!(
        "metering: {{ read_after_disconnect: 0s }}\nproviders:\n{}{}",
        provider("alpha", &m.base_url(), "[gpt-4o-mini]", ""),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let mut conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    conn.read_until("\"content\":\"word\"").await;
    drop(conn);
    let log = gw.log_with("client disconnected mid-stream").await;
    hold.add_permits(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while m.broken_writes() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the provider kept streaming"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The provider never said what it used: the record holds the gateway's estimate.
    assert!(log.contains("estimated=true"), "{log}");
}

#[tokio::test]
async fn a_tool_round_trip_passes_through_intact_streaming_or_not() {
    let m = mock("alpha").await;
    m.set_default(Behavior {
        tool_call: Some(ToolCall {
            name: "get_weather".into(),
            arguments: json!({"city": "Paris"}),
        }),
        ..Behavior::default()
    });
    let gw = gateway_for(&m, "").await;
    let mut ask = hello("gpt-4o-mini");
    ask["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let r = chat(gw.addr, KEY, &ask).await;
    assert_eq!(r.status, 200);
    let call = &r.json()["choices"][0];
    assert_eq!(call["finish_reason"], "tool_calls");
    assert_eq!(
        call["message"]["tool_calls"],
        json!([{"id": "call_mock_0", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );

    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let r = chat(gw.addr, KEY, &streamed).await;
    let text = r.text();
    let args: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert!(text.contains("\"finish_reason\":\"tool_calls\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    // The client runs the tool and sends its result back.
    let mut answer = ask.clone();
    answer["messages"] = json!([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": call["message"]["tool_calls"]},
        {"role": "tool", "tool_call_id": "call_mock_0", "content": "18 C and sunny"}
    ]);
    let r = chat(gw.addr, KEY, &answer).await;
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Tool said: 18 C and sunny"
    );
    let sent = m.requests();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].json()["messages"][2]["tool_call_id"], "call_mock_0");
}
