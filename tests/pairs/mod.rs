//! The codecs by dialect, as codec-level tests drive them: what the gateway does with a
//! request, an answer or a stream, without servers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tollgate::dialect::ir::{Answer, Request};
use tollgate::dialect::stream::{StreamDecoder, StreamEncoder};
use tollgate::dialect::{anthropic, gemini, openai, responses, Dialect};

pub use Dialect::{
    AnthropicMessages as Anthropic, Gemini, OpenAiChat as Chat, OpenAiResponses as Resp,
};

pub const ALL: [Dialect; 4] = [Chat, Resp, Anthropic, Gemini];

/// The model the client asks for, and the name the provider knows it by.
pub const CLIENT_MODEL: &str = "m";
pub const UP_MODEL: &str = "up-model";
pub const CREATED: u64 = 1_700_000_000;
pub const MAX_EVENT: usize = 1 << 20;

/// Runs `check` for every (client, provider) pair, and fails with the list of pairs that failed
/// (each one's own message is printed above it), so one broken pair hides no other.
pub fn for_each_pair(check: impl Fn(Dialect, Dialect) + std::panic::RefUnwindSafe) {
    let failed: Vec<String> = ALL
        .into_iter()
        .flat_map(|c| ALL.into_iter().map(move |p| (c, p)))
        .filter(|&(c, p)| std::panic::catch_unwind(|| check(c, p)).is_err())
        .map(|(c, p)| format!("{c} client ← {p} provider"))
        .collect();
    assert!(failed.is_empty(), "failing pairs:\n{}", failed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The codecs, by dialect.
// ---------------------------------------------------------------------------------------------

pub fn decode_request(d: Dialect, body: &Value, stream: bool) -> Request {
    let bytes = body.to_string();
    let bytes = bytes.as_bytes();
    let req = match d {
        Chat => openai::decode_request(bytes),
        Resp => responses::decode_request(bytes),
        Anthropic => anthropic::decode_request(bytes),
        // The model and the stream flag are in a Gemini request's URL.
        Gemini => gemini::decode_request(bytes, &format!("models/{CLIENT_MODEL}"), stream),
    };
    req.unwrap_or_else(|e| panic!("{d} refused the request: {e:?}\n{body}"))
}

pub fn encode_request(d: Dialect, req: &Request) -> Value {
    let bytes = match d {
        Chat => openai::encode_request(req, UP_MODEL),
        Resp => responses::encode_request(req, UP_MODEL),
        Anthropic => anthropic::encode_request(req, UP_MODEL),
        Gemini => gemini::encode_request(req, UP_MODEL),
    };
    serde_json::from_slice(&bytes).unwrap()
}

pub fn decode_answer(d: Dialect, body: &Value) -> Answer {
    let bytes = body.to_string();
    let a = match d {
        Chat => openai::decode_answer(bytes.as_bytes()),
        Resp => responses::decode_answer(bytes.as_bytes()),
        Anthropic => anthropic::decode_answer(bytes.as_bytes()),
        Gemini => gemini::decode_answer(bytes.as_bytes()),
    };
    a.unwrap_or_else(|| panic!("{d} could not read its own answer\n{body}"))
}

/// The answer for a client that sent `req`, as the gateway writes it.
pub fn encode_answer(d: Dialect, a: &Answer, req: &Request) -> Value {
    let bytes = match d {
        Chat => openai::encode_answer(a, CLIENT_MODEL, CREATED),
        Resp => {
            let tools = responses::ClientTools::from_request(req);
            responses::encode_answer_for(a, CLIENT_MODEL, CREATED, &tools)
        }
        Anthropic => anthropic::encode_answer(a, CLIENT_MODEL, CREATED),
        Gemini => gemini::encode_answer(a, CLIENT_MODEL, CREATED),
    };
    serde_json::from_slice(&bytes).unwrap()
}

pub fn decoder(d: Dialect) -> Box<dyn StreamDecoder> {
    match d {
        Chat => Box::new(openai::Decoder::new(MAX_EVENT)),
        Resp => Box::new(responses::Decoder::new(MAX_EVENT)),
        Anthropic => Box::new(anthropic::Decoder::new(MAX_EVENT)),
        Gemini => Box::new(gemini::Decoder::new(MAX_EVENT)),
    }
}

/// The stream writer for a client that sent `req`, as the gateway builds it.
pub fn encoder(d: Dialect, req: &Request) -> Box<dyn StreamEncoder> {
    match d {
        Chat => Box::new(openai::Encoder::new(
            CLIENT_MODEL,
            CREATED,
            req.stream_usage,
        )),
        Resp => {
            let tools = responses::ClientTools::from_request(req);
            Box::new(responses::Encoder::new(CLIENT_MODEL, CREATED).with_tools(tools))
        }
        Anthropic => Box::new(anthropic::Encoder::new(CLIENT_MODEL)),
        Gemini => Box::new(gemini::Encoder::new(CLIENT_MODEL, gemini::Framing::Sse)),
    }
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
