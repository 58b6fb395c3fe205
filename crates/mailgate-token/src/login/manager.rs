//! The login manager: one call per client login, single flight per account, proactive refresh.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::SecretString;
use crate::config::{AccountConfig, OAuthFlow, ProxyConfig};
use crate::http::HttpClient;
use crate::oauth::{
    AuthorizationRequest, ClientAuth, DeviceAuthorization, Grant, ServiceAccountKey, TokenEndpoint,
    TokenRequestError, TokenResponse, client_assertion, permission_url, poll_device_token,
    request_device_authorization,
};

use super::error::LoginError;
use super::lifecycle::{
    NextStep, RefusedRefresh, TOKEN_EXPIRY_MARGIN_SECS, next_step, on_refused_refresh,
};
use super::vault::{Credential, StoredTokens, TokenUpdate, TokenVault, VaultError};

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

/// An interactive step the user must complete.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthorizationPrompt {
    /// Visit [`AuthorizationRequest::url`]; answer with the redirect (request target or full URL).
    Visit(AuthorizationRequest),
    /// Enter the user code at the verification URI; answer with anything once shown (the
    /// library polls the provider itself).
    Device {
        /// The login username.
        username: String,
        /// The device authorization.
        authorization: DeviceAuthorization,
    },
}

/// The future an [`Authorizer`] returns: the redirect, or why none will come.
pub type AuthorizationFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Shows interactive prompts to the user and returns the answer. The proxy implements it with
/// its log line and redirect listener; the default ([`NoAuthorizer`]) fails the login with the
/// URL in the error.
pub trait Authorizer: Send + Sync + 'static {
    /// Shows `prompt`; resolves to the redirect for [`AuthorizationPrompt::Visit`].
    fn authorize(&self, prompt: AuthorizationPrompt) -> AuthorizationFuture;
}

/// An [`Authorizer`] that cannot authorise: logins needing it fail with
/// [`LoginError::AuthorizationRequired`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuthorizer;

impl Authorizer for NoAuthorizer {
    fn authorize(&self, _prompt: AuthorizationPrompt) -> AuthorizationFuture {
        Box::pin(async { Err(NO_AUTHORIZER.to_owned()) })
    }
}

