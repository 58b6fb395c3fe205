//! Command parameters of the extensions: SELECT modifiers (CONDSTORE, QRESYNC),
//! STORE (with Gmail labels), APPEND messages (with CATENATE and UTF8), QUOTA, METADATA
//! and ID.

use std::num::NonZeroU32;

use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::datetime::date_time;
use crate::core::flag::flag;
use crate::core::lex::{byte, keyword, kw, paren_list, sp, starts_with_ci, word};
use crate::core::number::{mod_sequence_value, number, number64, nz_number};
use crate::core::sequence::sequence_set;
use crate::core::string::{
    AString, IString, Literal8, LiteralHeader, NString, literal8, nstring, string,
};
use crate::core::{DateTime, Flag, SequenceSet};
use crate::encode::{Encode, encode_list, encode_u64};

use super::catenate::{CatenatePart, catenate, encode_literal, encode_utf8, utf8_literal};
use crate::error::{PResult, ParseErrorKind, fail};
use nom::Parser;
use nom::branch::alt;
use nom::combinator::{map, opt, value};
use nom::multi::{separated_list0, separated_list1};
use nom::sequence::{delimited, preceded, separated_pair};

/// A SELECT / EXAMINE parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SelectParameter {
    /// `CONDSTORE`.
    CondStore,
    /// `QRESYNC (uidvalidity modseq [known-uids [(seq-match-data)]])`.
    QResync {
        /// The last known UIDVALIDITY.
        uid_validity: NonZeroU32,
        /// The last known mod-sequence.
        mod_seq: u64,
        /// Known UIDs.
        known_uids: Option<SequenceSet>,
        /// Message sequence numbers and their UIDs (`seq-match-data`).
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

impl Encode for SelectParameter {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::CondStore => out.extend_from_slice(b"CONDSTORE"),
            Self::QResync {
                uid_validity,
                mod_seq,
                known_uids,
                seq_match,
            } => {
                out.extend_from_slice(b"QRESYNC (");
                encode_u64(u64::from(uid_validity.get()), out);
                out.push(b' ');
                encode_u64(*mod_seq, out);
                if let Some(k) = known_uids {
                    out.push(b' ');
                    k.encode(out);
                }
                if let Some((a, b)) = seq_match {
                    out.extend_from_slice(b" (");
                    a.encode(out);
                    out.push(b' ');
                    b.encode(out);
                    out.push(b')');
                }
                out.push(b')');
            }
        }
    }
}

/// Parses ` (select-param *(SP select-param))` if present.
pub(crate) fn select_parameters(i: &[u8]) -> PResult<'_, Vec<SelectParameter>> {
    let [b' ', b'(', ..] = i else {
        return Ok((i, Vec::new()));
    };
    paren_list(&i[1..], false, select_parameter)
}

/// Parses `"CONDSTORE"` or `"QRESYNC" SP "(" uidvalidity SP mod-sequence-value
/// [SP known-uids] [SP seq-match-data] ")"` (RFC 7162).
fn select_parameter(i: &[u8]) -> PResult<'_, SelectParameter> {
    let seq_match = delimited(
        byte(b'(', "'('"),
        separated_pair(sequence_set, sp, sequence_set),
        byte(b')', "')'"),
    );
    let qresync = map(
        delimited(
            kw("QRESYNC ("),
            (
                nz_number,
                preceded(sp, mod_sequence_value),
                opt(preceded(sp, sequence_set)),
                opt(preceded(sp, seq_match)),
            ),
            byte(b')', "')'"),
        ),
        |(uid_validity, mod_seq, known_uids, seq_match)| SelectParameter::QResync {
            uid_validity,
            mod_seq,
            known_uids,
            seq_match,
        },
    );
    alt((
        qresync,
        value(SelectParameter::CondStore, word("CONDSTORE")),
        unknown_select_parameter,
    ))
    .parse(i)
}

fn unknown_select_parameter(i: &[u8]) -> PResult<'_, SelectParameter> {
    fail(i, ParseErrorKind::Expected("CONDSTORE or QRESYNC"))
}

