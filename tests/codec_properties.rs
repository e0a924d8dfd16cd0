//! No input makes any codec panic, in any direction: requests and answers decoded by each
//! dialect and re-encoded into every other, and streams of each provider dialect converted for
//! every client dialect (or relayed to its own), cut at arbitrary points. Inputs are arbitrary
//! bytes and JSON built from the four dialects' own vocabulary, which reaches much deeper into
//! the codecs than random bytes do. What every encoder writes must be valid JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Value};
use tollgate::dialect::codec::{codec, Quirks, RouteFacts};
use tollgate::dialect::convert::Converter;
use tollgate::dialect::errors::ErrorKind;
use tollgate::dialect::ir::Request;
use tollgate::dialect::passthrough::Passthrough;
use tollgate::dialect::stream::StreamTranslator;
use tollgate::dialect::Dialect;

const DIALECTS: [Dialect; 4] = [
    Dialect::OpenAiChat,
    Dialect::OpenAiResponses,
    Dialect::AnthropicMessages,
    Dialect::Gemini,
];

const KEYS: &[&str] = &[
    // Shared and OpenAI Chat
    "model",
    "messages",
    "role",
    "content",
    "text",
    "type",
    "name",
    "id",
    "stream",
    "stream_options",
    "include_usage",
    "tools",
    "tool_choice",
    "tool_calls",
    "tool_call_id",
    "function",
    "arguments",
    "parameters",
    "choices",
    "delta",
    "index",
    "finish_reason",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "completion_tokens_details",
    "reasoning_tokens",
    "image_url",
    "url",
    "detail",
    "response_format",
    "json_schema",
    "schema",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "reasoning_effort",
    "reasoning_content",
    "refusal",
    "error",
    "message",
    "code",
    "param",
    // Responses
    "input",
    "instructions",
    "output",
    "call_id",
    "item",
    "output_index",
    "response",
    "input_tokens",
    "output_tokens",
    "reasoning",
    "summary",
    "encrypted_content",
    "status",
    // Anthropic
    "system",
    "max_tokens",
    "thinking",
    "budget_tokens",
    "signature",
    "data",
    "input_schema",
    "tool_use_id",
    "is_error",
    "cache_control",
    "source",
    "media_type",
    "stop_reason",
    "stop_sequences",
    "content_block",
    "partial_json",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "metadata",
    // Gemini
    "contents",
    "parts",
    "systemInstruction",
    "generationConfig",
    "functionCall",
    "functionResponse",
    "functionDeclarations",
    "parametersJsonSchema",
    "thought",
    "thoughtSignature",
    "inlineData",
    "fileData",
    "mimeType",
    "fileUri",
    "candidates",
    "finishReason",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "cachedContentTokenCount",
    "toolConfig",
    "functionCallingConfig",
    "thinkingConfig",
    "thinkingBudget",
    "responseMimeType",
    "responseSchema",
    "maxOutputTokens",
    "modelVersion",
];

const WORDS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "model",
    "function",
    "text",
    "image_url",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "image",
    "base64",
    "url",
    "auto",
    "any",
    "none",
    "required",
    "json_object",
    "json_schema",
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "signature_delta",
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "output_text",
    "input_text",
    "response.created",
    "response.output_item.added",
    "response.output_text.delta",
    "response.completed",
    "overloaded_error",
    "ephemeral",
    "enabled",
    "adaptive",
    "image/png",
    "[DONE]",
    "data:image/png;base64,AA",
    "call_1",
    "{\"a\":1}",
    "{\"",
    "é✓",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..5).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn facts(stream: bool, sse: bool) -> RouteFacts {
    RouteFacts {
        model: Some("m".into()),
        stream,
        sse,
    }
}

fn assert_json(bytes: &[u8], what: &str) {
    assert!(
        serde_json::from_slice::<Value>(bytes).is_ok(),
        "{what} wrote invalid JSON: {}",
        String::from_utf8_lossy(bytes)
    );
}

/// Decodes `body` as each dialect's request and answer; whatever decodes is written out in
/// every dialect, which must give valid JSON.
fn decode_everywhere(body: &[u8]) {
    for from in DIALECTS {
        let c = codec(from);
        if let Ok(req) = c.decode_request(body, &facts(false, false)) {
            for to in DIALECTS {
                assert_json(
                    &codec(to).encode_request(&req, "m", Quirks::default()),
                    to.name(),
                );
            }
        }
        if let Some(answer) = c.decode_answer(body) {
            for to in DIALECTS {
                let out = codec(to).encode_answer(&answer, "m", 1, &Request::default());
                assert_json(&out, to.name());
            }
        }
        let _ = c.error_message(body);
    }
}

/// Every translator the gateway can build for a provider of `from`, fed `chunks`.
fn stream_everywhere(from: Dialect, chunks: &[Bytes], fail: bool) {
    for to in DIALECTS {
        for sse in [true, false] {
            let f = facts(true, sse);
            let convert = Converter::new(
                codec(from).decoder(1 << 12),
                codec(to).encoder("m", 1, &Request::default(), &f),
            );
            let mut t: Box<dyn StreamTranslator> = if from == to && sse {
                Box::new(Passthrough::new(convert, Some(("m", "client-m")), 1 << 12))
            } else {
                Box::new(convert)
            };
            for c in chunks {
                if t.push(c.clone()).is_err() {
                    break;
                }
            }
            let _ = t.is_complete();
            let _ = t.finish();
            if fail {
                let _ = t.fail(ErrorKind::BadUpstream, "cut");
            }
            let _ = t.usage();
        }
    }
}

/// `events` written as a provider of `d` frames them, cut at `cuts`.
fn framed(events: &[(Option<&str>, Value)], cuts: &[usize], crlf: bool) -> Vec<Bytes> {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut s = String::new();
    for (name, data) in events {
        if let Some(n) = name {
            s.push_str(&format!("event: {n}{eol}"));
        }
        s.push_str(&format!("data: {data}{eol}{eol}"));
    }
    let bytes = Bytes::from(s);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        out.push(bytes.slice(from..p.max(from)));
        from = p.max(from);
    }
    out
}

proptest! {
    // 192 cases in the suite; PROPTEST_CASES asks for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(192),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_request_or_answer_makes_a_codec_panic(v in json_value()) {
        decode_everywhere(v.to_string().as_bytes());
    }

    #[test]
    fn no_bytes_make_a_codec_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_everywhere(&bytes);
        for from in DIALECTS {
            stream_everywhere(from, &[Bytes::from(bytes.clone())], true);
        }
    }

    #[test]
    fn no_stream_makes_a_translator_panic(
        events in prop::collection::vec(
            (prop::option::of(prop::sample::select(WORDS)), json_value()),
            0..10,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        crlf in any::<bool>(),
        fail in any::<bool>(),
    ) {
        let chunks = framed(&events, &cuts, crlf);
        for from in DIALECTS {
            stream_everywhere(from, &chunks, fail);
        }
    }
}
