//! `section-binary` of BINARY items; `section` itself is shared with the FETCH command
//! ([`crate::command::Section`]).

use std::num::NonZeroU32;

use super::lex::{byte, close};
use crate::config::ParserConfig;
use crate::core::number::nz_number;
use crate::encode::encode_u64;
use crate::error::PResult;

/// Writes part numbers separated by dots.
pub(crate) fn encode_part(part: &[NonZeroU32], out: &mut Vec<u8>) {
    for (n, p) in part.iter().enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        encode_u64(p.get().into(), out);
    }
}

/// Parses `nz-number *("." nz-number)`, stopping before a `.` not followed by a digit.
fn part_numbers(i: &[u8]) -> PResult<'_, Vec<NonZeroU32>> {
    let mut out = Vec::new();
    let mut i = i;
    while i.first().is_some_and(u8::is_ascii_digit) {
        let (r, n) = nz_number(i)?;
        out.push(n);
        match r {
            [b'.', d, ..] if d.is_ascii_digit() => i = &r[1..],
            _ => return Ok((r, out)),
        }
    }
    Ok((i, out))
}

/// Parses `"[" [section-part] "]"` (BINARY).
pub(crate) fn section_binary<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<NonZeroU32>> {
    let (i, ()) = byte(i, b'[', "'['")?;
    let (i, part) = part_numbers(i)?;
    let (i, ()) = close(i, b']', cfg)?;
    Ok((i, part))
}
