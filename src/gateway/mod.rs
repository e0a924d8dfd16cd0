//! The request lifecycle, as a Pingora `ProxyHttp` implementation.
//!
//! AI endpoints own their upstream exchange: the model is in the body, and Pingora's proxy
//! pipeline picks its peer before the body is read and can replay at most 64 KiB of it on retry.
//! So `request_filter` runs the whole lifecycle — route, authenticate, read the body, check
//! access, plan, exchange, relay — and answers `Ok(true)`; `logging` closes every request.

mod body;
mod close;
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
use crate::error::{clip, GatewayError};
use crate::inflight::Inflight;
use crate::limits::{AuthGuard, Limiter};
use crate::metering::ledger::{Entry, Ledger};
use crate::metering::PriceBook;
use crate::metrics::Metrics;
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
        let limits = Limiter::new(&config);
        // Balances kept in process start where the ledger left them.
        if let Some(path) = &config.state.usage_log {
            let (totals, skipped) = crate::metering::ledger::replay(std::path::Path::new(path))
                .map_err(|e| format!("cannot read state.usage_log `{path}`: {e}"))?;
            if skipped > 0 {
                tracing::warn!(
                    skipped,
                    "usage ledger lines that could not be read were skipped"
                );
            }
            limits.restore(
                &totals
                    .into_iter()
                    .map(|(k, t)| (k, (t.spent, t.credit)))
                    .collect(),
            );
        } else if config.keys.iter().any(|k| k.budget_micro_usd.is_some())
            && config.state.backend == crate::config::StateBackend::Local
        {
            tracing::warn!(
                "keys have budget_usd but state.usage_log is not set: balances start over at every restart"
            );
        }
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
            limits,
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

    /// Writes a ledger line: to the file, and to Redis's stream when limits are shared.
    pub fn record(&self, entry: Entry) {
        if self.limits.shared() {
            match serde_json::to_string(&entry) {
                Ok(line) => self
                    .limits
                    .publish(line, self.config.state.redis_stream_max),
                Err(e) => tracing::error!(error = %e, "a ledger line could not be written"),
            }
        }
        if let Some(ledger) = &self.ledger {
            ledger.append(entry);
        }
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
                ctx.error_kind = Some(e.kind);
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

    /// Runs last on every exit path: usage, cost, the ledger record and the access log
    /// line; every limit, lease and reservation held for the request is settled here at the
    /// latest.
    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        crate::listener::request_done();
        close::close(&self.shared, session, ctx);
    }
}
