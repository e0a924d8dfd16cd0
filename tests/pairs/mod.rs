//! The codecs by dialect, as codec-level tests drive them: what the gateway does with a
//! request, an answer or a stream, without servers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tollgate::dialect::codec::{codec, RouteFacts};
use tollgate::dialect::convert::Converter;
use tollgate::dialect::ir::{Answer, Request};
use tollgate::dialect::names::LongNames;
use tollgate::dialect::stream::{StreamDecoder, StreamEncoder};
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
    serde_json::from_slice(&codec(d).encode_request(req, UP_MODEL)).unwrap()
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
