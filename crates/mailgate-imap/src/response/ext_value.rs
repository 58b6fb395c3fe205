//! `tagged-ext-val` (RFC 4466): the generic value of extension items in LIST and
//! ESEARCH responses.

use nom::Parser;
use nom::branch::alt;
use nom::combinator::map;
use nom::multi::many_till;
use nom::sequence::preceded;

use super::lex::{byte, check_depth, close, skip_sp};
use crate::config::ParserConfig;
use crate::core::number::number64;
use crate::core::sequence::{SeqItem, SeqNumber, SequenceSet, sequence_set};
use crate::core::string::{AString, astring};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail};

/// A generic extension value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaggedExtValue<'a> {
    /// A number (`number` / `number64`).
    Number(u64),
    /// A sequence set that is not a single number.
    SequenceSet(SequenceSet),
    /// `"(" [tagged-ext-comp] ")"`: a parenthesized list of strings and lists.
    List(Vec<TaggedExtComp<'a>>),
}

/// One element of a `tagged-ext-comp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaggedExtComp<'a> {
    /// A string.
    String(AString<'a>),
    /// A nested parenthesized list.
    List(Vec<TaggedExtComp<'a>>),
}

impl Encode for TaggedExtComp<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::String(s) => s.encode(out),
            Self::List(l) => {
                out.push(b'(');
                crate::encode::encode_separated(l, b' ', out);
                out.push(b')');
            }
        }
    }
}

impl Encode for TaggedExtValue<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Number(n) => encode_u64(*n, out),
            Self::SequenceSet(s) => s.encode(out),
            Self::List(l) => {
                out.push(b'(');
                crate::encode::encode_separated(l, b' ', out);
                out.push(b')');
            }
        }
    }
}

/// SP between components; anything else that does not close the list leaves it
/// unbalanced.
fn comp_sp(i: &[u8]) -> PResult<'_, ()> {
    match i.first() {
        Some(b' ') => Ok((&i[1..], ())),
        _ => fail(i, ParseErrorKind::UnbalancedParens),
    }
}

/// `tagged-ext-comp` items after `(` up to and including `)`; a component after a
/// space is committed to (`many_till` reports its error).
fn comp_items<'a>(
    i: &'a [u8],
    depth: usize,
    cfg: &ParserConfig,
) -> PResult<'a, Vec<TaggedExtComp<'a>>> {
    let (i, ()) = check_depth(i, depth, cfg)?;
    let i = skip_sp(i, cfg);
    if let [b')', rest @ ..] = i {
        return Ok((rest, Vec::new()));
    }
    let item = |j| {
        alt((
            map(
                preceded(|k| byte(k, b'(', "'('"), |k| comp_items(k, depth + 1, cfg)),
                TaggedExtComp::List,
            ),
            map(|k| astring(k, cfg), TaggedExtComp::String),
        ))
        .parse(j)
    };
    let (i, (first, (mut items, ()))) = (
        item,
        many_till(preceded(comp_sp, item), |j| close(j, b')', cfg)),
    )
        .parse(i)?;
    items.insert(0, first);
    Ok((i, items))
}

/// Parses a `tagged-ext-val`.
pub(crate) fn tagged_ext_val<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, TaggedExtValue<'a>> {
    match i.first() {
        Some(b'(') => {
            let (r, l) = comp_items(&i[1..], 1, cfg)?;
            Ok((r, TaggedExtValue::List(l)))
        }
        _ => {
            if let Ok((r, n)) = number64(i)
                && !matches!(r.first(), Some(b':' | b','))
            {
                return Ok((r, TaggedExtValue::Number(n)));
            }
            let (r, s) = sequence_set(i)?;
            Ok((r, simple_set(s)))
        }
    }
}

fn simple_set(s: SequenceSet) -> TaggedExtValue<'static> {
    if let [SeqItem::Single(SeqNumber::Value(n))] = s.items() {
        return TaggedExtValue::Number(u64::from(n.get()));
    }
    TaggedExtValue::SequenceSet(s)
}
