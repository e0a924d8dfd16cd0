//! Every client dialect against every provider dialect, through the running gateway: a client
//! of each kind asks, a mock provider of each kind answers (the mock speaks all four, written
//! from the dialects reference), streaming and not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http::send;
use common::*;
use serde_json::{json, Value};

const CLIENTS: [&str; 4] = ["openai", "openai-responses", "anthropic", "gemini"];
const PROVIDERS: [&str; 4] = ["openai", "openai-responses", "anthropic", "gemini"];

/// One provider per dialect, all on one mock, each serving the model `m-<dialect>`.
async fn gateway() -> (MockProvider, TestGateway) {
    let m = mock("mock").await;
    let mut yaml = String::from("providers:\n");
    yaml.push_str(&providers_of_every_dialect(&m, "m"));
    yaml.push_str(&keys());
    let gw = TestGateway::start(&yaml).await;
    (m, gw)
}

/// The text of a whole answer in `dialect`.
fn answer_text(dialect: &str, v: &Value) -> String {
    match dialect {
        "openai" => v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .into(),
        "openai-responses" => v["output"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["text"].as_str().map(String::from))
            .collect(),
        "anthropic" => v["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["text"].as_str())
            .collect(),
        _ => v["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str())
            .collect(),
    }
}

/// The `data:` payloads of an SSE body, with their event names.
fn sse(body: &str) -> Vec<(Option<String>, Value)> {
    body.split("\n\n")
        .flat_map(|e| e.split("\r\n\r\n"))
        .filter_map(|event| {
            let mut name = None;
            let mut data = None;
            for line in event.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.trim().to_string());
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d.trim()).ok();
                }
            }
            data.map(|d| (name, d))
        })
        .collect()
}

