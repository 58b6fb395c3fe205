//! Errors of the proxy, grouped by whose fault they are.

use std::path::PathBuf;

/// The configuration cannot be used as written: the operator must change it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A PEM file (certificate, key or CA bundle) could not be read or parsed.
    #[error("unable to use `{key}` = {path}: {reason}")]
    Pem {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A value has the wrong form.
    #[error("invalid value {value:?} for `{key}`: {reason}")]
    InvalidValue {
        /// The configuration key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// What was wrong and what to do.
        reason: String,
    },
    /// A server section lacks a required key.
    #[error("section [{section}]: `{key}` is missing")]
    Missing {
        /// The server section, e.g. `IMAP-1993`.
        section: String,
        /// The missing key.
        key: &'static str,
    },
    /// TLS could not be set up.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The configuration file could not be loaded.
    #[error("{0}")]
    Load(String),
}

/// A listener could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The address is in use or not available on this host.
    #[error(
        "unable to listen on {address} for [{section}]: {source} - is another proxy already running?"
    )]
    Bind {
        /// The server section.
        section: String,
        /// The local address.
        address: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The section's configuration is unusable.
    #[error("section [{section}]: {source}")]
    Config {
        /// The server section.
        section: String,
        /// What is wrong.
        #[source]
        source: ConfigError,
    },
}
