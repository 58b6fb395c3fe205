//! Canonicalisation of exactly one complete message: frame it, parse it, encode it.
//!
//! This is what the `imap_parse` example does for users debugging a transcript and for
//! conformance checks.

use crate::command::Command;
use crate::config::ParserConfig;
use crate::encode::Encode;
use crate::error::{ParseError, ParseErrorKind};
use crate::framer::{Direction, Framer, FramerEvent};
use crate::response::Response;

/// Checks that `input` is exactly one complete message for `direction` within the
/// limits of `config`.
fn frame_exactly_one(
    input: &[u8],
    direction: Direction,
    config: &ParserConfig,
) -> Result<(), ParseError> {
    let mut framer = Framer::new(direction, config.clone());
    framer.push(input);
    while let Some(event) = framer.next_event() {
        match event {
            FramerEvent::Message(m) if m.len() == input.len() => return Ok(()),
            FramerEvent::Message(m) => {
                return Err(ParseError::new(ParseErrorKind::TrailingData, m.len()));
            }
            FramerEvent::ContinuationNeeded(_) => {}
            FramerEvent::Error { error, .. } => return Err(error),
        }
    }
    Err(ParseError::new(ParseErrorKind::Incomplete, input.len()))
}

/// Parses `input` as exactly one command (line plus literals) and returns its
/// canonical wire encoding.
///
/// ```
/// use mailgate_imap::{ParserConfig, canonicalize_command};
/// let cfg = ParserConfig::strict();
/// let out = canonicalize_command(b"a1 uid fetch 1:* (flags)\r\n", &cfg).unwrap();
/// assert_eq!(out, b"a1 UID FETCH 1:* FLAGS\r\n");
/// let err = canonicalize_command(b"a1 NOOP\r\na2 NOOP\r\n", &cfg).unwrap_err();
/// assert_eq!(err.to_string(), "trailing data after the end of the message at byte 9");
/// ```
pub fn canonicalize_command(input: &[u8], config: &ParserConfig) -> Result<Vec<u8>, ParseError> {
    frame_exactly_one(input, Direction::ClientToServer, config)?;
    let (command, used) = Command::parse(input, config)?;
    if used != input.len() {
        return Err(ParseError::new(ParseErrorKind::TrailingData, used));
    }
    Ok(command.to_vec())
}

/// Parses `input` as exactly one server response (line plus literals) and returns
/// its canonical wire encoding.
///
/// ```
/// use mailgate_imap::{ParserConfig, canonicalize_response};
/// let cfg = ParserConfig::strict();
/// let out = canonicalize_response(b"* 3 exists\r\n", &cfg).unwrap();
/// assert_eq!(out, b"* 3 EXISTS\r\n");
/// ```
pub fn canonicalize_response(input: &[u8], config: &ParserConfig) -> Result<Vec<u8>, ParseError> {
    frame_exactly_one(input, Direction::ServerToClient, config)?;
    let (response, used) = Response::parse(input, config)?;
    if used != input.len() {
        return Err(ParseError::new(ParseErrorKind::TrailingData, used));
    }
    Ok(response.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let cfg = ParserConfig::strict();
        assert_eq!(
            canonicalize_command(b"a noop\r\n", &cfg).unwrap(),
            b"a NOOP\r\n"
        );
        assert_eq!(
            canonicalize_command(b"a LOGIN {3+}\r\njoe x\r\n", &cfg).unwrap(),
            b"a LOGIN joe x\r\n"
        );
        for (bad, kind) in [
            (&b"a NOOP"[..], ParseErrorKind::Incomplete),
            (b"a NOOP\r\nb", ParseErrorKind::TrailingData),
            (b"a LOGIN {5}\r\njoe\r\n", ParseErrorKind::Incomplete),
            (b"a NOOP\n", ParseErrorKind::BareLf),
            (b"a FETCH 1 (FLAGS\r\n", ParseErrorKind::UnbalancedParens),
        ] {
            assert_eq!(
                canonicalize_command(bad, &cfg).unwrap_err().kind(),
                &kind,
                "{bad:?}"
            );
        }
        assert_eq!(
            canonicalize_response(b"a1 ok done\r\n", &cfg).unwrap(),
            b"a1 OK done\r\n"
        );
        assert!(canonicalize_response(b"* 1 FETCH (BODY[] {3}\r\nab)\r\n", &cfg).is_err());
        assert!(canonicalize_response(b"* OK x\r\n* OK y\r\n", &cfg).is_err());
        let mut small = ParserConfig::strict();
        small.max_line_length = 8;
        assert_eq!(
            canonicalize_command(b"a CAPABILITY\r\n", &small)
                .unwrap_err()
                .kind(),
            &ParseErrorKind::LineTooLong { limit: 8 }
        );
    }
}
