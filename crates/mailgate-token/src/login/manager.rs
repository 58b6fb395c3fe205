//! The login manager: one call per client login, single flight per account, proactive refresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::SecretString;
use crate::config::{AccountConfig, ProxyConfig};
use crate::keyed::KeyedLocks;
use crate::oauth::{TokenRequestError, TokenResponse};
use crate::store::AccountLock;
use crate::transport::HttpClient;

use super::acquire::{Acquire, Authorizer, NoAuthorizer};
use super::error::LoginError;
use super::lifecycle::{
    NextStep, RefusedRefresh, TOKEN_EXPIRY_MARGIN_SECS, next_step, on_refused_refresh,
};
use super::login_store::{LoginStore, LoginStoreError, StoredTokens, TokenUpdate};

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
/// * The [`LoginStore`] applies the wrong-password policy (a new authorisation for
///   interactive accounts, never for client-credentials or service-account accounts) and
///   back-off.
/// * **Single flight**: logins of one account with one password run one at a time, so
///   concurrent logins make at most one token request (and one key derivation); the others
///   then find the fresh token. Accounts never wait for each other, and neither do the
///   passwords of one account: a new authorisation that a wrong password started never holds
///   up the logins with the right one.
/// * **One refresh across processes**: a refresh runs under the account's refresh lock from
///   the [`LoginStore`] and re-reads the stored tokens under it, so processes sharing a config
///   file never present a refresh token another one has already rotated.
/// * **Writes survive a failing disk**: with [`EncryptedLoginStore`](super::EncryptedLoginStore),
///   tokens the disk refuses are kept in memory and used, and the write is retried at each
///   login and by [`LoginManager::retry_unsaved`].
/// * [`LoginManager::next_deadline`] tells the proxy when a token needs a proactive refresh,
///   which [`LoginManager::refresh`] performs with the password of the last successful login
///   (kept in memory, zeroized, like the derived key the store caches anyway).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use mailgate_token::config::{GlobalOptions, ProxyConfig};
/// use mailgate_token::transport::HttpClient;
/// use mailgate_token::login::{LoginManager, MemoryLoginStore};
/// use mailgate_test_support::MockOAuthServer;
///
/// let provider = MockOAuthServer::start().await.unwrap();
/// let config = ProxyConfig::parse(&format!(
///     "[user@example.com]\noauth2_flow = client_credentials\ntoken_url = {}\nclient_id = app\n\
///      client_secret = s\noauth2_scope = https://outlook.office365.com/.default\n",
///     provider.token_url()
/// )).unwrap();
/// let store = Arc::new(MemoryLoginStore::new(GlobalOptions::default()));
/// let http = HttpClient::new(Default::default()).unwrap();
/// let manager = LoginManager::new(Arc::new(config), store, http);
/// let login = manager.login("user@example.com", &"password".into()).await.unwrap();
/// assert_eq!(login.access_token.expose(), "mock-access-1");
/// # }
/// ```
pub struct LoginManager {
    config: RwLock<Arc<ProxyConfig>>,
    store: Arc<dyn LoginStore>,
    http: HttpClient,
    authorizer: Arc<dyn Authorizer>,
    flights: KeyedLocks<FlightKey, tokio::sync::Mutex<()>>,
    expiries: Mutex<HashMap<String, u64>>,
    passwords: Mutex<HashMap<String, SecretString>>,
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
    /// A manager over `config`, keeping tokens in `store`, using `http` for token requests.
    pub fn new(config: Arc<ProxyConfig>, store: Arc<dyn LoginStore>, http: HttpClient) -> Self {
        LoginManager {
            config: RwLock::new(config),
            store,
            http,
            authorizer: Arc::new(NoAuthorizer),
            flights: KeyedLocks::new(),
            expiries: Mutex::new(HashMap::new()),
            passwords: Mutex::new(HashMap::new()),
            clock: Arc::new(system_now),
        }
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
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
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
        let config = self.config();
        let account = Arc::new(config.resolve_account(username)?);
        warn_example_values(&account);
        let flight = self.flights.get(flight_key(username, password));
        let turn = flight.lock().lock().await;
        let result = self.obtain(&account, password, attended).await;
        drop(turn);
        drop(flight);
        if result.is_ok() {
            guard(&self.passwords).insert(username.to_owned(), password.clone());
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

    /// Runs a store load (`update` = None) or save on the blocking pool.
    async fn store_call(
        &self,
        account: &Arc<AccountConfig>,
        password: &SecretString,
        update: Option<TokenUpdate>,
    ) -> Result<StoredTokens, LoginError> {
        let store = Arc::clone(&self.store);
        let task_account = Arc::clone(account);
        let password = password.clone();
        let now = (self.clock)();
        let joined = tokio::task::spawn_blocking(move || match update {
            None => store.load(&task_account, &password, now),
            Some(update) => store
                .save(&task_account, &password, &update, now)
                .map(|()| StoredTokens::default()),
        })
        .await;
        let name = || account.username.clone();
        match joined {
            Ok(Ok(tokens)) => Ok(tokens),
            Ok(Err(LoginStoreError::WrongPassword)) => {
                Err(LoginError::WrongPassword { account: name() })
            }
            Ok(Err(LoginStoreError::Backoff { retry_after_secs })) => Err(LoginError::Backoff {
                account: name(),
                retry_after_secs,
            }),
            Ok(Err(source)) => Err(LoginError::Store {
                account: name(),
                source,
            }),
            Err(e) => Err(LoginError::Internal {
                account: name(),
                reason: e.to_string(),
            }),
        }
    }

    /// Takes the account's cross-process refresh lock on the blocking pool. A lock that cannot
    /// be had (an error, or another process holding it longer than a token request can take)
    /// is logged and the refresh goes on without it.
    async fn lock_account(&self, account: &Arc<AccountConfig>) -> Option<AccountLock> {
        let store = Arc::clone(&self.store);
        let task_account = Arc::clone(account);
        let locking = tokio::task::spawn_blocking(move || store.lock_account(&task_account));
        // If the wait times out, the blocking task keeps waiting and drops the lock as soon as
        // it gets it.
        match tokio::time::timeout(REFRESH_LOCK_WAIT, locking).await {
            Ok(Ok(Ok(lock))) => Some(lock),
            Ok(Ok(Err(error))) => {
                tracing::warn!(
                    account = %account.username,
                    %error,
                    "unable to take the account's refresh lock; refreshing without it (another process sharing the token store may refresh at the same time)"
                );
                None
            }
            Ok(Err(error)) => {
                tracing::warn!(
                    account = %account.username,
                    %error,
                    "unable to take the account's refresh lock; refreshing without it"
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

    /// Retries the token writes the disk refused earlier (call it on a timer, e.g. with the
    /// proactive refreshes); returns how many accounts' tokens are still unsaved.
    pub async fn retry_unsaved(&self) -> usize {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.retry_unsaved())
            .await
            .unwrap_or(0)
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
                                _ => (2, TokenUpdate::DropAllTokens),
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
