//! The codecs by dialect, as codec-level tests drive them: what the gateway does with a
//! request, an answer or a stream, without servers; and what those tests share of the requests,
//! answers and streams they write in each dialect.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};
use tollgate::dialect::anthropic;
use tollgate::dialect::codec::{codec, Quirks, RouteFacts};
use tollgate::dialect::convert::Converter;
use tollgate::dialect::errors::ErrorKind;
use tollgate::dialect::ir::{Answer, Event, Request};
use tollgate::dialect::names::LongNames;
use tollgate::dialect::stream::{Ended, StreamDecoder, StreamEncoder, StreamEnd, StreamTranslator};
use tollgate::dialect::usage::Usage;
use tollgate::dialect::Dialect;

pub use Dialect::{
    AnthropicMessages as Anthropic, Gemini, OpenAiChat as Chat, OpenAiResponses as Resp,
};

pub const ALL: [Dialect; 4] = [Chat, Resp, Anthropic, Gemini];

/// The model the client asks for, and the name the provider knows it by.
pub const CLIENT_MODEL: &str = "m";
pub const UP_MODEL: &str = "up-model";
pub const CREATED: u64 = 1_700_000_000;
pub const MAX_EVENT: usize = 1 << 20;
/// The max tokens an Anthropic client's requests carry (Anthropic requires it).
pub const CLIENT_MAX: u64 = 1024;

/// Runs `check` for every (client, provider) pair, and fails with the list of pairs that failed
/// (each one's own message is printed above it), so one broken pair hides no other.
pub fn for_each_pair(check: impl Fn(Dialect, Dialect) + std::panic::RefUnwindSafe) {
    for_pairs_to(&ALL, check);
}

/// Runs `check` for every pair whose provider is in `providers`, as `for_each_pair` does.
pub fn for_pairs_to(
    providers: &[Dialect],
    check: impl Fn(Dialect, Dialect) + std::panic::RefUnwindSafe,
) {
    let list: Vec<(Dialect, Dialect)> = ALL
        .into_iter()
        .flat_map(|c| ALL.into_iter().map(move |p| (c, p)))
        .filter(|(_, p)| providers.contains(p))
        .collect();
    for_listed_pairs(&list, check);
}

/// Runs `check` for the listed (client, provider) pairs, as `for_each_pair` does.
pub fn for_listed_pairs(
    list: &[(Dialect, Dialect)],
    check: impl Fn(Dialect, Dialect) + std::panic::RefUnwindSafe,
) {
    let failed: Vec<String> = list
        .iter()
        .filter(|&&(c, p)| std::panic::catch_unwind(|| check(c, p)).is_err())
        .map(|(c, p)| format!("{c} client ← {p} provider"))
        .collect();
    assert!(failed.is_empty(), "failing pairs:\n{}", failed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The codecs, by dialect.
// ---------------------------------------------------------------------------------------------

pub fn decode_request(d: Dialect, body: &Value, stream: bool) -> Request {
    // The model and the stream flag are in a Gemini request's URL.
    let facts = RouteFacts {
        model: (d == Gemini).then(|| format!("models/{CLIENT_MODEL}")),
        stream,
        sse: true,
    };
    codec(d)
        .decode_request(body.to_string().as_bytes(), &facts)
        .unwrap_or_else(|e| panic!("{d} refused the request: {e:?}\n{body}"))
}

pub fn encode_request(d: Dialect, req: &Request) -> Value {
    encode_request_with(d, req, Quirks::default())
}

/// The request a provider of `d` with `quirks` gets.
pub fn encode_request_with(d: Dialect, req: &Request, quirks: Quirks) -> Value {
    serde_json::from_slice(&codec(d).encode_request(req, UP_MODEL, quirks)).unwrap()
}

pub fn decode_answer(d: Dialect, body: &Value) -> Answer {
    codec(d)
        .decode_answer(body.to_string().as_bytes())
        .unwrap_or_else(|| panic!("{d} could not read its own answer\n{body}"))
}

/// The answer for a client that sent `req`, as the gateway writes it.
pub fn encode_answer(d: Dialect, a: &Answer, req: &Request) -> Value {
    serde_json::from_slice(&codec(d).encode_answer(a, CLIENT_MODEL, CREATED, req)).unwrap()
}

pub fn decoder(d: Dialect) -> Box<dyn StreamDecoder> {
    codec(d).decoder(MAX_EVENT)
}

/// The stream writer for a client that sent `req`, as the gateway builds it (an SSE stream
/// for a Gemini client).
pub fn encoder(d: Dialect, req: &Request) -> Box<dyn StreamEncoder> {
    let facts = RouteFacts {
        model: None,
        stream: true,
        sse: true,
    };
    codec(d).encoder(CLIENT_MODEL, CREATED, req, &facts)
}

/// A provider's stream converted for a client that sent `req`, as the gateway builds it.
pub fn converter(c: Dialect, p: Dialect, req: &Request) -> Converter {
    Converter::new(decoder(p), encoder(c, req)).with_long_names(LongNames::of(req))
}

/// A provider's whole answer for a client that sent `req`, as the gateway writes it: tools
/// that went up under short names come back under the client's.
pub fn client_answer(c: Dialect, p: Dialect, body: &Value, req: &Request) -> Value {
    let mut answer = decode_answer(p, body);
    LongNames::of(req).restore_answer(&mut answer);
    encode_answer(c, &answer, req)
}

/// The SSE events of a stream: (name, data).
pub fn sse(stream: &str) -> Vec<(Option<String>, String)> {
    let stream = stream.replace("\r\n", "\n");
    stream
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = Vec::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push(d);
                } else {
                    panic!("not an SSE line: {line:?}");
                }
            }
            (name, data.join("\n"))
        })
        .collect()
}

