//! The encryption of one account's cached values under its login password.

use std::num::NonZeroU32;
use std::sync::Arc;

use super::fernet::{FernetKey, InvalidToken, token_timestamp};
use super::kdf::{decode_salt, derive_key, encode_salt, iteration_candidates};
use super::key_cache::DerivedKeyCache;
use super::{RandomnessUnavailable, random_bytes};
use crate::{SecretBytes, SecretString};

/// A value decrypted by [`AccountCipher::decrypt`].
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub value: SecretString,
    /// The iteration count of the key that decrypted it.
    pub iterations: NonZeroU32,
    /// Whether the value should be re-encrypted with the current iteration count.
    pub needs_rotation: bool,
}

/// The Python email-oauth2-proxy's `Cryptographer`: the keys of one account for one login password.
///
/// Keys are derived lazily, highest iteration count first, and shared through a
/// [`DerivedKeyCache`], so a login whose key is cached runs no PBKDF2 at all.
#[derive(Debug)]
pub struct AccountCipher {
    account: String,
    salt: Vec<u8>,
    salt_is_new: bool,
    candidates: Vec<NonZeroU32>,
    keys: Vec<Option<Arc<FernetKey>>>,
    password: SecretBytes,
    cache: Arc<DerivedKeyCache>,
    derivations: usize,
}

impl AccountCipher {
    /// Prepares the keys of `account` for `password`, with the stored `token_salt` (a
    /// new random salt when absent or not base64, as the Python email-oauth2-proxy does) and stored
    /// `token_iterations`.
    pub fn new(
        account: &str,
        token_salt: Option<&str>,
        token_iterations: Option<i64>,
        password: &[u8],
        cache: Arc<DerivedKeyCache>,
    ) -> Result<Self, RandomnessUnavailable> {
        let (salt, salt_is_new) = match decode_salt(token_salt) {
            Some(salt) => (salt, false),
            None => (random_bytes::<16>()?.to_vec(), true),
        };
        let candidates = iteration_candidates(token_iterations);
        Ok(Self {
            account: account.to_owned(),
            salt,
            salt_is_new,
            keys: vec![None; candidates.len()],
            candidates,
            password: SecretBytes::from(password),
            cache,
            derivations: 0,
        })
    }

    /// The salt as written to `token_salt`.
    pub fn salt(&self) -> String {
        encode_salt(&self.salt)
    }

    /// Whether the salt was generated now (none usable was stored).
    pub fn salt_is_new(&self) -> bool {
        self.salt_is_new
    }

    /// The iteration count new values are encrypted with (written to `token_iterations`).
    pub fn iterations(&self) -> NonZeroU32 {
        self.candidates.first().copied().unwrap_or(NonZeroU32::MIN)
    }

    /// How many PBKDF2 derivations this cipher ran (0 when every key was cached).
    pub fn derivations(&self) -> usize {
        self.derivations
    }

    /// The key of candidate `index`: from this cipher, the shared cache, or derived.
    /// A derived key stays private to this cipher until [`Self::confirm`] shows it is
    /// the right one, so wrong passwords never displace good keys from the cache.
    fn key(&mut self, index: usize, derive: bool) -> Option<Arc<FernetKey>> {
        let iterations = *self.candidates.get(index)?;
        if let Some(Some(key)) = self.keys.get(index) {
            return Some(Arc::clone(key));
        }
        let password = self.password.expose();
        let key = match self
            .cache
            .get(&self.account, &self.salt, iterations, password)
        {
            Some(key) => key,
            None if derive => {
                self.derivations += 1;
                Arc::new(derive_key(password, &self.salt, iterations))
            }
            None => return None,
        };
        if let Some(slot) = self.keys.get_mut(index) {
            *slot = Some(Arc::clone(&key));
        }
        Some(key)
    }

    /// Shares the key of candidate `index` through the cache: it decrypted a stored
    /// value, or encrypts new ones.
    fn confirm(&self, index: usize) {
        if let (Some(iterations), Some(Some(key))) =
            (self.candidates.get(index), self.keys.get(index))
        {
            let password = self.password.expose();
            if self
                .cache
                .get(&self.account, &self.salt, *iterations, password)
                .is_none()
            {
                self.cache.insert(
                    &self.account,
                    &self.salt,
                    *iterations,
                    password,
                    Arc::clone(key),
                );
            }
        }
    }

    /// Decrypts a stored value, trying keys already at hand first and deriving the
    /// others highest iteration count first, like the Python email-oauth2-proxy's `MultiFernet`.
    pub fn decrypt(&mut self, token: &str) -> Result<Decrypted, InvalidToken> {
        for derive in [false, true] {
            for index in 0..self.candidates.len() {
                let Some(key) = self.key(index, derive) else {
                    continue;
                };
                if let Ok(plaintext) = key.decrypt(token) {
                    self.confirm(index);
                    let value =
                        String::from_utf8(plaintext.expose().clone()).map_err(|_| InvalidToken)?;
                    let iterations = self
                        .candidates
                        .get(index)
                        .copied()
                        .unwrap_or(NonZeroU32::MIN);
                    return Ok(Decrypted {
                        value: SecretString::new(value),
                        iterations,
                        needs_rotation: index != 0,
                    });
                }
            }
        }
        Err(InvalidToken)
    }

    /// Encrypts a value with the current iteration count at time `now` (Unix seconds).
    pub fn encrypt(&mut self, plaintext: &str, now: u64) -> Result<String, RandomnessUnavailable> {
        let key = self.key(0, true).ok_or(RandomnessUnavailable)?;
        self.confirm(0);
        key.encrypt(plaintext.as_bytes(), now)
    }

    /// Re-encrypts a value decrypted with an older iteration count, keeping its
    /// timestamp (as `MultiFernet.rotate` does); `None` when it is current.
    pub fn rotate(&mut self, token: &str) -> Result<Option<String>, RotateError> {
        let decrypted = self.decrypt(token).map_err(RotateError::Invalid)?;
        if !decrypted.needs_rotation {
            return Ok(None);
        }
        let timestamp = token_timestamp(token).unwrap_or_default();
        let key = self
            .key(0, true)
            .ok_or(RotateError::Random(RandomnessUnavailable))?;
        self.confirm(0);
        let iv = random_bytes::<16>().map_err(RotateError::Random)?;
        Ok(Some(key.encrypt_with(
            decrypted.value.expose().as_bytes(),
            timestamp,
            iv,
        )))
    }
}

/// Why [`AccountCipher::rotate`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The value does not decrypt.
    #[error(transparent)]
    Invalid(InvalidToken),
    /// No randomness for the new IV.
    #[error(transparent)]
    Random(RandomnessUnavailable),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Arc<DerivedKeyCache> {
        Arc::new(DerivedKeyCache::new(16).unwrap())
    }

    #[test]
    fn new_salt_when_missing_or_invalid() {
        for salt in [None, Some(""), Some("not base64!")] {
            let cipher = AccountCipher::new("a@b", salt, None, b"pw", cache()).unwrap();
            assert!(cipher.salt_is_new());
            assert_eq!(cipher.salt().len(), 24);
        }
        let cipher = AccountCipher::new(
            "a@b",
            Some("AAECAwQFBgcICQoLDA0ODw=="),
            None,
            b"pw",
            cache(),
        )
        .unwrap();
        assert!(!cipher.salt_is_new());
        assert_eq!(cipher.salt(), "AAECAwQFBgcICQoLDA0ODw==");
    }
}
