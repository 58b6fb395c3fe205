//! The extended forms of APPEND data: CATENATE (RFC 4469) and UTF8 (RFC 6855).

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{map, peek};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};

use crate::config::ParserConfig;
use crate::core::NonEmpty;
use crate::core::lex::{byte, kw};
use crate::core::string::{
    AString, IString, Literal8, LiteralHeader, LiteralMode, astring, literal, literal8,
};
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, fail};

/// One part of a `CATENATE` APPEND (RFC 4469).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CatenatePart<'a> {
    /// `TEXT literal`: message text sent inline.
    Text(IString<'a>),
    /// `URL url`: a part of a message already on the server (an IMAP URL).
    Url(AString<'a>),
    /// `UTF8 (literal8)`: message text with UTF-8 headers (RFC 6855).
    Utf8(Literal8<'a>),
}

impl CatenatePart<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> CatenatePart<'static> {
        match self {
            Self::Text(s) => CatenatePart::Text(s.into_owned()),
            Self::Url(s) => CatenatePart::Url(s.into_owned()),
            Self::Utf8(s) => CatenatePart::Utf8(s.into_owned()),
        }
    }
}

/// Writes a synchronizing `literal` holding `data`.
pub(crate) fn encode_literal(data: &[u8], out: &mut Vec<u8>) {
    LiteralHeader {
        size: data.len() as u64,
        mode: LiteralMode::Sync,
        binary: false,
    }
    .encode(out);
    out.extend_from_slice(data);
}

/// Writes `UTF8 (literal8)`.
pub(crate) fn encode_utf8(data: &Literal8<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"UTF8 (");
    data.encode(out);
    out.push(b')');
}

impl Encode for CatenatePart<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Text(s) => {
                out.extend_from_slice(b"TEXT ");
                encode_literal(s.as_bytes(), out);
            }
            Self::Url(u) => {
                out.extend_from_slice(b"URL ");
                u.encode(out);
            }
            Self::Utf8(d) => encode_utf8(d, out),
        }
    }
}

/// Parses `"UTF8" SP "(" literal8 ")"`; the literal must be a `literal8` (`~{n}`).
pub(crate) fn utf8_literal<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Literal8<'a>> {
    map(
        preceded(
            kw("UTF8 "),
            delimited(
                byte(b'(', "'('"),
                preceded(peek(byte(b'~', "literal8 ('~{')")), |j| literal8(j, cfg)),
                byte(b')', "')'"),
            ),
        ),
        |(_, data)| Literal8::from_parsed(data.into()),
    )
    .parse(i)
}

fn cat_part<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, CatenatePart<'a>> {
    alt((
        map(preceded(kw("TEXT "), |j| literal(j, cfg)), |(_, data)| {
            CatenatePart::Text(IString::from_parsed(data.into()))
        }),
        map(preceded(kw("URL "), |j| astring(j, cfg)), CatenatePart::Url),
        map(|j| utf8_literal(j, cfg), CatenatePart::Utf8),
        |j| fail(j, ParseErrorKind::Expected("TEXT, URL or UTF8")),
    ))
    .parse(i)
}

/// Parses `"CATENATE" SP "(" cat-part *(SP cat-part) ")"`.
pub(crate) fn catenate<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, NonEmpty<CatenatePart<'a>>> {
    map(
        preceded(
            kw("CATENATE "),
            delimited(
                byte(b'(', "'('"),
                separated_list1(byte(b' ', "SP"), |j| cat_part(j, cfg)),
                byte(b')', "')'"),
            ),
        ),
        NonEmpty::from_parsed,
    )
    .parse(i)
}
