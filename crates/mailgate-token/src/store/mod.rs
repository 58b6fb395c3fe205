//! Where the encrypted tokens persist: the [`TokenStorage`] trait, its file implementation
//! [`IniFileStorage`] (atomic, locked, merging) and [`MemoryStorage`].
//!
//! A store only moves text: the values it holds are already encrypted, and the
//! [`LoginManager`](crate::login::LoginManager) above it decides what to write.

mod file;
mod storage;

pub use file::{FileRole, IniFileStorage};
pub use storage::{
    AccountLock, CacheSnapshot, MemoryStorage, StoreError, StoreFuture, TokenStorage,
};
