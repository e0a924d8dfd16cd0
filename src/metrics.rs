//! Every Prometheus metric tollgate exports, in one registry, served as text at `/metrics` on
//! the admin listener.
//!
//! Label values come from the config or from closed sets, never from raw client input: a
//! model is named only when the config names it exactly (in a provider's `models` or
//! `model_map`), any other is `other`, so a client cannot grow the series without bound.

use crate::config::Config;
use crate::dialect::usage::Usage;
use crate::limits::{Kind, Rejection};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::collections::HashSet;

/// Seconds: from a fast cached answer to a long stream.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Seconds the gateway itself spends on a request: tenths of a millisecond up.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Seconds between output tokens (OpenTelemetry GenAI's buckets).
const PER_TOKEN_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

/// One finished request, as the access log sees it.
pub struct Finished<'a> {
    pub dialect: &'static str,
    pub route: &'static str,
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub status: u16,
    pub stream: bool,
    pub seconds: f64,
    pub attempts: u32,
    pub usage: Option<Usage>,
    /// What it cost, when its model has a price.
    pub cost_micro_usd: Option<i64>,
    /// From arrival to the first bytes of the answer.
    pub first_token_seconds: Option<f64>,
    /// Between output tokens, after the first, for a stream.
    pub per_output_token_seconds: Option<f64>,
    /// Its whole time less reading the client's body and waiting on the provider.
    pub overhead_seconds: Option<f64>,
    /// The providers whose attempts failed, with the status of each failure.
    pub failed: &'a [(&'a str, u16)],
}

