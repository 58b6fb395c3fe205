//! The seam between the protocol sessions and the token store: a client's username and
//! password in, the credentials for the upstream SASL login out.
//!
//! [`Authenticator`] is implemented over `mailgate-token` by [`crate::TokenAuthenticator`];
//! embedders and tests may plug in their own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use mailgate_sasl::SecretString;

/// A boxed, sendable future (the object-safe form of an `async fn` in a trait).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which SASL mechanism to use upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamMechanism {
    /// XOAUTH2, or OAUTHBEARER when the server advertises only that.
    #[default]
    Automatic,
    /// Always XOAUTH2 (`upstream_sasl = xoauth2`).
    XOAuth2,
    /// Always OAUTHBEARER (`upstream_sasl = oauthbearer`).
    OAuthBearer,
}

impl UpstreamMechanism {
    /// Parses the `upstream_sasl` account key (case-insensitive); `None` for unknown values.
    pub fn from_config(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" | "automatic" => Some(UpstreamMechanism::Automatic),
            "xoauth2" => Some(UpstreamMechanism::XOAuth2),
            "oauthbearer" => Some(UpstreamMechanism::OAuthBearer),
            _ => None,
        }
    }

    /// Chooses the mechanism given whether the server advertised XOAUTH2 and OAUTHBEARER
    /// (`None` when the server's capabilities are unknown).
    pub fn choose(self, offers: Option<(bool, bool)>) -> mailgate_sasl::Mechanism {
        use mailgate_sasl::Mechanism;
        match self {
            UpstreamMechanism::XOAuth2 => Mechanism::XOAuth2,
            UpstreamMechanism::OAuthBearer => Mechanism::OAuthBearer,
            UpstreamMechanism::Automatic => match offers {
                Some((false, true)) => Mechanism::OAuthBearer,
                _ => Mechanism::XOAuth2,
            },
        }
    }
}

/// What the upstream login needs.
#[derive(Clone)]
pub struct UpstreamCredentials {
    /// The identity sent upstream (the client's login name).
    pub username: String,
    /// The OAuth 2.0 access token.
    pub access_token: SecretString,
    /// The mechanism preference of the account.
    pub mechanism: UpstreamMechanism,
    /// When the access token expires (Unix seconds), when known.
    pub expires_at: Option<u64>,
}

impl fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamCredentials")
            .field("username", &self.username)
            .field("access_token", &self.access_token)
            .field("mechanism", &self.mechanism)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A login refused before anything was sent upstream; `message` is shown to the client (after
/// `NO`, `-ERR` or `535`) and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct LoginRejected {
    /// Human-readable reason naming the account and the next step; never a secret.
    pub message: String,
    /// Whether the failure is temporary (the token endpoint unreachable, slow or failing): the
    /// client is told to retry (IMAP `NO [UNAVAILABLE]`, POP3 `-ERR [SYS/TEMP]`, SMTP
    /// `454 4.7.0`) rather than that its credentials are wrong.
    pub temporary: bool,
}

impl LoginRejected {
    /// A rejection with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        LoginRejected {
            message: message.into(),
            temporary: false,
        }
    }

    /// A temporary failure with `message`: the same login may succeed later.
    pub fn temporary(message: impl Into<String>) -> Self {
        LoginRejected {
            message: message.into(),
            temporary: true,
        }
    }
}

/// Turns a client's password login into upstream OAuth 2.0 credentials.
///
/// Implementations must not block: many sessions call them at once, and a call may wait a long
/// time for an interactive authorisation.
pub trait Authenticator: Send + Sync + 'static {
    /// Returns the access token for `username` logging in with `password`.
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, Result<UpstreamCredentials, LoginRejected>>;

    /// Tells the store that the upstream server refused the access token `username` logged in
    /// with (using `password`), so the next login refreshes or fetches a fresh one. The default
    /// does nothing.
    fn token_rejected<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, ()> {
        let _ = (username, password);
        Box::pin(async {})
    }
}
