//! Whole Responses answers to and from the internal representation (reference: dialects.md
//! §1.B, §3.2, §3.3, §3.9 "Non-stream response").

use super::items::{content_blocks, tool_call};
use super::reasoning;
use super::tools::ClientTools;
use crate::dialect::ir::{Answer, Block, Stop};
use crate::dialect::usage::Usage;
use bytes::Bytes;
use serde_json::{json, Value};

/// A `usage` object as usage; `None` for `null` or anything that is not one.
pub(crate) fn usage_from(v: &Value) -> Option<Usage> {
    let input = v.get("input_tokens")?.as_u64()?;
    let output = v["output_tokens"].as_u64().unwrap_or(0);
    Some(Usage {
        input_total: input,
        input_cache_read: v["input_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        input_cache_write: v["input_tokens_details"]["cache_write_tokens"]
            .as_u64()
            .unwrap_or(0),
        output_total: output,
        output_reasoning: v["output_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap_or(0),
    })
}

/// Responses' usage object for `u` (Codex reads every one of these fields).
pub(crate) fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_total,
        "input_tokens_details": {"cached_tokens": u.input_cache_read},
        "output_tokens": u.output_total,
        "output_tokens_details": {"reasoning_tokens": u.output_reasoning},
        "total_tokens": u.input_total + u.output_total
    })
}

/// The stop reason a Response's `status` and `incomplete_details` say; a completed turn with
/// calls in it stopped for them (Responses has no finish reason, §1.B).
pub(crate) fn stop_from(response: &Value, calls_tools: bool) -> Stop {
    match response["status"].as_str() {
        Some("incomplete") => match response["incomplete_details"]["reason"].as_str() {
            Some("content_filter") => Stop::ContentFilter,
            _ => Stop::MaxTokens,
        },
        _ if calls_tools => Stop::ToolUse,
        _ => Stop::EndTurn,
    }
}

/// The `status` and `incomplete_details.reason` for a stop reason. Anthropic's `pause_turn`
/// only follows server tools, which never reach a Responses client here: it completes.
pub(crate) fn status_for(stop: &Stop) -> (&'static str, Option<&'static str>) {
    match stop {
        Stop::MaxTokens => ("incomplete", Some("max_output_tokens")),
        Stop::ContentFilter => ("incomplete", Some("content_filter")),
        Stop::EndTurn | Stop::StopSequence(_) | Stop::ToolUse | Stop::Paused => ("completed", None),
    }
}

/// The blocks of one output item; items only OpenAI's servers act on give none.
pub(crate) fn item_blocks(item: &Value) -> Vec<Block> {
    match item["type"].as_str() {
        Some("message") => content_blocks(&item["content"]).unwrap_or_default(),
        Some(ty @ ("function_call" | "custom_tool_call")) => {
            // A call without `call_id` falls back to its item id rather than being lost.
            let mut item = item.clone();
            if item["call_id"].as_str().is_none_or(str::is_empty) {
                item["call_id"] = item["id"].clone();
            }
            tool_call(&item, ty == "custom_tool_call")
                .map(|c| vec![Block::ToolCall(c)])
                .unwrap_or_default()
        }
        Some("reasoning") => reasoning::decode_reasoning(item).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Decodes a provider's answer; `None` when it is not a finished Response (a failed one is an
/// error: its message is read by `error_message`).
pub fn decode_answer(body: &[u8]) -> Option<Answer> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let output = v["output"].as_array()?;
    if matches!(
        v["status"].as_str(),
        Some("failed" | "cancelled" | "queued" | "in_progress")
    ) {
        return None;
    }
    let blocks: Vec<Block> = output.iter().flat_map(item_blocks).collect();
    let calls = blocks.iter().any(|b| matches!(b, Block::ToolCall(_)));
    Some(Answer {
        id: v["id"].as_str().unwrap_or("").to_string(),
        model: v["model"].as_str().unwrap_or("").to_string(),
        stop: stop_from(&v, calls),
        usage: usage_from(&v["usage"]),
        blocks,
    })
}

/// The id a Responses client is shown for a provider's answer id.
pub(crate) fn response_id(id: &str, created: u64) -> String {
    if id.starts_with("resp_") {
        id.to_string()
    } else if id.is_empty() {
        format!("resp_{created}")
    } else {
        format!("resp_{id}")
    }
}

/// What every Response object of one answer shares, and the ids of its items.
pub(crate) struct Envelope<'a> {
    pub id: &'a str,
    pub created: u64,
    pub model: &'a str,
}

