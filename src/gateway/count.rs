//! Counting a request's input tokens: Anthropic's `count_tokens` and Gemini's `countTokens`.
//!
//! A provider of the client's dialect counts exactly, so the request goes to one. Without one,
//! the gateway estimates with a real tokenizer and says so in `x-tollgate-token-estimate`.

use super::ctx::RequestCtx;
use super::generate::{bad_request, passthrough, plan, read_request};
use super::route::Matched;
use super::{respond, Failure, Shared};
use crate::auth::ApiKey;
use crate::dialect::codec::codec;
use crate::dialect::tokens;
use crate::limits::ProviderGate;
use crate::upstream::{Outgoing, Reply};
use pingora::proxy::Session;

pub async fn handle(
    shared: &Shared,
    session: &mut Session,
    ctx: &mut RequestCtx,
    key: &ApiKey,
    matched: &Matched,
) -> Result<(), Failure> {
    let client = codec(matched.dialect);
    let (body, probe) = read_request(shared, session, ctx, matched).await?;
    let candidates = plan(shared, key, &probe.model, matched.dialect)?;
    let same: Vec<_> = candidates
        .into_iter()
        .filter(|p| p.dialect == matched.dialect)
        .collect();

    if same.is_empty() {
        let ir = client
            .decode_request(&body, &matched.facts)
            .map_err(|e| bad_request(e.0))?;
        let answer = client.count_answer(tokens::estimate(&ir));
        let estimate = [("x-tollgate-token-estimate", tokens::TOKENIZER.to_string())];
        return respond::whole(session, 200, "application/json", &estimate, answer)
            .await
            .map_err(|_| Failure::ClientGone);
    }

    let outgoing = |p: &crate::config::Provider| {
        let model = p.upstream_model(&probe.model).to_string();
        Outgoing {
            path: codec(p.dialect).count_tokens_path(&model),
            body: passthrough(&body, &probe, &model),
            model,
            stream: false,
            headers: Vec::new(),
        }
    };
    let reply = shared
        .upstream
        .send(
            &same,
            outgoing,
            &mut ctx.attempts,
            &mut ctx.failed,
            &mut ProviderGate::open(),
        )
        .await?;
    match reply {
        Reply::Complete {
            provider,
            status,
            body,
            held,
        } => {
            ctx.held.push(held);
            ctx.provider = Some(provider.name.clone());
            respond::whole(session, status, "application/json", &[], body)
                .await
                .map_err(|_| Failure::ClientGone)
        }
        // Asked without a stream, a provider that streams anyway is not answering the count.
        Reply::Streaming(_) => Err(Failure::Gateway(crate::error::GatewayError::new(
            crate::dialect::errors::ErrorKind::BadUpstream,
            "The provider streamed a token count",
        ))),
    }
}
