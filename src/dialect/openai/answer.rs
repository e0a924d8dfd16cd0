//! Whole Chat Completions answers to and from the internal representation (reference:
//! dialects.md §1.A, §3.2, §3.3).

use crate::dialect::ir::{Answer, Block, Extras, Stop, ToolCall};
use crate::dialect::usage::Usage;
use bytes::Bytes;
use serde_json::{json, Value};

/// `finish_reason` as a stop reason; `None` when the provider gave none.
pub fn stop_from(finish_reason: &str) -> Stop {
    match finish_reason {
        "length" => Stop::MaxTokens,
        "tool_calls" | "function_call" => Stop::ToolUse,
        "content_filter" => Stop::ContentFilter,
        _ => Stop::EndTurn,
    }
}

/// The `finish_reason` for a stop reason. A turn that called tools says `tool_calls` whatever
/// the provider said (Gemini never does; some compatible servers say `stop`).
pub fn finish_reason(stop: &Stop, calls_tools: bool) -> &'static str {
    if calls_tools {
        return "tool_calls";
    }
    match stop {
        Stop::EndTurn | Stop::StopSequence(_) | Stop::Paused => "stop",
        Stop::MaxTokens => "length",
        Stop::ToolUse => "tool_calls",
        Stop::ContentFilter => "content_filter",
    }
}

/// Decodes a provider's answer; `None` when it is not a Chat Completion.
pub fn decode_answer(body: &[u8]) -> Option<Answer> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let choice = v["choices"].get(0)?;
    let message = &choice["message"];
    let mut blocks = Vec::new();
    let reasoning = message["reasoning_content"]
        .as_str()
        .or(message["reasoning"].as_str());
    if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
        blocks.push(Block::Thinking {
            text: text.to_string(),
            signature: None,
            extras: Extras::new(),
        });
    }
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        blocks.push(Block::text(text));
    }
    if let Some(refusal) = message["refusal"].as_str().filter(|t| !t.is_empty()) {
        blocks.push(Block::text(refusal));
    }
    for (i, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        blocks.push(Block::ToolCall(ToolCall {
            // Some compatible servers leave the id out; the result must still refer to one.
            id: call["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("call_{i}"), str::to_string),
            name: call["function"]["name"].as_str().unwrap_or("").to_string(),
            arguments: call["function"]["arguments"]
                .as_str()
                .unwrap_or("{}")
                .to_string(),
            extras: Extras::new(),
        }));
    }
    let refused = message["refusal"].as_str().is_some_and(|r| !r.is_empty());
    let stop = match choice["finish_reason"].as_str() {
        Some(r) => stop_from(r),
        None if refused => Stop::ContentFilter,
        None => Stop::EndTurn,
    };
    let usage = serde_json::from_value::<crate::dialect::usage::OpenAiUsage>(v["usage"].clone())
        .ok()
        .map(Usage::from);
    Some(Answer {
        id: v["id"].as_str().unwrap_or("").to_string(),
        model: v["model"].as_str().unwrap_or("").to_string(),
        blocks,
        stop,
        usage,
    })
}

/// OpenAI's usage object for `u`.
pub fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input_total,
        "completion_tokens": u.output_total,
        "total_tokens": u.input_total + u.output_total,
        "prompt_tokens_details": {"cached_tokens": u.input_cache_read},
        "completion_tokens_details": {"reasoning_tokens": u.output_reasoning}
    })
}

/// Encodes an answer for a Chat Completions client that asked for `model`. `created` is the
/// Unix time to stamp it with. Thinking is left out: OpenAI's own clients have no field for it.
pub fn encode_answer(a: &Answer, model: &str, created: u64) -> Bytes {
    let text: String = a
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = a
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::ToolCall(c) => Some(json!({"id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": c.arguments}})),
            _ => None,
        })
        .collect();
    let mut message = json!({"role": "assistant",
        "content": if text.is_empty() { Value::Null } else { json!(text) },
        "refusal": null});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let id = if a.id.starts_with("chatcmpl-") {
        a.id.clone()
    } else {
        format!("chatcmpl-{}", a.id)
    };
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null,
            "finish_reason": finish_reason(&a.stop, a.calls_tools())}],
    });
    if let Some(u) = &a.usage {
        body["usage"] = usage_json(u);
    }
    Bytes::from(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_without_an_id_get_one_by_position() {
        let body = json!({"choices":[{"message":{"tool_calls":[
            {"function":{"name":"f","arguments":"{}"}},
            {"id":"","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        let ids: Vec<&str> = a
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::ToolCall(c) => Some(c.id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["call_0", "call_1"]);
    }

    #[test]
    fn a_tool_call_answer_decodes_and_encodes_back() {
        let body = json!({"id":"chatcmpl-9","object":"chat.completion","created":1,"model":"gpt-x",
            "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"refusal":null,
                "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"SF\"}"}}]}}],
            "usage":{"prompt_tokens":162,"completion_tokens":219,"total_tokens":381,
                "prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":{"reasoning_tokens":192}}});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        assert_eq!(a.stop, Stop::ToolUse);
        assert_eq!(
            a.usage,
            Some(Usage {
                input_total: 162,
                input_cache_read: 10,
                input_cache_write: 0,
                output_total: 219,
                output_reasoning: 192
            })
        );
        let out: Value =
            serde_json::from_slice(&encode_answer(&a, "client-model", 1_700_000_000)).unwrap();
        assert_eq!(
            out,
            json!({"id":"chatcmpl-9","object":"chat.completion","created":1_700_000_000u64,"model":"client-model",
                "choices":[{"index":0,"logprobs":null,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"refusal":null,
                    "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"SF\"}"}}]}}],
                "usage":{"prompt_tokens":162,"completion_tokens":219,"total_tokens":381,
                    "prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":{"reasoning_tokens":192}}})
        );
    }

    #[test]
    fn reasoning_text_and_stop_reasons_map() {
        let body = json!({"id":"x","model":"m","choices":[{"index":0,"finish_reason":"length",
            "message":{"role":"assistant","content":"Hel","reasoning_content":"thinking..."}}]});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        assert_eq!(a.stop, Stop::MaxTokens);
        assert_eq!(a.usage, None);
        assert!(matches!(&a.blocks[0], Block::Thinking { text, .. } if text == "thinking..."));
        assert_eq!(a.blocks[1], Block::text("Hel"));
        let out: Value = serde_json::from_slice(&encode_answer(&a, "m", 5)).unwrap();
        assert_eq!(out["choices"][0]["message"]["content"], "Hel");
        assert_eq!(out["choices"][0]["finish_reason"], "length");
        assert_eq!(out["id"], "chatcmpl-x");
        assert!(out.get("usage").is_none());
        assert_eq!(decode_answer(b"{\"choices\":[]}"), None);
        assert_eq!(decode_answer(b"not json"), None);
    }

    #[test]
    fn a_turn_with_calls_says_tool_calls_whatever_the_provider_said() {
        assert_eq!(finish_reason(&Stop::EndTurn, true), "tool_calls");
        assert_eq!(finish_reason(&Stop::StopSequence(None), false), "stop");
        assert_eq!(finish_reason(&Stop::ContentFilter, false), "content_filter");
    }
}
