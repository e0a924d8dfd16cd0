//! What a request costs, from the provider's own usage numbers and the config's prices, in
//! integer micro-USD (1 USD = 1,000,000): no floating point touches money.

pub mod ledger;

use crate::config::{Config, Price};
use crate::dialect::usage::Usage;
use crate::limits::estimate;
use std::collections::{BTreeMap, HashMap};

/// The prices of one config version, and each group's multiplier.
#[derive(Debug, Default)]
pub struct PriceBook {
    prices: BTreeMap<String, Price>,
    multipliers: HashMap<String, u64>,
}

const PPM: i128 = 1_000_000;

/// `n / d`, rounded half away from zero (for `n >= 0`, half up).
fn round_div(n: i128, d: i128) -> i128 {
    (n + d / 2) / d
}

/// What `usage` costs at `price`, times `multiplier_ppm` (millionths): cached reads and cache
/// writes at their own prices where the config gives them, the rest of the input at `input`,
/// all output (reasoning included) at `output`, plus the per-request price. One rounding, at
/// the end.
pub fn cost(price: &Price, usage: &Usage, multiplier_ppm: u64) -> i64 {
    let read = usage.input_cache_read.min(usage.input_total);
    let written = usage.input_cache_write.min(usage.input_total - read);
    let plain = usage.input_total - read - written;
    let tokens = |n: u64, per_million: i64| i128::from(n) * i128::from(per_million);
    // In micro-USD per million tokens, so per-request prices are scaled up to match.
    let scaled = tokens(plain, price.input)
        + tokens(read, price.cached_input.unwrap_or(price.input))
        + tokens(written, price.cache_write.unwrap_or(price.input))
        + tokens(usage.output_total, price.output)
        + i128::from(price.per_request.unwrap_or(0)) * PPM;
    let micro = round_div(scaled * i128::from(multiplier_ppm), PPM * PPM);
    i64::try_from(micro).unwrap_or(i64::MAX)
}

/// Micro-USD as US dollars with all six decimals: `-1.500000`.
pub fn usd(micro: i64) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let m = micro.unsigned_abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// The usage of an answer whose provider reported none: the prompt estimated from the request
/// body, the answer from `answer_bytes` (its generated content where that was counted, else
/// the bytes the client got), both at about four bytes a token.
pub fn estimate(request: &[u8], answer_bytes: u64) -> Usage {
    Usage {
        input_total: estimate::prompt_tokens(request),
        output_total: answer_bytes.div_ceil(4),
        ..Usage::default()
    }
}

impl PriceBook {
    pub fn new(config: &Config) -> Self {
        PriceBook {
            prices: config.pricing.clone(),
            multipliers: config
                .groups
                .iter()
                .map(|(name, g)| (name.clone(), g.price_multiplier_ppm))
                .collect(),
        }
    }

    /// The most a request for `model` by a key of `group` can cost with `input` prompt tokens
    /// and at most `output` answer tokens: what its key's balance must hold to admit it (`None`
    /// for a model without a price).
    pub fn worst_case(
        &self,
        model: &str,
        group: Option<&str>,
        input: u64,
        output: u64,
    ) -> Option<i64> {
        let usage = Usage {
            input_total: input,
            output_total: output,
            ..Usage::default()
        };
        let price = self.prices.get(model)?;
        // The dearest way those input tokens could be billed.
        let dearest = Price {
            input: price
                .input
                .max(price.cache_write.unwrap_or(0))
                .max(price.cached_input.unwrap_or(0)),
            ..*price
        };
        Some(cost(&dearest, &usage, self.multiplier(group)))
    }

    fn multiplier(&self, group: Option<&str>) -> u64 {
        group
            .and_then(|g| self.multipliers.get(g))
            .copied()
            .unwrap_or(1_000_000)
    }

    /// What a request for `model` by a key of `group` costs, if the model has a price.
    pub fn cost(&self, model: &str, group: Option<&str>, usage: &Usage) -> Option<i64> {
        let price = self.prices.get(model)?;
        Some(cost(price, usage, self.multiplier(group)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> Price {
        // gpt-4o's: $2.50 in, $10.00 out, $1.25 cached, per million tokens.
        Price {
            input: 2_500_000,
            output: 10_000_000,
            cached_input: Some(1_250_000),
            cache_write: None,
            per_request: None,
        }
    }

    fn usage(input: u64, read: u64, written: u64, output: u64) -> Usage {
        Usage {
            input_total: input,
            input_cache_read: read,
            input_cache_write: written,
            output_total: output,
            output_reasoning: 0,
        }
    }

    #[test]
    fn tokens_are_priced_by_kind_exactly() {
        // 1,000 in (400 from cache), 500 out: 600 × 2.5 + 400 × 1.25 + 500 × 10 = 7,000 µUSD.
        assert_eq!(cost(&price(), &usage(1000, 400, 0, 500), 1_000_000), 7_000);
        // Cache writes at the input price when they have none of their own.
        assert_eq!(cost(&price(), &usage(1000, 0, 1000, 0), 1_000_000), 2_500);
        let with_write = Price {
            cache_write: Some(3_125_000),
            ..price()
        };
        assert_eq!(
            cost(&with_write, &usage(1000, 0, 1000, 0), 1_000_000),
            3_125
        );
        // A million output tokens are $10 exactly.
        assert_eq!(
            cost(&price(), &usage(0, 0, 0, 1_000_000), 1_000_000),
            10_000_000
        );
    }

    #[test]
    fn the_multiplier_and_per_request_price_apply_and_rounding_happens_once() {
        // 3 in, 3 out at gpt-4o-mini's $0.15 / $0.60: 2.25 µUSD, rounded once to 2.
        let mini = Price {
            input: 150_000,
            output: 600_000,
            cached_input: None,
            cache_write: None,
            per_request: None,
        };
        assert_eq!(cost(&mini, &usage(3, 0, 0, 3), 1_000_000), 2);
        // × 1.5 = 3.375 → 3; × 2 = 4.5 → 5 (half up).
        assert_eq!(cost(&mini, &usage(3, 0, 0, 3), 1_500_000), 3);
        assert_eq!(cost(&mini, &usage(3, 0, 0, 3), 2_000_000), 5);
        let per_request = Price {
            per_request: Some(10_000),
            ..mini
        };
        assert_eq!(cost(&per_request, &usage(3, 0, 0, 3), 1_000_000), 10_002);
        assert_eq!(cost(&per_request, &usage(0, 0, 0, 0), 0), 0);
        // Usage that claims more cached than total input is not charged twice.
        assert_eq!(cost(&price(), &usage(100, 500, 500, 0), 1_000_000), 125);
    }
}