pub struct Metrics {
    registry: Registry,
    known_models: HashSet<String>,
    requests: IntCounterVec,
    duration: HistogramVec,
    tokens: IntCounterVec,
    attempts: IntCounterVec,
    rate_limited: IntCounterVec,
    cost: IntCounterVec,
    in_flight: IntGauge,
    redis_outages: IntCounter,
    first_token: HistogramVec,
    per_output_token: HistogramVec,
    overhead: HistogramVec,
    upstream_errors: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new(config: &Config) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("tollgate_requests_total", "Requests answered, by outcome."),
            &["dialect", "route", "model", "provider", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_request_duration_seconds",
                "From a request's arrival to its last byte.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["dialect", "route"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "tollgate_tokens_total",
                "Tokens the providers reported: input (cache reads and writes included), cache_read, cache_write, output (reasoning included), reasoning.",
            ),
            &["kind", "model", "provider"],
        )?;
        let attempts = IntCounterVec::new(
            Opts::new(
                "tollgate_upstream_attempts_total",
                "Attempts to reach a provider, retries and failovers included, by the provider that answered last.",
            ),
            &["provider"],
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "tollgate_rate_limited_total",
                "Requests (or, for providers, attempts) turned away by a limit, or for want of balance (limit=\"balance\").",
            ),
            &["scope", "limit"],
        )?;
        let cost = IntCounterVec::new(
            Opts::new(
                "tollgate_cost_micro_usd_total",
                "What requests cost at the configured prices, in millionths of a USD.",
            ),
            &["model", "provider"],
        )?;
        let in_flight = IntGauge::new(
            "tollgate_requests_in_flight",
            "Requests being served right now.",
        )?;
        let redis_outages = IntCounter::new(
            "tollgate_redis_outages_total",
            "Times the shared limit store became unreachable.",
        )?;
        let first_token = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_time_to_first_token_seconds",
                "From a request's arrival to the first bytes of its answer (the whole answer when not streamed).",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["model", "provider", "stream"],
        )?;
        let per_output_token = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_time_per_output_token_seconds",
                "For streamed answers: time after the first bytes, per output token after the first.",
            )
            .buckets(PER_TOKEN_BUCKETS.to_vec()),
            &["model", "provider"],
        )?;
        let overhead = HistogramVec::new(
            HistogramOpts::new(
                "tollgate_gateway_overhead_seconds",
                "A request's whole time less reading the client's body and waiting on the provider.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["dialect", "route"],
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "tollgate_upstream_errors_total",
                "Failed attempts to get an answer from a provider, by the status they map to.",
            ),
            &["provider", "status"],
        )?;
        registry.register(Box::new(first_token.clone()))?;
        registry.register(Box::new(per_output_token.clone()))?;
        registry.register(Box::new(overhead.clone()))?;
        registry.register(Box::new(upstream_errors.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(cost.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(redis_outages.clone()))?;
        let is_glob = |m: &str| m.contains(['*', '?', '[', '{']);
        let known_models = config
            .providers
            .iter()
            .flat_map(|p| p.models.iter().chain(p.model_map.keys()))
            .filter(|m| !is_glob(m))
            .cloned()
            .collect();
        Ok(Metrics {
            registry,
            known_models,
            requests,
            duration,
            tokens,
            attempts,
            rate_limited,
            cost,
            in_flight,
            redis_outages,
            first_token,
            per_output_token,
            overhead,
            upstream_errors,
        })
    }

    fn model_label<'a>(&self, model: Option<&'a str>) -> &'a str {
        match model {
            Some(m) if self.known_models.contains(m) => m,
            Some(_) => "other",
            None => "-",
        }
    }

    pub fn finished(&self, r: &Finished<'_>) {
        let model = self.model_label(r.model);
        let provider = r.provider.unwrap_or("-");
        let status = r.status.to_string();
        self.requests
            .with_label_values(&[r.dialect, r.route, model, provider, &status])
            .inc();
        self.duration
            .with_label_values(&[r.dialect, r.route])
            .observe(r.seconds);
        if let Some(s) = r.first_token_seconds {
            let stream = if r.stream { "true" } else { "false" };
            self.first_token
                .with_label_values(&[model, provider, stream])
                .observe(s);
        }
        if let Some(s) = r.per_output_token_seconds {
            self.per_output_token
                .with_label_values(&[model, provider])
                .observe(s);
        }
        if let Some(s) = r.overhead_seconds {
            self.overhead
                .with_label_values(&[r.dialect, r.route])
                .observe(s);
        }
        for (failed, status) in r.failed {
            self.upstream_errors
                .with_label_values(&[*failed, status.to_string().as_str()])
                .inc();
        }
        if r.attempts > 0 {
            self.attempts
                .with_label_values(&[provider])
                .inc_by(r.attempts.into());
        }
        if let Some(c) = r.cost_micro_usd.and_then(|c| u64::try_from(c).ok()) {
            self.cost.with_label_values(&[model, provider]).inc_by(c);
        }
        if let Some(u) = r.usage {
            for (kind, n) in [
                ("input", u.input_total),
                ("cache_read", u.input_cache_read),
                ("cache_write", u.input_cache_write),
                ("output", u.output_total),
                ("reasoning", u.output_reasoning),
            ] {
                if n > 0 {
                    self.tokens
                        .with_label_values(&[kind, model, provider])
                        .inc_by(n);
                }
            }
        }
    }

    /// A request turned away because its key's balance could not cover it.
    pub fn out_of_balance(&self) {
        self.rate_limited
            .with_label_values(&["key", "balance"])
            .inc();
    }

    pub fn rate_limited(&self, r: &Rejection) {
        let limit = match r.kind {
            Kind::Rpm => "rpm",
            Kind::Rpd => "rpd",
            Kind::Concurrency => "concurrency",
            Kind::Tpm => "tpm",
        };
        self.rate_limited
            .with_label_values(&[r.scope.as_str(), limit])
            .inc();
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, in_flight: usize, redis_outages: u64) -> Vec<u8> {
        self.in_flight
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        let seen = self.redis_outages.get();
        if redis_outages > seen {
            self.redis_outages.inc_by(redis_outages - seen);
        }
        let mut out = Vec::new();
        // Encoding into memory fails only on a broken metric, which registration refused.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
