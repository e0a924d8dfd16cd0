//! Internal events into the stream an Anthropic client reads (reference: dialects.md §2.C,
//! §3.6, §5.1, §6.2).
//!
//! Claude Code is strict about the grammar: exactly one `message_start` carrying the full usage
//! object, every delta inside a `content_block_start`/`content_block_stop` pair with that
//! block's own index, thinking blocks signed before they stop, then `message_delta` (stop
//! reason and usage) and `message_stop`, or an `error` event in their place.

use super::answer::{message_id, stop_reason};
use super::blocks::tool_id;
use super::error::put_error_event;
use super::usage::{start_usage_json, usage_json};
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{BlockKind, Delta, Event, Stop};
use crate::dialect::stream::StreamEncoder;
use crate::dialect::usage::Usage;
use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

/// A keep-alive the gateway may send while the provider is silent (long reasoning): valid
/// anywhere in an Anthropic stream.
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Redacted,
    Tool,
}

#[derive(Debug)]
struct Open {
    /// The index the events give the block.
    ir: usize,
    /// The index the client sees.
    wire: usize,
    kind: Kind,
    signed: bool,
}

/// Writes an Anthropic Messages stream.
///
/// `message_start` waits for the first event after `Start` so that a usage snapshot arriving
/// with it (an Anthropic provider's input and cache counts) is in it; `message_delta` waits
/// for [`StreamEncoder::finish`] so that it carries the last usage, whatever order the
/// provider's stop and usage came in.
#[derive(Debug)]
pub struct Encoder {
    model: String,
    id: String,
    started: bool,
    open: Option<Open>,
    next_index: usize,
    called_tools: bool,
    usage: Usage,
    stop: Option<Stop>,
    ended: bool,
}

fn frame(out: &mut BytesMut, name: &str, data: &Value) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(data.to_string().as_bytes());
    out.put_slice(b"\n\n");
}

impl Encoder {
    /// An encoder for a client that asked for `model`: the name every event reports.
    pub fn new(model: &str) -> Self {
        Encoder {
            model: model.to_string(),
            id: String::new(),
            started: false,
            open: None,
            next_index: 0,
            called_tools: false,
            usage: Usage::default(),
            stop: None,
            ended: false,
        }
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let start = json!({"type": "message_start", "message": {
            "id": message_id(&self.id),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": start_usage_json(&self.usage),
        }});
        frame(out, "message_start", &start);
    }

    fn close(&mut self, out: &mut BytesMut) {
        let Some(open) = self.open.take() else {
            return;
        };
        if open.kind == Kind::Thinking && !open.signed {
            // Another vendor's reasoning has no signature; the SDKs still expect one.
            self.block_delta(
                out,
                open.wire,
                json!({"type": "signature_delta", "signature": ""}),
            );
        }
        frame(
            out,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": open.wire}),
        );
    }

    fn block_delta(&self, out: &mut BytesMut, wire: usize, delta: Value) {
        frame(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": wire, "delta": delta}),
        );
    }

    fn block_start(&mut self, ir: usize, block: &BlockKind, out: &mut BytesMut) {
        self.ensure_started(out);
        self.close(out);
        let (kind, content) = match block {
            BlockKind::Text => (Kind::Text, json!({"type": "text", "text": ""})),
            BlockKind::Thinking => (
                Kind::Thinking,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ),
            BlockKind::RedactedThinking { data } => (
                Kind::Redacted,
                json!({"type": "redacted_thinking", "data": data}),
            ),
            BlockKind::ToolCall { id, name, .. } => {
                self.called_tools = true;
                (
                    Kind::Tool,
                    json!({"type": "tool_use", "id": tool_id(id), "name": name, "input": {}}),
                )
            }
        };
        let wire = self.next_index;
        self.next_index += 1;
        frame(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": wire, "content_block": content}),
        );
        self.open = Some(Open {
            ir,
            wire,
            kind,
            signed: false,
        });
    }

    fn delta(&mut self, ir: usize, delta: &Delta, out: &mut BytesMut) {
        let Some(open) = self.open.as_mut().filter(|o| o.ir == ir) else {
            // A delta outside its block would make Claude Code report "Content block not
            // found"; the events' invariants rule it out, so it is dropped, not guessed at.
            return;
        };
        let body = match (delta, open.kind) {
            (Delta::Text(t), Kind::Text) if !t.is_empty() => {
                json!({"type": "text_delta", "text": t})
            }
            (Delta::Thinking(t), Kind::Thinking) if !t.is_empty() => {
                json!({"type": "thinking_delta", "thinking": t})
            }
            (Delta::Signature(s), Kind::Thinking) if !s.is_empty() => {
                open.signed = true;
                json!({"type": "signature_delta", "signature": s})
            }
            (Delta::ToolArguments(a), Kind::Tool) if !a.is_empty() => {
                json!({"type": "input_json_delta", "partial_json": a})
            }
            _ => return,
        };
        let wire = open.wire;
        self.block_delta(out, wire, body);
    }
}

