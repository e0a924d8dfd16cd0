//! The end of every request: what it used (estimated when the provider did not say), what
//! it costs, its limits settled and its key charged, its metrics, its ledger record and its
//! access log line.

use super::ctx::RequestCtx;
use super::route::Route;
use super::Shared;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::Stop;
use crate::error::{clip, Retry};
use crate::metering::ledger::{Entry, Record, Tokens};
use crate::metrics::Finished;
use pingora::proxy::Session;
use std::time::{Duration, Instant};

/// Why a request ended, as the ledger says it.
fn end_reason(ctx: &RequestCtx, status: u16) -> &'static str {
    match (&ctx.failure, ctx.error_kind) {
        (Some(f), _) if f.starts_with("client") => "client_disconnected",
        (_, Some(ErrorKind::QuotaExhausted)) => "insufficient_balance",
        // A provider failed it (its own 429 included): before the answer, or in the middle of
        // a stream.
        (Some(_), _) if ctx.provider.is_some() => "upstream_error",
        (_, Some(ErrorKind::RateLimited)) => "rate_limited",
        (None, _) if (200..300).contains(&status) => match ctx.stop {
            Some(Stop::MaxTokens) => "length",
            Some(Stop::ContentFilter) => "content_filter",
            _ => "completed",
        },
        _ => "error",
    }
}

fn between(a: Option<Instant>, b: Option<Instant>) -> Option<Duration> {
    Some(b?.saturating_duration_since(a?))
}

/// Usage for a request whose provider answered but reported none, or only part of it before
/// its stream was cut: estimated. A request cancelled before its provider's first byte is
/// estimated (its prompt alone) only when the config charges for those.
fn estimate_unreported(shared: &Shared, ctx: &mut RequestCtx, end: &'static str) {
    let cut = ctx.stream && !ctx.stream_complete;
    if let (Some(usage), Some(content), true) = (&mut ctx.usage, ctx.output_bytes, cut) {
        // A stream cut short reported its usage so far only (Anthropic's first event says one
        // output token): what was generated counts, if that was more.
        let generated = content.div_ceil(4);
        if generated > usage.output_total {
            usage.output_total = generated;
            ctx.estimated = true;
        }
        return;
    }
    if ctx.usage.is_some() {
        return;
    }
    let Some(body) = &ctx.body else { return };
    let answered = ctx.provider_dialect.is_some()
        && matches!(
            end,
            "completed" | "length" | "content_filter" | "client_disconnected" | "upstream_error"
        );
    let cancelled = ctx.provider_dialect.is_none()
        && end == "client_disconnected"
        && ctx.timing.upstream_start.is_some()
        && shared.config.metering.charge_cancelled;
    if answered || cancelled {
        let sent = match (answered, ctx.output_bytes) {
            (false, _) => 0,
            (true, Some(content)) => content,
            (true, None) => ctx.sent,
        };
        ctx.usage = Some(crate::metering::estimate(body, sent));
        ctx.estimated = true;
    }
}

pub(super) fn close(shared: &Shared, session: &Session, ctx: &mut RequestCtx) {
    let now = Instant::now();
    let status = session.response_written().map_or(0, |h| h.status.as_u16());
    let end = end_reason(ctx, status);
    if ctx.admission {
        estimate_unreported(shared, ctx, end);
    }
    ctx.settle();
    let cost = match (ctx.model.as_deref(), &ctx.usage) {
        (Some(model), Some(usage)) => shared.prices.cost(model, ctx.key_group.as_deref(), usage),
        _ => None,
    };
    for p in &mut ctx.permits {
        p.charge(cost.unwrap_or(0));
    }

    let t = ctx.timing;
    let total = now.saturating_duration_since(ctx.started);
    let first_token = between(Some(ctx.started), t.first_byte);
    let upstream = between(t.upstream_start, t.upstream_end);
    // What the gateway spent of the request's time: not reading the client's body (its
    // pace) and not waiting on the provider.
    let overhead = t.body_read.map(|read| {
        let after_body = now.saturating_duration_since(read);
        after_body.saturating_sub(upstream.unwrap_or_default())
    });
    let per_output_token = match (ctx.stream, ctx.usage, between(t.first_byte, t.upstream_end)) {
        (true, Some(u), Some(d)) if u.output_total > 1 && !ctx.estimated => {
            Some(d.as_secs_f64() / (u.output_total - 1) as f64)
        }
        _ => None,
    };
    let failed: Vec<(&str, u16)> = ctx
        .failed
        .iter()
        .map(|f| (f.provider.name.as_str(), f.status))
        .collect();
    shared.metrics.finished(&Finished {
        dialect: ctx.dialect.name(),
        route: ctx.route.map_or("-", Route::label),
        model: ctx.model.as_deref(),
        provider: ctx.provider.as_deref(),
        status,
        stream: ctx.stream,
        seconds: total.as_secs_f64(),
        attempts: ctx.attempts,
        usage: ctx.usage,
        cost_micro_usd: cost,
        first_token_seconds: first_token.map(|d| d.as_secs_f64()),
        per_output_token_seconds: per_output_token,
        overhead_seconds: overhead.map(|d| d.as_secs_f64()),
        failed: &failed,
    });
    if ctx.admission && (shared.ledger.is_some() || shared.limits.shared()) {
        let record = Record {
            ts: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            request_id: ctx.id.clone(),
            key: ctx.key_name.clone().unwrap_or_default(),
            group: ctx.key_group.clone(),
            dialect: ctx.dialect.name(),
            // The client's to choose, so bounded like everything it says that is written down.
            model: ctx.model.as_deref().map(|m| clip(m).into_owned()),
            provider: ctx.provider.clone(),
            provider_dialect: ctx.provider_dialect.map(|d| d.name()),
            upstream_model: ctx.upstream_model.as_deref().map(|m| clip(m).into_owned()),
            stream: ctx.stream,
            status,
            end,
            usage: ctx.usage.map(|u| Tokens {
                input: u.input_total,
                cache_read: u.input_cache_read,
                cache_write: u.input_cache_write,
                output: u.output_total,
                reasoning: u.output_reasoning,
            }),
            estimated: ctx.estimated,
            cost_micro_usd: cost,
            ms: total.as_millis() as u64,
            ttft_ms: first_token.map(|d| d.as_millis() as u64),
            upstream_ms: upstream.map(|d| d.as_millis() as u64),
            attempts: ctx.attempts,
        };
        shared.record(Entry::Request(Box::new(record)));
    }

    let Some(mut line) = crate::logging::AccessLine::start() else {
        return;
    };
    let usage = ctx.usage.unwrap_or_default();
    let req = session.req_header();
    line.plain("method", clip(req.method.as_str()))
        .text("path", &clip(req.uri.path()))
        .plain("status", status)
        .text("route", ctx.route.map_or("-", Route::label))
        .text("key", ctx.key_name.as_deref().unwrap_or("-"))
        .text("model", &clip(ctx.model.as_deref().unwrap_or("-")))
        .text("provider", ctx.provider.as_deref().unwrap_or("-"))
        .plain("stream", ctx.stream)
        .plain("attempts", ctx.attempts)
        .text("retry", ctx.retry.map_or("-", Retry::as_str))
        .plain("input_tokens", usage.input_total)
        .plain("output_tokens", usage.output_total)
        .plain("estimated", ctx.estimated)
        .plain("cost_micro_usd", cost.unwrap_or(0))
        .plain("ms", total.as_millis() as u64)
        .text("failure", &clip(ctx.failure.as_deref().unwrap_or("")));
    line.write();
}
