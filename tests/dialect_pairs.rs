//! Every client dialect against every provider dialect, same-dialect pairs included, through
//! the codecs alone: no servers (reference: dialects.md §6, §6.1, §6.2).
//!
//! For each pair:
//! * the canonical requests T1 and T3 go client → IR → provider and must be exactly what the
//!   provider's dialect wants;
//! * a provider's text answer and tool-call answer go provider → IR → client and must be exactly
//!   what the client's dialect wants, and the call must come back to the provider on the next
//!   turn as the same call, whatever the client did to its id;
//! * a provider's streams (text; text then a call; with usage) go through a [`Converter`] in
//!   small pieces and must come out in the client's own grammar, ending in its terminal event,
//!   and read back with the client's own decoder as what the provider said;
//! * a cut provider stream, and one the provider ends with an error, must end in the client's
//!   error form, never a clean finish.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pairs;

use pairs::*;
use serde_json::{json, Value};
use tollgate::dialect::errors::ErrorKind;
use tollgate::dialect::ir::{Block, BlockKind, Delta, Event, Request, Stop};
use tollgate::dialect::stream::{Ended, StreamEnd};
use tollgate::dialect::usage::Usage;
use tollgate::dialect::Dialect;

// ---------------------------------------------------------------------------------------------
// Client requests: T1 and T3 (reference §6, §6.1).
// ---------------------------------------------------------------------------------------------

const RESULT: &str = r#"{"temp_c":18}"#;

/// T1: one user text. `stream` as the client says it (in the body, or for Gemini in the URL).
fn t1(d: Dialect, stream: Stream) -> Value {
    let mut body = ask(d, "Say hi.");
    if stream != Stream::No && d != Gemini {
        body["stream"] = json!(true);
    }
    if stream == Stream::WithUsage && d == Chat {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    No,
    Yes,
    /// Chat's `stream_options.include_usage`; the same as `Yes` elsewhere.
    WithUsage,
}

/// The call of §6.1, as each dialect's client has it.
fn canonical_echo(d: Dialect) -> Echo {
    let (assistant, id) = match d {
        Chat => (
            json!({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                "function":{"name":"get_weather","arguments":ARGS}}]}),
            Some("call_1"),
        ),
        Resp => (
            json!([{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":ARGS}]),
            Some("call_1"),
        ),
        Anthropic => (
            json!({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1",
                "name":"get_weather","input":{"location":"Paris"}}]}),
            Some("toolu_1"),
        ),
        Gemini => (
            json!({"role":"model","parts":[{"functionCall":{"name":"get_weather",
                "args":{"location":"Paris"}},"thoughtSignature":CLIENT_SIGNATURE}]}),
            None,
        ),
    };
    Echo {
        assistant,
        id: id.map(str::to_string),
    }
}

