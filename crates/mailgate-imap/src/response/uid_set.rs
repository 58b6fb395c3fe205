//! `uid-set`: UIDs and UID ranges without `*` (UIDPLUS, QRESYNC).

use std::fmt;
use std::num::NonZeroU32;

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{map, not, value};
use nom::multi::many_till;
use nom::sequence::preceded;

use crate::core::lex::byte;
use crate::core::number::nz_number;
use crate::encode::{Encode, encode_u64};
use crate::error::{PErr, PResult, ParseErrorKind, ValidationError};

/// A range of UIDs, `first:last` (a single UID when both are equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UidRange {
    /// First UID as sent.
    pub first: NonZeroU32,
    /// Last UID as sent (may be below `first`: the range is the same either way).
    pub last: NonZeroU32,
}

impl UidRange {
    /// A single UID.
    pub const fn single(uid: NonZeroU32) -> Self {
        Self {
            first: uid,
            last: uid,
        }
    }
}

/// A non-empty set of UIDs (`uid-set`, also `known-uids` of VANISHED).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UidSet(Vec<UidRange>);

impl UidSet {
    /// A set of the given ranges (at least one).
    pub fn try_new(ranges: Vec<UidRange>) -> Result<Self, ValidationError> {
        if ranges.is_empty() {
            return Err(ValidationError::new("uid-set", "must not be empty"));
        }
        Ok(Self(ranges))
    }

    /// The ranges in wire order.
    pub fn ranges(&self) -> &[UidRange] {
        &self.0
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.0.iter().any(|r| {
            let (a, b) = (r.first.get(), r.last.get());
            a.min(b) <= uid && uid <= a.max(b)
        })
    }
}

impl fmt::Debug for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UidSet({})", String::from_utf8_lossy(&self.to_vec()))
    }
}

impl Encode for UidSet {
    fn encode(&self, out: &mut Vec<u8>) {
        for (n, r) in self.0.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            encode_u64(u64::from(r.first.get()), out);
            if r.first != r.last {
                out.push(b':');
                encode_u64(u64::from(r.last.get()), out);
            }
        }
    }
}

/// A UID, with any error read as an invalid set at that place.
fn uid(i: &[u8]) -> PResult<'_, NonZeroU32> {
    nz_number(i).map_err(|_| bad(i))
}

/// `uid-range`: `uniqueid [":" uniqueid]`, committed to after the colon.
fn uid_range(i: &[u8]) -> PResult<'_, UidRange> {
    let colon = |j| byte(b':', "':'")(j);
    map(
        (
            uid,
            alt((map(preceded(colon, uid), Some), value(None, not(colon)))),
        ),
        |(first, last)| UidRange {
            first,
            last: last.unwrap_or(first),
        },
    )
    .parse(i)
}

/// Parses a `uid-set`: `uid-range *("," uid-range)`, a range after a comma committed
/// to (`many_till` reports its error).
pub(crate) fn uid_set(i: &[u8]) -> PResult<'_, UidSet> {
    let comma = |j| byte(b',', "','")(j);
    let (i, (first, (mut ranges, ()))) =
        (uid_range, many_till(preceded(comma, uid_range), not(comma))).parse(i)?;
    ranges.insert(0, first);
    Ok((i, UidSet(ranges)))
}

fn bad(i: &[u8]) -> nom::Err<PErr<'_>> {
    nom::Err::Error(PErr::new(i, ParseErrorKind::BadSequenceSet))
}
