//! The one error type of the request path.
//!
//! A [`GatewayError`] carries its canonical kind (how it is rendered to the client), a message
//! safe to show the client, the provider it came from, and whether another provider may be
//! tried: the retry decision travels with the error instead of being guessed later, as it does
//! in Pingora's own error type.

use crate::dialect::errors::ErrorKind;
use crate::dialect::Dialect;
use bytes::Bytes;
use std::borrow::Cow;

/// The most characters of a client-supplied value (a model name, a path) that an error message
/// or a log line repeats: a 20 MB model name must not come back as a 20 MB error.
pub const ECHO_CHARS: usize = 256;

/// `s` cut to [`ECHO_CHARS`] characters, with an ellipsis when something was cut.
pub fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(ECHO_CHARS) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}…", &s[..end])),
    }
}

/// A provider's own error answer, kept so it can be passed on in the client's dialect.
#[derive(Debug, Clone)]
pub struct ProviderReply {
    pub status: u16,
    /// Masked already, as every provider byte is.
    pub body: Bytes,
    /// The dialect the provider speaks, which its body is in.
    pub dialect: Dialect,
}

/// What a failed attempt means for the rest of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Final: no other provider would answer differently (a bad request, a client gone).
    No,
    /// Another candidate, or this one again on the next round, may succeed (a timeout, a 5xx,
    /// a broken answer).
    Next,
    /// Another candidate may succeed, but not this provider again in this request: it rejected
    /// the gateway's key or rate-limited it, and will not do better a moment later.
    AvoidProvider,
}

impl Retry {
    pub fn as_str(self) -> &'static str {
        match self {
            Retry::No => "no",
            Retry::Next => "next",
            Retry::AvoidProvider => "avoid_provider",
        }
    }
}

#[derive(Debug)]
pub struct GatewayError {
    pub kind: ErrorKind,
    /// English, for the client; never a key, never a stack trace.
    pub message: String,
    /// Whether another attempt may succeed, and where.
    pub retry: Retry,
    /// The provider whose attempt failed; `None` for the gateway's own errors.
    pub provider: Option<String>,
    /// The provider's answer, passed through to the client when it is the final error.
    pub reply: Option<ProviderReply>,
    /// The provider's HTTP status, when the error is its answer.
    pub upstream_status: Option<u16>,
    /// Headers the client must see with this error (`allow`, `retry-after`).
    pub headers: Vec<(&'static str, String)>,
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError {
            kind,
            message: message.into(),
            retry: Retry::No,
            provider: None,
            reply: None,
            upstream_status: None,
            headers: Vec::new(),
        }
    }

    /// The memory budget for bodies is spent: 503, worth retrying in a moment.
    pub fn overloaded() -> Self {
        GatewayError::new(
            ErrorKind::Overloaded,
            "The gateway is holding as many request and answer bodies as it may; try again shortly",
        )
        .with_header("retry-after", "1")
    }

    /// Another candidate may succeed.
    pub fn retryable(mut self) -> Self {
        self.retry = Retry::Next;
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.retry != Retry::No
    }

    /// Names the provider whose attempt this was.
    pub fn from_provider(mut self, name: &str) -> Self {
        self.provider = Some(name.to_owned());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_reply(mut self, status: u16, body: Bytes, dialect: Dialect) -> Self {
        self.reply = Some(ProviderReply {
            status,
            body,
            dialect,
        });
        self
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)?;
        if let Some(p) = &self.provider {
            write!(f, " (provider {p}, retry: {})", self.retry.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_echoes_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("gpt-4o"), "gpt-4o");
        let exact = "é".repeat(ECHO_CHARS);
        assert_eq!(clip(&exact), exact);
        let long = "é".repeat(ECHO_CHARS + 1);
        assert_eq!(clip(&long), format!("{exact}…"));
    }
}
