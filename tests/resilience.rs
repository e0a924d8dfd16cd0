//! Retries, fallback, timeouts, mid-stream failures and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::chat;
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Two providers: `first` (priority 0) and `second` (priority 1), both serving gpt-4o-mini.
async fn pair(extra_first: &str, routing: &str) -> (MockProvider, MockProvider, TestGateway) {
    let a = mock("first").await;
    let b = mock("second").await;
    let yaml = format!(
        "{routing}providers:\n{}{}{}",
        provider(
            "first",
            &a.base_url(),
            "[gpt-4o-mini]",
            &format!(
                "priority: 0{}{extra_first}",
                if extra_first.is_empty() { "" } else { ", " }
            )
        ),
        provider("second", &b.base_url(), "[gpt-4o-mini]", "priority: 1"),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    (a, b, gw)
}

#[tokio::test]
async fn lower_priority_is_tried_first() {
    let (a, b, gw) = pair("", "").await;
    for _ in 0..5 {
        let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Hello from first!"
        );
    }
    assert_eq!((a.requests().len(), b.requests().len()), (5, 0));
}

#[tokio::test]
async fn status_429_5xx_and_resets_fall_back_to_the_next_provider_with_the_whole_body() {
    let (a, b, gw) = pair("", "").await;
    let big = "word ".repeat(200_000);
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]});
    let reset = Behavior {
        reset: Reset::BeforeHeader,
        ..Behavior::default()
    };
    for failure in [
        Behavior::status(429),
        Behavior::status(500),
        Behavior::status(503),
        reset.clone(),
    ] {
        a.push(failure.clone());
        if failure.reset == Reset::BeforeHeader {
            // A reset on a reused keep-alive connection looks exactly like the provider having
            // closed it while idle, so tollgate first retries that provider once on a new
            // connection; the second reset is the provider's real failure.
            a.push(reset.clone());
        }
        let r = chat(gw.addr, KEY, &body).await;
        assert_eq!(r.status, 200, "after {failure:?}: {}", r.text());
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Hello from second!"
        );
    }
    assert_eq!(a.requests().len(), 5);
    assert_eq!(b.requests().len(), 4);
    for req in b.requests() {
        assert_eq!(
            req.body.len(),
            body.to_string().len(),
            "the whole body is resent"
        );
    }
}

#[tokio::test]
async fn a_streaming_request_falls_back_before_the_first_byte() {
    let (a, _b, gw) = pair("", "").await;
    a.push(Behavior::status(502));
    let r = open_stream(&gw, &streaming("gpt-4o-mini"))
        .await
        .finish()
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(" second!"), "{}", r.text());
    assert!(r.text().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn a_refused_connection_falls_back_and_all_refused_is_503() {
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let b = mock("second").await;
    let yaml = format!(
        "providers:\n{}{}{}",
        provider("dead", &dead, "[gpt-4o-mini, only-dead]", "priority: 0"),
        provider("second", &b.base_url(), "[gpt-4o-mini]", "priority: 1"),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from second!"
    );

    let r = chat(gw.addr, KEY, &hello("only-dead")).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "could not connect to the provider", "type": "server_error",
               "param": null, "code": "no_provider_available"}})
    );
}

#[tokio::test]
async fn attempts_are_capped_and_the_last_providers_error_is_passed_through() {
    let a = mock("a").await;
    let yaml = format!(
        "routing: {{ max_attempts: 2 }}\nproviders:\n{}{}",
        provider("a", &a.base_url(), "[gpt-4o-mini]", ""),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    a.set_default(Behavior::status(500));
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["type"], "server_error");
    assert_eq!(a.requests().len(), 2, "one provider, two attempts");
    // The log line names the provider the final error came from and its retry decision.
    gw.log_with(r#"status=500 route="generate" key="tester" model="gpt-4o-mini" provider="a" stream=false attempts=2 retry="next""#)
        .await;

    // A single provider that fails once is retried and succeeds.
    a.set_default(Behavior::default());
    a.push(Behavior::status(500));
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200);
    assert_eq!(a.requests().len(), 4);

    // A provider that rate-limits the gateway is not asked again within the same request:
    // the client gets the provider's own 429.
    a.push(Behavior::status(429));
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "Rate limit reached for requests. Please try again in 1s.",
               "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
    );
    gw.log_with(r#"status=429 route="generate" key="tester" model="gpt-4o-mini" provider="a" stream=false attempts=1 retry="avoid_provider""#)
        .await;
    assert_eq!(a.requests().len(), 5);
}

