//! The wire dialects tollgate speaks, as pure functions over bytes and JSON.
//!
//! Nothing in here knows about Pingora, sockets, clocks or metrics: every codec takes bytes or JSON
//! and returns bytes or JSON, so each one can be unit-tested, benchmarked and fuzzed on its own.
//! A conversion between two dialects goes through one internal representation ([`ir`]): a codec
//! per dialect ([`codec`]), not a converter per pair. When both sides speak the same dialect the
//! request body passes through untouched except for the model name.

pub mod anthropic;
pub mod codec;
pub mod convert;
pub mod errors;
pub mod gemini;
pub mod ir;
pub mod json;
pub mod names;
pub mod openai;
pub mod passthrough;
pub mod responses;
pub mod sse;
pub mod stream;
pub mod tokens;
pub mod usage;

use serde::Deserialize;
use std::fmt;

/// Why a request body could not be used; the message is the dialect's own wording where it has
/// one, and goes to the client as a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequest(pub &'static str);

/// A wire dialect, as named in the config (`providers[].dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Dialect {
    /// OpenAI Chat Completions: `POST /v1/chat/completions`.
    #[serde(rename = "openai")]
    OpenAiChat,
    /// OpenAI Responses: `POST /v1/responses`.
    #[serde(rename = "openai-responses")]
    OpenAiResponses,
    /// Anthropic Messages: `POST /v1/messages`.
    #[serde(rename = "anthropic")]
    AnthropicMessages,
    /// Google Gemini generateContent.
    #[serde(rename = "gemini")]
    Gemini,
}

impl Dialect {
    /// The name used in the config and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "openai",
            Dialect::OpenAiResponses => "openai-responses",
            Dialect::AnthropicMessages => "anthropic",
            Dialect::Gemini => "gemini",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
