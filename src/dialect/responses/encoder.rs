//! Internal events written as a Responses client's stream (reference: dialects.md §2.B, §3.9
//! "Stream translation", §5.6, §6.2 "A→B").

use super::answer::{call_item, message_item, output_text, response_id, status_for, Envelope};
use super::errors::code_for;
use super::reasoning;
use super::tools::{custom_input, CallShape, ClientTools};
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{BlockKind, Delta, Event, Stop};
use crate::dialect::stream::StreamEncoder;
use crate::dialect::usage::Usage;
use bytes::{BufMut, BytesMut};
use serde_json::{json, Map, Value};

/// What the open output item is.
enum Kind {
    Message,
    Reasoning,
    Redacted(String),
    Call { call_id: String, shape: CallShape },
}

/// The output item being streamed, for one internal block.
struct OpenItem {
    block: usize,
    output_index: usize,
    item_id: String,
    kind: Kind,
    /// The text, reasoning or arguments so far: the `.done` events and the final item carry it
    /// whole (Codex takes items from `output_item.done` only).
    text: String,
    signature: String,
    summary_open: bool,
}

/// Writes the event grammar of §2.B: `response.created` and `response.in_progress` first, each
/// block as one output item (added, its parts and deltas, the `.done` events, done), every
/// event with a `sequence_number`, and always a terminal event carrying the whole response:
/// `response.completed`, `response.incomplete` (max tokens, content filter) or, after `error`,
/// `response.failed`.
pub struct Encoder {
    model: String,
    created: u64,
    tools: ClientTools,
    id: String,
    seq: u64,
    started: bool,
    /// The terminal event has been written: nothing more is.
    ended: bool,
    output: Vec<Value>,
    open: Option<OpenItem>,
    usage: Option<Usage>,
    stop: Option<Stop>,
}

impl Encoder {
    /// `model` is the name the client asked for; `created` the Unix time to stamp the response.
    pub fn new(model: &str, created: u64) -> Self {
        Encoder {
            model: model.to_string(),
            created,
            tools: ClientTools::default(),
            id: String::new(),
            seq: 0,
            started: false,
            ended: false,
            output: Vec::new(),
            open: None,
            usage: None,
            stop: None,
        }
    }

    /// The client's tools (from its decoded request), so calls of its custom and namespaced
    /// tools stream back in the shape it declared them.
    pub fn with_tools(mut self, tools: ClientTools) -> Self {
        self.tools = tools;
        self
    }