#[tokio::test]
async fn a_first_byte_timeout_moves_on_and_when_all_time_out_the_client_gets_504() {
    let (a, b, gw) = pair(
        "timeouts: { first_byte: 300ms }",
        "routing: { max_attempts: 2 }\n",
    )
    .await;
    a.push(Behavior {
        header_delay: Duration::from_secs(3),
        ..Behavior::default()
    });
    let started = Instant::now();
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from second!"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not wait for the slow provider"
    );

    a.push(Behavior {
        header_delay: Duration::from_secs(3),
        ..Behavior::default()
    });
    // Two resets: the first one on a reused connection is retried on a fresh one (see above).
    b.push(Behavior {
        reset: Reset::BeforeHeader,
        ..Behavior::default()
    });
    b.push(Behavior {
        reset: Reset::BeforeHeader,
        ..Behavior::default()
    });
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(
        r.status,
        502,
        "the last attempt's failure decides: {}",
        r.text()
    );
    assert_eq!(
        r.json()["error"]["message"],
        "the connection to the provider broke"
    );

    let slow_only = {
        let c = mock("slow").await;
        c.set_default(Behavior {
            header_delay: Duration::from_secs(3),
            ..Behavior::default()
        });
        c
    };
    let yaml = format!(
        "routing: {{ max_attempts: 2 }}\nproviders:\n{}{}",
        provider(
            "slow",
            &slow_only.base_url(),
            "[gpt-4o-mini]",
            "timeouts: { first_byte: 200ms }"
        ),
        keys()
    );
    let gw2 = TestGateway::start(&yaml).await;
    let r = chat(gw2.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 504);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "the provider sent no response header in time", "type": "server_error",
               "param": null, "code": "upstream_timeout"}})
    );
}

#[tokio::test]
async fn a_broken_answer_is_502() {
    let a = mock("a").await;
    a.set_default(Behavior {
        raw: Some(("text/html".into(), "<html>oops</html>".into())),
        ..Behavior::default()
    });
    let gw = gateway_for(&a, "").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "the provider answered with a body that is not JSON", "type": "server_error",
               "param": null, "code": "bad_upstream_response"}})
    );
}

const CUT_TAIL: &str = "data: {\"error\":{\"message\":\"The provider ended the stream before it was complete\",\"type\":\"server_error\",\"param\":null,\"code\":\"bad_upstream_response\"}}\n\ndata: [DONE]\n\n";

