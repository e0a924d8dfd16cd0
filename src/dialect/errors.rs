//! Errors in each client's own dialect (reference: dialects.md §4).
//!
//! The gateway classifies every failure into an [`ErrorKind`]; this module is the one place that
//! turns a kind and a message into the status code and body a client of a given dialect expects.

use super::Dialect;
use bytes::Bytes;
use serde_json::json;

/// The canonical failure classes, independent of any dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed JSON, a missing field, a bad value: 400.
    BadRequest,
    /// No key, or a key tollgate does not know: 401.
    InvalidKey,
    /// The key may not use this model or feature: 403.
    Forbidden,
    /// No such route: 404.
    UnknownRoute,
    /// No provider serves this model: 404.
    ModelNotFound,
    /// The route exists but not for this method: 405.
    MethodNotAllowed,
    /// The client took too long to send its request: 408.
    RequestTimeout,
    /// The request body is over the configured cap: 413.
    PayloadTooLarge,
    /// The request's header block is over the configured cap: 431.
    HeaderTooLarge,
    /// A rate or concurrency limit: 429, retryable.
    RateLimited,
    /// The key's balance is used up: 429 (Anthropic's clients get 402), not retryable.
    QuotaExhausted,
    /// A bug or an unexpected state inside tollgate: 500.
    Internal,
    /// The provider answered something tollgate cannot use: 502.
    BadUpstream,
    /// No provider could be reached for this model: 503.
    NoProvider,
    /// The gateway is at a capacity limit of its own (memory for bodies): 503, retryable.
    Overloaded,
    /// The provider did not answer in time: 504.
    UpstreamTimeout,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::InvalidKey => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::UnknownRoute | ErrorKind::ModelNotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::RequestTimeout => 408,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::HeaderTooLarge => 431,
            ErrorKind::RateLimited | ErrorKind::QuotaExhausted => 429,
            ErrorKind::Internal => 500,
            ErrorKind::BadUpstream => 502,
            ErrorKind::NoProvider | ErrorKind::Overloaded => 503,
            ErrorKind::UpstreamTimeout => 504,
        }
    }

    /// OpenAI's `type` and `code` for this kind.
    fn openai_type_code(self) -> (&'static str, Option<&'static str>) {
        match self {
            ErrorKind::BadRequest => ("invalid_request_error", None),
            ErrorKind::InvalidKey => ("invalid_request_error", Some("invalid_api_key")),
            ErrorKind::Forbidden => ("invalid_request_error", Some("model_not_allowed")),
            ErrorKind::UnknownRoute => ("invalid_request_error", None),
            ErrorKind::ModelNotFound => ("invalid_request_error", Some("model_not_found")),
            ErrorKind::MethodNotAllowed => ("invalid_request_error", Some("method_not_allowed")),
            ErrorKind::RequestTimeout => ("invalid_request_error", Some("request_timeout")),
            ErrorKind::PayloadTooLarge => ("invalid_request_error", Some("request_too_large")),
            ErrorKind::HeaderTooLarge => {
                ("invalid_request_error", Some("request_header_too_large"))
            }
            ErrorKind::RateLimited => ("requests", Some("rate_limit_exceeded")),
            ErrorKind::QuotaExhausted => ("insufficient_quota", Some("insufficient_quota")),
            ErrorKind::Internal => ("server_error", None),
            ErrorKind::BadUpstream => ("server_error", Some("bad_upstream_response")),
            ErrorKind::NoProvider => ("server_error", Some("no_provider_available")),
            ErrorKind::Overloaded => ("server_error", Some("overloaded")),
            ErrorKind::UpstreamTimeout => ("server_error", Some("upstream_timeout")),
        }
    }

    /// Anthropic's closed set of `error.type` values.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest | ErrorKind::MethodNotAllowed | ErrorKind::RequestTimeout => {
                "invalid_request_error"
            }
            ErrorKind::InvalidKey => "authentication_error",
            ErrorKind::Forbidden => "permission_error",
            ErrorKind::UnknownRoute | ErrorKind::ModelNotFound => "not_found_error",
            ErrorKind::PayloadTooLarge | ErrorKind::HeaderTooLarge => "request_too_large",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::QuotaExhausted => "billing_error",
            ErrorKind::Internal | ErrorKind::BadUpstream | ErrorKind::NoProvider => "api_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
        }
    }

    /// Google's canonical status name, and the HTTP status Gemini uses for it.
    fn gemini_status(self) -> (&'static str, u16) {
        match self {
            ErrorKind::BadRequest | ErrorKind::PayloadTooLarge => ("INVALID_ARGUMENT", 400),
            ErrorKind::InvalidKey => ("UNAUTHENTICATED", 401),
            ErrorKind::Forbidden => ("PERMISSION_DENIED", 403),
            ErrorKind::UnknownRoute | ErrorKind::ModelNotFound => ("NOT_FOUND", 404),
            ErrorKind::MethodNotAllowed => ("INVALID_ARGUMENT", 405),
            ErrorKind::RequestTimeout => ("DEADLINE_EXCEEDED", 408),
            ErrorKind::HeaderTooLarge => ("INVALID_ARGUMENT", 431),
            ErrorKind::RateLimited | ErrorKind::QuotaExhausted => ("RESOURCE_EXHAUSTED", 429),
            ErrorKind::Internal => ("INTERNAL", 500),
            ErrorKind::BadUpstream => ("INTERNAL", 502),
            ErrorKind::NoProvider | ErrorKind::Overloaded => ("UNAVAILABLE", 503),
            ErrorKind::UpstreamTimeout => ("DEADLINE_EXCEEDED", 504),
        }
    }
}

