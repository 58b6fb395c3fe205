//! Obtaining tokens for an account: client authentication and the account's flow.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tracing::Instrument;

use crate::SecretString;
use crate::config::{AccountConfig, OAuthFlow};
use crate::oauth::{
    AuthorizationRequest, ClientAuth, DeviceAuthorization, Grant, ServiceAccountKey, TokenEndpoint,
    TokenRequestError, TokenResponse, client_assertion, permission_url, poll_device_token,
    request_device_authorization,
};
use crate::transport::HttpClient;

use super::error::LoginError;
use super::tokens::StoredTokens;

/// An interactive step the user must complete.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthorizationPrompt {
    /// Visit [`AuthorizationRequest::url`] (log [`AuthorizationRequest::prompt`]); answer with
    /// the redirect (request target or full URL).
    Visit {
        /// The pending request (URL, `state`, `redirect_uri`).
        request: AuthorizationRequest,
        /// `redirect_listen_address`: where to listen for the redirect when it differs from
        /// `redirect_uri`.
        redirect_listen_address: Option<String>,
    },
    /// Enter the user code at the verification URI; answer with anything once shown (the
    /// library polls the provider itself).
    Device {
        /// The login username.
        username: String,
        /// The device authorization.
        authorization: DeviceAuthorization,
    },
}

/// Why an [`Authorizer`] gives no answer to a prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizationError {
    /// Nobody can authorise interactively here: the login fails with
    /// [`LoginError::AuthorizationRequired`], naming the URL to visit.
    #[error("no interactive authoriser")]
    Unavailable,
    /// The authorisation was started but not completed (cancelled, timed out, a prompt the
    /// authoriser does not support): the login fails with
    /// [`LoginError::AuthorizationAborted`] and this reason.
    #[error("{0}")]
    Aborted(String),
}

/// The future an [`Authorizer`] returns: the redirect, or why none will come.
pub type AuthorizationFuture =
    Pin<Box<dyn Future<Output = Result<String, AuthorizationError>> + Send>>;

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
        Box::pin(async { Err(AuthorizationError::Unavailable) })
    }
}

/// What a token acquisition needs.
pub(crate) struct Acquire<'a> {
    pub(crate) http: &'a HttpClient,
    pub(crate) authorizer: &'a dyn Authorizer,
    pub(crate) account: &'a Arc<AccountConfig>,
    pub(crate) tokens: &'a StoredTokens,
    pub(crate) password: &'a SecretString,
    pub(crate) now: u64,
}

