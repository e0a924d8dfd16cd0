//! Whole Messages answers to and from the internal representation (reference: dialects.md
//! §1.C, §3.2, §3.3, §3.6).

use super::blocks::tool_id;
use super::usage::{usage_from, usage_json};
use crate::dialect::ir::{Answer, Block, Extras, Stop, ToolCall, ENCRYPTED_REASONING_TAG};
use crate::dialect::usage::Usage;
use bytes::Bytes;
use serde_json::{json, Value};

/// `stop_reason` (and the matched `stop_sequence`) as a stop reason.
pub fn stop_from(stop_reason: &str, stop_sequence: Option<&str>) -> Stop {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => Stop::MaxTokens,
        "stop_sequence" => Stop::StopSequence(stop_sequence.map(str::to_string)),
        "tool_use" => Stop::ToolUse,
        "refusal" => Stop::ContentFilter,
        "pause_turn" => Stop::Paused,
        _ => Stop::EndTurn,
    }
}

/// The `stop_reason` and `stop_sequence` for a stop reason.
///
/// A turn that called tools says `tool_use` when the provider said it ended naturally (Gemini
/// never says otherwise; some OpenAI-compatible servers say `stop`); a cut or a refusal is left
/// as it is, since the calls are then likely incomplete. A stop sequence the provider did not
/// name is reported as a natural end: Anthropic never sends `stop_sequence` without it.
pub fn stop_reason(stop: &Stop, calls_tools: bool) -> (&'static str, Option<&str>) {
    match stop {
        Stop::EndTurn | Stop::StopSequence(_) if calls_tools => ("tool_use", None),
        Stop::EndTurn | Stop::StopSequence(None) => ("end_turn", None),
        Stop::StopSequence(Some(s)) => ("stop_sequence", Some(s)),
        Stop::MaxTokens => ("max_tokens", None),
        Stop::ToolUse => ("tool_use", None),
        Stop::ContentFilter => ("refusal", None),
        Stop::Paused => ("pause_turn", None),
    }
}

/// An Anthropic message id for the provider's id.
pub(super) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else if id.is_empty() {
        "msg_tollgate".to_string()
    } else {
        format!("msg_{id}")
    }
}

/// Decodes a provider's answer; `None` when it is not a Message (an error body, say).
/// Server-tool blocks (`server_tool_use`, `web_search_tool_result`, …) are left out: no other
/// dialect can show them.
pub fn decode_answer(body: &[u8]) -> Option<Answer> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v["type"] != "message" {
        return None;
    }
    let mut blocks = Vec::new();
    for (i, b) in v["content"].as_array()?.iter().enumerate() {
        let block = match b["type"].as_str() {
            Some("text") => match b["text"].as_str() {
                Some(t) if !t.is_empty() => Block::text(t),
                _ => continue,
            },
            Some("thinking") => Block::Thinking {
                text: b["thinking"].as_str().unwrap_or("").to_string(),
                signature: b["signature"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                extras: Extras::new(),
            },
            Some("redacted_thinking") => Block::RedactedThinking {
                data: b["data"].as_str().unwrap_or("").to_string(),
            },
            Some("tool_use") => Block::ToolCall(ToolCall {
                // A result must refer to the call by some id, even one a server left out.
                id: b["id"]
                    .as_str()
                    .filter(|id| !id.is_empty())
                    .map_or_else(|| format!("toolu_{i}"), str::to_string),
                name: b["name"].as_str().unwrap_or("").to_string(),
                arguments: match &b["input"] {
                    Value::Null => "{}".to_string(),
                    input => input.to_string(),
                },
                extras: Extras::new(),
            }),
            _ => continue,
        };
        blocks.push(block);
    }
    Some(Answer {
        id: v["id"].as_str().unwrap_or("").to_string(),
        model: v["model"].as_str().unwrap_or("").to_string(),
        blocks,
        stop: stop_from(
            v["stop_reason"].as_str().unwrap_or("end_turn"),
            v["stop_sequence"].as_str(),
        ),
        usage: usage_from(&v["usage"]),
    })
}

