//! The models a key may use, in the shape its client's dialect lists them: OpenAI's for
//! `GET /v1/models`, Anthropic's for the same path when the client speaks Anthropic
//! (`anthropic-version`), Gemini's for `GET /v1beta/models`.

use super::route::Matched;
use super::{respond, Failure, Shared};
use crate::auth::ApiKey;
use crate::dialect::errors::ErrorKind;
use crate::dialect::Dialect;
use crate::error::{clip, GatewayError};
use bytes::Bytes;
use pingora::proxy::Session;
use serde_json::{json, Value};

fn anthropic_model(id: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"})
}

fn gemini_model(id: &str) -> Value {
    json!({"name": format!("models/{id}"), "displayName": id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"]})
}

fn openai_model(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": "tollgate"})
}

fn anthropic_list(ids: &[&str]) -> Bytes {
    let data: Vec<Value> = ids.iter().map(|id| anthropic_model(id)).collect();
    Bytes::from(
        json!({"data": data, "has_more": false,
            "first_id": ids.first(), "last_id": ids.last()})
        .to_string(),
    )
}

fn openai_list(ids: &[&str]) -> Bytes {
    let data: Vec<Value> = ids.iter().map(|id| openai_model(id)).collect();
    Bytes::from(json!({"object": "list", "data": data}).to_string())
}

fn gemini_list(ids: &[&str]) -> Bytes {
    let models: Vec<Value> = ids.iter().map(|id| gemini_model(id)).collect();
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
        _ => openai_list(&ids),
    };
    respond::whole(session, 200, "application/json", &[], body)
        .await
        .map_err(|_| Failure::ClientGone)
}

/// Which shape a model is listed in for this request: Gemini's for its paths and for clients
/// that authenticate the Gemini way, Anthropic's for clients that send `anthropic-version`.
fn shape(session: &Session, matched: &Matched) -> Dialect {
    let req = session.req_header();
    let gemini_key = req.headers.contains_key("x-goog-api-key")
        || req
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("key=")));
    if matched.dialect == Dialect::Gemini || gemini_key {
        Dialect::Gemini
    } else if req.headers.contains_key("anthropic-version") {
        Dialect::AnthropicMessages
    } else {
        Dialect::OpenAiChat
    }
}

/// One model this key may use, by id; 404 in the client's dialect otherwise.
pub async fn get(
    shared: &Shared,
    session: &mut Session,
    key: &ApiKey,
    matched: &Matched,
) -> Result<(), Failure> {
    let id = matched.facts.model.as_deref().unwrap_or("");
    let id = id.strip_prefix("models/").unwrap_or(id);
    let known = shared.router.listed_models().any(|m| m == id) && key.allows(id);
    let dialect = shape(session, matched);
    if !known {
        return Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` does not exist or you do not have access to it.",
                clip(id)
            ),
        )
        .into());
    }
    let body = match dialect {
        Dialect::Gemini => gemini_model(id),
        Dialect::AnthropicMessages => anthropic_model(id),
        _ => openai_model(id),
    };
    respond::whole(
        session,
        200,
        "application/json",
        &[],
        Bytes::from(body.to_string()),
    )
    .await
    .map_err(|_| Failure::ClientGone)
}
