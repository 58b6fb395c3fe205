//! The login-time decisions about an account's encrypted cache: decrypt, rotate, and
//! what a wrong password does. Sans-I/O: time is passed in and the changes to persist
//! are returned; the caller writes them through a [`TokenStorage`](crate::store::TokenStorage).

use std::sync::{Arc, Mutex, PoisonError};

use super::backoff::{DEFAULT_BACKOFF_CAPACITY, FailureBackoff};
use super::lifecycle::TOKEN_EXPIRY_MARGIN_SECS;
use crate::SecretString;
use crate::config::{
    AccountCache, AccountConfig, CacheChanges, CacheKey, GlobalOptions, OAuthFlow,
};
use crate::crypto::{
    AccountCipher, DEFAULT_KEY_CACHE_CAPACITY, DerivedKeyCache, RandomnessUnavailable,
};
use crate::keyed::KeyedLocks;
use crate::oauth::DEFAULT_TOKEN_LIFETIME_SECS;

/// Where the client secret of an unlocked account comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ClientSecretSource {
    /// No client secret (public client, or a JWT client assertion).
    None,
    /// `client_secret` in the configuration.
    Config,
    /// `client_secret_encrypted`, decrypted with the login password.
    Encrypted,
    /// The login password (`use_login_password_as_client_credentials_secret`).
    LoginPassword,
}

/// Why a login was refused without obtaining tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Denied {
    /// The password does not decrypt the cached tokens and they are kept
    /// (`delete_account_token_on_password_error = False`, or a client-credentials or
    /// service-account account, whose tokens are never reset by a login).
    #[error("the password is incorrect")]
    WrongPassword,
    /// The password does not decrypt the cached tokens; it would start a new authorisation,
    /// but a wrong password started one less than the cool-down ago.
    #[error(
        "the password is incorrect; a new authorisation with another password started recently: retry in {retry_after_secs} s"
    )]
    ResetCoolingDown {
        /// Seconds until a new authorisation may start again.
        retry_after_secs: u64,
    },
    /// The password does not decrypt `client_secret_encrypted` (never reset).
    #[error("the password is incorrect (it does not decrypt client_secret_encrypted)")]
    ClientSecretUndecryptable,
}

/// The outcome of [`TokenVault::unlock`].
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Unlock {
    /// The password is right, or nothing is encrypted yet. Persist
    /// [`UnlockedAccount::take_pending_changes`] (rotation) first.
    Unlocked(UnlockedAccount),
    /// The password is wrong and the policy lets it authorise anew (trust on first use):
    /// the account comes without tokens, and the stored ones are kept until
    /// [`UnlockedAccount::store_tokens`] replaces them all with new ones encrypted with this
    /// password (persist its changes only once a new authorisation succeeded). A wrong
    /// password therefore never deletes tokens: the right one keeps working meanwhile.
    Reset(UnlockedAccount),
    /// Refused; the cached values are kept.
    Denied(Denied),
    /// Too many recent failures for this account: refused without trying the password.
    Throttled {
        /// Seconds until the next attempt is considered.
        retry_after_secs: u64,
    },
    /// The system random generator failed; nothing can be encrypted.
    Failed(RandomnessUnavailable),
}

/// An account whose cached values were decrypted with the login password.
#[derive(Debug)]
pub(crate) struct UnlockedAccount {
    cipher: AccountCipher,
    access_token: Option<SecretString>,
    access_token_expiry: Option<u64>,
    refresh_token: Option<SecretString>,
    client_secret: Option<SecretString>,
    client_secret_source: ClientSecretSource,
    encrypt_client_secret: bool,
    pending: CacheChanges,
    /// The stored tokens belong to another password: new ones replace them all.
    replaces_tokens: bool,
}

impl UnlockedAccount {
    /// The cached access token, whatever its expiry.
    pub(crate) fn access_token(&self) -> Option<&SecretString> {
        self.access_token.as_ref()
    }

    /// Unix time the cached access token expires.
    pub(crate) fn access_token_expiry(&self) -> Option<u64> {
        self.access_token_expiry
    }

