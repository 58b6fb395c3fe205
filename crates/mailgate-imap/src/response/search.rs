//! SEARCH, SORT, ESEARCH and THREAD responses.

use std::num::NonZeroU32;

use super::ext_value::{TaggedExtValue, tagged_ext_val};
use crate::core::lex::byte_where;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::take_while1;
use nom::combinator::{cut, eof, map, not, opt, peek, value};
use nom::multi::{many_till, many0};
use nom::sequence::{preceded, terminated};

use super::lex::{
    byte, check_depth, close, items_end, mod_sequence_value, nil, quirks, sp, sp_items,
};
use crate::command::PartialRange;
use crate::command::search_partial_range as partial_range;
use crate::config::ParserConfig;
use crate::core::NonEmpty;
use crate::core::atom::{Atom, atom};
use crate::core::lex::kw;
use crate::core::number::{number, nz_number};
use crate::core::sequence::{SequenceSet, sequence_set};
use crate::core::string::{IString, astring};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

fn byte_sp(i: &[u8]) -> PResult<'_, ()> {
    crate::core::lex::sp(i)
}

fn byte_open(i: &[u8]) -> PResult<'_, ()> {
    byte(i, b'(', "'('")
}

/// `TAG SP`.
fn tag_keyword(i: &[u8]) -> PResult<'_, ()> {
    match kw("TAG ")(i) {
        Err(_) => fail(i, ParseErrorKind::Expected("TAG")),
        ok => ok,
    }
}

/// One or more spaces.
fn byte_sp_run(i: &[u8]) -> PResult<'_, ()> {
    value((), take_while1(|b| b == b' ')).parse(i)
}

/// Parses `*(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]`.
pub(crate) fn search_numbers<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, (Vec<NonZeroU32>, Option<u64>)> {
    let number = |j: &'a [u8]| match j.first() {
        Some(b'(') => fail(j, ParseErrorKind::Expected("(MODSEQ")),
        _ => nz_number(j),
    };
    // Committed to after `(MODSEQ `: its errors are reported, not read as the end.
    let mod_seq = preceded(
        kw("(MODSEQ "),
        cut(terminated(
            |j| mod_sequence_value(j, cfg),
            |j| close(j, b')', cfg),
        )),
    );
    let end = alt((
        map(preceded(|j| sp(j, cfg), mod_seq), Some),
        value(None, |j| items_end(j, cfg)),
    ));
    many_till(preceded(|j| sp(j, cfg), number), end).parse(i)
}

/// One item of ESEARCH return data (`search-return-data`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturnData<'a> {
    /// `MIN n`.
    Min(NonZeroU32),
    /// `MAX n`.
    Max(NonZeroU32),
    /// `ALL set`.
    All(SequenceSet),
    /// `COUNT n`.
    Count(u32),
    /// `MODSEQ n` (RFC 7162).
    ModSeq(u64),
    /// `PARTIAL (range results)` (RFC 9394): the page asked for and the matches in
    /// it (`None` for `NIL`, no match).
    Partial {
        /// The range of the request.
        range: PartialRange,
        /// Matching message numbers or UIDs.
        results: Option<SequenceSet>,
    },
    /// `RELEVANCY (score ...)` (RFC 6203): one score from 1 to 100 per match.
    Relevancy(NonEmpty<u8>),
    /// Any other item: a name (not one of the above) and a value.
    Other {
        /// Return item name.
        name: Atom<'a>,
        /// Its value.
        value: TaggedExtValue<'a>,
    },
}

impl Encode for SearchReturnData<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Min(n) => {
                out.extend_from_slice(b"MIN ");
                encode_u64(n.get().into(), out);
            }
            Self::Max(n) => {
                out.extend_from_slice(b"MAX ");
                encode_u64(n.get().into(), out);
            }
            Self::All(s) => {
                out.extend_from_slice(b"ALL ");
                s.encode(out);
            }
            Self::Count(n) => {
                out.extend_from_slice(b"COUNT ");
                encode_u64((*n).into(), out);
            }
            Self::ModSeq(n) => {
                out.extend_from_slice(b"MODSEQ ");
                encode_u64(*n, out);
            }
            Self::Partial { range, results } => {
                out.extend_from_slice(b"PARTIAL (");
                range.encode(out);
                out.push(b' ');
                match results {
                    Some(s) => s.encode(out),
                    None => out.extend_from_slice(b"NIL"),
                }
                out.push(b')');
            }
            Self::Relevancy(scores) => {
                out.extend_from_slice(b"RELEVANCY (");
                for (n, s) in scores.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    encode_u64((*s).into(), out);
                }
                out.push(b')');
            }
            Self::Other { name, value } => {
                name.encode(out);
                out.push(b' ');
                value.encode(out);
            }
        }
    }
}

