//! Internal events as the stream a Gemini client asked for (reference: dialects.md §2.D, §3.8,
//! §5.6, §6.2).
//!
//! Every chunk is a whole `GenerateContentResponse`. Text and thoughts go out as they come;
//! tool calls are held until complete, since Gemini clients expect a `functionCall` with its
//! whole `args` object, and go out with the last chunk, which always carries `finishReason` and
//! `usageMetadata`. Nothing follows it but the end of the body (or `]`).

use super::answer::{call_args, client_call_part, finish_reason};
use super::usage::metadata;
use crate::dialect::errors::{render, ErrorKind};
use crate::dialect::ir::{BlockKind, Delta, Event, ToolCall};
use crate::dialect::stream::StreamEncoder;
use crate::dialect::usage::Usage;
use crate::dialect::Dialect;
use bytes::{BufMut, BytesMut};
use serde_json::{json, Map, Value};

/// The arguments held for one call at most: past this the call is dropped as malformed rather
/// than letting a provider grow the gateway's memory without bound.
const MAX_CALL_ARGUMENTS: usize = 16 << 20;

/// How the client asked for its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `:streamGenerateContent?alt=sse`: `data: <chunk>` events with CRLF line endings.
    Sse,
    /// `:streamGenerateContent` without `alt=sse`: one JSON array, written element by element.
    JsonArray,
}

/// Writes a Gemini client's stream.
pub struct Encoder {
    model: String,
    framing: Framing,
    response_id: String,
    /// The client asked for thought parts (`includeThoughts`).
    thoughts: bool,
    usage: Option<Usage>,
    /// The call being streamed; its arguments grow until its block stops.
    call: Option<ToolCall>,
    /// Finished calls, as `functionCall` parts, not yet written.
    held: Vec<Value>,
    malformed: bool,
    chunks: usize,
    /// The chunk with `finishReason` has been written: the answer is whole.
    stopped: bool,
    /// Nothing more may be written but the array's end.
    ended: bool,
    /// The JSON array has been closed.
    closed: bool,
}

impl Encoder {
    /// An encoder for a client that asked for `model`.
    pub fn new(model: &str, framing: Framing) -> Self {
        Encoder {
            model: model.to_string(),
            framing,
            response_id: String::new(),
            thoughts: true,
            usage: None,
            call: None,
            held: Vec::new(),
            malformed: false,
            chunks: 0,
            stopped: false,
            ended: false,
            closed: false,
        }
    }

    /// Leaves the model's thoughts out, for a client that did not ask for them.
    pub fn without_thoughts(mut self) -> Self {
        self.thoughts = false;
        self
    }

    fn write(&mut self, json: &[u8], out: &mut BytesMut) {
        match self.framing {
            Framing::Sse => {
                out.put_slice(b"data: ");
                out.put_slice(json);
                out.put_slice(b"\r\n\r\n");
            }
            Framing::JsonArray => {
                out.put_slice(if self.chunks == 0 { b"[" } else { b",\r\n" });
                out.put_slice(json);
            }
        }
        self.chunks += 1;
    }

    /// Writes one `GenerateContentResponse` with `parts`, and `finishReason` when given.
    fn chunk(&mut self, parts: Vec<Value>, finish: Option<&str>, out: &mut BytesMut) {
        let mut candidate = Map::new();
        candidate.insert("content".into(), json!({"role": "model", "parts": parts}));
        if let Some(reason) = finish {
            candidate.insert("finishReason".into(), json!(reason));
        }
        candidate.insert("index".into(), json!(0));
        let mut body = Map::new();
        body.insert("candidates".into(), json!([candidate]));
        // The last chunk always carries usage, zeros when the provider gave none.
        let usage = match (self.usage, finish) {
            (Some(u), _) => Some(u),
            (None, Some(_)) => Some(Usage::default()),
            (None, None) => None,
        };
        if let Some(u) = usage {
            body.insert("usageMetadata".into(), metadata(&u));
        }
        body.insert("modelVersion".into(), json!(self.model));
        if !self.response_id.is_empty() {
            body.insert("responseId".into(), json!(self.response_id));
        }
        let bytes = Value::Object(body).to_string();
        self.write(bytes.as_bytes(), out);
    }

    /// Writes the calls held so far, before content that came after them.
    fn flush_calls(&mut self, out: &mut BytesMut) {
        if !self.held.is_empty() {
            let parts = std::mem::take(&mut self.held);
            self.chunk(parts, None, out);
        }
    }

    fn end_call(&mut self) {
        let Some(call) = self.call.take() else { return };
        match call_args(&call.arguments) {
            Some(args) if call.arguments.len() <= MAX_CALL_ARGUMENTS => {
                self.held.push(client_call_part(&call, args))
            }
            // Gemini's own word for a call it could not form; the call is left out.
            _ => self.malformed = true,
        }
    }
}

