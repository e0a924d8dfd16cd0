//! Gemini `usageMetadata` to and from [`Usage`] (reference: dialects.md §1.D, §3.3).

use crate::dialect::usage::Usage;
use serde_json::{json, Map, Value};

fn count(m: &Value, key: &str) -> u64 {
    m.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Reads a `usageMetadata` object; `None` when there is none.
///
/// `candidatesTokenCount` excludes thoughts, so output is candidates + thoughts; the tool-use
/// prompt (tokens of a built-in tool's results) is prompt the model read.
pub(crate) fn from_metadata(m: &Value) -> Option<Usage> {
    if !m.is_object() {
        return None;
    }
    let thoughts = count(m, "thoughtsTokenCount");
    Some(Usage {
        input_total: count(m, "promptTokenCount")
            .saturating_add(count(m, "toolUsePromptTokenCount")),
        input_cache_read: count(m, "cachedContentTokenCount"),
        input_cache_write: 0,
        output_total: count(m, "candidatesTokenCount").saturating_add(thoughts),
        output_reasoning: thoughts,
    })
}

/// Every field's largest value: each snapshot is cumulative, and some chunks leave fields out
/// that an earlier one had (reference §2.D), so neither summing nor plain replacing is right.
pub(crate) fn merge(prev: Option<Usage>, next: Usage) -> Usage {
    let Some(p) = prev else { return next };
    Usage {
        input_total: p.input_total.max(next.input_total),
        input_cache_read: p.input_cache_read.max(next.input_cache_read),
        input_cache_write: p.input_cache_write.max(next.input_cache_write),
        output_total: p.output_total.max(next.output_total),
        output_reasoning: p.output_reasoning.max(next.output_reasoning),
    }
}

/// The `usageMetadata` a Gemini client expects for `u`; counts Gemini leaves out when they are
/// zero (cache, thoughts) are left out too.
pub(crate) fn metadata(u: &Usage) -> Value {
    let mut m = Map::new();
    m.insert("promptTokenCount".into(), json!(u.input_total));
    let candidates = u.output_total.saturating_sub(u.output_reasoning);
    m.insert("candidatesTokenCount".into(), json!(candidates));
    m.insert(
        "totalTokenCount".into(),
        json!(u.input_total.saturating_add(u.output_total)),
    );
    if u.input_cache_read > 0 {
        m.insert("cachedContentTokenCount".into(), json!(u.input_cache_read));
    }
    if u.output_reasoning > 0 {
        m.insert("thoughtsTokenCount".into(), json!(u.output_reasoning));
    }
    Value::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn thoughts_are_output_and_tool_prompts_are_input() {
        let m = json!({"promptTokenCount": 9, "candidatesTokenCount": 4, "thoughtsTokenCount": 120,
            "toolUsePromptTokenCount": 3, "cachedContentTokenCount": 5, "totalTokenCount": 136});
        let u = from_metadata(&m).unwrap();
        assert_eq!(
            u,
            Usage {
                input_total: 12,
                input_cache_read: 5,
                input_cache_write: 0,
                output_total: 124,
                output_reasoning: 120
            }
        );
        assert_eq!(
            metadata(&u),
            json!({"promptTokenCount": 12, "candidatesTokenCount": 4, "totalTokenCount": 136,
                "cachedContentTokenCount": 5, "thoughtsTokenCount": 120})
        );
        assert_eq!(from_metadata(&Value::Null), None);
    }

    #[test]
    fn snapshots_merge_field_by_field_never_summed() {
        let early = from_metadata(&json!({"promptTokenCount": 9, "totalTokenCount": 9})).unwrap();
        let late = from_metadata(&json!({"candidatesTokenCount": 4})).unwrap();
        let u = merge(Some(merge(None, early)), late);
        assert_eq!((u.input_total, u.output_total), (9, 4));
        assert_eq!(merge(Some(u), u), u);
    }
}
