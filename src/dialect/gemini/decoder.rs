//! A Gemini provider's `streamGenerateContent?alt=sse` body into internal events (reference:
//! dialects.md §2.D, §3.2, §3.4, §6.2).
//!
//! Each SSE event is a whole `GenerateContentResponse`: text parts append, a `functionCall`
//! arrives complete in one chunk, `usageMetadata` is a cumulative snapshot on every chunk, and
//! the chunk with `finishReason` is the last. There is no other terminal event; a body that ends
//! before a `finishReason` was cut short.

use super::answer::{answer_blocks, stop_from};
use super::errors::kind_of;
use super::parts::id_key;
use super::usage::{from_metadata, merge};
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{Block, BlockKind, Delta, Event};
use crate::dialect::sse::{parse_event, EventSplitter, Events};
use crate::dialect::stream::{Ended, StreamDecoder, StreamFault};
use crate::dialect::usage::Usage;
use bytes::Bytes;
use serde_json::Value;

/// What the decoder holds for one unfinished event by default: a chunk can carry a whole
/// generated image in base64.
pub const DEFAULT_MAX_EVENT: usize = 32 << 20;

/// The text or thinking block being streamed, with its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(usize),
    Thinking(usize),
}

impl Open {
    fn index(self) -> usize {
        match self {
            Open::Text(i) | Open::Thinking(i) => i,
        }
    }
}

/// Reads a Gemini SSE stream into [`Event`]s.
pub struct Decoder {
    splitter: EventSplitter,
    started: bool,
    /// The letters and digits of the `responseId`, for the ids of calls that come without one.
    id_key: String,
    open: Option<Open>,
    next_index: usize,
    calls: usize,
    usage: Option<Usage>,
    stopped: bool,
    failed: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT)
    }
}

impl Decoder {
    /// `max_event` bounds the bytes held for one unfinished event.
    pub fn new(max_event: usize) -> Self {
        Decoder {
            splitter: EventSplitter::new(max_event),
            started: false,
            id_key: "0".into(),
            open: None,
            next_index: 0,
            calls: 0,
            usage: None,
            stopped: false,
            failed: false,
        }
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = chunk["responseId"].as_str().unwrap_or("");
        self.id_key = id_key(id);
        out.push(Event::Start {
            id: id.to_string(),
            model: chunk["modelVersion"].as_str().unwrap_or("").to_string(),
        });
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some(open) = self.open.take() {
            out.push(Event::BlockStop {
                index: open.index(),
            });
        }
    }

