//! An in-memory cache of derived keys, so only the first login of an account pays
//! for PBKDF2.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::hmac;

use super::RandomnessUnavailable;
use super::fernet::FernetKey;

/// How many derived keys are kept by default.
pub(crate) const DEFAULT_KEY_CACHE_CAPACITY: usize = 1024;

#[derive(Clone, PartialEq, Eq, Hash)]
struct KeyId {
    account: String,
    salt: Vec<u8>,
    iterations: NonZeroU32,
}

struct CachedKey {
    /// HMAC of the password under the process key: proves the password without
    /// keeping it.
    password_tag: Vec<u8>,
    key: Arc<FernetKey>,
    last_used: u64,
}

/// Derived keys by account, salt and iteration count, each bound to a keyed digest of
/// the password that derived it (HMAC-SHA256 under a random per-process key, checked
/// in constant time). Bounded: the least recently used key is dropped (and zeroized)
/// when full.
pub struct DerivedKeyCache {
    process_key: hmac::Key,
    capacity: usize,
    entries: Mutex<(u64, HashMap<KeyId, CachedKey>)>,
}

impl core::fmt::Debug for DerivedKeyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DerivedKeyCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl DerivedKeyCache {
    /// A cache holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Result<Self, RandomnessUnavailable> {
        let process_key = hmac::Key::new(hmac::HMAC_SHA256, &super::random_bytes::<32>()?);
        Ok(Self {
            process_key,
            capacity: capacity.max(1),
            entries: Mutex::new((0, HashMap::new())),
        })
    }

    fn tag(&self, password: &[u8]) -> hmac::Tag {
        hmac::sign(&self.process_key, password)
    }

    /// The cached key, if the same password derived it.
    pub fn get(
        &self,
        account: &str,
        salt: &[u8],
        iterations: NonZeroU32,
        password: &[u8],
    ) -> Option<Arc<FernetKey>> {
        let id = KeyId {
            account: account.to_owned(),
            salt: salt.to_vec(),
            iterations,
        };
        let mut guard = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (clock, entries) = &mut *guard;
        let entry = entries.get_mut(&id)?;
        hmac::verify(&self.process_key, password, &entry.password_tag).ok()?;
        *clock += 1;
        entry.last_used = *clock;
        Some(Arc::clone(&entry.key))
    }

    /// Remembers a key derived from `password`.
    pub fn insert(
        &self,
        account: &str,
        salt: &[u8],
        iterations: NonZeroU32,
        password: &[u8],
        key: Arc<FernetKey>,
    ) {
        let id = KeyId {
            account: account.to_owned(),
            salt: salt.to_vec(),
            iterations,
        };
        let password_tag = self.tag(password).as_ref().to_vec();
        let mut guard = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (clock, entries) = &mut *guard;
        *clock += 1;
        if !entries.contains_key(&id) && entries.len() >= self.capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            id,
            CachedKey {
                password_tag,
                key,
                last_used: *clock,
            },
        );
    }

    /// Drops every key of `account` (after its tokens were reset).
    pub fn forget_account(&self, account: &str) {
        let mut guard = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1.retain(|id, _| id.account != account);
    }

    /// The number of cached keys.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_keys_to_the_password_and_evicts_least_recent() {
        let cache = DerivedKeyCache::new(2).unwrap();
        let n = NonZeroU32::MIN;
        let key = Arc::new(FernetKey::from_bytes(&[3; 32]));
        cache.insert("a@x", b"salt", n, b"pw", Arc::clone(&key));
        assert!(cache.get("a@x", b"salt", n, b"pw").is_some());
        assert!(cache.get("a@x", b"salt", n, b"other").is_none());
        assert!(cache.get("a@x", b"pepper", n, b"pw").is_none());
        assert!(cache.get("b@x", b"salt", n, b"pw").is_none());
        cache.insert("b@x", b"salt", n, b"pw", Arc::clone(&key));
        assert!(cache.get("a@x", b"salt", n, b"pw").is_some());
        cache.insert("c@x", b"salt", n, b"pw", key);
        assert_eq!(cache.len(), 2);
        assert!(
            cache.get("b@x", b"salt", n, b"pw").is_none(),
            "least recently used is evicted"
        );
        cache.forget_account("a@x");
        assert_eq!(cache.len(), 1);
    }
}
