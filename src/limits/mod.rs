//! Admission: requests per minute and per day, requests in flight, and tokens per minute, for
//! each key, each group (all its keys together) and each provider.
//!
//! A request is admitted only if every scope that applies to it allows it, and then takes from
//! all of them at once. What it takes is a [`Permit`]: its concurrency lease ends when the
//! client has the last byte (or the request ends any other way: the permit is a drop guard),
//! and its token reservation is settled to the provider's reported usage at the end.

pub mod estimate;
mod guard;
mod headers;
mod local;
mod redis;
mod window;

pub use guard::AuthGuard;
pub use headers::rate_limit_headers;
use local::Local;
use redis::{RedisStore, Unavailable};

use crate::config::{Config, Limits, OnRedisError, Provider, StateBackend};
use crate::dialect::errors::ErrorKind;
use crate::error::GatewayError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Whose limits these are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Key,
    Group,
    Provider,
}

impl ScopeKind {
    fn prefix(self) -> &'static str {
        match self {
            ScopeKind::Key => "k",
            ScopeKind::Group => "g",
            ScopeKind::Provider => "p",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Key => "key",
            ScopeKind::Group => "group",
            ScopeKind::Provider => "provider",
        }
    }
}

/// One scope's limits.
#[derive(Debug, Clone)]
pub struct Scope {
    pub kind: ScopeKind,
    pub name: Arc<str>,
    /// Its identity in the limit store: the kind's prefix and the configured name.
    pub id: Arc<str>,
    pub limits: Limits,
}

impl Scope {
    pub fn new(kind: ScopeKind, name: &str, limits: Limits) -> Self {
        Scope {
            kind,
            name: name.into(),
            id: format!("{}:{name}", kind.prefix()).into(),
            limits,
        }
    }

    fn limited(&self) -> bool {
        let l = &self.limits;
        l.rpm.is_some() || l.rpd.is_some() || l.concurrency.is_some() || l.tpm.is_some()
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rpm,
    Rpd,
    Concurrency,
    Tpm,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Rpm => "requests per minute",
            Kind::Rpd => "requests per day",
            Kind::Concurrency => "requests at once",
            Kind::Tpm => "tokens per minute",
        }
    }
}

/// A limit that turned a request away.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub scope: ScopeKind,
    pub name: Arc<str>,
    pub kind: Kind,
    pub limit: u64,
    /// When trying again can succeed.
    pub retry_after: Duration,
}

impl Rejection {
    /// Where the client stands on what refused it, for its rate-limit headers: nothing left
    /// until `retry_after`. A provider's limits are not the client's to see.
    pub fn quota(&self) -> Quota {
        let meter = Meter {
            limit: self.limit,
            remaining: 0,
            reset: self.retry_after,
        };
        match (self.scope, self.kind) {
            (ScopeKind::Provider, _) => Quota::default(),
            (_, Kind::Rpm) => Quota {
                requests: Some(meter),
                tokens: None,
            },
            (_, Kind::Tpm) => Quota {
                requests: None,
                tokens: Some(meter),
            },
            _ => Quota::default(),
        }
    }

    /// The 429 a client gets, with `retry-after` in whole seconds (at least 1).
    pub fn into_error(self) -> GatewayError {
        let secs = self.retry_after.as_millis().div_ceil(1000).max(1);
        // A provider's name is the operator's topology: clients are told only the kind.
        let whose = match self.scope {
            ScopeKind::Provider => "the providers of this model".to_string(),
            kind => format!("this {}", kind.as_str()),
        };
        GatewayError::new(
            ErrorKind::RateLimited,
            format!(
                "Rate limit reached for {whose}: {} {}. Try again in {secs}s.",
                self.limit,
                self.kind.what()
            ),
        )
        .with_header("retry-after", secs.to_string())
    }
}

/// Where a client stands against its tightest limit of one kind, for rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    pub limit: u64,
    pub remaining: u64,
    /// Until the oldest counted amount leaves the window.
    pub reset: Duration,
}

