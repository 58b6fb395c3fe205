//! Token writes that survive a failing store: a write the store refuses for a reason that may
//! pass (a full or read-only disk, a file being edited, a shared store unreachable) is kept in
//! memory, served to every later read, and retried until the store takes it.
//!
//! The unsaved tokens live only in this process: if it ends before the store accepts them,
//! they are lost, and another process sharing the store reads the older tokens meanwhile.

use std::collections::BTreeMap;

use crate::config::{CacheChange, CacheChanges};
use crate::store::{CacheSnapshot, StoreError, TokenStorage};

/// The writes a store refused, by account, and the store they go to.
///
/// Reads and writes of the store all go through here, one at a time: a write merged into an
/// unsaved one must not race the retry of that unsaved one.
#[derive(Debug)]
pub(crate) struct UnsavedWrites {
    unsaved: tokio::sync::Mutex<BTreeMap<String, CacheChanges>>,
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

impl UnsavedWrites {
    pub(crate) fn new() -> Self {
        Self {
            unsaved: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The accounts whose latest tokens are not saved yet.
    pub(crate) async fn accounts(&self) -> Vec<String> {
        self.unsaved.lock().await.keys().cloned().collect()
    }

    /// Retries every unsaved write; returns how many accounts are still unsaved.
    pub(crate) async fn retry(&self, storage: &dyn TokenStorage) -> usize {
        let mut unsaved = self.unsaved.lock().await;
        Self::retry_locked(storage, &mut unsaved).await;
        unsaved.len()
    }

    async fn retry_locked(
        storage: &dyn TokenStorage,
        unsaved: &mut BTreeMap<String, CacheChanges>,
    ) {
        let accounts: Vec<String> = unsaved.keys().cloned().collect();
        for account in accounts {
            let Some(changes) = unsaved.get(&account) else {
                continue;
            };
            match storage.apply(&account, changes).await {
                Ok(()) => {
                    tracing::info!(
                        account = %account,
                        "saved the account's tokens that could not be written before"
                    );
                    unsaved.remove(&account);
                }
                Err(error) => {
                    tracing::warn!(
                        account = %account,
                        %error,
                        "the account's new tokens are still not saved; they stay in memory and the write is retried"
                    );
                    // A write that can never succeed (a bug) is dropped rather than retried forever.
                    if !error.is_temporary() {
                        unsaved.remove(&account);
                    }
                }
            }
        }
    }

    /// The store's snapshot with the unsaved values on top, after retrying the unsaved writes.
    pub(crate) async fn load(
        &self,
        storage: &dyn TokenStorage,
    ) -> Result<CacheSnapshot, StoreError> {
        let mut unsaved = self.unsaved.lock().await;
        if !unsaved.is_empty() {
            Self::retry_locked(storage, &mut unsaved).await;
        }
        let mut snapshot = storage.load().await?;
        for (account, changes) in unsaved.iter() {
            snapshot.apply(account, changes);
        }
        Ok(snapshot)
    }

    /// Writes `changes` (merged into the account's unsaved ones) to the store; a refusal that
    /// may pass keeps them in memory, logs an error naming the account and the cause, and
    /// succeeds.
    pub(crate) async fn apply(
        &self,
        storage: &dyn TokenStorage,
        account: &str,
        changes: &CacheChanges,
    ) -> Result<(), StoreError> {
        let mut unsaved = self.unsaved.lock().await;
        let mut merged = unsaved.get(account).cloned().unwrap_or_default();
        merged.extend(changes.clone());
        let merged = compact(&merged);
        match storage.apply(account, &merged).await {
            Ok(()) => {
                if unsaved.remove(account).is_some() {
                    tracing::info!(
                        account = %account,
                        "saved the account's tokens that could not be written before"
                    );
                }
                Ok(())
            }
            Err(error) if error.is_temporary() => {
                tracing::error!(
                    account = %account,
                    store = %storage.describe(),
                    %error,
                    "unable to save the account's new tokens; they are kept in memory and the write is retried at the next login"
                );
                unsaved.insert(account.to_owned(), merged);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::CacheKey;
    use crate::store::{MemoryStorage, StoreFuture};

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

    const USER: &str = "notify@example.com";

    /// A store whose writes fail with "no space left on device" a number of times, then succeed.
    #[derive(Debug)]
    struct FullDisk {
        inner: MemoryStorage,
        failures_left: AtomicUsize,
        attempts: AtomicUsize,
    }

    impl FullDisk {
        fn failing(times: usize) -> Self {
            FullDisk {
                inner: MemoryStorage::new(),
                failures_left: AtomicUsize::new(times),
                attempts: AtomicUsize::new(0),
            }
        }
    }

    impl TokenStorage for FullDisk {
        fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
            self.inner.load()
        }

        fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let failing = self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Box::pin(std::future::ready(Err(StoreError::Io {
                    path: "/mnt/full/emailproxy.config".into(),
                    source: std::io::Error::from_raw_os_error(28),
                })));
            }
            self.inner.apply(account, changes)
        }

        fn describe(&self) -> String {
            "/mnt/full/emailproxy.config".to_owned()
        }
    }

    /// Collects formatted log events.
    #[derive(Default)]
    struct Capture {
        events: Mutex<Vec<String>>,
    }

    struct Fields(String);

    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields(event.metadata().level().to_string());
            event.record(&mut fields);
            self.events.lock().unwrap().push(fields.0);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_error_names_the_account_and_the_cause_and_no_secret() {
        let disk = FullDisk::failing(1);
        let writes = UnsavedWrites::new();
        let mut changes = CacheChanges::new();
        changes
            .set(CacheKey::AccessToken, "gAAAA-encrypted-access")
            .set(CacheKey::RefreshToken, "gAAAA-encrypted-refresh");
        let capture = Arc::new(Capture::default());
        {
            let _logging = tracing::subscriber::set_default(Arc::clone(&capture));
            writes.apply(&disk, USER, &changes).await.unwrap();
            assert_eq!(writes.accounts().await, [USER]);
            let snapshot = writes.load(&disk).await.unwrap();
            assert_eq!(
                snapshot.accounts[USER]["access_token"], "gAAAA-encrypted-access",
                "the retry in load saved it"
            );
        }
        assert!(writes.accounts().await.is_empty());
        assert_eq!(disk.inner.load().await.unwrap().accounts[USER].len(), 2);
        let events = capture.events.lock().unwrap();
        let error = events
            .iter()
            .find(|e| e.starts_with("ERROR"))
            .expect("an error is logged");
        assert!(error.contains(USER), "{error}");
        assert!(error.contains("No space left on device"), "{error}");
        assert!(error.contains("/mnt/full/emailproxy.config"), "{error}");
        assert!(
            events
                .iter()
                .any(|e| e.starts_with("INFO") && e.contains(USER)),
            "the later save is logged: {events:?}"
        );
        assert!(
            events.iter().all(|e| !e.contains("gAAAA")),
            "no token value in any log line: {events:?}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn later_writes_merge_into_the_unsaved_one_and_bugs_are_not_retried() {
        let disk = FullDisk::failing(2);
        let writes = UnsavedWrites::new();
        let mut first = CacheChanges::new();
        first
            .set(CacheKey::AccessToken, "a1")
            .set(CacheKey::RefreshToken, "r1");
        writes.apply(&disk, USER, &first).await.unwrap();
        let mut second = CacheChanges::new();
        second.set(CacheKey::AccessToken, "a2");
        writes.apply(&disk, USER, &second).await.unwrap();
        let values = writes.load(&disk).await.unwrap().accounts[USER].clone();
        assert_eq!(
            (
                values["access_token"].as_str(),
                values["refresh_token"].as_str()
            ),
            ("a2", "r1")
        );
        assert!(writes.accounts().await.is_empty());
        assert_eq!(disk.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(disk.inner.load().await.unwrap().accounts[USER], values);

        // A write that can never succeed is an error, not kept for retrying.
        assert!(matches!(
            writes.apply(&disk, "not-an-account", &second).await,
            Err(StoreError::NotAnAccount { .. })
        ));
        assert!(writes.accounts().await.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unreachable_shared_store_keeps_the_tokens_in_memory() {
        #[derive(Debug)]
        struct Unreachable;
        impl TokenStorage for Unreachable {
            fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
                Box::pin(std::future::ready(Ok(CacheSnapshot::default())))
            }
            fn apply<'a>(&'a self, _: &'a str, _: &'a CacheChanges) -> StoreFuture<'a, ()> {
                Box::pin(std::future::ready(Err(StoreError::Backend {
                    store: self.describe(),
                    temporary: true,
                    source: "connection refused".into(),
                })))
            }
            fn describe(&self) -> String {
                "redis://127.0.0.1:6379/0".to_owned()
            }
        }
        let writes = UnsavedWrites::new();
        let mut changes = CacheChanges::new();
        changes.set(CacheKey::AccessToken, "a1");
        writes.apply(&Unreachable, USER, &changes).await.unwrap();
        let snapshot = writes.load(&Unreachable).await.unwrap();
        assert_eq!(snapshot.accounts[USER]["access_token"], "a1");
        assert_eq!(writes.retry(&Unreachable).await, 1);
    }
}
