//! The seam between a provider's streamed body and the client: a translator per request.
//!
//! The relay loop feeds every chunk the provider sends through a [`StreamTranslator`] and writes
//! whatever it returns straight to the client, so a translator decides the framing the client
//! sees. Same-dialect passthrough and cross-dialect conversion are both translators.

use super::errors::ErrorKind;
use super::ir::{Event, Stop};
use super::usage::Usage;
use bytes::{Bytes, BytesMut};

/// How the provider's stream ended, as judged by the translator.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The dialect's terminal event arrived; these are the last bytes for the client, if any.
    Complete(Option<Bytes>),
    /// The body ended before the terminal event: the stream was cut short.
    Truncated,
}

/// A provider stream that cannot be relayed any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFault {
    pub kind: ErrorKind,
    pub message: String,
}

/// Converts a provider's stream into the client's, one chunk at a time.
pub trait StreamTranslator: Send {
    /// Takes one chunk of the provider's body as it arrived and returns the bytes to send the
    /// client now. Only whole events are returned; a partial one is held for the next chunk.
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, StreamFault>;

    /// Whether the dialect's terminal event has passed: the client's stream is complete even if
    /// the provider has not closed its body yet.
    fn is_complete(&self) -> bool;

    /// Called once when the provider's body has ended.
    fn finish(&mut self) -> StreamEnd;

    /// The in-band error event and terminal event that end the client's stream after a failure
    /// past the first byte (a provider error, a timeout, a cut).
    fn fail(&mut self, kind: ErrorKind, message: &str) -> Bytes;

    /// The last usage snapshot seen so far.
    fn usage(&self) -> Option<Usage>;

    /// Why the model stopped, once the stream said so (a relay that reads no more of the
    /// events than it must may know only that it ran out of tokens).
    fn stop(&self) -> Option<Stop> {
        None
    }

    /// Whether the provider ended its stream with an error of its own (an in-band error event).
    fn errored(&self) -> bool;

    /// Bytes of generated content seen so far (text, thinking, tool-call arguments), for
    /// estimating the output of a stream whose usage never came; `None` from a relay that
    /// does not read the events' content.
    fn output_bytes(&self) -> Option<u64> {
        None
    }
}

/// Reads a provider's streamed body in its dialect into internal events (the provider side of
/// a conversion between two dialects).
pub trait StreamDecoder: Send {
    /// Takes one chunk of the body as it arrived, and appends the events it completes.
    fn push(&mut self, chunk: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault>;

    /// Called once when the body has ended: appends what the end completes, and says whether
    /// the dialect's terminal event had arrived.
    fn finish(&mut self, out: &mut Vec<Event>) -> Ended;
}

/// How a provider's stream ended, as its decoder judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The dialect's terminal event arrived.
    Complete,
    /// The body stopped before it.
    Truncated,
}

/// Writes internal events as a client's dialect expects its stream (the client side of a
/// conversion). Every event is written as soon as it is given, so it can be flushed at once.
pub trait StreamEncoder: Send {
    /// Appends the client's bytes for one event.
    fn push(&mut self, event: &Event, out: &mut BytesMut);

    /// Appends whatever the dialect needs to end a stream that ended well (after `Stop`):
    /// OpenAI's `[DONE]`, Anthropic's `message_stop`, …
    fn finish(&mut self, out: &mut BytesMut);

    /// Appends the dialect's in-band error and terminal event, for a failure after the first
    /// byte; the stream is over after it.
    fn fail(&mut self, kind: ErrorKind, message: &str, out: &mut BytesMut);
}

/// What a translator writes for `input` delivered in two chunks, cut at `cut`.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn push_in_two(t: &mut dyn StreamTranslator, input: &[u8], cut: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in [&input[..cut], &input[cut..]] {
        if let Some(b) = t.push(Bytes::copy_from_slice(part)).unwrap() {
            out.extend_from_slice(&b);
        }
    }
    out
}
