//! Runtime parser configuration: limits and leniency.

/// Limits and leniency of the framer and the parsers, chosen per side at run time.
///
/// Use [`ParserConfig::strict`] for what local clients send and
/// [`ParserConfig::lenient`] for what an upstream server sends. Adjust single fields
/// after construction:
///
/// ```
/// let mut config = mailgate_imap::ParserConfig::strict();
/// config.max_literal_size = 1024 * 1024;
/// assert!(!config.allow_bare_lf);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParserConfig {
    /// Longest line (without literal data, including CRLF) accepted, in bytes.
    pub max_line_length: usize,
    /// Largest literal accepted, in bytes.
    pub max_literal_size: u64,
    /// Largest complete message (all lines plus all literal data), in bytes.
    pub max_message_size: u64,
    /// Deepest nesting of parenthesized lists (SEARCH keys, BODYSTRUCTURE, ...).
    pub max_nesting_depth: usize,
    /// Accept a bare LF as line end (servers that omit the CR).
    pub allow_bare_lf: bool,
    /// Accept 8-bit bytes (UTF-8) inside atoms (servers that send unquoted UTF-8 names).
    pub allow_8bit_atoms: bool,
    /// Accept spaces before the line end (servers that append a trailing space).
    pub allow_trailing_space: bool,
    /// Accept commands this crate does not know (`X-` and other extension commands) as
    /// [`CommandBody::Other`](crate::CommandBody::Other): the name and the raw
    /// arguments, literals included, so that a proxy can forward them unchanged.
    pub allow_unknown_commands: bool,
    /// Accept the known response quirks of real servers (Gmail, Outlook, Exchange,
    /// Yahoo, Dovecot, ...), each listed in [`crate::response::quirks`].
    pub allow_server_quirks: bool,
}

impl ParserConfig {
    /// Strict settings for input from local clients: the RFC grammar, no quirks.
    pub const fn strict() -> Self {
        Self {
            max_line_length: 64 * 1024,
            max_literal_size: 64 * 1024 * 1024,
            max_message_size: 65 * 1024 * 1024,
            max_nesting_depth: 32,
            allow_bare_lf: false,
            allow_8bit_atoms: false,
            allow_trailing_space: false,
            allow_unknown_commands: false,
            allow_server_quirks: false,
        }
    }

    /// Tolerant settings for input from upstream servers (Gmail, Outlook, Exchange, Yahoo).
    ///
    /// Larger lines (long SEARCH and FETCH answers), deeper nesting (BODYSTRUCTURE),
    /// and the quirks documented on each `allow_*` field.
    pub const fn lenient() -> Self {
        Self {
            max_line_length: 1024 * 1024,
            max_literal_size: 256 * 1024 * 1024,
            max_message_size: 512 * 1024 * 1024,
            max_nesting_depth: 64,
            allow_bare_lf: true,
            allow_8bit_atoms: true,
            allow_trailing_space: true,
            allow_unknown_commands: true,
            allow_server_quirks: true,
        }
    }
}

impl Default for ParserConfig {
    /// Same as [`ParserConfig::strict`].
    fn default() -> Self {
        Self::strict()
    }
}