/// An ESEARCH response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ESearch<'a> {
    /// `(TAG "...")`: the tag of the SEARCH command answered.
    pub tag: Option<IString<'a>>,
    /// `UID`: the numbers are UIDs.
    pub uid: bool,
    /// Return data.
    pub data: Vec<SearchReturnData<'a>>,
}

impl Encode for ESearch<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"ESEARCH");
        if let Some(t) = &self.tag {
            out.extend_from_slice(b" (TAG ");
            t.encode(out);
            out.push(b')');
        }
        if self.uid {
            out.extend_from_slice(b" UID");
        }
        for d in &self.data {
            out.push(b' ');
            d.encode(out);
        }
    }
}

fn return_data<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, SearchReturnData<'a>> {
    let (r, name) = atom(i, cfg)?;
    let (r, ()) = sp(r, cfg)?;
    let is = |k: &str| name.as_str().eq_ignore_ascii_case(k);
    if is("UID") {
        // `UID` is the flag that comes before any return data, never an item of it: taken as
        // one, it would be written back as the flag.
        return fail(
            i,
            ParseErrorKind::Expected("search return data other than UID"),
        );
    }
    if is("MIN") {
        nz_number(r).map(|(r, n)| (r, SearchReturnData::Min(n)))
    } else if is("MAX") {
        nz_number(r).map(|(r, n)| (r, SearchReturnData::Max(n)))
    } else if is("ALL") {
        sequence_set(r).map(|(r, s)| (r, SearchReturnData::All(s)))
    } else if is("COUNT") {
        number(r).map(|(r, n)| (r, SearchReturnData::Count(n)))
    } else if is("MODSEQ") {
        mod_sequence_value(r, cfg).map(|(r, n)| (r, SearchReturnData::ModSeq(n)))
    } else if is("PARTIAL") {
        partial_data(r, cfg)
    } else if is("RELEVANCY") {
        relevancy(r, cfg)
    } else {
        let (r, value) = tagged_ext_val(r, cfg)?;
        Ok((r, SearchReturnData::Other { name, value }))
    }
}

/// Parses `"(" partial-range SP (sequence-set / NIL) ")"`.
fn partial_data<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, SearchReturnData<'a>> {
    let (i, ()) = byte(i, b'(', "'('")?;
    let (i, range) = partial_range(i)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, results) = match nil(i) {
        Some(r) => (r, None),
        None => sequence_set(i).map(|(r, s)| (r, Some(s)))?,
    };
    let (i, ()) = close(i, b')', cfg)?;
    Ok((i, SearchReturnData::Partial { range, results }))
}

/// Parses `"(" score *(SP score) ")"` with scores from 1 to 100.
fn relevancy<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, SearchReturnData<'a>> {
    let (r, scores) = super::lex::list(i, false, cfg, |j| {
        let (r, n) = nz_number(j)?;
        match u8::try_from(n.get()) {
            Ok(s) if s <= 100 => Ok((r, s)),
            _ => fail(j, ParseErrorKind::Rule("relevancy score must be 1 to 100")),
        }
    })?;
    match NonEmpty::try_new(scores) {
        Ok(s) => Ok((r, SearchReturnData::Relevancy(s))),
        Err(_) => fail(i, ParseErrorKind::Expected("relevancy score")),
    }
}

