//! From `emailproxy.config` (as modelled by `mailgate-token`) to [`ListenerSpec`]s.
//!
//! Besides the Python email-oauth2-proxy's server keys, a server section may set (all optional;
//! times in seconds, 0 for no limit):
//! `server_ca_file`, `max_connections`, `max_connections_per_address`,
//! `max_connection_attempts` (upstream connections being set up at once, default 100),
//! `server_connect_timeout` (default 10), `server_tls_timeout` (default 10),
//! `server_greeting_timeout` (default 15), `pre_auth_timeout` (default 600),
//! `client_idle_timeout` (before login; default 180 for IMAP, 600 for POP3, 300 for SMTP) and
//! `idle_timeout` (after login, default none).

use std::time::Duration;

use mailgate_token::config::{IniDocument, ProxyConfig, ServerConfig};

use crate::error::ConfigError;
use crate::limits::{ConnectionLimits, DEFAULT_MAX_CONNECTION_ATTEMPTS, UpstreamTimeouts};
use crate::listener_spec::{DEFAULT_LOCAL_ADDRESS, ListenerSpec, Protocol};

/// The tuning keys mailgate adds to server sections.
pub const TUNING_KEYS: [&str; 9] = [
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

/// Reads an optional time in seconds: `default` when the key is absent or empty, `None` for 0.
fn seconds(
    document: &IniDocument,
    section: &str,
    key: &'static str,
    default: Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    match document.get(section, key).map(str::trim) {
        None | Some("") => Ok(default),
        Some(_) => Ok(number(document, section, key)?.map(Duration::from_secs)),
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
        attempts: match document
            .get(section, "max_connection_attempts")
            .map(str::trim)
        {
            None | Some("") => Some(DEFAULT_MAX_CONNECTION_ATTEMPTS),
            Some(_) => number(document, section, "max_connection_attempts")?.map(to_usize),
        },
    };
    let defaults = UpstreamTimeouts::default();
    spec.upstream_timeouts = UpstreamTimeouts {
        connect: seconds(
            document,
            section,
            "server_connect_timeout",
            defaults.connect,
        )?,
        tls: seconds(document, section, "server_tls_timeout", defaults.tls)?,
        greeting: seconds(
            document,
            section,
            "server_greeting_timeout",
            defaults.greeting,
        )?,
    };
    if let Some(seconds) = number(document, section, "pre_auth_timeout")? {
        spec.pre_auth_timeout = Duration::from_secs(seconds);
    }
    spec.client_idle_timeout = seconds(
        document,
        section,
        "client_idle_timeout",
        spec.client_idle_timeout,
    )?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn specs(text: &str) -> Result<Vec<ListenerSpec>, ConfigError> {
        let document = IniDocument::parse(text).unwrap();
        let config = ProxyConfig::from_document(&document).unwrap();
        listener_specs(&config, &document)
    }

    #[test]
    fn bounded_waits_have_defaults_per_protocol() {
        let specs = specs(
            "[IMAP-1993]\nserver_address = imap.example.com\nserver_port = 993\n\
             [POP-1995]\nserver_address = pop.example.com\nserver_port = 995\n\
             [SMTP-1587]\nserver_address = smtp.example.com\nserver_port = 587\n\
             server_starttls = True\n",
        )
        .unwrap();
        let idle: Vec<_> = specs.iter().map(|s| s.client_idle_timeout).collect();
        assert_eq!(idle, [180, 600, 300].map(|s| Some(Duration::from_secs(s))));
        for spec in &specs {
            assert_eq!(spec.upstream_timeouts, UpstreamTimeouts::default());
            assert_eq!(spec.limits.attempts, Some(DEFAULT_MAX_CONNECTION_ATTEMPTS));
        }
    }

    #[test]
    fn bounded_waits_are_configurable_and_zero_means_no_limit() {
        let specs = specs(
            "[IMAP-1993]\nserver_address = imap.example.com\nserver_port = 993\n\
             server_connect_timeout = 3\nserver_tls_timeout = 0\nserver_greeting_timeout = 7\n\
             client_idle_timeout = 30\nmax_connection_attempts = 0\n\
             [IMAP-2993]\nserver_address = imap.example.com\nserver_port = 993\n\
             client_idle_timeout = 0\nmax_connection_attempts = 5\nserver_connect_timeout =\n",
        )
        .unwrap();
        assert_eq!(
            specs[0].upstream_timeouts,
            UpstreamTimeouts {
                connect: Some(Duration::from_secs(3)),
                tls: None,
                greeting: Some(Duration::from_secs(7)),
            }
        );
        assert_eq!(specs[0].client_idle_timeout, Some(Duration::from_secs(30)));
        assert_eq!(specs[0].limits.attempts, None);
        assert_eq!(specs[1].client_idle_timeout, None);
        assert_eq!(specs[1].limits.attempts, Some(5));
        assert_eq!(
            specs[1].upstream_timeouts.connect,
            UpstreamTimeouts::default().connect
        );
        let error = self::specs(
            "[IMAP-1993]\nserver_address = a\nserver_port = 993\nserver_greeting_timeout = soon\n",
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("server_greeting_timeout"),
            "{error}"
        );
    }
}
