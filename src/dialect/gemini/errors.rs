//! Gemini error bodies, read back (reference: dialects.md §4.1, §4.2, §4.4, §5.12).

use crate::dialect::errors::ErrorKind;
use serde_json::Value;

/// The `error` object of a Gemini error body. Errors of stream calls may come wrapped in a
/// one-element array (gemini-cli #14811), which the genai SDK unwraps too.
fn error_object(v: &Value) -> Option<&Value> {
    let v = match v {
        Value::Array(items) => items.first()?,
        other => other,
    };
    v.get("error").filter(|e| e.is_object())
}

/// The human message inside a provider's error body.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    error_object(&v)?
        .get("message")?
        .as_str()
        .map(str::to_string)
}

/// How long the provider asks to wait before retrying, in whole seconds, from the body's
/// `RetryInfo.retryDelay` (`"47s"`, `"0.5s"`): Gemini sends no retry header (reference §4.4).
pub fn retry_after_secs(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let details = error_object(&v)?.get("details")?.as_array()?;
    details.iter().find_map(|d| {
        let delay = d.get("retryDelay")?.as_str()?.strip_suffix('s')?;
        let secs: f64 = delay.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| secs.ceil() as u64)
    })
}

/// The failure class of an error Gemini reported inside a stream, from its canonical status
/// (or, failing that, its HTTP code). The provider's own key and quota problems are the
/// gateway's to handle, so they are not the client's `InvalidKey`.
pub(crate) fn kind_of(error: &Value) -> ErrorKind {
    let status = error.get("status").and_then(Value::as_str);
    let code = error.get("code").and_then(Value::as_u64);
    match (status, code) {
        (Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE"), _)
        | (None, Some(400)) => ErrorKind::BadRequest,
        (Some("RESOURCE_EXHAUSTED"), _) | (None, Some(429)) => ErrorKind::RateLimited,
        (Some("UNAVAILABLE"), _) | (None, Some(503)) => ErrorKind::Overloaded,
        (Some("DEADLINE_EXCEEDED"), _) | (None, Some(504)) => ErrorKind::UpstreamTimeout,
        (Some("NOT_FOUND"), _) | (None, Some(404)) => ErrorKind::ModelNotFound,
        _ => ErrorKind::BadUpstream,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const QUOTA: &[u8] = br#"{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED",
        "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
                   {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"46.5s"}]}}"#;

    #[test]
    fn messages_are_read_from_objects_and_one_element_arrays() {
        assert_eq!(
            error_message(QUOTA).as_deref(),
            Some("You exceeded your current quota.")
        );
        assert_eq!(
            error_message(br#"[{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}]"#)
                .as_deref(),
            Some("API key not valid.")
        );
        assert_eq!(error_message(b"<html>502</html>"), None);
        assert_eq!(error_message(br#"{"error":"flat"}"#), None);
        assert_eq!(error_message(b"[]"), None);
    }

    #[test]
    fn retry_delays_round_up_to_seconds() {
        assert_eq!(retry_after_secs(QUOTA), Some(47));
        assert_eq!(retry_after_secs(br#"{"error":{"message":"x"}}"#), None);
    }

    #[test]
    fn in_stream_errors_are_classified() {
        let kind = |v: Value| kind_of(&v);
        assert_eq!(
            kind(json!({"status": "RESOURCE_EXHAUSTED"})),
            ErrorKind::RateLimited
        );
        assert_eq!(kind(json!({"code": 503})), ErrorKind::Overloaded);
        assert_eq!(
            kind(json!({"status": "INVALID_ARGUMENT", "code": 400})),
            ErrorKind::BadRequest
        );
        assert_eq!(
            kind(json!({"status": "UNAUTHENTICATED"})),
            ErrorKind::BadUpstream
        );
        assert_eq!(
            kind(json!({"code": 500, "status": "INTERNAL"})),
            ErrorKind::BadUpstream
        );
    }
}
