//! FETCH responses (`message-data` with `msg-att`).

use std::num::NonZeroU32;

use super::body::{BodyStructure, body};
use super::envelope::{Envelope, envelope};
use super::lex::{byte, check_depth, close, list, mod_sequence_value, nil, nstring, sp};
use super::section::{encode_part, section_binary};
use crate::command::Section;
use crate::command::fetch::section;
use crate::config::ParserConfig;
use crate::core::datetime::{DateTime, date_time};
use crate::core::flag::{FlagFetch, flag_fetch};
use crate::core::gmail_label::{GmailLabel, gmail_label};
use crate::core::number::{number, number64, nz_number};
use crate::core::object_id::{ObjectId, object_id};
use crate::core::string::{Literal8, NString, literal8};
use crate::encode::{Encode, encode_list, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail};

/// One data item of a FETCH response (`msg-att`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchItem<'a> {
    /// `FLAGS (...)`.
    Flags(Vec<FlagFetch<'a>>),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `RFC822.SIZE n`.
    Rfc822Size(u64),
    /// `ENVELOPE (...)`.
    Envelope(Box<Envelope<'a>>),
    /// `BODY (...)`: the structure without extension data.
    Body(Box<BodyStructure<'a>>),
    /// `BODYSTRUCTURE (...)`.
    BodyStructure(Box<BodyStructure<'a>>),
    /// `BODY[section]<origin> data`.
    BodySection {
        /// The section.
        section: Section<'a>,
        /// `<origin>`: the first octet of a partial fetch.
        origin: Option<u32>,
        /// The data.
        data: NString<'a>,
    },
    /// `BINARY[part] data` (RFC 3516): decoded content, possibly with NUL (`~{n}`).
    Binary {
        /// Part numbers.
        section: Vec<NonZeroU32>,
        /// The data, `None` for `NIL`.
        data: Option<Literal8<'a>>,
    },
    /// `BINARY.SIZE[part] n` (RFC 3516).
    BinarySize {
        /// Part numbers.
        section: Vec<NonZeroU32>,
        /// Decoded size.
        size: u32,
    },
    /// `UID n`.
    Uid(NonZeroU32),
    /// `MODSEQ (n)` (RFC 7162).
    ModSeq(u64),
    /// `RFC822 data` (IMAP4rev1).
    Rfc822(NString<'a>),
    /// `RFC822.HEADER data` (IMAP4rev1).
    Rfc822Header(NString<'a>),
    /// `RFC822.TEXT data` (IMAP4rev1).
    Rfc822Text(NString<'a>),
    /// `PREVIEW data` (RFC 8970).
    Preview(NString<'a>),
    /// `EMAILID (id)` (RFC 8474).
    EmailId(ObjectId<'a>),
    /// `THREADID (id)` or `THREADID NIL` (RFC 8474).
    ThreadId(Option<ObjectId<'a>>),
    /// `X-GM-MSGID n` (Gmail).
    GmailMessageId(u64),
    /// `X-GM-THRID n` (Gmail).
    GmailThreadId(u64),
    /// `X-GM-LABELS (...)` (Gmail).
    GmailLabels(Vec<GmailLabel<'a>>),
    /// `SAVEDATE date-time` or `SAVEDATE NIL` (RFC 8514).
    SaveDate(Option<DateTime>),
}

/// A FETCH response: the message number and its data items.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageData<'a> {
    /// Message sequence number.
    pub seq: NonZeroU32,
    /// Data items (at least one).
    pub items: Vec<FetchItem<'a>>,
}

impl Encode for MessageData<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_u64(self.seq.get().into(), out);
        out.extend_from_slice(b" FETCH ");
        encode_list(&self.items, out);
    }
}

fn kw(out: &mut Vec<u8>, k: &[u8], v: &impl Encode) {
    out.extend_from_slice(k);
    v.encode(out);
}

fn kw_num(out: &mut Vec<u8>, k: &[u8], v: u64) {
    out.extend_from_slice(k);
    encode_u64(v, out);
}

impl Encode for FetchItem<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Flags(f) => {
                out.extend_from_slice(b"FLAGS ");
                encode_list(f, out);
            }
            Self::InternalDate(d) => kw(out, b"INTERNALDATE ", d),
            Self::Rfc822Size(n) => kw_num(out, b"RFC822.SIZE ", *n),
            Self::Envelope(e) => kw(out, b"ENVELOPE ", e.as_ref()),
            Self::Body(b) => kw(out, b"BODY ", b.as_ref()),
            Self::BodyStructure(b) => kw(out, b"BODYSTRUCTURE ", b.as_ref()),
            Self::BodySection {
                section,
                origin,
                data,
            } => {
                out.extend_from_slice(b"BODY");
                section.encode(out);
                if let Some(o) = origin {
                    out.push(b'<');
                    encode_u64((*o).into(), out);
                    out.push(b'>');
                }
                out.push(b' ');
                data.encode(out);
            }
            Self::Binary { section, data } => {
                out.extend_from_slice(b"BINARY[");
                encode_part(section, out);
                out.extend_from_slice(b"] ");
                match data {
                    Some(d) => d.encode(out),
                    None => out.extend_from_slice(b"NIL"),
                }
            }
            Self::BinarySize { section, size } => {
                out.extend_from_slice(b"BINARY.SIZE[");
                encode_part(section, out);
                out.extend_from_slice(b"] ");
                encode_u64((*size).into(), out);
            }
            Self::Uid(n) => kw_num(out, b"UID ", n.get().into()),
            Self::ModSeq(n) => {
                kw_num(out, b"MODSEQ (", *n);
                out.push(b')');
            }
            Self::Rfc822(d) => kw(out, b"RFC822 ", d),
            Self::Rfc822Header(d) => kw(out, b"RFC822.HEADER ", d),
            Self::Rfc822Text(d) => kw(out, b"RFC822.TEXT ", d),
            Self::Preview(d) => kw(out, b"PREVIEW ", d),
            Self::EmailId(a) => {
                kw(out, b"EMAILID (", a);
                out.push(b')');
            }
            Self::ThreadId(Some(a)) => {
                kw(out, b"THREADID (", a);
                out.push(b')');
            }
            Self::ThreadId(None) => out.extend_from_slice(b"THREADID NIL"),
            Self::GmailMessageId(n) => kw_num(out, b"X-GM-MSGID ", *n),
            Self::GmailThreadId(n) => kw_num(out, b"X-GM-THRID ", *n),
            Self::GmailLabels(l) => {
                out.extend_from_slice(b"X-GM-LABELS ");
                encode_list(l, out);
            }
            Self::SaveDate(Some(d)) => kw(out, b"SAVEDATE ", d),
            Self::SaveDate(None) => out.extend_from_slice(b"SAVEDATE NIL"),
        }
    }
}

/// `"(" objectid ")"`, with quirks spaces before `)`.
fn paren_id<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ObjectId<'a>> {
    let (i, ()) = byte(i, b'(', "'('")?;
    let (i, id) = object_id(i)?;
    let (i, ()) = close(i, b')', cfg)?;
    Ok((i, id))
}

fn fetch_item<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, FetchItem<'a>> {
    let n = i
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        .unwrap_or(i.len());
    let (name, r) = i.split_at(n);
    let is = |k: &[u8]| name.eq_ignore_ascii_case(k);
    if is(b"BODY") || is(b"BINARY") {
        if r.first() == Some(&b'[') {
            if is(b"BINARY") {
                let (r, section) = section_binary(r, cfg)?;
                let (r, ()) = sp(r, cfg)?;
                if let Some(r) = nil(r) {
                    return Ok((
                        r,
                        FetchItem::Binary {
                            section,
                            data: None,
                        },
                    ));
                }
                if r.first() == Some(&b'~') {
                    let (r, (_, data)) = literal8(r, cfg)?;
                    let data = Some(Literal8::from_parsed(data.into()));
                    return Ok((r, FetchItem::Binary { section, data }));
                }
                let (r, s) = nstring(r, cfg)?;
                let data =
                    s.0.map(|s| Literal8::from_parsed(s.as_bytes().to_vec().into()));
                return Ok((r, FetchItem::Binary { section, data }));
            }
            let (r, section) = section(r, cfg)?;
            let (r, origin) = match r {
                [b'<', rest @ ..] => {
                    let (rest, o) = number(rest)?;
                    let (rest, ()) = byte(rest, b'>', "'>'")?;
                    (rest, Some(o))
                }
                _ => (r, None),
            };
            let (r, ()) = sp(r, cfg)?;
            let (r, data) = nstring(r, cfg)?;
            return Ok((
                r,
                FetchItem::BodySection {
                    section,
                    origin,
                    data,
                },
            ));
        }
        if is(b"BINARY") {
            return fail(r, ParseErrorKind::Expected("'['"));
        }
        let (r, ()) = sp(r, cfg)?;
        let (r, b) = body(r, 1, cfg)?;
        return Ok((r, FetchItem::Body(Box::new(b))));
    }
    if is(b"BINARY.SIZE") {
        let (r, section) = section_binary(r, cfg)?;
        let (r, ()) = sp(r, cfg)?;
        let (r, size) = number(r)?;
        return Ok((r, FetchItem::BinarySize { section, size }));
    }
    let (r, ()) = sp(r, cfg)?;
    if is(b"FLAGS") {
        let (r, f) = list(r, true, cfg, |j| flag_fetch(j, cfg))?;
        Ok((r, FetchItem::Flags(f)))
    } else if is(b"UID") {
        nz_number(r).map(|(r, n)| (r, FetchItem::Uid(n)))
    } else if is(b"RFC822.SIZE") {
        number64(r).map(|(r, n)| (r, FetchItem::Rfc822Size(n)))
    } else if is(b"INTERNALDATE") {
        date_time(r).map(|(r, d)| (r, FetchItem::InternalDate(d)))
    } else if is(b"ENVELOPE") {
        envelope(r, cfg).map(|(r, e)| (r, FetchItem::Envelope(Box::new(e))))
    } else if is(b"BODYSTRUCTURE") {
        body(r, 1, cfg).map(|(r, b)| (r, FetchItem::BodyStructure(Box::new(b))))
    } else if is(b"MODSEQ") {
        let (r, ()) = byte(r, b'(', "'('")?;
        let (r, n) = mod_sequence_value(r, cfg)?;
        let (r, ()) = close(r, b')', cfg)?;
        Ok((r, FetchItem::ModSeq(n)))
    } else if is(b"RFC822") {
        nstring(r, cfg).map(|(r, d)| (r, FetchItem::Rfc822(d)))
    } else if is(b"RFC822.HEADER") {
        nstring(r, cfg).map(|(r, d)| (r, FetchItem::Rfc822Header(d)))
    } else if is(b"RFC822.TEXT") {
        nstring(r, cfg).map(|(r, d)| (r, FetchItem::Rfc822Text(d)))
    } else if is(b"PREVIEW") {
        nstring(r, cfg).map(|(r, d)| (r, FetchItem::Preview(d)))
    } else if is(b"EMAILID") {
        paren_id(r, cfg).map(|(r, a)| (r, FetchItem::EmailId(a)))
    } else if is(b"THREADID") {
        match nil(r) {
            Some(r) => Ok((r, FetchItem::ThreadId(None))),
            None => paren_id(r, cfg).map(|(r, a)| (r, FetchItem::ThreadId(Some(a)))),
        }
    } else if is(b"X-GM-MSGID") {
        number64(r).map(|(r, n)| (r, FetchItem::GmailMessageId(n)))
    } else if is(b"X-GM-THRID") {
        number64(r).map(|(r, n)| (r, FetchItem::GmailThreadId(n)))
    } else if is(b"SAVEDATE") {
        match nil(r) {
            Some(r) => Ok((r, FetchItem::SaveDate(None))),
            None => date_time(r).map(|(r, d)| (r, FetchItem::SaveDate(Some(d)))),
        }
    } else if is(b"X-GM-LABELS") {
        list(r, true, cfg, |j| gmail_label(j, cfg)).map(|(r, l)| (r, FetchItem::GmailLabels(l)))
    } else {
        fail(i, ParseErrorKind::Expected("FETCH data item"))
    }
}

/// Parses `msg-att`: `"(" item *(SP item) ")"`.
pub(crate) fn msg_att<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<FetchItem<'a>>> {
    let (i, ()) = check_depth(i, 1, cfg)?;
    let (r, items) = list(i, false, cfg, |j| fetch_item(j, cfg))?;
    if items.is_empty() {
        return fail(i, ParseErrorKind::Expected("FETCH data item"));
    }
    Ok((r, items))
}
