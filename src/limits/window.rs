//! A sliding window of counts: requests per minute or per day, tokens per minute.
//!
//! The window is cut into [`SLOTS`] buckets of `width`, and a check counts every bucket that
//! overlaps the last `SLOTS × width`: the current one and the [`SLOTS`] before it. So whatever
//! was taken within the window is always counted — no fixed window that admits twice the limit
//! across its boundary — and an amount is counted for at most one bucket longer than the
//! window (a second for a minute, 24 minutes for a day).

/// Buckets per window.
pub const SLOTS: u64 = 60;

/// Buckets kept: the window's, and the one it is entering.
const KEPT: usize = SLOTS as usize + 1;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    bucket: u64,
    amount: u64,
}

#[derive(Debug, Clone)]
pub struct Window {
    /// Milliseconds per bucket.
    width: u64,
    slots: [Slot; KEPT],
}

impl Window {
    /// A window of `SLOTS × width_ms` milliseconds.
    pub fn new(width_ms: u64) -> Self {
        Window {
            width: width_ms.max(1),
            slots: [Slot::default(); KEPT],
        }
    }

    /// The bucket of an instant, in milliseconds since the limiter's epoch.
    pub fn bucket(&self, now_ms: u64) -> u64 {
        now_ms / self.width
    }

    fn counted(&self, bucket: u64, now: u64) -> bool {
        bucket + SLOTS >= now && bucket <= now
    }

    /// The amount taken within the window at `now_ms`.
    pub fn used(&self, now_ms: u64) -> u64 {
        let now = self.bucket(now_ms);
        self.slots
            .iter()
            .filter(|s| s.amount > 0 && self.counted(s.bucket, now))
            .map(|s| s.amount)
            .sum()
    }

    /// Takes `amount` at `now_ms`; returns the bucket it went to, for [`Window::adjust`].
    pub fn add(&mut self, now_ms: u64, amount: u64) -> u64 {
        let now = self.bucket(now_ms);
        let slot = &mut self.slots[(now % KEPT as u64) as usize];
        if slot.bucket != now {
            *slot = Slot {
                bucket: now,
                amount: 0,
            };
        }
        slot.amount = slot.amount.saturating_add(amount);
        now
    }

    /// Corrects what was taken in `bucket` by `delta`, if that bucket is still kept: a token
    /// reservation settled to the real usage, or a request given back.
    pub fn adjust(&mut self, bucket: u64, delta: i64) {
        let slot = &mut self.slots[(bucket % KEPT as u64) as usize];
        if slot.bucket == bucket {
            slot.amount = slot.amount.saturating_add_signed(delta);
        }
    }

    /// How long from `now_ms` until `need` more fits under `limit`, in milliseconds: 0 when
    /// it fits now, otherwise when enough of the oldest buckets have left the window.
    pub fn wait(&self, now_ms: u64, need: u64, limit: u64) -> u64 {
        if self.used(now_ms).saturating_add(need) <= limit {
            return 0;
        }
        let now = self.bucket(now_ms);
        let mut live: Vec<Slot> = self
            .slots
            .iter()
            .copied()
            .filter(|s| s.amount > 0 && self.counted(s.bucket, now))
            .collect();
        live.sort_by_key(|s| s.bucket);
        let mut used: u64 = live.iter().map(|s| s.amount).sum();
        if used.saturating_add(need) <= limit {
            return 0;
        }
        for s in &live {
            used -= s.amount;
            if used.saturating_add(need) <= limit {
                // The bucket leaves the window once `SLOTS + 1` buckets have begun after it.
                return ((s.bucket + SLOTS + 1) * self.width).saturating_sub(now_ms);
            }
        }
        // More than the whole limit: it fits once the window is empty.
        live.last().map_or(0, |s| {
            ((s.bucket + SLOTS + 1) * self.width).saturating_sub(now_ms)
        })
    }

    /// How long from `now_ms` until the oldest amount still counted leaves the window.
    pub fn next_release(&self, now_ms: u64) -> u64 {
        let now = self.bucket(now_ms);
        self.slots
            .iter()
            .filter(|s| s.amount > 0 && self.counted(s.bucket, now))
            .map(|s| ((s.bucket + SLOTS + 1) * self.width).saturating_sub(now_ms))
            .min()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1000;

    #[test]
    fn counts_everything_taken_within_the_window_and_nothing_older() {
        let mut w = Window::new(SECOND);
        w.add(0, 5);
        w.add(30 * SECOND, 3);
        assert_eq!(w.used(30 * SECOND), 8);
        // The first bucket is counted until a whole window has passed after it.
        assert_eq!(w.used(60 * SECOND + 999), 8);
        assert_eq!(w.used(61 * SECOND), 3);
        assert_eq!(w.used(91 * SECOND), 0);
    }

    #[test]
    fn no_boundary_lets_twice_the_limit_through() {
        // Whatever instants requests arrive at, no 60 s span holds more than the limit when
        // each is admitted only while `used + 1 <= limit`.
        let limit = 10;
        let mut w = Window::new(SECOND);
        let mut admitted = Vec::new();
        for t in (0..240_000).step_by(250) {
            if w.used(t) < limit {
                w.add(t, 1);
                admitted.push(t);
            }
        }
        for &start in &admitted {
            let inside = admitted
                .iter()
                .filter(|&&t| t >= start && t < start + 60 * SECOND)
                .count();
            assert!(inside <= limit as usize, "{inside} within 60 s of {start}");
        }
        assert!(admitted.len() >= 30, "{}", admitted.len());
    }

    #[test]
    fn adjusting_corrects_a_kept_bucket_only() {
        let mut w = Window::new(SECOND);
        let b = w.add(1500, 100);
        w.adjust(b, -70);
        assert_eq!(w.used(2000), 30);
        w.adjust(b, 20);
        assert_eq!(w.used(2000), 50);
        w.adjust(b, -1000);
        assert_eq!(w.used(2000), 0);
        // A bucket that was reused since is left alone.
        let old = w.add(3000, 7);
        w.add(3000 + 61 * SECOND, 1);
        w.adjust(old, 1000);
        assert_eq!(w.used(3000 + 61 * SECOND), 1);
    }

    #[test]
    fn the_wait_is_until_enough_has_left_the_window() {
        let mut w = Window::new(SECOND);
        w.add(0, 6);
        w.add(10 * SECOND, 4);
        assert_eq!(w.wait(20 * SECOND, 0, 10), 0);
        // One more needs the first bucket gone: at 61 s.
        assert_eq!(w.wait(20 * SECOND, 1, 10), 41 * SECOND);
        // Seven more need both gone: at 71 s.
        assert_eq!(w.wait(20 * SECOND, 7, 10), 51 * SECOND);
        assert_eq!(w.next_release(20 * SECOND + 500), 40 * SECOND + 500);
        assert_eq!(Window::new(SECOND).next_release(5), 0);
    }
}
