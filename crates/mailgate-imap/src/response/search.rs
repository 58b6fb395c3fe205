//! SEARCH, SORT, ESEARCH and THREAD responses.

use std::num::NonZeroU32;

use super::ext_value::{TaggedExtValue, tagged_ext_val};
use super::lex::{byte, check_depth, close, mod_sequence_value, nil, quirks, skip_sp, sp};
use crate::command::PartialRange;
use crate::command::search_partial_range as partial_range;
use crate::config::ParserConfig;
use crate::core::NonEmpty;
use crate::core::atom::{Atom, atom};
use crate::core::lex::starts_with_ci;
use crate::core::number::{number, nz_number};
use crate::core::sequence::{SequenceSet, sequence_set};
use crate::core::string::{IString, astring};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// Parses `*(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]`.
pub(crate) fn search_numbers<'a>(
    mut i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, (Vec<NonZeroU32>, Option<u64>)> {
    let mut numbers = Vec::new();
    while let [b' ', rest @ ..] = i {
        match rest.first() {
            Some(b'0'..=b'9') => {
                let (r, n) = nz_number(rest)?;
                numbers.push(n);
                i = r;
            }
            Some(b'(') => {
                let Some(r) = starts_with_ci(rest, b"(MODSEQ ") else {
                    return fail(rest, ParseErrorKind::Expected("(MODSEQ"));
                };
                let (r, m) = mod_sequence_value(r, cfg)?;
                let (r, ()) = close(r, b')', cfg)?;
                return Ok((r, (numbers, Some(m))));
            }
            Some(b' ' | b'\r' | b'\n') if quirks(cfg) => i = rest,
            _ => return fail(rest, ParseErrorKind::Expected("number")),
        }
    }
    Ok((i, (numbers, None)))
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
    let mut i = i;
    let mut tag = None;
    if let [b' ', b'(', ..] = i {
        let Some(r) = starts_with_ci(&i[2..], b"TAG ") else {
            return fail(&i[2..], ParseErrorKind::Expected("TAG"));
        };
        let (r, t) = astring(r, cfg)?;
        let (r, ()) = close(r, b')', cfg)?;
        tag = Some(IString::from(t));
        i = r;
    }
    if quirks(cfg) {
        // Extra spaces before `UID` too (they are skipped between return data below).
        while let [b' ', b' ', ..] = i {
            i = i.get(1..).unwrap_or_default();
        }
    }
    let mut uid = false;
    if let Some(r) = starts_with_ci(i, b" UID")
        && matches!(r.first(), Some(b' ' | b'\r' | b'\n') | None)
    {
        uid = true;
        i = r;
    }
    let mut data = Vec::new();
    while let [b' ', rest @ ..] = i {
        if quirks(cfg) && matches!(rest.first(), Some(b' ' | b'\r' | b'\n')) {
            i = rest;
            continue;
        }
        let (r, d) = return_data(rest, cfg)?;
        data.push(d);
        i = r;
    }
    Ok((i, ESearch { tag, uid, data }))
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
fn thread_nested<'a>(i: &'a [u8], depth: usize, cfg: &ParserConfig) -> PResult<'a, Vec<Thread>> {
    let mut out = Vec::new();
    let mut i = i;
    while i.first() == Some(&b'(') {
        let (r, t) = thread_list(i, depth, cfg)?;
        out.push(t);
        i = r;
        if quirks(cfg) && skip_sp(i, cfg).first() == Some(&b'(') {
            i = skip_sp(i, cfg);
        }
    }
    Ok((i, out))
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
    match i {
        [b' ', r @ ..] if r.first() == Some(&b'(') => {
            let (r, threads) = thread_nested(r, 1, cfg)?;
            Ok((r, threads))
        }
        _ => Ok((i, Vec::new())),
    }
}
