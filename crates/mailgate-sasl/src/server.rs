//! Server side of PLAIN and LOGIN: what a proxy offers to local clients.

use crate::codec::{decode_base64, decode_initial_response, encode_base64};
use crate::mechanism::truncate;
use crate::{Credentials, Mechanism, SaslError, SecretBytes, decode_plain};

/// The LOGIN username prompt, `Username:` (base64 `VXNlcm5hbWU6`).
pub const LOGIN_USERNAME_PROMPT: &[u8] = b"Username:";
/// The LOGIN password prompt, `Password:` (base64 `UGFzc3dvcmQ6`).
pub const LOGIN_PASSWORD_PROMPT: &[u8] = b"Password:";

/// Default bound on one client response, in bytes of base64 text.
pub const DEFAULT_MAX_RESPONSE_LEN: usize = 12 * 1024;

/// A challenge to send to the client.
///
/// Protocol wrappers add their prefix: `+ ` (IMAP, POP3) or `334 ` (SMTP), followed
/// by [`Challenge::base64`] and CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    raw: Vec<u8>,
    base64: String,
}

impl Challenge {
    fn new(raw: &[u8]) -> Self {
        Self {
            raw: raw.to_vec(),
            base64: encode_base64(raw),
        }
    }

    /// The decoded challenge (`Username:`, `Password:`, or empty for PLAIN).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The base64 text to put on the wire (empty for an empty challenge).
    pub fn base64(&self) -> &str {
        &self.base64
    }
}

/// What the server does next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerStep {
    /// Send this challenge and feed the client's next line to [`ServerExchange::step`].
    Challenge(Challenge),
    /// The exchange is complete: verify these credentials.
    Done(Credentials),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    AwaitPlain,
    AwaitLoginUser,
    AwaitLoginPassword,
    Finished,
}

/// A server-side PLAIN or LOGIN exchange: a step machine fed one client line at a time.
///
/// ```
/// use mailgate_sasl::{Mechanism, ServerExchange, ServerStep};
///
/// // SMTP: "AUTH LOGIN", then two 334 challenges.
/// let mut auth = ServerExchange::new(Mechanism::Login).unwrap();
/// let ServerStep::Challenge(c) = auth.start(None).unwrap() else { unreachable!() };
/// assert_eq!(c.base64(), "VXNlcm5hbWU6"); // send "334 VXNlcm5hbWU6"
/// let ServerStep::Challenge(c) = auth.step(b"dGlt").unwrap() else { unreachable!() };
/// assert_eq!(c.base64(), "UGFzc3dvcmQ6");
/// let ServerStep::Done(creds) = auth.step(b"c2VjcmV0").unwrap() else { unreachable!() };
/// assert_eq!((creds.username.as_str(), creds.password.expose().as_str()), ("tim", "secret"));
/// ```
#[derive(Debug, Clone)]
pub struct ServerExchange {
    mechanism: Mechanism,
    state: State,
    max_response_len: usize,
    username: Option<String>,
}

impl ServerExchange {
    /// Starts a server exchange for `mechanism` (PLAIN or LOGIN).
    ///
    /// # Errors
    ///
    /// [`SaslError::UnsupportedMechanism`] for mechanisms without a server side here.
    pub fn new(mechanism: Mechanism) -> Result<Self, SaslError> {
        if !mechanism.has_server() {
            return Err(SaslError::UnsupportedMechanism {
                name: mechanism.as_str().to_owned(),
            });
        }
        Ok(Self {
            mechanism,
            state: State::New,
            max_response_len: DEFAULT_MAX_RESPONSE_LEN,
            username: None,
        })
    }

    /// Starts a server exchange for the mechanism named by the client
    /// (case-insensitive), e.g. the argument of `AUTH`/`AUTHENTICATE`.
    ///
    /// # Errors
    ///
    /// [`SaslError::UnsupportedMechanism`] with the (truncated) name.
    pub fn from_name(name: &[u8]) -> Result<Self, SaslError> {
        match Mechanism::from_name(name) {
            Some(m) if m.has_server() => Self::new(m),
            _ => Err(SaslError::UnsupportedMechanism {
                name: truncate(&String::from_utf8_lossy(name), 64),
            }),
        }
    }

