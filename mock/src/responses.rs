//! OpenAI Responses (`POST {prefix}/responses`), as the real API answers (dialects reference §1.B,
//! §2.B): output items instead of choices, named SSE events that each carry a `sequence_number`,
//! usage only in the terminal `response.completed`, no `[DONE]`.

use crate::http1::{after_first_content, end_chunked, write_event, write_whole};
use crate::openai::{error_body, reply_text, words, CREATED};
use crate::{Behavior, Recorded, State};
use serde_json::{json, Value};
use std::io;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const RESP_ID: &str = "resp_mock";
const MSG_ID: &str = "msg_mock";
// Two ids on purpose: clients answer with `call_id`, never with the item id `fc_…` (§3.4).
const FC_ID: &str = "fc_mock";
const CALL_ID: &str = "call_mock";

/// What the model says this turn.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Text(String),
    /// `arguments` is the JSON already serialised, as the wire carries it.
    Call {
        name: String,
        arguments: String,
    },
}

/// A `content` or `output` field's text: a string, or the `text` of each of its parts.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Words of `instructions` and of every input text, tool results included (as a Chat `tool`
/// message's content would be): the mock's token count.
fn input_tokens(req: &Value) -> u64 {
    let mut n = words(req["instructions"].as_str().unwrap_or(""));
    match &req["input"] {
        Value::String(s) => n += words(s),
        Value::Array(items) => {
            for it in items {
                n += words(&text_of(&it["content"])) + words(&text_of(&it["output"]));
            }
        }
        _ => {}
    }
    n
}

fn answer(b: &Behavior, provider: &str, req: &Value) -> Answer {
    // A result always gets its acknowledgement, as every dialect of the mock does.
    match req["input"].as_array().and_then(|items| items.last()) {
        Some(last) if last["type"] == "function_call_output" => {
            Answer::Text(format!("Tool said: {}", text_of(&last["output"])))
        }
        _ => match &b.tool_call {
            Some(call) => Answer::Call {
                name: call.name.clone(),
                arguments: call.arguments.to_string(),
            },
            None => Answer::Text(reply_text(b, provider)),
        },
    }
}

fn output_tokens(a: &Answer) -> u64 {
    match a {
        Answer::Text(t) => words(t),
        Answer::Call { arguments, .. } => words(arguments),
    }
}

fn usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + output
    })
}

fn part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "text": text})
}

/// The output item, as first announced (`done == false`: empty) or finished.
fn item(a: &Answer, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    match a {
        Answer::Text(t) => {
            let content = if done { json!([part(t)]) } else { json!([]) };
            json!({"id": MSG_ID, "type": "message", "status": status, "role": "assistant",
                "content": content})
        }
        Answer::Call { name, arguments } => {
            let arguments = if done { arguments.as_str() } else { "" };
            json!({"id": FC_ID, "type": "function_call", "status": status,
                "arguments": arguments, "call_id": CALL_ID, "name": name})
        }
    }
}