impl StreamEncoder for Encoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            Event::Start { id, .. } => {
                if !self.started && self.id.is_empty() {
                    self.id = id.clone();
                }
            }
            Event::Usage(u) => self.usage = *u,
            Event::BlockStart { index, block } => self.block_start(*index, block, out),
            Event::Delta { index, delta } => {
                self.ensure_started(out);
                self.delta(*index, delta, out);
            }
            Event::BlockStop { index } => {
                self.ensure_started(out);
                if self.open.as_ref().is_some_and(|o| o.ir == *index) {
                    self.close(out);
                }
            }
            Event::Stop(stop) => {
                self.ensure_started(out);
                self.close(out);
                self.stop = Some(stop.clone());
            }
            Event::Error { kind, message } => self.fail(*kind, message, out),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.ensure_started(out);
        self.close(out);
        self.ended = true;
        let stop = self.stop.take().unwrap_or(Stop::EndTurn);
        let (reason, sequence) = stop_reason(&stop, self.called_tools);
        let delta = json!({"type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": usage_json(&self.usage)});
        frame(out, "message_delta", &delta);
        frame(out, "message_stop", &json!({"type": "message_stop"}));
    }

    /// The error event alone: Anthropic's own streams end that way, without closing the open
    /// block, and the SDKs raise on it wherever it comes.
    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.ended = true;
        put_error_event(kind, message, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::anthropic::Decoder;
    use crate::dialect::ir::Extras;
    use crate::dialect::stream::{Ended, StreamDecoder};
    use bytes::Bytes;

    fn encode(model: &str, events: &[Event]) -> String {
        let mut e = Encoder::new(model);
        let mut out = BytesMut::new();
        for ev in events {
            e.push(ev, &mut out);
        }
        e.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn a_text_answer_has_the_exact_grammar() {
        let events = [
            Event::Start {
                id: "msg_1".into(),
                model: "up-model".into(),
            },
            Event::Usage(Usage {
                input_total: 125,
                input_cache_read: 100,
                input_cache_write: 0,
                output_total: 1,
                output_reasoning: 0,
            }),
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("Hi".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("!".into()),
            },
            Event::BlockStop { index: 0 },
            Event::Usage(Usage {
                input_total: 125,
                input_cache_read: 100,
                input_cache_write: 0,
                output_total: 5,
                output_reasoning: 0,
            }),
            Event::Stop(Stop::EndTurn),
        ];
        assert_eq!(
            encode("claude-sonnet-4-5", &events),
            r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":5}}

event: message_stop
data: {"type":"message_stop"}

"#
        );
    }

    /// An OpenAI-style provider: reasoning without a signature, a call whose id Anthropic
    /// would refuse, `stop` for a turn that called a tool, and usage only after the stop.
    #[test]
    fn a_tool_call_has_the_exact_grammar() {
        let events = [
            Event::Start {
                id: "chatcmpl-7".into(),
                model: "gpt-x".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Thinking,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Thinking("Weather tool.".into()),
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::ToolCall {
                    id: "functions.get_weather:0".into(),
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
            Event::Stop(Stop::EndTurn),
            Event::Usage(Usage {
                input_total: 162,
                input_cache_read: 0,
                input_cache_write: 0,
                output_total: 219,
                output_reasoning: 192,
            }),
        ];
        assert_eq!(
            encode("claude-x", &events),
            r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_chatcmpl-7","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":0,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Weather tool."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":""}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"functions_get_weather_0","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":162,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":219}}

event: message_stop
data: {"type":"message_stop"}

"#
        );
    }

    #[test]
    fn a_failure_is_one_error_event_and_the_end() {
        let mut e = Encoder::new("c");
        let mut out = BytesMut::new();
        e.push(
            &Event::Start {
                id: "msg_9".into(),
                model: "m".into(),
            },
            &mut out,
        );
        e.push(
            &Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            &mut out,
        );
        let before = out.len();
        e.push(
            &Event::Error {
                kind: ErrorKind::Overloaded,
                message: "Overloaded".into(),
            },
            &mut out,
        );
        assert_eq!(
            &out[before..],
            &b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"[..]
        );
        let len = out.len();
        e.finish(&mut out);
        e.fail(ErrorKind::BadUpstream, "again", &mut out);
        assert_eq!(out.len(), len, "nothing after the end");
    }

    #[test]
    fn stray_events_never_break_the_grammar() {
        let events = [
            // No Start: message_start is still first, and exactly once.
            Event::Delta {
                index: 3,
                delta: Delta::Text("orphan".into()),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 0,
                delta: Delta::ToolArguments("{}".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text(String::new()),
            },
            // No BlockStop before the next block.
            Event::BlockStart {
                index: 1,
                block: BlockKind::RedactedThinking { data: "enc".into() },
            },
            Event::Start {
                id: "late".into(),
                model: "m".into(),
            },
            Event::Stop(Stop::StopSequence(Some("END".into()))),
        ];
        let out = encode("c", &events);
        let names: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_stop",
                "content_block_start",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(out.contains(r#""id":"msg_tollgate""#));
        assert!(out.contains(r#""stop_reason":"stop_sequence","stop_sequence":"END""#));
        assert!(out.contains(r#"{"type":"redacted_thinking","data":"enc"}"#));
    }

    /// An Anthropic provider's stream, decoded and encoded again, reads back the same.
    #[test]
    fn decoding_the_encoded_stream_gives_the_same_events() {
        let transcript = crate::dialect::anthropic::decoder::tests::TRANSCRIPT;
        let (events, _) =
            crate::dialect::anthropic::decoder::tests::decode_cut(transcript.as_bytes(), &[]);
        let mut e = Encoder::new("claude-x");
        let mut out = BytesMut::new();
        for ev in &events {
            e.push(ev, &mut out);
        }
        e.finish(&mut out);
        let mut d = Decoder::default();
        let mut again = Vec::new();
        d.push(Bytes::from(out.to_vec()), &mut again).unwrap();
        assert_eq!(d.finish(&mut again), Ended::Complete);
        // The first Usage now rides in message_start, so it comes back once, with the start.
        assert_eq!(again, events);
    }
}