impl Meter {
    /// The one of two with less left.
    fn tighter(a: Option<Meter>, b: Meter) -> Option<Meter> {
        Some(match a {
            Some(a) if a.remaining <= b.remaining => a,
            _ => b,
        })
    }
}

/// What a client is shown of its limits: requests (per minute) and tokens (per minute).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub requests: Option<Meter>,
    pub tokens: Option<Meter>,
}

/// What one scope took for a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct TakenScope {
    pub id: Arc<str>,
    pub rpm_bucket: Option<u64>,
    pub rpd_bucket: Option<u64>,
    pub tpm_bucket: Option<u64>,
    /// Tokens reserved.
    pub tokens: u64,
    pub lease: bool,
}

/// What a request took, across its scopes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Taken {
    pub scopes: Vec<TakenScope>,
    /// The lease's name in a shared store.
    pub lease: Option<String>,
    /// The account and the micro-USD reserved in it.
    pub reserved: Option<(Arc<str>, i64)>,
}

/// A key's money, for admission: the request may cost at most `reserve`, which its account
/// must have available (and more than nothing) for it to be let through.
#[derive(Debug, Clone)]
pub struct Charge {
    /// The account's identity in the store: its key's scope id (`k:name`).
    pub account: Arc<str>,
    /// The key's `budget_usd`, in micro-USD.
    pub budget: i64,
    /// The request's worst-case cost, in micro-USD.
    pub reserve: i64,
}

impl Charge {
    pub fn account_of(key: &str) -> Arc<str> {
        format!("{}:{key}", ScopeKind::Key.prefix()).into()
    }
}

/// Where a key's account stands, in micro-USD: its budget and the credits added since, less
/// what it spent and what running requests hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    pub budget: i64,
    pub credit: i64,
    pub spent: i64,
    pub reserved: i64,
}

impl Balance {
    pub fn available(&self) -> i64 {
        self.budget
            .saturating_add(self.credit)
            .saturating_sub(self.spent)
            .saturating_sub(self.reserved)
    }
}

/// What money a request lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub available: i64,
    pub needed: i64,
}

/// A token count as a change to a window, clamped rather than wrapped.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The limit store a permit came from.
#[derive(Debug, Clone)]
enum Backend {
    Local(Arc<Local>),
    Redis(Arc<RedisStore>),
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum Refusal {
    Limit(Rejection),
    /// The key's balance cannot cover what the request may cost.
    Balance(Shortfall),
    /// The shared store is unreachable and the config says to fail closed.
    Unavailable,
}

impl Refusal {
    pub fn into_error(self) -> GatewayError {
        match self {
            Refusal::Limit(r) => r.into_error(),
            Refusal::Balance(s) => {
                let usd = |micro| format!("${}", crate::metering::usd(micro));
                let message = if s.available <= 0 {
                    "You exceeded your current quota: this key's balance is used up. Ask for \
                     more credit."
                        .to_string()
                } else {
                    format!(
                        "You exceeded your current quota: this key has {} left and this request \
                         may cost up to {}. Lower max_tokens or ask for more credit.",
                        usd(s.available),
                        usd(s.needed)
                    )
                };
                GatewayError::new(ErrorKind::QuotaExhausted, message)
                    .with_header("x-should-retry", "false")
            }
            Refusal::Unavailable => GatewayError::new(
                ErrorKind::NoProvider,
                "Rate limits cannot be checked right now; try again shortly.",
            )
            .with_header("retry-after", "1"),
        }
    }
}

/// Admission for one config version.
#[derive(Debug)]
pub struct Limiter {
    local: Arc<Local>,
    redis: Option<Arc<RedisStore>>,
    on_redis_error: OnRedisError,
    /// Each key's limited scopes (its own, its group's), built once per config version so that
    /// a request's admission allocates nothing to find them.
    keys: HashMap<String, Arc<[Scope]>>,
    /// The providers that have limits.
    providers: HashMap<String, Scope>,
    /// Tokens reserved for the answer: `min(max_tokens, this)`, or this when none is given.
    pub output_reserve: u64,
}

/// Admission to a scope set, held until the request ends.
#[derive(Debug)]
pub struct Permit {
    backend: Backend,
    taken: Taken,
    lease_open: bool,
    settled: bool,
    /// What it reserved in its account is settled (or there was nothing).
    charged: bool,
}

impl Permit {
    fn none(local: &Arc<Local>) -> Self {
        Permit {
            backend: Backend::Local(local.clone()),
            taken: Taken::default(),
            lease_open: false,
            settled: true,
            charged: true,
        }
    }

