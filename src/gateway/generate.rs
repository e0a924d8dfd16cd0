//! A model answers, in any client dialect from any provider dialect: body → model → access →
//! plan → exchange → relay.
//!
//! When the provider speaks the client's dialect, the request body goes up as it came, but for
//! the model name (byte for byte: it keeps the provider's prompt cache warm). Otherwise the
//! client's codec reads it into the internal representation and the provider's codec writes it.

use super::ctx::RequestCtx;
use super::route::Matched;
use super::{body, relay, respond, Failure, Shared};
use crate::auth::ApiKey;
use crate::config::Provider;
use crate::dialect::codec::{codec, Codec};
use crate::dialect::convert::Converter;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{Request, Stop};
use crate::dialect::json::{splice, string_literal, top_level_span};
use crate::dialect::names::LongNames;
use crate::dialect::openai::{self, ChatPassthrough};
use crate::dialect::passthrough::Passthrough;
use crate::dialect::stream::StreamTranslator;
use crate::dialect::Dialect;
use crate::error::{clip, GatewayError};
use crate::limits::{estimate, rate_limit_headers, Charge, Limiter, Permit, ProviderGate, Refusal};
use crate::upstream::{Outgoing, Prepared, Reply};
use bytes::Bytes;
use pingora::proxy::Session;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

/// What routing needs of a request, read without decoding all of it.
pub(super) struct Probe {
    pub model: String,
    pub stream: bool,
    /// Where the model sits in the body, for a byte-exact rename (not in Gemini's: its model
    /// is in the path).
    model_span: Option<Range<usize>>,
}

fn probe(matched: &Matched, body: &[u8]) -> Result<Probe, GatewayError> {
    if let Some(model) = &matched.facts.model {
        return Ok(Probe {
            model: model.strip_prefix("models/").unwrap_or(model).to_string(),
            stream: matched.facts.stream,
            model_span: None,
        });
    }
    let p = openai::probe_request(body).map_err(|e| bad_request(e.0))?;
    Ok(Probe {
        model: p.model,
        stream: p.stream,
        model_span: Some(p.model_span),
    })
}

