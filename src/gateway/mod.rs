//! The request lifecycle, as a Pingora `ProxyHttp` implementation.
//!
//! AI endpoints own their upstream exchange: the model is in the body, and Pingora's proxy
//! pipeline picks its peer before the body is read and can replay at most 64 KiB of it on retry.
//! So `request_filter` runs the whole lifecycle — route, authenticate, read the body, check
//! access, plan, exchange, relay — and answers `Ok(true)`; `logging` closes every request.

mod body;
mod count;
mod ctx;
mod generate;
mod models;
mod relay;
mod respond;
mod route;

pub use ctx::RequestCtx;
pub use route::dialect_of_path;

use crate::auth::{self, KeyStore};
use crate::budget::MemoryBudget;
use crate::config::Config;
use crate::dialect::errors::ErrorKind;
use crate::error::{clip, GatewayError, Retry};
use crate::inflight::Inflight;
use crate::limits::{AuthGuard, Limiter};
use crate::metering::ledger::{Ledger, Record, Tokens};
use crate::metering::PriceBook;
use crate::metrics::{Finished, Metrics};
use crate::redact::Redactor;
use crate::routing::Router;
use crate::upstream::{BodyRules, MediaFetcher, Upstream};
use async_trait::async_trait;
use pingora::proxy::{ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use route::Route;
use std::sync::Arc;

/// Everything a request needs, derived once per config version.
pub struct Shared {
    pub config: Arc<Config>,
    pub keys: KeyStore,
    pub router: Router,
    pub upstream: Upstream,
    /// Fetches the images and files some providers cannot fetch themselves.
    pub media: Arc<MediaFetcher>,
    /// Admission: rates, leases and token reservations per key, group and provider.
    pub limits: Limiter,
    /// Failed authentications per client address.
    pub auth_guard: AuthGuard,
    pub metrics: Metrics,
    pub prices: PriceBook,
    /// The usage ledger, when `state.usage_log` names one.
    pub ledger: Option<Ledger>,
    /// Request and answer bodies held in memory, across all requests.
    pub budget: MemoryBudget,
}

impl Shared {
    pub fn new(
        config: Arc<Config>,
        redactor: Arc<Redactor>,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let budget = MemoryBudget::new(config.server.max_buffered_bytes);
        let rules = BodyRules {
            redactor,
            max_line: config.server.max_event_bytes,
        };
        Ok(Shared {
            keys: KeyStore::from_config(&config)?,
            router: Router::new(&config.providers)?,
            upstream: Upstream::new(
                config.routing.max_attempts,
                config.server.max_answer_bytes,
                rules,
                budget.clone(),
            ),
            media: Arc::new(MediaFetcher::new(config.media.clone(), budget.clone())),
            limits: Limiter::new(&config),
            auth_guard: AuthGuard::new(config.admission.auth_failures_per_minute),
            metrics: Metrics::new(&config)?,
            prices: PriceBook::new(&config),
            ledger: match &config.state.usage_log {
                Some(path) => Some(
                    Ledger::open(std::path::Path::new(path), config.metering.ledger_fsync)
                        .map_err(|e| format!("cannot open state.usage_log `{path}`: {e}"))?,
                ),
                None => None,
            },
            budget,
            config,
        })
    }
}

/// How a request ended badly.
pub enum Failure {
    /// Before anything was written: rendered to the client in its dialect.
    Gateway(GatewayError),
    /// The client is gone; nothing more can be written.
    ClientGone,
}

impl From<GatewayError> for Failure {
    fn from(e: GatewayError) -> Self {
        Failure::Gateway(e)
    }
}

pub struct Gateway {
    shared: Arc<Shared>,
    inflight: Inflight,
}

impl Gateway {
    pub fn new(shared: Arc<Shared>, inflight: Inflight) -> Self {
        Gateway { shared, inflight }
    }

    async fn handle(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Failure> {
        let req = session.req_header();
        ctx.dialect = route::dialect_of_path(req.uri.path());
        let matched = route::resolve(&req.method, req.uri.path(), req.uri.query())?;
        ctx.route = Some(matched.route);
        ctx.dialect = matched.dialect;
        match matched.route {
            Route::Root => return respond::root(session).await,
            Route::ResponsesSocket => return respond::upgrade_required(session).await,
            _ => {}
        }

        // An address that keeps failing to authenticate is not heard any more for a while.
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let guard = &self.shared.auth_guard;
        if client_ip.is_some_and(|ip| guard.blocked(ip)) {
            return Err(GatewayError::new(
                ErrorKind::RateLimited,
                "Too many failed authentications from this address; try again later.",
            )
            .with_header("retry-after", "60")
            .into());
        }
        let failed = |e: GatewayError| {
            if let Some(ip) = client_ip {
                guard.failed(ip);
            }
            e
        };
        let credential = auth::credential(&req.headers, req.uri.query())
            .map_err(|auth::Ambiguous| {
                GatewayError::new(
                    ErrorKind::BadRequest,
                    "The request carries two different API keys; send exactly one.",
                )
            })?
            .ok_or_else(|| {
                failed(GatewayError::new(
                    ErrorKind::InvalidKey,
                    "You didn't provide an API key. Provide it as `Authorization: Bearer <key>`, \
                 `x-api-key`, `x-goog-api-key` or the `key` query parameter.",
                ))
            })?;
        let key = self.shared.keys.find(credential.secret).ok_or_else(|| {
            failed(GatewayError::new(
                ErrorKind::InvalidKey,
                "Incorrect API key provided.",
            ))
        })?;
        ctx.key_name = Some(key.name.clone());
        ctx.key_group.clone_from(&key.group);

        match matched.route {
            Route::Generate => generate::handle(&self.shared, session, ctx, &key, &matched).await,
            Route::ListModels => models::list(&self.shared, session, &key, &matched).await,
            Route::GetModel => models::get(&self.shared, session, &key, &matched).await,
            Route::CountTokens => count::handle(&self.shared, session, ctx, &key, &matched).await,
            Route::Root | Route::ResponsesSocket => Ok(()),
        }
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.inflight.enter())
    }

    /// Runs the whole lifecycle of every request and always answers it itself.
    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        match self.handle(session, ctx).await {
            Ok(()) => {}
            Err(Failure::Gateway(e)) => {
                ctx.failure = Some(e.message.clone());
                ctx.retry = Some(e.retry);
                if e.provider.is_some() {
                    ctx.provider.clone_from(&e.provider);
                }
                if respond::error(session, ctx.dialect, &e).await.is_err() {
                    session.set_keepalive(None);
                } else if matches!(e.kind, ErrorKind::PayloadTooLarge | ErrorKind::Overloaded) {
                    respond::linger(session).await;
                }
            }
            Err(Failure::ClientGone) => {
                ctx.failure
                    .get_or_insert_with(|| "client disconnected".into());
                session.set_keepalive(None);
            }
        }
        Ok(true)
    }

    /// What Pingora's own error log says about a request: the path without its query, which
    /// may carry a `key=`.
    fn request_summary(&self, session: &Session, _ctx: &RequestCtx) -> String {
        let req = session.req_header();
        format!("{} {}", clip(req.method.as_str()), clip(req.uri.path()))
    }

    /// Never reached: `request_filter` answers every request.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        Err(Error::explain(ErrorType::InternalError, "no proxy route"))
    }

    /// Runs last on every exit path: the access log line. Limits settle and usage is recorded
    /// here too once they exist, so that nothing held for a request outlives it.
    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        crate::listener::request_done();
        ctx.settle();
        let status = session.response_written().map_or(0, |h| h.status.as_u16());
        let cost = match (ctx.model.as_deref(), &ctx.usage) {
            (Some(model), Some(usage)) => {
                self.shared
                    .prices
                    .cost(model, ctx.key_group.as_deref(), usage)
            }
            _ => None,
        };
        self.shared.metrics.finished(&Finished {
            dialect: ctx.dialect.name(),
            route: ctx.route.map_or("-", Route::label),
            model: ctx.model.as_deref(),
            provider: ctx.provider.as_deref(),
            status,
            seconds: ctx.started.elapsed().as_secs_f64(),
            attempts: ctx.attempts,
            usage: ctx.usage,
            cost_micro_usd: cost,
        });
        if let (Some(ledger), true) = (&self.shared.ledger, ctx.admission) {
            ledger.append(record(ctx, status, cost));
        }
        let usage = ctx.usage.unwrap_or_default();
        let req = session.req_header();
        tracing::info!(
            target: "tollgate::access",
            method = %clip(req.method.as_str()),
            path = &*clip(req.uri.path()),
            status,
            route = ctx.route.map_or("-", Route::label),
            key = ctx.key_name.as_deref().unwrap_or("-"),
            model = &*clip(ctx.model.as_deref().unwrap_or("-")),
            provider = ctx.provider.as_deref().unwrap_or("-"),
            stream = ctx.stream,
            attempts = ctx.attempts,
            retry = ctx.retry.map_or("-", Retry::as_str),
            input_tokens = usage.input_total,
            output_tokens = usage.output_total,
            cost_micro_usd = cost.unwrap_or(0),
            ms = ctx.started.elapsed().as_millis() as u64,
            failure = &*clip(ctx.failure.as_deref().unwrap_or("")),
        );
    }
}

