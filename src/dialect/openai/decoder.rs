//! A Chat Completions provider's stream, read into internal events (reference: dialects.md
//! §2.A, §3.6 "stream translation", §5.2, §5.3).

use super::answer::stop_from;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{BlockKind, Delta, Event, Extras, Stop};
use crate::dialect::sse::{parse_event, EventSplitter, Events};
use crate::dialect::stream::{Ended, StreamDecoder, StreamFault};
use crate::dialect::usage::{OpenAiUsage, Usage};
use bytes::Bytes;
use serde_json::Value;

/// The block being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(usize),
    Thinking(usize),
}

/// A tool call gathered from its fragments.
#[derive(Debug, Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// Text and reasoning stream through as they arrive. Tool calls are gathered whole and given
/// out when the turn ends: providers may interleave the fragments of parallel calls, repeat or
/// omit ids and names, or close a call only implicitly, and a block once closed cannot take
/// more arguments (reference §3.6 step 5, "buffer-and-flush").
pub struct Decoder {
    splitter: EventSplitter,
    started: bool,
    next_index: usize,
    open: Option<Open>,
    /// Keyed by the provider's tool index (or id, when a provider leaves the index out).
    calls: Vec<(String, PendingCall)>,
    /// Bytes of tool arguments held, bounded like one event.
    held: usize,
    max_held: usize,
    stop: Option<Stop>,
    usage: Option<Usage>,
    done: bool,
}

impl Decoder {
    /// `max_event` bounds one event, and all the tool arguments held at once.
    pub fn new(max_event: usize) -> Self {
        Decoder {
            splitter: EventSplitter::new(max_event),
            started: false,
            next_index: 0,
            open: None,
            calls: Vec::new(),
            held: 0,
            max_held: max_event,
            stop: None,
            usage: None,
            done: false,
        }
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some(Open::Text(index) | Open::Thinking(index)) = self.open.take() {
            out.push(Event::BlockStop { index });
        }
    }

    /// Appends `text` to a block of the kind `open` makes, opening it first if needed.
    fn stream_text(&mut self, thinking: bool, text: &str, out: &mut Vec<Event>) {
        let index = match self.open {
            Some(Open::Thinking(i)) if thinking => i,
            Some(Open::Text(i)) if !thinking => i,
            _ => {
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                let (open, block) = if thinking {
                    (Open::Thinking(index), BlockKind::Thinking)
                } else {
                    (Open::Text(index), BlockKind::Text)
                };
                self.open = Some(open);
                out.push(Event::BlockStart { index, block });
                index
            }
        };
        let delta = if thinking {
            Delta::Thinking(text.to_string())
        } else {
            Delta::Text(text.to_string())
        };
        out.push(Event::Delta { index, delta });
    }

    fn gather_call(&mut self, fragment: &Value) -> Result<(), StreamFault> {
        let key = match (fragment["index"].as_u64(), fragment["id"].as_str()) {
            (Some(i), _) => i.to_string(),
            (None, Some(id)) => id.to_string(),
            (None, None) => self.calls.len().to_string(),
        };
        let at = match self.calls.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.calls.push((key, PendingCall::default()));
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[at].1;
        // A later fragment with no id or name never erases the ones already seen.
        if let Some(id) = fragment["id"].as_str().filter(|s| !s.is_empty()) {
            call.id = id.to_string();
        }
        if let Some(name) = fragment["function"]["name"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            call.name = name.to_string();
        }
        if let Some(args) = fragment["function"]["arguments"].as_str() {
            call.arguments.push_str(args);
            self.held += args.len();
        }
        if self.held > self.max_held {
            return Err(StreamFault {
                kind: ErrorKind::BadUpstream,
                message: format!(
                    "The provider's tool call arguments are larger than {} bytes",
                    self.max_held
                ),
            });
        }
        Ok(())
    }

