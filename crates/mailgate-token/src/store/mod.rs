//! Where the encrypted tokens persist: the [`TokenStorage`] trait, its file implementation
//! [`IniFileStorage`] (atomic, locked, merging) and [`MemoryStorage`]; with cargo features,
//! stores shared by several processes: `RedisStorage` (`redis`) and `AwsSecretStorage`
//! (`aws`, AWS Secrets Manager in the Python email-oauth2-proxy's format).
//! [`CacheStoreLocation`] reads a `--cache-store` value and opens the store it names.
//!
//! A store only moves text: the values it holds are already encrypted, and the
//! [`LoginManager`](crate::login::LoginManager) above it decides what to write.

#[cfg(feature = "aws")]
mod aws;
mod copy;
mod file;
mod location;
#[cfg(feature = "redis")]
mod redis;
mod storage;

#[cfg(feature = "aws")]
pub use aws::{AwsSecretStorage, AwsStoreError, WRITE_ATTEMPTS};
pub use copy::copy_accounts;
pub use file::{FileRole, IniFileStorage};
pub use location::{CacheStoreLocation, OpenStoreError};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_KEY_PREFIX, DEFAULT_LOCK_LEASE, RedisStorage, RedisStoreError};
pub use storage::{
    AccountLock, CacheSnapshot, MemoryStorage, StoreError, StoreFuture, TokenStorage,
};

/// A shared store's answer to a `load` that failed for a temporary reason (its backend cannot
/// be reached): the snapshot this instance read last, with its writes since, if it read one;
/// the error otherwise. Logins go on with the tokens they already had.
#[cfg(any(feature = "redis", feature = "aws"))]
fn serve_last_read<E: std::fmt::Display>(
    store: &str,
    error: E,
    last_read: Option<CacheSnapshot>,
) -> Result<CacheSnapshot, E> {
    let Some(snapshot) = last_read else {
        return Err(error);
    };
    tracing::warn!(
        store,
        %error,
        "the token store cannot be read; using the tokens this instance read last"
    );
    Ok(snapshot)
}
