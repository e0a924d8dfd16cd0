//! `POST /v1/chat/completions`: body → model → access → plan → exchange → relay.

use super::ctx::RequestCtx;
use super::relay;
use super::{body, respond, Failure, Shared};
use crate::auth::ApiKey;
use crate::dialect::errors::ErrorKind;
use crate::dialect::openai::{self, ChatPassthrough};
use crate::dialect::Dialect;
use crate::error::{clip, GatewayError};
use crate::upstream::Reply;
use pingora::proxy::Session;

pub async fn handle(
    shared: &Shared,
    session: &mut Session,
    ctx: &mut RequestCtx,
    key: &ApiKey,
) -> Result<(), Failure> {
    let server = &shared.config.server;
    let rules = body::BodyRules {
        max_bytes: server.max_body_bytes,
        deadline: server.body_timeout,
        budget: &shared.budget,
    };
    let (body, held) = body::read(session, &rules).await?;
    // Held for the whole request: the body may be resent to another provider.
    ctx.held.push(held);
    let req =
        openai::probe_request(&body).map_err(|e| GatewayError::new(ErrorKind::BadRequest, e.0))?;
    ctx.model = Some(req.model.clone());
    ctx.stream = req.stream;

    if !key.allows(&req.model) {
        return Err(GatewayError::new(
            ErrorKind::Forbidden,
            format!(
                "This key is not allowed to use the model `{}`",
                clip(&req.model)
            ),
        )
        .into());
    }
    let candidates = shared.router.plan(&req.model, Dialect::OpenAiChat);
    if candidates.is_empty() {
        return Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` does not exist or you do not have access to it.",
                clip(&req.model)
            ),
        )
        .into());
    }
    // Admission (rate, concurrency, token and balance limits) belongs here, before any
    // provider is contacted; its permit is released with the context on every exit path.

    // A client that leaves while the provider thinks cancels the exchange, so the provider
    // stops generating (and billing) an answer nobody will read.
    let exchange = shared.upstream.send(
        &candidates,
        |p| openai::request_for(&body, &req, p.upstream_model(&req.model)),
        req.stream,
        &mut ctx.attempts,
    );
    let reply = tokio::select! {
        reply = exchange => reply?,
        () = relay::client_gone(session) => {
            ctx.failure = Some("client disconnected before the answer".into());
            return Err(Failure::ClientGone);
        }
    };

    match reply {
        Reply::Complete {
            provider,
            status,
            body,
            held,
        } => {
            ctx.held.push(held);
            ctx.provider = Some(provider.name.clone());
            let renamed = provider.upstream_model(&req.model) != req.model;
            let answer = openai::answer_for_client(body, renamed.then_some(req.model.as_str()))
                .ok_or_else(|| {
                    GatewayError::new(
                        ErrorKind::BadUpstream,
                        "The provider's answer is not a JSON object",
                    )
                })?;
            ctx.usage = answer.usage;
            respond::whole(session, status, "application/json", &[], answer.body)
                .await
                .map_err(|_| Failure::ClientGone)
        }
        Reply::Streaming(exchange) => {
            ctx.provider = Some(exchange.provider.name.clone());
            let renamed = exchange.provider.upstream_model(&req.model) != req.model;
            let mut translator = ChatPassthrough::new(
                renamed.then_some(req.model.as_str()),
                server.max_event_bytes,
            );
            relay::stream(
                session,
                ctx,
                *exchange,
                &mut translator,
                shared.upstream.connector(),
            )
            .await
            .map_err(|_| Failure::ClientGone)
        }
    }
}
