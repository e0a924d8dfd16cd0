//! The exchange with providers: candidates in order, retries, timeouts, connection pooling.

mod address;
mod exchange;
mod media;
mod resolve;

pub use exchange::{BodyRules, Exchange, Outgoing};
pub use media::{Inlined, MediaFetcher, Prepared};
pub use resolve::Resolver;

use crate::budget::{MemoryBudget, Reservation};
use crate::config::Provider;
use crate::dialect::errors::ErrorKind;
use crate::dialect::Dialect;
use crate::error::{GatewayError, Retry};
use crate::limits::ProviderGate;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use std::sync::Arc;

/// A provider's successful answer.
pub enum Reply {
    /// A whole, non-streaming JSON answer.
    Complete {
        provider: Arc<Provider>,
        status: u16,
        body: Bytes,
        /// The body's share of the memory budget, held until it has been written.
        held: Reservation,
    },
    /// An event stream whose header has arrived; its body is still to be relayed.
    Streaming(Box<Exchange>),
}

/// An attempt that failed: which provider, and the status its error maps to.
#[derive(Debug, Clone)]
pub struct Failed {
    pub provider: Arc<Provider>,
    pub status: u16,
}

/// Talks to providers on behalf of requests; one per config version.
pub struct Upstream {
    connector: Connector,
    resolver: Resolver,
    max_attempts: u32,
    max_answer_bytes: usize,
    rules: BodyRules,
    budget: MemoryBudget,
}

/// The most of a provider's error answer that is read: an error message, not a document.
const MAX_ERROR_BYTES: usize = 1024 * 1024;

impl Upstream {
    pub fn new(
        max_attempts: u32,
        max_answer_bytes: usize,
        rules: BodyRules,
        budget: MemoryBudget,
    ) -> Self {
        Upstream {
            connector: Connector::new(None),
            resolver: Resolver::default(),
            max_attempts,
            max_answer_bytes,
            rules,
            budget,
        }
    }

    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// Sends the request to the candidates in order until one answers with success, moving on
    /// after a connect failure, a timeout, a 429, a 5xx or a broken answer, for at most
    /// `max_attempts` attempts (wrapping around the candidates). `body_for` gives the body for
    /// a provider; it is called per attempt, so any size can be resent.
    ///
    /// Nothing has been written to the client when this returns, so every failure here may
    /// still become a clean error response.
    ///
    /// A provider whose own limits are full is skipped without an attempt (`gate`); when every
    /// candidate was skipped so, the request gets their 429. Every failed attempt is added to
    /// `failed`.
    pub async fn send(
        &self,
        candidates: &[Arc<Provider>],
        body_for: impl Fn(&Provider) -> Outgoing,
        attempts: &mut u32,
        failed: &mut Vec<Failed>,
        gate: &mut ProviderGate<'_>,
    ) -> Result<Reply, GatewayError> {
        let mut last = GatewayError::new(
            ErrorKind::NoProvider,
            "no provider is configured for this model",
        );
        let mut tried = false;
        // Providers not to return to in this request (`Retry::AvoidProvider`).
        let mut shunned: Vec<&str> = Vec::new();
        let mut turn = candidates.iter().cycle();
        while *attempts < self.max_attempts {
            let Some(provider) = turn
                .by_ref()
                .take(candidates.len())
                .find(|p| !shunned.contains(&p.name.as_str()))
            else {
                break;
            };
            if !gate.pass(provider).await {
                tracing::info!(provider = %provider.name, "provider at its limits, skipped");
                shunned.push(&provider.name);
                continue;
            }
            tried = true;
            *attempts += 1;
            match self.attempt(provider, body_for(provider)).await {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    let e = e.from_provider(&provider.name);
                    failed.push(Failed {
                        provider: provider.clone(),
                        status: e.kind.status(),
                    });
                    match e.retry {
                        Retry::No => return Err(e),
                        Retry::AvoidProvider => shunned.push(&provider.name),
                        Retry::Next => {}
                    }
                    tracing::info!(attempt = *attempts, error = %e, "attempt failed");
                    last = e;
                }
            }
        }
        if !tried {
            if let Some(full) = gate.rejection() {
                return Err(full);
            }
        }
        Err(last)
    }

    async fn attempt(
        &self,
        provider: &Arc<Provider>,
        request: Outgoing,
    ) -> Result<Reply, GatewayError> {
        let stream = request.stream;
        let ep = &provider.endpoint;
        let addr = self.resolver.resolve(&ep.host, ep.port).await.map_err(|e| {
            tracing::info!(provider = %provider.name, error = %e, "cannot resolve the provider");
            GatewayError::new(ErrorKind::NoProvider, "could not resolve the provider's address").retryable()
        })?;
        let mut ex = Exchange::start(
            &self.connector,
            provider.clone(),
            addr,
            request,
            &self.rules,
        )
        .await?;
        let status = ex.status;
        let mut held = self.budget.reservation();
        if !(200..300).contains(&status) {
            let retry_after = ex.header("retry-after");
            let body = ex
                .read_to_end(MAX_ERROR_BYTES, &mut held)
                .await
                .unwrap_or_default();
            ex.release(&self.connector).await;
            let mut e = provider_error(status, body, provider.dialect);
            if let (Some(v), true) = (retry_after, e.reply.is_some()) {
                e = e.with_header("retry-after", v);
            }
            return Err(e);
        }
        if stream && status == 200 && ex.is_event_stream() {
            // The client's header waits for the provider's first event: an error that comes
            // as that event can still go to the next candidate.
            ex.first_event().await?;
            return Ok(Reply::Streaming(Box::new(ex)));
        }
        let body = ex.read_to_end(self.max_answer_bytes, &mut held).await?;
        ex.release(&self.connector).await;
        // Only the framing is checked here, so a proxy's HTML page or a plain-text failure is
        // retried; the client dialect's codec parses the JSON itself, once.
        if !starts_like_json_object(&body) {
            return Err(GatewayError::new(
                ErrorKind::BadUpstream,
                "the provider answered with a body that is not JSON",
            )
            .retryable());
        }
        Ok(Reply::Complete {
            provider: provider.clone(),
            status,
            body,
            held,
        })
    }
}