impl Envelope<'_> {
    /// The id of the item at `output_index`: `msg_…` or `rs_…`, unique within the answer.
    pub fn item_id(&self, prefix: &str, output_index: usize) -> String {
        let base = self.id.strip_prefix("resp_").unwrap_or(self.id);
        format!("{prefix}_{base}_{output_index}")
    }

    /// The Response object. Request settings are not known here, so they carry OpenAI's
    /// defaults; clients read the output, the status and the usage.
    pub fn object(
        &self,
        status: &str,
        output: Vec<Value>,
        usage: Option<&Usage>,
        incomplete: Option<&str>,
        error: Option<Value>,
    ) -> Value {
        json!({
            "id": self.id, "object": "response", "created_at": self.created, "status": status,
            "error": error,
            "incomplete_details": incomplete.map(|r| json!({"reason": r})),
            "instructions": null, "max_output_tokens": null, "model": self.model,
            "output": output, "parallel_tool_calls": true, "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null}, "store": false,
            "temperature": null, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
            "tools": [], "top_p": null, "truncation": "disabled",
            "usage": usage.map(usage_json), "user": null, "metadata": {}
        })
    }
}

/// A finished assistant message item.
pub(crate) fn message_item(id: &str, text: &str) -> Value {
    json!({"id": id, "type": "message", "status": "completed", "role": "assistant",
        "content": [output_text(text)]})
}

/// An `output_text` part.
pub(crate) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "text": text})
}

/// A call item, as the client declared the tool: `function_call` or `custom_tool_call`, with
/// its namespace. `payload` is the arguments (or, for a custom tool, the free-text input).
pub(crate) fn call_item(
    call_id: &str,
    shape: &super::tools::CallShape,
    payload: &str,
    status: &str,
) -> Value {
    let mut item = if shape.custom {
        json!({"id": format!("ctc_{call_id}"), "type": "custom_tool_call", "status": status,
            "call_id": call_id, "name": shape.name, "input": payload})
    } else {
        json!({"id": format!("fc_{call_id}"), "type": "function_call", "status": status,
            "arguments": payload, "call_id": call_id, "name": shape.name})
    };
    if let Some(ns) = &shape.namespace {
        item["namespace"] = json!(ns);
    }
    item
}

/// Encodes an answer for a Responses client that asked for `model`; `created` stamps it.
pub fn encode_answer(a: &Answer, model: &str, created: u64) -> Bytes {
    encode_answer_for(a, model, created, &ClientTools::default())
}

