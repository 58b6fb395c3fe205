//! Client side of XOAUTH2, OAUTHBEARER, PLAIN and LOGIN: what a proxy does upstream.

use crate::codec::{encode_base64, encode_initial_response};
use crate::{Mechanism, ProviderError, SaslError, SecretBytes, SecretString, encode_plain};

/// The response that cancels an exchange (RFC 4422 section 3.5).
pub const CANCEL: &str = "*";

/// The client's answer to an XOAUTH2 error challenge: an empty line.
pub const XOAUTH2_ERROR_RESPONSE: &str = "";

/// The client's answer to an OAUTHBEARER error challenge: the single byte 0x01,
/// base64 `AQ==` (RFC 7628 section 3.2.3).
pub const OAUTHBEARER_ERROR_RESPONSE: &str = "AQ==";

/// Builds the XOAUTH2 initial response `user=<user>\x01auth=Bearer <token>\x01\x01`
/// (not yet base64-encoded).
///
/// ```
/// use mailgate_sasl::{xoauth2_initial_response, SecretString};
/// let ir = xoauth2_initial_response("a@b.c", &SecretString::from("tok"));
/// assert_eq!(ir.expose(), b"user=a@b.c\x01auth=Bearer tok\x01\x01");
/// ```
pub fn xoauth2_initial_response(username: &str, token: &SecretString) -> SecretBytes {
    let token = token.expose();
    let mut out = Vec::with_capacity(username.len() + token.len() + 22);
    out.extend_from_slice(b"user=");
    out.extend_from_slice(username.as_bytes());
    out.extend_from_slice(b"\x01auth=Bearer ");
    out.extend_from_slice(token.as_bytes());
    out.extend_from_slice(b"\x01\x01");
    SecretBytes::new(out)
}

/// Builds the OAUTHBEARER initial response (RFC 7628 section 3.1): the GS2 header
/// `n,a=<user>,` followed by `\x01host=<host>` and `\x01port=<port>` when given,
/// then `\x01auth=Bearer <token>\x01\x01` (not yet base64-encoded).
///
/// `,` and `=` in the user name are escaped as `=2C` and `=3D` (RFC 5801).
///
/// ```
/// use mailgate_sasl::{oauthbearer_initial_response, SecretString};
/// let ir = oauthbearer_initial_response("a,b=c", None, None, &SecretString::from("t"));
/// assert_eq!(ir.expose(), b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01");
/// ```
pub fn oauthbearer_initial_response(
    username: &str,
    host: Option<&str>,
    port: Option<u16>,
    token: &SecretString,
) -> SecretBytes {
    let mut out = Vec::with_capacity(username.len() + token.expose().len() + 64);
    out.extend_from_slice(b"n,a=");
    out.extend_from_slice(gs2_escape(username).as_bytes());
    out.push(b',');
    if let Some(host) = host {
        out.extend_from_slice(b"\x01host=");
        out.extend_from_slice(host.as_bytes());
    }
    if let Some(port) = port {
        out.extend_from_slice(b"\x01port=");
        out.extend_from_slice(port.to_string().as_bytes());
    }
    out.extend_from_slice(b"\x01auth=Bearer ");
    out.extend_from_slice(token.expose().as_bytes());
    out.extend_from_slice(b"\x01\x01");
    SecretBytes::new(out)
}

/// Escapes a GS2 `saslname` (RFC 5801 section 4): `=` becomes `=3D`, `,` becomes `=2C`.
pub fn gs2_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '=' => out.push_str("=3D"),
            ',' => out.push_str("=2C"),
            c => out.push(c),
        }
    }
    out
}

/// What the client does next, after a server challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientStep {
    /// Send this base64 line (it carries credentials: never log it).
    Respond(SecretString),
    /// The server sent an error challenge. Send `response` (an empty line for
    /// XOAUTH2, `AQ==` for OAUTHBEARER), then read the server's final failure reply
    /// and show `error` to the user.
    ErrorChallenge {
        /// The base64 line to send.
        response: String,
        /// The decoded provider error.
        error: ProviderError,
    },
}