    /// The cached access token if it has more than [`TOKEN_EXPIRY_MARGIN_SECS`] left
    /// at `now` (a missing expiry counts as expired, as in the Python email-oauth2-proxy).
    #[cfg(test)]
    pub(crate) fn usable_access_token(&self, now: u64) -> Option<&SecretString> {
        let expiry = self.access_token_expiry.unwrap_or(now);
        (expiry.saturating_sub(now) >= TOKEN_EXPIRY_MARGIN_SECS)
            .then_some(self.access_token.as_ref())
            .flatten()
    }

    /// The cached refresh token.
    pub(crate) fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The client secret to send in token requests.
    pub(crate) fn client_secret(&self) -> Option<&SecretString> {
        self.client_secret.as_ref()
    }

    /// Where [`UnlockedAccount::client_secret`] comes from.
    #[cfg(test)]
    pub(crate) fn client_secret_source(&self) -> ClientSecretSource {
        self.client_secret_source
    }

    /// The account's cipher, e.g. to count key derivations.
    #[cfg(test)]
    pub(crate) fn cipher(&self) -> &AccountCipher {
        &self.cipher
    }

    /// Changes decided at unlock (rotation to the current iteration count); persist them
    /// before anything else.
    pub(crate) fn take_pending_changes(&mut self) -> CacheChanges {
        core::mem::take(&mut self.pending)
    }

    /// Records tokens from a successful token response (new grant or refresh) at `now`
    /// and returns the changes to persist: the encrypted tokens, their expiry
    /// (`expires_in`, else [`DEFAULT_TOKEN_LIFETIME_SECS`]), the salt and iteration
    /// count, and with `encrypt_client_secret_on_first_use` the client secret moved to
    /// `client_secret_encrypted`. A response without a refresh token keeps the old one,
    /// unless the account came from [`Unlock::Reset`]: then the old one goes.
    pub(crate) fn store_tokens(
        &mut self,
        access_token: &str,
        expires_in: Option<u64>,
        refresh_token: Option<&str>,
        now: u64,
    ) -> Result<CacheChanges, RandomnessUnavailable> {
        let mut changes = CacheChanges::new();
        if self.encrypt_client_secret
            && matches!(
                self.client_secret_source,
                ClientSecretSource::Config | ClientSecretSource::Encrypted
            )
            && let Some(secret) = &self.client_secret
        {
            let encrypted = self.cipher.encrypt(secret.expose(), now)?;
            changes
                .set(CacheKey::ClientSecretEncrypted, encrypted)
                .remove(CacheKey::ClientSecret);
        }
        let expiry = now.saturating_add(expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS));
        changes
            .set(CacheKey::TokenSalt, self.cipher.salt())
            .set(
                CacheKey::TokenIterations,
                self.cipher.iterations().to_string(),
            )
            .set(
                CacheKey::AccessToken,
                self.cipher.encrypt(access_token, now)?,
            )
            .set(CacheKey::AccessTokenExpiry, expiry.to_string());
        if let Some(refresh) = refresh_token {
            changes.set(CacheKey::RefreshToken, self.cipher.encrypt(refresh, now)?);
            self.refresh_token = Some(SecretString::from(refresh));
        } else if self.replaces_tokens {
            changes.remove(CacheKey::RefreshToken);
            self.refresh_token = None;
        }
        self.access_token = Some(SecretString::from(access_token));
        self.access_token_expiry = Some(expiry);
        Ok(changes)
    }
}

/// The changes after the token endpoint rejected a refresh (HTTP 400), following the Python
/// email-oauth2-proxy's two strikes: the access token always goes; if there was none (a
/// second failure), the refresh token, salt and iteration count go too, forcing a new
/// authorisation.
pub(crate) fn refresh_rejected_changes(had_access_token: bool) -> CacheChanges {
    let mut changes = CacheChanges::new();
    changes
        .remove(CacheKey::AccessToken)
        .remove(CacheKey::AccessTokenExpiry);
    if !had_access_token {
        changes
            .remove(CacheKey::TokenSalt)
            .remove(CacheKey::TokenIterations)
            .remove(CacheKey::RefreshToken);
    }
    changes
}

/// Why an account is unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A login: wrong passwords are throttled and counted.
    Login,
    /// Storing tokens a new authorisation obtained.
    NewTokens,
}

