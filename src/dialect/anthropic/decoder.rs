//! An Anthropic provider's stream into internal events (reference: dialects.md §2.C, §3.7).

use super::answer::stop_from;
use super::error::error_kind;
use super::usage::WireUsage;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{BlockKind, Delta, Event, Extras, Stop};
use crate::dialect::sse::{parse_event, EventSplitter, Events};
use crate::dialect::stream::{Ended, StreamDecoder, StreamFault};
use bytes::Bytes;
use serde_json::Value;

/// The bound [`Decoder::default`] puts on the bytes held for one unfinished event: base64
/// images and long tool inputs make big events, but a provider that never ends one must not
/// grow memory without bound.
pub const MAX_EVENT_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Redacted,
    Tool,
    /// A block with no place in the IR (server-tool blocks, future types): its events are
    /// read and dropped.
    Skipped,
}

/// The block the provider has open.
#[derive(Debug)]
struct Open {
    /// The provider's index for it.
    wire: u64,
    /// Ours, counting only the blocks passed on.
    index: usize,
    kind: Kind,
    /// The tool's whole input came in `content_block_start` (some compatible providers do
    /// this): later argument fragments would repeat it.
    input_given: bool,
}

/// Reads an Anthropic Messages stream.
///
/// The events map one to one, except that blocks the IR cannot hold are skipped (so our indices
/// stay contiguous), usage is merged field by field across `message_start` and
/// `message_delta`, and `Stop` waits for `message_stop`, the terminal event.
#[derive(Debug)]
pub struct Decoder {
    splitter: EventSplitter,
    started: bool,
    open: Option<Open>,
    next_index: usize,
    usage: WireUsage,
    stop: Option<Stop>,
    /// `message_stop` or an `error` event arrived: nothing after it counts.
    ended: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(MAX_EVENT_BYTES)
    }
}

fn fault(message: impl Into<String>) -> StreamFault {
    StreamFault {
        kind: ErrorKind::BadUpstream,
        message: message.into(),
    }
}

impl Decoder {
    /// A decoder that holds at most `max_event` bytes of an unfinished event.
    pub fn new(max_event: usize) -> Self {
        Decoder {
            splitter: EventSplitter::new(max_event),
            started: false,
            open: None,
            next_index: 0,
            usage: WireUsage::default(),
            stop: None,
            ended: false,
        }
    }

    fn run(&mut self, run: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        for raw in Events::new(run) {
            if self.ended {
                break;
            }
            if let Some(e) = parse_event(&raw) {
                self.event(e.name, &e.data, out)?;
            }
        }
        Ok(())
    }

    fn event(
        &mut self,
        name: Option<&[u8]>,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Result<(), StreamFault> {
        let v: Value = serde_json::from_slice(data)
            .map_err(|_| fault("The provider sent a stream event that is not JSON"))?;
        // The JSON `type` repeats the event name; it is the one to trust (reference §2.0).
        let name = name.and_then(|n| std::str::from_utf8(n).ok());
        let Some(ty) = v["type"].as_str().or(name) else {
            return Ok(());
        };
        match ty {
            "message_start" => {
                let message = &v["message"];
                if !self.started {
                    self.started = true;
                    out.push(Event::Start {
                        id: message["id"].as_str().unwrap_or("").to_string(),
                        model: message["model"].as_str().unwrap_or("").to_string(),
                    });
                }
                if self.usage.merge(&message["usage"]) {
                    out.push(Event::Usage(self.usage.usage()));
                }
            }
            "content_block_start" => self.block_start(&v, out),
            "content_block_delta" => self.delta(&v, out),
            "content_block_stop"
                if self
                    .open
                    .as_ref()
                    .is_some_and(|o| Some(o.wire) == v["index"].as_u64()) =>
            {
                self.close(out);
            }
            "message_delta" => {
                self.ensure_started(out);
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    self.stop = Some(stop_from(reason, v["delta"]["stop_sequence"].as_str()));
                }
                if self.usage.merge(&v["usage"]) {
                    out.push(Event::Usage(self.usage.usage()));
                }
            }
            "message_stop" => {
                self.ensure_started(out);
                self.close(out);
                out.push(Event::Stop(self.stop.take().unwrap_or(Stop::EndTurn)));
                self.ended = true;
            }
            "error" => {
                self.ensure_started(out);
                let error = &v["error"];
                out.push(Event::Error {
                    kind: error_kind(error["type"].as_str().unwrap_or("")),
                    message: error["message"]
                        .as_str()
                        .unwrap_or("The provider reported an error")
                        .to_string(),
                });
                self.ended = true;
            }
            // `ping`, and event types added after this was written (the SDKs ignore them too).
            _ => {}
        }
        Ok(())
    }

