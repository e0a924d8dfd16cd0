//! Checks that need more than a type: references, uniqueness, URLs, globs, money.

use super::schema::{self, OneOrMany};
use super::{
    Config, ConfigError, Endpoint, Group, KeySecret, KeySpec, Limits, Price, Provider, Secret,
    StateBackend,
};
use crate::dialect::codec::Quirks;
use crate::dialect::Dialect;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

type Check<T> = Result<T, (String, String)>;

fn fail<T>(path: impl Into<String>, message: impl Into<String>) -> Check<T> {
    Err((path.into(), message.into()))
}

pub fn build(file: &Path, raw: schema::File) -> Result<Config, ConfigError> {
    build_checked(file, raw).map_err(|(path, message)| ConfigError {
        file: file.to_path_buf(),
        path,
        message,
    })
}

fn build_checked(file: &Path, raw: schema::File) -> Check<Config> {
    let listen = match raw.listen {
        OneOrMany::One(a) => vec![socket_addr("listen", &a)?],
        OneOrMany::Many(list) if list.is_empty() => {
            return fail("listen", "expected at least one address")
        }
        OneOrMany::Many(list) => list
            .iter()
            .enumerate()
            .map(|(i, a)| socket_addr(&format!("listen[{i}]"), a))
            .collect::<Check<_>>()?,
    };
    let admin_listen = raw
        .admin_listen
        .as_deref()
        .map(|a| socket_addr("admin_listen", a))
        .transpose()?;
    if raw.server.threads == 0 {
        return fail("server.threads", "expected at least 1");
    }
    let sizes = [
        ("max_body_bytes", raw.server.max_body_bytes),
        ("max_answer_bytes", raw.server.max_answer_bytes),
        ("max_event_bytes", raw.server.max_event_bytes),
        ("max_buffered_bytes", raw.server.max_buffered_bytes),
        ("max_header_bytes", raw.server.max_header_bytes),
        ("max_connections", raw.server.max_connections),
    ];
    for (name, n) in sizes {
        if n == 0 {
            return fail(format!("server.{name}"), "expected at least 1");
        }
    }
    // Pingora itself refuses header blocks over 1 MiB, with a bare 400.
    if raw.server.max_header_bytes > 1024 * 1024 - 1 {
        return fail("server.max_header_bytes", "expected at most 1048575");
    }
    for (name, d) in [
        ("header_timeout", raw.server.header_timeout),
        ("body_timeout", raw.server.body_timeout),
        ("client_write_timeout", raw.server.client_write_timeout),
    ] {
        if d.is_zero() {
            return fail(
                format!("server.{name}"),
                "expected a duration above zero, like 30s",
            );
        }
    }
    for (name, n) in [
        ("max_bytes", raw.media.max_bytes),
        ("max_per_request", raw.media.max_per_request),
    ] {
        if n == 0 {
            return fail(format!("media.{name}"), "expected at least 1");
        }
    }
    if raw.media.timeout.is_zero() {
        return fail("media.timeout", "expected a duration above zero, like 10s");
    }
    if raw.routing.max_attempts == 0 {
        return fail("routing.max_attempts", "expected at least 1");
    }
    if raw.state.backend == StateBackend::Redis {
        let Some(url) = &raw.state.redis_url else {
            return fail(
                "state.redis_url",
                "expected a redis:// URL for the redis backend",
            );
        };
        if redis::Client::open(url.as_str()).is_err() {
            return fail(
                "state.redis_url",
                "expected a URL like redis://127.0.0.1:6379/0",
            );
        }
    }
    if raw.state.redis_prefix.is_empty() || raw.state.redis_prefix.contains(['{', '}']) {
        return fail(
            "state.redis_prefix",
            "expected a non-empty name without braces",
        );
    }
    if raw.state.redis_lease_ttl < std::time::Duration::from_secs(1) {
        return fail("state.redis_lease_ttl", "expected at least 1s");
    }
    if raw.metering.ledger_fsync.is_zero() {
        return fail(
            "metering.ledger_fsync",
            "expected a duration above zero, like 1s",
        );
    }
    if raw.state.redis_timeout.is_zero() {
        return fail(
            "state.redis_timeout",
            "expected a duration above zero, like 250ms",
        );
    }

    let mut providers = Vec::with_capacity(raw.providers.len());
    let mut names = HashSet::new();
    for (i, p) in raw.providers.into_iter().enumerate() {
        let at = format!("providers[{i}]");
        if !names.insert(p.name.clone()) {
            return fail(
                format!("{at}.name"),
                format!("duplicate provider name `{}`", p.name),
            );
        }
        providers.push(Arc::new(provider(&at, p)?));
    }

    let groups: BTreeMap<String, Group> = raw
        .groups
        .into_iter()
        .map(|(name, g)| {
            limits(&format!("groups.{name}"), &g.limits)?;
            if !(g.price_multiplier.is_finite() && (0.0..=1e6).contains(&g.price_multiplier)) {
                return fail(
                    format!("groups.{name}.price_multiplier"),
                    "expected a number from 0 to 1000000",
                );
            }
            Ok((
                name,
                Group {
                    limits: g.limits,
                    price_multiplier_ppm: (g.price_multiplier * 1_000_000.0).round() as u64,
                },
            ))
        })
        .collect::<Check<_>>()?;

    let mut keys = Vec::with_capacity(raw.keys.len());
    let mut key_names = HashSet::new();
    let mut secrets = HashSet::new();
    for (i, k) in raw.keys.into_iter().enumerate() {
        let at = format!("keys[{i}]");
        if !key_names.insert(k.name.clone()) {
            return fail(
                format!("{at}.name"),
                format!("duplicate key name `{}`", k.name),
            );
        }
        let spec = key(&at, k, &groups)?;
        let digest = match &spec.secret {
            KeySecret::Plain(s) => crate::auth::digest(s.expose()),
            KeySecret::Sha256(d) => *d,
        };
        if !secrets.insert(digest) {
            return fail(at, "the same secret is used by an earlier key");
        }
        keys.push(spec);
    }

    let pricing = raw
        .pricing
        .into_iter()
        .map(|(model, p)| {
            let at = format!("pricing.{model}");
            Ok((
                model,
                Price {
                    input: micro_usd(&format!("{at}.input"), p.input)?,
                    output: micro_usd(&format!("{at}.output"), p.output)?,
                    cached_input: p
                        .cached_input
                        .map(|c| micro_usd(&format!("{at}.cached_input"), c))
                        .transpose()?,
                    cache_write: p
                        .cache_write
                        .map(|c| micro_usd(&format!("{at}.cache_write"), c))
                        .transpose()?,
                    per_request: p
                        .per_request
                        .map(|c| micro_usd(&format!("{at}.per_request"), c))
                        .transpose()?,
                },
            ))
        })
        .collect::<Check<_>>()?;

    Ok(Config {
        source: file.to_path_buf(),
        listen,
        admin_listen,
        server: raw.server,
        routing: raw.routing,
        state: raw.state,
        providers,
        keys,
        groups,
        pricing,
        media: raw.media,
        admission: raw.admission,
        metering: raw.metering,
        admin_token: match raw.admin.token {
            Some(t) => {
                secret("admin.token", &t)?;
                if t.chars().count() < 16 {
                    return fail("admin.token", "expected at least 16 characters");
                }
                Some(Secret::new(t))
            }
            None => None,
        },
    })
}

