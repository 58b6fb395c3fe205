//! The storage boundary of the login manager: decrypt and persist one account's tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::SecretString;
use crate::config::{AccountConfig, GlobalOptions, OAuthFlow};
use crate::store::AccountLock;

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
    /// The client secret to send: `client_secret`, or `client_secret_encrypted` decrypted.
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
    },
    /// Remove `access_token` and `access_token_expiry` (first strike of a refused refresh).
    DropAccessToken,
    /// Remove every token and the salt (second strike of a refused refresh).
    DropAllTokens,
}

/// Why the store could not do what was asked, and whose fault it is: the user's (a wrong
/// password, too many of them), the storage's (the disk or the file), or the system's (no
/// randomness to encrypt with).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoginStoreError {
    /// The password does not decrypt the stored values, and the policy keeps them.
    #[error("the password does not decrypt the stored tokens")]
    WrongPassword,
    /// Too many wrong passwords recently: try again after this many seconds.
    #[error("too many failed logins - retry in {retry_after_secs} s")]
    Backoff {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Reading or writing the store failed (the disk or the file; the error says what to fix).
    #[error("token store error: {0}")]
    Storage(#[source] std::sync::Arc<crate::store::StoreError>),
    /// The operating system's random generator failed, so nothing could be encrypted.
    #[error("token store error: {0}")]
    Randomness(#[source] crate::crypto::RandomnessUnavailable),
}

/// Decrypts and persists one account's tokens, applying the wrong-password policy (a wrong
/// password that may authorise anew gets empty tokens; the stored ones stay until a
/// [`TokenUpdate::Store`] with that password replaces them).
///
/// [`EncryptedLoginStore`](super::EncryptedLoginStore) implements it over the encrypted
/// config or cache-store file; [`MemoryLoginStore`] keeps plain tokens in memory for tests.
/// Methods block (key derivation, file I/O): the login manager calls them on tokio's blocking
/// pool.
pub trait LoginStore: Send + Sync + 'static {
    /// The decrypted tokens of `account.username`, unlocked with `password` at `now`.
    fn load(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        now: u64,
    ) -> Result<StoredTokens, LoginStoreError>;

    /// Applies `update` to `account.username`'s tokens, encrypting with `password`.
    ///
    /// A store whose disk refuses the write may keep the update in memory, return `Ok` and
    /// retry the write later (see [`LoginStore::retry_unsaved`]).
    fn save(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        update: &TokenUpdate,
        now: u64,
    ) -> Result<(), LoginStoreError>;

    /// Takes `account.username`'s refresh lock, waiting while another process holds it (see
    /// [`TokenStorage::lock_account`](crate::store::TokenStorage::lock_account)). The login
    /// manager holds it from re-reading the stored tokens until the refreshed ones are saved.
    /// Stores no other process shares need none (the default).
    fn lock_account(&self, account: &AccountConfig) -> Result<AccountLock, LoginStoreError> {
        let _ = account;
        Ok(AccountLock::unshared())
    }

    /// Retries the writes the disk refused earlier; returns how many accounts' tokens are
    /// still unsaved (the default store never has any).
    fn retry_unsaved(&self) -> usize {
        0
    }
}

/// A [`LoginStore`] in memory: tokens are "encrypted" by remembering the password that stored
/// them, and the Python email-oauth2-proxy's wrong-password policy is applied. Enough to exercise every login
/// path quickly in tests.
#[derive(Debug, Default)]
pub struct MemoryLoginStore {
    options: GlobalOptions,
    accounts: Mutex<HashMap<String, (SecretString, StoredTokens)>>,
}

impl MemoryLoginStore {
    /// An empty store applying `options` (`delete_account_token_on_password_error`).
    pub fn new(options: GlobalOptions) -> Self {
        MemoryLoginStore {
            options,
            accounts: Mutex::new(HashMap::new()),
        }
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

    /// `client_secret`, or with `use_login_password_as_client_credentials_secret` the login
    /// password for a client-credentials account without certificate credentials.
    fn client_secret(
        &self,
        account: &AccountConfig,
        password: &SecretString,
    ) -> Option<SecretString> {
        let assertion = account.jwt_certificate_path.is_some() && account.jwt_key_path.is_some();
        account.client_secret.clone().or_else(|| {
            (account.flow == OAuthFlow::ClientCredentials
                && self.options.use_login_password_as_client_credentials_secret
                && !assertion)
                .then(|| password.clone())
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SecretString, StoredTokens)>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl LoginStore for MemoryLoginStore {
    fn load(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        _now: u64,
    ) -> Result<StoredTokens, LoginStoreError> {
        let client_secret = self.client_secret(account, password);
        let accounts = self.lock();
        let Some((stored_password, tokens)) = accounts.get(&account.username) else {
            return Ok(StoredTokens {
                client_secret,
                ..StoredTokens::default()
            });
        };
        if stored_password == password {
            let mut tokens = tokens.clone();
            tokens.client_secret = client_secret;
            return Ok(tokens);
        }
        if self.options.delete_account_token_on_password_error && !account.flow.is_unattended() {
            // The stored tokens stay until new ones are stored with this password.
            return Ok(StoredTokens {
                client_secret,
                ..StoredTokens::default()
            });
        }
        Err(LoginStoreError::WrongPassword)
    }

    fn save(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        update: &TokenUpdate,
        _now: u64,
    ) -> Result<(), LoginStoreError> {
        let mut accounts = self.lock();
        match update {
            TokenUpdate::DropAllTokens => {
                accounts.remove(&account.username);
            }
            TokenUpdate::DropAccessToken => {
                if let Some((_, tokens)) = accounts.get_mut(&account.username) {
                    tokens.access_token = None;
                    tokens.access_token_expiry = None;
                }
            }
            TokenUpdate::Store {
                access_token,
                access_token_expiry,
                refresh_token,
            } => {
                // Tokens of another password are replaced whole, where the policy allows it.
                let mut tokens = match accounts.get(&account.username) {
                    Some((stored, tokens)) if stored == password => tokens.clone(),
                    Some(_)
                        if !self.options.delete_account_token_on_password_error
                            || account.flow.is_unattended() =>
                    {
                        return Err(LoginStoreError::WrongPassword);
                    }
                    _ => StoredTokens::default(),
                };
                tokens.access_token = Some(access_token.clone());
                tokens.access_token_expiry = Some(*access_token_expiry);
                if let Some(refresh) = refresh_token {
                    tokens.refresh_token = Some(refresh.clone());
                }
                accounts.insert(account.username.clone(), (password.clone(), tokens));
            }
        }
        Ok(())
    }
}
