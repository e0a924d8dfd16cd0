//! A client's limits as its dialect's rate-limit headers say them.

use super::{Meter, Quota};
use crate::dialect::codec::RateLimitHeaders;
use std::time::{Duration, SystemTime};

/// A duration as OpenAI writes one: `120ms`, `1s`, `6m0s`, `1h2m3s` (whole seconds, rounded
/// up, from one second on).
fn go_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_millis().div_ceil(1000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn push(
    out: &mut Vec<(&'static str, String)>,
    names: [&'static str; 3],
    m: Meter,
    reset_at: bool,
    now: SystemTime,
) {
    let reset = if reset_at {
        humantime::format_rfc3339_seconds(now + m.reset + Duration::from_millis(999)).to_string()
    } else {
        go_duration(m.reset)
    };
    out.push((names[0], m.limit.to_string()));
    out.push((names[1], m.remaining.to_string()));
    out.push((names[2], reset));
}

/// The headers for `quota`, named as `names` says.
pub fn rate_limit_headers(
    names: RateLimitHeaders,
    quota: &Quota,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = quota.requests {
        push(&mut out, names.requests, m, names.reset_at, now);
    }
    if let Some(m) = quota.tokens {
        push(&mut out, names.tokens, m, names.reset_at, now);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::codec::codec;
    use crate::dialect::Dialect;

    #[test]
    fn durations_are_written_as_openai_writes_them() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration(ms(0)), "0ms");
        assert_eq!(go_duration(ms(120)), "120ms");
        assert_eq!(go_duration(ms(1000)), "1s");
        assert_eq!(go_duration(ms(1001)), "2s");
        assert_eq!(go_duration(ms(360_000)), "6m0s");
        assert_eq!(go_duration(ms(3_723_000)), "1h2m3s");
    }

    #[test]
    fn each_dialect_gets_its_own_headers() {
        let quota = Quota {
            requests: Some(Meter {
                limit: 60,
                remaining: 59,
                reset: Duration::from_millis(1500),
            }),
            tokens: Some(Meter {
                limit: 1000,
                remaining: 400,
                reset: Duration::from_secs(61),
            }),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let openai =
            rate_limit_headers(codec(Dialect::OpenAiChat).rate_limit_headers(), &quota, now);
        assert_eq!(
            openai,
            [
                ("x-ratelimit-limit-requests", "60".to_string()),
                ("x-ratelimit-remaining-requests", "59".into()),
                ("x-ratelimit-reset-requests", "2s".into()),
                ("x-ratelimit-limit-tokens", "1000".into()),
                ("x-ratelimit-remaining-tokens", "400".into()),
                ("x-ratelimit-reset-tokens", "1m1s".into()),
            ]
        );
        let anthropic = rate_limit_headers(
            codec(Dialect::AnthropicMessages).rate_limit_headers(),
            &Quota {
                tokens: None,
                ..quota
            },
            now,
        );
        assert_eq!(
            anthropic,
            [
                ("anthropic-ratelimit-requests-limit", "60".to_string()),
                ("anthropic-ratelimit-requests-remaining", "59".into()),
                // 1.5 s after the instant, rounded up to the second.
                (
                    "anthropic-ratelimit-requests-reset",
                    "2026-11-18T11:06:42Z".into()
                ),
            ]
        );
        assert!(rate_limit_headers(OPENAI, &Quota::default(), now).is_empty());
    }

    const OPENAI: RateLimitHeaders = RateLimitHeaders {
        requests: ["a", "b", "c"],
        tokens: ["d", "e", "f"],
        reset_at: false,
    };
}
