//! Sequence sets: `1:4,7,9:*` and `$` (SEARCHRES, RFC 5182).

use std::fmt;
use std::num::NonZeroU32;

use super::number::nz_number;
use crate::encode::{Encode, encode_u64};
use nom::Parser;
use nom::branch::alt;
use nom::combinator::{eof, map, not, peek, value};
use nom::multi::many_till;
use nom::sequence::preceded;

use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// `seq-number`: a message number or UID, or `*` for the largest one in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A number.
    Value(NonZeroU32),
    /// `*`: the largest number in use.
    Largest,
}

/// One element of a sequence set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqItem {
    /// A single number.
    Single(SeqNumber),
    /// `a:b`, in either order.
    Range(SeqNumber, SeqNumber),
}

/// `sequence-set`: a non-empty list of numbers and ranges, or `$` (the saved SEARCH result).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Saved,
    Items(Vec<SeqItem>),
}

impl SequenceSet {
    /// `$`: the result saved by `SEARCH RETURN (SAVE)`.
    pub const fn saved() -> Self {
        Self(Repr::Saved)
    }

    /// A set of the given items (at least one).
    pub fn try_new(items: Vec<SeqItem>) -> Result<Self, ValidationError> {
        if items.is_empty() {
            Err(ValidationError::new("sequence set", "must not be empty"))
        } else {
            Ok(Self(Repr::Items(items)))
        }
    }

    /// A set of one number.
    pub fn single(n: NonZeroU32) -> Self {
        Self(Repr::Items(vec![SeqItem::Single(SeqNumber::Value(n))]))
    }

    /// Whether this is `$`.
    pub fn is_saved(&self) -> bool {
        matches!(self.0, Repr::Saved)
    }

    /// The items (empty for `$`).
    pub fn items(&self) -> &[SeqItem] {
        match &self.0 {
            Repr::Saved => &[],
            Repr::Items(v) => v,
        }
    }

    /// Whether `n` is in the set, `largest` being the value of `*`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let v = |s: &SeqNumber| match s {
            SeqNumber::Value(v) => v.get(),
            SeqNumber::Largest => largest,
        };
        self.items().iter().any(|item| match item {
            SeqItem::Single(s) => v(s) == n,
            SeqItem::Range(a, b) => {
                let (a, b) = (v(a), v(b));
                a.min(b) <= n && n <= a.max(b)
            }
        })
    }
}

impl fmt::Debug for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SequenceSet({})",
            String::from_utf8_lossy(&self.to_vec())
        )
    }
}

impl Encode for SeqNumber {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Value(n) => encode_u64(u64::from(n.get()), out),
            Self::Largest => out.push(b'*'),
        }
    }
}

impl Encode for SequenceSet {
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Saved => out.push(b'$'),
            Repr::Items(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match item {
                        SeqItem::Single(n) => n.encode(out),
                        SeqItem::Range(a, b) => {
                            a.encode(out);
                            out.push(b':');
                            b.encode(out);
                        }
                    }
                }
            }
        }
    }
}

#[inline]
pub(crate) fn seq_number(i: &[u8]) -> PResult<'_, SeqNumber> {
    match i.first() {
        Some(b'*') => Ok((&i[1..], SeqNumber::Largest)),
        Some(b'0'..=b'9') => match nz_number(i) {
            Ok((rest, n)) => Ok((rest, SeqNumber::Value(n))),
            Err(nom::Err::Error(e)) if e.kind == ParseErrorKind::LeadingZero => {
                fail(i, ParseErrorKind::LeadingZero)
            }
            Err(_) => fail(i, ParseErrorKind::BadSequenceSet),
        },
        _ => fail(i, ParseErrorKind::BadSequenceSet),
    }
}

/// Where a sequence set may end: SP, `)`, `]`, the line end or the end of input.
fn set_end(i: &[u8]) -> PResult<'_, ()> {
    peek(alt((
        value(
            (),
            crate::core::lex::byte_where(|b| matches!(b, b' ' | b')' | b']' | b'\r' | b'\n')),
        ),
        value((), eof),
    )))
    .parse(i)
}

/// `","` between items; anything else that does not end the set is invalid.
fn set_comma(i: &[u8]) -> PResult<'_, ()> {
    match i.first() {
        Some(b',') => Ok((&i[1..], ())),
        _ => fail(i, ParseErrorKind::BadSequenceSet),
    }
}

/// `seq-number [":" seq-number]`, committed to after the colon.
fn seq_item(i: &[u8]) -> PResult<'_, SeqItem> {
    let colon = |j| crate::core::lex::byte(b':', "':'")(j);
    map(
        (
            seq_number,
            alt((
                map(preceded(colon, seq_number), Some),
                value(None, not(colon)),
            )),
        ),
        |(a, b)| match b {
            Some(b) => SeqItem::Range(a, b),
            None => SeqItem::Single(a),
        },
    )
    .parse(i)
}

/// Parses a `sequence-set` (with `$`): items separated by `,`, an item after a comma
/// committed to (`many_till` reports its error).
pub(crate) fn sequence_set(i: &[u8]) -> PResult<'_, SequenceSet> {
    if let [b'$', rest @ ..] = i {
        return match set_end(rest) {
            Ok(_) => Ok((rest, SequenceSet::saved())),
            Err(_) => fail(rest, ParseErrorKind::BadSequenceSet),
        };
    }
    let (i, (first, (mut items, ()))) =
        (seq_item, many_till(preceded(set_comma, seq_item), set_end)).parse(i)?;
    items.insert(0, first);
    Ok((i, SequenceSet(Repr::Items(items))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid() {
        for ok in ["1", "1:4,7,9:*", "*", "*:3", "$", "2,4:7,9,12:*"] {
            let (rest, s) = sequence_set(format!("{ok} ").as_bytes())
                .map(|(r, s)| (r.to_vec(), s))
                .unwrap();
            assert_eq!(rest, b" ");
            assert_eq!(s.to_vec(), ok.as_bytes());
        }
        for bad in [
            "0",
            "1:",
            ":1",
            "1,,2",
            "1,",
            "a",
            "1:0",
            "4294967296",
            "1.2",
            "$,1",
        ] {
            assert!(sequence_set(format!("{bad} ").as_bytes()).is_err(), "{bad}");
        }
        let s = sequence_set(b"2:4,9:* ").unwrap().1;
        assert!(s.contains(3, 10) && s.contains(10, 10) && !s.contains(5, 10));
    }
}