    fn chunk(&mut self, v: &Value, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        if let Some(err) = v.get("error") {
            let message = err["message"]
                .as_str()
                .unwrap_or("The provider failed while answering")
                .to_string();
            self.close(out);
            out.push(Event::Error {
                kind: ErrorKind::BadUpstream,
                message,
            });
            self.done = true;
            return Ok(());
        }
        // Azure's content-filter chunk comes first, with an empty id, model and `choices`:
        // the stream's id and model come from the first real chunk.
        let filter_chunk = v["id"].as_str().is_none_or(str::is_empty)
            && v["choices"].as_array().is_none_or(Vec::is_empty);
        if !self.started && !filter_chunk {
            self.started = true;
            out.push(Event::Start {
                id: v["id"].as_str().unwrap_or("").to_string(),
                model: v["model"].as_str().unwrap_or("").to_string(),
            });
        }
        // Usage may ride on any chunk; the last snapshot wins.
        if let Ok(u) = serde_json::from_value::<OpenAiUsage>(v["usage"].clone()) {
            self.usage = Some(Usage::from(u));
        }
        // An empty `choices` (the usage chunk, Azure's filter chunk) has nothing else.
        let Some(choice) = v["choices"].get(0) else {
            return Ok(());
        };
        let delta = &choice["delta"];
        let reasoning = delta["reasoning_content"]
            .as_str()
            .or(delta["reasoning"].as_str());
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            self.stream_text(true, text, out);
        }
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            self.stream_text(false, text, out);
        }
        for fragment in delta["tool_calls"].as_array().into_iter().flatten() {
            self.gather_call(fragment)?;
        }
        // Content and the finish reason may come in one chunk: the content went first.
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.stop = Some(stop_from(reason));
        }
        Ok(())
    }

    /// Closes the turn: the open block, the gathered calls, the usage, the stop reason.
    fn end_turn(&mut self, out: &mut Vec<Event>) {
        self.close(out);
        for (_, call) in std::mem::take(&mut self.calls) {
            let index = self.next_index;
            self.next_index += 1;
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            out.push(Event::BlockStart {
                index,
                block: BlockKind::ToolCall {
                    id,
                    name: call.name,
                    extras: Extras::new(),
                },
            });
            if !call.arguments.is_empty() {
                out.push(Event::Delta {
                    index,
                    delta: Delta::ToolArguments(call.arguments),
                });
            }
            out.push(Event::BlockStop { index });
        }
        if let Some(u) = self.usage {
            out.push(Event::Usage(u));
        }
        out.push(Event::Stop(self.stop.clone().unwrap_or(Stop::EndTurn)));
        self.done = true;
    }

    fn run(&mut self, run: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        for event in Events::new(run) {
            if self.done {
                break;
            }
            let Some(parsed) = parse_event(&event) else {
                continue;
            };
            if &parsed.data[..] == b"[DONE]" {
                self.end_turn(out);
                continue;
            }
            // A chunk that is not JSON is skipped, as the SDKs skip it.
            if let Ok(v) = serde_json::from_slice::<Value>(&parsed.data) {
                self.chunk(&v, out)?;
            }
        }
        Ok(())
    }
}

