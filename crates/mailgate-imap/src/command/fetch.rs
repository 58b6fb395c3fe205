//! FETCH items: macros, attributes, body sections, BINARY, partial ranges, PREVIEW and
//! the CONDSTORE/QRESYNC/PARTIAL modifiers.

use std::num::NonZeroU32;

use crate::config::ParserConfig;
use crate::core::NonEmpty;
use nom::Parser;
use nom::branch::alt;
use nom::combinator::{cut, eof, map, opt, peek, success, value};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded, separated_pair, terminated};

use super::search::partial_range;
use crate::core::lex::{byte, byte_where, kw, paren_list, sp, word};
use crate::core::number::{mod_sequence_value, number, nz_number};
use crate::core::string::{AString, astring};
use crate::encode::{Encode, encode_list, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail};

/// What to fetch: a macro or a list of attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItems<'a> {
    /// `ALL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE.
    All,
    /// `FAST`: FLAGS INTERNALDATE RFC822.SIZE.
    Fast,
    /// `FULL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.
    Full,
    /// One or more attributes.
    Attributes(NonEmpty<FetchAttribute<'a>>),
}

/// A message data item to fetch (`fetch-att`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchAttribute<'a> {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822` (IMAP4rev1).
    Rfc822,
    /// `RFC822.HEADER` (IMAP4rev1).
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT` (IMAP4rev1).
    Rfc822Text,
    /// `BODY` (non-extensible BODYSTRUCTURE).
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[section]<partial>`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section<'a>,
        /// `<offset.length>`.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[part]<partial>` (RFC 3516).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// Part numbers (empty for the whole message).
        part: Vec<NonZeroU32>,
        /// `<offset.length>`.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]` (RFC 3516).
    BinarySize {
        /// Part numbers.
        part: Vec<NonZeroU32>,
    },
    /// `MODSEQ` (CONDSTORE).
    ModSeq,
    /// `EMAILID` (OBJECTID).
    EmailId,
    /// `THREADID` (OBJECTID).
    ThreadId,
    /// `SAVEDATE` (RFC 8514).
    SaveDate,
    /// `X-GM-MSGID` (Gmail).
    GmailMessageId,
    /// `X-GM-THRID` (Gmail).
    GmailThreadId,
    /// `X-GM-LABELS` (Gmail).
    GmailLabels,
    /// `PREVIEW` or `PREVIEW (LAZY)` (RFC 8970).
    Preview {
        /// `LAZY`: answer `NIL` rather than compute a preview now.
        lazy: bool,
    },
}

/// A body section: part numbers and an optional text specifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section<'a> {
    /// Part numbers, such as `1.2` (empty for the whole message).
    pub part: Vec<NonZeroU32>,
    /// What of the part.
    pub text: Option<SectionText<'a>>,
}

/// The text specifier of a section.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText<'a> {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`.
    HeaderFields(NonEmpty<AString<'a>>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(NonEmpty<AString<'a>>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after part numbers).
    Mime,
}

/// A partial range `<offset.length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet.
    pub offset: u32,
    /// Number of octets.
    pub length: NonZeroU32,
}

/// A FETCH modifier (CONDSTORE / QRESYNC / PARTIAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchModifier {
    /// `CHANGEDSINCE mod-sequence` (non-zero).
    ChangedSince(u64),
    /// `VANISHED` (QRESYNC; UID FETCH only, together with `CHANGEDSINCE`).
    Vanished,
    /// `PARTIAL range` (RFC 9394): one page of the messages of the set.
    Partial(super::search::PartialRange),
}

impl FetchItems<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FetchItems<'static> {
        match self {
            Self::All => FetchItems::All,
            Self::Fast => FetchItems::Fast,
            Self::Full => FetchItems::Full,
            Self::Attributes(a) => FetchItems::Attributes(a.map(FetchAttribute::into_owned)),
        }
    }
}

