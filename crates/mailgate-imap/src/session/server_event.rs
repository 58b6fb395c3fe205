//! What a [`ServerSession`](super::ServerSession) asks its driver to do, and why it ends.

use mailgate_sasl::Credentials;

use crate::Tag;

/// Why a server session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent `LOGOUT`.
    Logout,
    /// The client made more protocol errors than [`SessionLimits::max_errors`](super::SessionLimits::max_errors).
    TooManyErrors,
    /// More failed logins than [`SessionLimits::max_auth_failures`](super::SessionLimits::max_auth_failures).
    TooManyAuthFailures,
    /// More commands before login than [`SessionLimits::max_commands`](super::SessionLimits::max_commands).
    TooManyCommands,
    /// The client sent more than one message's worth of bytes while the session waited
    /// for the driver.
    TooMuchInput,
    /// The client sent a line or literal over the limits and
    /// [`ServerConfig::close_on_framing_error`](super::ServerConfig::close_on_framing_error)
    /// is set; [`ServerSession::invalid_input`](super::ServerSession::invalid_input) says
    /// what.
    InvalidInput,
    /// The client was silent for longer than [`SessionLimits::idle_timeout`](super::SessionLimits::idle_timeout).
    Timeout,
}

/// What the driver must do next, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Write these bytes to the client.
    Send(Vec<u8>),
    /// After writing everything sent before, run the TLS handshake as server, then call
    /// [`ServerSession::tls_established`](super::ServerSession::tls_established). Bytes the client pipelined after `STARTTLS`
    /// were sent in clear text and are dropped.
    StartTls,
    /// The client presented credentials with `LOGIN` or `AUTHENTICATE` under `tag`:
    /// verify them (e.g. log in upstream), then call [`ServerSession::accept_login`](super::ServerSession::accept_login),
    /// [`ServerSession::accept_login_with`](super::ServerSession::accept_login_with) or [`ServerSession::reject_login`](super::ServerSession::reject_login).
    Login {
        /// The tag of the login command, for an upstream login that answers with it.
        tag: Tag<'static>,
        /// User name and password (`Debug` redacts the password).
        credentials: Credentials,
    },
    /// Relay this command (`ID`, or another one with
    /// [`ServerConfig::forward_other`](super::ServerConfig::forward_other)) to the upstream server, then give each response
    /// message to [`ServerSession::forward_response`](super::ServerSession::forward_response) until the tagged one. The session
    /// waits meanwhile.
    Forward {
        /// The tag of the command.
        tag: Tag<'static>,
        /// The complete command message.
        message: Vec<u8>,
    },
    /// Logged in: stop using the session and relay bytes from here. `pipelined` holds
    /// client bytes received after the login command (relay them first).
    Authenticated {
        /// Client bytes received after the login command.
        pipelined: Vec<u8>,
    },
    /// Close the connection after writing everything sent before.
    Closed(CloseReason),
}
