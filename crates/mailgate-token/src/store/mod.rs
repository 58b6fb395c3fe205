//! Persistence and login-time handling of the cached tokens: the [`TokenStorage`]
//! trait with its file implementation (atomic, locked, merging), and the
//! [`TokenVault`] that decrypts them and applies the wrong-password policy;
//! [`RetryingStorage`] keeps writes a failing disk refuses in memory and retries them.
//! With cargo features, stores shared by several processes: `RedisStorage` (`redis`) and
//! `AwsSecretStorage` (`aws`, AWS Secrets Manager in the Python email-oauth2-proxy's format).

#[cfg(feature = "aws")]
mod aws;
mod backoff;
#[cfg(any(feature = "redis", feature = "aws"))]
mod bridge;
mod copy;
mod file;
mod location;
#[cfg(feature = "redis")]
mod redis;
mod retry;
mod storage;
mod vault;

#[cfg(feature = "aws")]
pub use aws::{AwsSecretStorage, AwsStoreError, WRITE_ATTEMPTS};
pub use backoff::{
    DEFAULT_BACKOFF_CAPACITY, FAILURE_MEMORY_SECS, FailureBackoff, MAX_BACKOFF_SECS,
    RESET_COOLDOWN_SECS,
};
pub use copy::copy_accounts;
pub use file::{FileRole, IniFileStorage};
pub use location::{CacheStoreLocation, OpenStoreError};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_KEY_PREFIX, DEFAULT_LOCK_LEASE, RedisStorage, RedisStoreError};
pub use retry::RetryingStorage;
pub use storage::{AccountLock, CacheSnapshot, MemoryStorage, StoreError, TokenStorage};
pub use vault::{
    ClientSecretSource, Denied, TokenVault, Unlock, UnlockedAccount, refresh_rejected_changes,
};
