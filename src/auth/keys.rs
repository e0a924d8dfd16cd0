//! The key store: client keys from the config, indexed by digest.

use super::digest;
use crate::config::{Config, KeySecret};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::HashMap;
use std::sync::Arc;

/// A client key, ready for per-request checks.
#[derive(Debug)]
pub struct ApiKey {
    pub name: String,
    pub group: Option<String>,
    pub budget_micro_usd: Option<i64>,
    models: GlobSet,
}

impl ApiKey {
    /// Whether this key may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_match(model)
    }
}

/// All client keys of one config version.
#[derive(Debug, Default)]
pub struct KeyStore {
    by_digest: HashMap<[u8; 32], Arc<ApiKey>>,
}

impl KeyStore {
    /// Builds the store; the config was validated, so globs compile and digests are unique.
    pub fn from_config(config: &Config) -> Result<Self, globset::Error> {
        let mut by_digest = HashMap::with_capacity(config.keys.len());
        for spec in &config.keys {
            let mut models = GlobSetBuilder::new();
            for m in &spec.models {
                models.add(Glob::new(m)?);
            }
            let d = match &spec.secret {
                KeySecret::Plain(s) => digest(s.expose()),
                KeySecret::Sha256(d) => *d,
            };
            by_digest.insert(
                d,
                Arc::new(ApiKey {
                    name: spec.name.clone(),
                    group: spec.group.clone(),
                    budget_micro_usd: spec.budget_micro_usd,
                    models: models.build()?,
                }),
            );
        }
        Ok(Self { by_digest })
    }

    /// The key for a presented secret. Comparing digests keeps the lookup's timing independent
    /// of how much of a guessed key is right.
    pub fn find(&self, secret: &str) -> Option<Arc<ApiKey>> {
        self.by_digest.get(&digest(secret)).cloned()
    }
}