/// A tool call's input for a client: the arguments' object, or `{}` when the provider's
/// arguments are not one (reference §3.6).
fn answer_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// The signature an Anthropic client gets for a thinking block: its own, an OpenAI reasoning
/// blob tagged so it comes back on the next turn, or empty.
fn client_signature(signature: Option<&str>, extras: &Extras) -> String {
    match (
        signature,
        extras.get("encrypted_content").and_then(Value::as_str),
    ) {
        (Some(s), _) => s.to_string(),
        (None, Some(blob)) => format!("{ENCRYPTED_REASONING_TAG}{blob}"),
        (None, None) => String::new(),
    }
}

/// Encodes an answer for an Anthropic client that asked for `model`. `_created` is unused:
/// Anthropic answers carry no time.
///
/// A thinking block without a signature (another vendor's reasoning) goes out with an empty
/// one, the shape the SDKs expect; it is left out again when the client sends it back.
pub fn encode_answer(a: &Answer, model: &str, _created: u64) -> Bytes {
    let content: Vec<Value> = a
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text { text, .. } if !text.is_empty() => {
                Some(json!({"type": "text", "text": text}))
            }
            Block::Thinking {
                text,
                signature,
                extras,
            } => Some(json!({"type": "thinking", "thinking": text,
                "signature": client_signature(signature.as_deref(), extras)})),
            Block::RedactedThinking { data } => {
                Some(json!({"type": "redacted_thinking", "data": data}))
            }
            Block::ToolCall(c) => Some(json!({"type": "tool_use", "id": tool_id(&c.id),
                "name": c.name, "input": answer_input(&c.arguments)})),
            _ => None,
        })
        .collect();
    let (reason, sequence) = stop_reason(&a.stop, a.calls_tools());
    let body = json!({
        "id": message_id(&a.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage_json(&a.usage.unwrap_or_default()),
    });
    Bytes::from(body.to_string())
}

