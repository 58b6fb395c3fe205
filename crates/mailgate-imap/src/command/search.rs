//! SEARCH keys (RFC 9051 / 3501, CONDSTORE `MODSEQ`, WITHIN `OLDER`/`YOUNGER`, OBJECTID,
//! SAVEDATE, SEARCH=FUZZY, Gmail's X-GM-EXT-1) and ESEARCH / SEARCHRES / PARTIAL /
//! FUZZY return options.

use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::datetime::date;
use crate::core::gmail_label::{GmailLabel, gmail_label};
use crate::core::lex::{keyword, sp};
use crate::core::number::{number64, nz_number};
use crate::core::object_id::{ObjectId, object_id};
use crate::core::sequence::sequence_set;
use crate::core::string::{AString, astring, string};
use crate::core::{Date, NonEmpty, SequenceSet};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail, fatal};

use std::num::NonZeroU32;

use nom::Parser;
use nom::combinator::{cut, map, opt, peek};
use nom::multi::many0;
use nom::sequence::{preceded, terminated};

/// A search key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchKey<'a> {
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(AString<'a>),
    /// `BEFORE date`.
    Before(Date),
    /// `BODY string`.
    Body(AString<'a>),
    /// `CC string`.
    Cc(AString<'a>),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(AString<'a>),
    /// `HEADER field-name string`.
    Header(AString<'a>, AString<'a>),
    /// `KEYWORD flag-keyword`.
    Keyword(Atom<'a>),
    /// `LARGER n`.
    Larger(u64),
    /// `NEW` (IMAP4rev1).
    New,
    /// `NOT key`.
    Not(Box<SearchKey<'a>>),
    /// `OLD` (IMAP4rev1).
    Old,
    /// `ON date`.
    On(Date),
    /// `OR key key`.
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER n`.
    Smaller(u64),
    /// `SUBJECT string`.
    Subject(AString<'a>),
    /// `TEXT string`.
    Text(AString<'a>),
    /// `TO string`.
    To(AString<'a>),
    /// `UID sequence-set`.
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(Atom<'a>),
    /// `UNSEEN`.
    Unseen,
    /// A sequence set of message numbers.
    SequenceSet(SequenceSet),
    /// `( key *(SP key) )`: all keys match.
    And(NonEmpty<SearchKey<'a>>),
    /// `MODSEQ [entry-name entry-type] mod-sequence-valzer` (CONDSTORE).
    ModSeq {
        /// Metadata item name and type (`"/flags/\\draft" all`).
        entry: Option<(AString<'a>, ModSeqEntryType)>,
        /// The modification sequence.
        modseq: u64,
    },
    /// `OLDER seconds` (WITHIN).
    Older(NonZeroU32),
    /// `YOUNGER seconds` (WITHIN).
    Younger(NonZeroU32),
    /// `EMAILID objectid` (RFC 8474 OBJECTID).
    EmailId(ObjectId<'a>),
    /// `THREADID objectid` (RFC 8474 OBJECTID).
    ThreadId(ObjectId<'a>),
    /// `SAVEDBEFORE date` (RFC 8514 SAVEDATE).
    SavedBefore(Date),
    /// `SAVEDON date` (RFC 8514 SAVEDATE).
    SavedOn(Date),
    /// `SAVEDSINCE date` (RFC 8514 SAVEDATE).
    SavedSince(Date),
    /// `SAVEDATESUPPORTED` (RFC 8514 SAVEDATE).
    SaveDateSupported,
    /// `FUZZY key` (RFC 6203 SEARCH=FUZZY).
    Fuzzy(Box<SearchKey<'a>>),
    /// `X-GM-RAW string`: a Gmail search expression (X-GM-EXT-1).
    GmailRaw(AString<'a>),
    /// `X-GM-MSGID id` (X-GM-EXT-1).
    GmailMessageId(u64),
    /// `X-GM-THRID id` (X-GM-EXT-1).
    GmailThreadId(u64),
    /// `X-GM-LABELS label` (X-GM-EXT-1).
    GmailLabels(GmailLabel<'a>),
}

/// The `entry-type-req` of a MODSEQ search key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModSeqEntryType {
    /// `priv`.
    Private,
    /// `shared`.
    Shared,
    /// `all`.
    All,
}

impl ModSeqEntryType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Private => "priv",
            Self::Shared => "shared",
            Self::All => "all",
        }
    }
}

/// A return option of an extended SEARCH (ESEARCH, SEARCHRES, PARTIAL, FUZZY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturnOption {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (SEARCHRES).
    Save,
    /// `PARTIAL range` (RFC 9394): one page of the results.
    Partial(PartialRange),
    /// `RELEVANCY` (RFC 6203 SEARCH=FUZZY).
    Relevancy,
}

impl Encode for SearchReturnOption {
    fn encode(&self, out: &mut Vec<u8>) {
        let s: &[u8] = match self {
            Self::Min => b"MIN",
            Self::Max => b"MAX",
            Self::All => b"ALL",
            Self::Count => b"COUNT",
            Self::Save => b"SAVE",
            Self::Relevancy => b"RELEVANCY",
            Self::Partial(r) => {
                out.extend_from_slice(b"PARTIAL ");
                return r.encode(out);
            }
        };
        out.extend_from_slice(s);
    }
}

/// A `partial-range` (RFC 9394): positions in the list of results, counted from the
/// first result (`1:100`) or from the last (`-1:-100`). The two ends may come in
/// either order; `500:400` names the same page as `400:500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartialRange {
    /// `n:m`: from the first (oldest) result.
    First(NonZeroU32, NonZeroU32),
    /// `-n:-m`: from the last (most recent) result.
    Last(NonZeroU32, NonZeroU32),
}

impl Encode for PartialRange {
    fn encode(&self, out: &mut Vec<u8>) {
        let (minus, a, b) = match *self {
            Self::First(a, b) => (false, a, b),
            Self::Last(a, b) => (true, a, b),
        };
        if minus {
            out.push(b'-');
        }
        encode_u64(a.get().into(), out);
        out.push(b':');
        if minus {
            out.push(b'-');
        }
        encode_u64(b.get().into(), out);
    }
}

/// Parses `nz-number ":" nz-number / "-" nz-number ":" "-" nz-number`.
pub(crate) fn partial_range(i: &[u8]) -> PResult<'_, PartialRange> {
    use crate::core::lex::byte;
    use nom::branch::alt;
    use nom::sequence::separated_pair;
    let minus = |i| byte(b'-', "'-'")(i);
    let colon = |i| byte(b':', "':'")(i);
    alt((
        map(
            separated_pair(
                preceded(minus, nz_number),
                colon,
                preceded(minus, nz_number),
            ),
            |(a, b)| PartialRange::Last(a, b),
        ),
        map(separated_pair(nz_number, colon, nz_number), |(a, b)| {
            PartialRange::First(a, b)
        }),
    ))
    .parse(i)
}

impl SearchKey<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> SearchKey<'static> {
        use SearchKey as K;
        match self {
            K::All => K::All,
            K::Answered => K::Answered,
            K::Bcc(s) => K::Bcc(s.into_owned()),
            K::Before(d) => K::Before(d),
            K::Body(s) => K::Body(s.into_owned()),
            K::Cc(s) => K::Cc(s.into_owned()),
            K::Deleted => K::Deleted,
            K::Draft => K::Draft,
            K::Flagged => K::Flagged,
            K::From(s) => K::From(s.into_owned()),
            K::Header(a, b) => K::Header(a.into_owned(), b.into_owned()),
            K::Keyword(a) => K::Keyword(a.into_owned()),
            K::Larger(n) => K::Larger(n),
            K::New => K::New,
            K::Not(k) => K::Not(Box::new(k.into_owned())),
            K::Old => K::Old,
            K::On(d) => K::On(d),
            K::Or(a, b) => K::Or(Box::new(a.into_owned()), Box::new(b.into_owned())),
            K::Recent => K::Recent,
            K::Seen => K::Seen,
            K::SentBefore(d) => K::SentBefore(d),
            K::SentOn(d) => K::SentOn(d),
            K::SentSince(d) => K::SentSince(d),
            K::Since(d) => K::Since(d),
            K::Smaller(n) => K::Smaller(n),
            K::Subject(s) => K::Subject(s.into_owned()),
            K::Text(s) => K::Text(s.into_owned()),
            K::To(s) => K::To(s.into_owned()),
            K::Uid(s) => K::Uid(s),
            K::Unanswered => K::Unanswered,
            K::Undeleted => K::Undeleted,
            K::Undraft => K::Undraft,
            K::Unflagged => K::Unflagged,
            K::Unkeyword(a) => K::Unkeyword(a.into_owned()),
            K::Unseen => K::Unseen,
            K::SequenceSet(s) => K::SequenceSet(s),
            K::And(keys) => K::And(keys.map(SearchKey::into_owned)),
            K::ModSeq { entry, modseq } => K::ModSeq {
                entry: entry.map(|(n, t)| (n.into_owned(), t)),
                modseq,
            },
            K::Older(n) => K::Older(n),
            K::Younger(n) => K::Younger(n),
            K::EmailId(id) => K::EmailId(id.into_owned()),
            K::ThreadId(id) => K::ThreadId(id.into_owned()),
            K::SavedBefore(d) => K::SavedBefore(d),
            K::SavedOn(d) => K::SavedOn(d),
            K::SavedSince(d) => K::SavedSince(d),
            K::SaveDateSupported => K::SaveDateSupported,
            K::Fuzzy(k) => K::Fuzzy(Box::new(k.into_owned())),
            K::GmailRaw(s) => K::GmailRaw(s.into_owned()),
            K::GmailMessageId(n) => K::GmailMessageId(n),
            K::GmailThreadId(n) => K::GmailThreadId(n),
            K::GmailLabels(l) => K::GmailLabels(l.into_owned()),
        }
    }
}

fn kw(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn kw_arg(out: &mut Vec<u8>, s: &str, arg: &impl Encode) {
    kw(out, s);
    out.push(b' ');
    arg.encode(out);
}

impl Encode for SearchKey<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        use SearchKey as K;
        match self {
            K::All => kw(out, "ALL"),
            K::Answered => kw(out, "ANSWERED"),
            K::Bcc(s) => kw_arg(out, "BCC", s),
            K::Before(d) => kw_arg(out, "BEFORE", d),
            K::Body(s) => kw_arg(out, "BODY", s),
            K::Cc(s) => kw_arg(out, "CC", s),
            K::Deleted => kw(out, "DELETED"),
            K::Draft => kw(out, "DRAFT"),
            K::Flagged => kw(out, "FLAGGED"),
            K::From(s) => kw_arg(out, "FROM", s),
            K::Header(a, b) => {
                kw_arg(out, "HEADER", a);
                out.push(b' ');
                b.encode(out);
            }
            K::Keyword(a) => kw_arg(out, "KEYWORD", a),
            K::Larger(n) => {
                kw(out, "LARGER ");
                encode_u64(*n, out);
            }
            K::New => kw(out, "NEW"),
            K::Not(k) => kw_arg(out, "NOT", k.as_ref()),
            K::Old => kw(out, "OLD"),
            K::On(d) => kw_arg(out, "ON", d),
            K::Or(a, b) => {
                kw_arg(out, "OR", a.as_ref());
                out.push(b' ');
                b.encode(out);
            }
            K::Recent => kw(out, "RECENT"),
            K::Seen => kw(out, "SEEN"),
            K::SentBefore(d) => kw_arg(out, "SENTBEFORE", d),
            K::SentOn(d) => kw_arg(out, "SENTON", d),
            K::SentSince(d) => kw_arg(out, "SENTSINCE", d),
            K::Since(d) => kw_arg(out, "SINCE", d),
            K::Smaller(n) => {
                kw(out, "SMALLER ");
                encode_u64(*n, out);
            }
            K::Subject(s) => kw_arg(out, "SUBJECT", s),
            K::Text(s) => kw_arg(out, "TEXT", s),
            K::To(s) => kw_arg(out, "TO", s),
            K::Uid(s) => kw_arg(out, "UID", s),
            K::Unanswered => kw(out, "UNANSWERED"),
            K::Undeleted => kw(out, "UNDELETED"),
            K::Undraft => kw(out, "UNDRAFT"),
            K::Unflagged => kw(out, "UNFLAGGED"),
            K::Unkeyword(a) => kw_arg(out, "UNKEYWORD", a),
            K::Unseen => kw(out, "UNSEEN"),
            K::SequenceSet(s) => s.encode(out),
            K::And(keys) => crate::encode::encode_list(keys, out),
            K::ModSeq { entry, modseq } => {
                kw(out, "MODSEQ ");
                if let Some((name, ty)) = entry {
                    crate::core::string::encode_quoted_or_literal(name.as_bytes(), out);
                    out.push(b' ');
                    kw(out, ty.as_str());
                    out.push(b' ');
                }
                encode_u64(*modseq, out);
            }
            K::Older(n) => {
                kw(out, "OLDER ");
                encode_u64(u64::from(n.get()), out);
            }
            K::Younger(n) => {
                kw(out, "YOUNGER ");
                encode_u64(u64::from(n.get()), out);
            }
            K::EmailId(id) => kw_arg(out, "EMAILID", id),
            K::ThreadId(id) => kw_arg(out, "THREADID", id),
            K::SavedBefore(d) => kw_arg(out, "SAVEDBEFORE", d),
            K::SavedOn(d) => kw_arg(out, "SAVEDON", d),
            K::SavedSince(d) => kw_arg(out, "SAVEDSINCE", d),
            K::SaveDateSupported => kw(out, "SAVEDATESUPPORTED"),
            K::Fuzzy(k) => kw_arg(out, "FUZZY", k.as_ref()),
            K::GmailRaw(s) => kw_arg(out, "X-GM-RAW", s),
            K::GmailMessageId(n) => {
                kw(out, "X-GM-MSGID ");
                encode_u64(*n, out);
            }
            K::GmailThreadId(n) => {
                kw(out, "X-GM-THRID ");
                encode_u64(*n, out);
            }
            K::GmailLabels(l) => kw_arg(out, "X-GM-LABELS", l),
        }
    }
}