/// Decrypts accounts' cached values at login and applies the wrong-password policy.
///
/// Holds the [`DerivedKeyCache`] (so only an account's first login pays PBKDF2) and the
/// per-account [`FailureBackoff`]. Unlocking may run PBKDF2: async callers run
/// [`TokenVault::unlock`] on a blocking thread. Logins of one account are unlocked one at a
/// time (other accounts never wait), so a parallel burst of wrong passwords meets the
/// back-off its first attempt records instead of being derived all at once.
#[derive(Debug)]
pub(crate) struct TokenVault {
    options: GlobalOptions,
    keys: Arc<DerivedKeyCache>,
    backoff: Mutex<FailureBackoff>,
    turns: KeyedLocks<String, Mutex<()>>,
}

impl TokenVault {
    /// A vault with default cache sizes.
    pub(crate) fn new(options: GlobalOptions) -> Result<Self, RandomnessUnavailable> {
        Self::with_capacity(
            options,
            DEFAULT_KEY_CACHE_CAPACITY,
            DEFAULT_BACKOFF_CAPACITY,
        )
    }

    /// A vault keeping at most `keys` derived keys and `accounts` failure records.
    pub(crate) fn with_capacity(
        options: GlobalOptions,
        keys: usize,
        accounts: usize,
    ) -> Result<Self, RandomnessUnavailable> {
        Ok(Self {
            options,
            keys: Arc::new(DerivedKeyCache::new(keys)?),
            backoff: Mutex::new(FailureBackoff::new(accounts)),
            turns: KeyedLocks::new(),
        })
    }

    fn backoff(&self) -> std::sync::MutexGuard<'_, FailureBackoff> {
        self.backoff.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decrypts the cached values of `account` with the login `password` at `now`
    /// (Unix seconds), in the Python email-oauth2-proxy's order: rotation of values encrypted with an
    /// older iteration count, the client secret, then the token the Python email-oauth2-proxy would
    /// decrypt (the access token while it has more than
    /// [`TOKEN_EXPIRY_MARGIN_SECS`] left, else the refresh token).
    pub(crate) fn unlock(
        &self,
        account: &AccountConfig,
        cache: &AccountCache,
        password: &[u8],
        now: u64,
    ) -> Unlock {
        let turn = self.turns.get(account.username.clone());
        let _held = turn.lock().lock().unwrap_or_else(PoisonError::into_inner);
        self.unlock_for(Purpose::Login, account, cache, password, now)
    }

    /// Unlocks `account` to store the tokens a new authorisation just obtained for a login
    /// with `password` (after [`Unlock::Reset`], or when another process replaced the
    /// tokens meanwhile). Like [`TokenVault::unlock`], except that a password that does not
    /// decrypt the stored values is neither throttled nor counted as a failure: under the
    /// same policy it yields [`Unlock::Reset`], whose [`UnlockedAccount::store_tokens`]
    /// replaces every stored token.
    pub(crate) fn unlock_for_new_tokens(
        &self,
        account: &AccountConfig,
        cache: &AccountCache,
        password: &[u8],
        now: u64,
    ) -> Unlock {
        self.unlock_for(Purpose::NewTokens, account, cache, password, now)
    }

