//! [`LoginStore`] over the encrypted token cache: the config file or cache store
//! ([`TokenStorage`]) decrypted and encrypted by the [`TokenVault`] (derived-key cache,
//! rotation, wrong-password policy and back-off).

use std::sync::{Arc, RwLock};

use super::login_store::{LoginStore, LoginStoreError, StoredTokens, TokenUpdate};
use crate::SecretString;
use crate::config::{AccountCache, AccountConfig, CacheChanges, ProxyConfig, parse_int};
use crate::store::{
    AccountLock, CacheSnapshot, Denied, RetryingStorage, StoreError, TokenStorage, TokenVault,
    Unlock, UnlockedAccount, refresh_rejected_changes,
};

/// The production [`LoginStore`].
#[derive(Debug)]
pub struct EncryptedLoginStore {
    config: RwLock<Arc<ProxyConfig>>,
    vault: TokenVault,
    storage: RetryingStorage,
}

impl EncryptedLoginStore {
    /// A store reading account sections from `config` (for the catch-all chain of
    /// `token_salt`, `token_iterations` and `client_secret_encrypted`), unlocking with `vault`
    /// and persisting through `storage`.
    ///
    /// Writes go through a [`RetryingStorage`]: when the disk refuses them (full, read-only,
    /// the file being edited), the new tokens are kept in memory and used, an error naming the
    /// account and the cause is logged, the login succeeds, and the write is retried at every
    /// later login and by [`LoginStore::retry_unsaved`] until it succeeds.
    pub fn new(
        config: Arc<ProxyConfig>,
        vault: TokenVault,
        storage: Arc<dyn TokenStorage>,
    ) -> Self {
        EncryptedLoginStore {
            config: RwLock::new(config),
            vault,
            storage: RetryingStorage::new(storage),
        }
    }

    /// The accounts whose latest tokens the disk has not accepted yet.
    pub fn unsaved_accounts(&self) -> Vec<String> {
        self.storage.unsaved_accounts()
    }

    /// Replaces the configuration (after a reload).
    pub fn set_config(&self, config: Arc<ProxyConfig>) {
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    /// The vault (e.g. to inspect its key cache).
    pub fn vault(&self) -> &TokenVault {
        &self.vault
    }

    fn storage_error(error: StoreError) -> LoginStoreError {
        LoginStoreError::Storage(Arc::new(error))
    }

    fn apply(&self, username: &str, changes: &CacheChanges) -> Result<(), LoginStoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.storage
            .apply(username, changes)
            .map_err(Self::storage_error)
    }

    /// Unlocks the account for a login (or, with `new_tokens`, to store the tokens a new
    /// authorisation obtained), persisting the changes decided at unlock (rotation).
    fn unlock(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        now: u64,
        new_tokens: bool,
    ) -> Result<UnlockedAccount, LoginStoreError> {
        let snapshot = self.storage.load().map_err(Self::storage_error)?;
        let config = Arc::clone(
            &self
                .config
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let cache = account_cache(&config, &snapshot, &account.username);
        let password = password.expose().as_bytes();
        let unlock = if new_tokens {
            self.vault
                .unlock_for_new_tokens(account, &cache, password, now)
        } else {
            self.vault.unlock(account, &cache, password, now)
        };
        match unlock {
            Unlock::Unlocked(mut unlocked) => {
                self.apply(&account.username, &unlocked.take_pending_changes())?;
                Ok(unlocked)
            }
            Unlock::Reset(unlocked) => {
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
                Ok(unlocked)
            }
            Unlock::Denied(Denied::ResetCoolingDown { retry_after_secs })
            | Unlock::Throttled { retry_after_secs } => {
                Err(LoginStoreError::Backoff { retry_after_secs })
            }
            Unlock::Denied(_) => Err(LoginStoreError::WrongPassword),
            Unlock::Failed(error) => Err(LoginStoreError::Randomness(error)),
        }
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
        access_token_expiry: own("access_token_expiry").as_deref().and_then(parse_int),
        refresh_token: own("refresh_token"),
        token_salt: chained("token_salt"),
        token_iterations: chained("token_iterations").as_deref().and_then(parse_int),
        client_secret_encrypted: chained("client_secret_encrypted"),
        last_activity: own("last_activity").as_deref().and_then(parse_int),
    }
}

impl LoginStore for EncryptedLoginStore {
    fn load(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        now: u64,
    ) -> Result<StoredTokens, LoginStoreError> {
        let unlocked = self.unlock(account, password, now, false)?;
        Ok(StoredTokens {
            access_token: unlocked.access_token().cloned(),
            access_token_expiry: unlocked
                .access_token_expiry()
                .and_then(|e| u64::try_from(e).ok()),
            refresh_token: unlocked.refresh_token().cloned(),
            client_secret: unlocked.client_secret().cloned(),
        })
    }

    fn save(
        &self,
        account: &AccountConfig,
        password: &SecretString,
        update: &TokenUpdate,
        now: u64,
    ) -> Result<(), LoginStoreError> {
        let changes = match update {
            TokenUpdate::DropAccessToken => refresh_rejected_changes(true),
            TokenUpdate::DropAllTokens => refresh_rejected_changes(false),
            TokenUpdate::Store {
                access_token,
                access_token_expiry,
                refresh_token,
            } => {
                let mut unlocked = self.unlock(account, password, now, true)?;
                let expires_in = i64::try_from(access_token_expiry.saturating_sub(now)).ok();
                unlocked
                    .store_tokens(
                        access_token.expose(),
                        expires_in,
                        refresh_token.as_ref().map(|t| t.expose().as_str()),
                        now,
                    )
                    .map_err(LoginStoreError::Randomness)?
            }
        };
        self.apply(&account.username, &changes)
    }

    fn lock_account(&self, account: &AccountConfig) -> Result<AccountLock, LoginStoreError> {
        self.storage
            .lock_account(&account.username)
            .map_err(Self::storage_error)
    }

    fn retry_unsaved(&self) -> usize {
        self.storage.retry()
    }
}
