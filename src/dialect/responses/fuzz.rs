//! No input makes this codec panic: arbitrary bytes, and JSON built from the dialect's own
//! vocabulary (which reaches far deeper than random bytes do).

#![allow(clippy::unwrap_used)]

use super::*;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{BlockKind, Delta, Event, Extras, Stop};
use crate::dialect::stream::{StreamDecoder, StreamEncoder};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "type",
    "model",
    "input",
    "instructions",
    "role",
    "content",
    "text",
    "call_id",
    "id",
    "name",
    "namespace",
    "arguments",
    "input",
    "output",
    "tools",
    "tool_choice",
    "summary",
    "encrypted_content",
    "output_index",
    "item_id",
    "content_index",
    "summary_index",
    "delta",
    "item",
    "part",
    "response",
    "status",
    "usage",
    "input_tokens",
    "output_tokens",
    "error",
    "message",
    "code",
    "incomplete_details",
    "reason",
    "image_url",
    "file_data",
    "format",
    "reasoning",
    "effort",
    "stream",
    "success",
    "refusal",
    "mode",
    "parameters",
];

const WORDS: &[&str] = &[
    "message",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "reasoning",
    "user",
    "assistant",
    "developer",
    "system",
    "input_text",
    "output_text",
    "input_image",
    "input_file",
    "refusal",
    "function",
    "custom",
    "namespace",
    "web_search",
    "completed",
    "incomplete",
    "failed",
    "summary_text",
    "response.created",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "max_output_tokens",
    "content_filter",
    "tollgate.signature:x",
    "tollgate.redacted:y",
    "data:image/png;base64,AA",
    "é✓",
    "{\"input\":\"x\"}",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..4).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
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

fn run_decoder(chunks: &[Vec<u8>]) {
    let mut d = Decoder::new(4096);
    let mut out = Vec::new();
    for c in chunks {
        if d.push(Bytes::copy_from_slice(c), &mut out).is_err() {
            return;
        }
    }
    d.finish(&mut out);
    // Whatever came in, what comes out keeps one block open at a time.
    let mut open: Option<usize> = None;
    for e in &out {
        match e {
            Event::BlockStart { index, .. } => {
                assert_eq!(open, None, "{out:?}");
                open = Some(*index);
            }
            Event::Delta { index, .. } => assert_eq!(open, Some(*index), "{out:?}"),
            Event::BlockStop { index } => {
                assert_eq!(open, Some(*index), "{out:?}");
                open = None;
            }
            _ => {}
        }
    }
}

fn ir_event() -> impl Strategy<Value = Event> {
    let text = "[a-z\"{} ]{0,6}";
    prop_oneof![
        Just(Event::Start {
            id: "r".into(),
            model: "m".into()
        }),
        (0usize..3, 0u8..4).prop_map(|(index, k)| Event::BlockStart {
            index,
            block: match k {
                0 => BlockKind::Text,
                1 => BlockKind::Thinking,
                2 => BlockKind::RedactedThinking { data: "d".into() },
                _ => BlockKind::ToolCall {
                    id: "c".into(),
                    name: "apply_patch".into(),
                    extras: Extras::new(),
                },
            },
        }),
        (0usize..3, 0u8..4, text).prop_map(|(index, k, t)| Event::Delta {
            index,
            delta: match k {
                0 => Delta::Text(t),
                1 => Delta::Thinking(t),
                2 => Delta::Signature(t),
                _ => Delta::ToolArguments(t),
            },
        }),
        (0usize..3).prop_map(|index| Event::BlockStop { index }),
        Just(Event::Stop(Stop::MaxTokens)),
        Just(Event::Stop(Stop::EndTurn)),
        Just(Event::Error {
            kind: ErrorKind::BadUpstream,
            message: "x".into()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
        let _ = decode_request(&bytes);
        let _ = decode_answer(&bytes);
        let _ = error_message(&bytes);
        let cut = cut.min(bytes.len());
        run_decoder(&[bytes[..cut].to_vec(), bytes[cut..].to_vec()]);
    }

    #[test]
    fn dialect_shaped_json_never_panics(v in json_value(), events in prop::collection::vec(json_value(), 0..8)) {
        let body = v.to_string();
        if let Ok(req) = decode_request(body.as_bytes()) {
            let _ = encode_request(&req, "m");
        }
        if let Some(a) = decode_answer(body.as_bytes()) {
            let _ = encode_answer(&a, "m", 1);
        }
        let _ = error_message(body.as_bytes());
        let stream: String = events
            .iter()
            .map(|e| format!("event: x\ndata: {e}\n\n"))
            .collect();
        run_decoder(&[stream.into_bytes()]);
    }

    #[test]
    fn any_event_order_encodes_without_panic_and_ends_once(events in prop::collection::vec(ir_event(), 0..16)) {
        let mut e = Encoder::new("m", 1);
        let mut out = BytesMut::new();
        for ev in &events {
            e.push(ev, &mut out);
        }
        e.finish(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        let terminals = ["event: response.completed\n", "event: response.incomplete\n", "event: response.failed\n"]
            .iter()
            .map(|t| text.matches(t).count())
            .sum::<usize>();
        prop_assert_eq!(terminals, 1, "{}", text);
    }
}