    fn env(&self) -> Envelope<'_> {
        Envelope {
            id: &self.id,
            created: self.created,
            model: &self.model,
        }
    }

    /// Writes one event: `type` first, `sequence_number` last.
    fn emit(&mut self, ty: &str, fields: Value, out: &mut BytesMut) {
        let mut event = Map::new();
        event.insert("type".into(), json!(ty));
        if let Value::Object(fields) = fields {
            event.extend(fields);
        }
        event.insert("sequence_number".into(), json!(self.seq));
        self.seq += 1;
        out.put_slice(b"event: ");
        out.put_slice(ty.as_bytes());
        out.put_slice(b"\ndata: ");
        out.put_slice(Value::Object(event).to_string().as_bytes());
        out.put_slice(b"\n\n");
    }

    fn start(&mut self, id: &str, out: &mut BytesMut) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        self.id = response_id(id, self.created);
        let snapshot = self
            .env()
            .object("in_progress", Vec::new(), None, None, None);
        self.emit(
            "response.created",
            json!({ "response": snapshot.clone() }),
            out,
        );
        self.emit("response.in_progress", json!({ "response": snapshot }), out);
    }

    fn open(&mut self, block: usize, kind: &BlockKind, out: &mut BytesMut) {
        self.close(out);
        let output_index = self.output.len();
        let (kind, item_id, item) = match kind {
            BlockKind::Text => {
                let id = self.env().item_id("msg", output_index);
                let item = json!({"id": id, "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []});
                (Kind::Message, id, item)
            }
            BlockKind::Thinking => {
                let id = self.env().item_id("rs", output_index);
                let item = json!({"id": id, "type": "reasoning", "summary": []});
                (Kind::Reasoning, id, item)
            }
            BlockKind::RedactedThinking { data } => {
                let id = self.env().item_id("rs", output_index);
                let item = json!({"id": id, "type": "reasoning", "summary": []});
                (Kind::Redacted(data.clone()), id, item)
            }
            BlockKind::ToolCall { id, name, extras } => {
                let shape = self.tools.shape(name, extras);
                let item = call_item(id, &shape, "", "in_progress");
                let item_id = item["id"].as_str().unwrap_or_default().to_string();
                let kind = Kind::Call {
                    call_id: id.clone(),
                    shape,
                };
                (kind, item_id, item)
            }
        };
        self.emit(
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
            out,
        );
        if matches!(kind, Kind::Message) {
            self.emit(
                "response.content_part.added",
                json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                    "part": output_text("")}),
                out,
            );
        }
        self.open = Some(OpenItem {
            block,
            output_index,
            item_id,
            kind,
            text: String::new(),
            signature: String::new(),
            summary_open: false,
        });
    }

    fn delta(&mut self, block: usize, delta: &Delta, out: &mut BytesMut) {
        let Some(open) = self.open.as_mut().filter(|o| o.block == block) else {
            return;
        };
        let (item_id, output_index) = (open.item_id.clone(), open.output_index);
        let at = json!({"item_id": item_id, "output_index": output_index});
        match (&open.kind, delta) {
            (Kind::Message, Delta::Text(t)) if !t.is_empty() => {
                open.text.push_str(t);
                self.emit(
                    "response.output_text.delta",
                    with(at, json!({"content_index": 0, "delta": t, "logprobs": []})),
                    out,
                );
            }
            (Kind::Reasoning, Delta::Thinking(t)) if !t.is_empty() => {
                open.text.push_str(t);
                let first = !std::mem::replace(&mut open.summary_open, true);
                if first {
                    self.emit(
                        "response.reasoning_summary_part.added",
                        with(
                            at.clone(),
                            json!({"summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
                        ),
                        out,
                    );
                }
                self.emit(
                    "response.reasoning_summary_text.delta",
                    with(at, json!({"summary_index": 0, "delta": t})),
                    out,
                );
            }
            (Kind::Reasoning, Delta::Signature(s)) => open.signature.push_str(s),
            (Kind::Call { shape, .. }, Delta::ToolArguments(a)) if !a.is_empty() => {
                open.text.push_str(a);
                // A custom tool's input is the `input` inside the arguments: it can only be
                // told once they are whole, so it is written at the end.
                if !shape.custom {
                    self.emit(
                        "response.function_call_arguments.delta",
                        with(at, json!({ "delta": a })),
                        out,
                    );
                }
            }
            _ => {}
        }
    }

    /// Finishes the open item: its `.done` events, and the item into the output.
    fn close(&mut self, out: &mut BytesMut) {
        let Some(open) = self.open.take() else {
            return;
        };
        let at = json!({"item_id": open.item_id, "output_index": open.output_index});
        let item = match open.kind {
            Kind::Message => {
                self.emit(
                    "response.output_text.done",
                    with(
                        at.clone(),
                        json!({"content_index": 0, "text": open.text, "logprobs": []}),
                    ),
                    out,
                );
                self.emit(
                    "response.content_part.done",
                    with(
                        at,
                        json!({"content_index": 0, "part": output_text(&open.text)}),
                    ),
                    out,
                );
                message_item(&open.item_id, &open.text)
            }
            Kind::Reasoning => {
                if open.summary_open {
                    self.emit(
                        "response.reasoning_summary_text.done",
                        with(at.clone(), json!({"summary_index": 0, "text": open.text})),
                        out,
                    );
                    self.emit(
                        "response.reasoning_summary_part.done",
                        with(
                            at,
                            json!({"summary_index": 0,
                                "part": {"type": "summary_text", "text": open.text}}),
                        ),
                        out,
                    );
                }
                let signature = (!open.signature.is_empty()).then_some(open.signature.as_str());
                reasoning::output_item(&open.item_id, &open.text, signature, &Map::new())
            }
            Kind::Redacted(data) => reasoning::redacted_item(&open.item_id, &data),
            Kind::Call { call_id, shape } => {
                if shape.custom {
                    let input = custom_input(&open.text);
                    if !input.is_empty() {
                        self.emit(
                            "response.custom_tool_call_input.delta",
                            with(at.clone(), json!({ "delta": input })),
                            out,
                        );
                    }
                    self.emit(
                        "response.custom_tool_call_input.done",
                        with(at, json!({ "input": input })),
                        out,
                    );
                    call_item(&call_id, &shape, &input, "completed")
                } else {
                    self.emit(
                        "response.function_call_arguments.done",
                        with(at, json!({"name": shape.name, "arguments": open.text})),
                        out,
                    );
                    call_item(&call_id, &shape, &open.text, "completed")
                }
            }
        };
        self.emit(
            "response.output_item.done",
            json!({"output_index": open.output_index, "item": item}),
            out,
        );
        self.output.push(item);
    }
}

/// `a`'s members followed by `b`'s.
fn with(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            a.extend(b);
            Value::Object(a)
        }
        (a, _) => a,
    }
}