/// Parses one search key; `depth` counts enclosing parentheses, NOT, and OR.
pub(crate) fn search_key<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
    depth: usize,
) -> PResult<'a, SearchKey<'a>> {
    use SearchKey as K;
    if depth > cfg.max_nesting_depth {
        return fatal(
            i,
            ParseErrorKind::NestingTooDeep {
                limit: cfg.max_nesting_depth,
            },
        );
    }
    match i.first() {
        Some(b'(') => {
            let (rest, keys) = search_keys_list(i, cfg, depth + 1)?;
            return Ok((rest, K::And(keys)));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => {
            let (rest, s) = sequence_set(i)?;
            return Ok((rest, K::SequenceSet(s)));
        }
        _ => {}
    }
    let (rest, name) = atom(i, cfg)?;
    let mut upper = [0u8; 20];
    let name = name.as_str().as_bytes();
    if name.len() > upper.len() {
        return fail(i, ParseErrorKind::Expected("search key"));
    }
    for (u, b) in upper.iter_mut().zip(name) {
        *u = b.to_ascii_uppercase();
    }
    let upper = &upper[..name.len()];
    let j = rest;
    let s = |j| preceded(sp, |k| astring(k, cfg)).parse(j);
    let d = |j| preceded(sp, date).parse(j);
    let n64 = |j| preceded(sp, number64).parse(j);
    let key = |j| preceded(sp, |k| search_key(k, cfg, depth + 1)).parse(j);
    let sp_atom = |j| preceded(sp, |k| atom(k, cfg)).parse(j);
    let entry_type = |j| {
        let (r, ty) = atom(j, cfg)?;
        match ty.as_str().to_ascii_lowercase().as_str() {
            "priv" => Ok((r, ModSeqEntryType::Private)),
            "shared" => Ok((r, ModSeqEntryType::Shared)),
            "all" => Ok((r, ModSeqEntryType::All)),
            _ => fail(r, ParseErrorKind::Expected("priv, shared or all")),
        }
    };
    match upper {
        b"ALL" => Ok((j, K::All)),
        b"ANSWERED" => Ok((j, K::Answered)),
        b"DELETED" => Ok((j, K::Deleted)),
        b"DRAFT" => Ok((j, K::Draft)),
        b"FLAGGED" => Ok((j, K::Flagged)),
        b"NEW" => Ok((j, K::New)),
        b"OLD" => Ok((j, K::Old)),
        b"RECENT" => Ok((j, K::Recent)),
        b"SEEN" => Ok((j, K::Seen)),
        b"UNANSWERED" => Ok((j, K::Unanswered)),
        b"UNDELETED" => Ok((j, K::Undeleted)),
        b"UNDRAFT" => Ok((j, K::Undraft)),
        b"UNFLAGGED" => Ok((j, K::Unflagged)),
        b"UNSEEN" => Ok((j, K::Unseen)),
        b"SAVEDATESUPPORTED" => Ok((j, K::SaveDateSupported)),
        b"BCC" => map(s, K::Bcc).parse(j),
        b"BODY" => map(s, K::Body).parse(j),
        b"CC" => map(s, K::Cc).parse(j),
        b"FROM" => map(s, K::From).parse(j),
        b"SUBJECT" => map(s, K::Subject).parse(j),
        b"TEXT" => map(s, K::Text).parse(j),
        b"TO" => map(s, K::To).parse(j),
        b"X-GM-RAW" => map(s, K::GmailRaw).parse(j),
        b"HEADER" => map((s, s), |(a, b)| K::Header(a, b)).parse(j),
        b"BEFORE" => map(d, K::Before).parse(j),
        b"ON" => map(d, K::On).parse(j),
        b"SENTBEFORE" => map(d, K::SentBefore).parse(j),
        b"SENTON" => map(d, K::SentOn).parse(j),
        b"SENTSINCE" => map(d, K::SentSince).parse(j),
        b"SINCE" => map(d, K::Since).parse(j),
        b"SAVEDBEFORE" => map(d, K::SavedBefore).parse(j),
        b"SAVEDON" => map(d, K::SavedOn).parse(j),
        b"SAVEDSINCE" => map(d, K::SavedSince).parse(j),
        b"LARGER" => map(n64, K::Larger).parse(j),
        b"SMALLER" => map(n64, K::Smaller).parse(j),
        b"X-GM-MSGID" => map(n64, K::GmailMessageId).parse(j),
        b"X-GM-THRID" => map(n64, K::GmailThreadId).parse(j),
        b"KEYWORD" => map(sp_atom, K::Keyword).parse(j),
        b"UNKEYWORD" => map(sp_atom, K::Unkeyword).parse(j),
        b"NOT" => map(key, |k| K::Not(Box::new(k))).parse(j),
        b"FUZZY" => map(key, |k| K::Fuzzy(Box::new(k))).parse(j),
        b"OR" => map((key, key), |(a, b)| K::Or(Box::new(a), Box::new(b))).parse(j),
        b"UID" => map(preceded(sp, sequence_set), K::Uid).parse(j),
        b"MODSEQ" => map(
            preceded(
                sp,
                (
                    // `entry-name SP entry-type-req SP`, present when a string follows.
                    opt(preceded(
                        peek(crate::core::lex::byte_where(|b| matches!(b, b'"' | b'{'))),
                        cut((
                            terminated(|k| string(k, cfg), sp),
                            terminated(entry_type, sp),
                        )),
                    )),
                    number64,
                ),
            ),
            |(entry, modseq)| K::ModSeq {
                entry: entry.map(|(name, ty)| (AString::from(name), ty)),
                modseq,
            },
        )
        .parse(j),
        b"OLDER" => map(preceded(sp, nz_number), K::Older).parse(j),
        b"YOUNGER" => map(preceded(sp, nz_number), K::Younger).parse(j),
        b"EMAILID" => map(preceded(sp, object_id), K::EmailId).parse(j),
        b"THREADID" => map(preceded(sp, object_id), K::ThreadId).parse(j),
        b"X-GM-LABELS" => map(preceded(sp, |k| gmail_label(k, cfg)), K::GmailLabels).parse(j),
        _ => fail(i, ParseErrorKind::Expected("search key")),
    }
}

/// Parses `"(" search-key *(SP search-key) ")"`.
fn search_keys_list<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
    depth: usize,
) -> PResult<'a, NonEmpty<SearchKey<'a>>> {
    let (rest, keys) = crate::core::lex::paren_list(i, false, |j| search_key(j, cfg, depth))?;
    Ok((rest, NonEmpty::from_parsed(keys)))
}