    fn unlock_for(
        &self,
        purpose: Purpose,
        account: &AccountConfig,
        cache: &AccountCache,
        password: &[u8],
        now: u64,
    ) -> Unlock {
        let username = account.username.as_str();
        if purpose == Purpose::Login
            && let Some(retry_after_secs) = self.backoff().retry_after(username, now)
        {
            return Unlock::Throttled { retry_after_secs };
        }
        let cipher = AccountCipher::new(
            username,
            cache.token_salt.as_deref(),
            cache.token_iterations,
            password,
            Arc::clone(&self.keys),
        );
        let mut cipher = match cipher {
            Ok(cipher) => cipher,
            Err(error) => return Unlock::Failed(error),
        };
        let mut pending = CacheChanges::new();

        // Decrypt every stored value once; the keys are cached after the first.
        let access = cache.access_token.as_deref().map(|t| cipher.decrypt(t));
        let refresh = cache.refresh_token.as_deref().map(|t| cipher.decrypt(t));
        let encrypted_secret = cache
            .client_secret_encrypted
            .as_deref()
            .map(|t| cipher.decrypt(t));

        // Rotation: if any value used an older iteration count, re-encrypt them all.
        let stale = [&access, &refresh, &encrypted_secret]
            .into_iter()
            .any(|v| matches!(v, Some(Ok(d)) if d.needs_rotation));
        if stale {
            let stored = [
                (CacheKey::AccessToken, cache.access_token.as_deref()),
                (CacheKey::RefreshToken, cache.refresh_token.as_deref()),
                (
                    CacheKey::ClientSecretEncrypted,
                    cache.client_secret_encrypted.as_deref(),
                ),
            ];
            for (key, value) in stored {
                if let Some(value) = value
                    && let Ok(Some(rotated)) = cipher.rotate(value)
                {
                    pending.set(key, rotated);
                }
            }
            pending.set(CacheKey::TokenIterations, cipher.iterations().to_string());
        }

        // The client secret: plain text wins over the encrypted value.
        let (client_secret, client_secret_source) = match (&account.client_secret, encrypted_secret)
        {
            (Some(plain), _) => (Some(plain.clone()), ClientSecretSource::Config),
            (None, Some(Ok(decrypted))) => (Some(decrypted.value), ClientSecretSource::Encrypted),
            (None, Some(Err(_))) => {
                self.backoff().record_failure(username, now);
                return Unlock::Denied(Denied::ClientSecretUndecryptable);
            }
            (None, None) => {
                let has_assertion =
                    account.jwt_certificate_path.is_some() && account.jwt_key_path.is_some();
                if account.flow == OAuthFlow::ClientCredentials
                    && self.options.use_login_password_as_client_credentials_secret
                    && !has_assertion
                {
                    let password = String::from_utf8_lossy(password).into_owned();
                    (
                        Some(SecretString::new(password)),
                        ClientSecretSource::LoginPassword,
                    )
                } else {
                    (None, ClientSecretSource::None)
                }
            }
        };

        // The token the Python email-oauth2-proxy decrypts decides whether the password is right.
        let access_fresh = cache.access_token.is_some()
            && cache.access_token_expiry.unwrap_or(now).saturating_sub(now)
                >= TOKEN_EXPIRY_MARGIN_SECS;
        let checked = if access_fresh || refresh.is_none() {
            &access
        } else {
            &refresh
        };
        let wrong_password = matches!(checked, Some(Err(_)));
        let verified =
            matches!(checked, Some(Ok(_))) || client_secret_source == ClientSecretSource::Encrypted;

        let mut unlocked = UnlockedAccount {
            cipher,
            access_token: None,
            access_token_expiry: None,
            refresh_token: None,
            client_secret,
            client_secret_source,
            encrypt_client_secret: self.options.encrypt_client_secret_on_first_use,
            pending,
            replaces_tokens: false,
        };

        if wrong_password {
            let policy_resets = self.options.delete_account_token_on_password_error
                && !account.flow.is_unattended();
            if purpose == Purpose::Login {
                let mut backoff = self.backoff();
                backoff.record_failure(username, now);
                if !policy_resets {
                    return Unlock::Denied(Denied::WrongPassword);
                }
                if let Some(retry_after_secs) = backoff.reset_retry_after(username, now) {
                    return Unlock::Denied(Denied::ResetCoolingDown { retry_after_secs });
                }
                backoff.record_reset(username, now);
            } else if !policy_resets {
                return Unlock::Denied(Denied::WrongPassword);
            }
            // Nothing is deleted now; rotation of values that did not decrypt is moot.
            unlocked.pending = CacheChanges::new();
            unlocked.replaces_tokens = true;
            return Unlock::Reset(unlocked);
        }
        if verified {
            self.backoff().record_success(username);
        }
        // Values that did not decrypt although the password is right are damaged:
        // treat them as absent so the flow obtains new ones.
        if let Some(Ok(d)) = access {
            unlocked.access_token = Some(d.value);
            unlocked.access_token_expiry = cache.access_token_expiry;
        }
        if let Some(Ok(d)) = refresh {
            unlocked.refresh_token = Some(d.value);
        }
        Unlock::Unlocked(unlocked)
    }
}