pub(super) fn bad_request(message: &str) -> GatewayError {
    GatewayError::new(ErrorKind::BadRequest, message)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The body for a provider of the client's own dialect: the client's, with the model renamed.
pub(super) fn passthrough(body: &Bytes, probe: &Probe, upstream_model: &str) -> Bytes {
    match &probe.model_span {
        Some(span) if upstream_model != probe.model => splice(
            body,
            span.clone(),
            string_literal(upstream_model).as_bytes(),
        ),
        _ => body.clone(),
    }
}

/// The providers to try for `model`, once the key may use it.
pub(super) fn plan(
    shared: &Shared,
    key: &ApiKey,
    model: &str,
    client: Dialect,
) -> Result<Vec<std::sync::Arc<Provider>>, GatewayError> {
    if !key.allows(model) {
        return Err(GatewayError::new(
            ErrorKind::Forbidden,
            format!("This key is not allowed to use the model `{}`", clip(model)),
        ));
    }
    let candidates = shared.router.plan(model, client);
    if candidates.is_empty() {
        return Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` does not exist or you do not have access to it.",
                clip(model)
            ),
        ));
    }
    Ok(candidates)
}

/// Reads the request body, and what routing needs of it, into the context.
pub(super) async fn read_request(
    shared: &Shared,
    session: &mut Session,
    ctx: &mut RequestCtx,
    matched: &Matched,
) -> Result<(Bytes, Probe), GatewayError> {
    let server = &shared.config.server;
    let rules = body::BodyRules {
        max_bytes: server.max_body_bytes,
        deadline: server.body_timeout,
        budget: &shared.budget,
    };
    let (body, held) = body::read(session, &rules).await?;
    ctx.timing.body_read = Some(std::time::Instant::now());
    // Held for the whole request: the body may be resent to another provider.
    ctx.held.push(held);
    ctx.body = Some(body.clone());
    let probe = probe(matched, &body)?;
    ctx.model = Some(probe.model.clone());
    ctx.stream = probe.stream;
    Ok((body, probe))
}

pub async fn handle(
    shared: &Shared,
    session: &mut Session,
    ctx: &mut RequestCtx,
    key: &ApiKey,
    matched: &Matched,
) -> Result<(), Failure> {
    let client = codec(matched.dialect);
    let server = &shared.config.server;
    let (body, probe) = read_request(shared, session, ctx, matched).await?;

    let candidates = plan(shared, key, &probe.model, matched.dialect)?;
    // The whole request is decoded only when a provider of another dialect may need it (a
    // 100 KB Claude Code request costs about 250 µs). A request only the client's own dialect
    // can express (a Responses `previous_response_id`) still goes to providers of that dialect.
    let converts = candidates.iter().any(|p| p.dialect != matched.dialect);
    let (ir, candidates) = if converts {
        match client.decode_request(&body, &matched.facts) {
            Ok(ir) => (ir, candidates),
            Err(e) => {
                let same: Vec<_> = candidates
                    .into_iter()
                    .filter(|p| p.dialect == matched.dialect)
                    .collect();
                if same.is_empty() {
                    return Err(bad_request(e.0).into());
                }
                (Request::default(), same)
            }
        }
    } else {
        (Request::default(), candidates)
    };
    let tokens = admit(shared, ctx, key, client, &body, &candidates).await?;

    // Images and files by URL, for providers that take only bytes.
    let prepared = if converts {
        tokio::select! {
            prepared = shared.media.prepare(&ir, candidates) => prepared?,
            () = relay::client_gone(session) => {
                ctx.failure = Some("client disconnected before the answer".into());
                return Err(Failure::ClientGone);
            }
        }
    } else {
        Prepared {
            inlined: None,
            candidates,
            held: Vec::new(),
        }
    };
    ctx.held.extend(prepared.held);
    let candidates = prepared.candidates;
    let inlined = prepared.inlined;

    // What a client says to providers of its own dialect only (Anthropic's beta flags).
    let headers = &session.req_header().headers;
    let passed_on: Vec<(&'static str, String)> = client
        .passed_on_headers()
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some((*name, value.to_string()))
        })
        .collect();
    // A Chat provider is always asked for usage in its stream, which metering needs; what the
    // client did not ask for it does not see.
    let chat_stream = matched.dialect == Dialect::OpenAiChat && probe.stream;
    let usage_asked = chat_stream && openai::asks_for_usage(&body);
    let outgoing = |p: &Provider| {
        let model = p.upstream_model(&probe.model).to_string();
        let same = p.dialect == matched.dialect;
        let body = if same && chat_stream {
            openai::asking_for_usage(&passthrough(&body, &probe, &model))
        } else if same {
            passthrough(&body, &probe, &model)
        } else {
            let ir = match &inlined {
                Some(i) if i.serves(p.dialect) => &i.request,
                _ => &ir,
            };
            codec(p.dialect).encode_request(ir, &model, p.quirks)
        };
        Outgoing {
            model,
            body,
            stream: probe.stream,
            headers: if same { passed_on.clone() } else { Vec::new() },
            path: None,
        }
    };
    // A client that leaves while the provider thinks cancels the exchange, so the provider
    // stops generating (and billing) an answer nobody will read.
    let mut gate = ProviderGate::new(&shared.limits, tokens);
    ctx.timing.upstream_start = Some(std::time::Instant::now());
    let exchange = shared.upstream.send(
        &candidates,
        outgoing,
        &mut ctx.attempts,
        &mut ctx.failed,
        &mut gate,
    );
    let reply = tokio::select! {
        reply = exchange => reply,
        () = relay::client_gone(session) => {
            ctx.failure = Some("client disconnected before the answer".into());
            return Err(Failure::ClientGone);
        }
    };
    ctx.permits.extend(gate.held.take());
    gate.full
        .iter()
        .for_each(|r| shared.metrics.rate_limited(r));
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            // Turned away by every provider's own limit: the client's request does not count.
            if !gate.full.is_empty() && ctx.attempts == 0 {
                ctx.permits.iter_mut().for_each(Permit::refund);
            }
            return Err(e.into());
        }
    };
    let limit_headers =
        rate_limit_headers(client.rate_limit_headers(), &ctx.quota, SystemTime::now());

    let created = unix_now();
    match reply {
        Reply::Complete {
            provider,
            status,
            body,
            held,
        } => {
            ctx.timing.upstream_end = Some(std::time::Instant::now());
            ctx.held.push(held);
            answered_by(ctx, &provider, &probe);
            let (body, usage, stop) = answer(client, &provider, &probe, &ir, body, created)?;
            ctx.usage = usage;
            ctx.stop = stop;
            ctx.sent = body.len() as u64;
            respond::whole(session, status, "application/json", &limit_headers, body)
                .await
                .map_err(|_| Failure::ClientGone)?;
            ctx.timing.first_byte = Some(std::time::Instant::now());
            Ok(())
        }
        Reply::Streaming(exchange) => {
            answered_by(ctx, &exchange.provider, &probe);
            let provider = exchange.provider.clone();
            let content_type = client.stream_content_type(&matched.facts);
            let mut translator = translator(
                client,
                &provider,
                matched,
                &probe,
                &ir,
                created,
                server.max_event_bytes,
                usage_asked,
            );
            relay::stream(
                session,
                ctx,
                *exchange,
                translator.as_mut(),
                content_type,
                &limit_headers,
                shared,
            )
            .await
            .map_err(|_| Failure::ClientGone)
        }
    }
}

/// Admission, before any provider is contacted: the key's and its group's limits, and the
/// most the request can cost against its key's balance, all at once. The permit lives in the
/// context, so it is released on every exit path. Returns the tokens reserved, which each
/// provider's own limits reserve too.
async fn admit(
    shared: &Shared,
    ctx: &mut RequestCtx,
    key: &ApiKey,
    client: &dyn Codec,
    body: &Bytes,
    candidates: &[std::sync::Arc<Provider>],
) -> Result<u64, GatewayError> {
    ctx.admission = true;
    let limits = &shared.limits;
    let scopes = limits.client_scopes(&key.name);
    let counted =
        Limiter::counts_tokens(&scopes) || candidates.iter().any(|p| p.limits.tpm.is_some());
    // The body is scanned for its size in tokens only when something counts them.
    let charged = key.budget_micro_usd.is_some();
    let (prompt, max_output) = if counted || charged {
        (
            estimate::prompt_tokens(body),
            client.max_output_tokens(body),
        )
    } else {
        (0, None)
    };
    let tokens = if counted {
        estimate::reservation(prompt, max_output, limits.output_reserve)
    } else {
        0
    };
    let charge = match key.budget_micro_usd {
        Some(budget) => {
            let model = ctx.model.as_deref().unwrap_or_default();
            // The balance must cover the whole answer the client allows, not the rate limits'
            // cap. A model without a price would cost a budgeted key nothing, forever.
            let reserve = shared
                .prices
                .worst_case(
                    model,
                    key.group.as_deref(),
                    prompt,
                    max_output.unwrap_or(limits.output_reserve),
                )
                .ok_or_else(|| {
                    GatewayError::new(
                        ErrorKind::Forbidden,
                        format!(
                            "The model `{}` has no price, and this key's use is limited by its budget.",
                            clip(model)
                        ),
                    )
                })?;
            Some(Charge {
                account: Charge::account_of(&key.name),
                budget,
                reserve,
            })
        }
        None => None,
    };
    let admitted = limits.admit(&scopes, tokens, charge.as_ref()).await;
    let (permit, quota) = admitted.map_err(|refusal| {
        let quota = match &refusal {
            Refusal::Limit(r) => {
                shared.metrics.rate_limited(r);
                r.quota()
            }
            Refusal::Balance(_) => {
                shared.metrics.out_of_balance();
                Default::default()
            }
            Refusal::Unavailable => Default::default(),
        };
        let headers = rate_limit_headers(client.rate_limit_headers(), &quota, SystemTime::now());
        headers
            .into_iter()
            .fold(refusal.into_error(), |e, (name, value)| {
                e.with_header(name, value)
            })
    })?;
    ctx.permits.push(permit);
    ctx.quota = quota;
    Ok(tokens)
}

/// What turns the provider's stream into the client's: a relay of the provider's own bytes
/// when both speak one dialect and framing, a conversion otherwise.
#[allow(clippy::too_many_arguments)]
fn translator(
    client: &dyn Codec,
    provider: &Provider,
    matched: &Matched,
    probe: &Probe,
    ir: &Request,
    created: u64,
    max_event: usize,
    usage_asked: bool,
) -> Box<dyn StreamTranslator> {
    let upstream_model = provider.upstream_model(&probe.model);
    let renamed = upstream_model != probe.model;
    let watch = || {
        Converter::new(
            codec(provider.dialect).decoder(max_event),
            client.encoder(&probe.model, created, ir, &matched.facts),
        )
        .with_long_names(LongNames::of(ir))
    };
    // A Gemini client without `alt=sse` gets a JSON array made from the SSE asked of the
    // provider.
    let sse = client.stream_content_type(&matched.facts) == "text/event-stream";
    if provider.dialect != matched.dialect || !sse {
        Box::new(watch())
    } else if matched.dialect == Dialect::OpenAiChat {
        let relay = ChatPassthrough::new(renamed.then_some(probe.model.as_str()), max_event);
        Box::new(if usage_asked {
            relay
        } else {
            relay.hiding_usage()
        })
    } else {
        Box::new(Passthrough::new(
            watch(),
            renamed.then_some((upstream_model, probe.model.as_str())),
            max_event,
        ))
    }
}

/// Which provider answered, under which model name, for the ledger.
fn answered_by(ctx: &mut RequestCtx, provider: &Provider, probe: &Probe) {
    ctx.provider = Some(provider.name.clone());
    ctx.provider_dialect = Some(provider.dialect);
    ctx.upstream_model = Some(provider.upstream_model(&probe.model).to_string());
}

/// A provider's whole answer, for the client, the usage it reported, and why it stopped.
fn answer(
    client: &dyn Codec,
    provider: &Provider,
    probe: &Probe,
    ir: &Request,
    body: Bytes,
    created: u64,
) -> Result<(Bytes, Option<crate::dialect::usage::Usage>, Option<Stop>), GatewayError> {
    let broken = || {
        GatewayError::new(
            ErrorKind::BadUpstream,
            "The provider's answer could not be read",
        )
    };
    let renamed = provider.upstream_model(&probe.model) != probe.model;
    if provider.dialect == client.dialect() && client.dialect() == Dialect::OpenAiChat {
        let a = openai::answer_for_client(body, renamed.then_some(probe.model.as_str()))
            .ok_or_else(broken)?;
        return Ok((a.body, a.usage, a.length.then_some(Stop::MaxTokens)));
    }
    let mut decoded = codec(provider.dialect)
        .decode_answer(&body)
        .ok_or_else(broken)?;
    LongNames::of(ir).restore_answer(&mut decoded);
    let (usage, stop) = (decoded.usage, Some(decoded.stop.clone()));
    if provider.dialect == client.dialect() {
        // The provider's own bytes, with the client's model name put back where there is one.
        let body = match top_level_span(&body, "model") {
            Some(span) if renamed => splice(&body, span, string_literal(&probe.model).as_bytes()),
            _ => body,
        };
        return Ok((body, usage, stop));
    }
    Ok((
        client.encode_answer(&decoded, &probe.model, created, ir),
        usage,
        stop,
    ))
}