const NO_AUTHORIZER: &str = "no interactive authoriser";

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Turns client logins into access tokens.
///
/// * Reuses a cached access token with more than 600 s left; refreshes otherwise; runs the
///   account's flow when there is no refresh token.
/// * A refused refresh follows the reference's two-strike reset; other failures keep the tokens
///   and return a retryable error.
/// * A wrong password resets the tokens (trust on first use) unless
///   `delete_account_token_on_password_error = False` or the account uses client credentials or
///   a service account.
/// * **Single flight**: concurrent logins of one account make at most one token request; the
///   others wait for it and reuse its token. Accounts never wait for each other.
/// * [`LoginManager::next_deadline`] tells the proxy when a token needs a proactive refresh.
pub struct LoginManager {
    config: RwLock<Arc<ProxyConfig>>,
    vault: Arc<dyn TokenVault>,
    http: HttpClient,
    authorizer: Arc<dyn Authorizer>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    expiries: Mutex<HashMap<String, u64>>,
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

impl LoginManager {
    /// A manager over `config`, storing tokens in `vault`, using `http` for token requests.
    pub fn new(config: Arc<ProxyConfig>, vault: Arc<dyn TokenVault>, http: HttpClient) -> Self {
        LoginManager {
            config: RwLock::new(config),
            vault,
            http,
            authorizer: Arc::new(NoAuthorizer),
            flights: Mutex::new(HashMap::new()),
            expiries: Mutex::new(HashMap::new()),
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

    /// Accounts whose deadline is at or before `now`.
    pub fn due(&self, now: u64) -> Vec<String> {
        guard(&self.expiries)
            .iter()
            .filter(|(_, expiry)| expiry.saturating_sub(TOKEN_EXPIRY_MARGIN_SECS) <= now)
            .map(|(account, _)| account.clone())
            .collect()
    }

    /// Refreshes `username`'s tokens with the cached derived key (no password; no client
    /// waiting). Interactive flows are not started: only refresh and unattended grants run.
    pub async fn refresh(&self, username: &str) -> Result<LoginSuccess, LoginError> {
        let result = self.login_with(username, Credential::CachedKey).await;
        if let Err(LoginError::Store {
            source: VaultError::NoCachedKey,
            ..
        }) = &result
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
        if password.expose().is_empty() {
            return Err(LoginError::NoPassword {
                account: username.to_owned(),
            });
        }
        self.login_with(username, Credential::Password(password.clone()))
            .await
    }

    async fn login_with(
        &self,
        username: &str,
        credential: Credential,
    ) -> Result<LoginSuccess, LoginError> {
        let config = self.config();
        let account = Arc::new(config.resolve_account(username)?);
        // Fast path: a valid cached token needs no lock.
        let tokens = self.load(&account, &credential, &config).await?;
        let now = (self.clock)();
        if next_step(&tokens, now) == NextStep::Reuse {
            return Ok(self.success(&account, &tokens));
        }
        let flight = Arc::clone(guard(&self.flights).entry(username.to_owned()).or_default());
        let _turn = flight.lock().await;
        self.obtain(&account, &credential, &config).await
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

    /// Loads tokens, applying the wrong-password policy.
    async fn load(
        &self,
        account: &Arc<AccountConfig>,
        credential: &Credential,
        config: &ProxyConfig,
    ) -> Result<StoredTokens, LoginError> {
        match self.vault_call(account, credential, None).await {
            Ok(tokens) => Ok(tokens),
            Err(LoginError::Store {
                source: VaultError::WrongPassword,
                ..
            }) if matches!(credential, Credential::Password(_))
                && config.global().delete_account_token_on_password_error
                && !account.flow.is_unattended() =>
            {
                tracing::info!(
                    account = %account.username,
                    "retrying login after a password that does not decrypt the stored tokens: resetting them"
                );
                self.vault_call(account, credential, Some(TokenUpdate::DropAllTokens))
                    .await?;
                self.vault_call(account, credential, None).await
            }
            Err(LoginError::Store {
                source: VaultError::WrongPassword,
                ..
            }) => Err(LoginError::WrongPassword {
                account: account.username.clone(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs a vault load (`update` = None) or save on the blocking pool.
    async fn vault_call(
        &self,
        account: &Arc<AccountConfig>,
        credential: &Credential,
        update: Option<TokenUpdate>,
    ) -> Result<StoredTokens, LoginError> {
        let vault = Arc::clone(&self.vault);
        let task_account = Arc::clone(account);
        let credential = credential.clone();
        let joined = tokio::task::spawn_blocking(move || match update {
            None => vault.load(&task_account, &credential),
            Some(update) => vault
                .save(&task_account, &credential, &update)
                .map(|()| StoredTokens::default()),
        })
        .await;
        let name = || account.username.clone();
        match joined {
            Ok(Ok(tokens)) => Ok(tokens),
            Ok(Err(VaultError::Backoff { retry_after_secs })) => Err(LoginError::Backoff {
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

    /// The slow path, holding the account's flight lock.
    async fn obtain(
        &self,
        account: &Arc<AccountConfig>,
        credential: &Credential,
        config: &ProxyConfig,
    ) -> Result<LoginSuccess, LoginError> {
        let name = account.username.as_str();
        // At most: strike one, strike two, then authorise.
        for _ in 0..3 {
            let tokens = self.load(account, credential, config).await?;
            let now = (self.clock)();
            match next_step(&tokens, now) {
                NextStep::Reuse => return Ok(self.success(account, &tokens)),
                NextStep::Refresh => {
                    let refresh_token = tokens.refresh_token.clone().unwrap_or_default();
                    let endpoint = self.endpoint(account, &tokens, None, now).await?;
                    let grant = Grant::RefreshToken {
                        refresh_token: &refresh_token,
                    };
                    match endpoint.exchange(&self.http, &grant).await {
                        Ok(response) => {
                            return self
                                .store(account, credential, config, &tokens, response, now)
                                .await;
                        }
                        Err(error) if refused(&error) => {
                            let step = on_refused_refresh(&tokens);
                            tracing::info!(
                                account = name,
                                attempt = if step == RefusedRefresh::DropAccessTokenAndRetry { 1 } else { 2 },
                                %error,
                                "retrying login after the provider refused the refresh token"
                            );
                            let update = match step {
                                RefusedRefresh::DropAccessTokenAndRetry => {
                                    TokenUpdate::DropAccessToken
                                }
                                RefusedRefresh::DropAllAndReauthorise => TokenUpdate::DropAllTokens,
                            };
                            self.vault_call(account, credential, Some(update)).await?;
                        }
                        Err(source) => {
                            return Err(LoginError::TokenRequest {
                                account: name.to_owned(),
                                source,
                            });
                        }
                    }
                }
                NextStep::Authorise => {
                    if matches!(credential, Credential::CachedKey)
                        && !account.flow.is_unattended()
                        && account.flow != OAuthFlow::Password
                    {
                        return Err(LoginError::AuthorizationRequired {
                            account: name.to_owned(),
                            url: account.permission_url.clone().unwrap_or_default(),
                        });
                    }
                    let response = self.authorise(account, credential, &tokens, now).await?;
                    return self
                        .store(account, credential, config, &tokens, response, now)
                        .await;
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
        credential: &Credential,
        config: &ProxyConfig,
        _previous: &StoredTokens,
        response: TokenResponse,
        now: u64,
    ) -> Result<LoginSuccess, LoginError> {
        let expiry = response.expires_at(now);
        let encrypt_client_secret = if config.global().encrypt_client_secret_on_first_use {
            account.client_secret.clone()
        } else {
            None
        };
        let update = TokenUpdate::Store {
            access_token: response.access_token.clone(),
            access_token_expiry: expiry,
            refresh_token: response.refresh_token.clone(),
            encrypt_client_secret,
        };
        self.vault_call(account, credential, Some(update)).await?;
        guard(&self.expiries).insert(account.username.clone(), expiry);
        Ok(LoginSuccess {
            username: account.username.clone(),
            access_token: response.access_token,
            expires_at: expiry,
        })
    }

    /// The client secret: plain `client_secret` wins over the decrypted encrypted one.
    fn client_secret(account: &AccountConfig, tokens: &StoredTokens) -> Option<SecretString> {
        account
            .client_secret
            .clone()
            .or_else(|| tokens.client_secret.clone())
            .filter(|s| !s.expose().is_empty())
    }

    /// The token endpoint with the reference's client authentication: the secret, else a JWT
    /// assertion from the certificate files, else (client credentials only, if enabled) the
    /// login password.
    async fn endpoint(
        &self,
        account: &Arc<AccountConfig>,
        tokens: &StoredTokens,
        login_password: Option<&SecretString>,
        now: u64,
    ) -> Result<TokenEndpoint, LoginError> {
        let name = account.username.as_str();
        let auth = if let Some(secret) = Self::client_secret(account, tokens) {
            ClientAuth::Secret(secret)
        } else if let (Some(cert), Some(key)) = (
            account.jwt_certificate_path.clone(),
            account.jwt_key_path.clone(),
        ) {
            let task_account = Arc::clone(account);
            let assertion = tokio::task::spawn_blocking(move || {
                let cert = std::fs::read(&cert).map_err(|e| e.to_string())?;
                let key = zeroize::Zeroizing::new(std::fs::read(&key).map_err(|e| e.to_string())?);
                client_assertion(
                    &cert,
                    &key,
                    &task_account.client_id,
                    &task_account.token_url,
                    now,
                )
                .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| LoginError::Internal {
                account: name.to_owned(),
                reason: e.to_string(),
            })?
            .map_err(|reason| LoginError::ClientAssertion {
                account: name.to_owned(),
                reason,
            })?;
            ClientAuth::Assertion(assertion)
        } else if let Some(password) = login_password {
            ClientAuth::Secret(password.clone())
        } else {
            ClientAuth::None
        };
        TokenEndpoint::new(&account.token_url, account.client_id.clone(), auth).map_err(|source| {
            LoginError::TokenRequest {
                account: name.to_owned(),
                source,
            }
        })
    }

    /// Runs the account's flow for new tokens.
    async fn authorise(
        &self,
        account: &Arc<AccountConfig>,
        credential: &Credential,
        tokens: &StoredTokens,
        now: u64,
    ) -> Result<TokenResponse, LoginError> {
        let name = account.username.as_str();
        let password = match credential {
            Credential::Password(p) => Some(p),
            Credential::CachedKey => None,
        };
        let scope = account.oauth2_scope.as_deref();
        let request_error = |source: TokenRequestError| LoginError::TokenRequest {
            account: name.to_owned(),
            source,
        };
        match account.flow {
            OAuthFlow::ServiceAccount => {
                let task_account = Arc::clone(account);
                let key = tokio::task::spawn_blocking(move || {
                    ServiceAccountKey::load(
                        &task_account.client_id,
                        task_account.client_secret.as_ref(),
                    )
                })
                .await
                .map_err(|e| LoginError::Internal {
                    account: name.to_owned(),
                    reason: e.to_string(),
                })?
                .map_err(|source| LoginError::ServiceAccount {
                    account: name.to_owned(),
                    source,
                })?;
                let assertion = key
                    .assertion(scope.unwrap_or_default(), name, now)
                    .map_err(|source| LoginError::ServiceAccount {
                        account: name.to_owned(),
                        source,
                    })?;
                let endpoint = TokenEndpoint::new(&key.token_uri, "", ClientAuth::None)
                    .map_err(request_error)?;
                endpoint
                    .exchange(&self.http, &ServiceAccountKey::grant(&assertion))
                    .await
                    .map_err(request_error)
            }
            OAuthFlow::ClientCredentials => {
                let use_password = self
                    .config()
                    .global()
                    .use_login_password_as_client_credentials_secret;
                let fallback = if use_password { password } else { None };
                let endpoint = self.endpoint(account, tokens, fallback, now).await?;
                let grant = Grant::ClientCredentials {
                    scope,
                    redirect_uri: account.redirect_uri.as_deref(),
                };
                endpoint
                    .exchange(&self.http, &grant)
                    .await
                    .map_err(request_error)
            }
            OAuthFlow::Password => {
                let Some(password) = password else {
                    return Err(LoginError::AuthorizationRequired {
                        account: name.to_owned(),
                        url: account.token_url.clone(),
                    });
                };
                let endpoint = self.endpoint(account, tokens, None, now).await?;
                let grant = Grant::Password {
                    username: name,
                    password,
                    scope,
                    resource: account.oauth2_resource.as_deref(),
                    redirect_uri: account.redirect_uri.as_deref(),
                };
                endpoint
                    .exchange(&self.http, &grant)
                    .await
                    .map_err(request_error)
            }
            OAuthFlow::Device => {
                let base = account.permission_url.clone().unwrap_or_default();
                let state =
                    crate::oauth::AuthorizationRequest::new(&base, "", None, None, name, false)
                        .map_err(|e| LoginError::random(name, e))?
                        .state;
                let url = permission_url(
                    &base,
                    &account.client_id,
                    None,
                    scope,
                    name,
                    Some(&state),
                    None,
                );
                let authorization = request_device_authorization(&self.http, &url)
                    .await
                    .map_err(request_error)?;
                let prompt_url = authorization.verification_uri.clone();
                let prompt = AuthorizationPrompt::Device {
                    username: name.to_owned(),
                    authorization: authorization.clone(),
                };
                self.prompt(name, prompt, &prompt_url).await?;
                let endpoint = self.endpoint(account, tokens, None, now).await?;
                poll_device_token(
                    &self.http,
                    &endpoint,
                    &authorization,
                    scope,
                    account.redirect_uri.as_deref(),
                )
                .await
                .map_err(|source| LoginError::Device {
                    account: name.to_owned(),
                    source,
                })
            }
            _ => {
                let request = AuthorizationRequest::new(
                    account.permission_url.as_deref().unwrap_or_default(),
                    &account.client_id,
                    account.redirect_uri.as_deref(),
                    scope,
                    name,
                    account.use_pkce,
                )
                .map_err(|e| LoginError::random(name, e))?;
                let url = request.url.clone();
                let redirect = self
                    .prompt(name, AuthorizationPrompt::Visit(request.clone()), &url)
                    .await?;
                let code = request.parse_redirect(&redirect)?;
                let endpoint = self.endpoint(account, tokens, None, now).await?;
                endpoint
                    .exchange(&self.http, &request.grant(&code))
                    .await
                    .map_err(request_error)
            }
        }
    }

    async fn prompt(
        &self,
        name: &str,
        prompt: AuthorizationPrompt,
        url: &str,
    ) -> Result<String, LoginError> {
        match self.authorizer.authorize(prompt).await {
            Ok(answer) => Ok(answer),
            Err(reason) if reason == NO_AUTHORIZER => Err(LoginError::AuthorizationRequired {
                account: name.to_owned(),
                url: url.to_owned(),
            }),
            Err(reason) => Err(LoginError::AuthorizationAborted {
                account: name.to_owned(),
                reason,
            }),
        }
    }
}

/// Whether a refresh failure means the refresh token was refused (the reference treats any
/// HTTP 400 with an error body so).
fn refused(error: &TokenRequestError) -> bool {
    error
        .provider_error()
        .is_some_and(|e| e.status == 400 || e.is_invalid_grant())
}
