//! The storage boundary of the login manager: decrypt and persist one account's tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::SecretString;
use crate::config::AccountConfig;

/// What unlocks an account's cached tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credential {
    /// The client's login password (the key is derived from it, or found in the key cache).
    Password(SecretString),
    /// The derived key already in the key cache (proactive refresh, no client present).
    CachedKey,
}

/// An account's cached tokens, decrypted.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StoredTokens {
    /// `access_token`.
    pub access_token: Option<SecretString>,
    /// `access_token_expiry` (Unix seconds).
    pub access_token_expiry: Option<u64>,
    /// `refresh_token`.
    pub refresh_token: Option<SecretString>,
    /// `client_secret_encrypted`, decrypted.
    pub client_secret: Option<SecretString>,
}

/// A change to an account's cached tokens (always written to the user's own section).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TokenUpdate {
    /// New tokens: encrypt and store them.
    Store {
        /// The new access token.
        access_token: SecretString,
        /// Its expiry (Unix seconds).
        access_token_expiry: u64,
        /// A new refresh token; `None` keeps the stored one (no rotation).
        refresh_token: Option<SecretString>,
        /// With `encrypt_client_secret_on_first_use`: the client secret to store as
        /// `client_secret_encrypted` (removing the plain `client_secret`).
        encrypt_client_secret: Option<SecretString>,
    },
    /// Remove `access_token` and `access_token_expiry` (first strike of a refused refresh).
    DropAccessToken,
    /// Remove every token and the salt (second strike, or a reset after a wrong password).
    DropAllTokens,
}

/// Why the vault could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The password does not decrypt the stored tokens.
    #[error("the password does not decrypt the stored tokens")]
    WrongPassword,
    /// [`Credential::CachedKey`] was given but no key is cached.
    #[error("no derived key is cached for the account")]
    NoCachedKey,
    /// Too many wrong passwords recently: try again after this many seconds.
    #[error("too many failed logins - retry in {retry_after_secs} s")]
    Backoff {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Reading or writing the store failed.
    #[error("token store error: {0}")]
    Storage(String),
}

/// Decrypts and persists one account's tokens. Implemented over the config/cache-store files
/// by the token store; [`MemoryVault`] keeps them in memory. Methods block (key derivation, file
/// I/O): the login manager calls them on tokio's blocking pool.
pub trait TokenVault: Send + Sync + 'static {
    /// The decrypted tokens of `account.username`.
    fn load(
        &self,
        account: &AccountConfig,
        credential: &Credential,
    ) -> Result<StoredTokens, VaultError>;

    /// Applies `update` to `account.username`'s tokens, encrypting with `credential`.
    fn save(
        &self,
        account: &AccountConfig,
        credential: &Credential,
        update: &TokenUpdate,
    ) -> Result<(), VaultError>;
}

/// An in-memory [`TokenVault`]: tokens are "encrypted" by remembering the password that stored
/// them (trust on first use), which is enough to exercise every login path in tests.
#[derive(Debug, Default)]
pub struct MemoryVault {
    accounts: Mutex<HashMap<String, (SecretString, StoredTokens)>>,
}

impl MemoryVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seeds `username` with `tokens`, locked by `password`.
    pub fn insert(&self, username: &str, password: &str, tokens: StoredTokens) {
        self.lock()
            .insert(username.to_owned(), (SecretString::from(password), tokens));
    }

    /// The stored tokens of `username` (without checking any password).
    pub fn peek(&self, username: &str) -> Option<StoredTokens> {
        self.lock().get(username).map(|(_, tokens)| tokens.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SecretString, StoredTokens)>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl TokenVault for MemoryVault {
    fn load(
        &self,
        account: &AccountConfig,
        credential: &Credential,
    ) -> Result<StoredTokens, VaultError> {
        let accounts = self.lock();
        let Some((password, tokens)) = accounts.get(&account.username) else {
            return match credential {
                Credential::Password(_) => Ok(StoredTokens::default()),
                Credential::CachedKey => Err(VaultError::NoCachedKey),
            };
        };
        match credential {
            Credential::Password(given) if given == password => Ok(tokens.clone()),
            Credential::Password(_) => Err(VaultError::WrongPassword),
            Credential::CachedKey => Ok(tokens.clone()),
        }
    }

    fn save(
        &self,
        account: &AccountConfig,
        credential: &Credential,
        update: &TokenUpdate,
    ) -> Result<(), VaultError> {
        let mut accounts = self.lock();
        let entry = accounts.get_mut(&account.username);
        match (update, entry, credential) {
            (TokenUpdate::DropAllTokens, _, _) => {
                accounts.remove(&account.username);
            }
            (TokenUpdate::DropAccessToken, Some((_, tokens)), _) => {
                tokens.access_token = None;
                tokens.access_token_expiry = None;
            }
            (TokenUpdate::DropAccessToken, None, _) => {}
            (TokenUpdate::Store { .. }, None, Credential::CachedKey) => {
                return Err(VaultError::NoCachedKey);
            }
            (
                TokenUpdate::Store {
                    access_token,
                    access_token_expiry,
                    refresh_token,
                    encrypt_client_secret,
                },
                entry,
                credential,
            ) => {
                let password = match (credential, &entry) {
                    (Credential::Password(p), _) => p.clone(),
                    (Credential::CachedKey, Some((p, _))) => p.clone(),
                    (Credential::CachedKey, None) => return Err(VaultError::NoCachedKey),
                };
                let mut tokens = entry.map(|(_, t)| t.clone()).unwrap_or_default();
                tokens.access_token = Some(access_token.clone());
                tokens.access_token_expiry = Some(*access_token_expiry);
                if let Some(refresh) = refresh_token {
                    tokens.refresh_token = Some(refresh.clone());
                }
                if let Some(secret) = encrypt_client_secret {
                    tokens.client_secret = Some(secret.clone());
                }
                accounts.insert(account.username.clone(), (password, tokens));
            }
        }
        Ok(())
    }
}