/// Parses what follows `ESEARCH`.
pub(crate) fn esearch<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ESearch<'a>> {
    // `SP "(" "TAG" SP tag-string ")"`, committed to after `SP (`.
    let tag = alt((
        map(
            preceded(
                kw(" ("),
                terminated(preceded(tag_keyword, |j| astring(j, cfg)), |j| {
                    close(j, b')', cfg)
                }),
            ),
            |t| Some(IString::from(t)),
        ),
        value(None, not(kw(" ("))),
    ));
    // With quirks, extra spaces before `UID` too (they are skipped between return data
    // by `sp_items`).
    let extra_spaces = |j| {
        if quirks(cfg) {
            value((), many0(terminated(byte_sp, peek(byte_sp)))).parse(j)
        } else {
            Ok((j, ()))
        }
    };
    let uid = map(
        opt(terminated(
            kw(" UID"),
            peek(alt((
                value((), byte_where(|b| matches!(b, b' ' | b'\r' | b'\n'))),
                value((), eof),
            ))),
        )),
        |u| u.is_some(),
    );
    map(
        (tag, preceded(extra_spaces, uid), |j| {
            sp_items(j, cfg, |k| return_data(k, cfg))
        }),
        |(tag, uid, data)| ESearch { tag, uid, data },
    )
    .parse(i)
}

/// A thread of messages (`thread-list`, RFC 5256): a chain of messages, then the
/// sub-threads branching from the last one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Thread {
    members: Vec<NonZeroU32>,
    children: Vec<Thread>,
}

impl Thread {
    /// A thread: `members` in order, then `children` (none, or at least two; at least
    /// two when there are no members).
    pub fn try_new(
        members: Vec<NonZeroU32>,
        children: Vec<Thread>,
    ) -> Result<Self, ValidationError> {
        if children.len() == 1 || (members.is_empty() && children.len() < 2) {
            return Err(ValidationError::new(
                "thread",
                "needs members, and zero or at least two sub-threads",
            ));
        }
        Ok(Self { members, children })
    }

    /// The chain of messages.
    pub fn members(&self) -> &[NonZeroU32] {
        &self.members
    }

    /// The sub-threads after the chain.
    pub fn children(&self) -> &[Thread] {
        &self.children
    }
}

impl Encode for Thread {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        for (n, m) in self.members.iter().enumerate() {
            if n > 0 {
                out.push(b' ');
            }
            encode_u64(m.get().into(), out);
        }
        if !self.children.is_empty() {
            if !self.members.is_empty() {
                out.push(b' ');
            }
            for c in &self.children {
                c.encode(out);
            }
        }
        out.push(b')');
    }
}

/// Parses one or more concatenated thread lists (with quirks, spaces between them).
/// A thread list after another is committed to (`many_till` reports its error).
fn thread_nested<'a>(i: &'a [u8], depth: usize, cfg: &ParserConfig) -> PResult<'a, Vec<Thread>> {
    let between = |j| {
        if quirks(cfg) {
            value((), opt(terminated(byte_sp_run, peek(byte_open)))).parse(j)
        } else {
            Ok((j, ()))
        }
    };
    map(
        many_till(
            terminated(|j| thread_list(j, depth, cfg), between),
            not(byte_open),
        ),
        |(threads, ())| threads,
    )
    .parse(i)
}

fn thread_list<'a>(i: &'a [u8], depth: usize, cfg: &ParserConfig) -> PResult<'a, Thread> {
    let (i, ()) = check_depth(i, depth, cfg)?;
    let (mut i, ()) = byte(i, b'(', "'('")?;
    let mut members = Vec::new();
    let mut children = Vec::new();
    loop {
        match i.first() {
            Some(b'0'..=b'9') => {
                let (r, n) = nz_number(i)?;
                members.push(n);
                i = r;
                match i {
                    [b' ', r @ ..] => i = r,
                    _ => break,
                }
            }
            Some(b'(') => {
                let (r, c) = thread_nested(i, depth + 1, cfg)?;
                children = c;
                i = r;
                break;
            }
            _ => break,
        }
    }
    let (i, ()) = close(i, b')', cfg)?;
    if children.len() == 1 && quirks(cfg) {
        // `(1 (2))`: a single sub-thread continues the chain.
        if let Some(c) = children.pop() {
            members.extend(c.members);
            children = c.children;
        }
    }
    match Thread::try_new(members, children) {
        Ok(t) => Ok((i, t)),
        Err(_) => fail(
            i,
            ParseErrorKind::Expected("thread members or two sub-threads"),
        ),
    }
}

/// Parses what follows `THREAD`: `[SP 1*thread-list]`.
pub(crate) fn thread_lists<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<Thread>> {
    let start = |j| (byte_sp, byte_open).parse(j);
    alt((
        preceded(terminated(byte_sp, peek(byte_open)), |j| {
            thread_nested(j, 1, cfg)
        }),
        value(Vec::new(), not(start)),
    ))
    .parse(i)
}
