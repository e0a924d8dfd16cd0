//! The OpenAI Chat same-dialect path, which forwards bodies byte for byte and reads only a few
//! members: what it reads must be what a real JSON parser reads, a rename must land, and a
//! stream relayed without rename must pass unchanged.
//!
//! Input: byte 0 holds flags, bytes 1..=4 are chunk sizes (cycled); the rest is the body.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate::dialect::errors::ErrorKind;
use tollgate::dialect::json::top_level_spans;
use tollgate::dialect::openai::{answer_for_client, probe_request, request_for, ChatPassthrough};
use tollgate::dialect::stream::{StreamEnd, StreamTranslator};
use tollgate_fuzz::{chunks, MODEL};

const HEADER: usize = 5;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let (head, body) = data.split_at(HEADER);
    let rename = head[0] & 1 != 0;
    let max_event = if head[0] & 2 != 0 { 256 } else { 1 << 20 };
    let sizes = &head[1..];

    agrees_with_serde(body);

    if let Ok(req) = probe_request(body) {
        let shared = Bytes::copy_from_slice(body);
        assert_eq!(request_for(&shared, &req, &req.model), shared);
        let renamed = request_for(&shared, &req, MODEL);
        match probe_request(&renamed) {
            Ok(again) => {
                assert_eq!(again.model, MODEL, "{renamed:?}");
                assert_eq!(again.stream, req.stream, "{renamed:?}");
            }
            Err(e) => panic!("a renamed body no longer probes ({e:?}): {renamed:?}"),
        }
    }

    if let Some(answer) = answer_for_client(Bytes::copy_from_slice(body), Some(MODEL)) {
        let had_model = top_level_spans(body, ["model"]).is_some_and(|[m]| m.is_some());
        if had_model {
            let model = top_level_spans(&answer.body, ["model"])
                .and_then(|[m]| m)
                .map(|span| serde_json::from_slice::<Value>(&answer.body[span]));
            assert!(
                matches!(&model, Some(Ok(Value::String(m))) if m == MODEL),
                "the client's model name did not land: {:?}",
                answer.body
            );
        }
    }

    let mut t = ChatPassthrough::new(rename.then_some(MODEL), max_event);
    let mut fed = Vec::new();
    let mut out = BytesMut::new();
    let mut faulted = false;
    for chunk in chunks(body, sizes) {
        fed.extend_from_slice(&chunk);
        match t.push(chunk) {
            Ok(sent) => out.extend_from_slice(&sent.unwrap_or_default()),
            Err(fault) => {
                out.extend_from_slice(&t.fail(fault.kind, &fault.message));
                faulted = true;
                break;
            }
        }
        if t.is_complete() {
            break;
        }
    }
    if faulted {
        return;
    }
    match t.finish() {
        StreamEnd::Complete(tail) => {
            out.extend_from_slice(&tail.unwrap_or_default());
            // A cut stream loses its unfinished event by design; a whole one loses nothing.
            assert!(
                rename || out.starts_with(&fed),
                "a passthrough changed the stream: {fed:?} became {out:?}"
            );
        }
        StreamEnd::Truncated => {
            let _ = t.fail(ErrorKind::BadUpstream, "cut");
        }
    }
});

/// The members the gateway reads without parsing the body are the ones serde_json (and so,
/// likely, the provider) reads: a disagreement would let a body route as one model and run as
/// another.
fn agrees_with_serde(body: &[u8]) {
    const NAMES: [&str; 3] = ["model", "stream", "usage"];
    let spans = top_level_spans(body, NAMES);
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            let Some(spans) = spans else {
                panic!("serde_json reads an object that top_level_spans rejects");
            };
            for (name, span) in NAMES.iter().zip(spans) {
                let ours = span.map(|s| serde_json::from_slice::<Value>(&body[s]));
                match (map.get(*name), ours) {
                    (None, None) => {}
                    (Some(theirs), Some(Ok(ours))) if *theirs == ours => {}
                    (theirs, ours) => panic!("`{name}`: serde_json reads {theirs:?}, we {ours:?}"),
                }
            }
        }
        Ok(_) => assert!(
            spans.is_none(),
            "top_level_spans reads a non-object as an object"
        ),
        // serde_json refuses some valid JSON (nesting past 128 levels, numbers past f64), so
        // its refusal says nothing of the scanner.
        Err(_) => {}
    }
}
