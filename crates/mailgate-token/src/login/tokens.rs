//! An account's tokens as the login manager sees them: decrypted from the [`TokenStorage`]
//! by the vault (derived-key cache, rotation, wrong-password policy, back-off), and written
//! back through the unsaved-write memory.
//!
//! Key derivation runs on tokio's blocking pool; storage I/O is awaited.

use std::sync::{Arc, PoisonError, RwLock};

use super::unsaved::UnsavedWrites;
use super::vault::{Denied, TokenVault, Unlock, UnlockedAccount, refresh_rejected_changes};
use crate::SecretString;
use crate::config::{
    AccountCache, AccountConfig, CacheChanges, ProxyConfig, parse_int, parse_unix_time,
};
use crate::crypto::RandomnessUnavailable;
use crate::store::{AccountLock, CacheSnapshot, StoreError, TokenStorage};

/// An account's cached tokens, decrypted.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoredTokens {
    /// `access_token`.
    pub(crate) access_token: Option<SecretString>,
    /// `access_token_expiry` (Unix seconds).
    pub(crate) access_token_expiry: Option<u64>,
    /// `refresh_token`.
    pub(crate) refresh_token: Option<SecretString>,
    /// The client secret to send: `client_secret`, or `client_secret_encrypted` decrypted.
    pub(crate) client_secret: Option<SecretString>,
}

/// A change to an account's cached tokens (always written to the user's own section).
#[derive(Debug, Clone)]
pub(crate) enum TokenUpdate {
    /// New tokens: encrypt and store them.
    Store {
        /// The new access token.
        access_token: SecretString,
        /// Its expiry (Unix seconds).
        access_token_expiry: u64,
        /// A new refresh token; `None` keeps the stored one (no rotation).
        refresh_token: Option<SecretString>,
    },
    /// Remove `access_token` and `access_token_expiry` (first strike of a refused refresh, or
    /// an access token the upstream server refused).
    DropAccessToken,
    /// Remove every token and the salt (second strike of a refused refresh).
    DropAllTokens,
}

/// Why the tokens could not be read or written.
#[derive(Debug)]
pub(crate) enum TokensError {
    /// The password does not decrypt the stored values, and the policy keeps them.
    WrongPassword,
    /// Too many wrong passwords recently.
    Backoff { retry_after_secs: u64 },
    /// The store failed.
    Storage(StoreError),
    /// No randomness to encrypt with.
    Randomness(RandomnessUnavailable),
    /// The blocking task of a key derivation was lost.
    Worker(String),
}

/// The accounts' tokens over one store.
#[derive(Debug)]
pub(crate) struct AccountTokens {
    config: RwLock<Arc<ProxyConfig>>,
    vault: Arc<TokenVault>,
    storage: Arc<dyn TokenStorage>,
    unsaved: UnsavedWrites,
}

impl AccountTokens {
    pub(crate) fn new(
        config: Arc<ProxyConfig>,
        vault: TokenVault,
        storage: Arc<dyn TokenStorage>,
    ) -> Self {
        AccountTokens {
            config: RwLock::new(config),
            vault: Arc::new(vault),
            storage,
            unsaved: UnsavedWrites::new(),
        }
    }

    pub(crate) fn set_config(&self, config: Arc<ProxyConfig>) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    pub(crate) fn storage(&self) -> &Arc<dyn TokenStorage> {
        &self.storage
    }

    pub(crate) async fn unsaved_accounts(&self) -> Vec<String> {
        self.unsaved.accounts().await
    }

    pub(crate) async fn retry_unsaved(&self) -> usize {
        self.unsaved.retry(self.storage.as_ref()).await
    }

    pub(crate) async fn lock_account(&self, username: &str) -> Result<AccountLock, StoreError> {
        self.storage.lock_account(username).await
    }