/// How STORE changes the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// Parses `["+" / "-"] ("FLAGS" / "X-GM-LABELS") [".SILENT"]`; the middle value says
/// whether Gmail labels are stored rather than flags.
///
/// Plain byte tests rather than combinators: this runs for every STORE.
pub(crate) fn store_kind(i: &[u8]) -> PResult<'_, (StoreKind, bool, bool)> {
    let (i, kind) = match i.first() {
        Some(b'+') => (&i[1..], StoreKind::Add),
        Some(b'-') => (&i[1..], StoreKind::Remove),
        _ => (i, StoreKind::Replace),
    };
    let (i, labels) = if let Some(r) = starts_with_ci(i, b"FLAGS") {
        (r, false)
    } else if let Some(r) = starts_with_ci(i, b"X-GM-LABELS") {
        (r, true)
    } else {
        return fail(i, ParseErrorKind::Expected("FLAGS or X-GM-LABELS"));
    };
    match starts_with_ci(i, b".SILENT") {
        Some(r) => Ok((r, (kind, labels, true))),
        None => Ok((i, (kind, labels, false))),
    }
}

/// Writes `["+" / "-"] name [".SILENT"]`.
pub(crate) fn encode_store_kind(kind: StoreKind, name: &str, silent: bool, out: &mut Vec<u8>) {
    match kind {
        StoreKind::Replace => {}
        StoreKind::Add => out.push(b'+'),
        StoreKind::Remove => out.push(b'-'),
    }
    out.extend_from_slice(name.as_bytes());
    if silent {
        out.extend_from_slice(b".SILENT");
    }
}

/// Parses Gmail labels to store: `(label ...)` or `label *(SP label)`.
pub(crate) fn store_labels<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<crate::core::GmailLabel<'a>>> {
    use crate::core::gmail_label::gmail_label;
    alt((
        |j| paren_list(j, true, |k| gmail_label(k, cfg)),
        separated_list1(sp, |j| gmail_label(j, cfg)),
    ))
    .parse(i)
}

/// Parses a flag list `(flag ...)` or `flag *(SP flag)`.
pub(crate) fn store_flags<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<Flag<'a>>> {
    alt((
        |j| paren_list(j, true, |k| flag(k, cfg)),
        separated_list1(sp, |j| flag(j, cfg)),
    ))
    .parse(i)
}

/// Parses ` (UNCHANGEDSINCE n)` if present.
pub(crate) fn store_modifier(i: &[u8]) -> PResult<'_, Option<u64>> {
    let Ok((r, ())) = keyword(i, " (UNCHANGEDSINCE ") else {
        return Ok((i, None));
    };
    let (r, n) = number64(r)?;
    let (r, ()) = byte(b')', ")")(r)?;
    Ok((r, Some(n)))
}

/// The message data of an APPEND (or REPLACE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AppendData<'a> {
    /// A `literal` (no NUL).
    Literal(IString<'a>),
    /// A `literal8` (BINARY), may contain NUL.
    Binary(Literal8<'a>),
    /// `UTF8 (literal8)`: a message with UTF-8 headers (RFC 6855 UTF8=ACCEPT).
    Utf8(Literal8<'a>),
    /// `CATENATE (part ...)`: a message assembled from text and URLs (RFC 4469).
    Catenate(crate::core::NonEmpty<CatenatePart<'a>>),
}

/// One message of an APPEND (several with MULTIAPPEND).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppendMessage<'a> {
    /// Flags to set (omitted on the wire when empty).
    pub flags: Vec<Flag<'a>>,
    /// Internal date to set.
    pub date: Option<DateTime>,
    /// The message.
    pub data: AppendData<'a>,
}

impl AppendMessage<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> AppendMessage<'static> {
        AppendMessage {
            flags: self.flags.into_iter().map(Flag::into_owned).collect(),
            date: self.date,
            data: match self.data {
                AppendData::Literal(s) => AppendData::Literal(s.into_owned()),
                AppendData::Binary(s) => AppendData::Binary(s.into_owned()),
                AppendData::Utf8(s) => AppendData::Utf8(s.into_owned()),
                AppendData::Catenate(p) => AppendData::Catenate(p.map(CatenatePart::into_owned)),
            },
        }
    }
}