impl FetchAttribute<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FetchAttribute<'static> {
        use FetchAttribute as A;
        match self {
            A::Envelope => A::Envelope,
            A::Flags => A::Flags,
            A::InternalDate => A::InternalDate,
            A::Rfc822 => A::Rfc822,
            A::Rfc822Header => A::Rfc822Header,
            A::Rfc822Size => A::Rfc822Size,
            A::Rfc822Text => A::Rfc822Text,
            A::Body => A::Body,
            A::BodyStructure => A::BodyStructure,
            A::Uid => A::Uid,
            A::BodySection {
                peek,
                section,
                partial,
            } => A::BodySection {
                peek,
                section: section.into_owned(),
                partial,
            },
            A::Binary {
                peek,
                part,
                partial,
            } => A::Binary {
                peek,
                part,
                partial,
            },
            A::BinarySize { part } => A::BinarySize { part },
            A::ModSeq => A::ModSeq,
            A::EmailId => A::EmailId,
            A::ThreadId => A::ThreadId,
            A::SaveDate => A::SaveDate,
            A::GmailMessageId => A::GmailMessageId,
            A::GmailThreadId => A::GmailThreadId,
            A::GmailLabels => A::GmailLabels,
            A::Preview { lazy } => A::Preview { lazy },
        }
    }
}

impl Section<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Section<'static> {
        Section {
            part: self.part,
            text: self.text.map(|t| match t {
                SectionText::Header => SectionText::Header,
                SectionText::HeaderFields(f) => {
                    SectionText::HeaderFields(f.map(AString::into_owned))
                }
                SectionText::HeaderFieldsNot(f) => {
                    SectionText::HeaderFieldsNot(f.map(AString::into_owned))
                }
                SectionText::Text => SectionText::Text,
                SectionText::Mime => SectionText::Mime,
            }),
        }
    }
}

fn encode_part(part: &[NonZeroU32], out: &mut Vec<u8>) {
    for (n, p) in part.iter().enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        encode_u64(u64::from(p.get()), out);
    }
}

impl Encode for Section<'_> {
    /// Writes `[section]` with brackets.
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        encode_part(&self.part, out);
        if let Some(text) = &self.text {
            if !self.part.is_empty() {
                out.push(b'.');
            }
            match text {
                SectionText::Header => out.extend_from_slice(b"HEADER"),
                SectionText::HeaderFields(f) => {
                    out.extend_from_slice(b"HEADER.FIELDS ");
                    encode_list(f, out);
                }
                SectionText::HeaderFieldsNot(f) => {
                    out.extend_from_slice(b"HEADER.FIELDS.NOT ");
                    encode_list(f, out);
                }
                SectionText::Text => out.extend_from_slice(b"TEXT"),
                SectionText::Mime => out.extend_from_slice(b"MIME"),
            }
        }
        out.push(b']');
    }
}

impl Encode for Partial {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        encode_u64(u64::from(self.offset), out);
        out.push(b'.');
        encode_u64(u64::from(self.length.get()), out);
        out.push(b'>');
    }
}