    async fn apply(&self, username: &str, changes: &CacheChanges) -> Result<(), TokensError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.unsaved
            .apply(self.storage.as_ref(), username, changes)
            .await
            .map_err(TokensError::Storage)
    }

    /// Unlocks the account for a login (or, with `new_tokens`, to store the tokens a new
    /// authorisation obtained) on the blocking pool, then runs `then` on the unlocked account
    /// there too (encryption needs the derived key).
    async fn unlock<T: Send + 'static>(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        now: u64,
        new_tokens: bool,
        then: impl FnOnce(&mut UnlockedAccount) -> Result<T, TokensError> + Send + 'static,
    ) -> Result<(UnlockedAccount, T), TokensError> {
        let snapshot = self
            .unsaved
            .load(self.storage.as_ref())
            .await
            .map_err(TokensError::Storage)?;
        let config = Arc::clone(&self.config.read().unwrap_or_else(PoisonError::into_inner));
        let cache = account_cache(&config, &snapshot, &account.username);
        let vault = Arc::clone(&self.vault);
        let task_account = Arc::clone(account);
        let password = password.clone();
        let unlock = tokio::task::spawn_blocking(move || {
            let password = password.expose().as_bytes();
            let unlock = if new_tokens {
                vault.unlock_for_new_tokens(&task_account, &cache, password, now)
            } else {
                vault.unlock(&task_account, &cache, password, now)
            };
            match unlock {
                Unlock::Unlocked(mut unlocked) => {
                    let value = then(&mut unlocked)?;
                    Ok((unlocked, false, value))
                }
                Unlock::Reset(mut unlocked) => {
                    let value = then(&mut unlocked)?;
                    Ok((unlocked, true, value))
                }
                Unlock::Denied(Denied::ResetCoolingDown { retry_after_secs })
                | Unlock::Throttled { retry_after_secs } => {
                    Err(TokensError::Backoff { retry_after_secs })
                }
                Unlock::Denied(Denied::WrongPassword | Denied::ClientSecretUndecryptable) => {
                    Err(TokensError::WrongPassword)
                }
                Unlock::Failed(error) => Err(TokensError::Randomness(error)),
            }
        })
        .await
        .map_err(|error| TokensError::Worker(error.to_string()))??;
        match unlock {
            (mut unlocked, false, value) => {
                self.apply(&account.username, &unlocked.take_pending_changes())
                    .await?;
                Ok((unlocked, value))
            }
            (unlocked, true, value) => {
                if new_tokens {
                    tracing::info!(
                        account = %account.username,
                        "the new authorisation succeeded: its tokens replace those of the other password"
                    );
                } else {
                    tracing::info!(
                        account = %account.username,
                        "the password does not decrypt the stored tokens: authorising anew with it (delete_account_token_on_password_error); the stored tokens are kept until that succeeds"
                    );
                }
                Ok((unlocked, value))
            }
        }
    }

    /// The decrypted tokens of `account.username`, unlocked with `password` at `now`.
    pub(crate) async fn load(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        now: u64,
    ) -> Result<StoredTokens, TokensError> {
        let (unlocked, ()) = self
            .unlock(account, password, now, false, |_| Ok(()))
            .await?;
        Ok(StoredTokens {
            access_token: unlocked.access_token().cloned(),
            access_token_expiry: unlocked.access_token_expiry(),
            refresh_token: unlocked.refresh_token().cloned(),
            client_secret: unlocked.client_secret().cloned(),
        })
    }

    /// Applies `update` to `account.username`'s tokens, encrypting with `password`.
    pub(crate) async fn save(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        update: &TokenUpdate,
        now: u64,
    ) -> Result<(), TokensError> {
        let changes = match update {
            TokenUpdate::DropAccessToken => refresh_rejected_changes(true),
            TokenUpdate::DropAllTokens => refresh_rejected_changes(false),
            TokenUpdate::Store {
                access_token,
                access_token_expiry,
                refresh_token,
            } => {
                let access_token = access_token.clone();
                let refresh_token = refresh_token.clone();
                let expires_in = Some(access_token_expiry.saturating_sub(now));
                let (_, changes) = self
                    .unlock(account, password, now, true, move |unlocked| {
                        unlocked
                            .store_tokens(
                                access_token.expose(),
                                expires_in,
                                refresh_token.as_ref().map(|t| t.expose().as_str()),
                                now,
                            )
                            .map_err(TokensError::Randomness)
                    })
                    .await?;
                changes
            }
        };
        self.apply(&account.username, &changes).await
    }
}

/// The cached values of `username` as the Python email-oauth2-proxy reads them: tokens from
/// the user's own section, salt, iterations and encrypted client secret through the catch-all
/// chain.
///
/// The chain is walked by name ([`ProxyConfig::fallback_sections`]), with the store's values
/// of each section before the configuration's: the user's own section of a catch-all account
/// exists in the store from its first login on, while the configuration loaded at start does
/// not have it until the next restart or reload.
fn account_cache(config: &ProxyConfig, snapshot: &CacheSnapshot, username: &str) -> AccountCache {
    let stored = |section: &str, key: &str| {
        snapshot
            .accounts
            .get(section)
            .and_then(|values| values.get(key))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let own = |key: &str| stored(username, key);
    let chained = |key: &str| {
        config
            .fallback_sections(username)
            .iter()
            .find_map(|section| {
                stored(section, key).or_else(|| {
                    config
                        .section_value(section, key)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                })
            })
    };
    AccountCache {
        access_token: own("access_token"),
        access_token_expiry: own("access_token_expiry")
            .as_deref()
            .and_then(parse_unix_time),
        refresh_token: own("refresh_token"),
        token_salt: chained("token_salt"),
        token_iterations: chained("token_iterations").as_deref().and_then(parse_int),
        client_secret_encrypted: chained("client_secret_encrypted"),
        last_activity: own("last_activity").as_deref().and_then(parse_unix_time),
    }
}