/// The text of a streamed answer in `dialect`, and whether it ended with its terminal event.
fn stream_text(dialect: &str, body: &str) -> (String, bool) {
    let events = sse(body);
    match dialect {
        "openai" => (
            events
                .iter()
                .filter_map(|(_, d)| d["choices"][0]["delta"]["content"].as_str())
                .collect(),
            body.ends_with("data: [DONE]\n\n"),
        ),
        "openai-responses" => (
            events
                .iter()
                .filter(|(_, d)| d["type"] == "response.output_text.delta")
                .filter_map(|(_, d)| d["delta"].as_str())
                .collect(),
            events
                .last()
                .is_some_and(|(_, d)| d["type"] == "response.completed"),
        ),
        "anthropic" => (
            events
                .iter()
                .filter(|(_, d)| d["delta"]["type"] == "text_delta")
                .filter_map(|(_, d)| d["delta"]["text"].as_str())
                .collect(),
            events
                .last()
                .is_some_and(|(_, d)| d["type"] == "message_stop"),
        ),
        _ => (
            events
                .iter()
                .flat_map(|(_, d)| {
                    d["candidates"][0]["content"]["parts"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|p| p["text"].as_str().map(String::from))
                .collect(),
            events
                .last()
                .is_some_and(|(_, d)| d["candidates"][0]["finishReason"] == "STOP"),
        ),
    }
}

async fn ask(
    gw: &TestGateway,
    client: &str,
    provider: &str,
    stream: bool,
) -> common::http::Response {
    let (path, body) = ask_in(client, &format!("m-{provider}"), stream);
    let auth = format!("Bearer {KEY}");
    send(
        gw.addr,
        "POST",
        &path,
        &[
            ("authorization", &auth),
            ("anthropic-version", "2023-06-01"),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

#[tokio::test]
async fn every_client_gets_every_provider_s_answer_in_its_own_dialect() {
    let (m, gw) = gateway().await;
    for client in CLIENTS {
        for provider in PROVIDERS {
            let r = ask(&gw, client, provider, false).await;
            assert_eq!(r.status, 200, "{client} <- {provider}: {}", r.text());
            assert_eq!(
                answer_text(client, &r.json()),
                "Hello from mock!",
                "{client} <- {provider}: {}",
                r.text()
            );
            let r = ask(&gw, client, provider, true).await;
            assert_eq!(
                r.status,
                200,
                "{client} <- {provider} streamed: {}",
                r.text()
            );
            let (text, terminated) = stream_text(client, &r.text());
            assert_eq!(
                (text.as_str(), terminated),
                ("Hello from mock!", true),
                "{client} <- {provider} streamed: {}",
                r.text()
            );
        }
    }
    // Each provider got its own dialect, with the system prompt where it belongs.
    for r in m.requests() {
        let body = r.json();
        let system_seen = match r.target.split('?').next().unwrap_or("") {
            "/v1/chat/completions" => body["messages"][0]["role"] == "system",
            "/v1/responses" => body["instructions"] == "Be brief.",
            "/v1/messages" => {
                body["system"] == "Be brief." || body["system"][0]["text"] == "Be brief."
            }
            _ => body["systemInstruction"]["parts"][0]["text"] == "Be brief.",
        };
        assert!(system_seen, "{} {}", r.target, body);
        assert!(r
            .header("authorization")
            .is_none_or(|a| a == format!("Bearer {UPSTREAM_KEY}")));
    }
}

#[tokio::test]
async fn a_provider_error_reaches_each_client_in_its_own_shape() {
    let (m, gw) = gateway().await;
    m.set_default(Behavior::status(400));
    for client in CLIENTS {
        let r = ask(&gw, client, "anthropic", false).await;
        assert_eq!(r.status, 400, "{client}: {}", r.text());
        let v = r.json();
        let well_formed = match client {
            "openai" | "openai-responses" => {
                v["error"]["message"].is_string() && v["error"]["type"] == "invalid_request_error"
            }
            "anthropic" => v["type"] == "error" && v["error"]["type"] == "invalid_request_error",
            _ => v["error"]["status"] == "INVALID_ARGUMENT" && v["error"]["code"] == 400,
        };
        assert!(well_formed, "{client}: {v}");
    }
}

#[tokio::test]
async fn the_other_routes_of_each_dialect() {
    let (_m, gw) = gateway().await;
    let auth = format!("Bearer {KEY}");
    // (`HEAD /` is checked on a raw socket in tests/chat.rs: a HEAD answer has no body.)
    let r = send(gw.addr, "GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    let r = send(
        gw.addr,
        "GET",
        "/v1/responses",
        &[("authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(r.status, 426);
    let r = send(
        gw.addr,
        "GET",
        "/v1beta/models",
        &[("x-goog-api-key", KEY)],
        b"",
    )
    .await;
    assert_eq!(r.json()["models"][0]["name"], "models/m-anthropic");
    let r = send(
        gw.addr,
        "GET",
        "/v1/models",
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        b"",
    )
    .await;
    assert_eq!(r.json()["data"][0]["type"], "model");
    let r = send(
        gw.addr,
        "GET",
        "/v1/models",
        &[("authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(r.json()["object"], "list");
    // A hub's `/v1` base URL in front of Anthropic's own `/v1`.
    let (_, body) = ask_in("anthropic", "m-openai", false);
    let r = send(
        gw.addr,
        "POST",
        "/v1/v1/messages",
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer_text("anthropic", &r.json()), "Hello from mock!");
}

#[tokio::test]
async fn a_request_only_its_own_dialect_can_express_goes_to_that_dialect_only() {
    let (m, gw) = gateway().await;
    let auth = format!("Bearer {KEY}");
    let body = |model: &str| {
        json!({"model": model, "input": "and then?", "previous_response_id": "resp_1"}).to_string()
    };
    // A Responses provider keeps the conversation: the request goes to it as it came.
    let r = send(
        gw.addr,
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        body("m-openai-responses").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        m.requests().last().unwrap().json()["previous_response_id"],
        "resp_1"
    );
    // Another dialect has nowhere to find that conversation: refused, not guessed.
    let r = send(
        gw.addr,
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        body("m-anthropic").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("previous_response_id"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn content_cached_at_google_goes_to_gemini_providers_only() {
    let (m, gw) = gateway().await;
    let body = json!({"cachedContent": "cachedContents/abc123",
        "contents": [{"role": "user", "parts": [{"text": "and then?"}]}]})
    .to_string();
    let ask = |model: &str| {
        let path = format!("/v1beta/models/{model}:generateContent");
        let body = body.clone();
        async move {
            send(
                gw.addr,
                "POST",
                &path,
                &[("x-goog-api-key", KEY)],
                body.as_bytes(),
            )
            .await
        }
    };
    let r = ask("m-gemini").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(m.requests().last().unwrap().body, body.as_bytes());
    let r = ask("m-anthropic").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "cachedContent refers to content cached by Google; only a Gemini provider can use it."}})
    );
    assert_eq!(
        m.requests().len(),
        1,
        "nothing went to the Anthropic provider"
    );
}

#[tokio::test]
async fn anthropic_beta_flags_reach_anthropic_providers_only() {
    let (m, gw) = gateway().await;
    let (path, body) = ask_in("anthropic", "m-anthropic", false);
    let headers = [
        ("x-api-key", KEY),
        ("anthropic-version", "2023-06-01"),
        (
            "anthropic-beta",
            "context-1m-2025-08-07,interleaved-thinking-2025-05-14",
        ),
    ];
    let r = send(
        gw.addr,
        "POST",
        &path,
        &headers,
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = m.requests().pop().unwrap();
    assert_eq!(
        up.header("anthropic-beta"),
        Some("context-1m-2025-08-07,interleaved-thinking-2025-05-14")
    );
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(up.header("x-api-key"), Some(UPSTREAM_KEY));

    let (path, body) = ask_in("anthropic", "m-openai", false);
    let r = send(
        gw.addr,
        "POST",
        &path,
        &headers,
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let up = m.requests().pop().unwrap();
    assert_eq!(up.header("anthropic-beta"), None);
    assert_eq!(up.header("x-api-key"), None);
}

#[tokio::test]
async fn one_model_by_id_in_each_dialect_s_shape() {
    let (_m, gw) = gateway().await;
    let auth = format!("Bearer {KEY}");
    let get = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let addr = gw.addr;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(addr, "GET", path, &h, b"").await
        }
    };
    let openai = vec![("authorization", auth.clone())];
    let anthropic = vec![
        ("x-api-key", KEY.to_string()),
        ("anthropic-version", "2023-06-01".into()),
    ];
    let gemini = vec![("x-goog-api-key", KEY.to_string())];
    assert_eq!(
        get("/v1/models/m-openai", openai).await.json(),
        json!({"id": "m-openai", "object": "model", "created": 0, "owned_by": "tollgate"})
    );
    assert_eq!(
        get("/v1/models/m-openai", anthropic).await.json()["type"],
        "model"
    );
    assert_eq!(
        get("/v1beta/models/m-gemini", gemini.clone()).await.json()["name"],
        "models/m-gemini"
    );
    // google-genai on `v1` asks the OpenAI-looking path, with its own key header.
    assert_eq!(
        get("/v1/models/m-gemini", gemini.clone()).await.json()["name"],
        "models/m-gemini"
    );
    let r = get("/v1beta/models/nope", gemini).await;
    assert_eq!(
        (r.status, r.json()["error"]["status"].clone()),
        (404, json!("NOT_FOUND"))
    );
}

#[tokio::test]
async fn token_counts_come_from_a_provider_that_can_count_else_an_estimate_that_says_so() {
    let (m, gw) = gateway().await;
    let anthropic = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")];
    let body = |model: &str| {
        json!({"model": model, "system": "Be brief.",
            "messages": [{"role": "user", "content": "say hi please"}]})
        .to_string()
    };
    // An Anthropic provider counts itself (the mock counts words: 2 + 3).
    let r = send(
        gw.addr,
        "POST",
        "/v1/messages/count_tokens",
        &anthropic,
        body("m-anthropic").as_bytes(),
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"input_tokens": 5})),
        "{}",
        r.text()
    );
    assert_eq!(r.header("x-tollgate-token-estimate"), None);
    assert!(m
        .requests()
        .last()
        .unwrap()
        .target
        .ends_with("/v1/messages/count_tokens"));
    // No OpenAI endpoint counts: tollgate estimates, and says with which tokenizer.
    let r = send(
        gw.addr,
        "POST",
        "/v1/messages/count_tokens",
        &anthropic,
        body("m-openai").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-token-estimate"), Some("o200k_base"));
    // In o200k_base "Be brief." is 3 tokens and "say hi please" 3; the message's framing adds 3.
    assert_eq!(r.json(), json!({"input_tokens": 9}));

    let gemini = [("x-goog-api-key", KEY)];
    let g =
        json!({"contents": [{"role": "user", "parts": [{"text": "say hi please"}]}]}).to_string();
    let r = send(
        gw.addr,
        "POST",
        "/v1beta/models/m-gemini:countTokens",
        &gemini,
        g.as_bytes(),
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"totalTokens": 3})),
        "{}",
        r.text()
    );
    let r = send(
        gw.addr,
        "POST",
        "/v1beta/models/m-anthropic:countTokens",
        &gemini,
        g.as_bytes(),
    )
    .await;
    assert_eq!(r.json(), json!({"totalTokens": 6}));
    assert_eq!(r.header("x-tollgate-token-estimate"), Some("o200k_base"));
}

#[tokio::test]
async fn an_error_that_comes_as_the_first_event_fails_over_to_the_next_provider() {
    let first = mock("first").await;
    let second = mock("second").await;
    // An Anthropic provider that accepts the stream, pings, then reports overload as its first
    // real event: the client has seen nothing yet, so the next candidate answers.
    first.set_default(Behavior::wire(|_| {
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: ping\ndata: {\"type\": \"ping\"}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_vec()
    }));
    let yaml = format!(
        "providers:\n  - {{ name: first, dialect: anthropic, base_url: \"http://{}\", api_key: {UPSTREAM_KEY}, models: [m], priority: 0 }}\n  - {{ name: second, dialect: openai, base_url: \"{}\", api_key: {UPSTREAM_KEY}, models: [m], priority: 1 }}\n{}",
        first.addr(),
        second.base_url(),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let r = ask_as(gw.addr, "openai", "m", true).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        stream_text("openai", &r.text()),
        ("Hello from second!".to_string(), true)
    );
    assert_eq!(first.requests().len(), 1);
    gw.log_with("attempts=2").await;

    // With nobody else to ask, the client gets the provider's message as a whole error.
    let only = format!(
        "providers:\n  - {{ name: first, dialect: anthropic, base_url: \"http://{}\", api_key: {UPSTREAM_KEY}, models: [m] }}\n{}",
        first.addr(),
        keys()
    );
    let gw = TestGateway::start(&format!("routing: {{ max_attempts: 1 }}\n{only}")).await;
    let r = ask_as(gw.addr, "anthropic", "m", true).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"type": "error", "error": {"type": "api_error", "message": "Overloaded"}})
    );
}

/// Streams as providers of Anthropic, Responses and Gemini write them, with what only their
/// own dialect can say: a server tool's blocks and a citation, a built-in web search item,
/// grounding metadata.
const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-up\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"query\\\":\\\"tollgate\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\",\"content\":[{\"type\":\"web_search_result\",\"url\":\"https://example.com\",\"title\":\"Example\",\"encrypted_content\":\"abc\"}]}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"web_search_result_location\",\"url\":\"https://example.com\",\"title\":\"Example\",\"encrypted_index\":\"x\",\"cited_text\":\"It is a gateway.\"}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"A gateway.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9,\"server_tool_use\":{\"web_search_requests\":1}}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

const RESPONSES_STREAM: &str = concat!(
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1700000000,\"status\":\"in_progress\",\"model\":\"m-openai-responses\",\"output\":[],\"usage\":null}}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"ws_1\",\"type\":\"web_search_call\",\"status\":\"in_progress\"}}\n\n",
    "event: response.web_search_call.completed\ndata: {\"type\":\"response.web_search_call.completed\",\"sequence_number\":2,\"output_index\":0,\"item_id\":\"ws_1\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":3,\"output_index\":0,\"item\":{\"id\":\"ws_1\",\"type\":\"web_search_call\",\"status\":\"completed\",\"action\":{\"type\":\"search\",\"query\":\"tollgate\"}}}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":4,\"output_index\":1,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n",
    "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"sequence_number\":5,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":6,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"delta\":\"A gateway.\"}\n\n",
    "event: response.output_text.annotation.added\ndata: {\"type\":\"response.output_text.annotation.added\",\"sequence_number\":7,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"annotation_index\":0,\"annotation\":{\"type\":\"url_citation\",\"url\":\"https://example.com\",\"start_index\":0,\"end_index\":10,\"title\":\"Example\"}}\n\n",
    "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":8,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"text\":\"A gateway.\"}\n\n",
    "event: response.content_part.done\ndata: {\"type\":\"response.content_part.done\",\"sequence_number\":9,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"A gateway.\",\"annotations\":[]}}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":10,\"output_index\":1,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"A gateway.\",\"annotations\":[]}]}}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":11,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1700000000,\"status\":\"completed\",\"model\":\"m-openai-responses\",\"output\":[],\"usage\":{\"input_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":4,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":24}}}\n\n",
);

const GEMINI_STREAM: &str = concat!(
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"A gateway.\"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-up\",\"responseId\": \"r1\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0,\"groundingMetadata\": {\"webSearchQueries\": [\"tollgate\"],\"groundingChunks\": [{\"web\": {\"uri\": \"https://example.com\",\"title\": \"Example\"}}]}}],\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\": 3,\"totalTokenCount\": 10},\"modelVersion\": \"gemini-up\",\"responseId\": \"r1\"}\r\n\r\n",
);

#[tokio::test]
async fn same_dialect_streams_reach_the_client_as_the_provider_wrote_them() {
    let (m, gw) = gateway().await;
    for (dialect, stream) in [
        ("openai-responses", RESPONSES_STREAM),
        ("gemini", GEMINI_STREAM),
    ] {
        m.push(Behavior {
            raw: Some(("text/event-stream".into(), stream.into())),
            ..Behavior::default()
        });
        let r = ask(&gw, dialect, dialect, true).await;
        assert_eq!(r.status, 200, "{dialect}: {}", r.text());
        assert_eq!(r.text(), stream, "{dialect}");
    }
    gw.log_with(r#"model="m-openai-responses" provider="m-openai-responses" stream=true attempts=1 retry="-" input_tokens=20 output_tokens=4"#)
        .await;
    gw.log_with(r#"model="m-gemini" provider="m-gemini" stream=true attempts=1 retry="-" input_tokens=7 output_tokens=3"#)
        .await;

    // A renamed model gets the client's name back, and nothing else changes.
    let a = mock("anthropic").await;
    let yaml = format!(
        "providers:\n  - {{ name: up, dialect: anthropic, base_url: \"http://{}\", api_key: {UPSTREAM_KEY}, models: [claude-client], model_map: {{ claude-client: claude-up }} }}\n{}",
        a.addr(),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    a.push(Behavior {
        raw: Some(("text/event-stream".into(), ANTHROPIC_STREAM.into())),
        ..Behavior::default()
    });
    let (path, body) = ask_in("anthropic", "claude-client", true);
    let r = send(
        gw.addr,
        "POST",
        &path,
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        ANTHROPIC_STREAM.replace("\"model\":\"claude-up\"", "\"model\":\"claude-client\"")
    );
    assert_eq!(a.requests()[0].json()["model"], "claude-up");
    gw.log_with(r#"model="claude-client" provider="up" stream=true attempts=1 retry="-" input_tokens=12 output_tokens=9"#)
        .await;
}

/// Reference §5.13: DeepSeek's thinking mode (OpenAI dialect) refuses a tool loop whose earlier
/// assistant messages lack `reasoning_content`. A provider configured with `reasoning_content`
/// gets an Anthropic client's thinking back there; one without it (OpenAI itself) does not.
#[tokio::test]
async fn reasoning_goes_back_as_reasoning_content_to_the_chat_providers_configured_for_it() {
    let m = mock("mock").await;
    let base = format!("http://{}/v1", m.addr());
    let yaml = format!(
        "providers:\n  - {{ name: deepseek, dialect: openai, base_url: \"{base}\", api_key: {UPSTREAM_KEY}, models: [m-deepseek], reasoning_content: true }}\n  - {{ name: openai, dialect: openai, base_url: \"{base}\", api_key: {UPSTREAM_KEY}, models: [m-openai] }}\n{}",
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    for (model, reasoning) in [
        ("m-deepseek", Some(json!("The user wants Paris weather."))),
        ("m-openai", None),
    ] {
        let body = json!({"model": model, "max_tokens": 2048,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "The user wants Paris weather.", "signature": "c2ln"},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"}]}]});
        let r = send(
            gw.addr,
            "POST",
            "/v1/messages",
            &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
            body.to_string().as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let sent = m.requests().last().unwrap().json();
        assert_eq!(
            sent["messages"][1],
            {
                let mut want = json!({"role": "assistant", "content": null,
                    "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]});
                if let Some(r) = &reasoning {
                    want["reasoning_content"] = r.clone();
                }
                want
            },
            "{model}"
        );
    }
}
