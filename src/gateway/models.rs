//! The models a key may use, in the shape its client's dialect lists them: OpenAI's for
//! `GET /v1/models`, Anthropic's for the same path when the client speaks Anthropic
//! (`anthropic-version`), Gemini's for `GET /v1beta/models`.

use super::route::Matched;
use super::{respond, Failure, Shared};
use crate::auth::ApiKey;
use crate::dialect::{openai, Dialect};
use bytes::Bytes;
use pingora::proxy::Session;
use serde_json::json;

fn anthropic_list(ids: &[&str]) -> Bytes {
    let data: Vec<_> = ids
        .iter()
        .map(|id| {
            json!({"type": "model", "id": id, "display_name": id,
            "created_at": "1970-01-01T00:00:00Z"})
        })
        .collect();
    Bytes::from(
        json!({"data": data, "has_more": false,
            "first_id": ids.first(), "last_id": ids.last()})
        .to_string(),
    )
}

fn gemini_list(ids: &[&str]) -> Bytes {
    let models: Vec<_> = ids
        .iter()
        .map(|id| {
            json!({"name": format!("models/{id}"), "displayName": id,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent"]})
        })
        .collect();
    Bytes::from(json!({"models": models}).to_string())
}

/// The models this key may use.
pub async fn list(
    shared: &Shared,
    session: &mut Session,
    key: &ApiKey,
    matched: &Matched,
) -> Result<(), Failure> {
    let ids: Vec<&str> = shared
        .router
        .listed_models()
        .filter(|m| key.allows(m))
        .collect();
    let anthropic_client = session
        .req_header()
        .headers
        .contains_key("anthropic-version");
    let body = match matched.dialect {
        Dialect::Gemini => gemini_list(&ids),
        _ if anthropic_client => anthropic_list(&ids),
        _ => openai::models_list(ids.iter().copied()),
    };
    respond::whole(session, 200, "application/json", &[], body)
        .await
        .map_err(|_| Failure::ClientGone)
}