fn starts_like_json_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// A whole, valid JSON object: what a provider's error body must be to be passed through.
fn is_json_object(body: &[u8]) -> bool {
    starts_like_json_object(body) && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// A provider's error status, classified for retry and for the client. `body` has already been
/// through the redactor, as everything read from a provider has.
fn provider_error(status: u16, body: Bytes, dialect: Dialect) -> GatewayError {
    let mut e = match status {
        // A redirect is a misconfigured base URL or a hostile middlebox; following it could send
        // the provider key elsewhere, and passing it on would send the client elsewhere.
        300..=399 => GatewayError::new(
            ErrorKind::BadUpstream,
            format!("the provider answered with a redirect (status {status})"),
        )
        .retryable(),
        // The provider rejected tollgate's own credentials: an operator problem the client must
        // not mistake for its own key being wrong, and whose body may quote the provider key.
        401 | 403 => GatewayError::new(
            ErrorKind::BadUpstream,
            format!("the provider rejected the gateway's credentials (status {status})"),
        )
        .retryable(),
        429 | 500..=599 => {
            let e = GatewayError::new(
                if status == 429 {
                    ErrorKind::RateLimited
                } else {
                    ErrorKind::BadUpstream
                },
                format!("the provider answered with status {status}"),
            )
            .retryable();
            if is_json_object(&body) {
                e.with_reply(status, body, dialect)
            } else {
                e
            }
        }
        _ if is_json_object(&body) => GatewayError::new(
            ErrorKind::BadRequest,
            format!("the provider answered with status {status}"),
        )
        .with_reply(status, body, dialect),
        _ => GatewayError::new(
            ErrorKind::BadUpstream,
            format!("the provider answered with status {status} and a body that is not JSON"),
        ),
    };
    // A provider that rejected the gateway's key or rate-limited it will not do better a
    // moment later; others may.
    if e.is_retryable() && matches!(status, 401 | 403 | 429) {
        e.retry = Retry::AvoidProvider;
    }
    e.upstream_status = Some(status);
    e
}