    /// Charges `cost` micro-USD to the account it reserved in, and frees the reservation.
    pub fn charge(&mut self, cost: i64) {
        if std::mem::replace(&mut self.charged, true) {
            return;
        }
        match &self.backend {
            Backend::Local(l) => l.charge(&self.taken, cost),
            Backend::Redis(r) => {
                let (store, taken) = (r.clone(), self.taken.clone());
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        if store.charge(&taken, cost).await.is_err() && cost != 0 {
                            tracing::error!(
                                cost_micro_usd = cost,
                                "redis unreachable: a charge is in the ledger but not the balance"
                            );
                        }
                    });
                }
            }
        }
    }

    /// Hands a change to a shared store to a task of its own: the request does not wait for
    /// it, and Drop cannot wait at all. Without a runtime (nothing to run it) the lease
    /// expires by itself.
    fn in_redis(&self, store: &Arc<RedisStore>, end_lease: bool, changes: Vec<(i64, i64)>) {
        let (store, taken) = (store.clone(), self.taken.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { store.settle(&taken, end_lease, &changes).await });
        }
    }

    /// Ends the concurrency lease now: the client has its last byte.
    pub fn end_lease(&mut self) {
        if !std::mem::replace(&mut self.lease_open, false) {
            return;
        }
        match &self.backend {
            Backend::Local(l) => l.end_lease(&self.taken),
            Backend::Redis(r) => self.in_redis(r, true, Vec::new()),
        }
    }

    /// Settles the token reservation to what the provider reported (input and output);
    /// without a report the reservation stands.
    pub fn settle(&mut self, used_tokens: Option<u64>) {
        let lease = std::mem::replace(&mut self.lease_open, false);
        // Without a report the reservation stands, and a later report (an estimate made at the
        // end) may still settle it.
        let used = used_tokens.filter(|_| !self.settled);
        self.settled |= used.is_some();
        match &self.backend {
            Backend::Local(l) => {
                if lease {
                    l.end_lease(&self.taken);
                }
                if let Some(used) = used {
                    l.settle(&self.taken, used);
                }
            }
            Backend::Redis(r) => {
                let changes: Vec<(i64, i64)> = match used {
                    Some(used) => self
                        .taken
                        .scopes
                        .iter()
                        .map(|t| (0, signed(used) - signed(t.tokens)))
                        .collect(),
                    None => Vec::new(),
                };
                if lease || !changes.is_empty() {
                    self.in_redis(r, lease, changes);
                }
            }
        }
    }

    /// Gives back everything: the request was turned away after all.
    pub fn refund(&mut self) {
        self.charge(0);
        if std::mem::replace(&mut self.settled, true) {
            self.end_lease();
            return;
        }
        let lease = std::mem::replace(&mut self.lease_open, false);
        match &self.backend {
            Backend::Local(l) => {
                if lease {
                    l.end_lease(&self.taken);
                }
                l.refund(&self.taken);
            }
            Backend::Redis(r) => {
                let changes = self
                    .taken
                    .scopes
                    .iter()
                    .map(|t| (-1, -signed(t.tokens)))
                    .collect();
                self.in_redis(r, lease, changes);
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.end_lease();
        // A request that was never charged frees what it reserved.
        self.charge(0);
    }
}

impl Limiter {
    pub fn new(config: &Config) -> Self {
        let redis = match (&config.state.backend, &config.state.redis_url) {
            (StateBackend::Redis, Some(url)) => {
                let st = &config.state;
                match RedisStore::new(url, &st.redis_prefix, st.redis_timeout, st.redis_lease_ttl) {
                    Ok(store) => Some(Arc::new(store)),
                    // The URL was checked with the config; should it fail here after all, the
                    // limits still hold, in process.
                    Err(e) => {
                        tracing::error!(error = %e, "state.redis_url unusable: limits are kept in process");
                        None
                    }
                }
            }
            _ => None,
        };
        let keys = config
            .keys
            .iter()
            .map(|k| {
                let group = k.group.as_ref().and_then(|g| {
                    let limits = config.groups.get(g)?.limits;
                    Some(Scope::new(ScopeKind::Group, g, limits))
                });
                let scopes: Vec<Scope> =
                    std::iter::once(Scope::new(ScopeKind::Key, &k.name, k.limits))
                        .chain(group)
                        .filter(Scope::limited)
                        .collect();
                (k.name.clone(), scopes.into())
            })
            .collect();
        let providers = config
            .providers
            .iter()
            .map(|p| Scope::new(ScopeKind::Provider, &p.name, p.limits))
            .filter(Scope::limited)
            .map(|s| (s.name.to_string(), s))
            .collect();
        Limiter {
            local: Arc::new(Local::default()),
            redis,
            on_redis_error: config.state.on_redis_error,
            keys,
            providers,
            output_reserve: config.admission.output_reserve,
        }
    }

    /// The limited client scopes of the key named `key`: its own and its group's.
    pub fn client_scopes(&self, key: &str) -> Arc<[Scope]> {
        self.keys.get(key).cloned().unwrap_or_else(|| Arc::new([]))
    }

    /// Whether any of `scopes` limits tokens (so the request's tokens must be estimated).
    pub fn counts_tokens(scopes: &[Scope]) -> bool {
        scopes.iter().any(|s| s.limits.tpm.is_some())
    }

    /// Admits a request to every scope in `scopes` at once, reserving `tokens`, and the
    /// charge's reserve in its account.
    ///
    /// With Redis, one script call does it; when Redis cannot be reached the config decides:
    /// the limits and balances of this process alone (`fail_open`) or a refusal
    /// (`fail_closed`).
    pub async fn admit(
        &self,
        scopes: &[Scope],
        tokens: u64,
        charge: Option<&Charge>,
    ) -> Result<(Permit, Quota), Refusal> {
        if scopes.is_empty() && charge.is_none() {
            return Ok((Permit::none(&self.local), Quota::default()));
        }
        let (backend, (taken, quota)) = match &self.redis {
            Some(r) => match r.admit(scopes, tokens, charge).await {
                Ok(result) => (Backend::Redis(r.clone()), result?),
                Err(Unavailable) if self.on_redis_error == OnRedisError::FailOpen => (
                    Backend::Local(self.local.clone()),
                    self.local.admit(scopes, tokens, charge)?,
                ),
                Err(Unavailable) => return Err(Refusal::Unavailable),
            },
            None => (
                Backend::Local(self.local.clone()),
                self.local.admit(scopes, tokens, charge)?,
            ),
        };
        let lease_open = taken.scopes.iter().any(|t| t.lease);
        let charged = taken.reserved.is_none();
        Ok((
            Permit {
                backend,
                taken,
                lease_open,
                settled: false,
                charged,
            },
            quota,
        ))
    }

    /// Where the account of the key named `key` stands, with its configured `budget`.
    pub async fn balance(&self, key: &str, budget: i64) -> Result<Balance, Refusal> {
        let account = Charge::account_of(key);
        match &self.redis {
            Some(r) => r
                .balance(&account, budget)
                .await
                .map_err(|_| Refusal::Unavailable),
            None => Ok(self.local.balance(&account, budget)),
        }
    }

    /// Adds `amount` micro-USD to the account of the key named `key`.
    pub async fn credit(&self, key: &str, amount: i64) -> Result<(), Refusal> {
        let account = Charge::account_of(key);
        match &self.redis {
            Some(r) => r
                .credit(&account, amount)
                .await
                .map_err(|_| Refusal::Unavailable),
            None => {
                self.local.credit(&account, amount);
                Ok(())
            }
        }
    }

    /// Sets what each key spent and was credited, as the ledger says: the balances kept in
    /// this process (with Redis, those it falls back on while Redis is down).
    pub fn restore(&self, accounts: &HashMap<String, (i64, i64)>) {
        for (key, (spent, credit)) in accounts {
            self.local
                .restore(&Charge::account_of(key), *spent, *credit);
        }
    }

    /// Whether limits and balances are shared through Redis.
    pub fn shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Copies a ledger line to the shared store's ledger stream, when there is one, without
    /// waiting for it. While Redis is down the stream misses lines (the outage is logged
    /// once); the ledger file, when there is one, has them all.
    pub fn publish(&self, line: String, max: u64) {
        let Some(store) = self.redis.clone() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store.append_to_stream(line, max).await;
            });
        }
    }

    /// A page of the shared store's ledger stream (see [`RedisStore::stream_page`]); `None`
    /// without Redis.
    pub async fn ledger_page(
        &self,
        after: &str,
        count: usize,
    ) -> Option<Result<Vec<(String, String)>, Refusal>> {
        let store = self.redis.as_ref()?;
        Some(
            store
                .stream_page(after, count)
                .await
                .map_err(|_| Refusal::Unavailable),
        )
    }

    /// Redis outages seen so far (0 without Redis).
    pub fn redis_outages(&self) -> u64 {
        self.redis
            .as_ref()
            .map_or(0, |r| r.outages.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Admits an attempt to `provider`, if it has limits.
    pub async fn admit_provider(
        &self,
        provider: &Provider,
        tokens: u64,
    ) -> Result<Option<Permit>, Refusal> {
        let Some(scope) = self.providers.get(&provider.name) else {
            return Ok(None);
        };
        let (permit, _) = self
            .admit(std::slice::from_ref(scope), tokens, None)
            .await?;
        Ok(Some(permit))
    }
}

/// The provider side of admission during one request's attempts: a provider whose own limit is
/// full is skipped for the next candidate.
pub struct ProviderGate<'a> {
    limiter: Option<&'a Limiter>,
    tokens: u64,
    /// The permit of the last provider let through, if it has limits.
    pub held: Option<Permit>,
    /// The providers that were full, and until when.
    pub full: Vec<Rejection>,
    /// A provider's limits could not be checked (shared store down, failing closed).
    pub unavailable: bool,
}

