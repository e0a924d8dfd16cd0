//! OpenAI Chat Completions answers, as the real API shapes them.

use crate::{Behavior, ToolCall};
use serde_json::{json, Value};

pub const CREATED: u64 = 1_700_000_000;

/// Whitespace-separated words in every text of the request's messages: the mock's token count.
pub fn prompt_tokens(req: &Value) -> u64 {
    let mut n = 0;
    for m in req["messages"].as_array().into_iter().flatten() {
        match &m["content"] {
            Value::String(s) => n += words(s),
            Value::Array(parts) => {
                for p in parts {
                    if let Some(t) = p["text"].as_str() {
                        n += words(t);
                    }
                }
            }
            _ => {}
        }
    }
    n
}

pub fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

pub fn reply_text(b: &Behavior, provider: &str) -> String {
    b.reply
        .clone()
        .unwrap_or_else(|| format!("Hello from {provider}!"))
}

/// The id the mock gives its tool calls: stable, so a test can expect it.
pub const CALL_ID: &str = "call_mock_0";

/// What the mock answers a Chat request with: a tool call when one is scripted and the
/// conversation does not already end with its result, text otherwise.
pub enum Answer {
    Text(String),
    Call(ToolCall),
}

pub fn answer(b: &Behavior, provider: &str, req: &Value) -> Answer {
    let last = req["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    if last["role"] == "tool" {
        return Answer::Text(format!("Tool said: {}", text_of(&last["content"])));
    }
    match &b.tool_call {
        Some(call) => Answer::Call(call.clone()),
        None => Answer::Text(reply_text(b, provider)),
    }
}

/// The text of a message's content: a string, or the texts of its parts joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

fn arguments(call: &ToolCall) -> String {
    call.arguments.to_string()
}

/// A non-streamed answer that calls a tool.
pub fn tool_completion(model: &str, call: &ToolCall, prompt: u64) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": CALL_ID, "type": "function",
                    "function": {"name": call.name, "arguments": arguments(call)}}]},
            "logprobs": null,
            "finish_reason": "tool_calls"
        }],
        "usage": usage(prompt, TOOL_CALL_TOKENS),
        "service_tier": "default",
        "system_fingerprint": null
    })
}

/// What a tool call costs in completion tokens, by the mock's count.
const TOOL_CALL_TOKENS: u64 = 10;

/// The events of a streamed tool call: the call's id and name first, its arguments in two
/// fragments, as OpenAI splits them.
pub fn tool_stream_events(
    model: &str,
    call: &ToolCall,
    prompt: u64,
    include_usage: bool,
) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = chunk_envelope(model);
        c["choices"] =
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let args = arguments(call);
    let mid = args
        .char_indices()
        .nth(args.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": CALL_ID,
            "type": "function", "function": {"name": call.name, "arguments": ""}}]}),
        Value::Null,
    )];
    for piece in [&args[..mid], &args[mid..]] {
        out.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
            Value::Null,
        ));
    }
    out.push(chunk(json!({}), json!("tool_calls")));
    if include_usage {
        let mut u = chunk_envelope(model);
        u["choices"] = json!([]);
        u["usage"] = usage(prompt, TOOL_CALL_TOKENS);
        out.push(format!("data: {u}\n\n"));
    }
    out.push("data: [DONE]\n\n".into());
    out
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

pub fn completion(model: &str, text: &str, prompt: u64) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": usage(prompt, words(text)),
        "service_tier": "default",
        "system_fingerprint": null
    })
}

/// The fields every chunk of a stream repeats; `choices` comes after them, as OpenAI orders it.
fn chunk_envelope(model: &str) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": null,
        "choices": null
    })
}

/// The events of a streamed answer, each a complete `data: …\n\n` frame, `[DONE]` last.
pub fn stream_events(model: &str, text: &str, prompt: u64, include_usage: bool) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = chunk_envelope(model);
        c["choices"] =
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for (i, w) in text.split(' ').enumerate() {
        let piece = if i == 0 {
            w.to_string()
        } else {
            format!(" {w}")
        };
        out.push(chunk(json!({"content": piece}), Value::Null));
    }
    out.push(chunk(json!({}), json!("stop")));
    if include_usage {
        let mut u = chunk_envelope(model);
        u["choices"] = json!([]);
        u["usage"] = usage(prompt, words(text));
        out.push(format!("data: {u}\n\n"));
    }
    out.push("data: [DONE]\n\n".into());
    out
}

pub fn error_body(status: u16) -> Value {
    let (message, ty, code) = match status {
        400 => ("Invalid value for 'temperature'.", "invalid_request_error", json!("invalid_value")),
        401 => (
            "Incorrect API key provided: sk-up***********oops. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            json!("invalid_api_key"),
        ),
        404 => ("The model `x` does not exist or you do not have access to it.", "invalid_request_error", json!("model_not_found")),
        429 => ("Rate limit reached for requests. Please try again in 1s.", "requests", json!("rate_limit_exceeded")),
        503 => ("The server is overloaded or not ready yet.", "server_error", Value::Null),
        _ => ("The server had an error while processing your request.", "server_error", Value::Null),
    };
    json!({"error": {"message": message, "type": ty, "param": null, "code": code}})
}
