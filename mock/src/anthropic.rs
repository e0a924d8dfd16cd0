//! Anthropic Messages (`POST /v1/messages`, `/v1/messages/count_tokens`), as the real API answers
//! (dialects reference §1.C, §2.C, §4): key auth, a required `anthropic-version` header, the
//! request checks of §5.9, and the `message_start` … `message_stop` stream grammar.

use crate::http1::{after_first_content, end_chunked, reason, write_event, write_whole};
use crate::openai::{reply_text, words};
use crate::{Behavior, Recorded, State, ToolCall};
use serde_json::{json, Value};
use std::io;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const MSG_ID: &str = "msg_mock";
const REQUEST_ID: &str = "req_mock";
/// A tool call's output tokens: the mock has no tokenizer for JSON; a fixed count is easy to assert.
const TOOL_OUTPUT_TOKENS: u64 = 10;
/// Where the first content delta sits in a stream: after message_start, content_block_start, ping.
const FIRST_DELTA: usize = 3;

/// What the assistant answers with: one content block.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Text(String),
    Tool { id: String, call: ToolCall },
}

/// Whitespace-separated words of every text in `system` and `messages`, tool results included.
pub fn prompt_tokens(req: &Value) -> u64 {
    fn text_words(v: &Value) -> u64 {
        match v {
            Value::String(s) => words(s),
            Value::Array(blocks) => blocks
                .iter()
                .map(|b| b["text"].as_str().map_or(0, words) + text_words(&b["content"]))
                .sum(),
            _ => 0,
        }
    }
    let msgs = req["messages"].as_array().into_iter().flatten();
    text_words(&req["system"]) + msgs.map(|m| text_words(&m["content"])).sum::<u64>()
}

