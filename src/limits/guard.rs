//! Failed authentications per client address: past the limit, an address gets 429 before its
//! key is even looked at, so keys cannot be guessed at line rate.
//!
//! Counted with Pingora's estimator (a count-min sketch per minute, weighted across two
//! minutes): memory stays fixed however many addresses try, and a collision can only make an
//! address look worse, never let one through that is over.

use pingora_limits::rate::Rate;
use std::net::IpAddr;
use std::time::Duration;

pub struct AuthGuard {
    rate: Rate,
    per_minute: u32,
}

/// The unit an attacker cannot cheaply multiply: one IPv4 address, or an IPv6 /64 (one site's
/// subnet: any host in it can take any address in it).
fn unit(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

impl AuthGuard {
    /// `per_minute` failures are allowed; 0 turns the guard off.
    pub fn new(per_minute: u32) -> Self {
        AuthGuard {
            rate: Rate::new(Duration::from_secs(60)),
            per_minute,
        }
    }

    /// Whether `ip` has failed too often to be heard.
    pub fn blocked(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return false;
        }
        let failures = self.rate.rate_with(&unit(ip), |r| {
            r.prev_samples as f64 * (1.0 - r.current_interval_fraction) + r.curr_samples as f64
        });
        failures >= f64::from(self.per_minute)
    }

    /// Counts a failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        if self.per_minute > 0 {
            self.rate.observe(&unit(ip), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_cut_off_at_its_limit_and_others_are_not() {
        let guard = AuthGuard::new(5);
        let bad: IpAddr = "203.0.113.7".parse().unwrap_or(IpAddr::from([0; 4]));
        let good: IpAddr = "198.51.100.9".parse().unwrap_or(IpAddr::from([0; 4]));
        for _ in 0..5 {
            assert!(!guard.blocked(bad));
            guard.failed(bad);
        }
        assert!(guard.blocked(bad));
        assert!(!guard.blocked(good));
    }

    #[test]
    fn ipv6_counts_by_subnet() {
        let guard = AuthGuard::new(3);
        for host in 1..=3u16 {
            guard.failed(IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, host]));
        }
        assert!(guard.blocked(IpAddr::from([0x2001, 0xdb8, 1, 2, 9, 9, 9, 9])));
        assert!(!guard.blocked(IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1])));
        guard.failed("::ffff:192.0.2.1".parse().unwrap_or(IpAddr::from([0; 4])));
        assert_eq!(
            unit("::ffff:192.0.2.1".parse().unwrap_or(IpAddr::from([0; 4]))),
            IpAddr::from([192, 0, 2, 1])
        );
        let off = AuthGuard::new(0);
        off.failed(IpAddr::from([1, 2, 3, 4]));
        assert!(!off.blocked(IpAddr::from([1, 2, 3, 4])));
    }
}
