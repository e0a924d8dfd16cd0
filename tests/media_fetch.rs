//! Images a client gives by URL reach a Gemini provider as their bytes (reference §6 T6: Gemini
//! fetches nothing from the web), fetched by the gateway under the `media` rules: public
//! addresses only unless allowed, a size cap, a deadline, images that are images. An image host
//! here is a mock answering raw HTTP by path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::{chat, send};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Not a real JPEG, but it starts like one; what matters is that every byte arrives.
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x02\x00\xff\xfe\x80\x81tollgate";
/// `JPEG` in base64, as Python's `base64.b64encode` gives it: not by the code under test.
const JPEG_B64: &str = "/9j/4AAQSkZJRgABAgD//oCBdG9sbGdhdGU=";
const MAX_BYTES: usize = 1000;

fn http_answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// An image host: a few paths, each a way an image URL can go right or wrong.
async fn image_host() -> MockProvider {
    let host = MockProvider::start(MockConfig::default()).await.unwrap();
    host.set_default(Behavior::wire(|req| {
        match req.target.as_str() {
            "/cat.jpg" => http_answer("200 OK", "content-type: image/jpeg\r\n", JPEG),
            "/cat" => http_answer("200 OK", "content-type: application/octet-stream\r\n", JPEG),
            "/redirect" => http_answer("302 Found", "location: /cat.jpg\r\n", b""),
            "/loop" => http_answer("302 Found", "location: /loop\r\n", b""),
            "/page" => http_answer("200 OK", "content-type: text/html\r\n", b"<html></html>"),
            "/missing" => http_answer("404 Not Found", "content-type: text/plain\r\n", b"no"),
            "/big.png" => http_answer(
                "200 OK",
                "content-type: image/png\r\n",
                &vec![b'x'; MAX_BYTES + 1],
            ),
            // No length: the body runs until the connection closes, and is over the cap.
            "/unbounded.png" => {
                let mut out =
                    b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\nconnection: close\r\n\r\n"
                        .to_vec();
                out.extend_from_slice(&vec![b'x'; MAX_BYTES * 3]);
                out
            }
            _ => http_answer("404 Not Found", "", b""),
        }
    }));
    host
}

