//! What a [`ClientSession`](super::ClientSession) reports when the server refuses or
//! misbehaves.

use std::fmt;

use mailgate_sasl::{ProviderError, SaslError};
use thiserror::Error;

use crate::ParseError;
use crate::encode::Encode;
use crate::response::{Code, Status};

/// A refused login: the server's tagged `NO`/`BAD` and the provider's decoded error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// The tagged status, with its response code (e.g. `AUTHENTICATIONFAILED`).
    pub status: Status<'static>,
    /// The XOAUTH2/OAUTHBEARER error challenge, decoded, if the server sent one.
    pub provider_error: Option<ProviderError>,
}

impl AuthFailure {
    /// The response code of the refusal, if any.
    pub fn code(&self) -> Option<&Code<'static>> {
        self.status.code()
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&status_line(&self.status))?;
        if let Some(e) = &self.provider_error {
            write!(f, " (provider said: {e})")?;
        }
        Ok(())
    }
}

/// The status as sent, without its tag and line end, for messages.
pub(super) fn status_line(status: &Status<'_>) -> String {
    let text = match status {
        Status::Tagged { kind, text, .. } | Status::Untagged { kind, text } => {
            let mut out = kind.as_str().as_bytes().to_vec();
            out.push(b' ');
            text.encode(&mut out);
            out
        }
        Status::Bye(text) => {
            let mut out = b"BYE ".to_vec();
            text.encode(&mut out);
            out
        }
        Status::PreAuth(text) => {
            let mut out = b"PREAUTH ".to_vec();
            text.encode(&mut out);
            out
        }
    };
    String::from_utf8_lossy(&text).into_owned()
}

/// Why a [`ClientSession`](super::ClientSession) failed.
///
/// Variants say whose fault it is: the server refused (`Refused`, `StartTlsRefused`,
/// `CapabilityRefused`, `Bye`), is incompatible (`Preauthenticated`,
/// `StartTlsUnavailable`), misbehaved (`Malformed`, `Oversized`, `UnexpectedTag`,
/// `UnexpectedContinuation`, `UnexpectedData`, `Sasl`), was too slow (`Timeout`), or the
/// caller used the API out of order (`Misuse`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server greeted with `* BYE`.
    #[error("server refused the connection: {0}")]
    Refused(String),
    /// The server greeted with `* PREAUTH`: it logged the connection in without
    /// authentication, so the account cannot be chosen.
    #[error("server logged the connection in without authentication (PREAUTH)")]
    Preauthenticated,
    /// STARTTLS is required by the configuration but the server does not announce it
    /// (an incompatible server, or someone strips STARTTLS on the path).
    #[error("server does not offer STARTTLS; refusing to log in without TLS")]
    StartTlsUnavailable,
    /// The server refused STARTTLS.
    #[error("server refused STARTTLS: {0}")]
    StartTlsRefused(String),
    /// The server refused CAPABILITY.
    #[error("server refused CAPABILITY: {0}")]
    CapabilityRefused(String),
    /// The server closed the session with `* BYE`.
    #[error("server closed the connection: {0}")]
    Bye(String),
    /// The server sent a response the grammar does not allow.
    #[error("server sent an invalid response: {0}")]
    Malformed(ParseError),
    /// The server sent a message above the configured limits.
    #[error("server sent an oversized response: {0}")]
    Oversized(ParseError),
    /// The server completed a command the session did not send.
    #[error("server completed an unknown command (tag {0})")]
    UnexpectedTag(String),
    /// The server sent a continuation request where none belongs.
    #[error("server sent an unexpected continuation request")]
    UnexpectedContinuation,
    /// The server sent data after accepting STARTTLS, before the TLS handshake (the
    /// response injection of RFC 3207 section 6, applied to IMAP).
    #[error("server sent data after accepting STARTTLS, before the TLS handshake")]
    UnexpectedData,
    /// The SASL exchange went wrong: the server sent a challenge the mechanism does not
    /// allow, and then accepted the cancelled exchange.
    #[error("SASL exchange failed: {0}")]
    Sasl(SaslError),
    /// The server did not answer in time.
    #[error("server did not answer in time")]
    Timeout,
    /// The caller used the API out of order.
    #[error("client session used out of order")]
    Misuse,
}
