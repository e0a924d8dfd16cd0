//! Responses errors: reading a provider's, and the codes a client expects (reference:
//! dialects.md §2.B "Errors", §4).

use crate::dialect::errors::{openai_body, ErrorKind};
use serde_json::Value;

/// The human message inside a Responses provider's error: an HTTP error body
/// (`{"error":{"message":…}}`), a failed Response (`{"status":"failed","error":{…}}`), a
/// `response.failed` event (`{"response":{"error":{…}}}`) or an `error` event
/// (`{"type":"error","message":…}`).
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    // Some servers wrap the error in a one-element array.
    let v = match v {
        Value::Array(mut a) if a.len() == 1 => a.swap_remove(0),
        v => v,
    };
    let message = [
        &v["error"]["message"],
        &v["response"]["error"]["message"],
        &v["message"],
    ]
    .into_iter()
    .find_map(|m| m.as_str().filter(|s| !s.is_empty()))
    .map(str::to_string);
    message
}

/// The kind of failure a Responses error `code` names (`response.failed`, `error` events).
pub(crate) fn kind_from_code(code: Option<&str>) -> ErrorKind {
    match code {
        Some("rate_limit_exceeded" | "insufficient_quota") => ErrorKind::RateLimited,
        Some(
            "context_length_exceeded"
            | "invalid_prompt"
            | "invalid_request_error"
            | "invalid_image"
            | "invalid_image_format"
            | "invalid_base64_image"
            | "invalid_image_url"
            | "image_too_large"
            | "image_too_small"
            | "image_parse_error"
            | "image_content_policy_violation"
            | "invalid_image_mode"
            | "image_file_too_large"
            | "unsupported_image_media_type"
            | "empty_image_file"
            | "failed_to_download_image"
            | "image_file_not_found",
        ) => ErrorKind::BadRequest,
        Some("model_not_found") => ErrorKind::ModelNotFound,
        _ => ErrorKind::BadUpstream,
    }
}

/// The `code` a Responses client reads for `kind`: OpenAI's own code, or its error type when
/// it has none (Codex keys its retries on `rate_limit_exceeded`).
pub(crate) fn code_for(kind: ErrorKind) -> String {
    let body = openai_body(kind, "");
    let error = &body["error"];
    error["code"]
        .as_str()
        .or(error["type"].as_str())
        .unwrap_or("server_error")
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_found_in_every_shape() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (
                br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                Some("Incorrect API key provided"),
            ),
            (
                br#"{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"}}"#,
                Some("boom"),
            ),
            (
                br#"{"type":"response.failed","response":{"error":{"code":"x","message":"late"}}}"#,
                Some("late"),
            ),
            (
                br#"{"type":"error","code":"rate_limit_exceeded","message":"Please try again in 3s","param":null}"#,
                Some("Please try again in 3s"),
            ),
            (br#"[{"error":{"message":"wrapped"}}]"#, Some("wrapped")),
            (b"<html>502</html>", None),
        ];
        for (body, want) in cases {
            assert_eq!(error_message(body).as_deref(), want);
        }
    }

    #[test]
    fn codes_and_kinds() {
        assert_eq!(
            kind_from_code(Some("rate_limit_exceeded")),
            ErrorKind::RateLimited
        );
        assert_eq!(
            kind_from_code(Some("context_length_exceeded")),
            ErrorKind::BadRequest
        );
        assert_eq!(kind_from_code(None), ErrorKind::BadUpstream);
        assert_eq!(code_for(ErrorKind::RateLimited), "rate_limit_exceeded");
        assert_eq!(code_for(ErrorKind::Internal), "server_error");
        assert_eq!(code_for(ErrorKind::BadRequest), "invalid_request_error");
    }
}