impl Encode for FetchAttribute<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        use FetchAttribute as A;
        let s: &[u8] = match self {
            A::Envelope => b"ENVELOPE",
            A::Flags => b"FLAGS",
            A::InternalDate => b"INTERNALDATE",
            A::Rfc822 => b"RFC822",
            A::Rfc822Header => b"RFC822.HEADER",
            A::Rfc822Size => b"RFC822.SIZE",
            A::Rfc822Text => b"RFC822.TEXT",
            A::Body => b"BODY",
            A::BodyStructure => b"BODYSTRUCTURE",
            A::Uid => b"UID",
            A::ModSeq => b"MODSEQ",
            A::EmailId => b"EMAILID",
            A::ThreadId => b"THREADID",
            A::SaveDate => b"SAVEDATE",
            A::GmailMessageId => b"X-GM-MSGID",
            A::GmailThreadId => b"X-GM-THRID",
            A::GmailLabels => b"X-GM-LABELS",
            A::Preview { lazy: false } => b"PREVIEW",
            A::Preview { lazy: true } => b"PREVIEW (LAZY)",
            A::BodySection {
                peek,
                section,
                partial,
            } => {
                out.extend_from_slice(if *peek { b"BODY.PEEK" } else { b"BODY" });
                section.encode(out);
                if let Some(p) = partial {
                    p.encode(out);
                }
                return;
            }
            A::Binary {
                peek,
                part,
                partial,
            } => {
                out.extend_from_slice(if *peek { b"BINARY.PEEK[" } else { b"BINARY[" });
                encode_part(part, out);
                out.push(b']');
                if let Some(p) = partial {
                    p.encode(out);
                }
                return;
            }
            A::BinarySize { part } => {
                out.extend_from_slice(b"BINARY.SIZE[");
                encode_part(part, out);
                out.push(b']');
                return;
            }
        };
        out.extend_from_slice(s);
    }
}

impl Encode for FetchItems<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::All => out.extend_from_slice(b"ALL"),
            Self::Fast => out.extend_from_slice(b"FAST"),
            Self::Full => out.extend_from_slice(b"FULL"),
            Self::Attributes(a) if a.len() == 1 => a[0].encode(out),
            Self::Attributes(a) => encode_list(a, out),
        }
    }
}

impl Encode for FetchModifier {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::ChangedSince(n) => {
                out.extend_from_slice(b"CHANGEDSINCE ");
                encode_u64(*n, out);
            }
            Self::Vanished => out.extend_from_slice(b"VANISHED"),
            Self::Partial(r) => {
                out.extend_from_slice(b"PARTIAL ");
                r.encode(out);
            }
        }
    }
}

/// A digit ahead, not consumed.
fn digit_ahead(i: &[u8]) -> PResult<'_, u8> {
    peek(byte_where(|b| b.is_ascii_digit())).parse(i)
}

/// Parses `section-part`: `nz-number *("." nz-number)`, stopping before `.TEXT` etc.
/// Empty when no digit follows; a number after a digit is committed to (`1.07` is a
/// leading zero, not the end of the part).
pub(crate) fn section_part(i: &[u8]) -> PResult<'_, Vec<NonZeroU32>> {
    let dot = terminated(byte(b'.', "'.'"), digit_ahead);
    alt((
        preceded(digit_ahead, separated_list1(dot, cut(nz_number))),
        success(Vec::new()),
    ))
    .parse(i)
}

fn header_list<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NonEmpty<AString<'a>>> {
    map(
        preceded(sp, |j| paren_list(j, false, |k| astring(k, cfg))),
        NonEmpty::from_parsed,
    )
    .parse(i)
}

/// Parses `section-msgtext` / `section-text` after the part (and its dot).
fn section_text<'a>(i: &'a [u8], cfg: &ParserConfig, mime: bool) -> PResult<'a, SectionText<'a>> {
    let mime_text = |j| {
        if mime {
            value(SectionText::Mime, kw("MIME")).parse(j)
        } else {
            fail(j, ParseErrorKind::Expected("section text"))
        }
    };
    alt((
        map(
            preceded(kw("HEADER.FIELDS.NOT"), cut(|j| header_list(j, cfg))),
            SectionText::HeaderFieldsNot,
        ),
        map(
            preceded(kw("HEADER.FIELDS"), cut(|j| header_list(j, cfg))),
            SectionText::HeaderFields,
        ),
        value(SectionText::Header, kw("HEADER")),
        value(SectionText::Text, kw("TEXT")),
        mime_text,
        |j| fail(j, ParseErrorKind::Expected("section text")),
    ))
    .parse(i)
}