/// The text of the first `tool_result` block of the request's last message, if it has one.
fn tool_result_text(req: &Value) -> Option<String> {
    let last = req["messages"].as_array()?.last()?;
    let blocks = last["content"].as_array()?;
    let result = blocks.iter().find(|b| b["type"] == "tool_result")?;
    Some(match &result["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    })
}

pub fn answer(b: &Behavior, provider: &str, req: &Value) -> Answer {
    // Derived from the conversation's length, so each turn's call gets its own stable id.
    let turns = req["messages"].as_array().map_or(0, Vec::len);
    match (&b.tool_call, tool_result_text(req)) {
        (Some(_), Some(result)) => Answer::Text(format!("Tool said: {result}")),
        (Some(call), None) => Answer::Tool {
            id: format!("toolu_mock{turns}"),
            call: call.clone(),
        },
        (None, _) => Answer::Text(reply_text(b, provider)),
    }
}

fn usage(input: u64, output: u64) -> Value {
    json!({"input_tokens": input, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0, "output_tokens": output})
}

/// The content block, stop reason and output tokens of an answer.
fn parts(answer: &Answer) -> (Value, &'static str, u64) {
    match answer {
        Answer::Text(t) => (json!({"type": "text", "text": t}), "end_turn", words(t)),
        Answer::Tool { id, call } => (
            json!({"type": "tool_use", "id": id, "name": call.name, "input": call.arguments}),
            "tool_use",
            TOOL_OUTPUT_TOKENS,
        ),
    }
}

pub fn message(model: &str, answer: &Answer, input: u64) -> Value {
    let (block, stop, output) = parts(answer);
    json!({"id": MSG_ID, "type": "message", "role": "assistant", "model": model,
        "content": [block], "stop_reason": stop, "stop_sequence": null, "usage": usage(input, output)})
}

fn sse(data: Value) -> String {
    let name = data["type"].as_str().unwrap_or("").to_string();
    format!("event: {name}\ndata: {data}\n\n")
}

/// Every event of a streamed answer, each a complete `event: …\ndata: …\n\n` frame.
pub fn stream_events(model: &str, answer: &Answer, input: u64) -> Vec<String> {
    let (mut block, stop, output) = parts(answer);
    let deltas: Vec<Value> = match answer {
        Answer::Text(t) => {
            block["text"] = json!("");
            let mut pieces: Vec<String> = t.split(' ').map(|w| format!(" {w}")).collect();
            if let Some(first) = pieces.first_mut() {
                first.remove(0);
            }
            let delta = |p| json!({"type": "text_delta", "text": p});
            pieces.into_iter().map(delta).collect()
        }
        Answer::Tool { call, .. } => {
            block["input"] = json!({});
            // The real API opens with an empty fragment, then cuts the JSON anywhere.
            let args = call.arguments.to_string();
            let mut mid = args.len() / 2;
            while !args.is_char_boundary(mid) {
                mid += 1;
            }
            let delta = |p| json!({"type": "input_json_delta", "partial_json": p});
            ["", &args[..mid], &args[mid..]]
                .into_iter()
                .map(delta)
                .collect()
        }
    };
    let mut out = vec![
        sse(
            json!({"type": "message_start", "message": {"id": MSG_ID, "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": usage(input, 1)}}),
        ),
        sse(json!({"type": "content_block_start", "index": 0, "content_block": block})),
        sse(json!({"type": "ping"})),
    ];
    let delta = |d| sse(json!({"type": "content_block_delta", "index": 0, "delta": d}));
    out.extend(deltas.into_iter().map(delta));
    out.push(sse(json!({"type": "content_block_stop", "index": 0})));
    out.push(sse(json!({"type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}})));
    out.push(sse(json!({"type": "message_stop"})));
    out
}

pub fn error_body(ty: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": ty, "message": message}, "request_id": REQUEST_ID})
}

/// The error a scripted status answers with; types from the closed set of reference §4.1/§4.2.
pub fn status_error(status: u16) -> Value {
    let (ty, message) = match status {
        401 => ("authentication_error", "invalid x-api-key"),
        402 => ("billing_error", "Your credit balance is too low."),
        403 => ("permission_error", "Your API key does not have permission."),
        404 => ("not_found_error", "The requested resource was not found."),
        413 => ("request_too_large", "Request exceeds the maximum size."),
        429 => (
            "rate_limit_error",
            "Number of requests has exceeded your rate limit.",
        ),
        504 => ("timeout_error", "Request timed out."),
        529 => ("overloaded_error", "Overloaded"),
        400..=499 => ("invalid_request_error", "Invalid request."),
        _ => ("api_error", "Internal server error"),
    };
    error_body(ty, message)
}

/// The 400 message the real API would give this request (§1.C, §5.9), if any.
pub fn invalid(req: &Value, count_tokens: bool) -> Option<String> {
    let required = ["model", "messages", "max_tokens"];
    let required = &required[..if count_tokens { 2 } else { 3 }];
    if let Some(f) = required.iter().find(|f| req[**f].is_null()) {
        return Some(format!("{f}: Field required"));
    }
    if req["temperature"].as_f64().is_some_and(|t| t > 1.0) {
        return Some("temperature: Input should be less than or equal to 1".into());
    }
    let Some(msgs) = req["messages"].as_array() else {
        return Some("messages: Input should be a valid list".into());
    };
    // The API merges consecutive same-role messages into one turn before pairing tool calls.
    let mut turns: Vec<(usize, &str, Vec<Value>)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        let blocks = match &m["content"] {
            Value::String(s) if s.is_empty() && (role != "assistant" || i + 1 < msgs.len()) => {
                return Some(format!("messages.{i}: all messages must have non-empty content except for the optional final assistant message"));
            }
            Value::String(s) if s.is_empty() => Vec::new(),
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(blocks) => blocks.clone(),
            _ => Vec::new(),
        };
        let empty = |b: &Value| b["type"] == "text" && b["text"].as_str().unwrap_or("").is_empty();
        if blocks.iter().any(empty) {
            return Some("messages: text content blocks must be non-empty".into());
        }
        match turns.last_mut() {
            Some(t) if t.1 == role => t.2.extend(blocks),
            _ if role == "system" => {}
            _ => turns.push((i, role, blocks)),
        }
    }
    let ids = |blocks: &[Value], ty: &str, key: &str| -> Vec<String> {
        let of_type = blocks.iter().filter(|b| b["type"] == ty);
        of_type
            .map(|b| b[key].as_str().unwrap_or("").to_string())
            .collect()
    };
    for (k, (i, role, blocks)) in turns.iter().enumerate() {
        let calls_before = match k.checked_sub(1).and_then(|p| turns.get(p)) {
            Some((_, "assistant", prev)) => ids(prev, "tool_use", "id"),
            _ => Vec::new(),
        };
        let results = ids(blocks, "tool_result", "tool_use_id");
        if let Some(id) = results.iter().find(|id| !calls_before.contains(id)) {
            return Some(format!("messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."));
        }
        if *role == "assistant" {
            // Only results that open the next turn count: text before them breaks the pairing.
            let next = turns.get(k + 1).map_or(&[][..], |t| &t.2[..]);
            let first = next.iter().take_while(|b| b["type"] == "tool_result");
            let answered = ids(&next[..first.count()], "tool_result", "tool_use_id");
            let calls = ids(blocks, "tool_use", "id").into_iter();
            let missing: Vec<String> = calls.filter(|id| !answered.contains(id)).collect();
            if !missing.is_empty() {
                return Some(format!("messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", missing.join(", ")));
            }
        }
    }
    None
}

/// A whole JSON answer, with the `request-id` header every Anthropic answer carries.
async fn write_json(stream: &mut TcpStream, status: u16, body: &Value) -> io::Result<bool> {
    let (reason, body) = (reason(status), body.to_string());
    let head = format!("HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nrequest-id: {REQUEST_ID}\r\ncontent-length: {}\r\n\r\n", body.len());
    stream.write_all(format!("{head}{body}").as_bytes()).await?;
    Ok(true)
}

/// Answers one request; returns whether the connection may carry another.
pub async fn respond(
    stream: &mut TcpStream,
    state: &State,
    b: &Behavior,
    req: &Recorded,
) -> io::Result<bool> {
    // Either header carries the key (§1.C): the SDKs send `x-api-key` or `Authorization: Bearer`.
    let bearer = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    let sent = [req.header("x-api-key"), bearer];
    let refused = match &state.config.api_key {
        Some(_) if sent == [None, None] => Some("x-api-key header is required"),
        Some(key) if !sent.contains(&Some(key.as_str())) => Some("invalid x-api-key"),
        _ => None,
    };
    if let Some(message) = refused {
        return write_json(stream, 401, &error_body("authentication_error", message)).await;
    }
    if req.header("anthropic-version").is_none() {
        let message = "anthropic-version: header is required";
        return write_json(stream, 400, &error_body("invalid_request_error", message)).await;
    }
    if let Some((ct, body)) = &b.raw {
        return write_whole(stream, b.status, ct, body).await;
    }
    if b.status != 200 {
        return write_json(stream, b.status, &status_error(b.status)).await;
    }
    if req.method != "POST" {
        return write_json(stream, 404, &error_body("not_found_error", "Not Found")).await;
    }
    let json = req.json();
    let path = req.target.split('?').next().unwrap_or("");
    let count_only = path.ends_with("/count_tokens");
    let problem = match json.is_object() {
        true => invalid(&json, count_only),
        false => Some("The request body is not valid JSON.".into()),
    };
    if let Some(message) = problem {
        return write_json(stream, 400, &error_body("invalid_request_error", &message)).await;
    }
    let input = prompt_tokens(&json);
    if count_only {
        return write_json(stream, 200, &json!({"input_tokens": input})).await;
    }
    let model = json["model"].as_str().unwrap_or("");
    let answer = answer(b, &state.config.name, &json);
    if json["stream"].as_bool() != Some(true) {
        let mut whole = message(model, &answer, input);
        if let Some(x) = &b.extra_usage {
            x.apply(&mut whole);
        }
        return write_json(stream, 200, &whole).await;
    }
    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\nrequest-id: {REQUEST_ID}\r\ntransfer-encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut events = stream_events(model, &answer, input);
    if let Some(x) = &b.extra_usage {
        events = events.iter().map(|e| x.apply_sse(e)).collect();
    }
    if b.cut_stream {
        // A well-framed body that simply stops after the block: no message_delta, no message_stop.
        events.truncate(events.len() - 2);
    }
    for (i, ev) in events.iter().enumerate() {
        if i > 0 && !b.event_delay.is_zero() {
            tokio::time::sleep(b.event_delay).await;
        }
        // Cut inside the JSON, not in the `event:` line, so a reader must carry half an object.
        let data = ev.find("data: ").map_or(0, |p| p + 6);
        let cut = data + (ev.len().saturating_sub(2 + data)) / 2;
        write_event(stream, b, ev.as_bytes(), cut).await?;
        if i == FIRST_DELTA && !after_first_content(stream, b).await {
            return Ok(false);
        }
    }
    end_chunked(stream, b).await
}

#[cfg(test)]
// Field assignments after `default()` keep each scripted behaviour to a line or two.
#[allow(clippy::unwrap_used, clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use crate::{MockConfig, MockProvider};
    use tokio::io::AsyncReadExt;

    /// Checks each frame's `event:` line and its data against golden JSON, key order aside.
    fn assert_events(got: &[String], want: &[&str]) {
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (g, w) in got.iter().zip(want) {
            let w: Value = serde_json::from_str(w).unwrap();
            let head = format!("event: {}\ndata: ", w["type"].as_str().unwrap());
            let data = g.strip_prefix(&head).unwrap().strip_suffix("\n\n").unwrap();
            assert_eq!(serde_json::from_str::<Value>(data).unwrap(), w);
        }
    }

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_mock","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#;
    const PING: &str = r#"{"type":"ping"}"#;
    const STOP: &str = r#"{"type":"content_block_stop","index":0}"#;

    fn weather() -> ToolCall {
        let arguments = json!({"location": "Paris"});
        let name = "get_weather".into();
        ToolCall { name, arguments }
    }

    fn weather_answer() -> Answer {
        let id = "toolu_mock1".into();
        Answer::Tool {
            id,
            call: weather(),
        }
    }

    #[test]
    fn text_stream_follows_the_messages_grammar() {
        let events = stream_events("claude-x", &Answer::Text("Hi there".into()), 4);
        assert_events(
            &events,
            &[
                START,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                PING,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}"#,
                STOP,
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
        assert!(events[FIRST_DELTA].starts_with("event: content_block_delta\n"));
    }

    #[test]
    fn tool_stream_sends_the_arguments_in_pieces() {
        assert_events(
            &stream_events("claude-x", &weather_answer(), 4),
            &[
                START,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_mock1","name":"get_weather","input":{}}}"#,
                PING,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"location"}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\":\"Paris\"}"}}"#,
                STOP,
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":10}}"#,
                r#"{"type":"message_stop"}"#,
            ],
        );
    }

    #[test]
    fn counts_system_text_and_tool_results_and_answers_a_tool_result() {
        let req = json!({"system": [{"type": "text", "text": "Be terse."}], "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "18 C"}]}]}]});
        assert_eq!(prompt_tokens(&req), 7);
        let mut b = Behavior::default();
        assert_eq!(answer(&b, "m", &req), Answer::Text("Hello from m!".into()));
        b.tool_call = Some(weather());
        assert_eq!(
            answer(&b, "m", &req),
            Answer::Text("Tool said: 18 C".into())
        );
    }

    #[test]
    fn rejects_what_the_real_api_rejects() {
        let check = |messages: Value| {
            let req = json!({"model": "m", "max_tokens": 9, "messages": messages});
            invalid(&req, false).map(|m| m.split(". Each").next().unwrap().to_string())
        };
        let call = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]});
        let result = |id: &str| json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "ok"}]});
        let text = json!({"role": "user", "content": "hi"});
        let no_max = json!({"model": "m", "messages": []});
        assert_eq!(
            invalid(&no_max, false).unwrap(),
            "max_tokens: Field required"
        );
        assert_eq!(invalid(&no_max, true), None);
        let empty = check(json!([{"role": "user", "content": [{"type": "text", "text": ""}]}]));
        assert_eq!(
            empty.unwrap(),
            "messages: text content blocks must be non-empty"
        );
        // Results split over two user messages are one turn to the API, so they still pair up.
        assert_eq!(check(json!([text, call, result("toolu_1"), text])), None);
        assert_eq!(check(json!([text, call, text, result("toolu_1")])).unwrap(),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1");
        assert_eq!(
            check(json!([result("toolu_2")])).unwrap(),
            "messages.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2"
        );
        let types = [529, 409, 503].map(|s| status_error(s)["error"]["type"].clone());
        assert_eq!(
            types,
            ["overloaded_error", "invalid_request_error", "api_error"]
        );
    }

    type Reply = (u16, String, String);

    /// Sends one request and half-closes, so the mock hangs up after answering; returns the
    /// status, the header block and the de-chunked body.
    async fn call(mock: &MockProvider, path: &str, headers: &str, body: &Value) -> Reply {
        let mut s = TcpStream::connect(mock.addr()).await.unwrap();
        let body = body.to_string();
        let req = format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}", body.len());
        s.write_all(req.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        let (head, mut rest) = raw.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        if !head.contains("transfer-encoding: chunked") {
            return (status, head.into(), rest.into());
        }
        let mut body = String::new();
        while let Some((size, more)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size, 16).unwrap();
            body.push_str(&more[..size]);
            rest = &more[size + 2..];
        }
        (status, head.into(), body)
    }

    const MSGS: &str = "/v1/messages?beta=true";
    const AUTH: &str = "x-api-key: sk-test\r\nanthropic-version: 2023-06-01\r\n";

    async fn start() -> MockProvider {
        let mut config = MockConfig::default();
        config.name = "anthro".into();
        config.api_key = Some("sk-test".into());
        MockProvider::start(config).await.unwrap()
    }

    fn request(stream: bool) -> Value {
        json!({"model": "claude-x", "max_tokens": 64, "system": "Be brief.", "stream": stream,
            "messages": [{"role": "user", "content": "say hi"}]})
    }

    #[tokio::test]
    async fn answers_messages_count_tokens_and_errors_over_http() {
        let mock = start().await;
        let (status, head, body) = call(&mock, MSGS, AUTH, &request(false)).await;
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/json\r\nrequest-id: req_mock\r\n"));
        let want: Value = serde_json::from_str(r#"{"id":"msg_mock","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hello from anthro!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}"#).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), want);
        let r = call(&mock, "/v1/messages/count_tokens", AUTH, &request(false)).await;
        assert_eq!((r.0, r.2.as_str()), (200, r#"{"input_tokens":4}"#));

        let err = |status, ty, msg| (status, error_body(ty, msg).to_string());
        let bad_key = "x-api-key: sk-nope\r\nanthropic-version: 2023-06-01\r\n";
        let r = call(&mock, MSGS, bad_key, &request(false)).await;
        assert_eq!(
            (r.0, r.2),
            err(401, "authentication_error", "invalid x-api-key")
        );
        // A bearer key passes, as the SDKs send it; the missing version header does not.
        let r = call(
            &mock,
            MSGS,
            "authorization: Bearer sk-test\r\n",
            &request(false),
        )
        .await;
        let no_version = "anthropic-version: header is required";
        assert_eq!((r.0, r.2), err(400, "invalid_request_error", no_version));
        mock.push(Behavior::status(529));
        let r = call(&mock, MSGS, AUTH, &request(true)).await;
        assert!(r.1.contains("request-id: req_mock"));
        assert_eq!((r.0, r.2), err(529, "overloaded_error", "Overloaded"));
    }

    #[tokio::test]
    async fn streams_text_and_tool_calls_over_http() {
        let mock = start().await;
        let mut b = Behavior::default();
        b.reply = Some("Hi there".into());
        let want = stream_events("claude-x", &Answer::Text("Hi there".into()), 4);
        let (mut split, mut cut) = (b.clone(), b);
        (split.split_events, split.event_delay) = (true, std::time::Duration::from_millis(1));
        mock.push(split);
        let (status, head, body) = call(&mock, MSGS, AUTH, &request(true)).await;
        assert_eq!(status, 200);
        assert!(head.contains("content-type: text/event-stream; charset=utf-8\r\n"));
        assert_eq!(body, want.concat());
        cut.cut_stream = true;
        mock.push(cut);
        let (_, _, body) = call(&mock, MSGS, AUTH, &request(true)).await;
        assert_eq!(body, want[..want.len() - 2].concat());

        let mut b = Behavior::default();
        b.tool_call = Some(weather());
        mock.set_default(b);
        let (_, _, body) = call(&mock, MSGS, AUTH, &request(true)).await;
        assert_eq!(
            body,
            stream_events("claude-x", &weather_answer(), 4).concat()
        );
        let mut round = request(false);
        round["messages"] = json!([{"role": "user", "content": "say hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_mock1", "name": "get_weather", "input": {"location": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_mock1", "content": "{\"temp_c\":18}"}]}]);
        let (_, _, body) = call(&mock, MSGS, AUTH, &round).await;
        let text = serde_json::from_str::<Value>(&body).unwrap()["content"].clone();
        assert_eq!(
            text,
            json!([{"type": "text", "text": "Tool said: {\"temp_c\":18}"}])
        );
    }
}
