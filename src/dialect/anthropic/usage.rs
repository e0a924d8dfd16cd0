//! Anthropic's usage object to and from [`Usage`] (reference: dialects.md §1.C, §2.C, §3.3).
//!
//! Anthropic's `input_tokens` leaves out cache reads and writes; the IR's `input_total` counts
//! them, so the two are converted here and nowhere else.

use crate::dialect::usage::Usage;
use serde_json::{json, Value};

/// Usage fields as the provider last reported each of them.
///
/// A stream reports usage in `message_start` and again, cumulatively, in `message_delta`, which
/// may carry only `output_tokens`, and some compatible providers put zeros there for what they
/// reported at the start: a later report replaces a field only when it names it, and a zero never
/// hides an input count already known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WireUsage {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    output: Option<u64>,
    thinking: Option<u64>,
}

impl WireUsage {
    /// Takes in one `usage` object; returns whether it held any count.
    pub(super) fn merge(&mut self, v: &Value) -> bool {
        let Some(obj) = v.as_object() else {
            return false;
        };
        let read = |key: &str| obj.get(key).and_then(Value::as_u64);
        let input_field = |slot: &mut Option<u64>, value: Option<u64>| match value {
            Some(0) if slot.is_some_and(|known| known > 0) => false,
            Some(n) => {
                *slot = Some(n);
                true
            }
            None => false,
        };
        let mut any = input_field(&mut self.input, read("input_tokens"));
        any |= input_field(&mut self.cache_read, read("cache_read_input_tokens"));
        any |= input_field(&mut self.cache_write, read("cache_creation_input_tokens"));
        if let Some(n) = read("output_tokens") {
            self.output = Some(n);
            any = true;
        }
        let thinking = obj
            .get("output_tokens_details")
            .and_then(|d| d.get("thinking_tokens"))
            .and_then(Value::as_u64);
        if let Some(n) = thinking {
            self.thinking = Some(n);
            any = true;
        }
        any
    }

    pub(super) fn usage(&self) -> Usage {
        let (read, write) = (self.cache_read.unwrap_or(0), self.cache_write.unwrap_or(0));
        Usage {
            input_total: self
                .input
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(write),
            input_cache_read: read,
            input_cache_write: write,
            output_total: self.output.unwrap_or(0),
            output_reasoning: self.thinking.unwrap_or(0),
        }
    }
}

/// A whole answer's `usage`; `None` when it holds no count.
pub(super) fn usage_from(v: &Value) -> Option<Usage> {
    let mut w = WireUsage::default();
    w.merge(v).then(|| w.usage())
}

/// Anthropic's `input_tokens`: the prompt tokens that were neither read from nor written to the
/// cache.
fn uncached_input(u: &Usage) -> u64 {
    u.input_total
        .saturating_sub(u.input_cache_read)
        .saturating_sub(u.input_cache_write)
}

/// The `usage` of a whole answer and of `message_delta`.
pub(super) fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": uncached_input(u),
        "cache_creation_input_tokens": u.input_cache_write,
        "cache_read_input_tokens": u.input_cache_read,
        "output_tokens": u.output_total,
    })
}

/// The `usage` of `message_start`, in the full shape the real API sends: strict clients (Claude
/// Code) have stopped reading streams whose start lacked the cache fields (litellm #24176).
/// The cache write is reported as the 5-minute kind, the default one.
pub(super) fn start_usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": uncached_input(u),
        "cache_creation_input_tokens": u.input_cache_write,
        "cache_read_input_tokens": u.input_cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": u.input_cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": u.output_total,
        "service_tier": "standard",
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_counts_join_the_input_total_and_split_off_again() {
        let raw = json!({"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,
            "output_tokens":89,"output_tokens_details":{"thinking_tokens":40}});
        let u = usage_from(&raw).unwrap();
        assert_eq!(
            u,
            Usage {
                input_total: 2125,
                input_cache_read: 2000,
                input_cache_write: 100,
                output_total: 89,
                output_reasoning: 40,
            }
        );
        assert_eq!(
            usage_json(&u),
            json!({"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":89})
        );
        assert_eq!(usage_from(&json!(null)), None);
        assert_eq!(usage_from(&json!({})), None);
    }

    #[test]
    fn a_delta_overwrites_what_it_names_and_never_zeroes_the_input() {
        let mut w = WireUsage::default();
        w.merge(&json!({"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}));
        w.merge(&json!({"output_tokens":89}));
        assert_eq!((w.usage().input_total, w.usage().output_total), (35, 89));
        w.merge(&json!({"input_tokens":0,"cache_read_input_tokens":0,"output_tokens":120}));
        assert_eq!((w.usage().input_total, w.usage().output_total), (35, 120));
        let mut huge = WireUsage::default();
        huge.merge(&json!({"input_tokens":u64::MAX,"cache_read_input_tokens":u64::MAX}));
        assert_eq!(huge.usage().input_total, u64::MAX, "no overflow");
        // A provider that reports the input only at the end.
        let mut late = WireUsage::default();
        late.merge(&json!({"input_tokens":0,"output_tokens":1}));
        late.merge(&json!({"input_tokens":30,"output_tokens":7}));
        assert_eq!(late.usage().input_total, 30);
    }
}