    /// Opens a text (or, with `thinking`, a thought) block unless one is open already, and
    /// returns its index.
    fn open(&mut self, thinking: bool, out: &mut Vec<Event>) -> usize {
        match self.open {
            Some(Open::Text(i)) if !thinking => return i,
            Some(Open::Thinking(i)) if thinking => return i,
            _ => {}
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some(if thinking {
            Open::Thinking(index)
        } else {
            Open::Text(index)
        });
        let block = if thinking {
            BlockKind::Thinking
        } else {
            BlockKind::Text
        };
        out.push(Event::BlockStart { index, block });
        index
    }

    fn emit(&mut self, block: Block, out: &mut Vec<Event>) {
        match block {
            Block::Text { text, .. } if !text.is_empty() => {
                let index = self.open(false, out);
                out.push(Event::Delta {
                    index,
                    delta: Delta::Text(text),
                });
            }
            Block::Thinking { text, .. } if !text.is_empty() => {
                let index = self.open(true, out);
                out.push(Event::Delta {
                    index,
                    delta: Delta::Thinking(text),
                });
            }
            Block::ToolCall(call) => {
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                out.push(Event::BlockStart {
                    index,
                    block: BlockKind::ToolCall {
                        id: call.id,
                        name: call.name,
                        extras: call.extras,
                    },
                });
                out.push(Event::Delta {
                    index,
                    delta: Delta::ToolArguments(call.arguments),
                });
                out.push(Event::BlockStop { index });
            }
            // Streamed events have no image block, and a text or thought block no extras: a
            // signature alone on an empty part, generated images and code execution parts do
            // not reach the client.
            _ => {}
        }
    }

    /// Handles one event's data: one `GenerateContentResponse`, or an error.
    fn handle(&mut self, data: &[u8], out: &mut Vec<Event>) {
        if self.failed {
            return;
        }
        // Not JSON (a keep-alive, a stray line): nothing to read.
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        let chunk = match &v {
            Value::Array(items) => match items.first() {
                Some(first) => first,
                None => return,
            },
            other => other,
        };
        if let Some(error) = chunk.get("error").filter(|e| e.is_object()) {
            self.fail(kind_of(error), error_text(error), out);
            return;
        }
        self.start(chunk, out);
        let candidate = chunk.get("candidates").and_then(|c| c.get(0));
        let mut finish = candidate.and_then(|c| c.get("finishReason")?.as_str());
        // Content after the finishing chunk would follow the client's terminal event; only its
        // usage still counts.
        if !self.stopped {
            if let Some(parts) = candidate.and_then(|c| c.pointer("/content/parts")?.as_array()) {
                let mut blocks = Vec::new();
                let first = self.calls;
                self.calls = answer_blocks(parts, &self.id_key, first, &mut blocks);
                for block in blocks {
                    self.emit(block, out);
                }
            }
        }
        if let Some(u) = chunk.get("usageMetadata").and_then(from_metadata) {
            let merged = merge(self.usage, u);
            if self.usage != Some(merged) {
                self.usage = Some(merged);
                out.push(Event::Usage(merged));
            }
        }
        let blocked = candidate.is_none() && chunk.pointer("/promptFeedback/blockReason").is_some();
        if blocked {
            finish = Some("SAFETY");
        }
        if let (Some(reason), false) = (finish, self.stopped) {
            self.close(out);
            self.stopped = true;
            let stop = stop_from(Some(reason), self.calls > 0);
            out.push(Event::Stop(stop));
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: String, out: &mut Vec<Event>) {
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: String::new(),
                model: String::new(),
            });
        }
        self.close(out);
        self.failed = true;
        if !self.stopped {
            out.push(Event::Error { kind, message });
        }
    }

    fn handle_run(&mut self, run: Bytes, out: &mut Vec<Event>) {
        for event in Events::new(run) {
            if let Some(parsed) = parse_event(&event) {
                self.handle(&parsed.data, out);
            }
        }
    }
}

fn error_text(error: &Value) -> String {
    error["message"]
        .as_str()
        .filter(|m| !m.is_empty())
        .unwrap_or("The provider reported an error in its stream")
        .to_string()
}

