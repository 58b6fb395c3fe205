//! Server sections: `[IMAP-port]`, `[POP-port]`, `[SMTP-port]`.

use std::path::PathBuf;

/// The protocol a server section proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// IMAP4.
    Imap,
    /// POP3.
    Pop,
    /// SMTP submission.
    Smtp,
}

impl Protocol {
    /// The section name prefix (`IMAP`, `POP`, `SMTP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imap => "IMAP",
            Self::Pop => "POP",
            Self::Smtp => "SMTP",
        }
    }
}

/// One local listener and the upstream server it proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The section name, e.g. `IMAP-1993`.
    pub section: String,
    /// The protocol, from the section name.
    pub protocol: Protocol,
    /// The local port, from the section name.
    pub local_port: u16,
    /// `local_address`: where to listen. `None` when not set; the Python email-oauth2-proxy then
    /// listens on `::` (all interfaces), mailgate's proxy chooses its own default.
    pub local_address: Option<String>,
    /// `server_address`: the upstream host.
    pub server_address: String,
    /// `server_port`: the upstream port.
    pub server_port: u16,
    /// `server_starttls` (legacy `starttls`): upgrade the upstream connection with
    /// STARTTLS instead of connecting with TLS from the outset.
    pub server_starttls: bool,
    /// `local_starttls`: offer STARTTLS to local clients (needs a certificate and key).
    pub local_starttls: bool,
    /// `local_certificate_path`: certificate chain for TLS towards local clients.
    pub local_certificate_path: Option<PathBuf>,
    /// `local_key_path`: private key for TLS towards local clients.
    pub local_key_path: Option<PathBuf>,
    /// `server_ca_file` (mailgate only): PEM file of CA certificates to trust for the
    /// upstream server instead of the system roots.
    pub server_ca_file: Option<PathBuf>,
}

/// The keys a server section may hold.
pub(crate) const SERVER_KEYS: [&str; 19] = [
    "server_address",
    "server_port",
    "local_address",
    "server_starttls",
    "starttls",
    "local_starttls",
    "local_certificate_path",
    "local_key_path",
    "server_ca_file",
    "documentation",
    // Connection tuning read by mailgate-proxy (see its `settings` module).
    "max_connections",
    "max_connections_per_address",
    "max_connection_attempts",
    "server_connect_timeout",
    "server_tls_timeout",
    "server_greeting_timeout",
    "pre_auth_timeout",
    "client_idle_timeout",
    "idle_timeout",
];

/// Splits `IMAP-1993` into its protocol and port text; `None` for other sections.
pub(crate) fn match_server_section(name: &str) -> Option<(Protocol, &str)> {
    let (kind, port) = name.split_once('-')?;
    let protocol = match kind {
        "IMAP" => Protocol::Imap,
        "POP" => Protocol::Pop,
        "SMTP" => Protocol::Smtp,
        _ => return None,
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((protocol, port))
}
