//! The storage trait behind which cached tokens are persisted.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use crate::Fault;

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
    /// A shared store is unreachable or refuses the request (connection refused, timed out,
    /// authentication or permission denied).
    #[error("{store}: {source}{}", if *temporary { "; retrying later may succeed" } else { "; check the store's address, credentials and permissions" })]
    Backend {
        /// The store, as [`TokenStorage::describe`] names it (no secrets).
        store: String,
        /// Whether retrying may help without anyone acting (a timeout, a refused connection).
        temporary: bool,
        /// The store client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another writer changed the account in the store between this write's read and its
    /// write, every time it was retried.
    #[error(
        "{store}: another process kept changing the account's tokens; the write is retried later"
    )]
    Conflict {
        /// The store, as [`TokenStorage::describe`] names it.
        store: String,
    },
}

impl StoreError {
    /// Whose fault the error is: the storage's (the disk, the file, a shared store), the
    /// configuration's (a store refusing the configured credentials), or the system's (a bug
    /// in the caller).
    ///
    /// ```
    /// use mailgate_token::Fault;
    /// use mailgate_token::store::StoreError;
    ///
    /// let error = StoreError::Conflict { store: "redis://127.0.0.1:6379/0".into() };
    /// assert_eq!(error.fault(), Fault::Storage);
    /// assert!(error.is_temporary());
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            StoreError::Io { .. }
            | StoreError::Parse { .. }
            | StoreError::NotUtf8 { .. }
            | StoreError::TooLarge { .. }
            | StoreError::Conflict { .. } => Fault::Storage,
            StoreError::Backend { temporary, .. } => {
                if *temporary {
                    Fault::Storage
                } else {
                    Fault::Configuration
                }
            }
            StoreError::Edit { .. } | StoreError::NotAnAccount { .. } => Fault::System,
        }
    }

    /// Whether writing again later may succeed once the disk, the file or the store is
    /// fixed or reachable again; a write refused for such a reason is kept in memory and
    /// retried. Errors of the caller (a value that cannot be written, a section that is not
    /// an account) never succeed and are not retried.
    pub fn is_temporary(&self) -> bool {
        match self {
            StoreError::Io { .. }
            | StoreError::Parse { .. }
            | StoreError::NotUtf8 { .. }
            | StoreError::TooLarge { .. }
            | StoreError::Backend { .. }
            | StoreError::Conflict { .. } => true,
            StoreError::Edit { .. } | StoreError::NotAnAccount { .. } => false,
        }
    }
}

/// The future a [`TokenStorage`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where cached tokens persist: the configuration file, a cache store file, or a store
/// shared by several hosts.
///
/// The [`LoginManager`](crate::login::LoginManager) reads a fresh snapshot at each login and
/// writes one account's changes at a time; everything else (encryption, the wrong-password
/// policy, keeping writes a store refuses in memory and retrying them) happens above this
/// trait, so a store only moves text. Implementations must not block the async threads: the
/// file store runs its I/O and locks on tokio's blocking pool.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mailgate_token::store::StoreError> {
/// use mailgate_token::config::{CacheChanges, CacheKey};
/// use mailgate_token::store::{MemoryStorage, TokenStorage};
///
/// let storage = MemoryStorage::new();
/// let mut changes = CacheChanges::new();
/// changes.set(CacheKey::AccessToken, "gAAAAB-encrypted");
/// storage.apply("alice@example.com", &changes).await?;
/// let snapshot = storage.load().await?;
/// assert_eq!(snapshot.accounts["alice@example.com"]["access_token"], "gAAAAB-encrypted");
/// let _lock = storage.lock_account("alice@example.com").await?; // no other process shares it
/// assert_eq!(storage.describe(), "memory");
/// # Ok(()) }
/// ```
pub trait TokenStorage: Send + Sync + core::fmt::Debug + 'static {
    /// Reads the cached keys of every account the store holds, fresh from the store.
    fn load(&self) -> StoreFuture<'_, CacheSnapshot>;

    /// Applies this process's changes to one account's cached keys atomically, leaving every
    /// other key/account as it currently is in the store.
    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()>;

    /// Takes the account's cross-process refresh lock (default: an unshared no-op lock),
    /// waiting while another process holds it.
    ///
    /// Held from re-reading the stored refresh token until the refreshed tokens are
    /// written, it keeps processes sharing the store from refreshing one account at the
    /// same time: with a provider that rotates refresh tokens, the second refresh would
    /// present a token the first one invalidated. Stores that no other process shares
    /// need no lock (the default).
    fn lock_account<'a>(&'a self, account: &'a str) -> StoreFuture<'a, AccountLock> {
        let _ = account;
        Box::pin(std::future::ready(Ok(AccountLock::unshared())))
    }

    /// A short description for logs and errors, no secrets (e.g. the file path,
    /// `redis://host:port/db`).
    fn describe(&self) -> String;
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

impl MemoryStorage {
    fn load_now(&self) -> CacheSnapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn apply_now(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError> {
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

impl TokenStorage for MemoryStorage {
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        Box::pin(std::future::ready(Ok(self.load_now())))
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.apply_now(account, changes)))
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}