impl<'a> ProviderGate<'a> {
    pub fn new(limiter: &'a Limiter, tokens: u64) -> Self {
        ProviderGate {
            limiter: Some(limiter),
            tokens,
            held: None,
            full: Vec::new(),
            unavailable: false,
        }
    }

    /// A gate that lets every provider through (operations that are not limited).
    pub fn open() -> Self {
        ProviderGate {
            limiter: None,
            tokens: 0,
            held: None,
            full: Vec::new(),
            unavailable: false,
        }
    }

    /// Whether `provider` may be tried now; its permit, if any, replaces the last one's, whose
    /// lease ends (that attempt is over).
    pub async fn pass(&mut self, provider: &Provider) -> bool {
        let Some(limiter) = self.limiter else {
            return true;
        };
        // The last attempt failed: what it reserved in its provider's window is given back.
        if let Some(mut failed) = self.held.take() {
            failed.settle(Some(0));
        }
        match limiter.admit_provider(provider, self.tokens).await {
            Ok(permit) => {
                self.held = permit;
                true
            }
            Err(Refusal::Limit(r)) => {
                self.full.push(r);
                false
            }
            Err(Refusal::Unavailable | Refusal::Balance(_)) => {
                self.unavailable = true;
                false
            }
        }
    }

    /// The 429 for a request whose every candidate was full: the one that reopens first, in
    /// the whole seconds the client is told; on a tie, the first candidate's. (Each provider's
    /// wait is measured when it is checked, so two that reopen together differ by the
    /// milliseconds between the checks: compared exactly, which one was named was chance.)
    pub fn rejection(&self) -> Option<GatewayError> {
        let full = self
            .full
            .iter()
            .min_by_key(|r| r.retry_after.as_millis().div_ceil(1000))
            .cloned();
        match full {
            Some(r) => Some(r.into_error()),
            None if self.unavailable => Some(Refusal::Unavailable.into_error()),
            None => None,
        }
    }
}
