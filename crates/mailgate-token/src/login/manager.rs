//! The login manager: one call per client login, single flight per account, proactive refresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::SecretString;
use crate::config::{AccountConfig, ProxyConfig};
use crate::crypto::RandomnessUnavailable;
use crate::keyed::KeyedLocks;
use crate::oauth::{TokenRequestError, TokenResponse};
use crate::store::{AccountLock, TokenStorage};
use crate::transport::HttpClient;

use super::acquire::{Acquire, Authorizer, NoAuthorizer};
use super::error::LoginError;
use super::lifecycle::{
    NextStep, RefusedRefresh, TOKEN_EXPIRY_MARGIN_SECS, next_step, on_refused_refresh,
};
use super::tokens::{AccountTokens, StoredTokens, TokenUpdate, TokensError};
use super::vault::TokenVault;

/// A successful login: the access token to send upstream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoginSuccess {
    /// The username to authenticate upstream with (the login username).
    pub username: String,
    /// The access token for XOAUTH2 / OAUTHBEARER.
    pub access_token: SecretString,
    /// When the access token expires (Unix seconds).
    pub expires_at: u64,
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The longest wait for another process's refresh of the same account: longer than a token
/// request can take (connect and request timeouts).
const REFRESH_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(150);

/// How long a login's result is reused for the same username and password without reading
/// the store again. It bounds how long a change made elsewhere (another process sharing the
/// store authorising the account anew with another password, an operator deleting the
/// tokens) takes to be seen; within it, a burst of logins costs no store read, no key
/// derivation and no decryption.
pub(crate) const LOGIN_RECHECK_SECS: u64 = 60;

/// An account's last successful login in this process (see [`LOGIN_RECHECK_SECS`]).
struct RecentLogin {
    password: SecretString,
    success: LoginSuccess,
    checked_at: u64,
}

impl RecentLogin {
    /// The kept result, if `password` is the one that logged in, the store was read less
    /// than [`LOGIN_RECHECK_SECS`] ago and the access token is not about to expire.
    fn reuse(&self, password: &SecretString, now: u64) -> Option<LoginSuccess> {
        let same = mailgate_sasl::constant_time_eq(
            self.password.expose().as_bytes(),
            password.expose().as_bytes(),
        );
        let recent = now >= self.checked_at && now - self.checked_at < LOGIN_RECHECK_SECS;
        let fresh = self.success.expires_at.saturating_sub(now) >= TOKEN_EXPIRY_MARGIN_SECS;
        (same && recent && fresh).then(|| self.success.clone())
    }
}

/// The single-flight key of a login: the username and a digest of the password (which stays
/// out of the map).
type FlightKey = (String, [u8; 32]);

fn flight_key(username: &str, password: &SecretString) -> FlightKey {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, password.expose().as_bytes());
    let bytes = digest.as_ref().try_into().unwrap_or([0; 32]);
    (username.to_owned(), bytes)
}

