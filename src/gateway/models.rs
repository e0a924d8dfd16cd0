//! `GET /v1/models`: the models a key may use, in OpenAI's list shape.

use super::{respond, Failure, Shared};
use crate::auth::ApiKey;
use crate::dialect::openai;
use pingora::proxy::Session;

/// `GET /v1/models`: the models this key may use.
pub async fn list(shared: &Shared, session: &mut Session, key: &ApiKey) -> Result<(), Failure> {
    let body = openai::models_list(shared.router.listed_models().filter(|m| key.allows(m)));
    respond::whole(session, 200, "application/json", &[], body)
        .await
        .map_err(|_| Failure::ClientGone)
}
