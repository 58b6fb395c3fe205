//! Errors and warnings of the configuration layer.

use std::path::PathBuf;

/// What was wrong with a line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The file is larger than [`MAX_DOCUMENT_BYTES`](super::MAX_DOCUMENT_BYTES).
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A line is longer than 1 MiB.
    #[error("the line is longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A key line comes before the first `[section]` line.
    #[error("a key comes before the first [section] line; add a section header above it")]
    MissingSectionHeader,
    /// A line is neither a `[section]`, a `key = value`, a comment nor a continuation.
    #[error(
        "the line is not `key = value`, `[section]` or a comment; indent it to continue the previous value, or start it with `#` to comment it out"
    )]
    NotKeyValue,
    /// A section name appears twice.
    #[error("section [{section}] appears twice; merge the two sections into one")]
    DuplicateSection {
        /// The section name.
        section: String,
    },
    /// A key appears twice in one section.
    #[error("key `{key}` appears twice in section [{section}]; keep only one of them")]
    DuplicateKey {
        /// The section name.
        section: String,
        /// The key, lower-cased.
        key: String,
    },
}

/// A configuration file that `ConfigParser` would reject (the user's file is malformed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number (0 when the whole file is at fault).
    pub line: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

impl ParseError {
    pub(crate) fn new(line: usize, kind: ParseErrorKind) -> Self {
        Self { line, kind }
    }
}

/// A configuration that parses but cannot be used; every variant names the section and
/// key and says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system error.
        source: std::io::Error,
    },
    /// The file is not valid UTF-8.
    #[error("configuration file {path} is not valid UTF-8 text")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file's syntax is malformed.
    #[error("{}{error}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Parse {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The syntax error.
        error: ParseError,
    },
    /// A value is not of the form its key needs.
    #[error("[{section}] {key} (line {line}): {message}")]
    InvalidValue {
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// 1-based line number of the key (0 when inherited from elsewhere).
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// A required key is missing.
    #[error("[{section}]: `{key}` is missing; {message}")]
    MissingValue {
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// What to do.
        message: String,
    },
}

/// A configuration problem that mailgate works around; it should be logged once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The section concerned.
    pub section: String,
    /// The key concerned (empty for the whole section).
    pub key: String,
    /// What mailgate does about it and how to silence the warning.
    pub message: String,
}

impl core::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.key.is_empty() {
            write!(f, "[{}]: {}", self.section, self.message)
        } else {
            write!(f, "[{}] {}: {}", self.section, self.key, self.message)
        }
    }
}

/// Why an account cannot log in with its configuration (found at login, as the Python
/// email-oauth2-proxy does, because catch-all sections may supply the values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// No section matches the username.
    #[error(
        "no configuration section for account {username}; add a [{username}] section with token_url, oauth2_scope and client_id (or enable allow_catch_all_accounts and add [@domain] or [@])"
    )]
    NotConfigured {
        /// The login username.
        username: String,
    },
    /// A key every flow needs is missing.
    #[error("account {username} (section [{section}]): `{key}` is missing; {hint}")]
    Missing {
        /// The login username.
        username: String,
        /// The section that matched the username first.
        section: String,
        /// The missing key.
        key: &'static str,
        /// What to add.
        hint: &'static str,
    },
    /// `oauth2_flow` is missing where no `permission_url` selects the flow.
    #[error(
        "account {username} (section [{section}]): no `permission_url` and no `oauth2_flow`; add permission_url for the interactive authorization code flow, or set oauth2_flow to client_credentials, password, service_account or device"
    )]
    NoFlow {
        /// The login username.
        username: String,
        /// The section that matched the username first.
        section: String,
    },
}