/// Parses `1*(SP search-key)` after the command arguments (leading SP included).
pub(crate) fn search_criteria<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, NonEmpty<SearchKey<'a>>> {
    match many0(preceded(sp, cut(|j| search_key(j, cfg, 1)))).parse(i)? {
        (_, keys) if keys.is_empty() => fail(i, ParseErrorKind::Expected("search key")),
        (rest, keys) => Ok((rest, NonEmpty::from_parsed(keys))),
    }
}

/// Parses `RETURN (opt *(SP opt))` (the keyword included).
pub(crate) fn search_return<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<SearchReturnOption>> {
    let (i, ()) = keyword(i, "RETURN")?;
    let (i, ()) = sp(i)?;
    crate::core::lex::paren_list(i, true, |j| {
        let (r, a) = atom(j, cfg)?;
        let o = match a.as_str().to_ascii_uppercase().as_str() {
            "MIN" => SearchReturnOption::Min,
            "MAX" => SearchReturnOption::Max,
            "ALL" => SearchReturnOption::All,
            "COUNT" => SearchReturnOption::Count,
            "SAVE" => SearchReturnOption::Save,
            "RELEVANCY" => SearchReturnOption::Relevancy,
            "PARTIAL" => {
                let (r, ()) = sp(r)?;
                let (r, range) = partial_range(r)?;
                return Ok((r, SearchReturnOption::Partial(range)));
            }
            _ => {
                return fail(
                    j,
                    ParseErrorKind::Expected("MIN, MAX, ALL, COUNT, SAVE, PARTIAL or RELEVANCY"),
                );
            }
        };
        Ok((r, o))
    })
}

/// Writes `RETURN (...)`.
pub(crate) fn encode_search_return(opts: &[SearchReturnOption], out: &mut Vec<u8>) {
    out.extend_from_slice(b"RETURN ");
    crate::encode::encode_list(opts, out);
}
