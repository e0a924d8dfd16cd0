//! Golden, codec-level tests for the canonical conversations T7, T9, T12, T13 and T15 of the
//! reference (dialects.md §6), for every client dialect against every provider dialect, through
//! the codecs alone: no servers.
//!
//! * T7: streamed usage. What the gateway meters from a stream is exactly what it meters from
//!   the same answer unstreamed (§2, §2.E, §3.3), cumulative snapshots never summed; and each
//!   client sees usage where its dialect puts it (a Chat client only with `include_usage`).
//! * T9: reasoning with a tool loop. The provider's reasoning proof (Anthropic's signature,
//!   Responses' `encrypted_content`, Gemini's `thoughtSignature`) goes to the client and back to
//!   the provider on the next turn (§5.7, §5.9, §3.4 rule 5); reasoning never becomes text.
//! * T12: `tool_choice` and parallel calls, as each provider's dialect says them (§1.E, §3.6–3.9).
//! * T13: a long tool name, JSON-Schema extras and a tool-call id with `.` and `:` (§3.4, §5.8).
//! * T15: a Chat provider's awkward streams: Azure's empty-choices filter chunk first, content,
//!   finish and usage in one chunk, cumulative usage on every chunk (§2.A, §5.3).
//!   A Chat provider gets the reasoning back as `reasoning_content` only when its config asks
//!   (DeepSeek's thinking mode, §5.13); OpenAI itself has no such field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pairs;

use pairs::*;
use serde_json::{json, Value};
use tollgate::dialect::codec::Quirks;
use tollgate::dialect::convert::Converter;
use tollgate::dialect::ir::{BlockKind, Delta, Event, Request, Stop};
use tollgate::dialect::openai;
use tollgate::dialect::passthrough::Passthrough;
use tollgate::dialect::stream::{Ended, StreamEnd, StreamTranslator};
use tollgate::dialect::usage::Usage;
use tollgate::dialect::Dialect;

// ---------------------------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------------------------

/// Runs `input` through a converter from `p` to `c` in pieces of `piece` bytes, as the relay
/// does.
fn convert(c: Dialect, p: Dialect, req: &Request, input: &str, piece: usize) -> Converted {
    relay(&mut converter(c, p, req), input, piece)
}

/// The translator the gateway runs for a same-dialect stream: Chat's own relay, or the
/// byte-for-byte passthrough with a same-dialect converter on the side that meters it.
fn same_dialect_relay(d: Dialect, req: &Request) -> Box<dyn StreamTranslator> {
    match d {
        Chat => {
            let t = openai::ChatPassthrough::new(Some(CLIENT_MODEL), MAX_EVENT);
            Box::new(if req.stream_usage {
                t
            } else {
                t.hiding_usage()
            })
        }
        _ => {
            let watch = Converter::new(decoder(d), encoder(d, req));
            Box::new(Passthrough::new(
                watch,
                Some((UP_MODEL, CLIENT_MODEL)),
                MAX_EVENT,
            ))
        }
    }
}

/// What a stream said, read back with a dialect's own decoder.
#[derive(Debug, Clone, PartialEq)]
struct Said {
    text: String,
    thinking: String,
    /// Each call's id, name and arguments (parsed).
    calls: Vec<(String, String, Value)>,
    usage: Option<Usage>,
    stop: Option<Stop>,
}

fn read_back(d: Dialect, bytes: &str) -> (Said, Ended) {
    let (events, ended) = decode_stream(d, bytes.as_bytes(), 5);
    let mut said = Said {
        text: String::new(),
        thinking: String::new(),
        calls: Vec::new(),
        usage: None,
        stop: None,
    };
    let mut args: Vec<String> = Vec::new();
    for e in &events {
        match e {
            Event::BlockStart {
                block: BlockKind::ToolCall { id, name, .. },
                ..
            } => {
                said.calls.push((id.clone(), name.clone(), Value::Null));
                args.push(String::new());
            }
            Event::Delta { delta, .. } => match delta {
                Delta::Text(t) => said.text.push_str(t),
                Delta::Thinking(t) => said.thinking.push_str(t),
                Delta::ToolArguments(a) => args.last_mut().unwrap().push_str(a),
                Delta::Signature(_) => {}
            },
            Event::Usage(u) => said.usage = Some(*u),
            Event::Stop(s) => said.stop = Some(s.clone()),
            Event::Error { kind, message } => panic!("{d}: error {kind:?} {message}\n{bytes}"),
            _ => {}
        }
    }
    for (call, a) in said.calls.iter_mut().zip(args) {
        call.2 = serde_json::from_str(&a).unwrap_or_else(|_| panic!("{d}: arguments {a:?}"));
    }
    (said, ended)
}