fn socket_addr(path: &str, a: &str) -> Check<SocketAddr> {
    a.parse().or_else(|_| {
        fail(
            path,
            format!("expected an address like 127.0.0.1:8080, got `{a}`"),
        )
    })
}

fn provider(at: &str, p: schema::Provider) -> Check<Provider> {
    if p.name.is_empty() {
        return fail(format!("{at}.name"), "expected a non-empty name");
    }
    let endpoint = endpoint(&format!("{at}.base_url"), &p.base_url)?;
    if p.models.is_empty() {
        return fail(
            format!("{at}.models"),
            "expected at least one model name or glob (\"*\" = any)",
        );
    }
    for (j, m) in p.models.iter().enumerate() {
        glob(&format!("{at}.models[{j}]"), m)?;
    }
    if p.weight == 0 {
        return fail(format!("{at}.weight"), "expected at least 1");
    }
    for (from, to) in &p.model_map {
        if to.is_empty() {
            return fail(
                format!("{at}.model_map.{from}"),
                "expected a non-empty model name",
            );
        }
    }
    let t = p.timeouts;
    for (name, d) in [
        ("connect", t.connect),
        ("first_byte", t.first_byte),
        ("idle", t.idle),
        ("total", t.total),
    ] {
        if d.is_zero() {
            return fail(
                format!("{at}.timeouts.{name}"),
                "expected a duration above zero, like 30s",
            );
        }
    }
    if let Some(k) = p.api_key.as_deref().filter(|k| !k.is_empty()) {
        secret(&format!("{at}.api_key"), k)?;
    }
    limits(at, &p.limits)?;
    if p.reasoning_content && p.dialect != Dialect::OpenAiChat {
        return fail(
            format!("{at}.reasoning_content"),
            "only a provider of dialect `openai` takes `reasoning_content`",
        );
    }
    Ok(Provider {
        name: p.name,
        dialect: p.dialect,
        endpoint,
        api_key: p.api_key.filter(|k| !k.is_empty()).map(Secret::new),
        models: p.models,
        model_map: p.model_map,
        priority: p.priority,
        weight: p.weight,
        timeouts: t,
        quirks: Quirks {
            reasoning_content: p.reasoning_content,
        },
        limits: p.limits,
    })
}

