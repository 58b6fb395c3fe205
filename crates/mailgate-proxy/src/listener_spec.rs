//! What one `[IMAP-port]`, `[POP-port]` or `[SMTP-port]` section asks for, as plain data.
//!
//! A [`ListenerSpec`] is compared on reload to decide which listeners change; it is turned into
//! a [`PreparedListener`] (TLS configurations loaded, names checked) before a listener starts.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;

use crate::error::ConfigError;
use crate::limits::{ConnectionLimits, DEFAULT_PRE_AUTH_TIMEOUT, UpstreamTimeouts};
use crate::relay::{DEFAULT_BUFFER_SIZE, RelayConfig};
use crate::tls::{self, UpstreamTrust};

/// The default `local_address`: loopback only (the Python email-oauth2-proxy listens on all interfaces).
pub const DEFAULT_LOCAL_ADDRESS: &str = "127.0.0.1";

/// The mail protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// IMAP4rev1 / IMAP4rev2.
    Imap,
    /// POP3.
    Pop,
    /// SMTP submission.
    Smtp,
}

impl Protocol {
    /// The section prefix in the configuration file (`IMAP`, `POP`, `SMTP`).
    pub fn section_prefix(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Pop => "POP",
            Protocol::Smtp => "SMTP",
        }
    }

    /// Parses a section prefix.
    pub fn from_section_prefix(prefix: &str) -> Option<Protocol> {
        match prefix {
            "IMAP" => Some(Protocol::Imap),
            "POP" => Some(Protocol::Pop),
            "SMTP" => Some(Protocol::Smtp),
            _ => None,
        }
    }

    /// The default `client_idle_timeout` before login: how long the proxy waits for the next
    /// command of a client that has not logged in. IMAP leaves the timer before authentication
    /// open (RFC 3501 and RFC 9051 section 5.4 set a 30-minute minimum only after it; Dovecot
    /// closes after 3 minutes); POP3's autologout timer must be at least 10 minutes (RFC 1939
    /// section 3); an SMTP server should wait at least 5 minutes for a command (RFC 5321
    /// section 4.5.3.2.7).
    pub fn default_client_idle_timeout(self) -> Duration {
        match self {
            Protocol::Imap => Duration::from_secs(180),
            Protocol::Pop => Duration::from_secs(600),
            Protocol::Smtp => Duration::from_secs(300),
        }
    }

    /// The line sent to a client that has been idle too long before login.
    pub fn idle_goodbye(self) -> &'static [u8] {
        match self {
            Protocol::Imap => b"* BYE Autologout; idle for too long\r\n",
            Protocol::Pop => b"-ERR Autologout; idle for too long\r\n",
            Protocol::Smtp => b"421 4.4.2 Idle for too long, closing transmission channel\r\n",
        }
    }

    /// The line sent to a client when the proxy shuts down.
    pub fn goodbye(self) -> &'static [u8] {
        match self {
            Protocol::Imap => b"* BYE Server shutting down\r\n",
            Protocol::Pop => b"+OK Server signing off\r\n",
            Protocol::Smtp => b"421 4.3.2 Service shutting down, closing transmission channel\r\n",
        }
    }

    /// The line sent to a client that is refused or dropped with an error `text`.
    pub fn refusal(self, text: &str) -> Vec<u8> {
        let text = text.replace(['\r', '\n'], " ");
        match self {
            Protocol::Imap => format!("* BYE {text}\r\n"),
            Protocol::Pop => format!("-ERR {text}\r\n"),
            Protocol::Smtp => format!("421 4.7.0 {text}\r\n"),
        }
        .into_bytes()
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.section_prefix())
    }
}

/// Everything a server section configures, as written (paths, not loaded files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The section name, e.g. `IMAP-1993`.
    pub section: String,
    /// The protocol of the section.
    pub protocol: Protocol,
    /// `local_address` (default [`DEFAULT_LOCAL_ADDRESS`]).
    pub local_address: String,
    /// The port from the section name.
    pub local_port: u16,
    /// `server_address`.
    pub server_address: String,
    /// `server_port`.
    pub server_port: u16,
    /// `server_starttls` (legacy `starttls`): connect in plain text and upgrade with
    /// STARTTLS/STLS; otherwise implicit TLS. Either way the upstream is always TLS.
    pub server_starttls: bool,
    /// `local_starttls`: offer STARTTLS/STLS to clients instead of implicit TLS.
    pub local_starttls: bool,
    /// `local_certificate_path`.
    pub local_certificate_path: Option<PathBuf>,
    /// `local_key_path`.
    pub local_key_path: Option<PathBuf>,
    /// `server_ca_file`: extra trusted CA certificates for the upstream.
    pub server_ca_file: Option<PathBuf>,
    /// Whether the system roots are trusted for the upstream (always true from a config file).
    pub system_roots: bool,
    /// Connection limits.
    pub limits: ConnectionLimits,
    /// Time a client has to log in.
    pub pre_auth_timeout: Duration,
    /// Time the proxy waits for the next command of a client before login
    /// (`client_idle_timeout`; default [`Protocol::default_client_idle_timeout`]).
    pub client_idle_timeout: Option<Duration>,
    /// Time limits of the steps of an upstream connection.
    pub upstream_timeouts: UpstreamTimeouts,
    /// Idle timeout of the relay after login.
    pub idle_timeout: Option<Duration>,
    /// Relay buffer size per direction.
    pub relay_buffer_size: usize,
}

