//! Errors of the framer, the parsers and the validated constructors.

use std::fmt;

/// What was wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The peer sent something the grammar does not allow here.
    #[error("syntax error, expected {0}")]
    Expected(&'static str),
    /// The peer sent an invalid tag.
    #[error("invalid tag")]
    BadTag,
    /// The peer sent an unknown command name.
    #[error("unknown command")]
    UnknownCommand,
    /// The peer sent parentheses that do not balance.
    #[error("unbalanced parentheses")]
    UnbalancedParens,
    /// The peer sent an invalid sequence set.
    #[error("invalid sequence set")]
    BadSequenceSet,
    /// The peer sent a number out of range.
    #[error("number out of range")]
    InvalidNumber,
    /// The peer sent a non-zero number with a leading zero (`nz-number` is
    /// `digit-nz *DIGIT`).
    #[error("number with a leading zero")]
    LeadingZero,
    /// The peer sent syntax the grammar allows only together with something else, or
    /// a value an extension rules out (`VANISHED` without `CHANGEDSINCE`, a zero
    /// mod-sequence, `RECURSIVEMATCH` alone); the text names the rule.
    #[error("{0}")]
    Rule(&'static str),
    /// The peer sent an invalid date or time.
    #[error("invalid date or time")]
    BadDateTime,
    /// The peer sent fewer literal bytes than announced.
    #[error("literal length mismatch: {announced} bytes announced, {available} present")]
    LiteralLengthMismatch {
        /// Bytes announced in the literal header.
        announced: u64,
        /// Bytes present in the message.
        available: u64,
    },
    /// The peer sent an 8-bit byte where only 7-bit characters are allowed.
    #[error("8-bit byte not allowed here")]
    EightBit,
    /// The peer sent text that is not valid UTF-8.
    #[error("invalid UTF-8")]
    NotUtf8,
    /// The peer ended a line with LF alone instead of CRLF.
    #[error("bare LF, lines must end with CRLF")]
    BareLf,
    /// The peer sent a NUL byte.
    #[error("NUL byte not allowed")]
    Nul,
    /// The peer sent a control character where it is not allowed.
    #[error("control character not allowed")]
    ControlChar,
    /// The peer sent invalid base64.
    #[error("invalid base64")]
    InvalidBase64,
    /// The peer sent more bytes after a complete message.
    #[error("trailing data after the end of the message")]
    TrailingData,
    /// The message ended before it was complete.
    #[error("message incomplete")]
    Incomplete,
    /// The peer exceeded the configured line length.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// The peer announced a literal above the configured size.
    #[error("literal of {size} bytes exceeds the limit of {limit} bytes")]
    LiteralTooLarge {
        /// Announced size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The peer exceeded the configured total message size.
    #[error("message larger than {limit} bytes")]
    MessageTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The peer nested parenthesized lists deeper than configured.
    #[error("nesting deeper than {limit} levels")]
    NestingTooDeep {
        /// The configured limit.
        limit: usize,
    },
}

/// Whose fault an error is, and so which remedy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The peer sent malformed input: answer `BAD` (client) or treat as protocol error (server).
    Malformed,
    /// The peer exceeded a configured limit: answer `BAD`, or close if it keeps going.
    LimitExceeded,
}

/// A parse or framing error: what was wrong and at which byte offset of the message.
///
/// The `Display` text is fit for the text of an IMAP `BAD` response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
#[non_exhaustive]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: usize,
}

impl ParseError {
    /// Creates an error of `kind` at byte `offset` of the message.
    pub const fn new(kind: ParseErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// What was wrong.
    pub const fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// Byte offset from the start of the message where the problem was found.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Whose fault the error is.
    pub const fn fault(&self) -> Fault {
        match self.kind {
            ParseErrorKind::LineTooLong { .. }
            | ParseErrorKind::LiteralTooLarge { .. }
            | ParseErrorKind::MessageTooLarge { .. }
            | ParseErrorKind::NestingTooDeep { .. } => Fault::LimitExceeded,
            _ => Fault::Malformed,
        }
    }
}

/// A value given to a validated constructor (such as `Tag::try_from`) is not allowed
/// by the grammar. This is the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationError {
    what: &'static str,
    reason: &'static str,
}

impl ValidationError {
    pub(crate) const fn new(what: &'static str, reason: &'static str) -> Self {
        Self { what, reason }
    }

    /// The kind of value that was rejected, such as `"tag"`.
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Why it was rejected.
    pub const fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.what, self.reason)
    }
}

impl std::error::Error for ValidationError {}

/// Internal nom error: the remaining input where parsing failed and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PErr<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) kind: ParseErrorKind,
}

impl<'a> PErr<'a> {
    pub(crate) const fn new(input: &'a [u8], kind: ParseErrorKind) -> Self {
        Self { input, kind }
    }

    /// Converts to a public error with the offset relative to `message`.
    pub(crate) fn at(self, message: &[u8]) -> ParseError {
        ParseError::new(self.kind, message.len().saturating_sub(self.input.len()))
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for PErr<'a> {
    fn from_error_kind(input: &'a [u8], _kind: nom::error::ErrorKind) -> Self {
        Self::new(input, ParseErrorKind::Expected("valid syntax"))
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }

    /// Keeps the error that got furthest into the input.
    fn or(self, other: Self) -> Self {
        if other.input.len() <= self.input.len() {
            other
        } else {
            self
        }
    }
}

/// Result of an internal parser.
pub(crate) type PResult<'a, O> = nom::IResult<&'a [u8], O, PErr<'a>>;

/// A recoverable error at `input`.
pub(crate) fn fail<O>(input: &[u8], kind: ParseErrorKind) -> PResult<'_, O> {
    Err(nom::Err::Error(PErr::new(input, kind)))
}

/// An unrecoverable error at `input` (stops alternatives).
pub(crate) fn fatal<O>(input: &[u8], kind: ParseErrorKind) -> PResult<'_, O> {
    Err(nom::Err::Failure(PErr::new(input, kind)))
}

/// Converts a nom error into a public error relative to `message`.
pub(crate) fn to_public(err: nom::Err<PErr<'_>>, message: &[u8]) -> ParseError {
    match err {
        nom::Err::Error(e) | nom::Err::Failure(e) => e.at(message),
        nom::Err::Incomplete(_) => ParseError::new(ParseErrorKind::Incomplete, message.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_bad_text() {
        let e = ParseError::new(ParseErrorKind::Expected("SP"), 4);
        assert_eq!(e.to_string(), "syntax error, expected SP at byte 4");
        assert_eq!(e.fault(), Fault::Malformed);
        let e = ParseError::new(ParseErrorKind::LineTooLong { limit: 10 }, 11);
        assert_eq!(e.fault(), Fault::LimitExceeded);
    }
}
