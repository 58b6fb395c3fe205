//! The error type of this crate.

use thiserror::Error;

/// A POP3 syntax or framing error.
///
/// Variants say what was wrong with the peer's input; messages never echo
/// passwords or SASL payloads. A server answers these with `-ERR`; a client treats
/// them as an incompatible or misbehaving server.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Pop3Error {
    /// A line exceeded the configured length (the rest of it was discarded).
    #[error("line longer than {max} octets")]
    LineTooLong {
        /// The limit, including CRLF.
        max: usize,
    },
    /// A line contains NUL, a bare CR or LF, or another control character where
    /// none is allowed.
    #[error("control character 0x{byte:02x} at offset {offset}")]
    ControlCharacter {
        /// The offending byte.
        byte: u8,
        /// Its offset in the line.
        offset: usize,
    },
    /// The command keyword is not one this crate knows.
    #[error("unknown command \"{keyword}\"")]
    UnknownCommand {
        /// The keyword (at most 40 octets of it), escaped as printable ASCII
        /// (`\xff`, `\x00`, `\"`) so that a reply never echoes raw 8-bit or control
        /// bytes.
        keyword: String,
    },
    /// A required argument is missing.
    #[error("{command}: missing argument")]
    MissingArgument {
        /// The command keyword.
        command: &'static str,
    },
    /// An argument was given to a command that takes fewer.
    #[error("{command}: too many arguments")]
    TooManyArguments {
        /// The command keyword.
        command: &'static str,
    },
    /// An argument is malformed.
    #[error("{command}: invalid argument: {reason}")]
    InvalidArgument {
        /// The command keyword.
        command: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// A server line is neither `+OK`, `-ERR` nor a `+` continuation.
    #[error("invalid response status indicator")]
    InvalidStatus,
    /// A multi-line response exceeded its configured total size.
    #[error("multi-line response longer than {max} octets")]
    MultilineTooLong {
        /// The limit.
        max: usize,
    },
}
