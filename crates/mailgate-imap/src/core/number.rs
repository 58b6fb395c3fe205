//! Numbers: `number` (32-bit), `nz-number`, `number64` and `mod-sequence-value`.

use std::num::NonZeroU32;

use nom::character::complete::digit1;

use crate::error::{PErr, PResult, ParseErrorKind, fail};

fn digits(i: &[u8]) -> PResult<'_, u64> {
    let Ok((rest, d)) = digit1::<_, PErr<'_>>(i) else {
        return fail(i, ParseErrorKind::Expected("number"));
    };
    if d.len() > 19 {
        return fail(i, ParseErrorKind::InvalidNumber);
    }
    let v = d.iter().fold(0u64, |v, &b| v * 10 + u64::from(b - b'0'));
    Ok((rest, v))
}

/// `number`: unsigned 32-bit.
pub(crate) fn number(i: &[u8]) -> PResult<'_, u32> {
    let (rest, v) = digits(i)?;
    match u32::try_from(v) {
        Ok(v) => Ok((rest, v)),
        Err(_) => fail(i, ParseErrorKind::InvalidNumber),
    }
}

/// `nz-number`: non-zero unsigned 32-bit, `digit-nz *DIGIT` (no leading zero).
pub(crate) fn nz_number(i: &[u8]) -> PResult<'_, NonZeroU32> {
    if let [b'0', b'0'..=b'9', ..] = i {
        return fail(i, ParseErrorKind::LeadingZero);
    }
    let (rest, v) = number(i)?;
    match NonZeroU32::new(v) {
        Some(v) => Ok((rest, v)),
        None => fail(i, ParseErrorKind::InvalidNumber),
    }
}

/// Largest `number64` value (2^63 - 1).
pub const NUMBER64_MAX: u64 = i64::MAX as u64;

/// `number64`: unsigned 63-bit.
pub(crate) fn number64(i: &[u8]) -> PResult<'_, u64> {
    let (rest, v) = digits(i)?;
    if v > NUMBER64_MAX {
        return fail(i, ParseErrorKind::InvalidNumber);
    }
    Ok((rest, v))
}

/// `mod-sequence-value` (RFC 7162): a non-zero `number64`.
pub(crate) fn mod_sequence_value(i: &[u8]) -> PResult<'_, u64> {
    match number64(i)? {
        (_, 0) => fail(i, ParseErrorKind::Rule("mod-sequence must not be zero")),
        r => Ok(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(number(b"4294967295 ").map(|r| r.1), Ok(u32::MAX));
        assert!(number(b"4294967296").is_err());
        assert!(number(b"x").is_err());
        assert!(nz_number(b"0").is_err());
        assert!(nz_number(b"007").is_err());
        assert_eq!(nz_number(b"70").map(|r| r.1.get()), Ok(70));
        assert_eq!(
            number64(b"9223372036854775807").map(|r| r.1),
            Ok(NUMBER64_MAX)
        );
        assert!(number64(b"9223372036854775808").is_err());
        assert!(number64(b"99999999999999999999").is_err());
        assert!(mod_sequence_value(b"0").is_err());
        assert_eq!(mod_sequence_value(b"07").map(|r| r.1), Ok(7));
    }
}
