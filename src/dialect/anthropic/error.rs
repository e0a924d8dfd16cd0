//! Anthropic error bodies and events (reference: dialects.md §4).

use crate::dialect::errors::{render, ErrorKind};
use crate::dialect::Dialect;
use bytes::{BufMut, BytesMut};
use serde_json::Value;

/// The human message inside an Anthropic error body
/// (`{"type":"error","error":{"type":…,"message":…}}`), so it can be shown to a client of
/// another dialect.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    error
        .get("message")
        .and_then(Value::as_str)
        // Some Anthropic-compatible servers put the message straight under `error`.
        .or_else(|| error.as_str())
        .map(str::to_string)
}

/// The failure class of an Anthropic `error.type`.
///
/// The provider's own server error and billing trouble are the gateway's upstream failing, not
/// the client's doing, so both read as a bad upstream.
pub fn error_kind(error_type: &str) -> ErrorKind {
    match error_type {
        "invalid_request_error" => ErrorKind::BadRequest,
        "authentication_error" => ErrorKind::InvalidKey,
        "permission_error" => ErrorKind::Forbidden,
        "not_found_error" => ErrorKind::ModelNotFound,
        "request_too_large" => ErrorKind::PayloadTooLarge,
        "rate_limit_error" => ErrorKind::RateLimited,
        "timeout_error" => ErrorKind::UpstreamTimeout,
        "overloaded_error" => ErrorKind::Overloaded,
        _ => ErrorKind::BadUpstream,
    }
}

/// The HTTP status an Anthropic client expects for `kind`: Anthropic says "overloaded" with
/// 529, which its SDKs retry, where the other dialects use 503.
pub fn error_status(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Overloaded => 529,
        // A used-up balance (dialects.md §4).
        ErrorKind::QuotaExhausted => 402,
        other => other.status(),
    }
}

/// Appends the in-stream error event (`event: error`), the form an error takes after the
/// response headers went out.
pub(super) fn put_error_event(kind: ErrorKind, message: &str, out: &mut BytesMut) {
    let rendered = render(Dialect::AnthropicMessages, kind, message);
    out.put_slice(b"event: error\ndata: ");
    out.put_slice(&rendered.body);
    out.put_slice(b"\n\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_read_from_anthropic_and_lookalike_bodies() {
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        assert_eq!(error_message(body).as_deref(), Some("Overloaded"));
        assert_eq!(
            error_message(br#"{"error":"upstream down"}"#).as_deref(),
            Some("upstream down")
        );
        assert_eq!(error_message(b"<html>502</html>"), None);
        assert_eq!(error_message(br#"{"type":"message"}"#), None);
    }

    #[test]
    fn types_map_to_kinds_and_overload_keeps_529() {
        assert_eq!(error_kind("overloaded_error"), ErrorKind::Overloaded);
        assert_eq!(error_kind("api_error"), ErrorKind::BadUpstream);
        assert_eq!(error_kind("billing_error"), ErrorKind::BadUpstream);
        assert_eq!(error_kind("not_found_error"), ErrorKind::ModelNotFound);
        assert_eq!(error_status(ErrorKind::Overloaded), 529);
        assert_eq!(error_status(ErrorKind::RateLimited), 429);
    }

    #[test]
    fn the_stream_error_event_has_the_sdk_shape() {
        let mut out = BytesMut::new();
        put_error_event(ErrorKind::Overloaded, "Overloaded", &mut out);
        assert_eq!(
            &out[..],
            &b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"[..]
        );
    }
}