/// Turns client logins into access tokens.
///
/// * Reuses a cached access token with at least 600 s left; refreshes otherwise; runs the
///   account's flow when there is no refresh token.
/// * A refused refresh follows the Python email-oauth2-proxy's two-strike reset; other failures keep the tokens
///   and return a retryable error.
/// * **Encrypted at rest**: tokens are stored Fernet-encrypted with a key derived from the
///   login password (PBKDF2 on tokio's blocking pool, the derived key cached so only an
///   account's first login pays it), in the Python email-oauth2-proxy's format; values of an
///   older iteration count are re-encrypted.
/// * **Wrong passwords**: a wrong password starts a new authorisation for interactive
///   accounts with `delete_account_token_on_password_error` (the stored tokens stay until it
///   succeeds), never for client-credentials or service-account accounts; repeated failures
///   are refused without key derivation for a growing time.
/// * **Single flight**: logins of one account with one password run one at a time, so
///   concurrent logins make at most one token request (and one key derivation); the others
///   then find the fresh token. Accounts never wait for each other, and neither do the
///   passwords of one account: a new authorisation that a wrong password started never holds
///   up the logins with the right one.
/// * **One refresh across processes**: a refresh runs under the account's refresh lock
///   ([`TokenStorage::lock_account`]) and re-reads the stored tokens under it, so processes
///   sharing a store never present a refresh token another one has already rotated.
/// * **Writes survive a failing store**: tokens the store refuses (a full or read-only disk, a
///   file being edited, a shared store unreachable) are kept in memory and used, an error
///   names the account and the cause, and the write is retried at each login and by
///   [`LoginManager::retry_unsaved`]. Nothing is lost unless the process ends first.
/// * [`LoginManager::next_deadline`] tells the proxy when a token needs a proactive refresh,
///   which [`LoginManager::refresh`] performs with the password of the last successful login
///   (kept in memory, zeroized, like the derived key the store caches anyway).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use mailgate_token::config::ProxyConfig;
/// use mailgate_token::transport::HttpClient;
/// use mailgate_token::login::LoginManager;
/// use mailgate_token::store::{MemoryStorage, TokenStorage};
/// use mailgate_test_support::MockOAuthServer;
///
/// let provider = MockOAuthServer::start().await.unwrap();
/// let config = ProxyConfig::parse(&format!(
///     "[user@example.com]\noauth2_flow = client_credentials\ntoken_url = {}\nclient_id = app\n\
///      client_secret = s\noauth2_scope = https://outlook.office365.com/.default\n",
///     provider.token_url()
/// )).unwrap();
/// let storage = Arc::new(MemoryStorage::new());
/// let http = HttpClient::new(Default::default()).unwrap();
/// let manager = LoginManager::new(Arc::new(config), storage.clone(), http).unwrap();
/// let login = manager.login("user@example.com", &"password".into()).await.unwrap();
/// assert_eq!(login.access_token.expose(), "mock-access-1");
///
/// // The store holds the tokens encrypted with the login password; the next login reuses them.
/// let snapshot = storage.load().await.unwrap();
/// assert!(snapshot.accounts["user@example.com"]["access_token"].starts_with("gAAAAA"));
/// let again = manager.login("user@example.com", &"password".into()).await.unwrap();
/// assert_eq!(again.access_token.expose(), "mock-access-1");
/// assert_eq!(provider.token_requests(), 1);
/// # }
/// ```
pub struct LoginManager {
    config: RwLock<Arc<ProxyConfig>>,
    tokens: AccountTokens,
    http: HttpClient,
    authorizer: Arc<dyn Authorizer>,
    flights: KeyedLocks<FlightKey, tokio::sync::Mutex<()>>,
    expiries: Mutex<HashMap<String, u64>>,
    passwords: Mutex<HashMap<String, SecretString>>,
    recent: Mutex<HashMap<String, RecentLogin>>,
    clock: Clock,
}

impl std::fmt::Debug for LoginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginManager").finish_non_exhaustive()
    }
}

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Warns, as the Python email-oauth2-proxy does, when the client values look like the sample file's.
fn warn_example_values(account: &AccountConfig) {
    const EXAMPLE: &str = "*** your";
    let in_id = account.client_id.contains(EXAMPLE);
    let in_secret = account
        .client_secret
        .as_ref()
        .is_some_and(|s| s.expose().contains(EXAMPLE));
    if in_id {
        tracing::warn!(
            account = %account.username,
            "client configuration seems to contain example values - if authentication fails, please double-check these values are correct"
        );
    } else if in_secret {
        tracing::warn!(
            account = %account.username,
            "client secret seems to contain the example value - if you are using an Office 365 setup that does not need a secret, please delete this line entirely; otherwise, if authentication fails, please double-check this value is correct"
        );
    }
}

/// Whether a refresh failure means the refresh token itself was refused (`invalid_grant`).
///
/// The Python email-oauth2-proxy resets on any HTTP 400; other errors such as `invalid_client` (an expired
/// client secret) keep the tokens here, so fixing the configuration needs no re-authorisation.
fn refused(error: &TokenRequestError) -> bool {
    error.is_invalid_grant()
}

impl LoginManager {
    /// A manager over `config`, keeping tokens encrypted in `storage`, using `http` for token
    /// requests. The global options of `config` (the wrong-password policy,
    /// `encrypt_client_secret_on_first_use`, ...) apply for the manager's lifetime.
    ///
    /// Fails only if the system's random generator does (the derived-key cache is keyed with
    /// a random per-process key).
    pub fn new(
        config: Arc<ProxyConfig>,
        storage: Arc<dyn TokenStorage>,
        http: HttpClient,
    ) -> Result<Self, RandomnessUnavailable> {
        let vault = TokenVault::new(*config.global())?;
        Ok(LoginManager {
            config: RwLock::new(Arc::clone(&config)),
            tokens: AccountTokens::new(config, vault, storage),
            http,
            authorizer: Arc::new(NoAuthorizer),
            flights: KeyedLocks::new(),
            expiries: Mutex::new(HashMap::new()),
            passwords: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            clock: Arc::new(system_now),
        })
    }