/// Parses `"[" [section-spec] "]"`.
pub(crate) fn section<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Section<'a>> {
    let (i, part) = preceded(byte(b'[', "["), section_part).parse(i)?;
    let has_part = !part.is_empty();
    let text = |j| {
        if has_part {
            preceded(byte(b'.', "'.' or ']'"), |k| section_text(k, cfg, true)).parse(j)
        } else {
            section_text(j, cfg, false)
        }
    };
    let (i, text) = terminated(
        alt((value(None, peek(byte(b']', "]"))), map(text, Some))),
        byte(b']', "]"),
    )
    .parse(i)?;
    Ok((i, Section { part, text }))
}

/// Parses `"<" number "." nz-number ">"`.
fn partial(i: &[u8]) -> PResult<'_, Option<Partial>> {
    opt(preceded(
        byte(b'<', "<"),
        cut(map(
            terminated(
                separated_pair(number, byte(b'.', "."), nz_number),
                byte(b'>', ">"),
            ),
            |(offset, length)| Partial { offset, length },
        )),
    ))
    .parse(i)
}

fn binary_part(i: &[u8]) -> PResult<'_, Vec<NonZeroU32>> {
    delimited(byte(b'[', "["), section_part, byte(b']', "]")).parse(i)
}

/// Parses a `fetch-att`.
pub(crate) fn fetch_attribute<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, FetchAttribute<'a>> {
    use FetchAttribute as A;
    let n = i
        .iter()
        .position(|&b| matches!(b, b' ' | b')' | b'(' | b'[' | b'<' | b'\r' | b'\n'))
        .unwrap_or(i.len());
    let mut buf = [0u8; 16];
    if n == 0 || n > buf.len() {
        return fail(i, ParseErrorKind::Expected("fetch attribute"));
    }
    for (u, b) in buf.iter_mut().zip(&i[..n]) {
        *u = b.to_ascii_uppercase();
    }
    let r = &i[n..];
    let bracket = r.first() == Some(&b'[');
    let att = match (&buf[..n], bracket) {
        (b"ENVELOPE", false) => A::Envelope,
        (b"FLAGS", false) => A::Flags,
        (b"INTERNALDATE", false) => A::InternalDate,
        (b"RFC822", false) => A::Rfc822,
        (b"RFC822.HEADER", false) => A::Rfc822Header,
        (b"RFC822.SIZE", false) => A::Rfc822Size,
        (b"RFC822.TEXT", false) => A::Rfc822Text,
        (b"BODY", false) => A::Body,
        (b"BODYSTRUCTURE", false) => A::BodyStructure,
        (b"UID", false) => A::Uid,
        (b"MODSEQ", false) => A::ModSeq,
        (b"EMAILID", false) => A::EmailId,
        (b"THREADID", false) => A::ThreadId,
        (b"SAVEDATE", false) => A::SaveDate,
        (b"X-GM-MSGID", false) => A::GmailMessageId,
        (b"X-GM-THRID", false) => A::GmailThreadId,
        (b"X-GM-LABELS", false) => A::GmailLabels,
        (b"PREVIEW", false) => {
            // `preview-mod` list: only LAZY is defined. A `(` that does not start it
            // belongs to the FETCH modifiers.
            let lazy = delimited(
                kw(" ("),
                separated_list1(sp, word("LAZY")),
                byte(b')', "')'"),
            );
            return map(opt(lazy), |lazy| A::Preview {
                lazy: lazy.is_some(),
            })
            .parse(r);
        }
        (b"BODY" | b"BODY.PEEK", true) => {
            let peek = n == 9;
            let (r, section) = section(r, cfg)?;
            let (r, partial) = partial(r)?;
            return Ok((
                r,
                A::BodySection {
                    peek,
                    section,
                    partial,
                },
            ));
        }
        (b"BINARY" | b"BINARY.PEEK", true) => {
            let peek = n == 11;
            let (r, part) = binary_part(r)?;
            let (r, partial) = partial(r)?;
            return Ok((
                r,
                A::Binary {
                    peek,
                    part,
                    partial,
                },
            ));
        }
        (b"BINARY.SIZE", true) => {
            let (r, part) = binary_part(r)?;
            return Ok((r, A::BinarySize { part }));
        }
        _ => return fail(i, ParseErrorKind::Expected("fetch attribute")),
    };
    if matches!(r.first(), Some(b'<' | b'(')) {
        return fail(r, ParseErrorKind::Expected("SP or ')'"));
    }
    Ok((r, att))
}

