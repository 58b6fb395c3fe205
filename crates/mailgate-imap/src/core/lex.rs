//! Small lexical parsers shared by the grammar: single bytes, SP, CRLF, keywords.

use crate::config::ParserConfig;
use crate::error::{PResult, ParseErrorKind, fail};

/// Expects the byte `c`; `what` names it in the error.
#[inline]
pub(crate) fn byte(c: u8, what: &'static str) -> impl Fn(&[u8]) -> PResult<'_, ()> {
    move |i: &[u8]| match i.first() {
        Some(&b) if b == c => Ok((&i[1..], ())),
        _ => fail(i, ParseErrorKind::Expected(what)),
    }
}

/// One byte for which `pred` holds. nom's `satisfy` and `one_of` read the bytes of a
/// byte slice as chars and step by their UTF-8 length: on an 8-bit byte at the end of
/// the input they slice past it and panic.
#[inline]
pub(crate) fn byte_where(pred: impl Fn(u8) -> bool) -> impl Fn(&[u8]) -> PResult<'_, u8> {
    move |i: &[u8]| match i.first() {
        Some(&b) if pred(b) => Ok((&i[1..], b)),
        _ => fail(i, ParseErrorKind::Expected("another byte")),
    }
}

/// Expects one space.
#[inline]
pub(crate) fn sp(i: &[u8]) -> PResult<'_, ()> {
    match i.first() {
        Some(b' ') => Ok((&i[1..], ())),
        _ => fail(i, ParseErrorKind::Expected("SP")),
    }
}

/// Expects the line end: CRLF, or with `allow_bare_lf` a lone LF; with
/// `allow_trailing_space`, spaces before it are skipped.
#[inline]
pub(crate) fn crlf<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ()> {
    let mut i = i;
    if cfg.allow_trailing_space {
        while let [b' ', rest @ ..] = i {
            i = rest;
        }
    }
    match i {
        [b'\r', b'\n', rest @ ..] => Ok((rest, ())),
        [b'\n', rest @ ..] if cfg.allow_bare_lf => Ok((rest, ())),
        [b'\n', ..] => fail(i, ParseErrorKind::BareLf),
        [0, ..] => fail(i, ParseErrorKind::Nul),
        _ => fail(i, ParseErrorKind::Expected("CRLF")),
    }
}

/// Tests whether `i` starts with `kw` (ASCII case-insensitive) and returns the rest.
#[inline]
pub(crate) fn starts_with_ci<'a>(i: &'a [u8], kw: &[u8]) -> Option<&'a [u8]> {
    if i.len() >= kw.len() && i[..kw.len()].eq_ignore_ascii_case(kw) {
        Some(&i[kw.len()..])
    } else {
        None
    }
}

/// Expects the keyword `kw` (ASCII case-insensitive).
#[inline]
pub(crate) fn keyword<'a>(i: &'a [u8], kw: &'static str) -> PResult<'a, ()> {
    match starts_with_ci(i, kw.as_bytes()) {
        Some(rest) => Ok((rest, ())),
        None => fail(i, ParseErrorKind::Expected(kw)),
    }
}

/// A parser for the keyword `kw` (ASCII case-insensitive), for use in combinators.
#[inline]
pub(crate) fn kw(kw: &'static str) -> impl Fn(&[u8]) -> PResult<'_, ()> {
    move |i: &[u8]| keyword(i, kw)
}

/// A parser for `kw` followed by a byte that cannot continue an atom, so that `NONE`
/// does not match the start of `NONEXISTENT`.
#[inline]
pub(crate) fn word(kw: &'static str) -> impl Fn(&[u8]) -> PResult<'_, ()> {
    move |i: &[u8]| {
        let (r, ()) = keyword(i, kw)?;
        match r.first() {
            Some(&b) if crate::core::chars::is(b, crate::core::chars::ATOM) => {
                fail(i, ParseErrorKind::Expected(kw))
            }
            _ => Ok((r, ())),
        }
    }
}

/// Parses `"(" item *(SP item) ")"` (non-empty when `allow_empty` is false).
///
/// Hand-written on purpose (measured): as `many_till(preceded(SP, item), ")")` (an item
/// after a separator must report its own error, which `separated_list1` would drop), it
/// made the command corpus of `benches/imap.rs` 7 points slower against the hand-written
/// grammar (18 % instead of 11 % at that step; best of 40 runs, both in one process),
/// with commands at 3.0x imap-codec against a floor of 2.5x.
pub(crate) fn paren_list<'a, T>(
    i: &'a [u8],
    allow_empty: bool,
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let (mut i, ()) = byte(b'(', "(")(i)?;
    let mut out = Vec::new();
    if let [b')', rest @ ..] = i {
        if allow_empty {
            return Ok((rest, out));
        }
        return fail(i, ParseErrorKind::Expected("list item"));
    }
    loop {
        let (rest, v) = item(i)?;
        out.push(v);
        match rest {
            [b' ', r @ ..] => i = r,
            [b')', r @ ..] => return Ok((r, out)),
            _ => return fail(rest, ParseErrorKind::UnbalancedParens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends() {
        let strict = ParserConfig::strict();
        let lenient = ParserConfig::lenient();
        assert!(crlf(b"\r\n", &strict).is_ok());
        assert!(crlf(b"\n", &strict).is_err());
        assert!(crlf(b"  \n", &lenient).is_ok());
        assert!(crlf(b" \r\n", &strict).is_err());
        assert_eq!(
            keyword(b"uid FETCH", "UID").map(|r| r.0),
            Ok(&b" FETCH"[..])
        );
    }
}