#[derive(Debug, Clone)]
enum Credential {
    Plain {
        authzid: Option<String>,
        username: String,
        password: SecretString,
    },
    Login {
        username: String,
        password: SecretString,
    },
    XOAuth2 {
        username: String,
        token: SecretString,
    },
    OAuthBearer {
        username: String,
        host: Option<String>,
        port: Option<u16>,
        token: SecretString,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    AwaitEmptyChallenge,
    AwaitUsernamePrompt,
    AwaitPasswordPrompt,
    Sent,
    ErrorAnswered,
    Finished,
}

/// A client-side SASL exchange: yields the initial response and answers challenges.
///
/// ```
/// use mailgate_sasl::{ClientExchange, ClientStep, SecretString};
///
/// let mut auth = ClientExchange::xoauth2("someuser@example.com", SecretString::from("tok"));
/// // With SASL-IR: "AUTH XOAUTH2 <ir>".
/// let ir = auth.start(true).unwrap().unwrap();
/// assert!(ir.expose().starts_with("dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB0b2"));
/// // The server rejects the token with an error challenge ("+ eyJzdGF0dXMiOiI0MDAifQ==").
/// match auth.step(b"eyJzdGF0dXMiOiI0MDAifQ==").unwrap() {
///     ClientStep::ErrorChallenge { response, error } => {
///         assert_eq!(response, ""); // send an empty line, then read the NO/-ERR/535
///         assert_eq!(error.status.as_deref(), Some("400"));
///     }
///     other => unreachable!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ClientExchange {
    credential: Credential,
    state: State,
    provider_error: Option<ProviderError>,
}

impl ClientExchange {
    fn with(credential: Credential) -> Self {
        Self {
            credential,
            state: State::New,
            provider_error: None,
        }
    }

    /// XOAUTH2 for `username` with an OAuth 2.0 access token.
    pub fn xoauth2(username: &str, token: SecretString) -> Self {
        Self::with(Credential::XOAuth2 {
            username: username.to_owned(),
            token,
        })
    }

    /// OAUTHBEARER (RFC 7628) for `username`; `host` and `port` are the server's
    /// (optional in the RFC, sent when given).
    pub fn oauthbearer(
        username: &str,
        host: Option<&str>,
        port: Option<u16>,
        token: SecretString,
    ) -> Self {
        Self::with(Credential::OAuthBearer {
            username: username.to_owned(),
            host: host.map(str::to_owned),
            port,
            token,
        })
    }

    /// PLAIN (RFC 4616) with an optional authorization identity.
    pub fn plain(authzid: Option<&str>, username: &str, password: SecretString) -> Self {
        Self::with(Credential::Plain {
            authzid: authzid.map(str::to_owned),
            username: username.to_owned(),
            password,
        })
    }

    /// LOGIN (answers the username prompt, then the password prompt).
    pub fn login(username: &str, password: SecretString) -> Self {
        Self::with(Credential::Login {
            username: username.to_owned(),
            password,
        })
    }

    /// The mechanism of this exchange (its name goes on the `AUTH` line).
    pub fn mechanism(&self) -> Mechanism {
        match self.credential {
            Credential::Plain { .. } => Mechanism::Plain,
            Credential::Login { .. } => Mechanism::Login,
            Credential::XOAuth2 { .. } => Mechanism::XOAuth2,
            Credential::OAuthBearer { .. } => Mechanism::OAuthBearer,
        }
    }

    /// The user name this exchange authenticates.
    pub fn username(&self) -> &str {
        match &self.credential {
            Credential::Plain { username, .. }
            | Credential::Login { username, .. }
            | Credential::XOAuth2 { username, .. }
            | Credential::OAuthBearer { username, .. } => username,
        }
    }