/// The end of a FETCH macro name: SP, the line end or the end of the input.
fn macro_end(i: &[u8]) -> PResult<'_, ()> {
    peek(alt((
        value((), byte_where(|b| matches!(b, b' ' | b'\r' | b'\n'))),
        value((), eof),
    )))
    .parse(i)
}

/// `ALL`, `FAST` or `FULL`, ending where an attribute name would (not `FULL(`). Fails at
/// its start, so that the attribute parser's error at the same place is the one kept.
fn fetch_macro<'a>(i: &'a [u8]) -> PResult<'a, FetchItems<'a>> {
    let (r, m) = alt((
        value(FetchItems::All, kw("ALL")),
        value(FetchItems::Fast, kw("FAST")),
        value(FetchItems::Full, kw("FULL")),
    ))
    .parse(i)?;
    match macro_end(r) {
        Ok(_) => Ok((r, m)),
        Err(_) => fail(i, ParseErrorKind::Expected("fetch attribute")),
    }
}

/// Parses the FETCH items: a macro, one attribute, or a parenthesized list.
pub(crate) fn fetch_items<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, FetchItems<'a>> {
    alt((
        map(
            |j| paren_list(j, false, |k| fetch_attribute(k, cfg)),
            |atts| FetchItems::Attributes(NonEmpty::from_parsed(atts)),
        ),
        fetch_macro,
        map(
            |j| fetch_attribute(j, cfg),
            |att| FetchItems::Attributes(NonEmpty::one(att)),
        ),
    ))
    .parse(i)
}

/// Parses one `fetch-modifier`.
fn fetch_modifier(i: &[u8]) -> PResult<'_, FetchModifier> {
    alt((
        map(preceded(kw("CHANGEDSINCE "), mod_sequence_value), |n| {
            FetchModifier::ChangedSince(n)
        }),
        map(word("VANISHED"), |()| FetchModifier::Vanished),
        map(
            preceded(kw("PARTIAL "), partial_range),
            FetchModifier::Partial,
        ),
        unknown_modifier,
    ))
    .parse(i)
}

fn unknown_modifier(i: &[u8]) -> PResult<'_, FetchModifier> {
    fail(
        i,
        ParseErrorKind::Expected("CHANGEDSINCE, VANISHED or PARTIAL"),
    )
}

/// Parses ` (modifier *(SP modifier))` if present; `uid` tells whether the command
/// is UID FETCH (the only one that may ask for VANISHED).
pub(crate) fn fetch_modifiers(i: &[u8], uid: bool) -> PResult<'_, Vec<FetchModifier>> {
    let at = i.get(1..).unwrap_or_default();
    let (r, modifiers) = opt(preceded(
        (sp, peek(byte(b'(', "("))),
        cut(|j| paren_list(j, false, fetch_modifier)),
    ))
    .parse(i)?;
    let modifiers = modifiers.unwrap_or_default();
    if modifiers.contains(&FetchModifier::Vanished) {
        if !uid {
            return fail(at, ParseErrorKind::Rule("VANISHED needs UID FETCH"));
        }
        if !modifiers
            .iter()
            .any(|m| matches!(m, FetchModifier::ChangedSince(_)))
        {
            return fail(at, ParseErrorKind::Rule("VANISHED needs CHANGEDSINCE"));
        }
    }
    Ok((r, modifiers))
}