    /// Uses `authorizer` for interactive flows.
    pub fn with_authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    /// Uses `clock` (Unix seconds) instead of the system clock.
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the configuration (after a reload).
    pub fn set_config(&self, config: Arc<ProxyConfig>) {
        guard(&self.recent).clear();
        self.tokens.set_config(Arc::clone(&config));
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    /// The store the tokens persist in.
    pub fn storage(&self) -> &Arc<dyn TokenStorage> {
        self.tokens.storage()
    }

    fn config(&self) -> Arc<ProxyConfig> {
        Arc::clone(
            &self
                .config
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The earliest time (Unix seconds) at which some account's access token enters the 600 s
    /// refresh margin, and that account: call [`LoginManager::refresh`] for it then.
    pub fn next_deadline(&self) -> Option<(String, u64)> {
        guard(&self.expiries)
            .iter()
            .map(|(account, expiry)| {
                (
                    account.clone(),
                    expiry.saturating_sub(TOKEN_EXPIRY_MARGIN_SECS),
                )
            })
            .min_by_key(|(_, deadline)| *deadline)
    }

    /// Accounts whose refresh deadline is at or before `now`.
    pub fn due(&self, now: u64) -> Vec<String> {
        guard(&self.expiries)
            .iter()
            .filter(|(_, expiry)| expiry.saturating_sub(TOKEN_EXPIRY_MARGIN_SECS) <= now)
            .map(|(account, _)| account.clone())
            .collect()
    }

    /// Refreshes `username`'s tokens ahead of expiry with the password of its last successful
    /// login. Fails with [`LoginError::NotLoggedIn`] if there was none since start.
    ///
    /// A proactive refresh never starts an interactive authorisation and never discards stored
    /// tokens: when the provider refuses the refresh token, or an interactive account has none,
    /// it fails with [`LoginError::AuthorizationNeededAtNextLogin`] and the account's next
    /// login (which may still use the current access token until it expires) decides. On any
    /// failure that a retry cannot fix the account is dropped from the deadlines
    /// ([`LoginManager::due`]) until its next successful login; a failed token request (the
    /// provider unreachable, an HTTP 500) keeps it due, to be tried again.
    pub async fn refresh(&self, username: &str) -> Result<LoginSuccess, LoginError> {
        let password = guard(&self.passwords).get(username).cloned();
        let result = match password {
            Some(password) => self.run(username, &password, Attended::No).await,
            None => Err(LoginError::NotLoggedIn {
                account: username.to_owned(),
            }),
        };
        if let Err(error) = &result
            && !matches!(error, LoginError::TokenRequest { .. })
        {
            guard(&self.expiries).remove(username);
        }
        result
    }

    /// Logs `username` in with `password`: the access token to use upstream, or why not.
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<LoginSuccess, LoginError> {
        self.run(username, password, Attended::Yes).await
    }

    async fn run(
        &self,
        username: &str,
        password: &SecretString,
        attended: Attended,
    ) -> Result<LoginSuccess, LoginError> {
        if password.expose().is_empty() {
            return Err(LoginError::NoPassword {
                account: username.to_owned(),
            });
        }
        if attended == Attended::Yes {
            let now = (self.clock)();
            let kept = guard(&self.recent)
                .get(username)
                .and_then(|recent| recent.reuse(password, now));
            if let Some(success) = kept {
                return Ok(success);
            }
        }
        let config = self.config();
        let account = Arc::new(config.resolve_account(username)?);
        warn_example_values(&account);
        let flight = self.flights.get(flight_key(username, password));
        let turn = flight.lock().lock().await;
        let result = self.obtain(&account, password, attended).await;
        drop(turn);
        drop(flight);
        match &result {
            Ok(success) => {
                guard(&self.passwords).insert(username.to_owned(), password.clone());
                let recent = RecentLogin {
                    password: password.clone(),
                    success: success.clone(),
                    checked_at: (self.clock)(),
                };
                guard(&self.recent).insert(username.to_owned(), recent);
            }
            // Any failed login forgets the kept result, whatever its password: the next
            // correct password goes through the store and the failure back-off again, so
            // a guesser held back by the back-off cannot tell a right guess from memory.
            Err(_) => {
                guard(&self.recent).remove(username);
            }
        }
        result
    }

    fn success(&self, account: &AccountConfig, tokens: &StoredTokens) -> LoginSuccess {
        let expires_at = tokens.access_token_expiry.unwrap_or(0);
        guard(&self.expiries).insert(account.username.clone(), expires_at);
        LoginSuccess {
            username: account.username.clone(),
            access_token: tokens.access_token.clone().unwrap_or_default(),
            expires_at,
        }
    }

    /// Loads the account's tokens (`update` = None) or saves a change.
    async fn store_call(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        update: Option<TokenUpdate>,
    ) -> Result<StoredTokens, LoginError> {
        let now = (self.clock)();
        let result = match update {
            None => self.tokens.load(account, password, now).await,
            Some(update) => self
                .tokens
                .save(account, password, &update, now)
                .await
                .map(|()| StoredTokens::default()),
        };
        let name = || account.username.clone();
        result.map_err(|error| match error {
            TokensError::WrongPassword => LoginError::WrongPassword { account: name() },
            TokensError::Backoff { retry_after_secs } => LoginError::Backoff {
                account: name(),
                retry_after_secs,
            },
            TokensError::Storage(source) => LoginError::Store {
                account: name(),
                source,
            },
            TokensError::Randomness(error) => LoginError::Internal {
                account: name(),
                reason: error.to_string(),
            },
            TokensError::Worker(reason) => LoginError::Internal {
                account: name(),
                reason,
            },
        })
    }

    /// Takes the account's cross-process refresh lock. A lock that cannot be had (an error,
    /// or another process holding it longer than a token request can take) is logged and the
    /// refresh goes on without it.
    async fn lock_account(&self, account: &Arc<AccountConfig>) -> Option<AccountLock> {
        // If the wait times out, a store waiting on a blocking thread (the file store) keeps
        // waiting there and drops the lock as soon as it gets it.
        match tokio::time::timeout(
            REFRESH_LOCK_WAIT,
            self.tokens.lock_account(&account.username),
        )
        .await
        {
            Ok(Ok(lock)) => Some(lock),
            Ok(Err(error)) => {
                tracing::warn!(
                    account = %account.username,
                    %error,
                    "unable to take the account's refresh lock; refreshing without it (another process sharing the token store may refresh at the same time)"
                );
                None
            }
            Err(_) => {
                tracing::warn!(
                    account = %account.username,
                    "another process has held the account's refresh lock for {} s; refreshing without it",
                    REFRESH_LOCK_WAIT.as_secs()
                );
                None
            }
        }
    }

    /// Retries the token writes the store refused earlier (call it on a timer, e.g. with the
    /// proactive refreshes); returns how many accounts' tokens are still unsaved.
    pub async fn retry_unsaved(&self) -> usize {
        self.tokens.retry_unsaved().await
    }

    /// The accounts whose latest tokens the store has not accepted yet (they are kept in
    /// memory and used meanwhile).
    pub async fn unsaved_accounts(&self) -> Vec<String> {
        self.tokens.unsaved_accounts().await
    }

    /// Drops `username`'s stored access token because the upstream server refused it, so that
    /// the account's next login refreshes the token instead of reusing it until it expires.
    /// Call it only after a login of `username` succeeded (the proxy does when the server
    /// refuses the token that login returned); the refresh token stays.
    pub async fn drop_access_token(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<(), LoginError> {
        guard(&self.recent).remove(username);
        let account = Arc::new(self.config().resolve_account(username)?);
        self.store_call(&account, password, Some(TokenUpdate::DropAccessToken))
            .await
            .map(drop)
    }

    /// Holding the account's flight lock: reuse, refresh (two strikes) or authorise.
    ///
    /// A refresh first takes the account's cross-process refresh lock and reads the stored
    /// tokens again under it: another process sharing the store may have refreshed meanwhile
    /// (its access token is then reused, or its refresh token used), so a provider that
    /// rotates refresh tokens never sees one that was already replaced. The lock is held until
    /// the new tokens are saved, and released before an interactive authorisation.
    ///
    /// Unattended (a proactive refresh), a refused refresh token and a needed interactive
    /// authorisation end the attempt with [`LoginError::AuthorizationNeededAtNextLogin`],
    /// leaving the stored tokens as they are.
    async fn obtain(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        attended: Attended,
    ) -> Result<LoginSuccess, LoginError> {
        let name = account.username.as_str();
        let mut refresh_lock: Option<Option<AccountLock>> = None;
        // At most: the read under the refresh lock, strike one, strike two, then authorise.
        for _ in 0..4 {
            let tokens = self.store_call(account, password, None).await?;
            let now = (self.clock)();
            if refresh_lock.is_none() && next_step(&tokens, now) == NextStep::Refresh {
                refresh_lock = Some(self.lock_account(account).await);
                continue;
            }
            let acquire = Acquire {
                http: &self.http,
                authorizer: self.authorizer.as_ref(),
                account,
                tokens: &tokens,
                password,
                now,
            };
            match next_step(&tokens, now) {
                NextStep::Reuse => return Ok(self.success(account, &tokens)),
                NextStep::Refresh => {
                    let refresh_token = tokens.refresh_token.clone().unwrap_or_default();
                    match acquire.refresh(&refresh_token).await {
                        Ok(response) => {
                            return self.store(account, password, response, now).await;
                        }
                        Err(error) if refused(&error) && attended == Attended::No => {
                            return Err(LoginError::AuthorizationNeededAtNextLogin {
                                account: name.to_owned(),
                                reason: format!("the provider refused its refresh token: {error}"),
                            });
                        }
                        Err(error) if refused(&error) => {
                            let step = on_refused_refresh(&tokens);
                            let (attempt, update) = match step {
                                RefusedRefresh::DropAccessTokenAndRetry => {
                                    (1, TokenUpdate::DropAccessToken)
                                }
                                RefusedRefresh::DropAllAndReauthorise => {
                                    (2, TokenUpdate::DropAllTokens)
                                }
                            };
                            tracing::info!(
                                account = name,
                                attempt,
                                %error,
                                "retrying login after the provider refused the refresh token"
                            );
                            self.store_call(account, password, Some(update)).await?;
                        }
                        Err(source) => {
                            return Err(LoginError::TokenRequest {
                                account: name.to_owned(),
                                source,
                            });
                        }
                    }
                }
                NextStep::Authorise
                    if attended == Attended::No && account.flow.is_interactive() =>
                {
                    return Err(LoginError::AuthorizationNeededAtNextLogin {
                        account: name.to_owned(),
                        reason: "it has no refresh token".to_owned(),
                    });
                }
                NextStep::Authorise => {
                    drop(refresh_lock.take());
                    let response = acquire.authorise().await?;
                    return self.store(account, password, response, now).await;
                }
            }
        }
        Err(LoginError::Internal {
            account: name.to_owned(),
            reason: "token state did not settle".into(),
        })
    }

    /// Encrypts and persists a token response, keeping the old refresh token if none came.
    async fn store(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        response: TokenResponse,
        now: u64,
    ) -> Result<LoginSuccess, LoginError> {
        let expiry = response.expires_at(now);
        if response.expires_in.is_none() {
            tracing::info!(
                account = %account.username,
                "no token expiry time returned - defaulting to {} seconds",
                crate::oauth::DEFAULT_TOKEN_LIFETIME_SECS
            );
        }
        if response.refresh_token.is_none() && account.permission_url.is_some() {
            tracing::info!(
                account = %account.username,
                "no refresh token returned - you will need to re-authenticate each time the access token expires (does your `oauth2_scope` value allow `offline` use?)"
            );
        }
        let update = TokenUpdate::Store {
            access_token: response.access_token.clone(),
            access_token_expiry: expiry,
            refresh_token: response.refresh_token.clone(),
        };
        self.store_call(account, password, Some(update)).await?;
        guard(&self.expiries).insert(account.username.clone(), expiry);
        Ok(LoginSuccess {
            username: account.username.clone(),
            access_token: response.access_token,
            expires_at: expiry,
        })
    }
}

/// Whether someone waits for the login who can complete an interactive authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attended {
    /// A client's login: an interactive authorisation may be started.
    Yes,
    /// A proactive refresh: nobody is there to visit a URL.
    No,
}
