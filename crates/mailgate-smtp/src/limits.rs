//! Configurable bounds on everything a peer can make us buffer or repeat.

use std::time::Duration;

/// Bounds applied by the parsers and session machines.
///
/// The defaults follow RFC 5321 section 4.5.3.1 where it gives a number and stay generous
/// elsewhere so that real servers (Gmail, Office 365, Dovecot, Postfix) fit comfortably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line in octets, CRLF included (RFC 5321: 512).
    pub command_line: usize,
    /// Longest `AUTH` command or SASL continuation line, CRLF included. OAuth 2.0 bearer
    /// tokens easily exceed 512 octets once base64-encoded.
    pub auth_line: usize,
    /// Longest reply line in octets, CRLF included (RFC 5321: 512; real servers send more).
    pub reply_line: usize,
    /// Most lines in one multi-line reply.
    pub reply_lines: usize,
    /// Most commands a session machine accepts before it hands off (authentication
    /// included). Protects against a peer looping forever before logging in.
    pub commands: usize,
    /// Failed `AUTH` attempts after which the server machine closes the connection.
    pub auth_failures: usize,
    /// Largest message (DATA or the sum of BDAT chunks) in octets.
    pub message_size: u64,
    /// Most BDAT chunks in one message.
    pub bdat_chunks: u64,
    /// How long a session machine waits for the peer's next line before it gives up
    /// (RFC 5321 suggests at least 5 minutes for servers).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command_line: 512,
            auth_line: 12 * 1024,
            reply_line: 4 * 1024,
            reply_lines: 128,
            commands: 100,
            auth_failures: 3,
            message_size: 64 * 1024 * 1024,
            bdat_chunks: 100_000,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Which line endings the codec accepts on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LineEndings {
    /// Only CRLF ends a line, as RFC 5321 requires. A bare LF is part of the line and
    /// then fails the grammar. The right choice towards local clients.
    #[default]
    Strict,
    /// A bare LF also ends a line (a trailing CR is stripped if present). Tolerant of
    /// sloppy peers; never applied to DATA, where it would enable SMTP smuggling.
    Lenient,
}
