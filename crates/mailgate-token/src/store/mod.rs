//! Persistence and login-time handling of the cached tokens: the [`TokenStorage`]
//! trait with its file implementation (atomic, locked, merging), and the
//! [`TokenVault`] that decrypts them and applies the wrong-password policy.

mod backoff;
mod file;
mod storage;
mod vault;

pub use backoff::{
    DEFAULT_BACKOFF_CAPACITY, FAILURE_MEMORY_SECS, FailureBackoff, MAX_BACKOFF_SECS,
    RESET_COOLDOWN_SECS,
};
pub use file::{FileRole, IniFileStorage};
pub use storage::{CacheSnapshot, MemoryStorage, StoreError, TokenStorage};
pub use vault::{
    ClientSecretSource, DEFAULT_TOKEN_LIFETIME_SECS, Denied, TOKEN_EXPIRY_MARGIN_SECS, TokenVault,
    Unlock, UnlockedAccount, refresh_rejected_changes,
};