/// An error ready to be written: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedError {
    pub status: u16,
    pub body: Bytes,
}

/// The error body a `dialect` client expects for `kind`, with `message` (English, no secrets).
pub fn render(dialect: Dialect, kind: ErrorKind, message: &str) -> RenderedError {
    let (status, body) = match dialect {
        Dialect::OpenAiChat | Dialect::OpenAiResponses => {
            (kind.status(), openai_body(kind, message))
        }
        Dialect::AnthropicMessages => (
            kind.status(),
            json!({"type": "error", "error": {"type": kind.anthropic_type(), "message": message}}),
        ),
        Dialect::Gemini => {
            let (name, status) = kind.gemini_status();
            (
                status,
                json!({"error": {"code": status, "message": message, "status": name}}),
            )
        }
    };
    RenderedError {
        status,
        body: Bytes::from(body.to_string()),
    }
}

/// OpenAI's error object: all four keys present, `param` and `code` nullable.
pub(crate) fn openai_body(kind: ErrorKind, message: &str) -> serde_json::Value {
    let (ty, code) = kind.openai_type_code();
    json!({"error": {"message": message, "type": ty, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &RenderedError) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn openai_errors_carry_all_four_keys() {
        let r = render(
            Dialect::OpenAiChat,
            ErrorKind::ModelNotFound,
            "The model `x` does not exist",
        );
        assert_eq!(r.status, 404);
        assert_eq!(
            body(&r),
            json!({"error": {"message": "The model `x` does not exist", "type": "invalid_request_error",
                   "param": null, "code": "model_not_found"}})
        );
    }

    #[test]
    fn a_used_up_balance_in_each_dialect() {
        let r = render(Dialect::OpenAiChat, ErrorKind::QuotaExhausted, "no money");
        assert_eq!(r.status, 429);
        assert_eq!(
            body(&r),
            json!({"error": {"message": "no money", "type": "insufficient_quota", "param": null,
                   "code": "insufficient_quota"}})
        );
        let r = render(
            Dialect::AnthropicMessages,
            ErrorKind::QuotaExhausted,
            "no money",
        );
        assert_eq!(body(&r)["error"]["type"], "billing_error");
        let r = render(Dialect::Gemini, ErrorKind::QuotaExhausted, "no money");
        assert_eq!(r.status, 429);
        assert_eq!(body(&r)["error"]["status"], "RESOURCE_EXHAUSTED");
    }

    #[test]
    fn anthropic_and_gemini_shapes() {
        let r = render(
            Dialect::AnthropicMessages,
            ErrorKind::InvalidKey,
            "invalid x-api-key",
        );
        assert_eq!(r.status, 401);
        assert_eq!(
            body(&r),
            json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        );
        let r = render(Dialect::Gemini, ErrorKind::UpstreamTimeout, "slow");
        assert_eq!(r.status, 504);
        assert_eq!(
            body(&r),
            json!({"error": {"code": 504, "message": "slow", "status": "DEADLINE_EXCEEDED"}})
        );
    }
}