/// The usage of an answer, for metering, without decoding its content.
pub fn answer_usage(body: &[u8]) -> Option<Usage> {
    #[derive(serde::Deserialize)]
    struct Only {
        usage: Value,
    }
    let only: Only = serde_json::from_slice(body).ok()?;
    usage_from(&only.usage)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_call_without_an_id_gets_one_by_position() {
        let body = json!({"type":"message","content":[{"type":"text","text":"x"},
            {"type":"tool_use","name":"f","input":{}}],"stop_reason":"tool_use"});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        assert!(
            matches!(&a.blocks[1], Block::ToolCall(c) if c.id == "toolu_1"),
            "{a:?}"
        );
    }

    fn answer_json(a: &Answer, model: &str) -> Value {
        serde_json::from_slice(&encode_answer(a, model, 1_700_000_000)).unwrap()
    }

    #[test]
    fn t1_a_text_answer_decodes_and_encodes_back() {
        let body = json!({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
            "content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":8,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            a,
            Answer {
                id: "msg_01".into(),
                model: "claude-sonnet-4-5-20250929".into(),
                blocks: vec![Block::text("Hi!")],
                stop: Stop::EndTurn,
                usage: Some(Usage {
                    input_total: 8,
                    output_total: 5,
                    ..Usage::default()
                }),
            }
        );
        let mut expected = body;
        expected["model"] = json!("claude-sonnet-4-5");
        assert_eq!(answer_json(&a, "claude-sonnet-4-5"), expected);
    }

    #[test]
    fn t3_t5_thinking_text_and_a_call_decode_and_encode_back() {
        let body = json!({"id":"msg_02","type":"message","role":"assistant","model":"m",
            "content":[{"type":"thinking","thinking":"Need weather.","signature":"sig=="},
                {"type":"text","text":"Let me check."},
                {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},
                {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}],
            "stop_reason":"tool_use","stop_sequence":null,
            "usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":89}});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        assert_eq!(a.stop, Stop::ToolUse);
        assert_eq!(a.blocks.len(), 3, "the server tool block is left out");
        assert_eq!(
            a.blocks[2],
            Block::ToolCall(ToolCall {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                arguments: "{\"location\":\"Paris\"}".into(),
                extras: Extras::new()
            })
        );
        assert_eq!(a.usage.unwrap().input_total, 2125);
        let mut expected = body;
        expected["content"].as_array_mut().unwrap().remove(2);
        assert_eq!(answer_json(&a, "m"), expected);
    }

    #[test]
    fn another_dialects_answer_gets_anthropic_shapes() {
        let a = Answer {
            id: "chatcmpl-9".into(),
            model: "gpt-x".into(),
            blocks: vec![
                Block::Thinking {
                    text: "hmm".into(),
                    signature: None,
                    extras: Extras::new(),
                },
                Block::ToolCall(ToolCall {
                    id: "functions.get_weather:0".into(),
                    name: "get_weather".into(),
                    arguments: "{\"location\":".into(),
                    extras: Extras::new(),
                }),
            ],
            stop: Stop::EndTurn,
            usage: Some(Usage {
                input_total: 162,
                input_cache_read: 100,
                input_cache_write: 0,
                output_total: 219,
                output_reasoning: 192,
            }),
        };
        assert_eq!(
            answer_json(&a, "claude-x"),
            json!({"id":"msg_chatcmpl-9","type":"message","role":"assistant","model":"claude-x",
                "content":[{"type":"thinking","thinking":"hmm","signature":""},
                    {"type":"tool_use","id":"functions_get_weather_0","name":"get_weather","input":{}}],
                "stop_reason":"tool_use","stop_sequence":null,
                "usage":{"input_tokens":62,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":219}})
        );
        let bare = Answer {
            id: String::new(),
            model: String::new(),
            blocks: vec![],
            stop: Stop::MaxTokens,
            usage: None,
        };
        let out = answer_json(&bare, "c");
        assert_eq!(out["id"], "msg_tollgate");
        assert_eq!(out["stop_reason"], "max_tokens");
        assert_eq!(
            out["usage"],
            json!({"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0})
        );
    }

    #[test]
    fn stop_reasons_map_both_ways() {
        for (wire, seq, stop) in [
            ("end_turn", None, Stop::EndTurn),
            (
                "stop_sequence",
                Some("END"),
                Stop::StopSequence(Some("END".into())),
            ),
            ("max_tokens", None, Stop::MaxTokens),
            ("tool_use", None, Stop::ToolUse),
            ("refusal", None, Stop::ContentFilter),
            ("pause_turn", None, Stop::Paused),
        ] {
            assert_eq!(stop_from(wire, seq), stop);
            assert_eq!(stop_reason(&stop, false), (wire, seq));
        }
        assert_eq!(
            stop_from("model_context_window_exceeded", None),
            Stop::MaxTokens
        );
        assert_eq!(stop_from("something_new", None), Stop::EndTurn);
        assert_eq!(
            stop_reason(&Stop::StopSequence(None), false),
            ("end_turn", None)
        );
        assert_eq!(stop_reason(&Stop::EndTurn, true), ("tool_use", None));
        assert_eq!(stop_reason(&Stop::MaxTokens, true), ("max_tokens", None));
    }

    #[test]
    fn what_is_not_a_message_is_not_decoded() {
        assert_eq!(
            decode_answer(br#"{"type":"error","error":{"type":"api_error","message":"x"}}"#),
            None
        );
        assert_eq!(decode_answer(b"not json"), None);
        assert_eq!(decode_answer(br#"{"type":"message","content":5}"#), None);
        assert_eq!(
            answer_usage(br#"{"id":"m","usage":{"input_tokens":3,"output_tokens":4}}"#)
                .map(|u| (u.input_total, u.output_total)),
            Some((3, 4))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let seed = br#"{"id":"m","type":"message","content":[{"type":"tool_use","id":"t","name":"n","input":{"a":[1,2]}},{"type":"text","text":"x"}],"stop_reason":"stop_sequence","usage":{"input_tokens":1}}"#;
        for cut in 0..seed.len() {
            let _ = decode_answer(&seed[..cut]);
            let mut flipped = seed.to_vec();
            flipped[cut] ^= 0x21;
            let _ = decode_answer(&flipped);
        }
    }
}
