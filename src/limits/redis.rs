//! Limits shared by every replica through Redis: one script call per admission, on Redis
//! server time, all or nothing (`lua/admit.lua`).
//!
//! Every key carries the hash tag `{prefix}`, so one script can touch a request's key, group
//! and provider scopes together on Redis Cluster too (they all live on one shard). Scripts are
//! sent once and then invoked by SHA; a server that lost them (NOSCRIPT) gets them again.
//! Leases expire on their own unless the replica that holds them renews them, so a replica
//! that crashes frees its leases within `state.redis_lease_ttl`; the living renew theirs every
//! third of it.

use super::{
    Balance, Charge, Kind, Meter, Quota, Refusal, Rejection, Scope, ScopeKind, Shortfall, Taken,
    TakenScope,
};
use redis::aio::ConnectionManager;
use redis::{Client, Script};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// After Redis failed, how long admissions skip it before trying it again.
const RETRY_AFTER_OUTAGE: Duration = Duration::from_secs(1);

/// Redis could not be asked (down, unreachable, too slow).
#[derive(Debug)]
pub struct Unavailable;

pub struct RedisStore {
    client: Client,
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    lease_ttl: Duration,
    admit: Script,
    settle: Script,
    renew: Script,
    charge: Script,
    /// This replica's name in lease names.
    replica: String,
    next_lease: AtomicU64,
    /// Leases this replica holds: lease name → its lease sets, for renewal.
    leases: Mutex<HashMap<String, Vec<String>>>,
    renewing: AtomicBool,
    epoch: Instant,
    /// While Redis is down: when to try it again (ms since `epoch`), 0 when up.
    retry_at: AtomicU64,
    /// Outages seen, for metrics.
    pub outages: AtomicU64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url`; nothing is connected until the first admission.
    pub fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        lease_ttl: Duration,
    ) -> redis::RedisResult<Self> {
        Ok(RedisStore {
            client: Client::open(url)?,
            conn: OnceCell::new(),
            prefix: prefix.to_string(),
            timeout,
            lease_ttl,
            admit: Script::new(include_str!("lua/admit.lua")),
            settle: Script::new(include_str!("lua/settle.lua")),
            renew: Script::new(include_str!("lua/renew.lua")),
            charge: Script::new(include_str!("lua/charge.lua")),
            replica: format!("{:016x}", fastrand::u64(..)),
            next_lease: AtomicU64::new(0),
            leases: Mutex::new(HashMap::new()),
            renewing: AtomicBool::new(false),
            epoch: Instant::now(),
            retry_at: AtomicU64::new(0),
            outages: AtomicU64::new(0),
        })
    }

    fn keys(&self, id: &str) -> [String; 4] {
        let p = &self.prefix;
        [
            format!("{{{p}}}:{id}:rpm"),
            format!("{{{p}}}:{id}:rpd"),
            format!("{{{p}}}:{id}:tpm"),
            format!("{{{p}}}:{id}:conc"),
        ]
    }

    /// An account's hash and its reservations' set.
    fn account_keys(&self, account: &str) -> [String; 2] {
        let p = &self.prefix;
        [
            format!("{{{p}}}:{account}:bal"),
            format!("{{{p}}}:{account}:res"),
        ]
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether Redis is believed down and not due for another try.
    fn resting(&self) -> bool {
        let at = self.retry_at.load(Ordering::Acquire);
        at != 0 && self.now_ms() < at
    }

    fn went_down(&self, why: &dyn std::fmt::Display) {
        let was = self.retry_at.swap(
            self.now_ms() + RETRY_AFTER_OUTAGE.as_millis() as u64,
            Ordering::AcqRel,
        );
        if was == 0 {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %why, "redis unreachable: limits follow state.on_redis_error until it is back");
        }
    }

    fn is_up(&self) {
        if self.retry_at.swap(0, Ordering::AcqRel) != 0 {
            tracing::warn!("redis reachable again: limits are shared again");
        }
    }

    async fn conn(&self) -> Result<ConnectionManager, Unavailable> {
        let made = self
            .conn
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(self.timeout);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await;
        made.cloned().map_err(|e| {
            self.went_down(&e);
            Unavailable
        })
    }

    /// Runs `script` within the timeout; a failure marks Redis down.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, Unavailable> {
        let mut conn = self.conn().await?;
        let answer = tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await;
        self.heard(answer)
    }

    /// Runs one command within the timeout; a failure marks Redis down.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Unavailable> {
        if self.resting() {
            return Err(Unavailable);
        }
        let mut conn = self.conn().await?;
        let answer = tokio::time::timeout(self.timeout, cmd.query_async(&mut conn)).await;
        self.heard(answer)
    }

    /// What an answer (or none in time) says about Redis being up.
    fn heard<T>(
        &self,
        answer: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, Unavailable> {
        match answer {
            Ok(Ok(v)) => {
                self.is_up();
                Ok(v)
            }
            Ok(Err(e)) => {
                self.went_down(&e);
                Err(Unavailable)
            }
            Err(_) => {
                self.went_down(&"no answer in time");
                Err(Unavailable)
            }
        }
    }

    pub async fn admit(
        self: &Arc<Self>,
        scopes: &[Scope],
        tokens: u64,
        charge: Option<&Charge>,
    ) -> Result<Result<(Taken, Quota), Refusal>, Unavailable> {
        if self.resting() {
            return Err(Unavailable);
        }
        let lease = format!(
            "{}:{}",
            self.replica,
            self.next_lease.fetch_add(1, Ordering::Relaxed)
        );
        let mut inv = self.admit.prepare_invoke();
        for s in scopes {
            for k in self.keys(&s.id) {
                inv.key(k);
            }
        }
        if let Some(c) = charge {
            for k in self.account_keys(&c.account) {
                inv.key(k);
            }
        }
        inv.arg(tokens)
            .arg(&lease)
            .arg(self.lease_ttl.as_millis() as u64)
            .arg(charge.map_or(String::new(), |c| c.budget.to_string()))
            .arg(charge.map_or(0, |c| c.reserve));
        for s in scopes {
            let l = &s.limits;
            inv.arg(l.rpm.unwrap_or(0))
                .arg(l.rpd.unwrap_or(0))
                .arg(l.concurrency.unwrap_or(0))
                .arg(l.tpm.unwrap_or(0));
        }
        let reply: Vec<i64> = self.run(inv).await?;
        let bad = |_| {
            self.went_down(&"an admission script answer of the wrong shape");
            Unavailable
        };
        let at = |i: usize| reply.get(i).copied().ok_or(()).map_err(bad);
        if at(0)? == 0 && at(2)? == 5 {
            return Ok(Err(Refusal::Balance(Shortfall {
                available: at(3)?,
                needed: charge.map_or(0, |c| c.reserve),
            })));
        }
        if at(0)? == 0 {
            let s = usize::try_from(at(1)? - 1)
                .ok()
                .and_then(|i| scopes.get(i))
                .ok_or_else(|| bad(()))?;
            let kind = match at(2)? {
                1 => Kind::Rpm,
                2 => Kind::Rpd,
                3 => Kind::Concurrency,
                _ => Kind::Tpm,
            };
            return Ok(Err(Refusal::Limit(Rejection {
                scope: s.kind,
                name: s.name.clone(),
                kind,
                limit: at(3)?.max(0) as u64,
                retry_after: Duration::from_millis(at(4)?.max(1) as u64),
            })));
        }
        let (mb, db) = (at(1)? as u64, at(2)? as u64);
        let mut quota = Quota::default();
        let mut taken = Vec::with_capacity(scopes.len());
        let mut lease_sets = Vec::new();
        for (i, s) in scopes.iter().enumerate() {
            let base = 4 + 4 * i;
            let l = &s.limits;
            let t = TakenScope {
                id: s.id.clone(),
                rpm_bucket: l.rpm.map(|_| mb),
                rpd_bucket: l.rpd.map(|_| db),
                tpm_bucket: l.tpm.map(|_| mb),
                tokens: if l.tpm.is_some() { tokens } else { 0 },
                lease: l.concurrency.is_some(),
            };
            if t.lease {
                lease_sets.push(self.keys(&s.id)[3].clone());
            }
            if s.kind != ScopeKind::Provider {
                let meter = |limit: u64, used: i64, reset: i64| Meter {
                    limit,
                    remaining: limit.saturating_sub(used.max(0) as u64),
                    reset: Duration::from_millis(reset.max(0) as u64),
                };
                if let Some(limit) = l.rpm {
                    quota.requests = Meter::tighter(
                        quota.requests,
                        meter(limit.into(), at(base)?, at(base + 1)?),
                    );
                }
                if let Some(limit) = l.tpm {
                    quota.tokens =
                        Meter::tighter(quota.tokens, meter(limit, at(base + 2)?, at(base + 3)?));
                }
            }
            taken.push(t);
        }
        // A running request's reservation is renewed with its leases, so that only a replica
        // that crashed has what it reserved freed.
        if let Some(c) = charge {
            lease_sets.push(self.account_keys(&c.account)[1].clone());
        }
        if !lease_sets.is_empty() {
            if let Ok(mut leases) = self.leases.lock() {
                leases.insert(lease.clone(), lease_sets);
            }
            self.start_renewing();
        }
        Ok(Ok((
            Taken {
                scopes: taken,
                lease: Some(lease),
                reserved: charge.map(|c| (c.account.clone(), c.reserve)),
            },
            quota,
        )))
    }

    /// Ends the leases of `taken` (when `end_lease`) and applies `changes`: per scope, the
    /// change to its request count and to its tokens.
    pub async fn settle(&self, taken: &Taken, end_lease: bool, changes: &[(i64, i64)]) {
        let lease = taken.lease.as_deref().unwrap_or("");
        if end_lease {
            if let Ok(mut leases) = self.leases.lock() {
                leases.remove(lease);
            }
        }
        let mut inv = self.settle.prepare_invoke();
        for t in &taken.scopes {
            for k in self.keys(&t.id) {
                inv.key(k);
            }
        }
        inv.arg(if end_lease { lease } else { "" });
        let none = (0, 0);
        for (i, t) in taken.scopes.iter().enumerate() {
            let (requests, tokens) = changes.get(i).unwrap_or(&none);
            inv.arg(t.rpm_bucket.unwrap_or(0))
                .arg(if t.rpm_bucket.is_some() { *requests } else { 0 })
                .arg(t.rpd_bucket.unwrap_or(0))
                .arg(if t.rpd_bucket.is_some() { *requests } else { 0 })
                .arg(t.tpm_bucket.unwrap_or(0))
                .arg(if t.tpm_bucket.is_some() { *tokens } else { 0 });
        }
        // A lease Redis did not hear about expires by itself within the lease's time to live.
        let _: Result<i64, Unavailable> = self.run(inv).await;
    }

    /// Frees what `taken` reserved and charges `cost` to its account.
    pub async fn charge(&self, taken: &Taken, cost: i64) -> Result<(), Unavailable> {
        let (Some((account, _)), Some(lease)) = (&taken.reserved, &taken.lease) else {
            return Ok(());
        };
        // Its leases have ended by now (a charge follows the settlement): nothing of this
        // request is renewed any more, whether or not it had a concurrency lease.
        if let Ok(mut leases) = self.leases.lock() {
            leases.remove(lease);
        }
        let mut inv = self.charge.prepare_invoke();
        for k in self.account_keys(account) {
            inv.key(k);
        }
        inv.arg(lease).arg(cost);
        self.run::<i64>(inv).await.map(drop)
    }

    /// Adds `amount` micro-USD (negative: takes it away) to an account.
    pub async fn credit(&self, account: &str, amount: i64) -> Result<(), Unavailable> {
        let key = &self.account_keys(account)[0];
        let cmd = redis::cmd("HINCRBY")
            .arg(key)
            .arg("credit")
            .arg(amount)
            .clone();
        self.query::<i64>(&cmd).await.map(drop)
    }

    /// Where an account stands, with `budget` from the config.
    pub async fn balance(&self, account: &str, budget: i64) -> Result<Balance, Unavailable> {
        let key = &self.account_keys(account)[0];
        let cmd = redis::cmd("HMGET")
            .arg(key)
            .arg("credit")
            .arg("spent")
            .arg("res")
            .clone();
        let (credit, spent, reserved): (Option<i64>, Option<i64>, Option<i64>) =
            self.query(&cmd).await?;
        Ok(Balance {
            budget,
            credit: credit.unwrap_or(0),
            spent: spent.unwrap_or(0),
            reserved: reserved.unwrap_or(0),
        })
    }

    /// Appends one ledger line to the shared ledger stream, trimmed to about `max` entries.
    pub async fn append_to_stream(&self, line: String, max: u64) -> Result<(), Unavailable> {
        let key = format!("{{{}}}:ledger", self.prefix);
        let cmd = redis::cmd("XADD")
            .arg(key)
            .arg("MAXLEN")
            .arg("~")
            .arg(max)
            .arg("*")
            .arg("line")
            .arg(line)
            .clone();
        self.query::<String>(&cmd).await.map(drop)
    }

    /// Up to `count` ledger lines of the stream after the entry `after` (`-`: from the
    /// start), with their entry ids, oldest first.
    pub async fn stream_page(
        &self,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, String)>, Unavailable> {
        let key = format!("{{{}}}:ledger", self.prefix);
        let start = if after == "-" {
            after.to_string()
        } else {
            format!("({after}")
        };
        let cmd = redis::cmd("XRANGE")
            .arg(key)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .clone();
        let entries: Vec<(String, HashMap<String, String>)> = self.query(&cmd).await?;
        Ok(entries
            .into_iter()
            .map(|(id, mut fields)| (id, fields.remove("line").unwrap_or_default()))
            .collect())
    }

    /// Renews this replica's leases every third of their time to live.
    fn start_renewing(self: &Arc<Self>) {
        if self.renewing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(every) = this.upgrade().map(|s| s.lease_ttl / 3) else {
                    return;
                };
                tokio::time::sleep(every).await;
                let Some(store) = this.upgrade() else { return };
                let held: Vec<(String, String)> = match store.leases.lock() {
                    Ok(leases) => leases
                        .iter()
                        .flat_map(|(lease, sets)| {
                            sets.iter().map(move |s| (s.clone(), lease.clone()))
                        })
                        .collect(),
                    Err(_) => Vec::new(),
                };
                if held.is_empty() {
                    continue;
                }
                let mut inv = store.renew.prepare_invoke();
                for (set, _) in &held {
                    inv.key(set);
                }
                inv.arg(store.lease_ttl.as_millis() as u64);
                for (_, lease) in &held {
                    inv.arg(lease);
                }
                let _: Result<i64, Unavailable> = store.run(inv).await;
            }
        });
    }
}
