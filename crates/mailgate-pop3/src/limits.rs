//! Length limits, chosen per side at run time.

/// Bounds on what a peer may send. Every parser and session in this crate enforces
/// them; nothing grows without bound.
///
/// Defaults follow RFC 2449 section 4 (255 octets per command, 512 per response line,
/// both including CRLF) and allow longer `AUTH` lines and SASL continuations, which
/// carry base64 tokens (RFC 5034 section 4 lets those exceed 255 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, including CRLF (RFC 2449: 255).
    pub command_line: usize,
    /// Longest `AUTH` command line or SASL continuation line, including CRLF.
    pub auth_line: usize,
    /// Longest single-line response or response body line, including CRLF (RFC 2449: 512).
    pub response_line: usize,
    /// Longest total multi-line response the sessions buffer (e.g. `CAPA`).
    pub multiline_total: usize,
    /// Protocol errors a server session tolerates before closing the connection.
    pub max_errors: u32,
    /// Failed logins a server session tolerates before closing the connection.
    pub max_auth_failures: u32,
    /// Commands a server session accepts before login (a client that never logs
    /// in cannot keep the session busy for ever).
    pub max_commands: u32,
}

impl Limits {
    /// RFC 2449 line limits with room for OAuth 2.0 tokens in SASL lines.
    pub const DEFAULT: Limits = Limits {
        command_line: 255,
        auth_line: 16 * 1024,
        response_line: 512,
        multiline_total: 64 * 1024,
        max_errors: 10,
        max_auth_failures: 3,
        max_commands: 100,
    };

    /// Tolerant limits for talking to real-world servers upstream (long
    /// `IMPLEMENTATION` strings and error texts).
    pub const UPSTREAM: Limits = Limits {
        command_line: 255,
        auth_line: 16 * 1024,
        response_line: 8 * 1024,
        multiline_total: 256 * 1024,
        max_errors: 10,
        max_auth_failures: 3,
        max_commands: 100,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