/// [`encode_answer`], with the client's tools, so that calls of its custom and namespaced
/// tools go back in the shape it declared them (a provider of another dialect cannot say).
pub fn encode_answer_for(a: &Answer, model: &str, created: u64, tools: &ClientTools) -> Bytes {
    let id = response_id(&a.id, created);
    let env = Envelope {
        id: &id,
        created,
        model,
    };
    let mut output: Vec<Value> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, output: &mut Vec<Value>| {
        if !text.is_empty() {
            let item_id = env.item_id("msg", output.len());
            output.push(message_item(&item_id, &std::mem::take(text)));
        }
    };
    for b in &a.blocks {
        match b {
            Block::Text { text: t, .. } => text.push_str(t),
            Block::Thinking {
                text: t,
                signature,
                extras,
            } => {
                flush(&mut text, &mut output);
                let item_id = env.item_id("rs", output.len());
                output.push(reasoning::output_item(
                    &item_id,
                    t,
                    signature.as_deref(),
                    extras,
                ));
            }
            Block::RedactedThinking { data } => {
                flush(&mut text, &mut output);
                let item_id = env.item_id("rs", output.len());
                output.push(reasoning::redacted_item(&item_id, data));
            }
            Block::ToolCall(c) => {
                flush(&mut text, &mut output);
                let shape = tools.shape(&c.name, &c.extras);
                let payload = if shape.custom {
                    super::tools::custom_input(&c.arguments)
                } else {
                    c.arguments.clone()
                };
                output.push(call_item(&c.id, &shape, &payload, "completed"));
            }
            _ => {}
        }
    }
    flush(&mut text, &mut output);
    let (status, incomplete) = status_for(&a.stop);
    let body = env.object(status, output, a.usage.as_ref(), incomplete, None);
    Bytes::from(body.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, ToolCall};

    fn envelope_json(status: &str, output: Value, usage: Value, incomplete: Value) -> Value {
        json!({"id":"resp_1","object":"response","created_at":1_700_000_000u64,"status":status,
            "error":null,"incomplete_details":incomplete,"instructions":null,"max_output_tokens":null,
            "model":"client-model","output":output,"parallel_tool_calls":true,
            "previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,
            "temperature":null,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],
            "top_p":null,"truncation":"disabled","usage":usage,"user":null,"metadata":{}})
    }

    #[test]
    fn t1_a_text_answer_decodes_and_encodes_back() {
        let body = json!({"id":"resp_1","object":"response","created_at":1,"status":"completed",
            "model":"gpt-4o-mini-2024","output":[{"id":"msg_x","type":"message","status":"completed","role":"assistant",
                "content":[{"type":"output_text","annotations":[],"text":"Hi there!"}]}],
            "usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":5},"output_tokens":11,
                "output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}});
        let a = decode_answer(body.to_string().as_bytes()).unwrap();
        assert_eq!(a.blocks, vec![Block::text("Hi there!")]);
        assert_eq!(a.stop, Stop::EndTurn);
        let usage = Usage {
            input_total: 37,
            input_cache_read: 5,
            input_cache_write: 0,
            output_total: 11,
            output_reasoning: 0,
        };
        assert_eq!(a.usage, Some(usage));
        let out: Value =
            serde_json::from_slice(&encode_answer(&a, "client-model", 1_700_000_000)).unwrap();
        assert_eq!(
            out,
            envelope_json(
                "completed",
                json!([{"id":"msg_1_0","type":"message","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","annotations":[],"text":"Hi there!"}]}]),
                json!({"input_tokens":37,"input_tokens_details":{"cached_tokens":5},"output_tokens":11,
                    "output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}),
                Value::Null
            )
        );
    }

    #[test]
    fn t5_text_then_calls_keep_their_order_and_ids() {
        let a = Answer {
            id: "msg_1".into(),
            model: "claude".into(),
            blocks: vec![
                Block::Thinking {
                    text: "Weather needs a tool.".into(),
                    signature: Some("sig".into()),
                    extras: Extras::new(),
                },
                Block::text("Let me check."),
                Block::ToolCall(ToolCall {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    arguments: "{\"location\":\"Paris\"}".into(),
                    extras: Extras::new(),
                }),
                Block::ToolCall(ToolCall {
                    id: "toolu_2".into(),
                    name: "apply_patch".into(),
                    arguments: "{\"input\":\"*** Begin Patch\"}".into(),
                    extras: Extras::new(),
                }),
            ],
            stop: Stop::ToolUse,
            usage: None,
        };
        let req = crate::dialect::ir::Request {
            tools: super::super::tools::decode_tools(
                &json!([{"type":"custom","name":"apply_patch"}]),
            )
            .unwrap(),
            ..Default::default()
        };
        let tools = ClientTools::from_request(&req);
        let out: Value = serde_json::from_slice(&encode_answer_for(
            &a,
            "client-model",
            1_700_000_000,
            &tools,
        ))
        .unwrap();
        let mut want = envelope_json(
            "completed",
            json!([
                {"id":"rs_msg_1_0","type":"reasoning",
                    "summary":[{"type":"summary_text","text":"Weather needs a tool."}],
                    "encrypted_content":"tollgate.signature:sig"},
                {"id":"msg_msg_1_1","type":"message","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","annotations":[],"text":"Let me check."}]},
                {"id":"fc_toolu_1","type":"function_call","status":"completed",
                    "arguments":"{\"location\":\"Paris\"}","call_id":"toolu_1","name":"get_weather"},
                {"id":"ctc_toolu_2","type":"custom_tool_call","status":"completed",
                    "call_id":"toolu_2","name":"apply_patch","input":"*** Begin Patch"}
            ]),
            Value::Null,
            Value::Null,
        );
        want["id"] = json!("resp_msg_1");
        assert_eq!(out, want);
        // And back: the calls, the signature and the order survive.
        let back = decode_answer(out.to_string().as_bytes()).unwrap();
        assert_eq!(back.stop, Stop::ToolUse);
        assert_eq!(back.blocks[0], a.blocks[0]);
        assert_eq!(back.blocks[1], a.blocks[1]);
        assert_eq!(back.blocks[2], a.blocks[2]);
        assert!(matches!(&back.blocks[3], Block::ToolCall(c)
            if c.arguments == "{\"input\":\"*** Begin Patch\"}" && c.extras.get("type") == Some(&json!("custom"))));
    }

    #[test]
    fn stop_reasons_map_both_ways() {
        let incomplete = |reason: &str| json!({"status":"incomplete","incomplete_details":{"reason":reason},"output":[]});
        assert_eq!(
            stop_from(&incomplete("max_output_tokens"), false),
            Stop::MaxTokens
        );
        assert_eq!(
            stop_from(&incomplete("content_filter"), false),
            Stop::ContentFilter
        );
        assert_eq!(
            stop_from(&json!({"status":"completed"}), true),
            Stop::ToolUse
        );
        assert_eq!(
            stop_from(&json!({"status":"completed"}), false),
            Stop::EndTurn
        );
        assert_eq!(
            status_for(&Stop::MaxTokens),
            ("incomplete", Some("max_output_tokens"))
        );
        assert_eq!(
            status_for(&Stop::ContentFilter),
            ("incomplete", Some("content_filter"))
        );
        assert_eq!(status_for(&Stop::StopSequence(None)), ("completed", None));
        assert_eq!(status_for(&Stop::Paused), ("completed", None));

        let a = Answer {
            id: String::new(),
            model: "m".into(),
            blocks: vec![Block::text("Hel")],
            stop: Stop::MaxTokens,
            usage: None,
        };
        let out: Value = serde_json::from_slice(&encode_answer(&a, "m", 5)).unwrap();
        assert_eq!(out["id"], "resp_5");
        assert_eq!(out["status"], "incomplete");
        assert_eq!(
            out["incomplete_details"],
            json!({"reason":"max_output_tokens"})
        );
        assert_eq!(out["usage"], Value::Null);
    }

    #[test]
    fn usage_with_cache_writes_and_reasoning() {
        let u = usage_from(&json!({"input_tokens":100,
            "input_tokens_details":{"cached_tokens":40,"cache_write_tokens":10},
            "output_tokens":50,"output_tokens_details":{"reasoning_tokens":30},"total_tokens":150}))
        .unwrap();
        assert_eq!(
            u,
            Usage {
                input_total: 100,
                input_cache_read: 40,
                input_cache_write: 10,
                output_total: 50,
                output_reasoning: 30
            }
        );
        assert_eq!(usage_json(&u)["total_tokens"], 150);
        assert_eq!(usage_from(&Value::Null), None);
    }

    #[test]
    fn failed_and_foreign_bodies_are_not_answers() {
        assert_eq!(
            decode_answer(br#"{"id":"resp_1","status":"failed","output":[],"error":{"code":"server_error","message":"x"}}"#),
            None
        );
        assert_eq!(decode_answer(br#"{"choices":[]}"#), None);
        assert_eq!(decode_answer(b"not json"), None);
        // Built-in items are left out; a call without call_id keeps its item id.
        let a = decode_answer(
            br#"{"id":"r","status":"completed","output":[{"type":"web_search_call","id":"ws_1"},
                {"type":"function_call","id":"fc_9","name":"f","arguments":"{}"}]}"#,
        )
        .unwrap();
        assert!(matches!(&a.blocks[..], [Block::ToolCall(c)] if c.id == "fc_9"));
        assert_eq!(a.stop, Stop::ToolUse);
    }
}
