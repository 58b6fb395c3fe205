//! Encryption of cached tokens, compatible byte for byte with the Python email-oauth2-proxy:
//! PBKDF2-HMAC-SHA256 of the login password derives a Fernet key.

mod cipher;
mod fernet;
mod kdf;
mod key_cache;

pub use cipher::{AccountCipher, Decrypted, RotateError};
pub use fernet::{FernetKey, InvalidToken, token_timestamp};
pub use kdf::{ITERATIONS, LEGACY_ITERATIONS, MAX_ITERATIONS, derive_key};
pub(crate) use key_cache::DEFAULT_KEY_CACHE_CAPACITY;
pub use key_cache::DerivedKeyCache;

/// The operating system's random generator failed; nothing is encrypted without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator is unavailable")]
pub struct RandomnessUnavailable;

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], RandomnessUnavailable> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomnessUnavailable)?;
    Ok(bytes)
}