/// A limit of 0 would refuse everything: a key that must not be used is left out instead.
fn limits(at: &str, l: &Limits) -> Check<()> {
    let set = [
        ("rpm", l.rpm.map(u64::from)),
        ("rpd", l.rpd.map(u64::from)),
        ("concurrency", l.concurrency.map(u64::from)),
        ("tpm", l.tpm),
    ];
    for (name, n) in set {
        if n == Some(0) {
            return fail(format!("{at}.limits.{name}"), "expected at least 1");
        }
    }
    Ok(())
}

fn endpoint(at: &str, url: &str) -> Check<Endpoint> {
    let expected = "expected an http:// or https:// URL like https://api.openai.com/v1";
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(_) => return fail(at, format!("{expected}, got `{url}`")),
    };
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return fail(at, format!("{expected}, got `{url}`")),
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return fail(at, format!("{expected}, got `{url}`"));
    };
    if uri.query().is_some() {
        return fail(at, "expected no query string in the base URL");
    }
    Ok(Endpoint::new(
        tls,
        host.trim_start_matches('[').trim_end_matches(']'),
        uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        uri.path().trim_end_matches('/'),
    ))
}

/// The shortest secret accepted: shorter ones can be guessed, and masking them out of provider
/// answers and logs would mangle ordinary text.
const MIN_SECRET_LEN: usize = 8;

fn secret(at: &str, s: &str) -> Check<()> {
    if s.chars().count() < MIN_SECRET_LEN {
        return fail(
            at,
            format!("expected a secret of at least {MIN_SECRET_LEN} characters"),
        );
    }
    if s.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return fail(at, "expected no spaces or control characters");
    }
    Ok(())
}

fn glob(at: &str, pattern: &str) -> Check<()> {
    if pattern.is_empty() {
        return fail(at, "expected a model name or glob");
    }
    globset::Glob::new(pattern)
        .map(|_| ())
        .or_else(|e| fail(at, format!("expected a glob: {e}")))
}

fn key(at: &str, k: schema::Key, groups: &BTreeMap<String, Group>) -> Check<KeySpec> {
    let secret = match (k.key, k.key_sha256) {
        (Some(plain), None) if !plain.is_empty() => {
            secret(&format!("{at}.key"), &plain)?;
            KeySecret::Plain(Secret::new(plain))
        }
        (None, Some(hex_digest)) => {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(hex_digest.trim(), &mut digest).is_err() {
                return fail(
                    format!("{at}.key_sha256"),
                    "expected 64 hex digits (the SHA-256 of the key)",
                );
            }
            KeySecret::Sha256(digest)
        }
        (Some(_), Some(_)) => return fail(at, "expected one of `key` or `key_sha256`, not both"),
        _ => return fail(at, "expected a non-empty `key` or a `key_sha256`"),
    };
    if let Some(g) = &k.group {
        if !groups.contains_key(g) {
            return fail(
                format!("{at}.group"),
                format!("expected a group declared under `groups`, got `{g}`"),
            );
        }
    }
    for (j, m) in k.models.iter().enumerate() {
        glob(&format!("{at}.models[{j}]"), m)?;
    }
    limits(at, &k.limits)?;
    let budget_micro_usd = k
        .budget_usd
        .map(|b| micro_usd(&format!("{at}.budget_usd"), b))
        .transpose()?;
    Ok(KeySpec {
        secret,
        name: k.name,
        group: k.group,
        models: k.models,
        limits: k.limits,
        budget_micro_usd,
    })
}

/// Dollars to integer micro-dollars, rounded to the nearest micro-dollar.
fn micro_usd(at: &str, usd: f64) -> Check<i64> {
    // At most a billion: in micro-USD that stays exact in Redis's Lua numbers (doubles).
    if !(usd.is_finite() && (0.0..=1e9).contains(&usd)) {
        return fail(at, "expected an amount in USD, from 0 to 1000000000");
    }
    Ok((usd * 1_000_000.0).round() as i64)
}
