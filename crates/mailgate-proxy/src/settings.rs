//! From `emailproxy.config` (as modelled by `mailgate-token`) to [`ListenerSpec`]s.
//!
//! Besides the Python email-oauth2-proxy's server keys, a server section may set (all optional):
//! `server_ca_file`, `max_connections`, `max_connections_per_address`,
//! `pre_auth_timeout` (seconds, default 600) and `idle_timeout` (seconds after login, default
//! none).

use std::time::Duration;

use mailgate_token::config::{IniDocument, ProxyConfig, ServerConfig};

use crate::error::ConfigError;
use crate::limits::ConnectionLimits;
use crate::listener_spec::{DEFAULT_LOCAL_ADDRESS, ListenerSpec, Protocol};

/// The tuning keys mailgate adds to server sections.
pub const TUNING_KEYS: [&str; 4] = [
    "max_connections",
    "max_connections_per_address",
    "pre_auth_timeout",
    "idle_timeout",
];

/// Converts the protocol of a server section.
fn protocol(server: &ServerConfig) -> Protocol {
    match server.protocol.as_str() {
        "POP" => Protocol::Pop,
        "SMTP" => Protocol::Smtp,
        _ => Protocol::Imap,
    }
}

/// Reads an optional positive number from the section.
fn number(
    document: &IniDocument,
    section: &str,
    key: &'static str,
) -> Result<Option<u64>, ConfigError> {
    match document.get(section, key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(ConfigError::InvalidValue {
                key,
                value: text.to_owned(),
                reason: format!("in [{section}]: write a whole number (0 = no limit)"),
            }),
        },
    }
}

/// The listener of one server section.
pub fn listener_spec(
    server: &ServerConfig,
    document: &IniDocument,
) -> Result<ListenerSpec, ConfigError> {
    let section = server.section.as_str();
    let mut spec = ListenerSpec::new(
        protocol(server),
        server.local_port,
        server.server_address.clone(),
        server.server_port,
    );
    spec.section = server.section.clone();
    spec.local_address = server
        .local_address
        .clone()
        .filter(|address| !address.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_LOCAL_ADDRESS.to_owned());
    spec.server_starttls = server.server_starttls;
    spec.local_starttls = server.local_starttls;
    spec.local_certificate_path = server.local_certificate_path.clone();
    spec.local_key_path = server.local_key_path.clone();
    spec.server_ca_file = server.server_ca_file.clone();
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    spec.limits = ConnectionLimits {
        per_listener: number(document, section, "max_connections")?.map(to_usize),
        per_source: number(document, section, "max_connections_per_address")?.map(to_usize),
    };
    if let Some(seconds) = number(document, section, "pre_auth_timeout")? {
        spec.pre_auth_timeout = Duration::from_secs(seconds);
    }
    spec.idle_timeout = number(document, section, "idle_timeout")?.map(Duration::from_secs);
    Ok(spec)
}

/// The listeners of every server section, in file order; the first error stops.
pub fn listener_specs(
    config: &ProxyConfig,
    document: &IniDocument,
) -> Result<Vec<ListenerSpec>, ConfigError> {
    config
        .servers()
        .iter()
        .map(|server| listener_spec(server, document))
        .collect()
}