/// T3, the second request of a tool round trip (§6.1), with `echo` as the assistant's call.
fn t3(d: Dialect, echo: &Echo) -> Value {
    let id = echo.id.as_deref();
    match d {
        Chat => json!({"model":CLIENT_MODEL,"messages":[
            {"role":"system","content":"You are terse."},
            {"role":"user","content":"Weather in Paris?"},
            echo.assistant,
            {"role":"tool","tool_call_id":id.unwrap(),"content":RESULT}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":weather_schema()}}]}),
        Resp => {
            let mut input = vec![json!({"role":"user","content":"Weather in Paris?"})];
            input.extend(echo.assistant.as_array().unwrap().iter().cloned());
            input
                .push(json!({"type":"function_call_output","call_id":id.unwrap(),"output":RESULT}));
            json!({"model":CLIENT_MODEL,"instructions":"You are terse.","input":input,
                "tools":[{"type":"function","name":"get_weather","parameters":weather_schema(),"strict":false}]})
        }
        Anthropic => json!({"model":CLIENT_MODEL,"max_tokens":CLIENT_MAX,"system":"You are terse.",
            "messages":[
                {"role":"user","content":"Weather in Paris?"},
                echo.assistant,
                {"role":"user","content":[{"type":"tool_result","tool_use_id":id.unwrap(),"content":RESULT}]}],
            "tools":[{"name":"get_weather","input_schema":weather_schema()}]}),
        Gemini => {
            let mut response = json!({"name":"get_weather","response":{"temp_c":18}});
            if let Some(id) = id {
                response["id"] = json!(id);
            }
            json!({"systemInstruction":{"parts":[{"text":"You are terse."}]},"contents":[
                {"role":"user","parts":[{"text":"Weather in Paris?"}]},
                echo.assistant,
                {"role":"user","parts":[{"functionResponse":response}]}],
                "tools":[{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":weather_schema()}]}]})
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What each provider must receive (§1, §3.5, §3.7, §3.10).
// ---------------------------------------------------------------------------------------------

fn expected_t1(p: Dialect, client: Dialect, stream: bool) -> Value {
    let mut body = match p {
        Chat => json!({"model":UP_MODEL,"messages":[{"role":"user","content":"Say hi."}]}),
        Resp => {
            json!({"model":UP_MODEL,"input":[{"role":"user","content":"Say hi."}],"store":false})
        }
        Anthropic => json!({"model":UP_MODEL,"messages":[{"role":"user","content":"Say hi."}]}),
        Gemini => json!({"contents":[{"role":"user","parts":[{"text":"Say hi."}]}]}),
    };
    if stream {
        match p {
            // Usage is always asked of a Chat provider, whatever the client asked (§0 rule 3).
            Chat => {
                body["stream"] = json!(true);
                body["stream_options"] = json!({"include_usage": true});
            }
            Resp | Anthropic => body["stream"] = json!(true),
            // In the URL.
            Gemini => {}
        }
    }
    with_max_tokens(p, client, body)
}

/// T3 as provider `p` must receive it from a client of `client`: the call named `id` (a Gemini
/// provider is shown no id it did not issue), carrying `signature` back to a Gemini provider.
fn expected_t3(p: Dialect, client: Dialect, id: &str, signature: Option<&str>) -> Value {
    let body = match p {
        Chat => json!({"model":UP_MODEL,"messages":[
            {"role":"system","content":"You are terse."},
            {"role":"user","content":"Weather in Paris?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":id,"type":"function",
                "function":{"name":"get_weather","arguments":ARGS}}]},
            {"role":"tool","tool_call_id":id,"content":RESULT}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":weather_schema()}}]}),
        Resp => json!({"model":UP_MODEL,"instructions":"You are terse.","input":[
            {"role":"user","content":"Weather in Paris?"},
            {"type":"function_call","call_id":id,"name":"get_weather","arguments":ARGS},
            {"type":"function_call_output","call_id":id,"output":RESULT}],
            "tools":[{"type":"function","name":"get_weather","parameters":weather_schema(),"strict":false}],
            "store":false}),
        Anthropic => json!({"model":UP_MODEL,"system":"You are terse.","messages":[
            {"role":"user","content":"Weather in Paris?"},
            {"role":"assistant","content":[{"type":"tool_use","id":id,"name":"get_weather",
                "input":{"location":"Paris"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":id,"content":RESULT}]}],
            "tools":[{"name":"get_weather","input_schema":weather_schema()}]}),
        Gemini => {
            let mut call =
                json!({"functionCall":{"name":"get_weather","args":{"location":"Paris"}}});
            if let Some(s) = signature {
                call["thoughtSignature"] = json!(s);
            }
            json!({"systemInstruction":{"parts":[{"text":"You are terse."}]},"contents":[
                {"role":"user","parts":[{"text":"Weather in Paris?"}]},
                {"role":"model","parts":[call]},
                {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":18}}}]}],
                "tools":[{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":weather_schema()}]}]})
        }
    };
    with_max_tokens(p, client, body)
}

// ---------------------------------------------------------------------------------------------
// Provider answers (§1) and what the client must get (§3.2, §3.3, §5.13).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// T1's answer: text.
    Text,
    /// T3's first answer: a call of get_weather.
    Tool,
}

/// The usage every provider's answer reports, each in its own words: the same counts. The
/// text answer reasoned (Gemini counts that apart, §3.3); the tool answer read from the cache.
fn usage(kind: Kind) -> Usage {
    match kind {
        Kind::Text => Usage {
            input_total: 12,
            output_total: 5,
            output_reasoning: 2,
            ..Usage::default()
        },
        Kind::Tool => Usage {
            input_total: 20,
            input_cache_read: 8,
            output_total: 7,
            ..Usage::default()
        },
    }
}

fn provider_answer(p: Dialect, kind: Kind) -> Value {
    let tool = kind == Kind::Tool;
    let u = usage(kind);
    match p {
        Chat => {
            let message = if tool {
                json!({"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"call_P",
                    "type":"function","function":{"name":"get_weather","arguments":ARGS}}]})
            } else {
                json!({"role":"assistant","content":"Hi there!","refusal":null})
            };
            chat_answer(
                message,
                if tool { "tool_calls" } else { "stop" },
                chat_usage(&u),
            )
        }
        Resp => {
            let item = if tool {
                json!({"id":"fc_P","type":"function_call","status":"completed","arguments":ARGS,
                    "call_id":"call_P","name":"get_weather"})
            } else {
                json!({"id":"msg_P","type":"message","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","annotations":[],"text":"Hi there!"}]})
            };
            responses_answer("completed", json!([item]), responses_usage(&u))
        }
        Anthropic => {
            let (content, reason) = if tool {
                (
                    json!([{"type":"tool_use","id":"toolu_P","name":"get_weather","input":{"location":"Paris"}}]),
                    "tool_use",
                )
            } else {
                (json!([{"type":"text","text":"Hi there!"}]), "end_turn")
            };
            anthropic_answer(content, reason, Value::Null, anthropic_usage(&u, true))
        }
        Gemini => {
            let part = if tool {
                json!({"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                    "thoughtSignature":PROVIDER_SIGNATURE})
            } else {
                json!({"text":"Hi there!"})
            };
            gemini_answer(json!([part]), "STOP", gemini_usage(&u, true))
        }
    }
}

/// The answer a client must get, exactly; `actual` only lends the envelope's id, whose prefix
/// is checked (each dialect's clients expect their own: `chatcmpl-`, `resp_`, `msg_`).
fn expected_answer(c: Dialect, p: Dialect, kind: Kind, actual: &Value) -> Value {
    let tool = kind == Kind::Tool;
    let u = usage(kind);
    let call_id = provider_call_id(p);
    match c {
        Chat => {
            let id = actual["id"].as_str().unwrap();
            assert!(id.starts_with("chatcmpl-"), "{id}");
            let message = if tool {
                json!({"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":call_id,
                    "type":"function","function":{"name":"get_weather","arguments":ARGS}}]})
            } else {
                json!({"role":"assistant","content":"Hi there!","refusal":null})
            };
            json!({"id":id,"object":"chat.completion","created":CREATED,"model":CLIENT_MODEL,
                "choices":[{"index":0,"message":message,"logprobs":null,
                    "finish_reason":if tool {"tool_calls"} else {"stop"}}],
                "usage":chat_usage(&u)})
        }
        Resp => {
            let id = actual["id"].as_str().unwrap();
            assert!(id.starts_with("resp_"), "{id}");
            let item = if tool {
                json!({"id":format!("fc_{call_id}"),"type":"function_call","status":"completed",
                    "arguments":ARGS,"call_id":call_id,"name":"get_weather"})
            } else {
                let msg_id = actual["output"][0]["id"].as_str().unwrap();
                assert!(msg_id.starts_with("msg_"), "{msg_id}");
                json!({"id":msg_id,"type":"message","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","annotations":[],"text":"Hi there!"}]})
            };
            // The envelope's echoed settings are the codec's defaults; what clients act on is
            // checked exactly, the rest must merely be there.
            let mut want = actual.clone();
            for (k, v) in [
                ("id", json!(id)),
                ("object", json!("response")),
                ("created_at", json!(CREATED)),
                ("status", json!("completed")),
                ("error", Value::Null),
                ("incomplete_details", Value::Null),
                ("model", json!(CLIENT_MODEL)),
                ("output", json!([item])),
                ("usage", responses_usage(&u)),
            ] {
                want[k] = v;
            }
            want
        }
        Anthropic => {
            let id = actual["id"].as_str().unwrap();
            assert!(id.starts_with("msg_"), "{id}");
            let content = if tool {
                json!([{"type":"tool_use","id":call_id,"name":"get_weather","input":{"location":"Paris"}}])
            } else {
                json!([{"type":"text","text":"Hi there!"}])
            };
            json!({"id":id,"type":"message","role":"assistant","model":CLIENT_MODEL,
                "content":content,"stop_reason":if tool {"tool_use"} else {"end_turn"},
                "stop_sequence":null,"usage":anthropic_usage(&u, false)})
        }
        Gemini => {
            let part = if tool {
                let mut call = json!({"name":"get_weather","args":{"location":"Paris"}});
                // A Gemini client is never shown an id the codec made up: it would echo it.
                if p != Gemini {
                    call["id"] = json!(call_id);
                }
                let mut part = json!({"functionCall": call});
                if p == Gemini {
                    part["thoughtSignature"] = json!(PROVIDER_SIGNATURE);
                }
                part
            } else {
                json!({"text":"Hi there!"})
            };
            let mut want = json!({"candidates":[{"content":{"role":"model","parts":[part]},
                "finishReason":"STOP","index":0}],"usageMetadata":gemini_usage(&u, true),
                "modelVersion":CLIENT_MODEL});
            want["responseId"] = actual["responseId"].clone();
            assert!(actual["responseId"].is_string(), "{actual}");
            want
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Provider streams, in each dialect's exact grammar (§2).
// ---------------------------------------------------------------------------------------------

/// A provider's stream as its events' bytes, and where its terminal part starts: cutting there
/// leaves a stream that never said it was finished.
struct Transcript {
    events: Vec<String>,
    terminal: usize,
}

impl Transcript {
    fn whole(&self) -> String {
        self.events.concat()
    }

    /// Everything before the terminal part, then the provider's in-band error in its place.
    fn failed(&self, p: Dialect) -> String {
        let error = match p {
            Chat => data(
                &json!({"error":{"message":OVERLOADED,"type":"server_error","param":null,"code":null}}),
            ),
            Resp => named(
                &json!({"type":"response.failed","sequence_number":self.terminal,
                "response":{"id":"resp_P","object":"response","status":"failed","model":UP_MODEL,
                    "output":[],"usage":null,"error":{"code":"server_error","message":OVERLOADED}}}),
            ),
            Anthropic => named(
                &json!({"type":"error","error":{"type":"overloaded_error","message":OVERLOADED}}),
            ),
            Gemini => gemini_data(
                &json!({"error":{"code":503,"message":OVERLOADED,"status":"UNAVAILABLE"}}),
            ),
        };
        format!("{}{error}", self.events[..self.terminal].concat())
    }

    /// Everything before the terminal part, and half of its first event: the connection
    /// dropped in the middle of it.
    fn cut(&self) -> String {
        let [half, _] = halves(&self.events[self.terminal]);
        format!("{}{half}", self.events[..self.terminal].concat())
    }
}

/// The message of a provider's in-band error.
const OVERLOADED: &str = "The model is overloaded.";

/// What a streamed turn says in text: the answer, or before its call what providers say while
/// they call (T5: a text block, then a tool block).
fn streamed_text(kind: Kind) -> [&'static str; 2] {
    match kind {
        Kind::Text => ["Hi ", "there!"],
        Kind::Tool => ["Let me ", "check."],
    }
}

fn provider_stream(p: Dialect, kind: Kind) -> Transcript {
    let tool = kind == Kind::Tool;
    let u = usage(kind);
    let text = streamed_text(kind);
    let (events, terminal) = match p {
        Chat => {
            let mut events = vec![chat_role_chunk()];
            let mut deltas: Vec<Value> = text.iter().map(|t| json!({ "content": t })).collect();
            if tool {
                deltas.extend(chat_call_deltas(0, "call_P", &ARG_FRAGMENTS));
            }
            events.extend(deltas.into_iter().map(|d| chat_chunk(d, Value::Null)));
            let terminal = events.len();
            events.extend(chat_tail(
                if tool { "tool_calls" } else { "stop" },
                chat_usage(&u),
            ));
            (events, terminal)
        }
        Resp => {
            let start = responses_answer("in_progress", json!([]), Value::Null);
            let mut stream = ResponsesStream::new(&start);
            let mut output = vec![stream.message(0, &text)];
            if tool {
                output.push(stream.call(1, "fc_P", "call_P", ARGS, &ARG_FRAGMENTS));
            }
            let done = responses_answer("completed", json!(output), responses_usage(&u));
            stream.push(json!({"type":"response.completed","response":done}));
            let terminal = stream.events.len() - 1;
            (stream.events, terminal)
        }
        Anthropic => {
            let mut events = anthropic_start(&u);
            events.extend(anthropic_text_block(0, &text));
            if tool {
                let fragments = [&[""][..], &ARG_FRAGMENTS].concat();
                events.extend(anthropic_call_block(1, "toolu_P", &fragments));
            }
            let reason = if tool { "tool_use" } else { "end_turn" };
            let terminal = events.len() + 1;
            events.extend(anthropic_tail(
                reason,
                Value::Null,
                anthropic_usage(&u, true),
            ));
            (events, terminal)
        }
        Gemini => {
            let chunk = |parts: Value, finish: Option<&str>, done: bool| {
                gemini_chunk(parts, finish, gemini_usage(&u, done))
            };
            let [a, b] = text;
            let mut events = vec![chunk(json!([{ "text": a }]), None, false)];
            if tool {
                events.push(chunk(json!([{ "text": b }]), None, false));
                events.push(chunk(
                    json!([{"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                        "thoughtSignature":PROVIDER_SIGNATURE}]),
                    None,
                    false,
                ));
            }
            // The finishing chunk is the terminal event; a call's turn says nothing more in it.
            let terminal = events.len();
            let last = if tool { "" } else { b };
            events.push(chunk(json!([{ "text": last }]), Some("STOP"), true));
            (events, terminal)
        }
    };
    Transcript { events, terminal }
}

// ---------------------------------------------------------------------------------------------
// Reading a stream back: the IR events, summed up, and each client dialect's grammar.
// ---------------------------------------------------------------------------------------------

/// What a stream said, in IR terms.
#[derive(Debug, Clone, PartialEq)]
struct Said {
    model: String,
    text: String,
    /// Each call's id, name, and arguments (parsed: the JSON's spelling may differ).
    calls: Vec<(String, String, Value)>,
    usage: Option<Usage>,
    stop: Option<Stop>,
    error: Option<ErrorKind>,
}

/// Reads a stream whole with `d`'s own decoder, in pieces of `piece` bytes, checking the
/// events' invariants on the way (`Start` first, one block open at a time, indices counting up).
fn read_stream(d: Dialect, bytes: &[u8], piece: usize) -> (Said, Ended) {
    let (events, ended) = decode_stream(d, bytes, piece);
    (summarise(d, &events), ended)
}

fn summarise(d: Dialect, events: &[Event]) -> Said {
    let mut said = Said {
        model: String::new(),
        text: String::new(),
        calls: Vec::new(),
        usage: None,
        stop: None,
        error: None,
    };
    let mut args: Vec<String> = Vec::new();
    let mut open: Option<usize> = None;
    let mut next = 0;
    assert!(
        matches!(events.first(), Some(Event::Start { .. })),
        "{d}: {events:?}"
    );
    for (i, e) in events.iter().enumerate() {
        assert!(
            said.stop.is_none() && said.error.is_none(),
            "{d}: {e:?} after the end"
        );
        match e {
            Event::Start { model, .. } => {
                assert_eq!(i, 0, "{d}: a second Start");
                said.model = model.clone();
            }
            Event::BlockStart { index, block } => {
                assert_eq!((open, *index), (None, next), "{d}: {events:?}");
                open = Some(*index);
                next += 1;
                if let BlockKind::ToolCall { id, name, .. } = block {
                    said.calls.push((id.clone(), name.clone(), Value::Null));
                    args.push(String::new());
                }
            }
            Event::Delta { index, delta } => {
                assert_eq!(open, Some(*index), "{d}: a delta outside its block");
                match delta {
                    Delta::Text(t) => said.text.push_str(t),
                    Delta::ToolArguments(a) => args.last_mut().unwrap().push_str(a),
                    Delta::Thinking(_) | Delta::Signature(_) => {}
                }
            }
            Event::BlockStop { index } => {
                assert_eq!(open, Some(*index), "{d}: {events:?}");
                open = None;
            }
            Event::Usage(u) => said.usage = Some(*u),
            Event::Stop(s) => {
                assert_eq!(open, None, "{d}: Stop with a block open");
                said.stop = Some(s.clone());
            }
            Event::Error { kind, .. } => said.error = Some(*kind),
        }
    }
    for (call, a) in said.calls.iter_mut().zip(args) {
        call.2 = serde_json::from_str(&a).unwrap_or_else(|_| panic!("{d}: arguments {a:?}"));
    }
    said
}

/// How the client's stream must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Clean,
    Failed,
}

/// Checks a client stream against its dialect's grammar (§2, §6.2), beyond what its decoder
/// tolerates.
fn check_grammar(c: Dialect, stream: &str, end: End, include_usage: bool) {
    match c {
        Chat => check_chat(stream, end, include_usage),
        Resp => check_responses(stream, end),
        Anthropic => check_anthropic(stream, end),
        Gemini => check_gemini(stream, end),
    }
}

fn check_chat(stream: &str, end: End, include_usage: bool) {
    let events = sse(stream);
    assert!(
        events.iter().all(|(n, _)| n.is_none()),
        "Chat has no event names"
    );
    assert_eq!(events.last().unwrap().1, "[DONE]", "{stream}");
    assert_eq!(events.iter().filter(|(_, d)| d == "[DONE]").count(), 1);
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let (body, error) = match end {
        End::Clean => (&chunks[..], None),
        End::Failed => {
            let (last, body) = chunks.split_last().unwrap();
            (body, Some(last))
        }
    };
    assert_eq!(body[0]["choices"][0]["delta"]["role"], "assistant");
    let id = &body[0]["id"];
    for c in body {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert_eq!(
            (&c["id"], &c["model"], &c["created"]),
            (id, &json!(CLIENT_MODEL), &json!(CREATED)),
            "{c}"
        );
        assert_eq!(c.get("usage").is_some(), include_usage, "{c}");
    }
    let finishes = body
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .count();
    match error {
        None => {
            assert_eq!(finishes, 1, "{stream}");
            if include_usage {
                let last = body.last().unwrap();
                assert_eq!(last["choices"], json!([]), "the usage chunk is last");
                assert!(last["usage"].is_object());
            }
        }
        Some(e) => {
            assert_eq!(
                finishes, 0,
                "a failed stream must not finish cleanly: {stream}"
            );
            let keys: Vec<&String> = e["error"].as_object().unwrap().keys().collect();
            assert_eq!(keys, ["message", "type", "param", "code"], "{e}");
        }
    }
}

fn check_responses(stream: &str, end: End) {
    let events = sse(stream);
    let mut added: Vec<Value> = Vec::new();
    let mut done: Vec<Value> = Vec::new();
    for (i, (name, data)) in events.iter().enumerate() {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(name.as_deref(), v["type"].as_str(), "{data}");
        assert_eq!(v["sequence_number"], json!(i), "{data}");
        match v["type"].as_str().unwrap() {
            "response.output_item.added" => {
                assert_eq!(v["output_index"], json!(added.len()), "{data}");
                assert_eq!(added.len(), done.len(), "one item at a time: {data}");
                added.push(v["item"].clone());
            }
            "response.output_item.done" => {
                assert_eq!(v["output_index"], json!(done.len()), "{data}");
                assert_eq!(v["item"]["id"], added[done.len()]["id"], "{data}");
                done.push(v["item"].clone());
            }
            t if t.contains(".delta")
                || t.ends_with(".done") && t != "response.output_item.done" =>
            {
                let open = added.get(done.len()).expect("an event outside any item");
                assert_eq!(v["item_id"], open["id"], "{data}");
                assert_eq!(v["output_index"], json!(done.len()), "{data}");
            }
            _ => {}
        }
    }
    let first: Vec<&str> = events
        .iter()
        .take(2)
        .map(|(n, _)| n.as_deref().unwrap())
        .collect();
    assert_eq!(first, ["response.created", "response.in_progress"]);
    let (name, data) = events.last().unwrap();
    let last: Value = serde_json::from_str(data).unwrap();
    let response = &last["response"];
    match end {
        End::Clean => {
            assert_eq!(name.as_deref(), Some("response.completed"), "{stream}");
            assert_eq!(response["status"], "completed");
            assert!(response["usage"].is_object(), "{data}");
        }
        End::Failed => {
            assert_eq!(name.as_deref(), Some("response.failed"), "{stream}");
            assert_eq!(events[events.len() - 2].0.as_deref(), Some("error"));
            assert_eq!(response["status"], "failed");
        }
    }
    assert_eq!(response["model"], CLIENT_MODEL);
    // Codex takes items from `output_item.done`: the final output is exactly those.
    assert_eq!(response["output"], Value::Array(done), "{stream}");
}

fn check_anthropic(stream: &str, end: End) {
    let events = sse(stream);
    let mut open: Option<u64> = None;
    let mut blocks = 0;
    let mut names = Vec::new();
    for (name, data) in &events {
        let v: Value = serde_json::from_str(data).unwrap();
        let name = name.as_deref().unwrap();
        assert_eq!(Some(name), v["type"].as_str(), "{data}");
        match name {
            "message_start" => {
                assert!(names.is_empty(), "message_start first, and once");
                assert_eq!(v["message"]["model"], CLIENT_MODEL);
                let usage = v["message"]["usage"].as_object().unwrap();
                for k in [
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                    "output_tokens",
                ] {
                    assert!(usage.contains_key(k), "{data}");
                }
            }
            "content_block_start" => {
                assert_eq!((open, v["index"].as_u64()), (None, Some(blocks)), "{data}");
                open = Some(blocks);
                blocks += 1;
            }
            "content_block_delta" => assert_eq!(open, v["index"].as_u64(), "{data}"),
            "content_block_stop" => {
                assert_eq!(open, v["index"].as_u64(), "{data}");
                open = None;
            }
            "message_delta" => assert_eq!(open, None, "{data}"),
            _ => {}
        }
        names.push(name);
    }
    // An error before anything else is how Anthropic itself fails a stream early; the SDKs
    // raise on `error` wherever it comes.
    if names != ["error"] {
        assert_eq!(names[0], "message_start", "{stream}");
    }
    match end {
        End::Clean => assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]),
        End::Failed => {
            assert_eq!(names.last(), Some(&"error"), "{stream}");
            assert!(!names.contains(&"message_stop") && !names.contains(&"message_delta"));
        }
    }
}

fn check_gemini(stream: &str, end: End) {
    assert!(
        stream.ends_with("\r\n\r\n") && !stream.replace("\r\n", "").contains('\n'),
        "Gemini writes CRLF: {stream:?}"
    );
    let chunks: Vec<Value> = sse(stream)
        .iter()
        .map(|(n, d)| {
            assert!(n.is_none());
            serde_json::from_str(d).unwrap()
        })
        .collect();
    let (last, body) = chunks.split_last().unwrap();
    for c in body {
        assert_eq!(c["modelVersion"], CLIENT_MODEL, "{c}");
        assert_eq!(c["candidates"][0]["content"]["role"], "model", "{c}");
        assert!(
            c["candidates"][0].get("finishReason").is_none(),
            "only the last chunk finishes: {c}"
        );
    }
    match end {
        End::Clean => {
            assert!(last["candidates"][0]["finishReason"].is_string(), "{last}");
            assert!(last["usageMetadata"].is_object(), "{last}");
            assert_eq!(last["modelVersion"], CLIENT_MODEL);
        }
        End::Failed => {
            let keys: Vec<&String> = last["error"].as_object().unwrap().keys().collect();
            assert_eq!(keys, ["code", "message", "status"], "{last}");
        }
    }
}

/// Runs `input` through a converter from `p` to `c` in pieces of `piece` bytes, as the relay
/// does: the client's stream ends as soon as the converter says the terminal event passed, and
/// a stream the provider cut ends with `fail`.
fn convert(c: Dialect, p: Dialect, req: &Request, input: &str, piece: usize) -> Converted {
    let got = relay(&mut converter(c, p, req), input, piece);
    if let StreamEnd::Complete(_) = got.end {
        assert!(
            got.complete,
            "{p} → {c}: the terminal event passed but is_complete is false"
        );
    }
    got
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn t1_reaches_every_provider_as_its_dialect_wants_it() {
    for_each_pair(|c, p| {
        for stream in [Stream::No, Stream::Yes] {
            let req = decode_request(c, &t1(c, stream), stream != Stream::No);
            let got = encode_request(p, &req);
            let want = expected_t1(p, c, stream != Stream::No);
            assert_json(&got, &want, &format!("T1 {c} → {p}, stream {stream:?}"));
        }
    });
}

#[test]
fn t3_reaches_every_provider_with_its_call_and_result_matched() {
    for_each_pair(|c, p| {
        let echo = canonical_echo(c);
        let req = decode_request(c, &t3(c, &echo), false);
        // A Gemini client's call has no id: the codec names it by its turn and position.
        let id = echo.id.unwrap_or_else(|| "call_1_0".to_string());
        // Only Gemini's own signature means anything to Gemini (§3.10, §5.7).
        let signature = (c == Gemini).then_some(CLIENT_SIGNATURE);
        let want = expected_t3(p, c, &id, signature);
        assert_json(&encode_request(p, &req), &want, &format!("T3 {c} → {p}"));
    });
}

#[test]
fn answers_reach_every_client_in_its_dialect_with_its_model_stop_reason_and_usage() {
    for_each_pair(|c, p| {
        let req = decode_request(c, &t1(c, Stream::No), false);
        for kind in [Kind::Text, Kind::Tool] {
            let answer = decode_answer(p, &provider_answer(p, kind));
            let got = encode_answer(c, &answer, &req);
            let want = expected_answer(c, p, kind, &got);
            assert_json(&got, &want, &format!("{kind:?} answer {p} → {c}"));
            // What the client got reads back as what the provider said.
            let back = decode_answer(c, &got);
            assert_eq!(
                back.usage,
                Some(seen_by(c, usage(kind))),
                "{kind:?} answer {p} → {c}"
            );
            let stop = if kind == Kind::Tool {
                Stop::ToolUse
            } else {
                Stop::EndTurn
            };
            assert_eq!(back.stop, stop, "{kind:?} answer {p} → {c}");
            let calls: Vec<(&str, &str, Value)> = back
                .blocks
                .iter()
                .filter_map(|b| match b {
                    Block::ToolCall(call) => Some((
                        call.id.as_str(),
                        call.name.as_str(),
                        serde_json::from_str(&call.arguments).unwrap(),
                    )),
                    _ => None,
                })
                .collect();
            let want: Vec<(&str, &str, Value)> = match kind {
                Kind::Text => vec![],
                Kind::Tool => vec![(
                    provider_call_id(p),
                    "get_weather",
                    json!({"location":"Paris"}),
                )],
            };
            assert_eq!(
                calls, want,
                "{kind:?} answer {p} → {c}: the call reads back as itself"
            );
        }
    });
}

/// §6 T3's "ids echoed unchanged": the call a client got from a provider goes back to that
/// provider on the next turn as the same call, its result matched to it.
#[test]
fn a_call_from_any_provider_comes_back_to_it_through_any_client() {
    for_each_pair(|c, p| {
        let req = decode_request(c, &t1(c, Stream::No), false);
        let answer = decode_answer(p, &provider_answer(p, Kind::Tool));
        let client_answer = encode_answer(c, &answer, &req);
        let echo = echo_of_answer(c, &client_answer);
        let next = decode_request(c, &t3(c, &echo), false);
        let signature = (p == Gemini).then_some(PROVIDER_SIGNATURE);
        let want = expected_t3(p, c, provider_call_id(p), signature);
        assert_json(
            &encode_request(p, &next),
            &want,
            &format!("next turn {p} → {c} → {p}"),
        );
    });
}

#[test]
fn streams_reach_every_client_whole_in_its_grammar() {
    for_each_pair(|c, p| {
        for kind in [Kind::Text, Kind::Tool] {
            let transcript = provider_stream(p, kind);
            // What the provider said, read by its own decoder.
            let (sent, ended) = read_stream(p, transcript.whole().as_bytes(), usize::MAX);
            assert_eq!(ended, Ended::Complete, "{p}");
            assert_eq!(sent.usage, Some(usage(kind)), "{p} {kind:?}");
            let calls = match kind {
                Kind::Text => vec![],
                Kind::Tool => vec![(
                    provider_call_id(p).to_string(),
                    "get_weather".to_string(),
                    json!({"location":"Paris"}),
                )],
            };
            assert_eq!(sent.calls, calls, "{p} {kind:?}");
            assert_eq!(sent.text, streamed_text(kind).concat(), "{p} {kind:?}");
            for stream in [Stream::Yes, Stream::WithUsage] {
                if stream == Stream::WithUsage && c != Chat {
                    continue;
                }
                let what = format!("{kind:?} stream {p} → {c} ({stream:?})");
                let req = decode_request(c, &t1(c, stream), true);
                let Converted {
                    out, end, metered, ..
                } = convert(c, p, &req, &transcript.whole(), 7);
                assert!(matches!(end, StreamEnd::Complete(_)), "{what}");
                // The gateway meters what the provider said, whatever the client is shown.
                assert_eq!(metered, sent.usage, "{what}");
                for piece in [1, 64, usize::MAX] {
                    let again = convert(c, p, &req, &transcript.whole(), piece).out;
                    assert_eq!(again, out, "{what}: pieces of {piece} bytes");
                }
                check_grammar(c, &out, End::Clean, req.stream_usage);
                let (got, ended) = read_stream(c, out.as_bytes(), 5);
                assert_eq!(ended, Ended::Complete, "{what}\n{out}");
                // Usage reaches an OpenAI Chat client only when it asked (§2.E).
                let usage = if c == Chat && !req.stream_usage {
                    None
                } else {
                    sent.usage.map(|u| seen_by(c, u))
                };
                let want = Said {
                    model: CLIENT_MODEL.to_string(),
                    usage,
                    ..sent.clone()
                };
                assert_eq!(got, want, "{what}\n{out}");
                check_key_bytes(c, kind, &out, req.stream_usage);
            }
        }
    });
}

/// A few events byte for byte, where clients are known to be strict.
fn check_key_bytes(c: Dialect, kind: Kind, out: &str, include_usage: bool) {
    let tool = kind == Kind::Tool;
    match c {
        Chat => {
            let finish = if tool { "tool_calls" } else { "stop" };
            let finish = format!(
                r#""choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"{finish}"}}]"#
            );
            assert!(out.contains(&finish), "{out}");
            if include_usage {
                let usage = format!(r#""choices":[],"usage":{}}}"#, chat_usage(&usage(kind)));
                assert!(
                    out.contains(&format!("{usage}\n\ndata: [DONE]\n\n")),
                    "{out}"
                );
            }
            assert!(out.ends_with("\n\ndata: [DONE]\n\n"), "{out}");
        }
        Resp => {
            if tool {
                let id = out
                    .split(r#""call_id":""#)
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let item = format!(
                    r#""item":{{"id":"fc_{id}","type":"function_call","status":"completed","arguments":"{{\"location\":\"Paris\"}}","call_id":"{id}","name":"get_weather"}}"#
                );
                assert!(out.contains(&format!("event: response.output_item.done\ndata: {{\"type\":\"response.output_item.done\",\"output_index\":1,{item}")), "{out}");
            }
            assert!(
                out.contains("event: response.completed\ndata: {\"type\":\"response.completed\""),
                "{out}"
            );
        }
        Anthropic => {
            let reason = if tool { "tool_use" } else { "end_turn" };
            let tail = format!(
                "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{reason}\",\"stop_sequence\":null}},\"usage\":{}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n",
                anthropic_usage(&usage(kind), false)
            );
            assert!(out.ends_with(&tail), "{out}");
            if tool {
                assert!(
                    out.contains(r#""content_block":{"type":"tool_use","id":""#),
                    "{out}"
                );
            }
        }
        Gemini => {
            let last = out.trim_end().rsplit("\r\n\r\n").next().unwrap();
            let v: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(v["candidates"][0]["finishReason"], "STOP", "{out}");
            assert_eq!(
                v["usageMetadata"],
                gemini_usage(&usage(kind), true),
                "{out}"
            );
            if tool {
                assert_eq!(
                    v["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
                    json!({"location":"Paris"}),
                    "a Gemini client gets the call whole: {out}"
                );
            }
        }
    }
}

#[test]
fn a_cut_stream_ends_every_client_with_its_error_form() {
    for_each_pair(|c, p| {
        for kind in [Kind::Text, Kind::Tool] {
            let what = format!("cut {kind:?} stream {p} → {c}");
            let req = decode_request(c, &t1(c, Stream::WithUsage), true);
            let cut = provider_stream(p, kind).cut();
            let Converted { out, end, .. } = convert(c, p, &req, &cut, 7);
            assert_eq!(end, StreamEnd::Truncated, "{what}");
            check_grammar(c, &out, End::Failed, req.stream_usage);
            let (got, _) = read_stream(c, out.as_bytes(), 5);
            assert_eq!(got.stop, None, "{what}: never a clean finish\n{out}");
            assert!(
                got.error.is_some(),
                "{what}: an error, in the client's form\n{out}"
            );
            assert!(
                out.contains("upstream stream ended prematurely"),
                "{what}\n{out}"
            );
        }
    });
}

#[test]
fn a_provider_error_mid_stream_ends_every_client_with_its_error_form() {
    for_each_pair(|c, p| {
        for kind in [Kind::Text, Kind::Tool] {
            let what = format!("failed {kind:?} stream {p} → {c}");
            let req = decode_request(c, &t1(c, Stream::WithUsage), true);
            let failed = provider_stream(p, kind).failed(p);
            let Converted { out, end, .. } = convert(c, p, &req, &failed, 7);
            // The provider's error is its stream's end: the client's stream ends with it.
            assert!(matches!(end, StreamEnd::Complete(_)), "{what}");
            check_grammar(c, &out, End::Failed, req.stream_usage);
            let (got, _) = read_stream(c, out.as_bytes(), 5);
            assert_eq!(got.stop, None, "{what}: never a clean finish\n{out}");
            assert!(got.error.is_some(), "{what}\n{out}");
            assert!(
                out.contains(OVERLOADED),
                "{what}: the provider's message\n{out}"
            );
        }
    });
}
