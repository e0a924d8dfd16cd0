//! A Responses provider's stream, read into internal events (reference: dialects.md §2.B,
//! §3.10 "A → B", §5.2, §6.2 "B→A").
//!
//! Each output item becomes blocks: a message gives a text block per content part, a reasoning
//! item one thinking block (its summary parts joined by blank lines), a call one tool-call
//! block. Deltas stream through as they come; the `.done` events and `output_item.done` are
//! read too, and whatever they hold beyond the deltas is emitted, because some servers put the
//! arguments or the text only there (openclaude #1259). Only counters are kept per open block,
//! never the text itself. A reasoning item's `encrypted_content` closes its thinking block as a
//! tagged signature (`ENCRYPTED_REASONING_TAG`), for clients that keep only signatures.

use super::answer::{item_blocks, stop_from, usage_from};
use super::errors::kind_from_code;
use super::items::tool_call;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{Block, BlockKind, Delta, Event, ENCRYPTED_REASONING_TAG};
use crate::dialect::sse::{parse_event, EventSplitter, Events};
use crate::dialect::stream::{Ended, StreamDecoder, StreamFault};
use bytes::Bytes;
use serde_json::Value;

/// Finished items remembered, so a late or repeated event for one is ignored; older ones are
/// forgotten (a provider would have to send thousands of items to reach it).
const REMEMBERED_ITEMS: usize = 4096;

/// Which output item an event is about: its `output_index`, or its id when a server leaves the
/// index out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemKey {
    output_index: Option<u64>,
    item_id: Option<String>,
}

impl ItemKey {
    fn of(event: &Value) -> ItemKey {
        ItemKey {
            output_index: event["output_index"].as_u64(),
            item_id: event["item_id"]
                .as_str()
                .or(event["item"]["id"].as_str())
                .map(str::to_string),
        }
    }

