//! Token writes that survive a full or read-only disk: a write that fails is kept in memory,
//! served to every later read, and retried until the store takes it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::storage::{AccountLock, CacheSnapshot, StoreError, TokenStorage};
use crate::config::{CacheChange, CacheChanges};

/// [`TokenStorage`] over another storage that never loses a write to a failing disk.
///
/// When the inner store refuses a write for a reason the disk or the user can fix (an
/// operating system error such as a full or read-only disk, or a file that does not parse
/// while it is being edited), the changes are kept in memory, an error naming the account
/// and the cause is logged, and [`TokenStorage::apply`] succeeds: the login goes on with the
/// new tokens. Every later [`TokenStorage::load`] first retries the unsaved writes, then
/// returns the store's values with the unsaved ones on top, so the process keeps using the
/// newest tokens; [`RetryingStorage::retry`] retries them without a read (call it on a timer).
/// A later write of the same account is merged into the unsaved one and written with it.
///
/// The unsaved tokens live only in this process: if it ends before the disk accepts them,
/// they are lost, and another process sharing the file reads the older tokens meanwhile.
///
/// ```
/// use mailgate_token::config::{CacheChanges, CacheKey};
/// use mailgate_token::store::{MemoryStorage, RetryingStorage, TokenStorage};
/// use std::sync::Arc;
///
/// let storage = RetryingStorage::new(Arc::new(MemoryStorage::new()));
/// let mut changes = CacheChanges::new();
/// changes.set(CacheKey::AccessToken, "encrypted");
/// storage.apply("alice@example.com", &changes)?;
/// assert!(storage.unsaved_accounts().is_empty(), "the memory store never fails");
/// # Ok::<(), mailgate_token::store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct RetryingStorage {
    inner: Arc<dyn TokenStorage>,
    unsaved: Mutex<BTreeMap<String, CacheChanges>>,
}

/// Whether the user or the system can fix the cause, so that retrying later may succeed.
fn retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Io { .. }
        | StoreError::Parse { .. }
        | StoreError::NotUtf8 { .. }
        | StoreError::TooLarge { .. }
        // A shared store that is unreachable, busy or refusing (until the operator fixes its
        // permissions) may take the write later, like a disk.
        | StoreError::Backend { .. }
        | StoreError::Conflict { .. } => true,
        StoreError::Edit { .. } | StoreError::NotAnAccount { .. } => false,
    }
}

/// `changes` with only the last change of each key, in the order of those last changes.
fn compact(changes: &CacheChanges) -> CacheChanges {
    let all: Vec<&CacheChange> = changes.iter().collect();
    let mut kept = CacheChanges::new();
    for (i, change) in all.iter().enumerate() {
        let overridden = all
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .any(|later| later.key() == change.key());
        if !overridden {
            match change {
                CacheChange::Set(key, value) => kept.set(*key, value.clone()),
                CacheChange::Remove(key) => kept.remove(*key),
            };
        }
    }
    kept
}

impl RetryingStorage {
    /// Writes through `inner`, keeping failed writes in memory.
    pub fn new(inner: Arc<dyn TokenStorage>) -> Self {
        Self {
            inner,
            unsaved: Mutex::new(BTreeMap::new()),
        }
    }

    /// The storage written through.
    pub fn inner(&self) -> &Arc<dyn TokenStorage> {
        &self.inner
    }

    fn unsaved(&self) -> MutexGuard<'_, BTreeMap<String, CacheChanges>> {
        self.unsaved.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The accounts whose latest tokens are not saved yet.
    pub fn unsaved_accounts(&self) -> Vec<String> {
        self.unsaved().keys().cloned().collect()
    }

    /// Retries every unsaved write; returns how many accounts are still unsaved.
    pub fn retry(&self) -> usize {
        let mut unsaved = self.unsaved();
        Self::retry_locked(self.inner.as_ref(), &mut unsaved);
        unsaved.len()
    }

    fn retry_locked(inner: &dyn TokenStorage, unsaved: &mut BTreeMap<String, CacheChanges>) {
        unsaved.retain(|account, changes| match inner.apply(account, changes) {
            Ok(()) => {
                tracing::info!(
                    account = %account,
                    "saved the account's tokens that could not be written before"
                );
                false
            }
            Err(error) => {
                tracing::warn!(
                    account = %account,
                    %error,
                    "the account's new tokens are still not saved; they stay in memory and the write is retried"
                );
                // A write that can never succeed (a bug) is dropped rather than retried forever.
                retryable(&error)
            }
        });
    }
}

impl TokenStorage for RetryingStorage {
    fn load(&self) -> Result<CacheSnapshot, StoreError> {
        let mut unsaved = self.unsaved();
        if !unsaved.is_empty() {
            Self::retry_locked(self.inner.as_ref(), &mut unsaved);
        }
        let mut snapshot = self.inner.load()?;
        for (account, changes) in unsaved.iter() {
            snapshot.apply(account, changes);
        }
        Ok(snapshot)
    }

    fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError> {
        let mut unsaved = self.unsaved();
        let mut merged = unsaved.get(account).cloned().unwrap_or_default();
        merged.extend(changes.clone());
        let merged = compact(&merged);
        match self.inner.apply(account, &merged) {
            Ok(()) => {
                if unsaved.remove(account).is_some() {
                    tracing::info!(
                        account = %account,
                        "saved the account's tokens that could not be written before"
                    );
                }
                Ok(())
            }
            Err(error) if retryable(&error) => {
                tracing::error!(
                    account = %account,
                    %error,
                    "unable to save the account's new tokens; they are kept in memory and the write is retried at the next login"
                );
                unsaved.insert(account.to_owned(), merged);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn lock_account(&self, account: &str) -> Result<AccountLock, StoreError> {
        self.inner.lock_account(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CacheKey;

    #[test]
    fn compact_keeps_the_last_change_of_each_key() {
        let mut changes = CacheChanges::new();
        changes
            .set(CacheKey::AccessToken, "a")
            .set(CacheKey::RefreshToken, "r")
            .remove(CacheKey::AccessToken)
            .set(CacheKey::RefreshToken, "r2");
        let mut expected = CacheChanges::new();
        expected
            .remove(CacheKey::AccessToken)
            .set(CacheKey::RefreshToken, "r2");
        assert_eq!(compact(&changes), expected);
    }
}