impl ListenerSpec {
    /// A spec with the defaults for everything but the addresses.
    pub fn new(
        protocol: Protocol,
        local_port: u16,
        server_address: impl Into<String>,
        server_port: u16,
    ) -> Self {
        ListenerSpec {
            section: format!("{}-{local_port}", protocol.section_prefix()),
            protocol,
            local_address: DEFAULT_LOCAL_ADDRESS.to_owned(),
            local_port,
            server_address: server_address.into(),
            server_port,
            server_starttls: false,
            local_starttls: false,
            local_certificate_path: None,
            local_key_path: None,
            server_ca_file: None,
            system_roots: true,
            limits: ConnectionLimits::default(),
            pre_auth_timeout: DEFAULT_PRE_AUTH_TIMEOUT,
            client_idle_timeout: Some(protocol.default_client_idle_timeout()),
            upstream_timeouts: UpstreamTimeouts::default(),
            idle_timeout: None,
            relay_buffer_size: DEFAULT_BUFFER_SIZE,
        }
    }

    /// The `host:port` the listener binds, IPv6 addresses in brackets.
    pub fn bind_address(&self) -> String {
        join_host_port(&self.local_address, self.local_port)
    }

    /// The upstream `host:port`.
    pub fn server_host_port(&self) -> String {
        join_host_port(&self.server_address, self.server_port)
    }

    /// Loads the TLS configurations and checks the names: everything that can fail before the
    /// first client arrives fails here.
    pub fn prepare(&self) -> Result<PreparedListener, ConfigError> {
        let local_tls = match (&self.local_certificate_path, &self.local_key_path) {
            (Some(certificate), Some(key)) => {
                let config = tls::local_server_config(certificate, key)?;
                if self.local_starttls {
                    LocalTls::StartTls(config)
                } else {
                    LocalTls::Implicit(config)
                }
            }
            (None, None) if !self.local_starttls => LocalTls::None,
            _ => {
                return Err(ConfigError::InvalidValue {
                    key: if self.local_starttls {
                        "local_starttls"
                    } else {
                        "local_certificate_path"
                    },
                    value: format!(
                        "local_certificate_path={:?} local_key_path={:?}",
                        self.local_certificate_path, self.local_key_path
                    ),
                    reason: "local TLS needs both `local_certificate_path` and `local_key_path`"
                        .to_owned(),
                });
            }
        };
        let trust = UpstreamTrust {
            system_roots: self.system_roots,
            ca_file: self.server_ca_file.clone(),
        };
        Ok(PreparedListener {
            spec: self.clone(),
            local_tls,
            upstream_tls: tls::upstream_client_config(&trust)?,
            server_name: tls::server_name(&self.server_address)?,
        })
    }

    /// A one-line description for logs, in the Python email-oauth2-proxy's words.
    pub fn describe(&self) -> String {
        let local = if self.local_starttls {
            "STARTTLS"
        } else if self.local_certificate_path.is_some() {
            "SSL/TLS"
        } else {
            "unsecured"
        };
        let server = if self.server_starttls {
            "STARTTLS"
        } else {
            "SSL/TLS"
        };
        format!(
            "{} server at {} ({local}) proxying {} ({server})",
            self.protocol,
            self.bind_address(),
            self.server_host_port()
        )
    }

    /// The relay configuration of this listener.
    pub fn relay_config(&self) -> RelayConfig {
        RelayConfig {
            buffer_size: self.relay_buffer_size,
            idle_timeout: self.idle_timeout,
        }
    }
}

/// `host:port`, with IPv6 hosts in brackets.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// TLS offered to local clients.
#[derive(Debug, Clone)]
pub enum LocalTls {
    /// Plain text only (loopback use).
    None,
    /// TLS from the first byte.
    Implicit(Arc<ServerConfig>),
    /// Plain text with STARTTLS/STLS offered.
    StartTls(Arc<ServerConfig>),
}

/// A [`ListenerSpec`] with its TLS configurations loaded.
#[derive(Debug, Clone)]
pub struct PreparedListener {
    /// The spec this was prepared from.
    pub spec: ListenerSpec,
    /// TLS towards local clients.
    pub local_tls: LocalTls,
    /// Verified TLS towards the upstream.
    pub upstream_tls: Arc<ClientConfig>,
    /// The name the upstream certificate must carry.
    pub server_name: ServerName<'static>,
}
