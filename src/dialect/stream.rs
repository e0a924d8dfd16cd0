//! The seam between a provider's streamed body and the client: a translator per request.
//!
//! The relay loop feeds every chunk the provider sends through a [`StreamTranslator`] and writes
//! whatever it returns straight to the client, so a translator decides the framing the client
//! sees. Same-dialect passthrough and cross-dialect conversion are both translators.

use super::errors::ErrorKind;
use super::usage::Usage;
use bytes::Bytes;

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
}
