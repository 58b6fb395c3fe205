//! The settings of a [`ServerSession`](super::ServerSession).

use super::{SessionLimits, pre_auth_client_config};
use crate::{Capability, ParserConfig};

/// Settings of a [`ServerSession`](super::ServerSession).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The text of the `* OK` greeting.
    pub greeting: String,
    /// The capabilities to present, usually the upstream server's. The session rewrites
    /// them: `AUTH=`, `SASL-IR`, `STARTTLS` and `LOGINDISABLED` are replaced by what it
    /// offers itself (see [`ServerSession::capabilities`](super::ServerSession::capabilities)); an empty list becomes
    /// `IMAP4rev1`.
    pub capabilities: Vec<Capability<'static>>,
    /// Offer STARTTLS on this plaintext connection. While it is on offer, `LOGIN` and
    /// `AUTHENTICATE` are refused (`LOGINDISABLED`), so passwords never cross in clear
    /// text.
    pub offer_starttls: bool,
    /// The connection is already protected by TLS (port 993, or after STARTTLS).
    pub tls_active: bool,
    /// Hand `ID` commands to the driver with [`ServerEvent::Forward`](super::ServerEvent::Forward) (to relay them to the
    /// upstream server) instead of answering `* ID NIL` locally.
    pub forward_id: bool,
    /// Hand other commands valid only after login (`SELECT`, `LIST`, ...) to the driver
    /// with [`ServerEvent::Forward`](super::ServerEvent::Forward) too, so the upstream server answers them, as long as
    /// they carry no literal; otherwise (and by default) they get `BAD`. `ENABLE` is
    /// always refused before login (RFC 5161).
    pub forward_other: bool,
    /// End the session after the `BAD` for a line or literal over the limits
    /// ([`CloseReason::InvalidInput`](super::CloseReason::InvalidInput)) instead of skipping
    /// the message: a client that sends one before login is broken or hostile, and a proxy
    /// stops reading it at once.
    pub close_on_framing_error: bool,
    /// Limits of the framer and the command grammar (the strict grammar with pre-login
    /// sizes by default, see [`pre_auth_client_config`](super::pre_auth_client_config)).
    pub parser: ParserConfig,
    /// Error, failure, command and time limits.
    pub limits: SessionLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            greeting: "mailgate ready".to_owned(),
            capabilities: Vec::new(),
            offer_starttls: false,
            tls_active: false,
            forward_id: false,
            forward_other: false,
            close_on_framing_error: false,
            parser: pre_auth_client_config(),
            limits: SessionLimits::default(),
        }
    }
}