/// Why a request ended, as the ledger says it.
fn end_reason(ctx: &RequestCtx, status: u16) -> &'static str {
    match (&ctx.failure, status) {
        (Some(f), _) if f.starts_with("client") => "client_disconnected",
        (_, 429) => "rate_limited",
        (None, 200..=299) => "completed",
        _ => "error",
    }
}

/// The ledger's record of a request.
fn record(ctx: &RequestCtx, status: u16, cost: Option<i64>) -> Record {
    Record {
        ts: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        request_id: ctx.id.clone(),
        key: ctx.key_name.clone().unwrap_or_default(),
        group: ctx.key_group.clone(),
        dialect: ctx.dialect.name(),
        // The client's to choose, so bounded like everything it says that is written down.
        model: ctx.model.as_deref().map(|m| clip(m).into_owned()),
        provider: ctx.provider.clone(),
        stream: ctx.stream,
        status,
        end: end_reason(ctx, status),
        usage: ctx.usage.map(|u| Tokens {
            input: u.input_total,
            cache_read: u.input_cache_read,
            cache_write: u.input_cache_write,
            output: u.output_total,
            reasoning: u.output_reasoning,
        }),
        cost_micro_usd: cost,
        ms: ctx.started.elapsed().as_millis() as u64,
        attempts: ctx.attempts,
    }
}
