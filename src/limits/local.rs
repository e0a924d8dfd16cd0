//! Limits kept in this process: exact for the requests it serves, no other service needed.
//!
//! One lock covers every scope, so a request's checks and takes across its key, group and
//! provider are all or nothing: two requests can never both see the last unit free.

use super::window::{Window, SLOTS};
use super::{
    Balance, Charge, Kind, Meter, Quota, Refusal, Rejection, Scope, ScopeKind, Shortfall, Taken,
    TakenScope,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

#[derive(Debug, Default)]
struct State {
    rpm: Option<Window>,
    rpd: Option<Window>,
    tpm: Option<Window>,
    inflight: u64,
    /// A key's account: credits added, spent and reserved micro-USD (its budget is the
    /// config's).
    credit: i64,
    spent: i64,
    reserved: i64,
}

#[derive(Debug)]
pub struct Local {
    epoch: Instant,
    scopes: Mutex<HashMap<Arc<str>, State>>,
}

impl Default for Local {
    fn default() -> Self {
        Local {
            epoch: Instant::now(),
            scopes: Mutex::new(HashMap::new()),
        }
    }
}

fn window(slot: &mut Option<Window>, period_ms: u64) -> &mut Window {
    slot.get_or_insert_with(|| Window::new(period_ms / SLOTS))
}

fn ms(d: u64) -> Duration {
    Duration::from_millis(d)
}

impl Local {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, State>> {
        // A panic while holding the lock leaves counts that are still consistent: every
        // change under it is a single assignment.
        self.scopes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks every scope and the account to charge, and, if all allow it, takes one request,
    /// a lease, `tokens`, and the charge's reserve.
    pub(crate) fn admit(
        &self,
        scopes: &[Scope],
        tokens: u64,
        charge: Option<&Charge>,
    ) -> Result<(Taken, Quota), Refusal> {
        let now = self.now_ms();
        let mut map = self.lock();
        if let Some(c) = charge {
            let st = map.entry(c.account.clone()).or_default();
            let available = Balance {
                budget: c.budget,
                credit: st.credit,
                spent: st.spent,
                reserved: st.reserved,
            }
            .available();
            if available <= 0 || available < c.reserve {
                return Err(Refusal::Balance(Shortfall {
                    available,
                    needed: c.reserve,
                }));
            }
        }
        for s in scopes {
            let st = map.entry(s.id.clone()).or_default();
            let l = &s.limits;
            let reject = |kind, limit: u64, wait: u64| Rejection {
                scope: s.kind,
                name: s.name.clone(),
                kind,
                limit,
                retry_after: ms(wait),
            };
            if let Some(limit) = l.rpm {
                let wait = window(&mut st.rpm, MINUTE_MS).wait(now, 1, limit.into());
                if wait > 0 {
                    return Err(Refusal::Limit(reject(Kind::Rpm, limit.into(), wait)));
                }
            }
            if let Some(limit) = l.rpd {
                let wait = window(&mut st.rpd, DAY_MS).wait(now, 1, limit.into());
                if wait > 0 {
                    return Err(Refusal::Limit(reject(Kind::Rpd, limit.into(), wait)));
                }
            }
            if let Some(limit) = l.concurrency {
                if st.inflight >= u64::from(limit) {
                    // A lease frees when a request ends, which no clock can tell.
                    return Err(Refusal::Limit(reject(
                        Kind::Concurrency,
                        limit.into(),
                        1000,
                    )));
                }
            }
            if let Some(limit) = l.tpm {
                let w = window(&mut st.tpm, MINUTE_MS);
                // A request larger than the whole limit runs alone, in an empty window.
                let need = tokens.min(limit);
                let used = w.used(now);
                if used > 0 && used.saturating_add(need) > limit {
                    let wait = w.wait(now, need, limit);
                    return Err(Refusal::Limit(reject(Kind::Tpm, limit, wait)));
                }
            }
        }
        let mut taken = Vec::with_capacity(scopes.len());
        let mut quota = Quota::default();
        for s in scopes {
            let st = map.entry(s.id.clone()).or_default();
            let l = &s.limits;
            let mut t = TakenScope {
                id: s.id.clone(),
                ..TakenScope::default()
            };
            if let Some(limit) = l.rpm {
                let w = window(&mut st.rpm, MINUTE_MS);
                t.rpm_bucket = Some(w.add(now, 1));
                if s.kind != ScopeKind::Provider {
                    quota.requests = Meter::tighter(quota.requests, meter(w, now, limit.into()));
                }
            }
            if l.rpd.is_some() {
                t.rpd_bucket = Some(window(&mut st.rpd, DAY_MS).add(now, 1));
            }
            if l.concurrency.is_some() {
                st.inflight += 1;
                t.lease = true;
            }
            if let Some(limit) = l.tpm {
                let w = window(&mut st.tpm, MINUTE_MS);
                t.tpm_bucket = Some(w.add(now, tokens));
                t.tokens = tokens;
                if s.kind != ScopeKind::Provider {
                    quota.tokens = Meter::tighter(quota.tokens, meter(w, now, limit));
                }
            }
            taken.push(t);
        }
        let reserved = charge.map(|c| {
            map.entry(c.account.clone()).or_default().reserved += c.reserve;
            (c.account.clone(), c.reserve)
        });
        Ok((
            Taken {
                scopes: taken,
                lease: None,
                reserved,
            },
            quota,
        ))
    }

    /// Frees what `taken` reserved in its account and charges `cost` to it.
    pub(crate) fn charge(&self, taken: &Taken, cost: i64) {
        if let Some((account, reserved)) = &taken.reserved {
            let mut map = self.lock();
            let st = map.entry(account.clone()).or_default();
            st.reserved -= reserved;
            st.spent = st.spent.saturating_add(cost);
        }
    }

    /// Adds `amount` micro-USD (negative: takes it away) to an account.
    pub(crate) fn credit(&self, account: &Arc<str>, amount: i64) {
        let mut map = self.lock();
        let st = map.entry(account.clone()).or_default();
        st.credit = st.credit.saturating_add(amount);
    }

    /// Sets what an account spent and was credited, as the ledger says: at start.
    pub(crate) fn restore(&self, account: &Arc<str>, spent: i64, credit: i64) {
        let mut map = self.lock();
        let st = map.entry(account.clone()).or_default();
        st.spent = spent;
        st.credit = credit;
    }

    /// Where an account stands, with `budget` from the config.
    pub(crate) fn balance(&self, account: &str, budget: i64) -> Balance {
        let map = self.lock();
        let st = map.get(account);
        Balance {
            budget,
            credit: st.map_or(0, |s| s.credit),
            spent: st.map_or(0, |s| s.spent),
            reserved: st.map_or(0, |s| s.reserved),
        }
    }

    /// Frees the concurrency leases of `taken`.
    pub(crate) fn end_lease(&self, taken: &Taken) {
        let mut map = self.lock();
        for t in taken.scopes.iter().filter(|t| t.lease) {
            if let Some(st) = map.get_mut(&t.id) {
                st.inflight = st.inflight.saturating_sub(1);
            }
        }
    }

    /// Corrects the tokens reserved in `taken` to `used`.
    pub(crate) fn settle(&self, taken: &Taken, used: u64) {
        let mut map = self.lock();
        for t in &taken.scopes {
            let (Some(bucket), Some(st)) = (t.tpm_bucket, map.get_mut(&t.id)) else {
                continue;
            };
            if let Some(w) = st.tpm.as_mut() {
                w.adjust(bucket, super::signed(used) - super::signed(t.tokens));
            }
        }
    }

    /// Gives back the request and the tokens `taken` took: the request was turned away after
    /// all.
    pub(crate) fn refund(&self, taken: &Taken) {
        let mut map = self.lock();
        for t in &taken.scopes {
            let Some(st) = map.get_mut(&t.id) else {
                continue;
            };
            if let (Some(b), Some(w)) = (t.rpm_bucket, st.rpm.as_mut()) {
                w.adjust(b, -1);
            }
            if let (Some(b), Some(w)) = (t.rpd_bucket, st.rpd.as_mut()) {
                w.adjust(b, -1);
            }
            if let (Some(b), Some(w)) = (t.tpm_bucket, st.tpm.as_mut()) {
                w.adjust(b, -super::signed(t.tokens));
            }
        }
    }

    /// Requests in flight in a scope.
    #[cfg(test)]
    fn inflight(&self, id: &str) -> u64 {
        self.lock().get(id).map_or(0, |s| s.inflight)
    }
}

fn meter(w: &Window, now: u64, limit: u64) -> Meter {
    Meter {
        limit,
        remaining: limit.saturating_sub(w.used(now)),
        reset: ms(w.next_release(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;

    impl Local {
        fn take(&self, scopes: &[Scope], tokens: u64) -> Result<(Taken, Quota), Rejection> {
            self.admit(scopes, tokens, None).map_err(|r| match r {
                Refusal::Limit(r) => r,
                other => panic!("{other:?}"),
            })
        }
    }

    #[test]
    fn an_account_admits_only_what_it_can_pay_for_and_is_charged_the_real_cost() {
        let local = Local::default();
        let charge = |reserve| Charge {
            account: Charge::account_of("alice"),
            budget: 1_000,
            reserve,
        };
        let (a, _) = local.admit(&[], 0, Some(&charge(600))).unwrap();
        // 400 left while the first may still cost 600.
        let refused = local.admit(&[], 0, Some(&charge(600))).unwrap_err();
        assert!(matches!(
            refused,
            Refusal::Balance(Shortfall {
                available: 400,
                needed: 600
            })
        ));
        local.charge(&a, 250);
        assert_eq!(
            local.balance("k:alice", 1_000),
            Balance {
                budget: 1_000,
                credit: 0,
                spent: 250,
                reserved: 0
            }
        );
        let (b, _) = local.admit(&[], 0, Some(&charge(750))).unwrap();
        local.charge(&b, 750);
        // Nothing left: even a request that may cost nothing is refused.
        assert!(local.admit(&[], 0, Some(&charge(0))).is_err());
        local.credit(&Charge::account_of("alice"), 5);
        assert!(local.admit(&[], 0, Some(&charge(5))).is_ok());
    }

    fn key(limits: Limits) -> Scope {
        Scope::new(ScopeKind::Key, "alice", limits)
    }

    #[test]
    fn requests_per_minute_admit_exactly_the_limit() {
        let local = Local::default();
        let s = [key(Limits {
            rpm: Some(50),
            ..Limits::default()
        })];
        let admitted = (0..200).filter(|_| local.take(&s, 0).is_ok()).count();
        assert_eq!(admitted, 50);
        let Err(r) = local.take(&s, 0) else {
            panic!("admitted past the limit")
        };
        assert_eq!((r.kind, r.limit, r.scope), (Kind::Rpm, 50, ScopeKind::Key));
        assert!(
            r.retry_after > Duration::from_secs(59),
            "{:?}",
            r.retry_after
        );
    }

    #[test]
    fn a_request_must_pass_every_scope_and_takes_nothing_when_one_refuses() {
        let local = Local::default();
        let group = Scope::new(
            ScopeKind::Group,
            "team",
            Limits {
                rpm: Some(2),
                ..Limits::default()
            },
        );
        let alice = [key(Limits::default()), group.clone()];
        let bob = [
            Scope::new(
                ScopeKind::Key,
                "bob",
                Limits {
                    concurrency: Some(1),
                    ..Limits::default()
                },
            ),
            group,
        ];
        let (held, _) = local.take(&bob, 0).unwrap();
        assert!(local.take(&alice, 0).is_ok());
        // The group is full now: neither may go, and bob's lease count is untouched by the try.
        assert_eq!(local.take(&alice, 0).unwrap_err().scope, ScopeKind::Group);
        local.end_lease(&held);
        assert_eq!(local.inflight("k:bob"), 0);
        assert_eq!(local.take(&bob, 0).unwrap_err().kind, Kind::Rpm);
        assert_eq!(local.inflight("k:bob"), 0);
    }

    #[test]
    fn concurrency_counts_leases_until_they_end() {
        let local = Local::default();
        let s = [key(Limits {
            concurrency: Some(2),
            ..Limits::default()
        })];
        let a = local.take(&s, 0).unwrap().0;
        let _b = local.take(&s, 0).unwrap().0;
        assert_eq!(local.take(&s, 0).unwrap_err().kind, Kind::Concurrency);
        local.end_lease(&a);
        assert!(local.take(&s, 0).is_ok());
        assert_eq!(local.inflight("k:alice"), 2);
    }

    #[test]
    fn tokens_are_reserved_then_settled_to_what_was_used() {
        let local = Local::default();
        let s = [key(Limits {
            tpm: Some(1000),
            ..Limits::default()
        })];
        let (a, quota) = local.take(&s, 600).unwrap();
        assert_eq!(
            quota.tokens.map(|m| (m.limit, m.remaining)),
            Some((1000, 400))
        );
        // 600 + 600 would pass the limit: refused while the first is reserved.
        assert_eq!(local.take(&s, 600).unwrap_err().kind, Kind::Tpm);
        local.settle(&a, 150);
        let (_, quota) = local.take(&s, 600).unwrap();
        assert_eq!(quota.tokens.map(|m| m.remaining), Some(250));
        // A request larger than the whole limit waits for an empty window.
        assert_eq!(local.take(&s, 5000).unwrap_err().kind, Kind::Tpm);
        let fresh = Local::default();
        assert!(fresh.take(&s, 5000).is_ok());
    }

    #[test]
    fn a_refund_gives_back_the_request_and_its_tokens() {
        let local = Local::default();
        let s = [key(Limits {
            rpm: Some(1),
            tpm: Some(100),
            ..Limits::default()
        })];
        let (a, _) = local.take(&s, 80).unwrap();
        assert!(local.take(&s, 10).is_err());
        local.refund(&a);
        let (_, quota) = local.take(&s, 80).unwrap();
        assert_eq!(quota.requests.map(|m| m.remaining), Some(0));
        assert_eq!(quota.tokens.map(|m| m.remaining), Some(20));
    }
}
