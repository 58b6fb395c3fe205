//! Why a login could not produce an access token.

use crate::Fault;
use crate::config::AccountError;
use crate::oauth::{
    DeviceFlowError, RandomError, RedirectError, ServiceAccountError, TokenRequestError,
};
use crate::store::StoreError;

/// Why a login failed. Every variant names the account and says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// No password was given.
    #[error("no password provided for account {account} - aborting login")]
    NoPassword {
        /// The login username.
        account: String,
    },
    /// The configuration has no usable entry for the account.
    #[error(transparent)]
    Config(#[from] AccountError),
    /// The password does not decrypt the account's tokens, and the account's policy keeps them.
    #[error("login failed - the password for account {account} is incorrect")]
    WrongPassword {
        /// The login username.
        account: String,
    },
    /// Too many failed logins for the account recently.
    #[error("too many failed logins for account {account} - retry in {retry_after_secs} s")]
    Backoff {
        /// The login username.
        account: String,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// A token request failed; stored tokens are kept. Transient errors may succeed on retry.
    #[error("token request for account {account} failed: {source}")]
    TokenRequest {
        /// The login username.
        account: String,
        /// The failure.
        #[source]
        source: TokenRequestError,
    },
    /// The account needs interactive authorisation and no one can provide it now.
    #[error("account {account} needs authorisation: visit {url} (or run `mailgate authorize`)")]
    AuthorizationRequired {
        /// The login username.
        account: String,
        /// The permission or verification URL.
        url: String,
    },
    /// The interactive authorisation was abandoned or timed out.
    #[error("authorisation for account {account} was not completed: {reason}")]
    AuthorizationAborted {
        /// The login username.
        account: String,
        /// Why.
        reason: String,
    },
    /// The redirect did not complete the authorisation.
    #[error(transparent)]
    Redirect(#[from] RedirectError),
    /// The device flow ended without a token.
    #[error("device authorisation for account {account} failed: {source}")]
    Device {
        /// The login username.
        account: String,
        /// The failure.
        #[source]
        source: DeviceFlowError,
    },
    /// The certificate credentials (`jwt_certificate_path` / `jwt_key_path`) cannot be used.
    #[error(
        "unable to create credentials assertion for account {account}: {reason} - check that `jwt_certificate_path` and `jwt_key_path` are correct"
    )]
    ClientAssertion {
        /// The login username.
        account: String,
        /// What went wrong.
        reason: String,
    },
    /// The service account key cannot be used.
    #[error("service account for account {account}: {source}")]
    ServiceAccount {
        /// The login username.
        account: String,
        /// The failure.
        #[source]
        source: ServiceAccountError,
    },
    /// The token store failed to read the tokens (a refused write is kept in memory and
    /// retried instead, unless it can never succeed).
    #[error("token store for account {account}: {source}")]
    Store {
        /// The login username.
        account: String,
        /// The failure.
        #[source]
        source: StoreError,
    },
    /// A proactive refresh ([`super::LoginManager::refresh`]) found that the account needs a new
    /// interactive authorisation (its refresh token was refused or it has none). The refresh
    /// starts none and leaves the stored tokens as they are: the account's next login does.
    #[error(
        "account {account} needs a new authorisation ({reason}); its next login will log the authorisation URL to visit"
    )]
    AuthorizationNeededAtNextLogin {
        /// The login username.
        account: String,
        /// Why: the provider's refusal, or that there is no refresh token.
        reason: String,
    },
    /// Proactive refresh of an account with no successful login since start.
    #[error(
        "account {account} has not logged in since start - its tokens are refreshed at its next login"
    )]
    NotLoggedIn {
        /// The login username.
        account: String,
    },
    /// Internal failure (random generator, a worker thread).
    #[error("internal error during login of account {account}: {reason}")]
    Internal {
        /// The login username.
        account: String,
        /// What failed.
        reason: String,
    },
}

impl LoginError {
    /// Whether retrying the login later (without user action) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            LoginError::TokenRequest { source, .. } => source.is_transient(),
            LoginError::Store { source, .. } => source.is_temporary(),
            LoginError::Backoff { .. } | LoginError::Internal { .. } => true,
            _ => false,
        }
    }

    /// Whose fault the failure is: the user's (a wrong password, an authorisation not
    /// completed), the configuration's (an unknown account, unusable credentials files), the
    /// token storage's, the provider's (unreachable, failing or refusing) or the system's.
    ///
    /// ```
    /// use mailgate_token::Fault;
    /// use mailgate_token::login::LoginError;
    ///
    /// let error = LoginError::WrongPassword { account: "alice@example.com".into() };
    /// assert_eq!(error.fault(), Fault::User);
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            LoginError::NoPassword { .. }
            | LoginError::WrongPassword { .. }
            | LoginError::Backoff { .. }
            | LoginError::AuthorizationRequired { .. }
            | LoginError::AuthorizationAborted { .. }
            | LoginError::Redirect(_)
            | LoginError::AuthorizationNeededAtNextLogin { .. }
            | LoginError::NotLoggedIn { .. } => Fault::User,
            LoginError::Device { source, .. } => match source {
                DeviceFlowError::Expired | DeviceFlowError::Denied => Fault::User,
                DeviceFlowError::Request(_) => Fault::Provider,
            },
            LoginError::Config(_)
            | LoginError::ClientAssertion { .. }
            | LoginError::ServiceAccount { .. } => Fault::Configuration,
            LoginError::TokenRequest { .. } => Fault::Provider,
            LoginError::Store { source, .. } => source.fault(),
            LoginError::Internal { .. } => Fault::System,
        }
    }

    pub(crate) fn random(account: &str, error: RandomError) -> Self {
        LoginError::Internal {
            account: account.to_owned(),
            reason: error.to_string(),
        }
    }
}