/// The events of a stream read whole with `d`'s own decoder, in pieces of `piece` bytes, and
/// how the decoder judged its end.
pub fn decode_stream(d: Dialect, bytes: &[u8], piece: usize) -> (Vec<Event>, Ended) {
    let mut dec = decoder(d);
    let mut events = Vec::new();
    for chunk in bytes.chunks(piece) {
        dec.push(Bytes::copy_from_slice(chunk), &mut events)
            .unwrap_or_else(|e| {
                let bytes = String::from_utf8_lossy(bytes);
                panic!("{d} decoder refused the stream: {e:?}\n{bytes}")
            });
    }
    let ended = dec.finish(&mut events);
    (events, ended)
}

/// What the client got from a stream relayed to it.
pub struct Converted {
    /// The client's bytes.
    pub out: String,
    /// How the provider's stream ended.
    pub end: StreamEnd,
    /// The usage the gateway meters.
    pub metered: Option<Usage>,
    /// Whether the translator said the terminal event passed before the input ran out.
    pub complete: bool,
}

/// Runs `input` through `t` in pieces of `piece` bytes, as the relay does: the client's stream
/// ends as soon as the translator says the terminal event passed, and a stream the provider cut
/// ends with `fail`.
pub fn relay(t: &mut dyn StreamTranslator, input: &str, piece: usize) -> Converted {
    let mut out = BytesMut::new();
    let mut complete = false;
    for chunk in input.as_bytes().chunks(piece) {
        if let Some(b) = t.push(Bytes::copy_from_slice(chunk)).unwrap() {
            out.extend_from_slice(&b);
        }
        if t.is_complete() {
            complete = true;
            break;
        }
    }
    let end = t.finish();
    match &end {
        StreamEnd::Complete(Some(tail)) => out.extend_from_slice(tail),
        StreamEnd::Complete(None) => {}
        StreamEnd::Truncated => {
            let message = "upstream stream ended prematurely";
            out.extend_from_slice(&t.fail(ErrorKind::BadUpstream, message));
        }
    }
    Converted {
        out: String::from_utf8(out.to_vec()).unwrap(),
        end,
        metered: t.usage(),
        complete,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and their checks.
// ---------------------------------------------------------------------------------------------

pub fn assert_json(got: &Value, want: &Value, what: &str) {
    assert!(
        got == want,
        "{what}\n got: {}\nwant: {}",
        serde_json::to_string_pretty(got).unwrap(),
        serde_json::to_string_pretty(want).unwrap()
    );
}

/// get_weather's parameters.
pub fn weather_schema() -> Value {
    json!({"type":"object","properties":{"location":{"type":"string"}},"required":["location"]})
}

/// A client's request of one user text in dialect `d` (Anthropic's with `CLIENT_MAX`), without
/// tools or a stream flag.
pub fn ask(d: Dialect, text: &str) -> Value {
    match d {
        Chat => json!({"model":CLIENT_MODEL,"messages":[user_turn(d, text)]}),
        Resp => json!({"model":CLIENT_MODEL,"input":text}),
        Anthropic => {
            json!({"model":CLIENT_MODEL,"max_tokens":CLIENT_MAX,"messages":[user_turn(d, text)]})
        }
        Gemini => json!({"contents":[user_turn(d, text)]}),
    }
}

/// A user's text as a turn in dialect `d`: a message (a Responses input item), or a Gemini
/// content.
pub fn user_turn(d: Dialect, text: &str) -> Value {
    match d {
        Gemini => json!({"role":"user","parts":[{ "text": text }]}),
        _ => json!({"role":"user","content":text}),
    }
}

/// The output limit a provider gets: the Anthropic client's, else none, except that an
/// Anthropic provider requires one and gets the codec's default (§1.C, §3.7).
pub fn with_max_tokens(p: Dialect, client: Dialect, mut body: Value) -> Value {
    let max = (client == Anthropic).then_some(CLIENT_MAX);
    match (p, max) {
        (Chat, Some(n)) => body["max_completion_tokens"] = json!(n),
        (Resp, Some(n)) => body["max_output_tokens"] = json!(n),
        (Anthropic, n) => body["max_tokens"] = json!(n.unwrap_or(anthropic::DEFAULT_MAX_TOKENS)),
        (Gemini, Some(n)) => body["generationConfig"] = json!({"maxOutputTokens": n}),
        (_, None) => {}
    }
    body
}

// ---------------------------------------------------------------------------------------------
// A call, and the client that sends it back.
// ---------------------------------------------------------------------------------------------

/// get_weather's arguments, and the fragments a provider streams them in, cut mid-token.
pub const ARGS: &str = r#"{"location":"Paris"}"#;
pub const ARG_FRAGMENTS: [&str; 3] = [r#"{"loca"#, r#"tion":"Par"#, r#"is"}"#];

/// The signature on a Gemini client's first call (Gemini signs only the first call of a step,
/// §1.D, §5.7).
pub const CLIENT_SIGNATURE: &str = "c2lnLTE=";

/// The signature a Gemini provider puts on the first call of a step, with the base64
/// characters an Anthropic id may not hold.
pub const PROVIDER_SIGNATURE: &str = "Cv8+Ab/9zz==";

/// The id of the call in each provider's answer, as clients see it: the provider's own; a
/// Gemini call has none, so the codec names it from the `responseId` ("P-1") and its position,
/// and its signature rides on the id for clients that have nowhere else to keep it (§3.4 rules
/// 2 and 5).
pub fn provider_call_id(p: Dialect) -> &'static str {
    match p {
        Chat | Resp => "call_P",
        Anthropic => "toolu_P",
        Gemini => "call_P1_0__thought__Cv8-Ab_9zz",
    }
}

/// The assistant's turn as a client sends it back in its history (a message, Responses items,
/// or a Gemini content), and the id its call's result names (`None`: a Gemini call without
/// one, matched by name).
pub struct Echo {
    pub assistant: Value,
    pub id: Option<String>,
}

/// The call in a client's answer, as that client sends it back on the next turn: the answer's
/// own message or items, unchanged.
pub fn echo_of_answer(d: Dialect, answer: &Value) -> Echo {
    // The id of the first item of `kind` in `list`.
    let first = |list: &Value, kind: &str, key: &str| {
        let list = list.as_array().unwrap();
        let item = list.iter().find(|i| i["type"] == kind);
        item.and_then(|i| i[key].as_str()).map(str::to_string)
    };
    let (assistant, id) = match d {
        Chat => {
            let message = answer["choices"][0]["message"].clone();
            let id = message["tool_calls"][0]["id"].as_str().map(str::to_string);
            (message, id)
        }
        Resp => {
            let id = first(&answer["output"], "function_call", "call_id");
            (answer["output"].clone(), id)
        }
        Anthropic => {
            let content = answer["content"].clone();
            let id = first(&content, "tool_use", "id");
            (json!({"role":"assistant","content":content}), id)
        }
        Gemini => {
            let content = answer["candidates"][0]["content"].clone();
            let parts = content["parts"].as_array().unwrap();
            let id = parts.iter().find_map(|p| p["functionCall"]["id"].as_str());
            let id = id.map(str::to_string);
            (content, id)
        }
    };
    Echo { assistant, id }
}

// ---------------------------------------------------------------------------------------------
// Usage in each dialect's words (§1, §3.3).
// ---------------------------------------------------------------------------------------------

pub fn chat_usage(u: &Usage) -> Value {
    json!({"prompt_tokens":u.input_total,"completion_tokens":u.output_total,
        "total_tokens":u.input_total + u.output_total,
        "prompt_tokens_details":{"cached_tokens":u.input_cache_read},
        "completion_tokens_details":{"reasoning_tokens":u.output_reasoning}})
}

pub fn responses_usage(u: &Usage) -> Value {
    json!({"input_tokens":u.input_total,"input_tokens_details":{"cached_tokens":u.input_cache_read},
        "output_tokens":u.output_total,"output_tokens_details":{"reasoning_tokens":u.output_reasoning},
        "total_tokens":u.input_total + u.output_total})
}

/// Anthropic's: the input without the cache (§3.3 "To C"); `thinking` adds the newer field a
/// provider may send for thinking tokens, which clients are not written.
pub fn anthropic_usage(u: &Usage, thinking: bool) -> Value {
    let mut v = json!({"input_tokens":u.input_total - u.input_cache_read - u.input_cache_write,
        "cache_creation_input_tokens":u.input_cache_write,
        "cache_read_input_tokens":u.input_cache_read,"output_tokens":u.output_total});
    if thinking && u.output_reasoning > 0 {
        v["output_tokens_details"] = json!({"thinking_tokens": u.output_reasoning});
    }
    v
}

/// Gemini's `usageMetadata` (§3.3 "To D"): the whole snapshot, or (`done` false) an early one
/// that only knows the prompt. Candidates leave the thoughts out.
pub fn gemini_usage(u: &Usage, done: bool) -> Value {
    let mut m = json!({"promptTokenCount":u.input_total,"totalTokenCount":u.input_total});
    if done {
        m["candidatesTokenCount"] = json!(u.output_total - u.output_reasoning);
        m["totalTokenCount"] = json!(u.input_total + u.output_total);
        if u.output_reasoning > 0 {
            m["thoughtsTokenCount"] = json!(u.output_reasoning);
        }
    }
    if u.input_cache_read > 0 {
        m["cachedContentTokenCount"] = json!(u.input_cache_read);
    }
    m
}

/// What a client's dialect can say of `u`, read back: Anthropic's usage has no reasoning
/// count; the OpenAI dialects and Gemini as written here no cache-write count.
pub fn seen_by(c: Dialect, u: Usage) -> Usage {
    match c {
        Anthropic => Usage {
            output_reasoning: 0,
            ..u
        },
        _ => Usage {
            input_cache_write: 0,
            ..u
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Provider answers and streams, in each dialect's exact grammar (§1, §2).
// ---------------------------------------------------------------------------------------------

/// A Chat provider's answer.
pub fn chat_answer(message: Value, finish: &str, usage: Value) -> Value {
    json!({"id":"chatcmpl-P","object":"chat.completion","created":1,"model":UP_MODEL,
        "choices":[{"index":0,"message":message,"logprobs":null,"finish_reason":finish}],
        "usage":usage})
}

/// A Responses provider's response: its answer, or the snapshot its stream's events carry.
pub fn responses_answer(status: &str, output: Value, usage: Value) -> Value {
    json!({"id":"resp_P","object":"response","created_at":1,"status":status,
        "model":UP_MODEL,"output":output,"usage":usage})
}

/// An Anthropic provider's answer.
pub fn anthropic_answer(content: Value, reason: &str, sequence: Value, usage: Value) -> Value {
    json!({"id":"msg_P","type":"message","role":"assistant","model":UP_MODEL,
        "content":content,"stop_reason":reason,"stop_sequence":sequence,"usage":usage})
}

/// A Gemini provider's answer.
pub fn gemini_answer(parts: Value, finish: &str, usage: Value) -> Value {
    json!({"candidates":[{"content":{"role":"model","parts":parts},"finishReason":finish,
        "index":0}],"usageMetadata":usage,"modelVersion":UP_MODEL,"responseId":"P-1"})
}

pub fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// An event in Responses' or Anthropic's framing: the name repeats the JSON `type`.
pub fn named(v: &Value) -> String {
    format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap())
}

/// A Gemini SSE chunk: CRLF line endings.
pub fn gemini_data(v: &Value) -> String {
    format!("data: {v}\r\n\r\n")
}

/// A Chat provider's stream chunk, without usage.
pub fn chat_chunk(delta: Value, finish: Value) -> String {
    data(
        &json!({"id":"chatcmpl-P","object":"chat.completion.chunk","created":1,"model":UP_MODEL,
        "choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}],"usage":null}),
    )
}

/// A Chat provider's first chunk: the role.
pub fn chat_role_chunk() -> String {
    chat_chunk(
        json!({"role":"assistant","content":"","refusal":null}),
        Value::Null,
    )
}

/// The deltas of a Chat call at `index`: its id and name, then its arguments in `fragments`.
pub fn chat_call_deltas(index: usize, id: &str, fragments: &[&str]) -> Vec<Value> {
    let mut deltas = vec![
        json!({"tool_calls":[{"index":index,"id":id,"type":"function",
        "function":{"name":"get_weather","arguments":""}}]}),
    ];
    for f in fragments {
        deltas.push(json!({"tool_calls":[{"index":index,"function":{"arguments":f}}]}));
    }
    deltas
}

/// The end of a Chat provider's stream: the finish chunk, the usage chunk, `[DONE]`.
pub fn chat_tail(finish: &str, usage: Value) -> [String; 3] {
    [
        chat_chunk(json!({}), json!(finish)),
        data(
            &json!({"id":"chatcmpl-P","object":"chat.completion.chunk","created":1,
            "model":UP_MODEL,"choices":[],"usage":usage}),
        ),
        "data: [DONE]\n\n".to_string(),
    ]
}

/// A Responses provider's stream as it is written: every event named and numbered in turn.
pub struct ResponsesStream {
    pub events: Vec<String>,
}

impl ResponsesStream {
    /// A stream begun: `response.created` and `response.in_progress`, with `start` as their
    /// response.
    pub fn new(start: &Value) -> Self {
        let mut s = ResponsesStream { events: Vec::new() };
        s.push(json!({"type":"response.created","response":start}));
        s.push(json!({"type":"response.in_progress","response":start}));
        s
    }

    pub fn push(&mut self, mut v: Value) {
        v["sequence_number"] = json!(self.events.len());
        self.events.push(named(&v));
    }

    /// The events of a message item at output index `i` whose text comes in `deltas`; returns
    /// the item as done.
    pub fn message(&mut self, i: usize, deltas: &[&str]) -> Value {
        let text = deltas.concat();
        let at = |mut v: Value| {
            v["item_id"] = json!("msg_P");
            v["output_index"] = json!(i);
            v["content_index"] = json!(0);
            v
        };
        self.push(json!({"type":"response.output_item.added","output_index":i,
            "item":{"id":"msg_P","type":"message","status":"in_progress","role":"assistant",
            "content":[]}}));
        self.push(at(json!({"type":"response.content_part.added",
            "part":{"type":"output_text","annotations":[],"text":""}})));
        for d in deltas {
            self.push(at(
                json!({"type":"response.output_text.delta","delta":d,"logprobs":[]}),
            ));
        }
        self.push(at(
            json!({"type":"response.output_text.done","text":text,"logprobs":[]}),
        ));
        let part = json!({"type":"output_text","annotations":[],"text":text});
        self.push(at(json!({"type":"response.content_part.done","part":part})));
        let item = json!({"id":"msg_P","type":"message","status":"completed","role":"assistant",
            "content":[part]});
        self.push(json!({"type":"response.output_item.done","output_index":i,"item":item}));
        item
    }

    /// The events of a get_weather call item `item_id` at output index `i`, its arguments
    /// `args` in `fragments`; returns the item as done.
    pub fn call(
        &mut self,
        i: usize,
        item_id: &str,
        call_id: &str,
        args: &str,
        fragments: &[&str],
    ) -> Value {
        self.push(json!({"type":"response.output_item.added","output_index":i,
            "item":{"id":item_id,"type":"function_call","status":"in_progress","arguments":"",
            "call_id":call_id,"name":"get_weather"}}));
        for f in fragments {
            self.push(json!({"type":"response.function_call_arguments.delta",
                "item_id":item_id,"output_index":i,"delta":f}));
        }
        self.push(json!({"type":"response.function_call_arguments.done",
            "item_id":item_id,"output_index":i,"name":"get_weather","arguments":args}));
        let item = json!({"id":item_id,"type":"function_call","status":"completed",
            "arguments":args,"call_id":call_id,"name":"get_weather"});
        self.push(json!({"type":"response.output_item.done","output_index":i,"item":item}));
        item
    }
}

/// The start of an Anthropic provider's stream: `message_start` with the input and cache counts
/// of `u` and the placeholder output count of 1 (§2.C), then a `ping`.
pub fn anthropic_start(u: &Usage) -> Vec<String> {
    vec![
        named(
            &json!({"type":"message_start","message":{"id":"msg_P","type":"message",
            "role":"assistant","model":UP_MODEL,"content":[],"stop_reason":null,
            "stop_sequence":null,"usage":{
                "input_tokens":u.input_total - u.input_cache_read - u.input_cache_write,
                "cache_creation_input_tokens":u.input_cache_write,
                "cache_read_input_tokens":u.input_cache_read,"output_tokens":1}}}),
        ),
        named(&json!({"type":"ping"})),
    ]
}

/// An Anthropic content block at `index`: its start with `block`, its `deltas`, its stop.
pub fn anthropic_block(index: usize, block: Value, deltas: Vec<Value>) -> Vec<String> {
    let mut events = vec![named(
        &json!({"type":"content_block_start","index":index,"content_block":block}),
    )];
    for d in deltas {
        events.push(named(
            &json!({"type":"content_block_delta","index":index,"delta":d}),
        ));
    }
    events.push(named(&json!({"type":"content_block_stop","index":index})));
    events
}

/// An Anthropic text block at `index`, its text in `deltas`.
pub fn anthropic_text_block(index: usize, deltas: &[&str]) -> Vec<String> {
    let deltas = deltas.iter().map(|t| json!({"type":"text_delta","text":t}));
    anthropic_block(index, json!({"type":"text","text":""}), deltas.collect())
}

/// An Anthropic block at `index` calling get_weather as `id`, its input's JSON in `fragments`.
pub fn anthropic_call_block(index: usize, id: &str, fragments: &[&str]) -> Vec<String> {
    let block = json!({"type":"tool_use","id":id,"name":"get_weather","input":{}});
    let deltas = fragments
        .iter()
        .map(|f| json!({"type":"input_json_delta","partial_json":f}));
    anthropic_block(index, block, deltas.collect())
}

/// The end of an Anthropic provider's stream: `message_delta`, then `message_stop`.
pub fn anthropic_tail(reason: &str, sequence: Value, usage: Value) -> [String; 2] {
    [
        named(&json!({"type":"message_delta",
            "delta":{"stop_reason":reason,"stop_sequence":sequence},"usage":usage})),
        named(&json!({"type":"message_stop"})),
    ]
}

/// A text cut in two where providers cut them, mid-word.
pub fn halves(t: &str) -> [&str; 2] {
    let mut at = t.len() / 2;
    while !t.is_char_boundary(at) {
        at -= 1;
    }
    [&t[..at], &t[at..]]
}

/// A Gemini provider's stream chunk.
pub fn gemini_chunk(parts: Value, finish: Option<&str>, usage: Value) -> String {
    let mut candidate = json!({"content":{"role":"model","parts":parts},"index":0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    gemini_data(&json!({"candidates":[candidate],"usageMetadata":usage,
        "modelVersion":UP_MODEL,"responseId":"P-1"}))
}
