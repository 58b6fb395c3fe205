//! The storage trait behind which cached tokens are persisted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use crate::config::{
    CacheChange, CacheChanges, CacheKey, EditError, IniDocument, ParseError, is_account_section,
};

/// The cached keys of every account a store holds: account → key → value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheSnapshot {
    /// Cached values by account section name, then by key.
    pub accounts: BTreeMap<String, BTreeMap<String, String>>,
}

impl CacheSnapshot {
    /// The cached keys of the account sections of a document.
    pub fn from_document(document: &IniDocument) -> Self {
        let mut accounts = BTreeMap::new();
        for section in document.sections().filter(|s| is_account_section(s)) {
            let values: BTreeMap<String, String> = document
                .entries(section)
                .filter(|(key, _)| CacheKey::from_name(key).is_some_and(CacheKey::is_cached))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if !values.is_empty() {
                accounts.insert(section.to_owned(), values);
            }
        }
        Self { accounts }
    }

    /// Applies changes to one account.
    pub fn apply(&mut self, account: &str, changes: &CacheChanges) {
        let values = self.accounts.entry(account.to_owned()).or_default();
        for change in changes {
            match change {
                CacheChange::Set(key, value) => {
                    values.insert(key.as_str().to_owned(), value.clone());
                }
                CacheChange::Remove(key) => {
                    values.remove(key.as_str());
                }
            }
        }
    }
}

/// Why the cached tokens could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The operating system refused (permissions, disk full, missing directory).
    #[error("{path}: {source}; check that the file and its directory are writable")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system error.
        source: std::io::Error,
    },
    /// The file on disk no longer parses (e.g. it is being edited); nothing was written.
    #[error("{path}: {error}; the tokens are not saved until the file is fixed")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The syntax error.
        error: ParseError,
    },
    /// The file on disk is not UTF-8 text; nothing was written.
    #[error("{path} is not valid UTF-8 text; the tokens are not saved until the file is fixed")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file on disk is too large to be a configuration file; nothing was written.
    #[error("{path} is larger than a configuration file can be; nothing was written")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A value could not be written (a bug in the caller).
    #[error("section [{section}]: {error}")]
    Edit {
        /// The section.
        section: String,
        /// What could not be written.
        error: EditError,
    },
    /// Tokens were addressed to a section that is not an account (a bug in the caller).
    #[error("[{section}] is not an account section (account sections contain `@`)")]
    NotAnAccount {
        /// The section.
        section: String,
    },
    /// A shared store (Redis, AWS Secrets Manager) refused or could not be reached.
    #[error("{store}: {source}")]
    Backend {
        /// The store, as [`describe`](crate::store::RedisStorage) names it (never a secret).
        store: String,
        /// Whether retrying later may succeed (the store is unreachable or busy), rather than
        /// a refusal that needs the operator (wrong credentials, missing permission).
        temporary: bool,
        /// The store client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Other processes kept changing the shared store while this one wrote to it; the write
    /// was retried and gave up.
    #[error("{store}: other processes kept writing at the same time; the write is retried later")]
    Conflict {
        /// The store (never a secret).
        store: String,
    },
}

/// Where cached tokens persist: the configuration file, a cache store file, or (later)
/// a shared remote store.
///
/// Implementations are synchronous and may block (file I/O, locks): async callers run
/// them on a blocking thread.
pub trait TokenStorage: Send + Sync + core::fmt::Debug {
    /// Reads the cached keys of every account the store holds, fresh from the store.
    fn load(&self) -> Result<CacheSnapshot, StoreError>;

    /// Applies this process's changes to one account's cached keys, leaving every other
    /// key, account and line of the store as it currently is.
    fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError>;

    /// Takes the account's refresh lock, waiting while another process holds it.
    ///
    /// Held from re-reading the stored refresh token until the refreshed tokens are
    /// written, it keeps processes sharing the store from refreshing one account at the
    /// same time: with a provider that rotates refresh tokens, the second refresh would
    /// present a token the first one invalidated. Stores that no other process shares
    /// need no lock (the default).
    fn lock_account(&self, account: &str) -> Result<AccountLock, StoreError> {
        let _ = account;
        Ok(AccountLock::unshared())
    }
}

/// An account's refresh lock (see [`TokenStorage::lock_account`]); released when dropped.
pub struct AccountLock {
    _guard: Option<Box<dyn Send + Sync>>,
}

impl AccountLock {
    /// A lock held for as long as `guard` lives (e.g. a locked file).
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
        }
    }

    /// No cross-process lock: for stores that no other process shares.
    pub fn unshared() -> Self {
        Self { _guard: None }
    }
}

impl core::fmt::Debug for AccountLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AccountLock")
            .field("shared", &self._guard.is_some())
            .finish()
    }
}

/// [`TokenStorage`] in memory, for tests and for running without persistence.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    snapshot: Mutex<CacheSnapshot>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStorage for MemoryStorage {
    fn load(&self) -> Result<CacheSnapshot, StoreError> {
        Ok(self
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError> {
        if !is_account_section(account) {
            return Err(StoreError::NotAnAccount {
                section: account.to_owned(),
            });
        }
        self.snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(account, changes);
        Ok(())
    }
}