/// The JSON payloads of a client's SSE stream, `[DONE]` left out.
fn payloads(stream: &str) -> Vec<(Option<String>, Value)> {
    sse(stream)
        .into_iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(n, d)| (n, serde_json::from_str(&d).unwrap()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Usage in each dialect's words (§1, §3.3).
// ---------------------------------------------------------------------------------------------

/// The usage object a client of `c` must be shown for `u`.
fn client_usage(c: Dialect, u: &Usage) -> Value {
    match c {
        Chat => chat_usage(u),
        Resp => responses_usage(u),
        Anthropic => anthropic_usage(u, false),
        Gemini => gemini_usage(u, true),
    }
}

/// The usage objects a client sees in its stream, in order, where its dialect puts the
/// authoritative ones: Chat's non-null `usage`, Responses' `response.usage`, Anthropic's
/// `message_delta.usage`, Gemini's last chunk's `usageMetadata`.
fn usage_shown(c: Dialect, stream: &str) -> Vec<Value> {
    let events = payloads(stream);
    match c {
        Chat => events
            .iter()
            .filter_map(|(_, v)| v.get("usage").filter(|u| !u.is_null()).cloned())
            .collect(),
        Resp => events
            .iter()
            .filter_map(|(_, v)| {
                v.pointer("/response/usage")
                    .filter(|u| !u.is_null())
                    .cloned()
            })
            .collect(),
        Anthropic => events
            .iter()
            .filter(|(n, _)| n.as_deref() == Some("message_delta"))
            .map(|(_, v)| v["usage"].clone())
            .collect(),
        Gemini => events
            .last()
            .and_then(|(_, v)| v.get("usageMetadata").cloned())
            .into_iter()
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Provider answers and streams with reasoning, text, a call and usage (§1, §2), built from one
// description so that a stream and its unstreamed twin say the same.
// ---------------------------------------------------------------------------------------------

/// The reasoning proof each provider dialect attaches (§5.7): Anthropic's thinking signature,
/// Responses' encrypted reasoning, Gemini's thought signature on the first call
/// (`PROVIDER_SIGNATURE`). Each holds base64 characters (`+`, `/`, `=`) an Anthropic id may not.
const ANTHROPIC_SIGNATURE: &str = "EqQBCkYIBxgCKkB+c2ln/YW50aHJvcGlj==";
const ENCRYPTED_REASONING: &str = "gAAAAABo+ZW5jcnlwdGVk/cmVhc29uaW5n==";

const THOUGHT: [&str; 2] = ["I should ", "check the weather."];

/// One answer of a provider: reasoning, text, maybe a call to get_weather, and its usage.
#[derive(Debug, Clone, Copy)]
struct Spec {
    thinking: bool,
    text: [&'static str; 2],
    call: bool,
    usage: Usage,
}

impl Spec {
    fn thought(&self) -> String {
        THOUGHT.concat()
    }
    fn text(&self) -> String {
        self.text.concat()
    }
    fn chat_finish(&self) -> &'static str {
        if self.call {
            "tool_calls"
        } else {
            "stop"
        }
    }
    fn anthropic_stop(&self) -> &'static str {
        if self.call {
            "tool_use"
        } else {
            "end_turn"
        }
    }
}

fn provider_answer(p: Dialect, s: &Spec) -> Value {
    let u = &s.usage;
    match p {
        Chat => {
            let mut message = json!({"role":"assistant","content":s.text(),"refusal":null});
            if s.thinking {
                message["reasoning_content"] = json!(s.thought());
            }
            if s.call {
                message["tool_calls"] = json!([{"id":"call_P","type":"function",
                    "function":{"name":"get_weather","arguments":ARGS}}]);
            }
            chat_answer(message, s.chat_finish(), chat_usage(u))
        }
        Resp => {
            let mut output = Vec::new();
            if s.thinking {
                output.push(json!({"id":"rs_P","type":"reasoning",
                    "summary":[{"type":"summary_text","text":s.thought()}],
                    "encrypted_content":ENCRYPTED_REASONING}));
            }
            output.push(json!({"id":"msg_P","type":"message","status":"completed",
                "role":"assistant","content":[{"type":"output_text","annotations":[],"text":s.text()}]}));
            if s.call {
                output.push(
                    json!({"id":"fc_P","type":"function_call","status":"completed",
                    "arguments":ARGS,"call_id":"call_P","name":"get_weather"}),
                );
            }
            responses_answer("completed", json!(output), responses_usage(u))
        }
        Anthropic => {
            let mut content = Vec::new();
            if s.thinking {
                content.push(json!({"type":"thinking","thinking":s.thought(),
                    "signature":ANTHROPIC_SIGNATURE}));
            }
            content.push(json!({"type":"text","text":s.text()}));
            if s.call {
                content.push(
                    json!({"type":"tool_use","id":"toolu_P","name":"get_weather",
                    "input":{"location":"Paris"}}),
                );
            }
            let usage = anthropic_usage(u, true);
            anthropic_answer(json!(content), s.anthropic_stop(), Value::Null, usage)
        }
        Gemini => {
            let mut parts = Vec::new();
            if s.thinking {
                parts.push(json!({"text":s.thought(),"thought":true}));
            }
            parts.push(json!({"text":s.text()}));
            if s.call {
                parts.push(
                    json!({"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                    "thoughtSignature":PROVIDER_SIGNATURE}),
                );
            }
            gemini_answer(json!(parts), "STOP", gemini_usage(u, true))
        }
    }
}

fn provider_stream(p: Dialect, s: &Spec) -> String {
    match p {
        Chat => chat_stream(s),
        Resp => responses_stream(s),
        Anthropic => anthropic_stream(s),
        Gemini => gemini_stream(s),
    }
}

fn chat_stream(s: &Spec) -> String {
    let mut deltas = Vec::new();
    if s.thinking {
        deltas.extend(THOUGHT.map(|t| json!({ "reasoning_content": t })));
    }
    deltas.extend(s.text.map(|t| json!({ "content": t })));
    if s.call {
        deltas.extend(chat_call_deltas(0, "call_P", &ARG_FRAGMENTS));
    }
    let mut events = vec![chat_role_chunk()];
    events.extend(deltas.into_iter().map(|d| chat_chunk(d, Value::Null)));
    events.extend(chat_tail(s.chat_finish(), chat_usage(&s.usage)));
    events.concat()
}

fn responses_stream(s: &Spec) -> String {
    let mut stream = ResponsesStream::new(&responses_answer("in_progress", json!([]), Value::Null));
    let mut output = Vec::new();
    if s.thinking {
        let i = output.len();
        stream.push(json!({"type":"response.output_item.added","output_index":i,
            "item":{"id":"rs_P","type":"reasoning","summary":[]}}));
        let at = |mut v: Value| {
            v["item_id"] = json!("rs_P");
            v["output_index"] = json!(i);
            v["summary_index"] = json!(0);
            v
        };
        stream.push(at(json!({"type":"response.reasoning_summary_part.added",
            "part":{"type":"summary_text","text":""}})));
        for t in THOUGHT {
            stream.push(at(
                json!({"type":"response.reasoning_summary_text.delta","delta":t}),
            ));
        }
        stream.push(at(
            json!({"type":"response.reasoning_summary_text.done","text":s.thought()}),
        ));
        stream.push(at(json!({"type":"response.reasoning_summary_part.done",
            "part":{"type":"summary_text","text":s.thought()}})));
        let item = json!({"id":"rs_P","type":"reasoning",
            "summary":[{"type":"summary_text","text":s.thought()}],
            "encrypted_content":ENCRYPTED_REASONING});
        stream.push(json!({"type":"response.output_item.done","output_index":i,"item":item}));
        output.push(item);
    }
    output.push(stream.message(output.len(), &s.text));
    if s.call {
        let call = stream.call(output.len(), "fc_P", "call_P", ARGS, &ARG_FRAGMENTS);
        output.push(call);
    }
    let done = responses_answer("completed", json!(output), responses_usage(&s.usage));
    stream.push(json!({"type":"response.completed","response":done}));
    stream.events.concat()
}

/// Anthropic's stream: the input and cache counts in `message_start` (with the placeholder
/// output count of 1), the cumulative output count in `message_delta` (§2.C).
fn anthropic_stream(s: &Spec) -> String {
    let u = &s.usage;
    let mut events = anthropic_start(u);
    let mut index = 0;
    if s.thinking {
        let mut deltas: Vec<Value> = THOUGHT
            .iter()
            .map(|t| json!({"type":"thinking_delta","thinking":t}))
            .collect();
        deltas.push(json!({"type":"signature_delta","signature":ANTHROPIC_SIGNATURE}));
        let block = json!({"type":"thinking","thinking":"","signature":""});
        events.extend(anthropic_block(index, block, deltas));
        index += 1;
    }
    events.extend(anthropic_text_block(index, &s.text));
    index += 1;
    if s.call {
        events.extend(anthropic_call_block(index, "toolu_P", &ARG_FRAGMENTS));
    }
    let mut usage = json!({"output_tokens":u.output_total});
    if u.output_reasoning > 0 {
        usage["output_tokens_details"] = json!({"thinking_tokens":u.output_reasoning});
    }
    events.extend(anthropic_tail(s.anthropic_stop(), Value::Null, usage));
    events.concat()
}

/// Gemini's stream: every chunk carries a cumulative `usageMetadata` snapshot, the first with
/// the prompt alone, later ones growing, the last one whole (§2.D). Summed, they would count
/// the prompt once per chunk.
fn gemini_stream(s: &Spec) -> String {
    let u = &s.usage;
    let snapshot = |candidates: Option<u64>, thoughts: bool| {
        let mut m = json!({"promptTokenCount":u.input_total});
        let mut total = u.input_total;
        if let Some(c) = candidates {
            m["candidatesTokenCount"] = json!(c);
            total += c;
        }
        if thoughts && u.output_reasoning > 0 {
            m["thoughtsTokenCount"] = json!(u.output_reasoning);
            total += u.output_reasoning;
        }
        m["totalTokenCount"] = json!(total);
        if u.input_cache_read > 0 {
            m["cachedContentTokenCount"] = json!(u.input_cache_read);
        }
        m
    };
    let chunk = gemini_chunk;
    let mut events = Vec::new();
    if s.thinking {
        events.push(chunk(
            json!([{"text":s.thought(),"thought":true}]),
            None,
            snapshot(None, false),
        ));
    }
    events.push(chunk(
        json!([{ "text": s.text[0] }]),
        None,
        snapshot(Some(2), s.thinking),
    ));
    events.push(chunk(
        json!([{ "text": s.text[1] }]),
        None,
        snapshot(Some(4), s.thinking),
    ));
    if s.call {
        events.push(chunk(
            json!([{"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                "thoughtSignature":PROVIDER_SIGNATURE}]),
            None,
            snapshot(Some(6), s.thinking),
        ));
    }
    let full = Some(u.output_total - u.output_reasoning);
    events.push(chunk(
        json!([{"text":""}]),
        Some("STOP"),
        snapshot(full, true),
    ));
    events.concat()
}

// ---------------------------------------------------------------------------------------------
// Client requests: a first turn with a tool and reasoning on, in each client dialect.
// ---------------------------------------------------------------------------------------------

/// The max tokens and thinking budget of an Anthropic client that thinks.
const THINKING_MAX: u64 = 4096;
const THINKING_BUDGET: u64 = 2048;

/// The tools of a client request, in its dialect: `(name, description, schema)`.
fn client_tools(c: Dialect, tools: &[(&str, &str, Value)]) -> Value {
    let list: Vec<Value> = tools
        .iter()
        .map(|(name, description, schema)| match c {
            Chat => json!({"type":"function","function":{"name":name,"description":description,
                "parameters":schema}}),
            Resp => json!({"type":"function","name":name,"description":description,
                "parameters":schema,"strict":false}),
            Anthropic => json!({"name":name,"description":description,"input_schema":schema}),
            Gemini => json!({"name":name,"description":description,"parametersJsonSchema":schema}),
        })
        .collect();
    match c {
        Gemini => json!([{ "functionDeclarations": list }]),
        _ => Value::Array(list),
    }
}

fn weather_tools(c: Dialect) -> Value {
    client_tools(c, &[("get_weather", "Current weather.", weather_schema())])
}

/// A client's request body: `user` asks, then `history` (already in the client's dialect, as
/// messages, items or contents), with get_weather and reasoning on.
/// A client's request body in its dialect: `question`, then `history` (already in the
/// client's dialect, as messages, items or contents), with `tools`.
fn request_after(c: Dialect, question: &str, history: Vec<Value>, tools: Value) -> Value {
    let mut turns = vec![user_turn(c, question)];
    turns.extend(history);
    let mut body = ask(c, question);
    let key = match c {
        Chat | Anthropic => "messages",
        Resp => "input",
        Gemini => "contents",
    };
    body[key] = json!(turns);
    body["tools"] = tools;
    body
}

/// The stream flags of a client that streams: in the body (with Chat's `include_usage`), or
/// for Gemini in the URL.
fn streaming(c: Dialect, mut body: Value, include_usage: bool) -> Value {
    if c != Gemini {
        body["stream"] = json!(true);
    }
    if c == Chat {
        body["stream_options"] = json!({ "include_usage": include_usage });
    }
    body
}

/// A client's request body: `user` asks, then `history` (already in the client's dialect, as
/// messages, items or contents), with get_weather and reasoning on.
fn reasoning_request(c: Dialect, history: Vec<Value>, stream: bool, include_usage: bool) -> Value {
    let mut body = request_after(c, "Weather in Paris?", history, weather_tools(c));
    match c {
        Chat => body["reasoning_effort"] = json!("high"),
        Resp => {
            body["reasoning"] = json!({"effort":"high","summary":"auto"});
            body["include"] = json!(["reasoning.encrypted_content"]);
            body["store"] = json!(false);
        }
        Anthropic => {
            body["max_tokens"] = json!(THINKING_MAX);
            body["thinking"] = json!({"type":"enabled","budget_tokens":THINKING_BUDGET});
        }
        Gemini => {
            body["generationConfig"] = json!({"thinkingConfig":{"includeThoughts":true,
                "thinkingBudget":THINKING_BUDGET}});
        }
    }
    if stream {
        body = streaming(c, body, include_usage);
    }
    body
}

// ---------------------------------------------------------------------------------------------
// T7: streaming usage (§2, §2.E, §3.3, §5.4).
// ---------------------------------------------------------------------------------------------

/// T7's usage: the Anthropic fixture reads and writes the cache (§2.C); the others reason
/// (Chat `completion_tokens_details.reasoning_tokens`, Responses
/// `output_tokens_details.reasoning_tokens`, Gemini `thoughtsTokenCount`) and read the cache.
fn t7_usage(p: Dialect) -> Usage {
    match p {
        Anthropic => Usage {
            input_total: 42,
            input_cache_read: 30,
            input_cache_write: 7,
            output_total: 50,
            output_reasoning: 0,
        },
        _ => Usage {
            input_total: 40,
            input_cache_read: 8,
            input_cache_write: 0,
            output_total: 50,
            output_reasoning: 30,
        },
    }
}

/// T1 (reasoning, then text) or T3's first answer (reasoning, text, a call).
fn t7_spec(p: Dialect, call: bool) -> Spec {
    Spec {
        thinking: true,
        text: if call {
            ["Let me ", "check."]
        } else {
            ["Hello ", "there!"]
        },
        call,
        usage: t7_usage(p),
    }
}

/// The fixtures have the shape T7 asks for: Anthropic's output placeholder in `message_start`
/// and its cache counts, Gemini's cumulative snapshot on every chunk.
#[test]
fn t7_fixtures_have_the_shapes_that_tempt_summing() {
    let g = gemini_stream(&t7_spec(Gemini, true));
    let snapshots: Vec<Value> = payloads(&g)
        .into_iter()
        .map(|(_, v)| v["usageMetadata"]["promptTokenCount"].clone())
        .collect();
    assert_eq!(snapshots, vec![json!(40); 5], "a snapshot on every chunk");
    let a = anthropic_stream(&t7_spec(Anthropic, false));
    assert!(a.contains(
        r#""cache_creation_input_tokens":7,"cache_read_input_tokens":30,"output_tokens":1"#
    ));
    assert!(a.contains(r#""usage":{"output_tokens":50}"#));
}

#[test]
fn t7_streamed_usage_is_metered_as_unstreamed_and_shown_where_each_client_dialect_allows() {
    // Every pair: each provider dialect reports usage its own way, each client dialect shows it
    // its own way. Only a Chat client has a choice (`include_usage`); the others always get it.
    for_each_pair(|c, p| {
        for call in [false, true] {
            let spec = t7_spec(p, call);
            let u = spec.usage;
            // The same answer unstreamed: metered, and shown to the client.
            let answer = decode_answer(p, &provider_answer(p, &spec));
            assert_eq!(answer.usage, Some(u), "{p} unstreamed, call {call}");
            let req = decode_request(c, &reasoning_request(c, vec![], false, false), false);
            let client_answer = encode_answer(c, &answer, &req);
            let key = if c == Gemini {
                "usageMetadata"
            } else {
                "usage"
            };
            assert_json(
                &client_answer[key],
                &client_usage(c, &u),
                &format!("unstreamed {p} → {c}, call {call}"),
            );
            for include_usage in [false, true] {
                if include_usage && c != Chat {
                    continue;
                }
                let what = format!("stream {p} → {c}, call {call}, include_usage {include_usage}");
                let body = reasoning_request(c, vec![], true, include_usage);
                let req = decode_request(c, &body, true);
                let stream = provider_stream(p, &spec);
                for piece in [1, 7, usize::MAX] {
                    let conv = convert(c, p, &req, &stream, piece);
                    assert!(matches!(conv.end, StreamEnd::Complete(_)), "{what}");
                    // Metered exactly as the unstreamed answer: the last snapshot, not a sum.
                    assert_eq!(conv.metered, Some(u), "{what}, pieces of {piece}");
                }
                let out = convert(c, p, &req, &stream, 7).out;
                let shown = (c != Chat || include_usage).then(|| client_usage(c, &u));
                assert_eq!(
                    usage_shown(c, &out),
                    shown.into_iter().collect::<Vec<_>>(),
                    "{what}\n{out}"
                );
                let (said, ended) = read_back(c, &out);
                assert_eq!(ended, Ended::Complete, "{what}");
                let read = (c != Chat || include_usage).then(|| seen_by(c, u));
                assert_eq!(said.usage, read, "{what}\n{out}");
                check_usage_placement(c, p, &out, include_usage, &u, &what);
            }
        }
    });
}

/// Where each client dialect carries usage in a stream, beyond the authoritative object.
fn check_usage_placement(
    c: Dialect,
    p: Dialect,
    out: &str,
    include_usage: bool,
    u: &Usage,
    what: &str,
) {
    let events = payloads(out);
    match c {
        // §2.A: with include_usage every chunk has `usage: null` but the extra last one, whose
        // `choices` is empty; without it, no usage at all.
        Chat => {
            let (last, body) = events.split_last().unwrap();
            for (_, chunk) in body {
                if include_usage {
                    assert_eq!(chunk.get("usage"), Some(&Value::Null), "{what}: {chunk}");
                } else {
                    assert!(
                        chunk.get("usage").is_none_or(Value::is_null),
                        "{what}: {chunk}"
                    );
                }
            }
            if include_usage {
                assert_eq!(last.1["choices"], json!([]), "{what}: {}", last.1);
            } else {
                assert_ne!(last.1["choices"], json!([]), "{what}: no usage chunk");
            }
        }
        // §2.B: earlier `response.*` snapshots carry `usage: null`.
        Resp => {
            for (name, v) in &events {
                if matches!(
                    name.as_deref(),
                    Some("response.created" | "response.in_progress")
                ) {
                    assert_eq!(v["response"]["usage"], Value::Null, "{what}: {v}");
                }
            }
        }
        // §2.C, §2.E: an Anthropic provider's input and cache counts are known from its
        // start, and the client's `message_start` carries them.
        Anthropic => {
            let start = &events[0].1["message"]["usage"];
            if p == Anthropic {
                assert_eq!(
                    (
                        &start["input_tokens"],
                        &start["cache_read_input_tokens"],
                        &start["cache_creation_input_tokens"]
                    ),
                    (
                        &json!(u.input_total - u.input_cache_read - u.input_cache_write),
                        &json!(u.input_cache_read),
                        &json!(u.input_cache_write)
                    ),
                    "{what}: {start}"
                );
            }
        }
        // §2.D: the last chunk carries finishReason and the whole usage.
        Gemini => {
            let last = &events.last().unwrap().1;
            assert_eq!(last["candidates"][0]["finishReason"], "STOP", "{what}");
        }
    }
}

/// The same-dialect relays the gateway runs (byte-for-byte, a converter watching on the side;
/// Chat's own relay) meter the last snapshot too, and a Chat client that did not ask for usage
/// is not shown the usage chunk.
#[test]
fn t7_same_dialect_relays_meter_the_last_snapshot() {
    for d in ALL {
        for call in [false, true] {
            let spec = t7_spec(d, call);
            for include_usage in [false, true] {
                if include_usage && d != Chat {
                    continue;
                }
                let what = format!("{d} relay, call {call}, include_usage {include_usage}");
                let req =
                    decode_request(d, &reasoning_request(d, vec![], true, include_usage), true);
                let stream = provider_stream(d, &spec);
                for piece in [1, 7, usize::MAX] {
                    let got = relay(same_dialect_relay(d, &req).as_mut(), &stream, piece);
                    assert!(matches!(got.end, StreamEnd::Complete(_)), "{what}");
                    assert_eq!(got.metered, Some(spec.usage), "{what}, pieces of {piece}");
                    // The provider's own bytes reach the client; only Chat's relay chooses.
                    if d == Chat {
                        let want = include_usage.then(|| chat_usage(&spec.usage));
                        assert_eq!(
                            usage_shown(d, &got.out),
                            want.into_iter().collect::<Vec<_>>(),
                            "{what}\n{}",
                            got.out
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// T15: a Chat provider's awkward streams (§2.A, §3.6 steps 2, 6, 7, §5.2, §5.3).
// ---------------------------------------------------------------------------------------------

/// Azure's first chunk: no choices, empty id and model, the prompt's filter results.
const AZURE_FILTER_CHUNK: &str = concat!(
    r#"data: {"choices":[],"created":0,"id":"","model":"","object":"","#,
    r#""prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"#,
    r#""hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"#,
    r#""sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}"#,
    "\n\n"
);

const T15_PROMPT: u64 = 9;

fn t15_usage(completion: u64) -> Value {
    json!({"prompt_tokens":T15_PROMPT,"completion_tokens":completion,
        "total_tokens":T15_PROMPT + completion})
}

fn t15_chunk(delta: Value, finish: Option<&str>, usage: Option<u64>) -> String {
    data(
        &json!({"id":"chatcmpl-T15","object":"chat.completion.chunk","created":1,
        "model":UP_MODEL,"choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}],
        "usage":usage.map(t15_usage)}),
    )
}

/// A T15 stream's content: texts, then (for the tool variant) a call in fragments. The last
/// piece always comes with the finish reason.
struct T15 {
    texts: Vec<&'static str>,
    call: bool,
}

impl T15 {
    fn text() -> T15 {
        T15 {
            texts: vec!["Hel", "lo", " there!"],
            call: false,
        }
    }
    fn tool() -> T15 {
        T15 {
            texts: vec!["Let me ", "check."],
            call: true,
        }
    }

    /// The deltas, in order.
    fn deltas(&self) -> Vec<Value> {
        let mut deltas: Vec<Value> = self.texts.iter().map(|t| json!({ "content": t })).collect();
        if self.call {
            deltas.extend(chat_call_deltas(0, "call_T15", &ARG_FRAGMENTS));
        }
        deltas
    }

    fn finish(&self) -> &'static str {
        if self.call {
            "tool_calls"
        } else {
            "stop"
        }
    }

    /// The completion tokens once `n` deltas are out: one per delta.
    fn completion(&self) -> u64 {
        self.deltas().len() as u64
    }

    fn usage(&self) -> Usage {
        Usage {
            input_total: T15_PROMPT,
            output_total: self.completion(),
            ..Usage::default()
        }
    }

    /// The awkward stream: Azure's filter chunk first; cumulative usage on every other chunk;
    /// the last delta, the finish reason and the last usage in one chunk.
    fn awkward(&self) -> String {
        let mut events = vec![
            AZURE_FILTER_CHUNK.to_string(),
            t15_chunk(json!({"role":"assistant","content":""}), None, Some(0)),
        ];
        let deltas = self.deltas();
        let (last, body) = deltas.split_last().unwrap();
        for (i, d) in body.iter().enumerate() {
            events.push(t15_chunk(d.clone(), None, Some(i as u64 + 1)));
        }
        events.push(t15_chunk(
            last.clone(),
            Some(self.finish()),
            Some(self.completion()),
        ));
        events.push("data: [DONE]\n\n".to_string());
        events.concat()
    }

    /// The same answer as OpenAI itself streams it: a finish chunk, then the usage chunk.
    fn plain(&self) -> String {
        let mut events = vec![t15_chunk(
            json!({"role":"assistant","content":""}),
            None,
            None,
        )];
        for d in self.deltas() {
            events.push(t15_chunk(d, None, None));
        }
        events.push(t15_chunk(json!({}), Some(self.finish()), None));
        events.push(data(
            &json!({"id":"chatcmpl-T15","object":"chat.completion.chunk","created":1,
            "model":UP_MODEL,"choices":[],"usage":t15_usage(self.completion())}),
        ));
        events.push("data: [DONE]\n\n".to_string());
        events.concat()
    }

    /// What the client must read back.
    fn said(&self, c: Dialect, include_usage: bool) -> Said {
        Said {
            text: self.texts.concat(),
            thinking: String::new(),
            calls: if self.call {
                vec![(
                    "call_T15".to_string(),
                    "get_weather".to_string(),
                    json!({"location":"Paris"}),
                )]
            } else {
                vec![]
            },
            usage: (c != Chat || include_usage).then(|| seen_by(c, self.usage())),
            stop: Some(if self.call {
                Stop::ToolUse
            } else {
                Stop::EndTurn
            }),
        }
    }
}

fn t15_request(c: Dialect, include_usage: bool) -> Request {
    let mut body = ask(c, "Weather in Paris?");
    body["tools"] = weather_tools(c);
    decode_request(c, &streaming(c, body, include_usage), true)
}

#[test]
fn t15_awkward_chat_streams_reach_every_client_whole_with_usage_taken_once() {
    // Every client dialect against a Chat provider: the awkward chunks are the provider's, so
    // only the Chat provider column applies.
    for c in ALL {
        for fixture in [T15::text(), T15::tool()] {
            for include_usage in [false, true] {
                if include_usage && c != Chat {
                    continue;
                }
                let what = format!(
                    "T15 chat → {c}, call {}, include_usage {include_usage}",
                    fixture.call
                );
                let req = t15_request(c, include_usage);
                let stream = fixture.awkward();
                for piece in [1, 7, 64, usize::MAX] {
                    let conv = convert(c, Chat, &req, &stream, piece);
                    assert!(matches!(conv.end, StreamEnd::Complete(_)), "{what}");
                    assert_eq!(conv.metered, Some(fixture.usage()), "{what}: metered once");
                    let (said, ended) = read_back(c, &conv.out);
                    assert_eq!(ended, Ended::Complete, "{what}");
                    assert_eq!(said, fixture.said(c, include_usage), "{what}\n{}", conv.out);
                    let shown =
                        (c != Chat || include_usage).then(|| client_usage(c, &fixture.usage()));
                    assert_eq!(
                        usage_shown(c, &conv.out),
                        shown.into_iter().collect::<Vec<_>>(),
                        "{what}: usage shown once\n{}",
                        conv.out
                    );
                }
                // The non-stream twin meters the same.
                let (said, _) = read_back(Chat, &fixture.plain());
                assert_eq!(said.usage, Some(fixture.usage()), "{what}: the plain twin");
            }
        }
    }
}

/// §5.3: "Don't take id/model from it" — the client's stream is the one the same answer without
/// the filter chunk, streamed the ordinary way, gives: same id, same bytes.
#[test]
fn t15_the_azure_filter_chunk_gives_the_client_stream_no_id() {
    let id_of = |c: Dialect, out: &str| -> Value {
        let events = payloads(out);
        let first = &events[0].1;
        match c {
            Chat => first["id"].clone(),
            Resp => first["response"]["id"].clone(),
            Anthropic => first["message"]["id"].clone(),
            Gemini => first.get("responseId").cloned().unwrap_or(Value::Null),
        }
    };
    let mut failed = Vec::new();
    for c in ALL {
        for fixture in [T15::text(), T15::tool()] {
            let req = t15_request(c, true);
            let awkward = convert(c, Chat, &req, &fixture.awkward(), 7).out;
            let plain = convert(c, Chat, &req, &fixture.plain(), 7).out;
            let (got, want) = (id_of(c, &awkward), id_of(c, &plain));
            if got != want || awkward != plain {
                failed.push(format!(
                    "chat → {c} (call {}): client stream id {got} instead of {want}",
                    fixture.call
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The same stream to a Chat client through the gateway's Chat relay (what a Chat → Chat pair
/// really runs): metered once, and a client that did not ask for usage is not shown it.
#[test]
fn t15_chat_relay_meters_once() {
    for fixture in [T15::text(), T15::tool()] {
        for include_usage in [false, true] {
            let what = format!(
                "T15 chat relay, call {}, include_usage {include_usage}",
                fixture.call
            );
            let req = t15_request(Chat, include_usage);
            for piece in [1, 7, usize::MAX] {
                let got = relay(
                    same_dialect_relay(Chat, &req).as_mut(),
                    &fixture.awkward(),
                    piece,
                );
                assert!(matches!(got.end, StreamEnd::Complete(_)), "{what}");
                assert_eq!(got.metered, Some(fixture.usage()), "{what}");
                let (said, _) = read_back(Chat, &got.out);
                assert_eq!(said.text, fixture.texts.concat(), "{what}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// T12: tool_choice variants (§1.A–1.E, §3.6–3.9).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    None,
    Auto,
    /// At least one call: Chat/Responses `required`, Anthropic `any`, Gemini `ANY`.
    Required,
    /// get_weather, exactly.
    Named,
    /// Auto, at most one call per turn: Chat/Responses `parallel_tool_calls: false`,
    /// Anthropic `disable_parallel_tool_use: true`; Gemini has no such setting (§1.E "n/a").
    Serial,
}

const CHOICES: [Choice; 5] = [
    Choice::None,
    Choice::Auto,
    Choice::Required,
    Choice::Named,
    Choice::Serial,
];

fn t12_tools(c: Dialect) -> Value {
    client_tools(
        c,
        &[
            ("get_weather", "Current weather.", weather_schema()),
            (
                "get_time",
                "Current time.",
                json!({"type":"object","properties":{"zone":{"type":"string"}}}),
            ),
        ],
    )
}

/// The fields of a request that say `choice`, exactly as dialect `d` says them; `None` where
/// `d` cannot say it.
fn choice_fields(d: Dialect, choice: Choice) -> Option<Value> {
    Some(match d {
        Chat | Resp => {
            let tool_choice = match choice {
                Choice::None => json!("none"),
                Choice::Auto | Choice::Serial => json!("auto"),
                Choice::Required => json!("required"),
                Choice::Named if d == Chat => {
                    json!({"type":"function","function":{"name":"get_weather"}})
                }
                Choice::Named => json!({"type":"function","name":"get_weather"}),
            };
            let mut v = json!({ "tool_choice": tool_choice });
            if choice == Choice::Serial {
                v["parallel_tool_calls"] = json!(false);
            }
            v
        }
        Anthropic => json!({"tool_choice": match choice {
            Choice::None => json!({"type":"none"}),
            Choice::Auto => json!({"type":"auto"}),
            Choice::Required => json!({"type":"any"}),
            Choice::Named => json!({"type":"tool","name":"get_weather"}),
            Choice::Serial => json!({"type":"auto","disable_parallel_tool_use":true}),
        }}),
        Gemini => json!({"toolConfig":{"functionCallingConfig": match choice {
            Choice::None => json!({"mode":"NONE"}),
            Choice::Auto => json!({"mode":"AUTO"}),
            Choice::Required => json!({"mode":"ANY"}),
            Choice::Named => json!({"mode":"ANY","allowedFunctionNames":["get_weather"]}),
            Choice::Serial => return None,
        }}}),
    })
}

/// T12's request in a client's dialect; `None` where the dialect cannot say the variant.
fn t12_request(c: Dialect, choice: Choice) -> Option<Value> {
    let mut body = ask(c, "Weather and time in Paris?");
    body["tools"] = t12_tools(c);
    for (k, v) in choice_fields(c, choice)?.as_object().unwrap() {
        body[k] = v.clone();
    }
    Some(body)
}

/// The fields of a provider request that say the choice, exactly as its dialect says them.
fn t12_expected(p: Dialect, choice: Choice) -> Value {
    // Gemini cannot say "one call at a time": the choice stays AUTO.
    choice_fields(p, choice)
        .or_else(|| choice_fields(p, Choice::Auto))
        .unwrap()
}

/// The choice fields of a provider request: the keys `t12_expected` names, and every other
/// key that could say a choice, so that a stray one fails too.
fn t12_fields(p: Dialect, body: &Value) -> Value {
    let keys: &[&str] = match p {
        Chat | Resp => &["tool_choice", "parallel_tool_calls"],
        Anthropic => &[
            "tool_choice",
            "parallel_tool_calls",
            "disable_parallel_tool_use",
        ],
        Gemini => &["toolConfig", "tool_choice", "parallel_tool_calls"],
    };
    let mut v = json!({});
    for k in keys {
        if let Some(x) = body.get(*k) {
            v[*k] = x.clone();
        }
    }
    v
}

/// The tool names a provider request declares.
fn declared_names(p: Dialect, body: &Value) -> Vec<String> {
    let list = match p {
        Gemini => body["tools"][0]["functionDeclarations"].clone(),
        _ => body["tools"].clone(),
    };
    list.as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            t["name"]
                .as_str()
                .or(t["function"]["name"].as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn t12_tool_choices_reach_every_provider_as_its_dialect_says_them() {
    // Every pair; a Gemini client cannot ask for serial calls, so that variant has no Gemini
    // client row.
    for_each_pair(|c, p| {
        for choice in CHOICES {
            let Some(body) = t12_request(c, choice) else {
                continue;
            };
            let what = format!("T12 {choice:?} {c} → {p}");
            for stream in [false, true] {
                let req = decode_request(c, &body, stream);
                let sent = encode_request(p, &req);
                assert_json(&t12_fields(p, &sent), &t12_expected(p, choice), &what);
                assert_eq!(
                    declared_names(p, &sent),
                    ["get_weather", "get_time"],
                    "{what}: both tools declared"
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The client's side of a tool loop: its answer (or stream) as it sends it back, with the
// tool's result.
// ---------------------------------------------------------------------------------------------

/// A client's stream gathered into the assistant turn it sends back, as its SDK accumulates
/// it: Chat's message (with the `reasoning_content` compatible clients keep), Responses'
/// final `output`, Anthropic's content blocks, Gemini's parts (adjacent texts joined).
fn echo_of_stream(c: Dialect, stream: &str) -> Echo {
    let events = payloads(stream);
    match c {
        Chat => {
            let (mut text, mut reasoning) = (String::new(), String::new());
            let mut calls: Vec<Value> = Vec::new();
            for (_, chunk) in &events {
                let delta = &chunk["choices"][0]["delta"];
                text.push_str(delta["content"].as_str().unwrap_or(""));
                reasoning.push_str(delta["reasoning_content"].as_str().unwrap_or(""));
                for f in delta["tool_calls"].as_array().into_iter().flatten() {
                    let i = f["index"].as_u64().unwrap() as usize;
                    if i == calls.len() {
                        calls.push(json!({"id":f["id"],"type":"function",
                            "function":{"name":f["function"]["name"],"arguments":""}}));
                    }
                    let args = calls[i]["function"]["arguments"]
                        .as_str()
                        .unwrap()
                        .to_string()
                        + f["function"]["arguments"].as_str().unwrap_or("");
                    calls[i]["function"]["arguments"] = json!(args);
                }
            }
            let mut message = json!({"role":"assistant",
                "content": if text.is_empty() { Value::Null } else { json!(text) }});
            if !reasoning.is_empty() {
                message["reasoning_content"] = json!(reasoning);
            }
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            echo_of_answer(Chat, &json!({"choices":[{"message":message}]}))
        }
        Resp => {
            let done = &events.last().unwrap().1;
            assert_eq!(done["type"], "response.completed", "{stream}");
            echo_of_answer(Resp, &done["response"])
        }
        Anthropic => {
            let mut blocks: Vec<Value> = Vec::new();
            let mut json_args = String::new();
            for (name, v) in &events {
                match name.as_deref() {
                    Some("content_block_start") => {
                        blocks.push(v["content_block"].clone());
                        json_args.clear();
                    }
                    Some("content_block_delta") => {
                        let b = blocks.last_mut().unwrap();
                        let d = &v["delta"];
                        let append = |b: &mut Value, key: &str, more: &Value| {
                            let s = b[key].as_str().unwrap_or("").to_string();
                            b[key] = json!(s + more.as_str().unwrap());
                        };
                        match d["type"].as_str().unwrap() {
                            "text_delta" => append(b, "text", &d["text"]),
                            "thinking_delta" => append(b, "thinking", &d["thinking"]),
                            "signature_delta" => append(b, "signature", &d["signature"]),
                            "input_json_delta" => {
                                json_args.push_str(d["partial_json"].as_str().unwrap())
                            }
                            other => panic!("delta {other}"),
                        }
                    }
                    Some("content_block_stop") => {
                        let b = blocks.last_mut().unwrap();
                        if b["type"] == "tool_use" && !json_args.is_empty() {
                            b["input"] = serde_json::from_str(&json_args).unwrap();
                        }
                    }
                    _ => {}
                }
            }
            echo_of_answer(Anthropic, &json!({ "content": blocks }))
        }
        Gemini => {
            let mut parts: Vec<Value> = Vec::new();
            for (_, chunk) in &events {
                for part in chunk["candidates"][0]["content"]["parts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let joinable =
                        |p: &Value| p.get("text").is_some() && p.get("thoughtSignature").is_none();
                    match parts.last_mut() {
                        Some(last)
                            if joinable(last)
                                && joinable(part)
                                && last.get("thought") == part.get("thought") =>
                        {
                            let s = last["text"].as_str().unwrap().to_string()
                                + part["text"].as_str().unwrap();
                            last["text"] = json!(s);
                        }
                        _ if part.get("text") == Some(&json!("")) => {}
                        _ => parts.push(part.clone()),
                    }
                }
            }
            let content = json!({"role":"model","parts":parts});
            echo_of_answer(Gemini, &json!({"candidates":[{"content":content}]}))
        }
    }
}

/// The history a client sends after its assistant turn: the turn itself, then the result of
/// its call to `name` (`result`: a JSON object, as text where the dialect wants text).
fn history(c: Dialect, echo: &Echo, result: &Value, name: &str) -> Vec<Value> {
    let id = echo.id.as_deref();
    match c {
        Chat => vec![
            echo.assistant.clone(),
            json!({"role":"tool","tool_call_id":id.unwrap(),"content":result.to_string()}),
        ],
        Resp => {
            let mut items = echo.assistant.as_array().unwrap().clone();
            items.push(json!({"type":"function_call_output","call_id":id.unwrap(),
                "output":result.to_string()}));
            items
        }
        Anthropic => vec![
            echo.assistant.clone(),
            json!({"role":"user","content":[{"type":"tool_result","tool_use_id":id.unwrap(),
                "content":result.to_string()}]}),
        ],
        Gemini => {
            let mut response = json!({"name":name,"response":result});
            if let Some(id) = id {
                response["id"] = json!(id);
            }
            vec![
                echo.assistant.clone(),
                json!({"role":"user","parts":[{ "functionResponse": response }]}),
            ]
        }
    }
}

/// The calls in a client's answer: id (absent for a Gemini call shown without one), name,
/// arguments.
fn answer_calls(c: Dialect, answer: &Value) -> Vec<(Option<String>, String, Value)> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    match c {
        Chat => answer["choices"][0]["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let args = serde_json::from_str(t["function"]["arguments"].as_str().unwrap());
                (
                    s(&t["id"]),
                    s(&t["function"]["name"]).unwrap(),
                    args.unwrap(),
                )
            })
            .collect(),
        Resp => answer["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "function_call")
            .map(|i| {
                let args = serde_json::from_str(i["arguments"].as_str().unwrap());
                (s(&i["call_id"]), s(&i["name"]).unwrap(), args.unwrap())
            })
            .collect(),
        Anthropic => answer["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| (s(&b["id"]), s(&b["name"]).unwrap(), b["input"].clone()))
            .collect(),
        Gemini => answer["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.get("functionCall"))
            .map(|f| (s(&f["id"]), s(&f["name"]).unwrap(), f["args"].clone()))
            .collect(),
    }
}

/// An id as a client of `c` may hold it: Anthropic's ids must match `^[a-zA-Z0-9_-]+$`, other
/// characters become `_` (§3.4 rule 1, §5.1); the other dialects take ids as they are.
fn id_for(c: Dialect, id: &str) -> String {
    if c == Anthropic {
        id.chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' {
                    ch
                } else {
                    '_'
                }
            })
            .collect()
    } else {
        id.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// T13: a long tool name, JSON-Schema extras, an id with `.` and `:` (§1.A, §1.D, §3.4, §5.1,
// §5.8).
// ---------------------------------------------------------------------------------------------

/// 69 characters, all of `[a-zA-Z0-9_-]` (an MCP tool, as Claude Code names them): over the
/// 64 that OpenAI's dialects allow, within Anthropic's practice and Gemini's 128 (§3.4 rule 6).
const LONG_NAME: &str = "mcp__filesystem__read_multiple_files_with_metadata_and_permissions_v2";
/// Kimi-style: `.` and `:` are not in Anthropic's id alphabet (§3.4, §5.1).
const ODD_ID: &str = "functions.read_files:0";
const ODD_ID_2: &str = "functions.read_files:1";
const T13_ARGS: &str = r#"{"path":"a.txt"}"#;

fn t13_schema() -> Value {
    json!({"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
        "properties":{"path":{"type":"string"},"mode":{"const":"read"}},
        "required":["path"],"additionalProperties":false})
}

fn t13_result() -> Value {
    json!({"bytes":5})
}

/// The call with the odd id, as each client dialect's history has it.
fn t13_echo(c: Dialect) -> Echo {
    let assistant = match c {
        Chat => json!({"role":"assistant","content":null,"tool_calls":[{"id":ODD_ID,
            "type":"function","function":{"name":LONG_NAME,"arguments":T13_ARGS}}]}),
        Resp => json!([{"type":"function_call","call_id":ODD_ID,"name":LONG_NAME,
            "arguments":T13_ARGS}]),
        Anthropic => json!({"role":"assistant","content":[{"type":"tool_use","id":ODD_ID,
            "name":LONG_NAME,"input":{"path":"a.txt"}}]}),
        Gemini => json!({"role":"model","parts":[{"functionCall":{"id":ODD_ID,"name":LONG_NAME,
            "args":{"path":"a.txt"}}}]}),
    };
    Echo {
        assistant,
        id: Some(ODD_ID.to_string()),
    }
}

fn t13_request(c: Dialect, history: Vec<Value>) -> Value {
    let tools = client_tools(c, &[(LONG_NAME, "Reads files.", t13_schema())]);
    request_after(c, "Read a.txt", history, tools)
}

/// What provider `p` must receive from a client of `c`: the tool as `name` (the provider's
/// name for it), the call and its result under one `id` (`None`: a Gemini provider shown no
/// id), the schema as the provider's dialect takes it.
fn t13_expected(p: Dialect, c: Dialect, id: Option<&str>, name: &str) -> Value {
    let result = t13_result().to_string();
    let body = match p {
        Chat => json!({"model":UP_MODEL,"messages":[
            {"role":"user","content":"Read a.txt"},
            {"role":"assistant","content":null,"tool_calls":[{"id":id,"type":"function",
                "function":{"name":name,"arguments":T13_ARGS}}]},
            {"role":"tool","tool_call_id":id,"content":result}],
            "tools":[{"type":"function","function":{"name":name,"description":"Reads files.",
                "parameters":t13_schema()}}]}),
        Resp => json!({"model":UP_MODEL,"input":[
            {"role":"user","content":"Read a.txt"},
            {"type":"function_call","call_id":id,"name":name,"arguments":T13_ARGS},
            {"type":"function_call_output","call_id":id,"output":result}],
            "tools":[{"type":"function","name":name,"description":"Reads files.",
                "parameters":t13_schema(),"strict":false}],
            "store":false}),
        Anthropic => json!({"model":UP_MODEL,"messages":[
            {"role":"user","content":"Read a.txt"},
            {"role":"assistant","content":[{"type":"tool_use","id":id,"name":name,
                "input":{"path":"a.txt"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":id,"content":result}]}],
            "tools":[{"name":name,"description":"Reads files.","input_schema":t13_schema()}]}),
        Gemini => {
            let mut call = json!({"name":name,"args":{"path":"a.txt"}});
            let mut response = json!({"name":name,"response":t13_result()});
            if let Some(id) = id {
                call["id"] = json!(id);
                response["id"] = json!(id);
            }
            // `parametersJsonSchema` takes JSON Schema, `additionalProperties` and `const`
            // included; `parameters` would refuse them (§5.8). `$schema` is noise to Gemini.
            let mut schema = t13_schema();
            schema.as_object_mut().unwrap().remove("$schema");
            json!({"contents":[
                {"role":"user","parts":[{"text":"Read a.txt"}]},
                {"role":"model","parts":[{"functionCall":call}]},
                {"role":"user","parts":[{"functionResponse":response}]}],
                "tools":[{"functionDeclarations":[{"name":name,"description":"Reads files.",
                    "parametersJsonSchema":schema}]}]})
        }
    };
    with_max_tokens(p, c, body)
}

/// The id provider `p` must be shown for a call the client holds as `id`: Anthropic's
/// alphabet for an Anthropic provider; nothing for a Gemini provider unless a Gemini client
/// gave it (Gemini issued it then; some Gemini endpoints refuse ids they did not issue).
fn id_at_provider(p: Dialect, c: Dialect, id: &str) -> Option<String> {
    match p {
        Anthropic => Some(id_for(Anthropic, id)),
        Gemini => (c == Gemini).then(|| id.to_string()),
        _ => Some(id.to_string()),
    }
}

/// The name provider `p` declared the long tool under, checked to be the one its history
/// calls too.
fn provider_tool_name(p: Dialect, sent: &Value) -> String {
    let names = declared_names(p, sent);
    assert_eq!(names.len(), 1, "{sent}");
    names[0].clone()
}

#[test]
fn t13_long_names_schema_extras_and_odd_ids_reach_every_provider_consistently() {
    // Every pair. The provider's name for the tool is read from its request: whatever it is,
    // the history's call must use the same one, and Anthropic and Gemini providers take the
    // name as it is (§3.4 rule 6); that OpenAI's providers get one they accept is
    // `t13_long_tool_names_reach_openai_providers_shortened`.
    for_each_pair(|c, p| {
        let echo = t13_echo(c);
        let body = t13_request(c, history(c, &echo, &t13_result(), LONG_NAME));
        let req = decode_request(c, &body, false);
        let sent = encode_request(p, &req);
        let name = provider_tool_name(p, &sent);
        if matches!(p, Anthropic | Gemini) {
            assert_eq!(name, LONG_NAME, "{c} → {p}");
        }
        let id = id_at_provider(p, c, ODD_ID);
        assert_json(
            &sent,
            &t13_expected(p, c, id.as_deref(), &name),
            &format!("T13 {c} → {p}"),
        );
    });
}

/// The provider's answer calling the tool by the provider's name for it, with an id of the
/// provider's alphabet: `.` and `:` where the dialect allows them.
fn t13_answer(p: Dialect, name: &str) -> (Value, &'static str) {
    match p {
        Chat => (
            json!({"id":"chatcmpl-Q","object":"chat.completion","created":1,"model":UP_MODEL,
                "choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,
                    "tool_calls":[{"id":ODD_ID_2,"type":"function",
                        "function":{"name":name,"arguments":T13_ARGS}}]},
                    "logprobs":null,"finish_reason":"tool_calls"}],
                "usage":{"prompt_tokens":30,"completion_tokens":9,"total_tokens":39}}),
            ODD_ID_2,
        ),
        Resp => (
            json!({"id":"resp_Q","object":"response","created_at":1,"status":"completed",
                "model":UP_MODEL,"output":[{"id":"fc_Q","type":"function_call",
                    "status":"completed","arguments":T13_ARGS,"call_id":ODD_ID_2,"name":name}],
                "usage":{"input_tokens":30,"output_tokens":9,"total_tokens":39}}),
            ODD_ID_2,
        ),
        Anthropic => (
            json!({"id":"msg_Q","type":"message","role":"assistant","model":UP_MODEL,
                "content":[{"type":"tool_use","id":"toolu_Q","name":name,"input":{"path":"a.txt"}}],
                "stop_reason":"tool_use","stop_sequence":null,
                "usage":{"input_tokens":30,"output_tokens":9}}),
            "toolu_Q",
        ),
        Gemini => (
            json!({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{
                "id":ODD_ID_2,"name":name,"args":{"path":"a.txt"}}}]},"finishReason":"STOP",
                "index":0}],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":9,
                "totalTokenCount":39},"modelVersion":UP_MODEL,"responseId":"Q-1"}),
            ODD_ID_2,
        ),
    }
}

#[test]
fn t13_names_are_restored_and_ids_stay_consistent_across_two_turns() {
    // Every pair: provider answer → client answer → the client's next turn → provider request.
    for_each_pair(|c, p| {
        let what = format!("T13 round trip {p} → {c} → {p}");
        let first = t13_request(c, history(c, &t13_echo(c), &t13_result(), LONG_NAME));
        let req = decode_request(c, &first, false);
        let name_at_provider = provider_tool_name(p, &encode_request(p, &req));
        let (answer, provider_id) = t13_answer(p, &name_at_provider);
        let client_answer = client_answer(c, p, &answer, &req);
        // The client sees its own tool's name, and the provider's id in its alphabet.
        let client_id = id_for(c, provider_id);
        assert_eq!(
            answer_calls(c, &client_answer),
            vec![(
                Some(client_id.clone()),
                LONG_NAME.to_string(),
                json!({"path":"a.txt"})
            )],
            "{what}\n{client_answer}"
        );
        // The next turn: the call and its result reach the provider under one id, the one it
        // issued unless the client's alphabet changed it, and under its name for the tool.
        let echo = echo_of_answer(c, &client_answer);
        let next = t13_request(c, history(c, &echo, &t13_result(), LONG_NAME));
        let sent = encode_request(p, &decode_request(c, &next, false));
        let id = id_at_provider(p, c, &client_id);
        assert_json(
            &sent,
            &t13_expected(p, c, id.as_deref(), &name_at_provider),
            &what,
        );
    });
}

/// §1.A, §3.4 rule 6, §3.6 (tools row), §5.1: OpenAI's dialects take tool names of at most 64
/// characters of `[a-zA-Z0-9_-]`; a longer one must be shortened (with a hash suffix) for an
/// OpenAI provider, and restored in the client's answer.
#[test]
fn t13_long_tool_names_reach_openai_providers_shortened() {
    let mut failed = Vec::new();
    for c in ALL {
        for p in [Chat, Resp] {
            let body = t13_request(c, history(c, &t13_echo(c), &t13_result(), LONG_NAME));
            let sent = encode_request(p, &decode_request(c, &body, false));
            let name = provider_tool_name(p, &sent);
            let ok = name.len() <= 64
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
            if !ok {
                failed.push(format!(
                    "{c} → {p}: tool declared as {name:?} ({} chars)",
                    name.len()
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// T9: reasoning on, with a tool loop (§3.4 rule 5, §3.6, §3.10, §5.5, §5.7, §5.9, §5.13).
// ---------------------------------------------------------------------------------------------

/// T9's first answer: reasoning, a short text, and the call.
fn t9_spec(p: Dialect) -> Spec {
    Spec {
        thinking: true,
        text: ["Let me ", "check."],
        call: true,
        usage: t7_usage(p),
    }
}

const T9_TEXT: &str = "Let me check.";

fn t9_result() -> Value {
    json!({"temp_c":18})
}

/// The visible text and the reasoning of a client's answer, each where its dialect keeps it.
fn visible_and_reasoning(c: Dialect, answer: &Value) -> (String, String) {
    let (mut text, mut reasoning) = (String::new(), String::new());
    match c {
        Chat => {
            let m = &answer["choices"][0]["message"];
            text.push_str(m["content"].as_str().unwrap_or(""));
            reasoning.push_str(m["reasoning_content"].as_str().unwrap_or(""));
        }
        Resp => {
            for item in answer["output"].as_array().unwrap() {
                let (key, into) = match item["type"].as_str() {
                    Some("message") => ("content", &mut text),
                    Some("reasoning") => ("summary", &mut reasoning),
                    _ => continue,
                };
                for part in item[key].as_array().unwrap() {
                    into.push_str(part["text"].as_str().unwrap());
                }
            }
        }
        Anthropic => {
            for b in answer["content"].as_array().unwrap() {
                match b["type"].as_str() {
                    Some("text") => text.push_str(b["text"].as_str().unwrap()),
                    Some("thinking") => reasoning.push_str(b["thinking"].as_str().unwrap()),
                    _ => {}
                }
            }
        }
        Gemini => {
            for p in answer["candidates"][0]["content"]["parts"]
                .as_array()
                .unwrap()
            {
                let Some(t) = p["text"].as_str() else {
                    continue;
                };
                if p["thought"] == true {
                    reasoning.push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
    }
    (text, reasoning)
}

/// A client's second request of T9 after `echo`, decoded, and what provider `p` gets of it.
fn t9_next_turn(c: Dialect, p: Dialect, echo: &Echo) -> Value {
    let body = reasoning_request(
        c,
        history(c, echo, &t9_result(), "get_weather"),
        false,
        false,
    );
    encode_request(p, &decode_request(c, &body, false))
}

/// What must become of provider `p`'s reasoning proof when a client of `c` sends the turn back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// Back on the provider's request exactly as the provider gave it.
    Kept,
    /// Gone, and the provider not asked to think over a history that lacks it (§5.9: "disable
    /// thinking for such requests or drop thinking consistently").
    Dropped,
    /// Either, but exact if there: replaying it is not built for this pair yet.
    Open,
}

/// The client's own dialect keeps its provider's proof; a Gemini signature rides on the call
/// (its id, or for a Gemini client its part: §3.4 rule 5, §5.7) through any client; a
/// Responses client keeps an Anthropic signature as `encrypted_content`. A Chat or Gemini
/// client has no field for an Anthropic signature, so Anthropic must be asked without it.
/// `streamed`: a Responses provider's `encrypted_content` has no place in the internal events
/// (responses/decoder.rs), so a streamed Responses → Responses pair, which the gateway relays
/// byte for byte and not through the codecs, keeps nothing here.
fn proof(c: Dialect, p: Dialect, streamed: bool) -> Proof {
    match (c, p) {
        (Resp, Resp) if streamed => Proof::Open,
        // Without the `reasoning_content` quirk (its own test below): OpenAI has no field.
        (_, Chat) => Proof::Dropped,
        _ if c == p => Proof::Kept,
        // A Responses provider's encrypted reasoning rides in an Anthropic client's signature.
        (_, Gemini) | (Resp, Anthropic) | (Anthropic, Resp) => Proof::Kept,
        (Chat | Gemini, Anthropic) => Proof::Dropped,
        // Responses' blobs through Chat and Gemini clients.
        _ => Proof::Open,
    }
}

/// The assistant turn (and the result after it) provider `p` must get back on T9's second
/// turn.
fn t9_check_next_turn(p: Dialect, proof: Proof, sent: &Value, what: &str) {
    match p {
        Anthropic => {
            let mut content = vec![];
            if proof == Proof::Kept {
                content.push(json!({"type":"thinking","thinking":THOUGHT.concat(),
                    "signature":ANTHROPIC_SIGNATURE}));
            }
            content.push(json!({"type":"text","text":T9_TEXT}));
            content.push(
                json!({"type":"tool_use","id":"toolu_P","name":"get_weather",
                "input":{"location":"Paris"}}),
            );
            let want = json!([
                {"role":"user","content":"Weather in Paris?"},
                {"role":"assistant","content":content},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_P",
                    "content":t9_result().to_string()}]}]);
            assert_json(&sent["messages"], &want, what);
            // Thinking stays on only with its signed block back in place (§5.9): Anthropic
            // refuses a tool loop whose thinking lost its signature.
            assert_eq!(
                sent.get("thinking").map(|t| t["type"].clone()),
                (proof == Proof::Kept).then(|| json!("enabled")),
                "{what}: {sent}"
            );
        }
        Gemini => {
            // The signature back on the exact part it came on, the first call (§1.D, §5.7);
            // unsigned thought summaries are not replayed; no id Gemini did not issue.
            let want = json!([
                {"role":"user","parts":[{"text":"Weather in Paris?"}]},
                {"role":"model","parts":[{"text":T9_TEXT},
                    {"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                        "thoughtSignature":PROVIDER_SIGNATURE}]},
                {"role":"user","parts":[{"functionResponse":{"name":"get_weather",
                    "response":t9_result()}}]}]);
            assert_json(&sent["contents"], &want, what);
        }
        Chat => {
            let messages = &sent["messages"];
            assert_eq!(proof, Proof::Dropped, "{what}");
            assert_eq!(messages[1].get("reasoning_content"), None, "{what}: {sent}");
            let want = json!([
                {"role":"user","content":"Weather in Paris?"},
                {"role":"assistant","content":T9_TEXT,"tool_calls":[{"id":"call_P",
                    "type":"function","function":{"name":"get_weather","arguments":ARGS}}]},
                {"role":"tool","tool_call_id":"call_P","content":t9_result().to_string()}]);
            assert_json(messages, &want, what);
        }
        Resp => {
            let item = json!({"type":"reasoning",
                "summary":[{"type":"summary_text","text":THOUGHT.concat()}],
                "encrypted_content":ENCRYPTED_REASONING});
            let mut want = vec![json!({"role":"user","content":"Weather in Paris?"})];
            let sent_reasoning = sent["input"][1]["type"] == "reasoning";
            // Replayed by value, never by id (§5.5: `store` is off), right before the turn.
            if proof == Proof::Kept || proof == Proof::Open && sent_reasoning {
                want.push(item);
            }
            want.extend([
                json!({"role":"assistant","content":T9_TEXT}),
                json!({"type":"function_call","call_id":"call_P","name":"get_weather","arguments":ARGS}),
                json!({"type":"function_call_output","call_id":"call_P",
                    "output":t9_result().to_string()}),
            ]);
            assert_json(&sent["input"], &json!(want), what);
        }
    }
}

#[test]
fn t9_reasoning_proofs_survive_the_tool_loop_and_never_become_text() {
    // Every pair, unstreamed: provider answer → client answer → the client's next turn →
    // provider request.
    for_each_pair(|c, p| {
        let what = format!("T9 {p} → {c} → {p}");
        let req = decode_request(c, &reasoning_request(c, vec![], false, false), false);
        let answer = decode_answer(p, &provider_answer(p, &t9_spec(p)));
        let client_answer = encode_answer(c, &answer, &req);
        // Reasoning never leaks into the visible text; where the client's dialect has a place
        // for it, it is there (a Chat answer has none: §3.7 calls it optional).
        let (text, reasoning) = visible_and_reasoning(c, &client_answer);
        assert_eq!(text, T9_TEXT, "{what}\n{client_answer}");
        let shown = if c == Chat {
            ""
        } else {
            "I should check the weather."
        };
        assert_eq!(reasoning, shown, "{what}\n{client_answer}");
        assert_eq!(
            answer_calls(c, &client_answer)
                .into_iter()
                .map(|(id, name, _)| (id, name))
                .collect::<Vec<_>>(),
            // A Gemini client holds a Gemini call's signature on its part, not its id, and is
            // shown no id the codec made up.
            vec![(
                (!(c == Gemini && p == Gemini)).then(|| id_for(c, provider_call_id(p))),
                "get_weather".to_string()
            )],
            "{what}"
        );
        let sent = t9_next_turn(c, p, &echo_of_answer(c, &client_answer));
        t9_check_next_turn(p, proof(c, p, false), &sent, &what);
    });
}

#[test]
fn t9_streamed_reasoning_proofs_survive_the_tool_loop_and_never_become_text() {
    // Every pair, streamed: the client's stream gathered as its SDK does, sent back.
    for_each_pair(|c, p| {
        let what = format!("T9 streamed {p} → {c} → {p}");
        let req = decode_request(c, &reasoning_request(c, vec![], true, true), true);
        let conv = convert(c, p, &req, &provider_stream(p, &t9_spec(p)), 7);
        assert!(matches!(conv.end, StreamEnd::Complete(_)), "{what}");
        let (said, _) = read_back(c, &conv.out);
        assert_eq!(
            said.text, T9_TEXT,
            "{what}: no reasoning in the text\n{}",
            conv.out
        );
        assert_eq!(said.thinking, THOUGHT.concat(), "{what}\n{}", conv.out);
        let echo = echo_of_stream(c, &conv.out);
        let sent = t9_next_turn(c, p, &echo);
        t9_check_next_turn(p, proof(c, p, true), &sent, &what);
    });
}

/// §5.13: a Chat provider configured with `reasoning_content` (DeepSeek's thinking mode) gets
/// the reasoning the client kept back on each assistant message, and an empty one where it
/// kept none, for every client dialect, streamed and not; the rest of the history is as
/// without the quirk.
#[test]
fn t9_a_chat_provider_that_wants_reasoning_content_gets_it_back() {
    let quirks = Quirks {
        reasoning_content: true,
    };
    let mut failed = Vec::new();
    for c in ALL {
        for streamed in [false, true] {
            let what = format!("T9 chat → {c} → chat (streamed {streamed})");
            let req = decode_request(c, &reasoning_request(c, vec![], streamed, true), streamed);
            let (echo, kept) = if streamed {
                let out = convert(c, Chat, &req, &provider_stream(Chat, &t9_spec(Chat)), 7).out;
                (echo_of_stream(c, &out), read_back(c, &out).0.thinking)
            } else {
                let answer = decode_answer(Chat, &provider_answer(Chat, &t9_spec(Chat)));
                let client_answer = encode_answer(c, &answer, &req);
                let kept = visible_and_reasoning(c, &client_answer).1;
                (echo_of_answer(c, &client_answer), kept)
            };
            // Every client dialect but Chat's unstreamed answer has a place for reasoning.
            let expected = if c == Chat && !streamed {
                String::new()
            } else {
                THOUGHT.concat()
            };
            if kept != expected {
                failed.push(format!("{what}: the client kept {kept:?}"));
                continue;
            }
            let body = reasoning_request(
                c,
                history(c, &echo, &t9_result(), "get_weather"),
                false,
                false,
            );
            let next = decode_request(c, &body, false);
            let mut sent = encode_request_with(Chat, &next, quirks);
            let messages = sent["messages"].as_array_mut().unwrap();
            let got = messages[1]
                .as_object_mut()
                .and_then(|m| m.remove("reasoning_content"));
            if got != Some(json!(expected)) {
                failed.push(format!("{what}: reasoning_content {got:?}"));
            }
            if messages[1]["content"] != json!(T9_TEXT) {
                failed.push(format!("{what}: {}", messages[1]));
            }
            // Without the quirk, the same request but for that one field.
            let plain = encode_request(Chat, &next);
            if plain["messages"] != sent["messages"] {
                failed.push(format!(
                    "{what}: {} vs {}",
                    plain["messages"], sent["messages"]
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// §1.B (`include`), §5.5, §3.10: with `store` forced off, reasoning can only be replayed by
/// value, and a Responses provider returns `encrypted_content` only when the request asks for
/// it with `include: ["reasoning.encrypted_content"]` (as Codex does).
#[test]
fn t9_a_responses_provider_is_asked_for_encrypted_reasoning() {
    let mut failed = Vec::new();
    for c in [Chat, Anthropic, Gemini] {
        for stream in [false, true] {
            let req = decode_request(c, &reasoning_request(c, vec![], stream, true), stream);
            let sent = encode_request(Resp, &req);
            assert_eq!(sent["store"], json!(false));
            let include = sent.get("include").cloned().unwrap_or(Value::Null);
            if !include
                .as_array()
                .is_some_and(|a| a.contains(&json!("reasoning.encrypted_content")))
            {
                failed.push(format!(
                    "{c} → responses (stream {stream}): reasoning {} store false, include {include}",
                    sent["reasoning"]
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// §2.D ("`thought:true` parts are thought summaries (only with `includeThoughts`)") and §3.8
/// stream step 2 ("Reasoning delta → `{text, thought:true}` only if `includeThoughts`;
/// otherwise drop"): a Gemini client that asked for thinking without thought summaries gets
/// none, whichever provider reasoned.
#[test]
fn t9_a_gemini_client_gets_no_thoughts_it_did_not_ask_for() {
    let body = json!({"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]}],
        "tools":weather_tools(Gemini),
        "generationConfig":{"thinkingConfig":{"thinkingBudget":THINKING_BUDGET}}});
    let thought_parts = |chunks: &[Value]| -> Vec<Value> {
        chunks
            .iter()
            .flat_map(|c| {
                c["candidates"][0]["content"]["parts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|p| p["thought"] == true)
            .collect()
    };
    let mut failed = Vec::new();
    for p in [Chat, Resp, Anthropic] {
        let req = decode_request(Gemini, &body, false);
        let answer = decode_answer(p, &provider_answer(p, &t9_spec(p)));
        let got = thought_parts(&[encode_answer(Gemini, &answer, &req)]);
        if !got.is_empty() {
            failed.push(format!("{p} → gemini, unstreamed: {}", json!(got)));
        }
        let req = decode_request(Gemini, &body, true);
        let out = convert(Gemini, p, &req, &provider_stream(p, &t9_spec(p)), 7).out;
        let chunks: Vec<Value> = payloads(&out).into_iter().map(|(_, v)| v).collect();
        let got = thought_parts(&chunks);
        if !got.is_empty() {
            failed.push(format!("{p} → gemini, streamed: {}", json!(got)));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