impl StreamDecoder for Decoder {
    fn push(&mut self, chunk: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        let run = self.splitter.push(chunk).map_err(|e| StreamFault {
            kind: ErrorKind::BadUpstream,
            message: format!("The provider sent an event larger than {} bytes", e.limit),
        })?;
        match run {
            Some(run) => self.run(run, out),
            None => Ok(()),
        }
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Ended {
        if let Some(partial) = self.splitter.take_partial() {
            let _ = self.run(partial, out);
        }
        if self.done {
            return Ended::Complete;
        }
        // Some servers end the body without `[DONE]`; a finish reason already said it all.
        if self.stop.is_some() {
            self.end_turn(out);
            return Ended::Complete;
        }
        Ended::Truncated
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::Stop;

    fn decode(input: &str, cuts: &[usize]) -> (Vec<Event>, Ended) {
        let mut d = Decoder::new(1 << 20);
        let mut out = Vec::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([input.len()].iter()) {
            d.push(Bytes::copy_from_slice(&input.as_bytes()[at..cut]), &mut out)
                .unwrap();
            at = cut;
        }
        let end = d.finish(&mut out);
        (out, end)
    }

    const TEXT: &str = concat!(
        "data: {\"id\":\"chatcmpl-X\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-X\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-X\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-X\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-X\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-X\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":100,\"total_tokens\":112,\"completion_tokens_details\":{\"reasoning_tokens\":90}}}\n\n",
        "data: [DONE]\n\n"
    );

    fn text_events() -> Vec<Event> {
        vec![
            Event::Start {
                id: "chatcmpl-X".into(),
                model: "gpt-x".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Thinking,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Thinking("hmm".into()),
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 1,
                delta: Delta::Text("Hel".into()),
            },
            Event::Delta {
                index: 1,
                delta: Delta::Text("lo".into()),
            },
            Event::BlockStop { index: 1 },
            Event::Usage(Usage {
                input_total: 12,
                output_total: 100,
                output_reasoning: 90,
                ..Usage::default()
            }),
            Event::Stop(Stop::MaxTokens),
        ]
    }

    #[test]
    fn a_text_stream_gives_the_same_events_however_it_is_split() {
        for cut in 0..=TEXT.len() {
            assert_eq!(
                decode(TEXT, &[cut]),
                (text_events(), Ended::Complete),
                "cut {cut}"
            );
        }
        let crlf = TEXT.replace("\n", "\r\n");
        assert_eq!(decode(&crlf, &[]), (text_events(), Ended::Complete));
    }

    #[test]
    fn interleaved_parallel_calls_come_out_whole_and_in_order() {
        let chunk = |d: &str| {
            format!("data: {{\"id\":\"c\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{d},\"finish_reason\":null}}]}}\n\n")
        };
        let input = [
            chunk(r#"{"content":"Checking."}"#),
            chunk(r#"{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"weather","arguments":""}}]}"#),
            chunk(r#"{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"weather","arguments":"{\"city\":"}}]}"#),
            chunk(r#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]}"#),
            chunk(r#"{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"","arguments":"\"Rome\"}"}}]}"#),
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}\n\n".to_string(),
        ]
        .concat();
        // No `[DONE]`: the finish reason is enough.
        let (events, end) = decode(&input, &[]);
        assert_eq!(end, Ended::Complete);
        let call = |index, id: &str, args: &str| {
            vec![
                Event::BlockStart {
                    index,
                    block: BlockKind::ToolCall {
                        id: id.into(),
                        name: "weather".into(),
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
        let mut expected = vec![
            Event::Start {
                id: "c".into(),
                model: "m".into(),
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
        ];
        expected.extend(call(1, "call_a", "{\"city\":\"Paris\"}"));
        expected.extend(call(2, "call_b", "{\"city\":\"Rome\"}"));
        expected.push(Event::Usage(Usage {
            input_total: 5,
            output_total: 7,
            ..Usage::default()
        }));
        expected.push(Event::Stop(Stop::ToolUse));
        assert_eq!(events, expected);
    }

    #[test]
    fn a_cut_stream_is_truncated_and_an_error_chunk_ends_it() {
        let cut = &TEXT[..TEXT
            .find("data: {\"id\":\"chatcmpl-X\",\"choices\":[{\"index\":0,\"delta\":{},")
            .unwrap()];
        assert_eq!(decode(cut, &[]).1, Ended::Truncated);
        let failed = "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
        let (events, end) = decode(failed, &[]);
        assert_eq!(end, Ended::Complete);
        assert_eq!(
            events.last(),
            Some(&Event::Error {
                kind: ErrorKind::BadUpstream,
                message: "overloaded".into()
            })
        );
        assert_eq!(events[events.len() - 2], Event::BlockStop { index: 0 });
    }

    #[test]
    fn tool_arguments_are_bounded() {
        let mut d = Decoder::new(120);
        let mut out = Vec::new();
        let piece = format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{{\"index\":0,\"function\":{{\"arguments\":\"{}\"}}}}]}}}}]}}\n\n", "x".repeat(40));
        for _ in 0..3 {
            d.push(Bytes::from(piece.clone()), &mut out).unwrap();
        }
        assert!(d.push(Bytes::from(piece), &mut out).is_err());
    }
}
