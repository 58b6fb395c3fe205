//! Error types of the codec and framing layers.

use thiserror::Error;

/// A command line the peer sent does not follow RFC 5321 (the peer's fault).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The line is empty.
    #[error("empty command line")]
    Empty,
    /// The verb is not a command this codec knows (reply 500).
    #[error("unrecognised command")]
    UnknownVerb,
    /// The line is not valid UTF-8.
    #[error("command line is not valid UTF-8 at octet {at}")]
    NotUtf8 {
        /// Offset of the first invalid octet.
        at: usize,
    },
    /// The verb is known but its arguments are malformed (reply 501).
    #[error("syntax error in {what} at octet {at}")]
    Syntax {
        /// Which part of the command is wrong.
        what: &'static str,
        /// Offset in the line where the problem was found.
        at: usize,
    },
    /// A MAIL or RCPT parameter is malformed, unknown to its extension, or repeated
    /// (reply 501, or 555 per RFC 5321 for unrecognised parameters).
    #[error("invalid parameter {keyword}: {reason}")]
    Parameter {
        /// The parameter keyword as sent (truncated to 32 octets).
        keyword: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl CommandError {
    /// The reply code RFC 5321 prescribes for this error.
    pub fn reply_code(&self) -> u16 {
        match self {
            CommandError::Empty | CommandError::UnknownVerb => 500,
            CommandError::Parameter { .. } => 555,
            CommandError::NotUtf8 { .. } | CommandError::Syntax { .. } => 501,
        }
    }
}

/// A reply the peer sent does not follow RFC 5321 (the peer's fault).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line does not start with a three-digit reply code.
    #[error("reply line {line} does not start with a reply code")]
    BadCode {
        /// Zero-based line number within the reply.
        line: usize,
    },
    /// The code is followed by something other than SP, `-` or the line end.
    #[error("reply line {line} has no SP or '-' after its code")]
    BadSeparator {
        /// Zero-based line number within the reply.
        line: usize,
    },
    /// The lines of a multi-line reply carry different codes.
    #[error("reply line {line} has code {found}, the reply started with {expected}")]
    CodeMismatch {
        /// Zero-based line number within the reply.
        line: usize,
        /// Code of the first line.
        expected: u16,
        /// Code of this line.
        found: u16,
    },
    /// The text is not valid UTF-8.
    #[error("reply line {line} is not valid UTF-8")]
    NotUtf8 {
        /// Zero-based line number within the reply.
        line: usize,
    },
    /// A line exceeds [`Limits::reply_line`](crate::Limits::reply_line).
    #[error("reply line {line} is longer than {limit} octets")]
    LineTooLong {
        /// Zero-based line number within the reply.
        line: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The reply has more lines than [`Limits::reply_lines`](crate::Limits::reply_lines).
    #[error("reply has more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
}

/// The DATA stream violates the framing rules (the peer's fault). Turn into `554`
/// (or `550`) and close: after such an error the stream cannot be resynchronised safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A `.` line with a bare CR or bare LF on either side: an SMTP smuggling attempt or a
    /// broken client. `at` is the offset of the offending octet within the scanned chunk.
    #[error("ambiguous end-of-data sequence (bare CR or LF around '.') at octet {at}")]
    AmbiguousEnd {
        /// Offset within the chunk passed to the scanner.
        at: usize,
    },
    /// A bare CR or LF inside the message while bare line endings are rejected.
    #[error("bare CR or LF in message data at octet {at}")]
    BareLineEnding {
        /// Offset within the chunk passed to the scanner.
        at: usize,
    },
    /// BDAT chunks exceed the chunk-count limit.
    #[error("more than {limit} BDAT chunks")]
    TooManyChunks {
        /// The limit in force.
        limit: u64,
    },
    /// BDAT was used after the LAST chunk or before a fresh transaction (caller misuse or
    /// peer misbehaviour).
    #[error("BDAT after the LAST chunk")]
    AfterLast,
}
