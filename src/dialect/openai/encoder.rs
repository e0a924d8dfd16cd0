//! Internal events written as a Chat Completions client's stream (reference: dialects.md §2.A,
//! §3.7 "stream translation").

use super::answer::{finish_reason, usage_json};
use crate::dialect::errors::{openai_body, ErrorKind};
use crate::dialect::ir::{BlockKind, Delta, Event};
use crate::dialect::stream::StreamEncoder;
use crate::dialect::usage::Usage;
use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

/// Writes chunks as OpenAI does: the same id, created and model on every chunk, a role chunk
/// first, tool calls numbered among tool calls only, `usage` only when the client asked for it
/// (`null` on every chunk, then one usage chunk), and `data: [DONE]` last.
pub struct Encoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// The Chat tool index of each tool block, by block index.
    tool_index: Vec<(usize, usize)>,
    usage: Option<Usage>,
    started: bool,
    /// The stream has been ended (by `finish` or `fail`): nothing more is written.
    ended: bool,
}

impl Encoder {
    /// `model` is the name the client asked for; `include_usage` its
    /// `stream_options.include_usage`.
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        Encoder {
            id: String::new(),
            model: model.to_string(),
            created,
            include_usage,
            tool_index: Vec::new(),
            usage: None,
            started: false,
            ended: false,
        }
    }

    fn write(&self, choices: Value, usage: Option<Value>, out: &mut BytesMut) {
        let mut c = json!({"id": self.id, "object": "chat.completion.chunk",
            "created": self.created, "model": self.model, "choices": choices});
        if self.include_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        out.put_slice(b"data: ");
        out.put_slice(c.to_string().as_bytes());
        out.put_slice(b"\n\n");
    }

    fn delta(&self, delta: Value, finish: Option<&str>, out: &mut BytesMut) {
        let choice = json!([{"index": 0, "delta": delta, "logprobs": null,
            "finish_reason": finish}]);
        self.write(choice, None, out);
    }

    fn start(&mut self, id: &str, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = if id.starts_with("chatcmpl-") {
            id.to_string()
        } else if id.is_empty() {
            format!("chatcmpl-{}", self.created)
        } else {
            format!("chatcmpl-{id}")
        };
        self.delta(
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
            out,
        );
    }

    fn tool(&self, block: usize) -> Option<usize> {
        self.tool_index
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, t)| *t)
    }
}

impl StreamEncoder for Encoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        if !self.started {
            let id = match event {
                Event::Start { id, .. } => id.clone(),
                _ => String::new(),
            };
            self.start(&id, out);
        }
        match event {
            Event::Start { .. } | Event::BlockStop { .. } => {}
            Event::BlockStart {
                index,
                block: BlockKind::ToolCall { id, name, .. },
            } => {
                let tool = self.tool_index.len();
                self.tool_index.push((*index, tool));
                self.delta(
                    json!({"tool_calls": [{"index": tool, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                    out,
                );
            }
            Event::BlockStart { .. } => {}
            Event::Delta { index, delta } => match delta {
                Delta::Text(t) if !t.is_empty() => self.delta(json!({"content": t}), None, out),
                // Not OpenAI's own field, but the one compatible servers and clients use.
                Delta::Thinking(t) if !t.is_empty() => {
                    self.delta(json!({"reasoning_content": t}), None, out)
                }
                Delta::ToolArguments(a) if !a.is_empty() => {
                    if let Some(tool) = self.tool(*index) {
                        self.delta(
                            json!({"tool_calls": [{"index": tool, "function": {"arguments": a}}]}),
                            None,
                            out,
                        );
                    }
                }
                _ => {}
            },
            Event::Usage(u) => self.usage = Some(*u),
            Event::Stop(stop) => {
                let reason = finish_reason(stop, !self.tool_index.is_empty());
                self.delta(json!({}), Some(reason), out);
            }
            Event::Error { kind, message } => self.fail(*kind, message, out),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if self.include_usage {
            if let Some(u) = self.usage {
                self.write(json!([]), Some(usage_json(&u)), out);
            }
        }
        out.put_slice(b"data: [DONE]\n\n");
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        // The openai SDK raises on a chunk with an `error` key.
        out.put_slice(b"data: ");
        out.put_slice(openai_body(kind, message).to_string().as_bytes());
        out.put_slice(b"\n\ndata: [DONE]\n\n");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, Stop};

    fn encode(events: &[Event], include_usage: bool) -> String {
        let mut e = Encoder::new("client-model", 7, include_usage);
        let mut out = BytesMut::new();
        for ev in events {
            e.push(ev, &mut out);
        }
        e.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    fn tool_turn() -> Vec<Event> {
        vec![
            Event::Start {
                id: "msg_1".into(),
                model: "claude".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("Checking.".into()),
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::ToolCall {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    extras: Extras::new(),
                },
            },
            Event::Delta {
                index: 1,
                delta: Delta::ToolArguments("{\"location\":".into()),
            },
            Event::Delta {
                index: 1,
                delta: Delta::ToolArguments("\"Paris\"}".into()),
            },
            Event::BlockStop { index: 1 },
            Event::Usage(Usage {
                input_total: 20,
                input_cache_read: 5,
                output_total: 9,
                ..Usage::default()
            }),
            Event::Stop(Stop::EndTurn),
        ]
    }

    #[test]
    fn a_tool_turn_streams_as_openai_does() {
        let env = r#""id":"chatcmpl-msg_1","object":"chat.completion.chunk","created":7,"model":"client-model""#;
        let expected = [
            format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"role":"assistant","content":"","refusal":null}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#),
            format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"content":"Checking."}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#),
            format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"id":"toolu_1","type":"function","function":{{"name":"get_weather","arguments":""}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#),
            format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":"{{\"location\":"}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#),
            format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":"\"Paris\"}}"}}}}]}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#),
            // A turn that called a tool says so, whatever the provider's stop reason.
            format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"tool_calls"}}],"usage":null}}"#),
            format!(r#"data: {{{env},"choices":[],"usage":{{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29,"prompt_tokens_details":{{"cached_tokens":5}},"completion_tokens_details":{{"reasoning_tokens":0}}}}}}"#),
            "data: [DONE]".to_string(),
        ]
        .map(|l| format!("{l}\n\n"))
        .concat();
        assert_eq!(encode(&tool_turn(), true), expected);
    }

    #[test]
    fn without_include_usage_there_is_no_usage_at_all() {
        let out = encode(&tool_turn(), false);
        assert!(!out.contains("usage"), "{out}");
        assert!(out.ends_with("\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n"));
    }

    #[test]
    fn a_failure_ends_the_stream_with_an_error_chunk_and_done() {
        let mut e = Encoder::new("m", 1, false);
        let mut out = BytesMut::new();
        e.push(
            &Event::Error {
                kind: ErrorKind::BadUpstream,
                message: "upstream broke".into(),
            },
            &mut out,
        );
        e.finish(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(text.matches("[DONE]").count(), 1, "{text}");
        assert!(text.ends_with("data: {\"error\":{\"message\":\"upstream broke\",\"type\":\"server_error\",\"param\":null,\"code\":\"bad_upstream_response\"}}\n\ndata: [DONE]\n\n"), "{text}");
        // The role chunk still came first, so the client has a well-formed stream.
        assert!(text.starts_with("data: {\"id\":\"chatcmpl-1\""), "{text}");
    }
}
