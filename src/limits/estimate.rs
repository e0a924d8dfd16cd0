//! A quick, generous estimate of a request's prompt tokens, for the tokens-per-minute
//! reservation made before the provider says what it really used.
//!
//! It reads bytes, not JSON: about four bytes of a body per token, which over-counts the JSON
//! around the text (so the reservation errs high, and settlement gives the rest back). Inline
//! images and files are long runs of base64 that the providers bill by picture, not by byte;
//! each such run counts as [`MEDIA_TOKENS`].

/// Bytes per token for text (OpenAI's rule of thumb for English).
const BYTES_PER_TOKEN: u64 = 4;
/// A run of base64 at least this long is taken for inline media.
const MEDIA_RUN: u64 = 4096;
/// What one inline image or file is counted as (a large image at high detail is about 1,100
/// tokens for OpenAI and 1,600 for Anthropic).
pub const MEDIA_TOKENS: u64 = 1600;

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// The estimated prompt tokens of a request body.
pub fn prompt_tokens(body: &[u8]) -> u64 {
    let mut text = 0u64;
    let mut media = 0u64;
    let mut run = 0u64;
    for &b in body {
        if is_base64(b) {
            run += 1;
            continue;
        }
        if run >= MEDIA_RUN {
            media += 1;
        } else {
            text += run;
        }
        run = 0;
        text += 1;
    }
    if run >= MEDIA_RUN {
        media += 1;
    } else {
        text += run;
    }
    text.div_ceil(BYTES_PER_TOKEN) + media * MEDIA_TOKENS
}

/// What to reserve for a request under a token limit: its `prompt` tokens, and its answer up
/// to `cap` (`max_tokens` when given and smaller).
pub fn reservation(prompt: u64, max_tokens: Option<u64>, cap: u64) -> u64 {
    prompt + max_tokens.map_or(cap, |m| m.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_four_bytes_a_token() {
        assert_eq!(prompt_tokens(b""), 0);
        assert_eq!(prompt_tokens(b"{\"a\":1}"), 2);
        let body = format!(
            "{{\"messages\":[{{\"content\":\"{}\"}}]}}",
            "word ".repeat(100)
        );
        assert_eq!(
            prompt_tokens(body.as_bytes()),
            (body.len() as u64).div_ceil(4)
        );
    }

    #[test]
    fn inline_media_counts_by_the_picture() {
        let image = "A".repeat(1_000_000);
        let body = format!("{{\"data\":\"{image}\",\"text\":\"hi\"}}");
        // `{"data":"` 9 bytes, `","text":"hi"}` 14 bytes: 23 bytes of text.
        assert_eq!(prompt_tokens(body.as_bytes()), 6 + MEDIA_TOKENS);
        let two = format!("[\"{image}\",\"{image}\"]");
        assert_eq!(prompt_tokens(two.as_bytes()), 2 + 2 * MEDIA_TOKENS);
    }

    #[test]
    fn the_answer_is_reserved_up_to_the_cap() {
        assert_eq!(reservation(1, Some(100), 4096), 101);
        assert_eq!(reservation(1, Some(100_000), 4096), 4097);
        assert_eq!(reservation(1, None, 4096), 4097);
    }
}