    /// Sets the bound on one client response (base64 text length).
    #[must_use]
    pub fn with_max_response_len(mut self, max: usize) -> Self {
        self.max_response_len = max;
        self
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange has finished (successfully or not).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Begins the exchange. `initial_response` is the optional argument after the
    /// mechanism name on the command line (SASL-IR, RFC 4954, RFC 5034): base64, or
    /// `=` for a zero-length response. `*` as initial response cancels.
    ///
    /// # Errors
    ///
    /// See [`ServerExchange::step`].
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> Result<ServerStep, SaslError> {
        if self.state != State::New {
            return Err(SaslError::ExchangeFinished);
        }
        match (self.mechanism, initial_response) {
            (Mechanism::Login, None) => {
                self.state = State::AwaitLoginUser;
                Ok(ServerStep::Challenge(Challenge::new(LOGIN_USERNAME_PROMPT)))
            }
            (_, None) => {
                self.state = State::AwaitPlain;
                Ok(ServerStep::Challenge(Challenge::new(b"")))
            }
            (mechanism, Some(text)) => {
                self.state = if mechanism == Mechanism::Login {
                    State::AwaitLoginUser
                } else {
                    State::AwaitPlain
                };
                self.consume(text, true)
            }
        }
    }

    /// Feeds one client response line (without CRLF): base64 text, or `*` to cancel.
    ///
    /// After an error the exchange is finished; the server replies with its
    /// protocol's failure response.
    ///
    /// # Errors
    ///
    /// * [`SaslError::Cancelled`] for `*`;
    /// * [`SaslError::Base64`], [`SaslError::MalformedPlain`],
    ///   [`SaslError::MalformedLogin`], [`SaslError::TooLong`] for bad client data;
    /// * [`SaslError::ExchangeFinished`] if called before `start` or after the end.
    pub fn step(&mut self, response: &[u8]) -> Result<ServerStep, SaslError> {
        match self.state {
            State::New | State::Finished => Err(SaslError::ExchangeFinished),
            _ => self.consume(response, false),
        }
    }

    fn consume(&mut self, text: &[u8], initial: bool) -> Result<ServerStep, SaslError> {
        let result = self.consume_inner(text, initial);
        if !matches!(result, Ok(ServerStep::Challenge(_))) {
            self.state = State::Finished;
            self.username = None;
        }
        result
    }

    fn consume_inner(&mut self, text: &[u8], initial: bool) -> Result<ServerStep, SaslError> {
        if text == b"*" {
            return Err(SaslError::Cancelled);
        }
        if text.len() > self.max_response_len {
            return Err(SaslError::TooLong {
                len: text.len(),
                max: self.max_response_len,
            });
        }
        let payload = SecretBytes::new(if initial {
            decode_initial_response(text)?
        } else {
            decode_base64(text)?
        });
        match self.state {
            State::AwaitPlain => Ok(ServerStep::Done(decode_plain(payload.expose())?)),
            State::AwaitLoginUser => {
                let user = login_field(payload.expose(), "username")?;
                self.username = Some(user.to_owned());
                self.state = State::AwaitLoginPassword;
                Ok(ServerStep::Challenge(Challenge::new(LOGIN_PASSWORD_PROMPT)))
            }
            State::AwaitLoginPassword => {
                let password = login_field(payload.expose(), "password")?;
                let username = self.username.take().unwrap_or_default();
                Ok(ServerStep::Done(Credentials {
                    authzid: None,
                    username,
                    password: password.into(),
                }))
            }
            State::New | State::Finished => Err(SaslError::ExchangeFinished),
        }
    }
}

fn login_field<'a>(bytes: &'a [u8], which: &'static str) -> Result<&'a str, SaslError> {
    let reason = |r| SaslError::MalformedLogin { reason: r };
    if bytes.is_empty() {
        return Err(reason(if which == "username" {
            "empty username"
        } else {
            "empty password"
        }));
    }
    if bytes.contains(&0) {
        return Err(reason(if which == "username" {
            "NUL in username"
        } else {
            "NUL in password"
        }));
    }
    core::str::from_utf8(bytes).map_err(|_| {
        reason(if which == "username" {
            "username is not UTF-8"
        } else {
            "password is not UTF-8"
        })
    })
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
