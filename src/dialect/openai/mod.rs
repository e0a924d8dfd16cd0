//! OpenAI Chat Completions (reference: dialects.md §1.A, §2.A, §4).

mod answer;
mod decoder;
mod encoder;
mod passthrough;
mod request;

pub use answer::{decode_answer, encode_answer, finish_reason, stop_from, usage_json};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use passthrough::{asking_for_usage, asks_for_usage, ChatPassthrough};
pub use request::{decode_request, encode_request};

use super::json::{splice, string_literal, top_level_spans, unique_top_level_spans, SpanError};
use super::usage::Usage;
pub use super::InvalidRequest;
use bytes::Bytes;
use std::ops::Range;

/// The routing facts of a Chat Completions request, read without re-encoding the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    /// Where the `model` value sits in the body, for a byte-exact rename.
    pub model_span: Range<usize>,
}

/// Reads `model` and `stream` from a Chat Completions body.
pub fn probe_request(body: &[u8]) -> Result<ChatRequest, InvalidRequest> {
    let [model, stream] =
        unique_top_level_spans(body, ["model", "stream"]).map_err(|e| match e {
            SpanError::Invalid => InvalidRequest(
                "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but \
             what was sent was not valid JSON.)",
            ),
            SpanError::Duplicate(0) => {
                InvalidRequest("The request body has more than one `model` member")
            }
            SpanError::Duplicate(_) => {
                InvalidRequest("The request body has more than one `stream` member")
            }
        })?;
    let model_span = model.ok_or(InvalidRequest("you must provide a model parameter"))?;
    let model: String = serde_json::from_slice(&body[model_span.clone()])
        .map_err(|_| InvalidRequest("'model' must be a string"))?;
    if model.is_empty() {
        return Err(InvalidRequest("you must provide a model parameter"));
    }
    let stream = match stream {
        None => false,
        Some(span) => serde_json::from_slice::<Option<bool>>(&body[span])
            .map_err(|_| InvalidRequest("'stream' must be a boolean"))?
            .unwrap_or(false),
    };
    Ok(ChatRequest {
        model,
        stream,
        model_span,
    })
}

/// The request body to send a provider that knows the model as `upstream_model`.
///
/// The body is shared, not copied, when the name is unchanged.
pub fn request_for(body: &Bytes, req: &ChatRequest, upstream_model: &str) -> Bytes {
    if upstream_model == req.model {
        body.clone()
    } else {
        splice(
            body,
            req.model_span.clone(),
            string_literal(upstream_model).as_bytes(),
        )
    }
}

/// A non-streaming answer, ready for the client, and the usage it reported.
#[derive(Debug)]
pub struct ChatAnswer {
    pub body: Bytes,
    pub usage: Option<Usage>,
    /// The answer ran out of tokens.
    pub length: bool,
}

/// Reads a provider's non-streaming answer; when the provider knew the model by another name,
/// the client's name is put back. `None` when the body is not a JSON object.
pub fn answer_for_client(body: Bytes, client_model: Option<&str>) -> Option<ChatAnswer> {
    let [model, usage] = top_level_spans(&body, ["model", "usage"])?;
    let usage = usage.and_then(|s| Usage::from_openai_json(&body[s]));
    let body = match (client_model, model) {
        (Some(name), Some(span)) => {
            let literal = string_literal(name);
            // Most answers already carry the client's name: no copy of the body for them.
            if body[span.clone()] == *literal.as_bytes() {
                body
            } else {
                splice(&body, span, literal.as_bytes())
            }
        }
        _ => body,
    };
    let length = passthrough::finished_for_length(&body);
    Some(ChatAnswer {
        body,
        usage,
        length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_reads_model_and_stream() {
        let body = br#"{"messages":[{"role":"user","content":"\"model\":\"x\""}],"model":"gpt-4o","stream":true}"#;
        let req = probe_request(body).unwrap();
        assert_eq!(req.model, "gpt-4o");
        assert!(req.stream);
        assert_eq!(&body[req.model_span.clone()], br#""gpt-4o""#);
        assert!(
            !probe_request(br#"{"model":"m","stream":null}"#)
                .unwrap()
                .stream
        );
    }

    #[test]
    fn probe_rejects_what_openai_rejects() {
        assert_eq!(
            probe_request(b"{\"messages\":[]}").unwrap_err().0,
            "you must provide a model parameter"
        );
        assert!(probe_request(b"not json")
            .unwrap_err()
            .0
            .starts_with("We could not parse"));
        assert_eq!(
            probe_request(br#"{"model":5}"#).unwrap_err().0,
            "'model' must be a string"
        );
        assert_eq!(
            probe_request(br#"{"model":"m","stream":"yes"}"#)
                .unwrap_err()
                .0,
            "'stream' must be a boolean"
        );
    }

    #[test]
    fn rename_keeps_every_other_byte() {
        let body = Bytes::from_static(br#"{ "model" : "gpt-4o",  "messages": [] }"#);
        let req = probe_request(&body).unwrap();
        assert_eq!(
            request_for(&body, &req, "gpt-4o").as_ptr(),
            body.as_ptr(),
            "no copy when unchanged"
        );
        assert_eq!(
            &request_for(&body, &req, "gpt-4o-2024-08-06")[..],
            br#"{ "model" : "gpt-4o-2024-08-06",  "messages": [] }"#
        );
    }

    #[test]
    fn answers_get_the_client_model_back_and_report_usage() {
        let body = Bytes::from_static(
            br#"{"id":"c","model":"gpt-4o-2024-08-06","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
        );
        let a = answer_for_client(body, Some("gpt-4o")).unwrap();
        assert_eq!(
            &a.body[..],
            br#"{"id":"c","model":"gpt-4o","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#
        );
        assert_eq!(a.usage.unwrap().output_total, 5);
        assert!(answer_for_client(Bytes::from_static(b"<html>"), None).is_none());
    }
}
