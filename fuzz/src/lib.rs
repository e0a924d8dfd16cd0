//! What the fuzz targets share: the dialects, a data-driven chunker, and the checks that the
//! gateway's own output is well formed.

use bytes::Bytes;
use serde_json::Value;
use tollgate::dialect::sse::{parse_event, EventSplitter, Events};
use tollgate::dialect::Dialect;

pub const DIALECTS: [Dialect; 4] = [
    Dialect::OpenAiChat,
    Dialect::OpenAiResponses,
    Dialect::AnthropicMessages,
    Dialect::Gemini,
];

/// A model name that only survives an encoder that escapes it: the gateway takes model names
/// from its config, and an encoder that pastes one into JSON unescaped would break the body.
pub const MODEL: &str = "up\"stream/mödel\\1";

/// A fixed clock, so that a crash reproduces byte for byte.
pub const CREATED: u64 = 1_700_000_000;

/// Panics, showing the bytes, unless `bytes` is one JSON value. `what` says who wrote them.
pub fn assert_json(bytes: &[u8], what: &dyn std::fmt::Display) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!(
            "{what} wrote invalid JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// Cuts `body` into chunks whose sizes cycle through `sizes` (each byte plus one), so the
/// fuzzer controls where the network would have split the stream.
pub fn chunks<'a>(body: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = Bytes> + 'a {
    let mut rest = body;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = sizes
            .get(i % sizes.len().max(1))
            .map_or(rest.len(), |&s| usize::from(s) + 1);
        i += 1;
        let (head, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(Bytes::copy_from_slice(head))
    })
}

/// Splits `body`, cut into `chunks`, with a splitter that holds at most `max_event` bytes;
/// checks that the runs and their events give back exactly the bytes that went in.
pub fn check_splitter(chunks: impl Iterator<Item = Bytes>, max_event: usize) {
    let mut splitter = EventSplitter::new(max_event);
    let mut fed = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        fed.extend_from_slice(&chunk);
        match splitter.push(chunk) {
            Ok(Some(run)) => {
                let mut joined = Vec::with_capacity(run.len());
                for event in Events::new(run.clone()) {
                    assert!(!event.is_empty(), "an empty event in {run:?}");
                    let _ = parse_event(&event);
                    joined.extend_from_slice(&event);
                }
                assert_eq!(joined, run, "the events of a run are the run");
                out.extend_from_slice(&run);
            }
            Ok(None) => {}
            // A too-large event ends the stream; what came out before it stands.
            Err(e) => {
                assert_eq!(e.limit, max_event);
                return;
            }
        }
    }
    if let Some(partial) = splitter.take_partial() {
        let _ = parse_event(&partial);
        out.extend_from_slice(&partial);
    }
    assert!(!splitter.has_partial());
    assert_eq!(out, fed, "every byte passes through the splitter unchanged");
}

/// Checks that `out` is a whole stream as a client of `dialect` reads it: every event's data
/// is JSON (or OpenAI's `[DONE]`), or for Gemini without `alt=sse`, one JSON array.
pub fn assert_client_stream(out: &[u8], dialect: Dialect, sse: bool, what: &dyn std::fmt::Display) {
    if dialect == Dialect::Gemini && !sse {
        if let Value::Array(_) = assert_json(out, what) {
            return;
        }
        panic!("{what} wrote a JSON stream that is not an array");
    }
    for event in Events::new(Bytes::copy_from_slice(out)) {
        let Some(parsed) = parse_event(&event) else {
            continue;
        };
        if dialect == Dialect::OpenAiChat && &parsed.data[..] == b"[DONE]" {
            continue;
        }
        assert_json(&parsed.data, what);
    }
}