impl Encode for AppendMessage<'_> {
    /// Writes `[flag-list SP] [date-time SP] literal`.
    fn encode(&self, out: &mut Vec<u8>) {
        if !self.flags.is_empty() {
            encode_list(&self.flags, out);
            out.push(b' ');
        }
        if let Some(d) = &self.date {
            d.encode(out);
            out.push(b' ');
        }
        match &self.data {
            AppendData::Literal(s) => encode_literal(s.as_bytes(), out),
            AppendData::Binary(b) => b.encode(out),
            AppendData::Utf8(b) => encode_utf8(b, out),
            AppendData::Catenate(parts) => {
                out.extend_from_slice(b"CATENATE ");
                encode_list(parts, out);
            }
        }
    }
}

/// Parses `[flag-list SP] [date-time SP] append-data`, where `append-data` is a
/// literal, a literal8, `UTF8 (literal8)` or `CATENATE (...)`.
pub(crate) fn append_message<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, AppendMessage<'a>> {
    let (i, flags) = if i.first() == Some(&b'(') {
        let (i, f) = paren_list(i, true, |j| flag(j, cfg))?;
        let (i, ()) = sp(i)?;
        (i, f)
    } else {
        (i, Vec::new())
    };
    let (i, date) = if i.first() == Some(&b'"') {
        let (i, d) = date_time(i)?;
        let (i, ()) = sp(i)?;
        (i, Some(d))
    } else {
        (i, None)
    };
    let (i, data) = alt((
        map(|j| catenate(j, cfg), AppendData::Catenate),
        map(|j| utf8_literal(j, cfg), AppendData::Utf8),
        map(
            |j| literal8(j, cfg),
            |(header, bytes): (LiteralHeader, &[u8])| {
                if header.binary {
                    AppendData::Binary(Literal8::from_parsed(bytes.into()))
                } else {
                    AppendData::Literal(IString::from_parsed(bytes.into()))
                }
            },
        ),
    ))
    .parse(i)?;
    Ok((i, AppendMessage { flags, date, data }))
}

/// The arguments of `[UID] REPLACE` (RFC 8508): append `message` to `mailbox` and
/// expunge message `sequence` of the selected mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Replace<'a> {
    /// `UID REPLACE`: `sequence` is a UID.
    pub uid: bool,
    /// The message to replace.
    pub sequence: crate::core::SeqNumber,
    /// Where the new message goes.
    pub mailbox: crate::core::Mailbox<'a>,
    /// The new message.
    pub message: AppendMessage<'a>,
}

/// A resource limit of SETQUOTA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaLimit<'a> {
    /// Resource name, such as `STORAGE`.
    pub resource: Atom<'a>,
    /// Limit.
    pub limit: u64,
}

impl Encode for QuotaLimit<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.resource.encode(out);
        out.push(b' ');
        encode_u64(self.limit, out);
    }
}

/// Parses `"(" [resource SP number64 *(SP ...)] ")"`.
pub(crate) fn quota_limits<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<QuotaLimit<'a>>> {
    paren_list(i, true, |j| {
        let (j, resource) = atom(j, cfg)?;
        let (j, ()) = sp(j)?;
        let (j, limit) = number64(j)?;
        Ok((j, QuotaLimit { resource, limit }))
    })
}

/// An option of GETMETADATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataOption {
    /// `MAXSIZE n`.
    MaxSize(u32),
    /// `DEPTH 0`, `DEPTH 1` or `DEPTH infinity`.
    Depth(MetadataDepth),
}

/// The DEPTH of GETMETADATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataDepth {
    /// `0`.
    Zero,
    /// `1`.
    One,
    /// `infinity`.
    Infinity,
}