/// The Response object, echoing the request's settings as the real API does (§3.9).
fn response(req: &Value, status: &str, output: Vec<Value>, usage: Value) -> Value {
    let echo = |k: &str, default: Value| match &req[k] {
        Value::Null => default,
        v => v.clone(),
    };
    json!({
        "id": RESP_ID, "object": "response", "created_at": CREATED, "status": status,
        "error": null, "incomplete_details": null,
        "instructions": echo("instructions", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "model": echo("model", json!("")),
        "output": output,
        "parallel_tool_calls": echo("parallel_tool_calls", json!(true)),
        "previous_response_id": echo("previous_response_id", Value::Null),
        "reasoning": echo("reasoning", json!({"effort": null, "summary": null})),
        "store": echo("store", json!(true)),
        "temperature": echo("temperature", json!(1.0)),
        "text": echo("text", json!({"format": {"type": "text"}})),
        "tool_choice": echo("tool_choice", json!("auto")),
        "tools": echo("tools", json!([])),
        "top_p": echo("top_p", json!(1.0)),
        "truncation": echo("truncation", json!("disabled")),
        "usage": usage,
        "user": echo("user", Value::Null),
        "metadata": echo("metadata", json!({}))
    })
}

fn completed(req: &Value, a: &Answer, input: u64) -> Value {
    let u = usage(input, output_tokens(a));
    response(req, "completed", vec![item(a, true)], u)
}

/// Pieces of the arguments as a model streams them: torn anywhere, at least two when possible.
fn fragments(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let size = chars.len().div_ceil(2).clamp(1, 8);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// Every event of a streamed answer, in the order of §2.B, each with its `sequence_number`.
fn events(req: &Value, a: &Answer, input: u64) -> Vec<Value> {
    let snapshot = response(req, "in_progress", vec![], Value::Null);
    let mut ev = vec![
        json!({"type": "response.created", "response": snapshot}),
        json!({"type": "response.in_progress", "response": snapshot}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item(a, false)}),
    ];
    match a {
        Answer::Text(t) => {
            ev.push(
                json!({"type": "response.content_part.added", "item_id": MSG_ID,
                "output_index": 0, "content_index": 0, "part": part("")}),
            );
            // One delta per word, the space kept, so that the deltas add up to the text.
            let words = t.split(' ').enumerate();
            ev.extend(words.map(|(i, w)| {
                let sep = if i == 0 { "" } else { " " };
                json!({"type": "response.output_text.delta", "item_id": MSG_ID, "output_index": 0,
                    "content_index": 0, "delta": format!("{sep}{w}"), "logprobs": []})
            }));
            ev.extend([
                json!({"type": "response.output_text.done", "item_id": MSG_ID, "output_index": 0,
                    "content_index": 0, "text": t, "logprobs": []}),
                json!({"type": "response.content_part.done", "item_id": MSG_ID, "output_index": 0,
                    "content_index": 0, "part": part(t)}),
            ]);
        }
        Answer::Call { name, arguments } => {
            ev.extend(fragments(arguments).into_iter().map(|f| {
                json!({"type": "response.function_call_arguments.delta", "item_id": FC_ID,
                    "output_index": 0, "delta": f})
            }));
            ev.push(
                json!({"type": "response.function_call_arguments.done", "item_id": FC_ID,
                "output_index": 0, "name": name, "arguments": arguments}),
            );
        }
    }
    ev.extend([
        json!({"type": "response.output_item.done", "output_index": 0, "item": item(a, true)}),
        json!({"type": "response.completed", "response": completed(req, a, input)}),
    ]);
    for (i, e) in ev.iter_mut().enumerate() {
        e["sequence_number"] = json!(i);
    }
    ev
}

fn is_delta(e: &Value) -> bool {
    e["type"].as_str().is_some_and(|t| t.ends_with(".delta"))
}

/// The SSE frame of one event, and where its JSON's middle is (for `split_events`).
fn frame(e: &Value) -> (String, usize) {
    let head = format!("event: {}\ndata: ", e["type"].as_str().unwrap_or(""));
    let data = e.to_string();
    (format!("{head}{data}\n\n"), head.len() + data.len() / 2)
}

async fn write_json(stream: &mut TcpStream, status: u16, body: &Value) -> io::Result<bool> {
    let body = body.to_string();
    write_whole(stream, status, "application/json", body.as_bytes()).await
}

fn invalid(message: String) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
}