    fn matches(&self, other: &ItemKey) -> bool {
        match (self.output_index, other.output_index) {
            (Some(a), Some(b)) => a == b,
            _ => self.item_id.is_some() && self.item_id == other.item_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Call { custom: bool },
}

/// Which part of an item a text belongs to: (0, content or summary index), or (1, raw
/// reasoning content index).
type Piece = (u8, u64);

struct Open {
    index: usize,
    item: ItemKey,
    kind: Kind,
    piece: Piece,
    /// Bytes of the current piece already emitted: a `.done` event adds only what is beyond.
    emitted: usize,
    /// Some text was emitted in this block.
    any: bool,
}

/// Reads a Responses stream; see the module doc.
pub struct Decoder {
    splitter: EventSplitter,
    started: bool,
    next_index: usize,
    open: Option<Open>,
    /// Items that had a block opened.
    seen: Vec<ItemKey>,
    /// Items whose `output_item.done` has been read.
    finished: Vec<ItemKey>,
    calls: bool,
    done: bool,
}

/// `full` beyond its first `emitted` bytes, when that is a clean cut.
fn remainder(full: &str, emitted: usize) -> &str {
    match full.get(emitted..) {
        Some(rest) if emitted < full.len() => rest,
        _ => "",
    }
}

/// `s` escaped as the inside of a JSON string: the fragments of a custom tool's free-text
/// input become fragments of `{"input":"…"}`, which is what its calls carry (`tools.rs`).
fn escaped(s: &str) -> String {
    let quoted = Value::from(s).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn remember(list: &mut Vec<ItemKey>, key: ItemKey) {
    if list.len() >= REMEMBERED_ITEMS {
        list.remove(0);
    }
    list.push(key);
}

impl Decoder {
    /// `max_event` bounds one event's bytes.
    pub fn new(max_event: usize) -> Self {
        Decoder {
            splitter: EventSplitter::new(max_event),
            started: false,
            next_index: 0,
            open: None,
            seen: Vec::new(),
            finished: Vec::new(),
            calls: false,
            done: false,
        }
    }

    fn start(&mut self, response: &Value, out: &mut Vec<Event>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        out.push(Event::Start {
            id: response["id"].as_str().unwrap_or("").to_string(),
            model: response["model"].as_str().unwrap_or("").to_string(),
        });
    }

    fn is_finished(&self, key: &ItemKey) -> bool {
        self.finished.iter().any(|k| k.matches(key))
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        let Some(open) = self.open.take() else {
            return;
        };
        if open.kind == (Kind::Call { custom: true }) {
            out.push(Event::Delta {
                index: open.index,
                delta: Delta::ToolArguments("\"}".into()),
            });
        }
        out.push(Event::BlockStop { index: open.index });
    }

    fn open_block(
        &mut self,
        kind: Kind,
        block: BlockKind,
        item: &ItemKey,
        piece: Piece,
        out: &mut Vec<Event>,
    ) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(Event::BlockStart { index, block });
        if !self.seen.iter().any(|k| k.matches(item)) {
            remember(&mut self.seen, item.clone());
        }
        self.open = Some(Open {
            index,
            item: item.clone(),
            kind,
            piece,
            emitted: 0,
            any: false,
        });
        index
    }

    /// Text or reasoning for `item`: a delta, or (`done`) the whole piece, of which only what
    /// the deltas did not bring is emitted.
    fn text(
        &mut self,
        thinking: bool,
        item: &ItemKey,
        piece: Piece,
        text: &str,
        done: bool,
        out: &mut Vec<Event>,
    ) {
        if self.is_finished(item) {
            return;
        }
        let kind = if thinking { Kind::Thinking } else { Kind::Text };
        let same = self.open.as_ref().is_some_and(|o| {
            o.kind == kind && o.item.matches(item) && (thinking || o.piece == piece)
        });
        if !same {
            if text.is_empty() {
                return;
            }
            let block = if thinking {
                BlockKind::Thinking
            } else {
                BlockKind::Text
            };
            self.open_block(kind, block, item, piece, out);
        }
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if open.piece != piece {
            // The next summary part of the same reasoning item.
            if open.any && !text.is_empty() {
                out.push(Event::Delta {
                    index: open.index,
                    delta: Delta::Thinking("\n\n".into()),
                });
            }
            open.piece = piece;
            open.emitted = 0;
        }
        let new = if done {
            remainder(text, open.emitted)
        } else {
            text
        };
        if new.is_empty() {
            return;
        }
        open.emitted += new.len();
        open.any = true;
        let delta = if thinking {
            Delta::Thinking(new.to_string())
        } else {
            Delta::Text(new.to_string())
        };
        out.push(Event::Delta {
            index: open.index,
            delta,
        });
    }

    /// Arguments (or custom input) for the open call: a fragment, or (`done`) the whole.
    fn arguments(&mut self, item: &ItemKey, text: &str, done: bool, out: &mut Vec<Event>) {
        let Some(open) = self
            .open
            .as_mut()
            .filter(|o| matches!(o.kind, Kind::Call { .. }) && o.item.matches(item))
        else {
            return;
        };
        let new = if done {
            remainder(text, open.emitted)
        } else {
            text
        };
        if new.is_empty() {
            return;
        }
        open.emitted += new.len();
        let fragment = match open.kind {
            Kind::Call { custom: true } => escaped(new),
            _ => new.to_string(),
        };
        out.push(Event::Delta {
            index: open.index,
            delta: Delta::ToolArguments(fragment),
        });
    }

    fn start_call(&mut self, key: &ItemKey, item: &Value, out: &mut Vec<Event>) {
        if self.is_finished(key) {
            return;
        }
        let custom = item["type"] == "custom_tool_call";
        let mut item = item.clone();
        if item["call_id"].as_str().is_none_or(str::is_empty) {
            item["call_id"] = item["id"].clone();
        }
        // Without a name the call cannot start; `output_item.done` may still bring it whole.
        let Ok(call) = tool_call(&item, custom) else {
            return;
        };
        let block = BlockKind::ToolCall {
            id: call.id,
            name: call.name,
            extras: call.extras,
        };
        let index = self.open_block(Kind::Call { custom }, block, key, (0, 0), out);
        self.calls = true;
        if custom {
            out.push(Event::Delta {
                index,
                delta: Delta::ToolArguments("{\"input\":\"".into()),
            });
        }
        let initial = if custom {
            item["input"].as_str()
        } else {
            item["arguments"].as_str()
        };
        self.arguments(key, initial.unwrap_or(""), false, out);
    }

    /// An item given whole (by `output_item.done` or the terminal response) that no event
    /// streamed.
    fn whole_item(&mut self, key: &ItemKey, item: &Value, out: &mut Vec<Event>) {
        for block in item_blocks(item) {
            let (kind, start, delta) = match block {
                Block::Text { text, .. } => (Kind::Text, BlockKind::Text, Delta::Text(text)),
                Block::Thinking { text, .. } if !text.is_empty() => {
                    (Kind::Thinking, BlockKind::Thinking, Delta::Thinking(text))
                }
                Block::ToolCall(c) => {
                    self.calls = true;
                    let start = BlockKind::ToolCall {
                        id: c.id,
                        name: c.name,
                        extras: c.extras,
                    };
                    // Arguments as the internal representation wants them (custom: wrapped).
                    (
                        Kind::Call { custom: false },
                        start,
                        Delta::ToolArguments(c.arguments),
                    )
                }
                Block::RedactedThinking { data } => {
                    let start = BlockKind::RedactedThinking { data };
                    (Kind::Thinking, start, Delta::Thinking(String::new()))
                }
                _ => continue,
            };
            let index = self.open_block(kind, start, key, (0, 0), out);
            let empty = matches!(&delta, Delta::Text(t) | Delta::Thinking(t) | Delta::ToolArguments(t) if t.is_empty());
            if !empty {
                out.push(Event::Delta { index, delta });
            }
            self.close(out);
        }
    }

    fn item_done(&mut self, key: &ItemKey, item: &Value, out: &mut Vec<Event>) {
        if self.is_finished(key) {
            return;
        }
        let open_here = self.open.as_ref().is_some_and(|o| o.item.matches(key));
        if open_here {
            match item["type"].as_str() {
                Some("function_call") => {
                    self.arguments(key, item["arguments"].as_str().unwrap_or(""), true, out)
                }
                Some("custom_tool_call") => {
                    self.arguments(key, item["input"].as_str().unwrap_or(""), true, out)
                }
                Some("reasoning") => {
                    // A client that keeps only signatures carries the blob back that way. Only
                    // a thinking block takes one: a broken stream may end a reasoning item at
                    // the index of a call.
                    let blob = item["encrypted_content"].as_str().filter(|b| !b.is_empty());
                    let thinking = self
                        .open
                        .as_ref()
                        .filter(|o| matches!(o.kind, Kind::Thinking));
                    if let (Some(open), Some(blob)) = (thinking, blob) {
                        out.push(Event::Delta {
                            index: open.index,
                            delta: Delta::Signature(format!("{ENCRYPTED_REASONING_TAG}{blob}")),
                        });
                    }
                }
                Some("message") => {
                    if let Some(open) = &self.open {
                        let part = &item["content"][open.piece.1 as usize];
                        let text = part["text"].as_str().or(part["refusal"].as_str());
                        let piece = open.piece;
                        self.text(false, key, piece, text.unwrap_or(""), true, out);
                    }
                }
                _ => {}
            }
            self.close(out);
        } else if !self.seen.iter().any(|k| k.matches(key)) {
            self.whole_item(key, item, out);
        }
        remember(&mut self.finished, key.clone());
    }

    /// The terminal response: items no event brought, the usage, the stop reason.
    fn end(&mut self, response: &Value, out: &mut Vec<Event>) {
        self.close(out);
        self.start(response, out);
        for (i, item) in response["output"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let key = ItemKey {
                output_index: Some(i as u64),
                item_id: item["id"].as_str().map(str::to_string),
            };
            if !self.seen.iter().any(|k| k.matches(&key)) && !self.is_finished(&key) {
                self.whole_item(&key, item, out);
            }
        }
        if let Some(u) = usage_from(&response["usage"]) {
            out.push(Event::Usage(u));
        }
        out.push(Event::Stop(stop_from(response, self.calls)));
        self.done = true;
    }

    fn error(&mut self, error: &Value, out: &mut Vec<Event>) {
        self.close(out);
        let message = error["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("The provider failed while answering.")
            .to_string();
        out.push(Event::Error {
            kind: kind_from_code(error["code"].as_str()),
            message,
        });
        self.done = true;
    }

    fn event(&mut self, v: &Value, out: &mut Vec<Event>) {
        let ty = v["type"].as_str().unwrap_or("");
        if ty == "error" {
            self.start(&Value::Null, out);
            return self.error(v, out);
        }
        self.start(&v["response"], out);
        let key = ItemKey::of(v);
        let ci = v["content_index"].as_u64().unwrap_or(0);
        let text = |field: &str| v[field].as_str().unwrap_or("");
        match ty {
            "response.output_item.added" => {
                if matches!(
                    v["item"]["type"].as_str(),
                    Some("function_call" | "custom_tool_call")
                ) {
                    self.start_call(&key, &v["item"], out);
                }
            }
            "response.content_part.added" => {
                let part = &v["part"];
                let t = part["text"].as_str().or(part["refusal"].as_str());
                self.text(false, &key, (0, ci), t.unwrap_or(""), false, out);
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.text(false, &key, (0, ci), text("delta"), false, out)
            }
            "response.output_text.done" => self.text(false, &key, (0, ci), text("text"), true, out),
            "response.refusal.done" => self.text(false, &key, (0, ci), text("refusal"), true, out),
            "response.content_part.done" => {
                let part = &v["part"];
                let t = part["text"].as_str().or(part["refusal"].as_str());
                self.text(false, &key, (0, ci), t.unwrap_or(""), true, out);
                let here = self.open.as_ref().is_some_and(|o| {
                    o.kind == Kind::Text && o.item.matches(&key) && o.piece == (0, ci)
                });
                if here {
                    self.close(out);
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_summary_text.done" => {
                let si = v["summary_index"].as_u64().unwrap_or(0);
                let done = ty.ends_with(".done");
                let t = if done { text("text") } else { text("delta") };
                self.text(true, &key, (0, si), t, done, out);
            }
            "response.reasoning_text.delta" | "response.reasoning_text.done" => {
                let done = ty.ends_with(".done");
                let t = if done { text("text") } else { text("delta") };
                self.text(true, &key, (1, ci), t, done, out);
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                self.arguments(&key, text("delta"), false, out)
            }
            "response.function_call_arguments.done" => {
                self.arguments(&key, text("arguments"), true, out)
            }
            "response.custom_tool_call_input.done" => {
                self.arguments(&key, text("input"), true, out)
            }
            "response.output_item.done" => self.item_done(&key, &v["item"], out),
            "response.completed" | "response.incomplete" => self.end(&v["response"], out),
            "response.failed" => self.error(&v["response"]["error"], out),
            _ => {}
        }
    }

    fn run(&mut self, run: Bytes, out: &mut Vec<Event>) {
        for event in Events::new(run) {
            if self.done {
                break;
            }
            let Some(parsed) = parse_event(&event) else {
                continue;
            };
            // Non-JSON data (a `[DONE]` some servers add) is skipped, as Codex skips it.
            if let Ok(v) = serde_json::from_slice::<Value>(&parsed.data) {
                self.event(&v, out);
            }
        }
    }
}

impl StreamDecoder for Decoder {
    fn push(&mut self, chunk: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        let run = self.splitter.push(chunk).map_err(|e| StreamFault {
            kind: ErrorKind::BadUpstream,
            message: format!("The provider sent an event larger than {} bytes", e.limit),
        })?;
        if let Some(run) = run {
            self.run(run, out);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Ended {
        if let Some(partial) = self.splitter.take_partial() {
            self.run(partial, out);
        }
        if self.done {
            Ended::Complete
        } else {
            Ended::Truncated
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, Stop};
    use crate::dialect::usage::Usage;
    use serde_json::json;

    fn decode_in(input: &[u8], cuts: &[usize]) -> (Vec<Event>, Ended) {
        let mut d = Decoder::new(1 << 20);
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            d.push(Bytes::copy_from_slice(&input[at..c]), &mut out)
                .unwrap();
            at = c;
        }
        let ended = d.finish(&mut out);
        (out, ended)
    }

    fn frame(events: &[Value], sep: &str) -> String {
        events
            .iter()
            .map(|e| {
                let ty = e["type"].as_str().unwrap();
                format!("event: {ty}{sep}data: {e}{sep}{sep}")
            })
            .collect()
    }

    #[test]
    fn a_reasoning_item_ended_at_a_calls_index_gives_the_call_no_signature() {
        let events = [
            json!({"type":"response.created","response":{"id":"r","model":"m","output":[]}}),
            json!({"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"c","name":"f","arguments":""}}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"}}),
        ];
        let stream: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        let mut d = Decoder::new(1 << 20);
        let mut out = Vec::new();
        d.push(Bytes::from(stream), &mut out).unwrap();
        assert!(
            !out.iter().any(|e| matches!(
                e,
                Event::Delta {
                    delta: Delta::Signature(_),
                    ..
                }
            )),
            "{out:?}"
        );
    }

    /// A reasoning item, a message, a function call and a custom call, as OpenAI streams them.
    fn transcript() -> Vec<Value> {
        let resp = |status: &str, output: Value, usage: Value| json!({"id":"resp_A","object":"response","status":status,"model":"gpt-5","output":output,"usage":usage});
        let rs = json!({"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"Plan it."},{"type":"summary_text","text":"Then act."}],"encrypted_content":"gAAA"});
        let msg = json!({"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"Héllo ✓"}]});
        let fc = json!({"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"location\":\"Paris\"}","call_id":"call_1","name":"get_weather"});
        let ctc = json!({"id":"ctc_1","type":"custom_tool_call","status":"completed","call_id":"call_2","name":"apply_patch","input":"*** Begin \"Patch\"\n"});
        let mut ev = vec![
            json!({"type":"response.created","response":resp("in_progress",json!([]),Value::Null)}),
            json!({"type":"response.in_progress","response":resp("in_progress",json!([]),Value::Null)}),
            json!({"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}),
            json!({"type":"response.reasoning_summary_part.added","item_id":"rs_1","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}),
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs_1","output_index":0,"summary_index":0,"delta":"Plan it."}),
            json!({"type":"response.reasoning_summary_text.done","item_id":"rs_1","output_index":0,"summary_index":0,"text":"Plan it."}),
            json!({"type":"response.reasoning_summary_part.done","item_id":"rs_1","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":"Plan it."}}),
            json!({"type":"response.reasoning_summary_part.added","item_id":"rs_1","output_index":0,"summary_index":1,"part":{"type":"summary_text","text":""}}),
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs_1","output_index":0,"summary_index":1,"delta":"Then act."}),
            json!({"type":"response.output_item.done","output_index":0,"item":rs}),
            json!({"type":"response.output_item.added","output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}),
            json!({"type":"response.content_part.added","item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}}),
            json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":1,"content_index":0,"delta":"Héllo","logprobs":[]}),
            json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":1,"content_index":0,"delta":" ✓","logprobs":[]}),
            json!({"type":"response.output_text.done","item_id":"msg_1","output_index":1,"content_index":0,"text":"Héllo ✓","logprobs":[]}),
            json!({"type":"response.content_part.done","item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":"Héllo ✓"}}),
            json!({"type":"response.output_item.done","output_index":1,"item":msg}),
            json!({"type":"response.output_item.added","output_index":2,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"get_weather"}}),
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"{\"location\":"}),
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"\"Paris\"}"}),
            json!({"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":2,"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}),
            json!({"type":"response.output_item.done","output_index":2,"item":fc}),
            json!({"type":"response.output_item.added","output_index":3,"item":{"id":"ctc_1","type":"custom_tool_call","status":"in_progress","call_id":"call_2","name":"apply_patch","input":""}}),
            json!({"type":"response.custom_tool_call_input.delta","item_id":"ctc_1","output_index":3,"delta":"*** Begin \"Pa"}),
            json!({"type":"response.custom_tool_call_input.delta","item_id":"ctc_1","output_index":3,"delta":"tch\"\n"}),
            json!({"type":"response.custom_tool_call_input.done","item_id":"ctc_1","output_index":3,"input":"*** Begin \"Patch\"\n"}),
            json!({"type":"response.output_item.done","output_index":3,"item":ctc}),
            json!({"type":"response.completed","response":resp("completed",json!([rs,msg,fc,ctc]),
                json!({"input_tokens":37,"input_tokens_details":{"cached_tokens":5},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":48}))}),
        ];
        for (i, e) in ev.iter_mut().enumerate() {
            e["sequence_number"] = json!(i);
        }
        ev
    }

    fn expected() -> Vec<Event> {
        let d = |index, delta| Event::Delta { index, delta };
        vec![
            Event::Start {
                id: "resp_A".into(),
                model: "gpt-5".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Thinking,
            },
            d(0, Delta::Thinking("Plan it.".into())),
            d(0, Delta::Thinking("\n\n".into())),
            d(0, Delta::Thinking("Then act.".into())),
            // The encrypted blob, for clients that keep only signatures.
            d(0, Delta::Signature("tollgate.openai-reasoning:gAAA".into())),
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::Text,
            },
            d(1, Delta::Text("Héllo".into())),
            d(1, Delta::Text(" ✓".into())),
            Event::BlockStop { index: 1 },
            Event::BlockStart {
                index: 2,
                block: BlockKind::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    extras: Extras::new(),
                },
            },
            d(2, Delta::ToolArguments("{\"location\":".into())),
            d(2, Delta::ToolArguments("\"Paris\"}".into())),
            Event::BlockStop { index: 2 },
            Event::BlockStart {
                index: 3,
                block: BlockKind::ToolCall {
                    id: "call_2".into(),
                    name: "apply_patch".into(),
                    extras: [("type".to_string(), json!("custom"))]
                        .into_iter()
                        .collect(),
                },
            },
            d(3, Delta::ToolArguments("{\"input\":\"".into())),
            d(3, Delta::ToolArguments("*** Begin \\\"Pa".into())),
            d(3, Delta::ToolArguments("tch\\\"\\n".into())),
            d(3, Delta::ToolArguments("\"}".into())),
            Event::BlockStop { index: 3 },
            Event::Usage(Usage {
                input_total: 37,
                input_cache_read: 5,
                input_cache_write: 0,
                output_total: 11,
                output_reasoning: 4,
            }),
            Event::Stop(Stop::ToolUse),
        ]
    }

    #[test]
    fn a_transcript_decodes_the_same_at_every_split_point() {
        let want = expected();
        for sep in ["\n", "\r\n"] {
            let input = frame(&transcript(), sep);
            let input = input.as_bytes();
            assert_eq!(decode_in(input, &[]), (want.clone(), Ended::Complete));
            for cut in 0..=input.len() {
                assert_eq!(
                    decode_in(input, &[cut]),
                    (want.clone(), Ended::Complete),
                    "cut at {cut} ({sep:?})"
                );
            }
        }
        // The custom call's fragments join into the arguments every dialect expects.
        let args: String = want
            .iter()
            .filter_map(|e| match e {
                Event::Delta {
                    index: 3,
                    delta: Delta::ToolArguments(a),
                } => Some(a.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            super::super::tools::custom_input(&args),
            "*** Begin \"Patch\"\n"
        );
    }

    #[test]
    fn arguments_and_text_given_only_in_done_events_are_not_lost() {
        let ev = [
            json!({"type":"response.created","response":{"id":"resp_B","model":"m"}}),
            json!({"type":"response.output_item.added","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":""}}),
            json!({"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":0,"arguments":"{\"a\":1}"}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}}),
            // An item announced by nothing but its `done`.
            json!({"type":"response.output_item.done","output_index":1,"item":{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"output_text","text":"ok"}]}}),
            json!({"type":"response.completed","response":{"id":"resp_B","status":"completed","output":[]}}),
        ];
        let (events, ended) = decode_in(frame(&ev, "\n").as_bytes(), &[]);
        assert_eq!(ended, Ended::Complete);
        assert_eq!(
            &events[1..],
            &[
                Event::BlockStart {
                    index: 0,
                    block: BlockKind::ToolCall {
                        id: "call_1".into(),
                        name: "f".into(),
                        extras: Extras::new()
                    }
                },
                Event::Delta {
                    index: 0,
                    delta: Delta::ToolArguments("{\"a\":1}".into())
                },
                Event::BlockStop { index: 0 },
                Event::BlockStart {
                    index: 1,
                    block: BlockKind::Text
                },
                Event::Delta {
                    index: 1,
                    delta: Delta::Text("ok".into())
                },
                Event::BlockStop { index: 1 },
                Event::Stop(Stop::ToolUse),
            ]
        );
    }

    #[test]
    fn a_terminal_event_alone_still_gives_the_answer() {
        let ev = [
            json!({"type":"response.incomplete","response":{"id":"resp_C","model":"m","status":"incomplete",
            "incomplete_details":{"reason":"max_output_tokens"},
            "output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hel"}]}]}}),
        ];
        let (events, _) = decode_in(frame(&ev, "\n").as_bytes(), &[]);
        assert_eq!(
            events,
            vec![
                Event::Start {
                    id: "resp_C".into(),
                    model: "m".into()
                },
                Event::BlockStart {
                    index: 0,
                    block: BlockKind::Text
                },
                Event::Delta {
                    index: 0,
                    delta: Delta::Text("Hel".into())
                },
                Event::BlockStop { index: 0 },
                Event::Stop(Stop::MaxTokens),
            ]
        );
    }

    #[test]
    fn failures_end_the_stream_with_an_error_in_place_of_stop() {
        let created = json!({"type":"response.created","response":{"id":"resp_D","model":"m"}});
        let delta = json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"});
        let failed = json!({"type":"response.failed","response":{"id":"resp_D","status":"failed",
            "error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 2s."}}});
        let (events, ended) = decode_in(
            frame(&[created.clone(), delta.clone(), failed], "\n").as_bytes(),
            &[],
        );
        assert_eq!(ended, Ended::Complete);
        assert_eq!(
            &events[3..],
            &[
                Event::BlockStop { index: 0 },
                Event::Error {
                    kind: ErrorKind::RateLimited,
                    message: "Rate limit reached. Please try again in 2s.".into()
                }
            ]
        );
        let error = json!({"type":"error","code":"server_error","message":"boom","param":null});
        let (events, _) = decode_in(frame(&[created.clone(), error], "\n").as_bytes(), &[]);
        assert_eq!(
            events.last(),
            Some(&Event::Error {
                kind: ErrorKind::BadUpstream,
                message: "boom".into()
            })
        );
        // Cut before the terminal event: truncated, nothing invented.
        let (events, ended) = decode_in(frame(&[created, delta], "\n").as_bytes(), &[]);
        assert_eq!(ended, Ended::Truncated);
        assert!(!events.iter().any(|e| matches!(e, Event::Stop(_))));
    }

    #[test]
    fn a_last_event_without_its_blank_line_and_noise_between_events() {
        let input = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n\
: keep-alive\n\ndata: [DONE]\n\ndata: {not json}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\",\"output\":[]}}";
        let (events, ended) = decode_in(input.as_bytes(), &[]);
        assert_eq!(ended, Ended::Complete);
        assert_eq!(events.last(), Some(&Event::Stop(Stop::EndTurn)));
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut d = Decoder::new(16);
        let mut out = Vec::new();
        assert!(d
            .push(Bytes::from_static(b"data: 0123456789abcdef"), &mut out)
            .is_err());
    }
}
