//! Client commands (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1 and extensions): types,
//! parser and canonical encoder.
//!
//! [`Command::parse`] takes one complete message as produced by the
//! [`Framer`](crate::framer::Framer) (a line plus the literals it announces).
//! [`AuthenticateData::parse`] parses the lines sent during AUTHENTICATE, and
//! [`parse_idle_done`] the `DONE` that ends IDLE. With
//! [`ParserConfig::allow_unknown_commands`] a command this crate does not know parses as
//! [`CommandBody::Other`]: its name and [`RawArguments`], to forward unchanged.

mod authenticate;
mod body;
mod catenate;
mod encode;
pub(crate) mod fetch;
mod list;
mod notify;
mod other;
mod owned;
mod params;
mod search;

pub use authenticate::{AuthenticateData, SaslData};
pub use body::CommandBody;
pub use body::{SortCriterion, SortKey};
pub use catenate::CatenatePart;
pub use fetch::{FetchAttribute, FetchItems, FetchModifier, Partial, Section, SectionText};
pub use list::{ListReturnOption, ListSelectOption, StatusItem};
pub use notify::{Notify, NotifyEvent, NotifyEventGroup, NotifyMailboxes};
pub use other::RawArguments;
pub use params::{
    AppendData, AppendMessage, IdField, MetadataDepth, MetadataEntry, MetadataOption,
    MetadataValue, QuotaLimit, Replace, SelectParameter, StoreKind,
};
pub(crate) use search::partial_range as search_partial_range;
pub use search::{ModSeqEntryType, PartialRange, SearchKey, SearchReturnOption};

use nom::Parser;
use nom::combinator::map;
use nom::sequence::{separated_pair, terminated};

use crate::config::ParserConfig;
use crate::core::Tag;
use crate::core::atom::tag;
use crate::core::lex::{crlf, keyword, sp};
use crate::encode::Encode;
use crate::error::{ParseError, ParseErrorKind, to_public};

/// A tagged client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The tag the server echoes in the completion response.
    pub tag: Tag<'a>,
    /// The command and its arguments.
    pub body: CommandBody<'a>,
}

impl<'a> Command<'a> {
    /// Parses one complete command message (line plus literals) from the start of
    /// `input`; returns the command and the number of bytes it took. Bytes after the
    /// message are left alone (check the length to reject trailing data).
    pub fn parse(input: &'a [u8], config: &ParserConfig) -> Result<(Self, usize), ParseError> {
        let parsed = map(
            terminated(
                separated_pair(tag, sp, |i| body::command_body(i, config)),
                |i| crlf(i, config),
            ),
            |(tag, body)| Command { tag, body },
        )
        .parse(input);
        match parsed {
            Ok((rest, cmd)) => Ok((cmd, input.len() - rest.len())),
            Err(e) => Err(refine(to_public(e, input), input)),
        }
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Command<'static> {
        Command {
            tag: self.tag.into_owned(),
            body: self.body.into_owned(),
        }
    }
}

impl Encode for Command<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.tag.encode(out);
        out.push(b' ');
        self.body.encode(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses the `DONE` line that ends IDLE; returns the bytes consumed.
pub fn parse_idle_done(input: &[u8], config: &ParserConfig) -> Result<usize, ParseError> {
    let parsed = keyword(input, "DONE").and_then(|(i, ())| crlf(i, config));
    match parsed {
        Ok((rest, ())) => Ok(input.len() - rest.len()),
        Err(e) => Err(refine(to_public(e, input), input)),
    }
}

/// Names the concrete problem where the grammar error points at a telling byte.
pub(crate) fn refine(err: ParseError, input: &[u8]) -> ParseError {
    if !matches!(
        err.kind(),
        ParseErrorKind::Expected(_) | ParseErrorKind::UnbalancedParens
    ) {
        return err;
    }
    let at = err.offset();
    let kind = match input.get(at) {
        Some(0) => ParseErrorKind::Nul,
        Some(b'\n') if at == 0 || input.get(at - 1) != Some(&b'\r') => ParseErrorKind::BareLf,
        Some(&b) if b >= 0x80 => ParseErrorKind::EightBit,
        Some(b')') => ParseErrorKind::UnbalancedParens,
        None if input.last() != Some(&b'\n') => ParseErrorKind::Incomplete,
        _ => return err,
    };
    ParseError::new(kind, at)
}

#[cfg(test)]
mod tests;
