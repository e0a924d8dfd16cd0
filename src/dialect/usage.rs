//! Token usage, normalised across dialects (reference: dialects.md §3.3).
//!
//! Every dialect reports usage as a snapshot, never a delta: the last value seen wins.

use serde::Deserialize;

/// Tokens one request consumed, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub input_total: u64,
    /// Prompt tokens served from the provider's cache (a subset of `input_total`).
    pub input_cache_read: u64,
    /// Prompt tokens written to the provider's cache (a subset of `input_total`).
    pub input_cache_write: u64,
    /// All output tokens, reasoning included.
    pub output_total: u64,
    /// Reasoning tokens (a subset of `output_total`).
    pub output_reasoning: u64,
}

/// OpenAI's `CompletionUsage` (Chat Completions), the fields that matter for billing.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<OpenAiPromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<OpenAiCompletionDetails>,
}

#[derive(Debug, Deserialize)]
struct OpenAiPromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct OpenAiCompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<OpenAiUsage> for Usage {
    fn from(u: OpenAiUsage) -> Self {
        let prompt = u.prompt_tokens_details.as_ref();
        Usage {
            input_total: u.prompt_tokens,
            input_cache_read: prompt.and_then(|p| p.cached_tokens).unwrap_or(0),
            input_cache_write: prompt.and_then(|p| p.cache_write_tokens).unwrap_or(0),
            output_total: u.completion_tokens,
            output_reasoning: u
                .completion_tokens_details
                .and_then(|c| c.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

impl Usage {
    /// Parses an OpenAI Chat `usage` object; `None` for `null` or anything malformed.
    pub fn from_openai_json(raw: &[u8]) -> Option<Usage> {
        serde_json::from_slice::<Option<OpenAiUsage>>(raw)
            .ok()
            .flatten()
            .map(Usage::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_usage_subsets_are_kept_apart() {
        let raw = br#"{"prompt_tokens":162,"completion_tokens":219,"total_tokens":381,
            "prompt_tokens_details":{"cached_tokens":100,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0}}"#;
        assert_eq!(
            Usage::from_openai_json(raw),
            Some(Usage {
                input_total: 162,
                input_cache_read: 100,
                input_cache_write: 0,
                output_total: 219,
                output_reasoning: 192,
            })
        );
        assert_eq!(Usage::from_openai_json(b"null"), None);
        assert_eq!(Usage::from_openai_json(b"\"x\""), None);
    }
}