impl StreamEncoder for Encoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            Event::Start { id, .. } => self.response_id = id.clone(),
            Event::BlockStart {
                block: BlockKind::ToolCall { id, name, extras },
                ..
            } => {
                self.end_call();
                self.call = Some(ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                    extras: extras.clone(),
                });
            }
            Event::BlockStart { .. } => self.end_call(),
            Event::Delta { delta, .. } => match delta {
                Delta::Thinking(_) if !self.thoughts => {}
                Delta::Text(t) | Delta::Thinking(t) if !t.is_empty() => {
                    self.flush_calls(out);
                    let part = if matches!(delta, Delta::Thinking(_)) {
                        json!({"text": t, "thought": true})
                    } else {
                        json!({"text": t})
                    };
                    self.chunk(vec![part], None, out);
                }
                Delta::ToolArguments(fragment) => {
                    if let Some(call) = &mut self.call {
                        if call.arguments.len() <= MAX_CALL_ARGUMENTS {
                            call.arguments.push_str(fragment);
                        }
                    }
                }
                // Another vendor's signature means nothing to Gemini or its clients.
                _ => {}
            },
            Event::BlockStop { .. } => self.end_call(),
            Event::Usage(u) => self.usage = Some(*u),
            Event::Stop(stop) => {
                self.end_call();
                let mut parts = std::mem::take(&mut self.held);
                if parts.is_empty() {
                    // What Gemini itself sends on a last chunk with nothing left to say.
                    parts.push(json!({"text": ""}));
                }
                let reason = if self.malformed {
                    "MALFORMED_FUNCTION_CALL"
                } else {
                    finish_reason(stop)
                };
                self.chunk(parts, Some(reason), out);
                self.stopped = true;
                self.ended = true;
            }
            Event::Error { kind, message } => self.fail(*kind, message, out),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.framing == Framing::JsonArray && !self.closed {
            out.put_slice(if self.chunks == 0 { b"[]" } else { b"]" });
            self.closed = true;
        }
        self.ended = true;
    }

    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        // After the last chunk the client holds a whole answer; an error now would only make
        // it discard one.
        if !self.stopped && !self.closed {
            let error = render(Dialect::Gemini, kind, message);
            self.write(&error.body, out);
        }
        self.ended = true;
        self.finish(out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::gemini::Decoder;
    use crate::dialect::ir::{Extras, Stop};
    use crate::dialect::stream::StreamDecoder;
    use bytes::Bytes;

    fn text_answer() -> Vec<Event> {
        vec![
            Event::Start {
                id: "r-1".into(),
                model: "upstream".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("Hel".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("lo!".into()),
            },
            Event::BlockStop { index: 0 },
            Event::Usage(Usage {
                input_total: 9,
                output_total: 4,
                ..Usage::default()
            }),
            Event::Stop(Stop::EndTurn),
        ]
    }

    fn encode(events: &[Event], framing: Framing) -> String {
        let mut e = Encoder::new("gemini-x", framing);
        let mut out = BytesMut::new();
        for ev in events {
            e.push(ev, &mut out);
        }
        e.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    const HEL: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"modelVersion":"gemini-x","responseId":"r-1"}"#;
    const LO: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"lo!"}]},"index":0}],"modelVersion":"gemini-x","responseId":"r-1"}"#;
    const LAST: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"totalTokenCount":13},"modelVersion":"gemini-x","responseId":"r-1"}"#;

    #[test]
    fn a_text_answer_is_written_exactly_in_both_framings() {
        assert_eq!(
            encode(&text_answer(), Framing::Sse),
            format!("data: {HEL}\r\n\r\ndata: {LO}\r\n\r\ndata: {LAST}\r\n\r\n")
        );
        let array = encode(&text_answer(), Framing::JsonArray);
        assert_eq!(array, format!("[{HEL},\r\n{LO},\r\n{LAST}]"));
        let parsed: Vec<Value> = serde_json::from_str(&array).unwrap();
        assert_eq!(parsed.len(), 3);
    }

    #[test]
    fn a_tool_call_is_held_until_whole_and_ends_the_stream() {
        let events = [
            Event::Start {
                id: "chatcmpl-1".into(),
                model: "gpt-x".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::ToolCall {
                    id: "call_abc".into(),
                    name: "get_weather".into(),
                    extras: Extras::new(),
                },
            },
            Event::Delta {
                index: 0,
                delta: Delta::ToolArguments("{\"loc".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::ToolArguments("ation\":\"Paris\"}".into()),
            },
            Event::BlockStop { index: 0 },
            Event::Usage(Usage {
                input_total: 30,
                output_total: 12,
                output_reasoning: 5,
                ..Usage::default()
            }),
            Event::Stop(Stop::ToolUse),
        ];
        assert_eq!(
            encode(&events, Framing::Sse),
            "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"id\":\"call_abc\",\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\"}}}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":30,\"candidatesTokenCount\":7,\"totalTokenCount\":42,\"thoughtsTokenCount\":5},\"modelVersion\":\"gemini-x\",\"responseId\":\"chatcmpl-1\"}\r\n\r\n"
        );
    }

    #[test]
    fn calls_followed_by_text_keep_their_order_and_broken_calls_are_refused() {
        let call = |index, args: &str| {
            [
                Event::BlockStart {
                    index,
                    block: BlockKind::ToolCall {
                        id: format!("call_{index}"),
                        name: "f".into(),
                        extras: Extras::new(),
                    },
                },
                Event::Delta {
                    index,
                    delta: Delta::ToolArguments(args.into()),
                },
                Event::BlockStop { index },
            ]
        };
        let mut events = vec![Event::Start {
            id: String::new(),
            model: String::new(),
        }];
        events.extend(call(0, "{}"));
        events.push(Event::BlockStart {
            index: 1,
            block: BlockKind::Text,
        });
        events.push(Event::Delta {
            index: 1,
            delta: Delta::Text("done".into()),
        });
        events.push(Event::BlockStop { index: 1 });
        events.extend(call(2, "{\"a\":"));
        events.push(Event::Stop(Stop::ToolUse));
        let out = encode(&events, Framing::JsonArray);
        let chunks: Vec<Value> = serde_json::from_str(&out).unwrap();
        let parts: Vec<&Value> = chunks
            .iter()
            .map(|c| &c["candidates"][0]["content"]["parts"][0])
            .collect();
        assert_eq!(parts[0]["functionCall"]["id"], "call_0");
        assert_eq!(parts[1]["text"], "done");
        assert_eq!(parts[2], &json!({"text": ""}));
        assert_eq!(
            chunks[2]["candidates"][0]["finishReason"],
            "MALFORMED_FUNCTION_CALL"
        );
        assert_eq!(
            chunks[2]["usageMetadata"],
            json!({"promptTokenCount":0,"candidatesTokenCount":0,"totalTokenCount":0})
        );
        assert!(chunks[2].get("responseId").is_none());
    }

    #[test]
    fn failures_are_written_in_band_and_end_the_stream() {
        let mut e = Encoder::new("gemini-x", Framing::Sse);
        let mut out = BytesMut::new();
        e.push(&text_answer()[2], &mut out);
        out.clear();
        e.fail(
            ErrorKind::Overloaded,
            "The provider is overloaded",
            &mut out,
        );
        assert_eq!(
            &out[..],
            b"data: {\"error\":{\"code\":503,\"message\":\"The provider is overloaded\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n"
        );
        out.clear();
        e.push(&Event::Stop(Stop::EndTurn), &mut out);
        assert!(out.is_empty(), "nothing after the error");

        let mut e = Encoder::new("gemini-x", Framing::JsonArray);
        let mut out = BytesMut::new();
        e.push(&text_answer()[2], &mut out);
        e.push(
            &Event::Error {
                kind: ErrorKind::UpstreamTimeout,
                message: "slow".into(),
            },
            &mut out,
        );
        e.finish(&mut out);
        let chunks: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            chunks[1],
            json!({"error":{"code":504,"message":"slow","status":"DEADLINE_EXCEEDED"}})
        );
        let mut e = Encoder::new("gemini-x", Framing::JsonArray);
        let mut out = BytesMut::new();
        e.fail(ErrorKind::BadUpstream, "cut", &mut out);
        assert_eq!(
            &out[..],
            b"[{\"error\":{\"code\":502,\"message\":\"cut\",\"status\":\"INTERNAL\"}}]"
        );
        let mut out = BytesMut::new();
        Encoder::new("m", Framing::JsonArray).finish(&mut out);
        assert_eq!(&out[..], b"[]");
        let mut e = Encoder::new("gemini-x", Framing::JsonArray);
        let mut out = BytesMut::new();
        for ev in text_answer() {
            e.push(&ev, &mut out);
        }
        e.fail(ErrorKind::BadUpstream, "late", &mut out);
        assert_eq!(
            String::from_utf8(out.to_vec()).unwrap(),
            format!("[{HEL},\r\n{LO},\r\n{LAST}]"),
            "an answer already whole is not spoiled by a late failure"
        );
    }

    #[test]
    fn a_gemini_stream_reframed_as_an_array_keeps_its_signature_and_invents_no_id() {
        let mut d = Decoder::default();
        let mut events = Vec::new();
        d.push(
            Bytes::from_static(crate::dialect::gemini::decoder::tests::TRANSCRIPT),
            &mut events,
        )
        .unwrap();
        d.finish(&mut events);
        let chunks: Vec<Value> =
            serde_json::from_str(&encode(&events, Framing::JsonArray)).unwrap();
        let last = chunks.last().unwrap();
        assert_eq!(
            last["candidates"][0],
            json!({"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"c2ln"}]},
                "finishReason":"STOP","index":0})
        );
        assert_eq!(
            last["usageMetadata"],
            json!({"promptTokenCount":9,"candidatesTokenCount":4,"totalTokenCount":133,"thoughtsTokenCount":120})
        );
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"][0],
            json!({"text":"**Plan**","thought":true})
        );
        assert_eq!(
            chunks[2]["candidates"][0]["content"]["parts"][0]["text"],
            "check été."
        );
    }
}
