//! `section-binary` of BINARY items; `section` itself is shared with the FETCH command
//! ([`crate::command::Section`]).

use std::num::NonZeroU32;

use super::lex::{byte, close};
use crate::config::ParserConfig;
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

/// Parses `"[" [section-part] "]"` (BINARY).
pub(crate) fn section_binary<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<NonZeroU32>> {
    let (i, ()) = byte(i, b'[', "'['")?;
    let (i, part) = crate::command::fetch::section_part(i)?;
    let (i, ()) = close(i, b']', cfg)?;
    Ok((i, part))
}