/// Answers one request; returns whether the connection may carry another.
pub async fn respond(
    stream: &mut TcpStream,
    state: &State,
    b: &Behavior,
    req: &Recorded,
) -> io::Result<bool> {
    if let Some(key) = &state.config.api_key {
        if req.header("authorization") != Some(&format!("Bearer {key}")) {
            return write_json(stream, 401, &error_body(401)).await;
        }
    }
    if let Some((ct, body)) = &b.raw {
        return write_whole(stream, b.status, ct, body).await;
    }
    if b.status != 200 {
        return write_json(stream, b.status, &error_body(b.status)).await;
    }
    let path = req.target.split('?').next().unwrap_or("");
    let route = format!("{}/responses", state.config.prefix);
    if req.method == "GET" && path == route {
        // Codex tries a WebSocket here first; refusing the upgrade sends it back to HTTP.
        let body = invalid("This endpoint does not support WebSocket upgrades.".into()).to_string();
        let head = format!(
            "HTTP/1.1 426 Upgrade Required\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(format!("{head}{body}").as_bytes()).await?;
        return Ok(true);
    }
    if req.method != "POST" || path != route {
        let body = invalid(format!("Invalid URL ({} {path})", req.method));
        return write_json(stream, 404, &body).await;
    }
    let json = req.json();
    let a = answer(b, &state.config.name, &json);
    let input = input_tokens(&json);
    if json["stream"].as_bool() != Some(true) {
        let mut whole = completed(&json, &a, input);
        if let Some(x) = &b.extra_usage {
            x.apply(&mut whole);
        }
        return write_json(stream, 200, &whole).await;
    }
    let mut events = events(&json, &a, input);
    if let Some(x) = &b.extra_usage {
        events.iter_mut().for_each(|e| x.apply(e));
    }
    let first = events.iter().position(is_delta);
    // A cut stream keeps its deltas and loses every `.done` and the terminal event (§5.6).
    let end = match (b.cut_stream, events.iter().rposition(is_delta)) {
        (true, Some(last)) => last + 1,
        _ => events.len(),
    };
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await?;
    for (i, e) in events[..end].iter().enumerate() {
        if i > 0 && !b.event_delay.is_zero() {
            tokio::time::sleep(b.event_delay).await;
        }
        let (text, mid) = frame(e);
        write_event(stream, b, text.as_bytes(), mid).await?;
        if Some(i) == first && !after_first_content(stream, b).await {
            return Ok(false);
        }
    }
    end_chunked(stream, b).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{MockConfig, MockProvider, ToolCall};
    use tokio::io::AsyncReadExt;

    const ARGS: &str = r#"{"location":"Paris"}"#;

    fn call() -> Answer {
        let (name, arguments) = ("get_weather".into(), ARGS.into());
        Answer::Call { name, arguments }
    }

    fn json_of(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn response_object_echoes_the_request() {
        let req = json!({"model": "gpt-4o-mini", "instructions": "Be brief.", "input": "say hi",
            "temperature": 0.5, "store": false});
        let a = Answer::Text("Hello from mock!".into());
        assert_eq!(input_tokens(&req), 4);
        let expected = json!({
            "id": "resp_mock", "object": "response", "created_at": 1_700_000_000u64,
            "status": "completed", "error": null, "incomplete_details": null,
            "instructions": "Be brief.", "max_output_tokens": null, "model": "gpt-4o-mini",
            "output": [{"id": "msg_mock", "type": "message", "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "annotations": [], "text": "Hello from mock!"}]}],
            "parallel_tool_calls": true, "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null}, "store": false, "temperature": 0.5,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
            "truncation": "disabled",
            "usage": {"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 7},
            "user": null, "metadata": {}
        });
        assert_eq!(completed(&req, &a, 4), expected);
        let mut snapshot = expected;
        snapshot["status"] = json!("in_progress");
        snapshot["output"] = json!([]);
        snapshot["usage"] = Value::Null;
        assert_eq!(response(&req, "in_progress", vec![], Value::Null), snapshot);
    }

    #[test]
    fn tool_call_until_the_last_item_is_its_result() {
        let tool_call = Some(ToolCall {
            name: "get_weather".into(),
            arguments: json!({"location": "Paris"}),
        });
        let b = Behavior {
            tool_call,
            ..Behavior::default()
        };
        let mut req = json!({"model": "m", "instructions": "You are terse.", "input": [
            {"type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": "a b"}, {"type": "input_text", "text": "c"}]},
            {"role": "user", "content": "Weather in Paris?"}]});
        assert_eq!((answer(&b, "mock", &req), input_tokens(&req)), (call(), 9));
        assert_eq!(
            completed(&req, &call(), 9)["output"],
            json!([{"id": "fc_mock", "type": "function_call", "status": "completed",
                "arguments": ARGS, "call_id": "call_mock", "name": "get_weather"}])
        );
        let items = req["input"].as_array_mut().unwrap();
        items.push(
            json!({"type": "function_call", "call_id": "call_mock", "name": "get_weather",
            "arguments": ARGS, "id": "fc_mock"}),
        );
        items.push(
            json!({"type": "function_call_output", "call_id": "call_mock",
            "output": [{"type": "input_text", "text": "{\"temp_c\":18}"}]}),
        );
        let said = Answer::Text("Tool said: {\"temp_c\":18}".into());
        assert_eq!(
            (answer(&b, "mock", &req), input_tokens(&req)),
            (said.clone(), 10)
        );
        // A result is acknowledged whether or not a call is scripted.
        assert_eq!(answer(&Behavior::default(), "beta", &req), said);
        assert_eq!(fragments("{}"), ["{", "}"]);
    }

    #[test]
    fn text_stream_events() {
        let req = json!({"model": "m", "input": "hi"});
        let a = Answer::Text("Hi there!".into());
        let snapshot = response(&req, "in_progress", vec![], Value::Null);
        let done = completed(&req, &a, 1);
        let full = json!({"type": "output_text", "annotations": [], "text": "Hi there!"});
        let expected = json!([
            {"type": "response.created", "response": snapshot, "sequence_number": 0},
            {"type": "response.in_progress", "response": snapshot, "sequence_number": 1},
            {"type": "response.output_item.added", "output_index": 0, "sequence_number": 2,
                "item": {"id": "msg_mock", "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []}},
            {"type": "response.content_part.added", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "sequence_number": 3,
                "part": {"type": "output_text", "annotations": [], "text": ""}},
            {"type": "response.output_text.delta", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "delta": "Hi", "logprobs": [], "sequence_number": 4},
            {"type": "response.output_text.delta", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "delta": " there!", "logprobs": [], "sequence_number": 5},
            {"type": "response.output_text.done", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "text": "Hi there!", "logprobs": [], "sequence_number": 6},
            {"type": "response.content_part.done", "item_id": "msg_mock", "output_index": 0,
                "content_index": 0, "part": full, "sequence_number": 7},
            {"type": "response.output_item.done", "output_index": 0, "sequence_number": 8,
                "item": {"id": "msg_mock", "type": "message", "status": "completed",
                    "role": "assistant", "content": [full]}},
            {"type": "response.completed", "response": done, "sequence_number": 9}
        ]);
        let got = events(&req, &a, 1);
        assert_eq!(Value::Array(got.clone()), expected);
        let (text, mid) = frame(&got[4]);
        assert!(text.starts_with("event: response.output_text.delta\ndata: {\""));
        assert!(text.ends_with("}\n\n") && mid > 40 && mid < text.len() - 10);
    }

    #[test]
    fn tool_call_stream_events() {
        let req = json!({"model": "m", "input": "Weather in Paris?"});
        let (fc, done) = ("fc_mock", completed(&req, &call(), 3));
        let item = |status: &str, args: &str| {
            json!({"id": fc, "type": "function_call", "status": status, "arguments": args,
                "call_id": "call_mock", "name": "get_weather"})
        };
        let expected = json!([
            {"type": "response.output_item.added", "output_index": 0, "sequence_number": 2,
                "item": item("in_progress", "")},
            {"type": "response.function_call_arguments.delta", "item_id": fc, "output_index": 0,
                "delta": "{\"locati", "sequence_number": 3},
            {"type": "response.function_call_arguments.delta", "item_id": fc, "output_index": 0,
                "delta": "on\":\"Par", "sequence_number": 4},
            {"type": "response.function_call_arguments.delta", "item_id": fc, "output_index": 0,
                "delta": "is\"}", "sequence_number": 5},
            {"type": "response.function_call_arguments.done", "item_id": fc, "output_index": 0,
                "name": "get_weather", "arguments": ARGS, "sequence_number": 6},
            {"type": "response.output_item.done", "output_index": 0, "sequence_number": 7,
                "item": item("completed", ARGS)},
            {"type": "response.completed", "response": done, "sequence_number": 8}
        ]);
        let got = events(&req, &call(), 3);
        assert_eq!(got[0]["type"], "response.created");
        assert_eq!(Value::Array(got[2..].to_vec()), expected);
        assert_eq!(got[8]["response"]["usage"]["total_tokens"], 4);
    }

    /// Sends one raw request and reads until the mock closes: (head, de-chunked body, reset?).
    async fn send(mock: &MockProvider, raw: &str) -> (String, Vec<u8>, bool) {
        let mut s = TcpStream::connect(mock.addr()).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        let reset = loop {
            match s.read(&mut buf).await {
                Ok(0) => break false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break true,
            }
        };
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(got[..end].to_vec()).unwrap();
        let (mut rest, mut body) = (&got[end..], Vec::new());
        if !head.contains("transfer-encoding: chunked") {
            return (head, rest.to_vec(), reset);
        }
        while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..p]).unwrap(), 16).unwrap();
            body.extend_from_slice(&rest[p + 2..p + 2 + size]);
            rest = &rest[p + 4 + size..];
        }
        (head, body, reset)
    }

    fn post(body: &Value, key: &str) -> String {
        let body = body.to_string();
        let len = body.len();
        format!("POST /v1/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-length: {len}\r\n\r\n{body}")
    }

    /// The stream's events, each checked to be framed as `event: <its type>` + one `data:` line.
    fn sse(body: &[u8]) -> Vec<Value> {
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.ends_with("\n\n"));
        let frames = text.trim_end_matches('\n').split("\n\n");
        let event = |f: &str| {
            let (ev, data) = f.split_once("\ndata: ").unwrap();
            let v: Value = serde_json::from_str(data).unwrap();
            assert_eq!(ev.strip_prefix("event: "), v["type"].as_str());
            v
        };
        frames.map(event).collect()
    }

    #[tokio::test]
    async fn serves_responses_over_http() {
        let (name, api_key) = ("alpha".into(), Some("sk-1".into()));
        let config = MockConfig {
            name,
            api_key,
            ..MockConfig::default()
        };
        let mock = MockProvider::start(config).await.unwrap();
        let req = json!({"model": "gpt-4o-mini", "input": "say hi"});
        let (head, body, _) = send(&mock, &post(&req, "sk-wrong")).await;
        assert!(head.starts_with("HTTP/1.1 401 "));
        assert_eq!(json_of(&body), error_body(401));

        let (head, body, _) = send(&mock, &post(&req, "sk-1")).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"));
        let a = Answer::Text("Hello from alpha!".into());
        assert_eq!(json_of(&body), completed(&req, &a, 2));
        assert_eq!(
            json_of(&body)["output"][0]["content"][0]["text"],
            "Hello from alpha!"
        );

        let stream_req = json!({"model": "gpt-4o-mini", "input": "say hi", "stream": true});
        let (head, body, reset) = send(&mock, &post(&stream_req, "sk-1")).await;
        assert!(head.contains("\r\ncontent-type: text/event-stream; charset=utf-8\r\n"));
        assert!(!reset);
        assert_eq!(sse(&body), events(&stream_req, &a, 2));

        let get = "GET /v1/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-1\r\n\r\n";
        let (head, body, _) = send(&mock, get).await;
        assert!(head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert_eq!(json_of(&body)["error"]["type"], "invalid_request_error");
        let (head, _, _) = send(&mock, &post(&req, "sk-1").replace("/v1/", "/v2/")).await;
        assert!(head.starts_with("HTTP/1.1 404 "));
        mock.push(Behavior::status(429));
        let (head, body, _) = send(&mock, &post(&req, "sk-1")).await;
        assert!(head.starts_with("HTTP/1.1 429 "));
        assert_eq!(json_of(&body), error_body(429));
    }

    #[tokio::test]
    async fn broken_streams() {
        let mock = MockProvider::start(MockConfig::default()).await.unwrap();
        let req = json!({"model": "m", "input": "Weather in Paris?", "stream": true});
        let tool_call = Some(ToolCall {
            name: "get_weather".into(),
            arguments: json!({"location": "Paris"}),
        });
        let (cut_stream, split_events) = (true, true);
        mock.push(Behavior {
            tool_call,
            cut_stream,
            split_events,
            ..Behavior::default()
        });
        let (_, body, reset) = send(&mock, &post(&req, "k")).await;
        assert!(!reset);
        assert_eq!(sse(&body), events(&req, &call(), 3)[..6]);

        mock.push(Behavior {
            reset: crate::Reset::AfterFirstEvent,
            ..Behavior::default()
        });
        let (_, body, reset) = send(&mock, &post(&req, "k")).await;
        let text = String::from_utf8_lossy(&body);
        assert!(reset && text.contains(r#""delta":"Hello""#));
        assert!(!text.contains("output_text.done") && !text.contains("response.completed"));
    }
}
