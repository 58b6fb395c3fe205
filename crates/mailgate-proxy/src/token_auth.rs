//! [`Authenticator`] over `mailgate-token`'s [`LoginManager`]: the production seam between the
//! sessions and the token store.

use std::sync::{Arc, PoisonError, RwLock};

use mailgate_token::config::{ProxyConfig, UpstreamSasl};
use mailgate_token::login::{LoginError, LoginManager};

use crate::login::{
    Authenticator, BoxFuture, LoginRejected, UpstreamCredentials, UpstreamMechanism,
};
use mailgate_sasl::SecretString;

/// Logs clients in through a [`LoginManager`] (cached, refreshed or newly obtained tokens,
/// single flight per account) and reads each account's `upstream_sasl`. An access token the
/// upstream server refuses is dropped from the manager's store, so the next login refreshes
/// it instead of reusing it until expiry.
pub struct TokenAuthenticator {
    manager: Arc<LoginManager>,
    config: RwLock<Arc<ProxyConfig>>,
}

impl std::fmt::Debug for TokenAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthenticator").finish_non_exhaustive()
    }
}

impl TokenAuthenticator {
    /// An authenticator over `manager`, reading account options from `config`.
    pub fn new(manager: Arc<LoginManager>, config: Arc<ProxyConfig>) -> Self {
        TokenAuthenticator {
            manager,
            config: RwLock::new(config),
        }
    }

    /// The login manager (e.g. for proactive refresh).
    pub fn manager(&self) -> &Arc<LoginManager> {
        &self.manager
    }

    /// Uses a reloaded configuration for new logins.
    pub fn set_config(&self, config: Arc<ProxyConfig>) {
        self.manager.set_config(config.clone());
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    fn mechanism(&self, username: &str) -> UpstreamMechanism {
        let config = self
            .config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let explicit = config.lookup(username, "upstream_sasl").is_some();
        match config.resolve_account(username) {
            Ok(account) if explicit => match account.upstream_sasl {
                UpstreamSasl::OAuthBearer => UpstreamMechanism::OAuthBearer,
                _ => UpstreamMechanism::XOAuth2,
            },
            _ => UpstreamMechanism::Automatic,
        }
    }
}

/// Whether a login failure may pass without anyone acting: the token endpoint could not be
/// reached in time, or failed.
fn is_temporary(error: &LoginError) -> bool {
    matches!(error, LoginError::TokenRequest { source, .. } if source.is_transient())
}

impl Authenticator for TokenAuthenticator {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, Result<UpstreamCredentials, LoginRejected>> {
        Box::pin(async move {
            let password = mailgate_token::SecretString::from(password.expose().as_str());
            // The login runs in a task of its own: a client that disconnects drops only its
            // interest, and a token request that other logins of the account wait for (single
            // flight) goes on for them instead of starting over.
            let manager = self.manager.clone();
            let account = username.to_owned();
            let login = tokio::spawn(async move { manager.login(&account, &password).await });
            match login.await {
                Ok(Ok(success)) => Ok(UpstreamCredentials {
                    username: success.username.clone(),
                    access_token: SecretString::from(success.access_token.expose().as_str()),
                    mechanism: self.mechanism(username),
                    expires_at: Some(success.expires_at),
                }),
                Ok(Err(error)) => {
                    let message = format!("mailgate: {error}");
                    Err(if is_temporary(&error) {
                        LoginRejected::temporary(message)
                    } else {
                        LoginRejected::new(message)
                    })
                }
                Err(error) => Err(LoginRejected::temporary(format!(
                    "mailgate: the login of account {username} failed: {error}"
                ))),
            }
        })
    }

    fn token_rejected<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let password = mailgate_token::SecretString::from(password.expose().as_str());
            match self.manager.drop_access_token(username, &password).await {
                Ok(()) => tracing::info!(
                    "Dropped the access token of account {username} that the server refused"
                ),
                Err(error) => tracing::info!(
                    "Unable to drop the refused access token of account {username}: {error}"
                ),
            }
        })
    }
}