impl Encode for MetadataOption {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::MaxSize(n) => {
                out.extend_from_slice(b"MAXSIZE ");
                encode_u64(u64::from(*n), out);
            }
            Self::Depth(d) => out.extend_from_slice(match d {
                MetadataDepth::Zero => b"DEPTH 0",
                MetadataDepth::One => b"DEPTH 1",
                MetadataDepth::Infinity => b"DEPTH infinity",
            }),
        }
    }
}

/// Parses `"(" option *(SP option) ")"` of GETMETADATA.
pub(crate) fn metadata_options(i: &[u8]) -> PResult<'_, Vec<MetadataOption>> {
    paren_list(i, false, |j| {
        if let Ok((r, ())) = keyword(j, "MAXSIZE ") {
            let (r, n) = number(r)?;
            return Ok((r, MetadataOption::MaxSize(n)));
        }
        let (r, ()) = keyword(j, "DEPTH ")?;
        for (kw, d) in [
            ("0", MetadataDepth::Zero),
            ("1", MetadataDepth::One),
            ("infinity", MetadataDepth::Infinity),
        ] {
            if let Ok((r, ())) = keyword(r, kw) {
                return Ok((r, MetadataOption::Depth(d)));
            }
        }
        fail(r, ParseErrorKind::Expected("0, 1 or infinity"))
    })
}

/// The value of a SETMETADATA entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataValue<'a> {
    /// `nstring` (NIL removes the entry).
    NString(NString<'a>),
    /// `literal8`.
    Binary(Literal8<'a>),
}

/// An entry and value of SETMETADATA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataEntry<'a> {
    /// The entry name, such as `/private/comment`.
    pub name: AString<'a>,
    /// The value.
    pub value: MetadataValue<'a>,
}

impl MetadataEntry<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> MetadataEntry<'static> {
        MetadataEntry {
            name: self.name.into_owned(),
            value: match self.value {
                MetadataValue::NString(s) => MetadataValue::NString(s.into_owned()),
                MetadataValue::Binary(b) => MetadataValue::Binary(b.into_owned()),
            },
        }
    }
}

impl Encode for MetadataEntry<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        out.push(b' ');
        match &self.value {
            MetadataValue::NString(s) => s.encode(out),
            MetadataValue::Binary(b) => b.encode(out),
        }
    }
}

/// Parses `"(" entry SP value *(SP entry SP value) ")"`.
pub(crate) fn metadata_entries<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<MetadataEntry<'a>>> {
    paren_list(i, false, |j| {
        let (j, name) = crate::core::string::astring(j, cfg)?;
        let (j, ()) = sp(j)?;
        let (j, value) = if j.first() == Some(&b'~') {
            let (j, (_, data)) = literal8(j, cfg)?;
            (j, MetadataValue::Binary(Literal8::from_parsed(data.into())))
        } else {
            let (j, s) = nstring(j, cfg)?;
            (j, MetadataValue::NString(s))
        };
        Ok((j, MetadataEntry { name, value }))
    })
}

/// A field of the ID command: name and value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdField<'a> {
    /// Field name, such as `name`.
    pub name: IString<'a>,
    /// Value or NIL.
    pub value: NString<'a>,
}

impl Encode for IdField<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        out.push(b' ');
        self.value.encode(out);
    }
}

/// Parses `"(" [string SP nstring *(SP string SP nstring)] ")" / NIL` (RFC 2971 writes
/// the list with `#`, so `()` is allowed).
pub(crate) fn id_fields<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Option<Vec<IdField<'a>>>> {
    let field = map(
        separated_pair(|j| string(j, cfg), sp, |j| nstring(j, cfg)),
        |(name, value)| IdField { name, value },
    );
    alt((
        value(None, word("NIL")),
        map(
            delimited(
                byte(b'(', "'(' or NIL"),
                separated_list0(sp, field),
                byte(b')', "')'"),
            ),
            Some,
        ),
    ))
    .parse(i)
}