    /// A provider that skips `message_start` still gets a `Start` first.
    fn ensure_started(&mut self, out: &mut Vec<Event>) {
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: String::new(),
                model: String::new(),
            });
        }
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some(open) = self.open.take() {
            if open.kind != Kind::Skipped {
                out.push(Event::BlockStop { index: open.index });
            }
        }
    }

    fn block_start(&mut self, v: &Value, out: &mut Vec<Event>) {
        self.ensure_started(out);
        // Anthropic never interleaves blocks; if a provider does, the earlier one ends here.
        self.close(out);
        let block = &v["content_block"];
        let wire = v["index"].as_u64().unwrap_or(u64::MAX);
        let (kind, ir_kind, first) = match block["type"].as_str() {
            Some("text") => (
                Kind::Text,
                Some(BlockKind::Text),
                Some(Delta::Text(str_of(&block["text"]))),
            ),
            Some("thinking") => (
                Kind::Thinking,
                Some(BlockKind::Thinking),
                Some(Delta::Thinking(str_of(&block["thinking"]))),
            ),
            Some("redacted_thinking") => (
                Kind::Redacted,
                Some(BlockKind::RedactedThinking {
                    data: str_of(&block["data"]),
                }),
                None,
            ),
            Some("tool_use") => {
                let input = match &block["input"] {
                    Value::Object(m) if !m.is_empty() => {
                        Some(Delta::ToolArguments(block["input"].to_string()))
                    }
                    _ => None,
                };
                (
                    Kind::Tool,
                    Some(BlockKind::ToolCall {
                        id: Some(str_of(&block["id"]))
                            .filter(|id| !id.is_empty())
                            .unwrap_or_else(|| format!("toolu_{}", self.next_index)),
                        name: str_of(&block["name"]),
                        extras: Extras::new(),
                    }),
                    input,
                )
            }
            _ => (Kind::Skipped, None, None),
        };
        let index = self.next_index;
        let first = first.filter(|d| !delta_is_empty(d));
        let input_given = matches!(first, Some(Delta::ToolArguments(_)));
        if let Some(block) = ir_kind {
            self.next_index += 1;
            out.push(Event::BlockStart { index, block });
            if let Some(delta) = first {
                out.push(Event::Delta { index, delta });
            }
        }
        self.open = Some(Open {
            wire,
            index,
            kind,
            input_given,
        });
    }

    fn delta(&mut self, v: &Value, out: &mut Vec<Event>) {
        let Some(open) = self
            .open
            .as_ref()
            .filter(|o| Some(o.wire) == v["index"].as_u64())
        else {
            // A delta for a block that is not open has nowhere to go.
            return;
        };
        let d = &v["delta"];
        let delta = match (d["type"].as_str(), open.kind) {
            (Some("text_delta"), Kind::Text) => Delta::Text(str_of(&d["text"])),
            (Some("thinking_delta"), Kind::Thinking) => Delta::Thinking(str_of(&d["thinking"])),
            (Some("signature_delta"), Kind::Thinking) => Delta::Signature(str_of(&d["signature"])),
            (Some("input_json_delta"), Kind::Tool) if !open.input_given => {
                Delta::ToolArguments(str_of(&d["partial_json"]))
            }
            // citations_delta, deltas of skipped blocks, and any mismatch of delta and block.
            _ => return,
        };
        if !delta_is_empty(&delta) {
            out.push(Event::Delta {
                index: open.index,
                delta,
            });
        }
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn delta_is_empty(d: &Delta) -> bool {
    match d {
        Delta::Text(s) | Delta::Thinking(s) | Delta::Signature(s) | Delta::ToolArguments(s) => {
            s.is_empty()
        }
    }
}

impl StreamDecoder for Decoder {
    fn push(&mut self, chunk: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        if self.ended {
            return Ok(());
        }
        match self.splitter.push(chunk) {
            Ok(Some(run)) => self.run(run, out),
            Ok(None) => Ok(()),
            Err(e) => Err(fault(format!(
                "The provider sent an event larger than {} bytes",
                e.limit
            ))),
        }
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Ended {
        // A last event without its blank line still counts.
        if let Some(partial) = self.splitter.take_partial() {
            if !self.ended {
                // A broken last event is the end of a cut stream, reported as truncation.
                let _ = self.run(partial, out);
            }
        }
        if self.ended {
            Ended::Complete
        } else {
            Ended::Truncated
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;
    use crate::dialect::usage::Usage;

    #[test]
    fn a_streamed_call_without_an_id_gets_one() {
        let mut d = Decoder::new(1 << 20);
        let mut out = Vec::new();
        d.push(Bytes::from_static(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"name\":\"f\",\"input\":{}}}\n\n"), &mut out)
            .unwrap();
        assert!(
            out.iter().any(|e| matches!(e, Event::BlockStart { block: BlockKind::ToolCall { id, .. }, .. } if id == "toolu_0")),
            "{out:?}"
        );
    }

    /// Reference §2.C's sequence (thinking, text, a tool call), with a multi-byte character.
    pub(crate) const TRANSCRIPT: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}}}

event: ping
data: {"type":"ping"}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Paris, été…"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig=="}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Let me check"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"Par"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"#;

    pub(crate) fn expected() -> Vec<Event> {
        let usage = |output_total| {
            Event::Usage(Usage {
                input_total: 35,
                input_cache_read: 10,
                input_cache_write: 0,
                output_total,
                output_reasoning: 0,
            })
        };
        vec![
            Event::Start {
                id: "msg_1".into(),
                model: "claude-x".into(),
            },
            usage(1),
            Event::BlockStart {
                index: 0,
                block: BlockKind::Thinking,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Thinking("Paris, été…".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::Signature("sig==".into()),
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 1,
                delta: Delta::Text("Let me check".into()),
            },
            Event::BlockStop { index: 1 },
            Event::BlockStart {
                index: 2,
                block: BlockKind::ToolCall {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    extras: Extras::new(),
                },
            },
            Event::Delta {
                index: 2,
                delta: Delta::ToolArguments("{\"location\": \"Par".into()),
            },
            Event::Delta {
                index: 2,
                delta: Delta::ToolArguments("is\"}".into()),
            },
            Event::BlockStop { index: 2 },
            usage(89),
            Event::Stop(Stop::ToolUse),
        ]
    }

    /// Feeds `input` cut at `cuts` and returns the events and how the stream ended.
    pub(crate) fn decode_cut(input: &[u8], cuts: &[usize]) -> (Vec<Event>, Ended) {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let mut prev = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            d.push(Bytes::copy_from_slice(&input[prev..c]), &mut out)
                .unwrap();
            prev = c;
        }
        let ended = d.finish(&mut out);
        (out, ended)
    }

    #[test]
    fn the_transcript_gives_the_same_events_at_every_split() {
        for crlf in [false, true] {
            let input = if crlf {
                TRANSCRIPT.replace('\n', "\r\n")
            } else {
                TRANSCRIPT.to_string()
            };
            let input = input.as_bytes();
            assert_eq!(decode_cut(input, &[]), (expected(), Ended::Complete));
            for cut in 0..=input.len() {
                assert_eq!(
                    decode_cut(input, &[cut]),
                    (expected(), Ended::Complete),
                    "cut at {cut}, crlf {crlf}"
                );
            }
        }
        let bytes: Vec<usize> = (1..TRANSCRIPT.len()).collect();
        assert_eq!(
            decode_cut(TRANSCRIPT.as_bytes(), &bytes),
            (expected(), Ended::Complete),
            "one byte at a time"
        );
    }

    #[test]
    fn a_stream_cut_before_message_stop_is_truncated() {
        let cut = TRANSCRIPT.find("event: message_stop").unwrap();
        let (events, ended) = decode_cut(&TRANSCRIPT.as_bytes()[..cut], &[]);
        assert_eq!(ended, Ended::Truncated);
        assert_eq!(events, expected()[..expected().len() - 1]);
        // The last event without its blank line still counts.
        let unended = TRANSCRIPT.trim_end();
        assert_eq!(
            decode_cut(unended.as_bytes(), &[]),
            (expected(), Ended::Complete)
        );
    }

    #[test]
    fn an_error_event_ends_the_stream_in_place_of_stop() {
        let input = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n\
event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let (events, ended) = decode_cut(input.as_bytes(), &[]);
        assert_eq!(ended, Ended::Complete);
        assert_eq!(
            events[events.len() - 1],
            Event::Error {
                kind: ErrorKind::Overloaded,
                message: "Overloaded".into()
            }
        );
        assert!(!events.iter().any(|e| matches!(e, Event::Stop(_))));
    }

    #[test]
    fn server_tool_blocks_are_skipped_and_indices_stay_contiguous() {
        let input = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_3","model":"m","usage":{"input_tokens":5,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":"Found"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" it."}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"f","input":{"a":1}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"input_tokens":0,"output_tokens":7}}

