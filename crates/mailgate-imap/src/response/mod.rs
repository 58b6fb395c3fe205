//! Server responses: greeting, status, continuation requests and data responses.
//!
//! Parse a complete framed message (the line plus any literal data, as the framer
//! delivers it) with [`parse_response`] or [`parse_greeting`]; encode with
//! [`Encode`]. Values borrow from the input where they can.
//!
//! ```
//! use mailgate_imap::response::{Response, Status, StatusKind, parse_response};
//! use mailgate_imap::{Encode, ParserConfig};
//!
//! let input = b"a1 OK [READ-WRITE] SELECT completed\r\n";
//! let (response, used) = parse_response(input, &ParserConfig::strict()).unwrap();
//! assert_eq!(used, input.len());
//! assert!(matches!(
//!     &response,
//!     Response::Status(Status::Tagged { kind: StatusKind::Ok, .. })
//! ));
//! assert_eq!(response.to_vec(), input);
//! ```
//!
//! Server quirks accepted with [`ParserConfig::lenient`](crate::ParserConfig::lenient)
//! are listed in [`quirks`].

mod body;
mod code;
mod continuation;
mod data;
mod envelope;
mod ext_value;
mod fetch;
mod lex;
mod list;
mod mailbox_status;
mod misc;
mod owned;
pub mod quirks;
mod search;
mod section;
mod status;
mod text;
mod uid_set;

pub use crate::core::GmailLabel;
pub use body::{
    BasicType, BodyExtension, BodyFields, BodyStructure, Disposition, ExtensionTail, Language,
    LanguageTail, LocationTail, MultiPartExtension, SinglePart, SinglePartExtension,
    SinglePartKind,
};
pub use code::{Code, MetadataCode, OtherCode, SimpleCode};
pub use continuation::Continue;
pub use data::Data;
pub use envelope::{Address, Envelope};
pub use ext_value::{TaggedExtComp, TaggedExtValue};
pub use fetch::{FetchItem, MessageData};
pub use list::{ListExtendedItem, ListItem, MailboxAttribute};
pub use mailbox_status::StatusItem;
pub use misc::{
    IdParams, MetadataEntries, MetadataEntry, Namespace, NamespaceDescription, Namespaces,
    QuotaResource,
};
pub use search::{ESearch, SearchReturnData, Thread};
pub use status::{Greeting, GreetingKind, RespText, Status, StatusKind};
pub use text::Text;
pub use uid_set::{UidRange, UidSet};

use crate::config::ParserConfig;
use crate::core::lex::crlf;
use crate::encode::Encode;
use crate::error::{PResult, ParseError, ParseErrorKind, fail, to_public};
use nom::Parser;
use nom::combinator::map;
use nom::sequence::{preceded, terminated};

/// A server response other than the greeting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response<'a> {
    /// A tagged or untagged status, or `BYE`.
    Status(Status<'a>),
    /// An untagged data response.
    Data(Data<'a>),
    /// A continuation request.
    Continue(Continue<'a>),
}

impl Encode for Response<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Status(s) => s.encode(out),
            Self::Data(d) => d.encode(out),
            Self::Continue(c) => c.encode(out),
        }
    }
}

impl<'a> Response<'a> {
    /// Parses one complete response; see [`parse_response`].
    pub fn parse(input: &'a [u8], cfg: &ParserConfig) -> Result<(Self, usize), ParseError> {
        parse_response(input, cfg)
    }
}

impl<'a> Greeting<'a> {
    /// Parses the greeting; see [`parse_greeting`].
    pub fn parse(input: &'a [u8], cfg: &ParserConfig) -> Result<(Self, usize), ParseError> {
        parse_greeting(input, cfg)
    }
}

fn response<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Response<'a>> {
    let kind = |j| match status::status_kind(j) {
        Some(r) => Ok(r),
        None => fail(j, ParseErrorKind::Expected("OK, NO or BAD")),
    };
    let body = |j: &'a [u8]| match j.first() {
        Some(b'+') => map(|k| continuation::continue_req(k, cfg), Response::Continue).parse(j),
        Some(b'*') => preceded(
            |k: &'a [u8]| match k.get(1) {
                Some(b' ') => Ok((&k[2..], ())),
                _ => fail(
                    k.get(1..).unwrap_or_default(),
                    ParseErrorKind::Expected("SP"),
                ),
            },
            |k| data::untagged(k, cfg),
        )
        .parse(j),
        _ => map(
            (
                crate::core::atom::tag,
                preceded(crate::core::lex::sp, kind),
                |k| status::after_keyword(k, cfg),
            ),
            |(tag, kind, text)| Response::Status(Status::Tagged { tag, kind, text }),
        )
        .parse(j),
    };
    terminated(body, |j| crlf(j, cfg)).parse(i)
}

/// Parses one complete response from the start of `input` (a framed message: line
/// plus literal data) and returns it with the number of bytes it used.
///
/// Errors carry the byte offset of the problem within `input`.
pub fn parse_response<'a>(
    input: &'a [u8],
    cfg: &ParserConfig,
) -> Result<(Response<'a>, usize), ParseError> {
    match response(input, cfg) {
        Ok((rest, r)) => Ok((r, input.len() - rest.len())),
        Err(e) => Err(to_public(e, input)),
    }
}

/// Parses the server greeting (`* OK`, `* PREAUTH` or `* BYE`) from the start of
/// `input` and returns it with the number of bytes it used.
pub fn parse_greeting<'a>(
    input: &'a [u8],
    cfg: &ParserConfig,
) -> Result<(Greeting<'a>, usize), ParseError> {
    let r = status::greeting(input, cfg).and_then(|(rest, g)| {
        let (rest, ()) = crlf(rest, cfg)?;
        Ok((rest, g))
    });
    match r {
        Ok((rest, g)) => Ok((g, input.len() - rest.len())),
        Err(e) => Err(to_public(e, input)),
    }
}