impl StreamDecoder for Decoder {
    fn push(&mut self, chunk: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        match self.splitter.push(chunk) {
            Ok(Some(run)) => {
                self.handle_run(run, out);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(StreamFault {
                kind: ErrorKind::BadUpstream,
                message: format!("The provider sent an event larger than {} bytes", e.limit),
            }),
        }
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Ended {
        // A last event without its blank line still counts.
        if let Some(partial) = self.splitter.take_partial() {
            self.handle_run(partial, out);
        }
        if self.stopped || self.failed {
            return Ended::Complete;
        }
        self.close(out);
        Ended::Truncated
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, Stop};
    use serde_json::json;

    /// A Gemini stream as the API writes it: thoughts, text, a signed call, cumulative usage.
    pub(crate) const TRANSCRIPT_TEXT: &str = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"**Plan**\",\"thought\":true}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n\
data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Let me \"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n\
: keep-alive\r\n\r\n\
data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"check été.\"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n\
data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\"}},\"thoughtSignature\":\"c2ln\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":4,\"thoughtsTokenCount\":120,\"totalTokenCount\":133},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n";

    pub(crate) const TRANSCRIPT: &[u8] = TRANSCRIPT_TEXT.as_bytes();

    fn prompt_only() -> Usage {
        Usage {
            input_total: 9,
            ..Usage::default()
        }
    }

    pub(crate) fn expected_events() -> Vec<Event> {
        let mut extras = Extras::new();
        extras.insert("thoughtSignature".into(), json!("c2ln"));
        vec![
            Event::Start {
                id: "r-1".into(),
                model: "gemini-2.5-flash".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Thinking,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Thinking("**Plan**".into()),
            },
            Event::Usage(prompt_only()),
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 1,
                delta: Delta::Text("Let me ".into()),
            },
            Event::Delta {
                index: 1,
                delta: Delta::Text("check \u{e9}t\u{e9}.".into()),
            },
            Event::BlockStop { index: 1 },
            Event::BlockStart {
                index: 2,
                block: BlockKind::ToolCall {
                    // Signed: the signature rides on the id for clients that keep only ids.
                    id: "call_r1_0__thought__c2ln".into(),
                    name: "get_weather".into(),
                    extras,
                },
            },
            Event::Delta {
                index: 2,
                delta: Delta::ToolArguments(r#"{"location":"Paris"}"#.into()),
            },
            Event::BlockStop { index: 2 },
            Event::Usage(Usage {
                input_total: 9,
                input_cache_read: 0,
                input_cache_write: 0,
                output_total: 124,
                output_reasoning: 120,
            }),
            Event::Stop(Stop::ToolUse),
        ]
    }

    fn run(input: &[u8], cuts: &[usize]) -> (Vec<Event>, Ended) {
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
    fn the_transcript_gives_the_same_events_at_every_split_point() {
        let expected = expected_events();
        assert_eq!(run(TRANSCRIPT, &[]), (expected.clone(), Ended::Complete));
        for cut in 0..=TRANSCRIPT.len() {
            assert_eq!(
                run(TRANSCRIPT, &[cut]),
                (expected.clone(), Ended::Complete),
                "cut {cut}"
            );
        }
        let lf = String::from_utf8(TRANSCRIPT.to_vec())
            .unwrap()
            .replace("\r\n", "\n");
        assert_eq!(run(lf.as_bytes(), &[17, 400]), (expected, Ended::Complete));
    }

    #[test]
    fn a_stream_cut_before_its_finish_reason_is_truncated_with_its_block_closed() {
        let cut = TRANSCRIPT.len() - 400;
        let (events, ended) = run(&TRANSCRIPT[..cut], &[]);
        assert_eq!(ended, Ended::Truncated);
        assert_eq!(events.last(), Some(&Event::BlockStop { index: 1 }));
        assert_eq!(run(b"", &[]), (vec![], Ended::Truncated));
    }

    #[test]
    fn a_last_event_without_its_blank_line_still_ends_the_stream() {
        let (events, ended) = run(&TRANSCRIPT[..TRANSCRIPT.len() - 4], &[100]);
        assert_eq!((events, ended), (expected_events(), Ended::Complete));
    }

    #[test]
    fn an_error_in_the_stream_takes_the_place_of_the_stop() {
        let input = b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}]}\r\n\r\n\
data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n";
        let (events, ended) = run(input, &[]);
        assert_eq!(ended, Ended::Complete);
        assert_eq!(
            events[3..],
            [
                Event::BlockStop { index: 0 },
                Event::Error {
                    kind: ErrorKind::Overloaded,
                    message: "The model is overloaded.".into()
                }
            ]
        );
        // An error first, in the array form stream calls sometimes use.
        let (events, _) = run(
            b"data: [{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\"}}]\n\n",
            &[],
        );
        assert_eq!(
            events,
            [
                Event::Start {
                    id: String::new(),
                    model: String::new()
                },
                Event::Error {
                    kind: ErrorKind::RateLimited,
                    message: "quota".into()
                }
            ]
        );
    }

    #[test]
    fn a_blocked_prompt_and_late_usage_are_read() {
        let input = b"data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":5}}\n\n\
data: {\"usageMetadata\":{\"promptTokenCount\":6}}\n\n";
        let (events, ended) = run(input, &[]);
        assert_eq!(ended, Ended::Complete);
        let usage = |n| {
            Event::Usage(Usage {
                input_total: n,
                ..Usage::default()
            })
        };
        assert_eq!(
            events[1..],
            [usage(5), Event::Stop(Stop::ContentFilter), usage(6)]
        );
    }

    #[test]
    fn an_oversized_event_is_a_fault() {
        let mut d = Decoder::new(64);
        let err = d
            .push(Bytes::from(vec![b'x'; 65]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadUpstream);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..3000 {
            let mut input = TRANSCRIPT.to_vec();
            for _ in 0..rng.usize(0..8) {
                let at = rng.usize(..input.len());
                input[at] = *rng.choice(b"{}[]\":,\r\n ad".iter()).unwrap_or(&b'x');
            }
            let cut = rng.usize(..=input.len());
            let _ = run(&input, &[cut]);
            let noise: Vec<u8> = (0..rng.usize(0..256)).map(|_| rng.u8(..)).collect();
            let _ = run(&noise, &[]);
        }
    }
}