event: some_future_event
data: {"type":"some_future_event"}

event: message_stop
data: {"type":"message_stop"}

"#;
        let (events, ended) = decode_cut(input.as_bytes(), &[]);
        assert_eq!(ended, Ended::Complete);
        let usage = |output_total| {
            Event::Usage(Usage {
                input_total: 5,
                output_total,
                ..Usage::default()
            })
        };
        assert_eq!(
            events,
            vec![
                Event::Start {
                    id: "msg_3".into(),
                    model: "m".into()
                },
                usage(1),
                Event::BlockStart {
                    index: 0,
                    block: BlockKind::Text
                },
                Event::Delta {
                    index: 0,
                    delta: Delta::Text("Found".into())
                },
                Event::Delta {
                    index: 0,
                    delta: Delta::Text(" it.".into())
                },
                Event::BlockStop { index: 0 },
                Event::BlockStart {
                    index: 1,
                    block: BlockKind::ToolCall {
                        id: "toolu_2".into(),
                        name: "f".into(),
                        extras: Extras::new()
                    }
                },
                Event::Delta {
                    index: 1,
                    delta: Delta::ToolArguments("{\"a\":1}".into())
                },
                Event::BlockStop { index: 1 },
                usage(7),
                Event::Stop(Stop::StopSequence(Some("END".into()))),
            ]
        );
    }

    #[test]
    fn broken_and_oversized_events_are_faults() {
        let mut d = Decoder::default();
        let err = d
            .push(
                Bytes::from_static(b"event: ping\ndata: {nope\n\n"),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadUpstream);
        let mut d = Decoder::new(16);
        assert!(d
            .push(Bytes::from(vec![b'x'; 17]), &mut Vec::new())
            .is_err());
        let mut out = Vec::new();
        assert_eq!(Decoder::default().finish(&mut out), Ended::Truncated);
        assert!(out.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let seed = TRANSCRIPT.as_bytes();
        for at in 0..seed.len() {
            let mut flipped = seed.to_vec();
            flipped[at] ^= 0x5a;
            let mut d = Decoder::default();
            let mut out = Vec::new();
            let _ = d.push(Bytes::from(flipped), &mut out);
            let _ = d.finish(&mut out);
        }
        let mut x: u32 = 7;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                match (x >> 16) % 7 {
                    0 => b'\n',
                    1 => b'{',
                    2 => b'"',
                    _ => (x >> 8) as u8,
                }
            })
            .collect();
        for chunk in noise.chunks(97) {
            let mut d = Decoder::default();
            let _ = d.push(Bytes::copy_from_slice(b"data: "), &mut Vec::new());
            let _ = d.push(Bytes::copy_from_slice(chunk), &mut Vec::new());
            let _ = d.finish(&mut Vec::new());
        }
    }
}