impl StreamEncoder for Encoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        if !self.started {
            let id = match event {
                Event::Start { id, .. } => id.as_str(),
                _ => "",
            };
            self.start(id, out);
        }
        match event {
            Event::Start { .. } => {}
            Event::BlockStart { index, block } => self.open(*index, block, out),
            Event::Delta { index, delta } => self.delta(*index, delta, out),
            Event::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|o| o.block == *index) {
                    self.close(out);
                }
            }
            Event::Usage(u) => self.usage = Some(*u),
            // The terminal event waits for `finish`: usage may still follow the stop.
            Event::Stop(stop) => {
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
        let Some(stop) = self.stop.clone() else {
            // Ending well means a stop reason came; without one the answer may be cut.
            self.fail(
                ErrorKind::BadUpstream,
                "The provider's stream ended without saying why it stopped.",
                out,
            );
            return;
        };
        self.ended = true;
        self.start("", out);
        self.close(out);
        let (status, incomplete) = status_for(&stop);
        let output = std::mem::take(&mut self.output);
        let response = self
            .env()
            .object(status, output, self.usage.as_ref(), incomplete, None);
        let ty = if incomplete.is_some() {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(ty, json!({ "response": response }), out);
    }

    /// An `error` event, then `response.failed` with the items that were finished. An item
    /// still open is left out: Codex acts on every `output_item.done`, and a half-streamed
    /// call must not run.
    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.start("", out);
        self.open = None;
        let code = code_for(kind);
        self.emit(
            "error",
            json!({"code": code, "message": message, "param": null}),
            out,
        );
        let output = std::mem::take(&mut self.output);
        let error = json!({"code": code, "message": message});
        let response = self
            .env()
            .object("failed", output, self.usage.as_ref(), None, Some(error));
        self.emit("response.failed", json!({ "response": response }), out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::Extras;

    fn encode(e: &mut Encoder, events: &[Event]) -> String {
        let mut out = BytesMut::new();
        for ev in events {
            e.push(ev, &mut out);
        }
        e.finish(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    /// The Response object as the encoder writes it, for `id` "resp_1", created 7.
    fn response(status: &str, output: &str, usage: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"resp_1","object":"response","created_at":7,"status":"{status}","error":{err},"incomplete_details":{inc},"instructions":null,"max_output_tokens":null,"model":"client-model","output":[{output}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{{"effort":null,"summary":null}},"store":false,"temperature":null,"text":{{"format":{{"type":"text"}}}},"tool_choice":"auto","tools":[],"top_p":null,"truncation":"disabled","usage":{usage},"user":null,"metadata":{{}}}}"#,
            err = if status == "failed" { extra } else { "null" },
            inc = if status == "incomplete" {
                extra
            } else {
                "null"
            },
        )
    }

    fn sse(lines: &[(&str, String)]) -> String {
        lines
            .iter()
            .map(|(ty, data)| format!("event: {ty}\ndata: {data}\n\n"))
            .collect()
    }

    const USAGE: &str = r#"{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}"#;

    fn start() -> Event {
        Event::Start {
            id: "resp_1".into(),
            model: "upstream".into(),
        }
    }

    #[test]
    fn a_text_answer_streams_in_the_exact_grammar() {
        let events = [
            start(),
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
                delta: Delta::Text(" there!".into()),
            },
            Event::BlockStop { index: 0 },
            Event::Stop(Stop::EndTurn),
            Event::Usage(Usage {
                input_total: 37,
                output_total: 11,
                ..Usage::default()
            }),
        ];
        let snapshot = response("in_progress", "", "null", "");
        let item = r#"{"id":"msg_1_0","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"Hi there!"}]}"#;
        let expected = sse(&[
            ("response.created", format!(r#"{{"type":"response.created","response":{snapshot},"sequence_number":0}}"#)),
            ("response.in_progress", format!(r#"{{"type":"response.in_progress","response":{snapshot},"sequence_number":1}}"#)),
            ("response.output_item.added", r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1_0","type":"message","status":"in_progress","role":"assistant","content":[]},"sequence_number":2}"#.into()),
            ("response.content_part.added", r#"{"type":"response.content_part.added","item_id":"msg_1_0","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""},"sequence_number":3}"#.into()),
            ("response.output_text.delta", r#"{"type":"response.output_text.delta","item_id":"msg_1_0","output_index":0,"content_index":0,"delta":"Hi","logprobs":[],"sequence_number":4}"#.into()),
            ("response.output_text.delta", r#"{"type":"response.output_text.delta","item_id":"msg_1_0","output_index":0,"content_index":0,"delta":" there!","logprobs":[],"sequence_number":5}"#.into()),
            ("response.output_text.done", r#"{"type":"response.output_text.done","item_id":"msg_1_0","output_index":0,"content_index":0,"text":"Hi there!","logprobs":[],"sequence_number":6}"#.into()),
            ("response.content_part.done", r#"{"type":"response.content_part.done","item_id":"msg_1_0","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":"Hi there!"},"sequence_number":7}"#.into()),
            ("response.output_item.done", format!(r#"{{"type":"response.output_item.done","output_index":0,"item":{item},"sequence_number":8}}"#)),
            ("response.completed", format!(r#"{{"type":"response.completed","response":{},"sequence_number":9}}"#, response("completed", item, USAGE, ""))),
        ]);
        let got = encode(&mut Encoder::new("client-model", 7), &events);
        assert_eq!(got, expected);
    }

    #[test]
    fn a_tool_call_streams_deltas_and_the_whole_call_in_done() {
        let events = [
            start(),
            Event::BlockStart {
                index: 0,
                block: BlockKind::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    extras: Extras::new(),
                },
            },
            Event::Delta {
                index: 0,
                delta: Delta::ToolArguments("{\"location\":".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::ToolArguments("\"Paris\"}".into()),
            },
            Event::BlockStop { index: 0 },
            Event::Usage(Usage {
                input_total: 37,
                output_total: 11,
                ..Usage::default()
            }),
            Event::Stop(Stop::ToolUse),
        ];
        let item = r#"{"id":"fc_call_1","type":"function_call","status":"completed","arguments":"{\"location\":\"Paris\"}","call_id":"call_1","name":"get_weather"}"#;
        let got = encode(&mut Encoder::new("client-model", 7), &events);
        let snapshot = response("in_progress", "", "null", "");
        let expected = sse(&[
            ("response.created", format!(r#"{{"type":"response.created","response":{snapshot},"sequence_number":0}}"#)),
            ("response.in_progress", format!(r#"{{"type":"response.in_progress","response":{snapshot},"sequence_number":1}}"#)),
            ("response.output_item.added", r#"{"type":"response.output_item.added","output_index":0,"item":{"id":"fc_call_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"get_weather"},"sequence_number":2}"#.into()),
            ("response.function_call_arguments.delta", r#"{"type":"response.function_call_arguments.delta","item_id":"fc_call_1","output_index":0,"delta":"{\"location\":","sequence_number":3}"#.into()),
            ("response.function_call_arguments.delta", r#"{"type":"response.function_call_arguments.delta","item_id":"fc_call_1","output_index":0,"delta":"\"Paris\"}","sequence_number":4}"#.into()),
            ("response.function_call_arguments.done", r#"{"type":"response.function_call_arguments.done","item_id":"fc_call_1","output_index":0,"name":"get_weather","arguments":"{\"location\":\"Paris\"}","sequence_number":5}"#.into()),
            ("response.output_item.done", format!(r#"{{"type":"response.output_item.done","output_index":0,"item":{item},"sequence_number":6}}"#)),
            ("response.completed", format!(r#"{{"type":"response.completed","response":{},"sequence_number":7}}"#, response("completed", item, USAGE, ""))),
        ]);
        assert_eq!(got, expected);
    }

    fn data_of(stream: &str) -> Vec<Value> {
        stream
            .split("\n\n")
            .filter_map(|e| e.split_once("\ndata: "))
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn thinking_custom_calls_and_namespaces_take_the_clients_shapes() {
        let req = crate::dialect::ir::Request {
            tools: super::super::tools::decode_tools(&json!([
                {"type":"custom","name":"apply_patch"},
                {"type":"namespace","name":"agents","description":"d","tools":[{"type":"function","name":"spawn"}]}
            ]))
            .unwrap(),
            ..Default::default()
        };
        let mut e = Encoder::new("client-model", 7).with_tools(ClientTools::from_request(&req));
        let events = [
            Event::Start {
                id: "msg_9".into(),
                model: "claude".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Thinking,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Thinking("Plan".into()),
            },
            Event::Delta {
                index: 0,
                delta: Delta::Signature("sig".into()),
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::ToolCall {
                    id: "toolu_1".into(),
                    name: "apply_patch".into(),
                    extras: Extras::new(),
                },
            },
            Event::Delta {
                index: 1,
                delta: Delta::ToolArguments("{\"input\":\"*** Begin".into()),
            },
            Event::Delta {
                index: 1,
                delta: Delta::ToolArguments(" Patch\"}".into()),
            },
            Event::BlockStop { index: 1 },
            Event::BlockStart {
                index: 2,
                block: BlockKind::ToolCall {
                    id: "toolu_2".into(),
                    name: "agents__spawn".into(),
                    extras: Extras::new(),
                },
            },
            Event::BlockStop { index: 2 },
            Event::Stop(Stop::ToolUse),
        ];
        let got = data_of(&encode(&mut e, &events));
        let types: Vec<_> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let seqs: Vec<_> = got
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..16).collect::<Vec<_>>());
        assert_eq!(
            got[7]["item"],
            json!({"id":"rs_msg_9_0","type":"reasoning","summary":[{"type":"summary_text","text":"Plan"}],
                "encrypted_content":"tollgate.signature:sig"})
        );
        assert_eq!(
            got[11]["item"],
            json!({"id":"ctc_toolu_1","type":"custom_tool_call","status":"completed",
                "call_id":"toolu_1","name":"apply_patch","input":"*** Begin Patch"})
        );
        assert_eq!(
            got[14]["item"],
            json!({"id":"fc_toolu_2","type":"function_call","status":"completed","arguments":"",
                "call_id":"toolu_2","name":"spawn","namespace":"agents"})
        );
        assert_eq!(got[15]["response"]["id"], "resp_msg_9");
        assert_eq!(got[15]["response"]["output"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn max_tokens_ends_with_response_incomplete() {
        let events = [
            start(),
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("Hel".into()),
            },
            Event::BlockStop { index: 0 },
            Event::Stop(Stop::MaxTokens),
        ];
        let got = data_of(&encode(&mut Encoder::new("client-model", 7), &events));
        let last = got.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["status"], "incomplete");
        assert_eq!(
            last["response"]["incomplete_details"],
            json!({"reason":"max_output_tokens"})
        );
    }

    #[test]
    fn a_failure_writes_error_then_response_failed_without_the_open_item() {
        let mut e = Encoder::new("client-model", 7);
        let mut out = BytesMut::new();
        for ev in [
            start(),
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
            Event::Delta {
                index: 0,
                delta: Delta::Text("Hi".into()),
            },
            Event::BlockStop { index: 0 },
            Event::BlockStart {
                index: 1,
                block: BlockKind::ToolCall {
                    id: "call_1".into(),
                    name: "rm".into(),
                    extras: Extras::new(),
                },
            },
            Event::Delta {
                index: 1,
                delta: Delta::ToolArguments("{\"path\":\"/".into()),
            },
        ] {
            e.push(&ev, &mut out);
        }
        let before = out.len();
        e.fail(
            ErrorKind::RateLimited,
            "Rate limit reached. Please try again in 3s.",
            &mut out,
        );
        e.finish(&mut out);
        e.fail(ErrorKind::Internal, "again", &mut out);
        let tail = String::from_utf8(out[before..].to_vec()).unwrap();
        let item = r#"{"id":"msg_1_0","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"Hi"}]}"#;
        let expected = sse(&[
            ("error", r#"{"type":"error","code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 3s.","param":null,"sequence_number":10}"#.into()),
            ("response.failed", format!(r#"{{"type":"response.failed","response":{},"sequence_number":11}}"#,
                response("failed", item, "null", r#"{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 3s."}"#))),
        ]);
        assert_eq!(tail, expected);
    }

    #[test]
    fn an_error_event_or_a_stream_without_stop_fails_even_before_start() {
        let got = encode(
            &mut Encoder::new("client-model", 7),
            &[Event::Error {
                kind: ErrorKind::BadUpstream,
                message: "upstream broke".into(),
            }],
        );
        let got = data_of(&got);
        let types: Vec<_> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.in_progress",
                "error",
                "response.failed"
            ]
        );
        assert_eq!(got[0]["response"]["id"], "resp_7");
        let got = data_of(&encode(&mut Encoder::new("m", 7), &[start()]));
        assert_eq!(got.last().unwrap()["type"], "response.failed");
    }
}