/// A Gemini, an Anthropic and an OpenAI provider on one mock, and a model served by Gemini
/// first and OpenAI second.
async fn gateway(media: &str) -> (MockProvider, TestGateway) {
    let m = mock("llm").await;
    let host = format!("http://{}", m.addr());
    let yaml = format!(
        "media: {{ {media} }}\nproviders:
  - {{ name: gemini, dialect: gemini, base_url: \"{host}\", api_key: {UPSTREAM_KEY}, models: [m-gemini, m-mixed] }}
  - {{ name: anthropic, dialect: anthropic, base_url: \"{host}\", api_key: {UPSTREAM_KEY}, models: [m-anthropic] }}
  - {{ name: openai, dialect: openai, base_url: \"{host}/v1\", api_key: {UPSTREAM_KEY}, models: [m-mixed], priority: 1 }}
{}",
        keys()
    );
    (m, TestGateway::start(&yaml).await)
}

fn allowed() -> String {
    format!("allow_private: true, max_bytes: {MAX_BYTES}, timeout: 2s")
}

/// A Chat client's question about the images at `urls`.
fn ask_about(model: &str, urls: &[&str]) -> Value {
    let mut content = vec![json!({"type": "text", "text": "What is this?"})];
    content.extend(
        urls.iter()
            .map(|u| json!({"type": "image_url", "image_url": {"url": u}})),
    );
    json!({"model": model, "messages": [{"role": "user", "content": content}]})
}

fn message(r: &common::http::Response) -> String {
    r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_image_url_reaches_a_gemini_provider_as_its_bytes() {
    let host = image_host().await;
    let (m, gw) = gateway(&allowed()).await;
    for path in ["/cat.jpg", "/redirect", "/cat"] {
        let url = format!("http://{}{path}", host.addr());
        let r = chat(gw.addr, KEY, &ask_about("m-gemini", &[url.as_str()])).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let sent = m.requests().last().unwrap().json();
        assert_eq!(
            sent["contents"][0]["parts"],
            json!([{"text": "What is this?"},
                {"inlineData": {"mimeType": "image/jpeg", "data": JPEG_B64}}]),
            "{path}"
        );
    }
    let asked: Vec<String> = host.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(asked, ["/cat.jpg", "/redirect", "/cat.jpg", "/cat"]);
    for r in host.requests() {
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.header("authorization"),
            None,
            "no key goes to an image host"
        );
        assert_eq!(r.header("x-goog-api-key"), None);
        assert_eq!(r.header("accept"), Some("image/*"));
    }
}

#[tokio::test]
async fn a_provider_that_fetches_urls_itself_gets_the_url() {
    let host = image_host().await;
    let (m, gw) = gateway(&allowed()).await;
    let url = format!("http://{}/cat.jpg", host.addr());
    let r = chat(gw.addr, KEY, &ask_about("m-anthropic", &[url.as_str()])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = m.requests().last().unwrap().json();
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"type": "image", "source": {"type": "url", "url": url}})
    );
    assert!(host.requests().is_empty(), "nothing was fetched");
}

#[tokio::test]
async fn urls_that_cannot_be_fetched_are_refused_with_why() {
    let host = image_host().await;
    let (m, gw) = gateway(&allowed()).await;
    let at = |path: &str| format!("http://{}{path}", host.addr());
    let cases = [
        (at("/page"), "it is text/html, not an image".to_string()),
        (at("/missing"), "the server answered with status 404".into()),
        (
            at("/big.png"),
            format!("it is larger than {MAX_BYTES} bytes"),
        ),
        (
            at("/unbounded.png"),
            format!("it is larger than {MAX_BYTES} bytes"),
        ),
        (at("/loop"), "it redirected more than 3 times".into()),
        (
            "ftp://files.test/cat.jpg".into(),
            "only http and https URLs are fetched".into(),
        ),
    ];
    let cases_count = cases.len();
    for (url, why) in cases {
        let r = chat(gw.addr, KEY, &ask_about("m-gemini", &[url.as_str()])).await;
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert_eq!(
            message(&r),
            format!("Could not fetch the image at {url}: {why}")
        );
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    }
    // A presigned URL's query is its secret: not repeated in the error (nor the log).
    let r = chat(
        gw.addr,
        KEY,
        &ask_about("m-gemini", &[&at("/missing?X-Amz-Signature=s3cr3t")]),
    )
    .await;
    assert_eq!(
        message(&r),
        format!(
            "Could not fetch the image at {}: the server answered with status 404",
            at("/missing")
        )
    );
    // Once the request's line is in, the signed URL's secret is nowhere in the log.
    let lines = cases_count + 1;
    assert!(!gw
        .log_lines_with("Could not fetch the image", lines)
        .await
        .contains("s3cr3t"));
    assert!(m.requests().is_empty(), "nothing reached the provider");
}

#[tokio::test]
async fn by_default_a_url_that_leads_inside_the_network_is_not_fetched() {
    let host = image_host().await;
    let (m, gw) = gateway("").await;
    let port = host.addr().port();
    for url in [
        format!("http://127.0.0.1:{port}/cat.jpg"),
        format!("http://localhost:{port}/cat.jpg"),
        format!("http://[::1]:{port}/cat.jpg"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let r = chat(gw.addr, KEY, &ask_about("m-gemini", &[url.as_str()])).await;
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert_eq!(
            message(&r),
            format!("Could not fetch the image at {url}: its host is not on a public address")
        );
    }
    // In an Anthropic client's own error shape.
    let url = format!("http://127.0.0.1:{port}/cat.jpg");
    let body = json!({"model": "m-gemini", "max_tokens": 100, "messages": [{"role": "user",
        "content": [{"type": "image", "source": {"type": "url", "url": url}}]}]});
    let r = send(
        gw.addr,
        "POST",
        "/v1/messages",
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"type": "error", "error": {"type": "invalid_request_error",
            "message": format!("Could not fetch the image at {url}: its host is not on a public address")}})
    );
    assert!(host.requests().is_empty(), "the image host was never asked");
    assert!(m.requests().is_empty());
}

#[tokio::test]
async fn a_slow_image_host_is_given_up_at_the_media_timeout() {
    let host = MockProvider::start(MockConfig::default()).await.unwrap();
    host.set_default(Behavior {
        header_delay: Duration::from_secs(30),
        ..Behavior::wire(|_| http_answer("200 OK", "content-type: image/jpeg\r\n", JPEG))
    });
    let (_m, gw) = gateway("allow_private: true, timeout: 500ms").await;
    let url = format!("http://{}/cat.jpg", host.addr());
    let r = chat(gw.addr, KEY, &ask_about("m-gemini", &[url.as_str()])).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        message(&r),
        format!("Could not fetch the image at {url}: it did not arrive within 500ms")
    );
}

#[tokio::test]
async fn when_an_image_cannot_be_fetched_a_provider_that_takes_urls_answers() {
    let host = image_host().await;
    let (m, gw) = gateway(&allowed()).await;
    let url = format!("http://{}/missing", host.addr());
    let r = chat(gw.addr, KEY, &ask_about("m-mixed", &[url.as_str()])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from llm!"
    );
    let sent = m.requests();
    assert_eq!(sent.len(), 1, "only the OpenAI provider was asked");
    assert_eq!(sent[0].target, "/v1/chat/completions");
    assert_eq!(
        sent[0].json()["messages"][0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": url}})
    );
}

#[tokio::test]
async fn fetches_per_request_are_bounded() {
    let host = image_host().await;
    let (m, gw) = gateway(&format!("{}, max_per_request: 2", allowed())).await;
    let at = |path: &str| format!("http://{}{path}", host.addr());
    // One URL twice is fetched once.
    let r = chat(
        gw.addr,
        KEY,
        &ask_about("m-gemini", &[&at("/cat.jpg"), &at("/cat"), &at("/cat.jpg")]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(host.requests().len(), 2);
    let r = chat(
        gw.addr,
        KEY,
        &ask_about(
            "m-gemini",
            &[&at("/cat.jpg"), &at("/cat"), &at("/redirect")],
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        message(&r),
        "The request has 3 image or file URLs to fetch; at most 2 are fetched"
    );
    assert_eq!(host.requests().len(), 2, "nothing more was fetched");
    assert_eq!(m.requests().len(), 1);
}

#[tokio::test]
async fn with_fetching_off_the_url_goes_to_gemini_as_it_is() {
    let host = image_host().await;
    let (m, gw) = gateway("fetch_urls: false").await;
    let url = format!("http://{}/cat.jpg", host.addr());
    let r = chat(gw.addr, KEY, &ask_about("m-gemini", &[url.as_str()])).await;
    // What Gemini itself says of a web URL, in the client's dialect.
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(message(&r), format!("Unsupported file uri: {url}"));
    let sent = m.requests().last().unwrap().json();
    assert_eq!(
        sent["contents"][0]["parts"][1],
        json!({"fileData": {"mimeType": "image/jpeg", "fileUri": url}})
    );
    assert!(host.requests().is_empty());
}