    /// The raw initial response (not base64), or `None` for LOGIN, which has none.
    pub fn initial_response(&self) -> Option<SecretBytes> {
        match &self.credential {
            Credential::Plain {
                authzid,
                username,
                password,
            } => Some(encode_plain(
                authzid.as_deref(),
                username,
                password.expose(),
            )),
            Credential::Login { .. } => None,
            Credential::XOAuth2 { username, token } => {
                Some(crate::xoauth2_initial_response(username, token))
            }
            Credential::OAuthBearer {
                username,
                host,
                port,
                token,
            } => Some(oauthbearer_initial_response(
                username,
                host.as_deref(),
                *port,
                token,
            )),
        }
    }

    /// The initial response in base64, as it goes on the command line (`=` if empty).
    pub fn initial_response_base64(&self) -> Option<SecretString> {
        self.initial_response()
            .map(|ir| SecretString::new(encode_initial_response(ir.expose())))
    }

    /// Begins the exchange. With `use_initial_response` (the server supports
    /// SASL-IR, or the protocol always allows it as SMTP and POP3 do), returns the
    /// base64 initial response to append to the `AUTH` command; otherwise returns
    /// `None` and the first (empty) server challenge is answered by [`step`].
    /// LOGIN never sends an initial response.
    ///
    /// # Errors
    ///
    /// [`SaslError::ExchangeFinished`] if already started.
    ///
    /// [`step`]: ClientExchange::step
    pub fn start(&mut self, use_initial_response: bool) -> Result<Option<SecretString>, SaslError> {
        if self.state != State::New {
            return Err(SaslError::ExchangeFinished);
        }
        if matches!(self.credential, Credential::Login { .. }) {
            self.state = State::AwaitUsernamePrompt;
            return Ok(None);
        }
        if use_initial_response {
            self.state = State::Sent;
            Ok(self.initial_response_base64())
        } else {
            self.state = State::AwaitEmptyChallenge;
            Ok(None)
        }
    }

    /// Answers a server challenge: `challenge` is the base64 text after `+ ` or
    /// `334 ` (without CRLF).
    ///
    /// # Errors
    ///
    /// * [`SaslError::UnexpectedChallenge`] when the server sends a challenge the
    ///   mechanism does not allow (answer with [`CANCEL`]);
    /// * [`SaslError::ExchangeFinished`] before [`start`](ClientExchange::start).
    pub fn step(&mut self, challenge: &[u8]) -> Result<ClientStep, SaslError> {
        let unexpected = SaslError::UnexpectedChallenge {
            mechanism: self.mechanism().as_str(),
        };
        match self.state {
            State::New => Err(SaslError::ExchangeFinished),
            State::AwaitEmptyChallenge => {
                // Servers send an empty challenge here; tolerate any content.
                self.state = State::Sent;
                let ir = self.initial_response().unwrap_or_default();
                Ok(ClientStep::Respond(SecretString::new(encode_base64(
                    ir.expose(),
                ))))
            }
            State::AwaitUsernamePrompt => {
                self.state = State::AwaitPasswordPrompt;
                Ok(ClientStep::Respond(SecretString::new(encode_base64(
                    self.username().as_bytes(),
                ))))
            }
            State::AwaitPasswordPrompt => {
                self.state = State::Sent;
                let response = match &self.credential {
                    Credential::Login { password, .. } => {
                        encode_base64(password.expose().as_bytes())
                    }
                    _ => String::new(),
                };
                Ok(ClientStep::Respond(SecretString::new(response)))
            }
            State::Sent => {
                let response = match self.credential {
                    Credential::XOAuth2 { .. } => XOAUTH2_ERROR_RESPONSE,
                    Credential::OAuthBearer { .. } => OAUTHBEARER_ERROR_RESPONSE,
                    Credential::Plain { .. } | Credential::Login { .. } => {
                        self.state = State::Finished;
                        return Err(unexpected);
                    }
                };
                let error = ProviderError::from_challenge(challenge);
                self.provider_error = Some(error.clone());
                self.state = State::ErrorAnswered;
                Ok(ClientStep::ErrorChallenge {
                    response: response.to_owned(),
                    error,
                })
            }
            State::ErrorAnswered | State::Finished => {
                self.state = State::Finished;
                Err(unexpected)
            }
        }
    }

    /// The provider error decoded from the error challenge, if there was one.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        self.provider_error.as_ref()
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
