//! Locks per key (account, account and password) that exist only while someone uses them.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// A map of locks `L` by key `K`. [`KeyedLocks::get`] hands out a key's lock; the entry is
/// removed when its last user is done, also when that user is cancelled (dropped), so keys
/// such as catch-all usernames or password digests cannot grow the map without bound.
#[derive(Debug)]
pub(crate) struct KeyedLocks<K, L> {
    map: Mutex<HashMap<K, Entry<L>>>,
}

/// A key's lock and how many [`KeyedLock`]s hold it. The count changes only under the map's
/// lock (an `Arc`'s strong count would not do: it falls after the map's lock is released).
#[derive(Debug)]
struct Entry<L> {
    lock: Arc<L>,
    users: usize,
}

/// One user's hold on a key's lock; lock it with [`KeyedLock::lock`].
#[derive(Debug)]
pub(crate) struct KeyedLock<'a, K: Eq + Hash, L> {
    locks: &'a KeyedLocks<K, L>,
    key: K,
    lock: Arc<L>,
}

impl<K: Eq + Hash + Clone, L: Default> KeyedLocks<K, L> {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The lock of `key`, created if no one holds it.
    pub(crate) fn get(&self, key: K) -> KeyedLock<'_, K, L> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(key.clone()).or_insert_with(|| Entry {
            lock: Arc::default(),
            users: 0,
        });
        entry.users += 1;
        let lock = Arc::clone(&entry.lock);
        KeyedLock {
            locks: self,
            key,
            lock,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<K: Eq + Hash, L> KeyedLock<'_, K, L> {
    /// The lock itself.
    pub(crate) fn lock(&self) -> &L {
        &self.lock
    }
}

impl<K: Eq + Hash, L> Drop for KeyedLock<'_, K, L> {
    fn drop(&mut self) {
        let mut map = self
            .locks
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&self.key) {
            entry.users = entry.users.saturating_sub(1);
            if entry.users == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn entries_live_while_used() {
        let locks: KeyedLocks<&str, Mutex<()>> = KeyedLocks::new();
        let first = locks.get("a");
        let second = locks.get("a");
        assert!(Arc::ptr_eq(&first.lock, &second.lock));
        drop(locks.get("b"));
        assert_eq!(locks.len(), 1);
        drop(first);
        assert_eq!(locks.len(), 1);
        drop(second);
        assert_eq!(locks.len(), 0);
    }

    #[test]
    fn concurrent_users_leave_no_entry() {
        // Each round, several threads take and drop the same new key at once (keys such as
        // password digests are seldom seen twice, so an entry left behind stays for good).
        // Counting users by the `Arc`'s strong count left entries here: a user's count fell
        // only after the map's lock was released, so the last two could both see the other.
        const THREADS: usize = 4;
        let locks: KeyedLocks<u32, Mutex<()>> = KeyedLocks::new();
        let start = std::sync::Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for round in 0..5_000u32 {
                        start.wait();
                        drop(locks.get(round));
                    }
                });
            }
        });
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_user_leaves_no_entry() {
        let locks: KeyedLocks<&str, tokio::sync::Mutex<()>> = KeyedLocks::new();
        let held = locks.get("a");
        let guard = held.lock().lock().await;
        let waiting = async {
            let entry = locks.get("a");
            let _turn = entry.lock().lock().await;
        };
        // The second user gives up while it waits for the turn.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), waiting)
                .await
                .is_err()
        );
        drop(guard);
        drop(held);
        assert_eq!(locks.len(), 0);
    }
}