#[tokio::test]
async fn failures_after_the_first_byte_end_the_stream_with_an_error_event() {
    let (a, b, gw) = pair("timeouts: { idle: 400ms }", "").await;

    // The provider resets the connection after the first content event.
    a.push(Behavior {
        reset: Reset::AfterFirstEvent,
        ..Behavior::default()
    });
    let r = open_stream(&gw, &streaming("gpt-4o-mini"))
        .await
        .finish()
        .await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("\"content\":\"Hello\""), "{text}");
    assert!(
        text.ends_with("data: {\"error\":{\"message\":\"the connection to the provider broke\",\"type\":\"server_error\",\"param\":null,\"code\":\"bad_upstream_response\"}}\n\ndata: [DONE]\n\n"),
        "{text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    // The provider closes cleanly but without [DONE].
    a.push(Behavior {
        cut_stream: true,
        ..Behavior::default()
    });
    let r = open_stream(&gw, &streaming("gpt-4o-mini"))
        .await
        .finish()
        .await;
    assert!(r.text().ends_with(CUT_TAIL), "{}", r.text());

    // The provider goes quiet for longer than the idle timeout.
    let hold = Arc::new(Semaphore::new(0));
    a.push(Behavior {
        hold_after_first: Some(hold.clone()),
        ..Behavior::default()
    });
    let started = Instant::now();
    let r = open_stream(&gw, &streaming("gpt-4o-mini"))
        .await
        .finish()
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        r.text().ends_with("data: {\"error\":{\"message\":\"the provider sent no data in time\",\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_timeout\"}}\n\ndata: [DONE]\n\n"),
        "{}",
        r.text()
    );
    hold.add_permits(1);
    assert_eq!(
        b.requests().len(),
        0,
        "no fallback once the stream has started"
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_stream_finish_then_exits() {
    let a = mock("a").await;
    let hold = Arc::new(Semaphore::new(0));
    a.push(Behavior {
        hold_after_first: Some(hold.clone()),
        ..Behavior::default()
    });
    let mut gw = gateway_for(&a, "").await;

    let mut conn = open_stream(&gw, &streaming("gpt-4o-mini")).await;
    conn.read_until("\"content\":\"Hello\"").await;
    gw.signal("TERM");
    // Draining: not ready any more, and new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_probe(&gw).await == Some(200) {
        assert!(Instant::now() < deadline, "readyz still 200 while draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The listener closes on the same signal; give it a moment to get there.
    while tokio::net::TcpStream::connect(gw.addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener still accepts while draining"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    hold.add_permits(1);
    let rest = String::from_utf8(conn.body().await).unwrap();
    assert!(
        rest.ends_with("data: [DONE]\n\n"),
        "the stream finished: {rest}"
    );
    assert_eq!(gw.wait_exit(Duration::from_secs(5)).await, Some(0));
}

async fn http_probe(gw: &TestGateway) -> Option<u16> {
    common::http::probe(gw.admin, "/readyz").await
}

#[tokio::test]
async fn informational_answers_before_the_real_one_are_skipped() {
    let a = mock("a").await;
    a.set_default(Behavior {
        early_hints: true,
        ..Behavior::default()
    });
    let gw = gateway_for(&a, "").await;
    let r = chat(gw.addr, KEY, &hello("gpt-4o-mini")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from a!"
    );
    let r = open_stream(&gw, &streaming("gpt-4o-mini"))
        .await
        .finish()
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().ends_with("data: [DONE]\n\n"), "{}", r.text());
}

#[tokio::test]
async fn the_stream_ends_at_done_even_when_the_provider_keeps_its_body_open() {
    let a = mock("a").await;
    a.set_default(Behavior {
        linger_after_done: Duration::from_secs(5),
        ..Behavior::default()
    });
    let gw = gateway_for(&a, "").await;
    let started = Instant::now();
    let r = open_stream(&gw, &streaming("gpt-4o-mini"))
        .await
        .finish()
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the client waited for the provider's close"
    );
    let text = r.text();
    // The provider was asked for usage on the client's behalf, so its chunks carry
    // `"usage":null`; the usage-only chunk is not passed on.
    assert!(text.ends_with(" a!\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\ndata: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"service_tier\":\"default\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\ndata: [DONE]\n\n"), "{text}");
    assert!(!text.contains("\"error\""), "{text}");
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_cancels_the_exchange() {
    use tokio::io::AsyncWriteExt;
    let a = mock("a").await;
    a.set_default(Behavior {
        header_delay: Duration::from_secs(4),
        ..Behavior::default()
    });
    let mut gw = gateway_for(&a, "").await;
    let body = hello("gpt-4o-mini").to_string();
    let request = common::http::request_bytes(
        "POST",
        "/v1/chat/completions",
        &[("authorization", &format!("Bearer {KEY}"))],
        body.as_bytes(),
    );
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(&request).await.unwrap();
    a.wait_for_requests(1).await;
    let left = Instant::now();
    drop(s);
    while !gw
        .log()
        .contains("failure=\"client disconnected before the answer\"")
    {
        assert!(
            left.elapsed() < Duration::from_secs(3),
            "the gateway kept waiting for the provider:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing is left in flight: SIGTERM exits at once, well before the provider would answer.
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(2)).await, Some(0));
}
