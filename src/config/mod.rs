//! Configuration: the YAML file rendered into one validated, typed, immutable [`Config`].
//!
//! Nothing outside this module sees raw YAML. Every error names the file, the field path
//! (`providers[1].dialect`) and what was expected.

mod env;
mod schema;
mod validate;

pub use schema::{
    Admission, Limits, Media, Metering, OnRedisError, Routing, Server, State, StateBackend,
    Timeouts,
};

use crate::dialect::codec::Quirks;
use crate::dialect::Dialect;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    pub source: PathBuf,
    pub listen: Vec<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub server: Server,
    pub routing: Routing,
    pub state: State,
    pub providers: Vec<Arc<Provider>>,
    pub keys: Vec<KeySpec>,
    pub groups: BTreeMap<String, Group>,
    pub pricing: BTreeMap<String, Price>,
    pub media: Media,
    pub admission: Admission,
    pub metering: Metering,
    /// The admin API's bearer token; `None`: the admin API is off.
    pub admin_token: Option<Secret>,
}

/// A string that must never be printed: provider keys and client keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    /// The secret itself, for the one place that has to send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An upstream provider.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub dialect: Dialect,
    pub endpoint: Endpoint,
    pub api_key: Option<Secret>,
    /// Model names or globs this provider serves; `*` serves any.
    pub models: Vec<String>,
    /// Client model name → the name this provider knows it by.
    pub model_map: BTreeMap<String, String>,
    pub priority: u32,
    pub weight: u32,
    pub timeouts: Timeouts,
    /// How its requests differ from its dialect's rules.
    pub quirks: Quirks,
    /// Limits of the provider account itself.
    pub limits: Limits,
}

impl Provider {
    /// The name to send this provider for the client's `model`.
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.model_map.get(model).map_or(model, String::as_str)
    }
}

/// Where a provider listens, split out of its `base_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The base URL's path without a trailing slash, e.g. `/v1`.
    pub base_path: String,
    /// The `Host` header value, made once: every request to the provider carries it.
    authority: String,
}

impl Endpoint {
    pub fn new(tls: bool, host: &str, port: u16, base_path: &str) -> Self {
        let default = if tls { 443 } else { 80 };
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        // The port is left out when it is the scheme's default.
        let authority = if port == default {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Endpoint {
            tls,
            host: host.to_string(),
            port,
            base_path: base_path.to_string(),
            authority,
        }
    }

    /// The `Host` header value.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// How a client key is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySecret {
    Plain(Secret),
    Sha256([u8; 32]),
}

/// A client key and what it may do.
#[derive(Debug)]
pub struct KeySpec {
    pub secret: KeySecret,
    pub name: String,
    pub group: Option<String>,
    /// Model globs this key may use.
    pub models: Vec<String>,
    pub limits: Limits,
    /// Budget in micro-USD (1 USD = 1,000,000); `None` is unlimited.
    pub budget_micro_usd: Option<i64>,
}

#[derive(Debug)]
pub struct Group {
    pub limits: Limits,
    /// The group's price multiplier in millionths (1.25 → 1,250,000): money stays integer.
    pub price_multiplier_ppm: u64,
}

/// Prices in micro-USD per million tokens (and, for `per_request`, micro-USD per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub input: i64,
    pub output: i64,
    /// For input tokens read from the provider's cache; `input` when not given.
    pub cached_input: Option<i64>,
    /// For input tokens written to the provider's cache; `input` when not given.
    pub cache_write: Option<i64>,
    pub per_request: Option<i64>,
}

/// A configuration that cannot be used, with where and why.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The field path, e.g. `providers[1].dialect`; empty for the file as a whole.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.path,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads, expands and validates the file at `path` with the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Parses `text` as if read from `path`, looking variables up with `env`.
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let err = |path_in_file: String, message: String| ConfigError {
            file: path.to_path_buf(),
            path: path_in_file,
            message,
        };
        let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| err(String::new(), format!("not valid YAML: {e}")))?;
        env::expand(&mut doc, env)
            .map_err(|m| err(m.path, format!("environment variable {} is not set", m.var)))?;
        let file: schema::File = serde_path_to_error::deserialize(doc).map_err(|e| {
            let at = e.path().to_string();
            err(
                if at == "." { String::new() } else { at },
                e.into_inner().to_string(),
            )
        })?;
        validate::build(path, file)
    }

    /// Every secret written in this config: provider keys and plain client keys.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        let providers = self.providers.iter().filter_map(|p| p.api_key.as_ref());
        let clients = self.keys.iter().filter_map(|k| match &k.secret {
            KeySecret::Plain(s) => Some(s),
            KeySecret::Sha256(_) => None,
        });
        // A Redis password, should a Redis error ever quote the URL it came with.
        let redis = self
            .state
            .redis_url
            .as_deref()
            .and_then(redis_password)
            .filter(|p| p.len() >= 8);
        providers
            .chain(clients)
            .chain(self.admin_token.as_ref())
            .map(Secret::expose)
            .chain(redis)
    }
}

/// The password in a `redis://[user]:password@host` URL.
fn redis_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split('/').next()?.rsplit_once('@')?.0;
    userinfo
        .split_once(':')
        .map_or(Some(userinfo), |(_, p)| Some(p))
}

#[cfg(test)]
mod tests {
    use super::redis_password;

    #[test]
    fn the_redis_password_is_found_in_its_url() {
        assert_eq!(
            redis_password("redis://:s3cret-pw@h:6379/0"),
            Some("s3cret-pw")
        );
        assert_eq!(
            redis_password("redis://app:s3cret-pw@h/0"),
            Some("s3cret-pw")
        );
        assert_eq!(redis_password("redis://s3cret-pw@h"), Some("s3cret-pw"));
        assert_eq!(redis_password("redis://127.0.0.1:6379/0"), None);
    }
}