impl Acquire<'_> {
    fn name(&self) -> &str {
        &self.account.username
    }

    fn request_error(&self, source: TokenRequestError) -> LoginError {
        LoginError::TokenRequest {
            account: self.name().to_owned(),
            source,
        }
    }

    fn internal(&self, reason: impl ToString) -> LoginError {
        LoginError::Internal {
            account: self.name().to_owned(),
            reason: reason.to_string(),
        }
    }

    /// The token endpoint with the Python email-oauth2-proxy's client authentication: the client secret (plain,
    /// or decrypted, or the login password as the store decided), else a JWT assertion from the
    /// certificate files, else none.
    pub(crate) async fn endpoint(&self) -> Result<TokenEndpoint, LoginError> {
        let account = self.account;
        let secret = self
            .tokens
            .client_secret
            .clone()
            .or_else(|| account.client_secret.clone())
            .filter(|s| !s.expose().is_empty());
        let auth = if let Some(secret) = secret {
            ClientAuth::Secret(secret)
        } else if let (Some(cert), Some(key)) = (
            account.jwt_certificate_path.clone(),
            account.jwt_key_path.clone(),
        ) {
            let task_account = Arc::clone(account);
            let now = self.now;
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
            .map_err(|e| self.internal(e))?
            .map_err(|reason| LoginError::ClientAssertion {
                account: self.name().to_owned(),
                reason,
            })?;
            ClientAuth::Assertion(assertion)
        } else {
            ClientAuth::None
        };
        TokenEndpoint::new(&account.token_url, account.client_id.clone(), auth)
            .map_err(|e| self.request_error(e))
    }

    /// Refreshes with `refresh_token`.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> Result<TokenResponse, TokenRequestError> {
        let endpoint = match self.endpoint().await {
            Ok(endpoint) => endpoint,
            Err(LoginError::TokenRequest { source, .. }) => return Err(source),
            Err(other) => {
                return Err(TokenRequestError::InvalidResponse {
                    status: 0,
                    reason: other.to_string(),
                });
            }
        };
        endpoint
            .exchange(self.http, &Grant::RefreshToken { refresh_token })
            .await
    }

    /// Runs the account's flow for new tokens.
    pub(crate) async fn authorise(&self) -> Result<TokenResponse, LoginError> {
        let account = self.account;
        let name = self.name();
        let scope = account.oauth2_scope.as_deref();
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
                .map_err(|e| self.internal(e))?
                .map_err(|source| LoginError::ServiceAccount {
                    account: name.to_owned(),
                    source,
                })?;
                let assertion = key
                    .assertion(scope.unwrap_or_default(), name, self.now)
                    .map_err(|source| LoginError::ServiceAccount {
                        account: name.to_owned(),
                        source,
                    })?;
                let endpoint = TokenEndpoint::new(&key.token_uri, "", ClientAuth::None)
                    .map_err(|e| self.request_error(e))?;
                endpoint
                    .exchange(self.http, &ServiceAccountKey::grant(&assertion))
                    .await
                    .map_err(|e| self.request_error(e))
            }
            OAuthFlow::ClientCredentials => {
                let grant = Grant::ClientCredentials {
                    scope,
                    redirect_uri: account.redirect_uri.as_deref(),
                };
                let endpoint = self.endpoint().await?;
                endpoint
                    .exchange(self.http, &grant)
                    .await
                    .map_err(|e| self.request_error(e))
            }
            OAuthFlow::Password => {
                let grant = Grant::Password {
                    username: name,
                    password: self.password,
                    scope,
                    resource: account.oauth2_resource.as_deref(),
                    redirect_uri: account.redirect_uri.as_deref(),
                };
                let endpoint = self.endpoint().await?;
                endpoint
                    .exchange(self.http, &grant)
                    .await
                    .map_err(|e| self.request_error(e))
            }
            OAuthFlow::Device => {
                let base = account.permission_url.clone().unwrap_or_default();
                let state = AuthorizationRequest::new(&base, "", None, None, name, false)
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
                let authorization = request_device_authorization(self.http, &url)
                    .await
                    .map_err(|e| self.request_error(e))?;
                let shown = authorization.verification_uri.clone();
                let prompt = AuthorizationPrompt::Device {
                    username: name.to_owned(),
                    authorization: authorization.clone(),
                };
                self.prompt(prompt, &shown).await?;
                let endpoint = self.endpoint().await?;
                // The poll's warnings (a lost connection) name the account.
                let span = tracing::warn_span!("device_poll", account = %name);
                poll_device_token(
                    self.http,
                    &endpoint,
                    &authorization,
                    scope,
                    account.redirect_uri.as_deref(),
                )
                .instrument(span)
                .await
                .map_err(|source| LoginError::Device {
                    account: name.to_owned(),
                    source,
                })
            }
            OAuthFlow::AuthorizationCode => {
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
                    .prompt(
                        AuthorizationPrompt::Visit {
                            request: request.clone(),
                            redirect_listen_address: account.redirect_listen_address.clone(),
                        },
                        &url,
                    )
                    .await?;
                let code = request.parse_redirect(&redirect)?;
                let endpoint = self.endpoint().await?;
                endpoint
                    .exchange(self.http, &request.grant(&code))
                    .await
                    .map_err(|e| self.request_error(e))
            }
        }
    }

    async fn prompt(&self, prompt: AuthorizationPrompt, url: &str) -> Result<String, LoginError> {
        match self.authorizer.authorize(prompt).await {
            Ok(answer) => Ok(answer),
            Err(AuthorizationError::Unavailable) => Err(LoginError::AuthorizationRequired {
                account: self.name().to_owned(),
                url: url.to_owned(),
            }),
            Err(AuthorizationError::Aborted(reason)) => Err(LoginError::AuthorizationAborted {
                account: self.name().to_owned(),
                reason,
            }),
        }
    }
}
