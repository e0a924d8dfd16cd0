//! Latency samples in microseconds, summed up as the percentiles the report shows.

use serde_json::{json, Value};
use std::time::Duration;

#[derive(Default)]
pub struct Samples(Vec<u32>);

impl Samples {
    pub fn add(&mut self, d: Duration) {
        self.0
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `{count, p50, p90, p99, p999, max, mean}`, in microseconds (null when empty).
    pub fn summary(mut self) -> Value {
        if self.0.is_empty() {
            return json!({ "count": 0 });
        }
        self.0.sort_unstable();
        let n = self.0.len();
        let at = |q: f64| self.0[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
        let mean = self.0.iter().map(|&v| u64::from(v)).sum::<u64>() as f64 / n as f64;
        json!({
            "count": n,
            "p50": at(0.50),
            "p90": at(0.90),
            "p99": at(0.99),
            "p999": at(0.999),
            "max": self.0[n - 1],
            "mean": (mean * 10.0).round() / 10.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Samples::default();
        for us in 1..=1000u64 {
            s.add(Duration::from_micros(us));
        }
        let v = s.summary();
        assert_eq!(v["p50"], 500);
        assert_eq!(v["p99"], 990);
        assert_eq!(v["p999"], 999);
        assert_eq!(v["max"], 1000);
        assert_eq!(v["mean"], 500.5);
    }
}
