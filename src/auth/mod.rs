//! Client keys: where a request carries one, and what the key may do.

mod credential;
mod keys;

pub use credential::{bearer, credential, Ambiguous, Credential, KeySource};
pub use keys::{ApiKey, KeyStore};

use sha2::{Digest, Sha256};

/// The SHA-256 of a key: how keys are indexed, so a plaintext key is never kept or compared.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}
