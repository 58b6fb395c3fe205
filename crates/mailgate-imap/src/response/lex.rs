//! Lexical helpers shared by the response parsers, with the leniency switches applied.

use std::borrow::Cow;

use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::take_while;
use nom::combinator::{map, not, peek, value};
use nom::multi::many_till;
use nom::sequence::{preceded, terminated};

use crate::config::ParserConfig;
use crate::core::chars::{ATOM, QUOTED, is, span};
use crate::core::lex::{byte_where, kw};
use crate::core::string::{self, IString, NString};
use crate::error::{PErr, PResult, ParseErrorKind, fail};

/// Whether the tolerances for known server quirks are on.
#[inline]
pub(crate) fn quirks(cfg: &ParserConfig) -> bool {
    cfg.allow_server_quirks
}

/// Spaces, none or more.
#[inline]
fn spaces(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while(|b| b == b' ').parse(i)
}

/// One space; with quirks, a run of spaces.
#[inline]
pub(crate) fn sp<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ()> {
    let (i, ()) = crate::core::lex::sp(i)?;
    Ok((skip_sp(i, cfg), ()))
}

/// With quirks, skips spaces (before a closing parenthesis, between list items that
/// the grammar writes without a separator).
#[inline]
pub(crate) fn skip_sp<'a>(i: &'a [u8], cfg: &ParserConfig) -> &'a [u8] {
    if !quirks(cfg) {
        return i;
    }
    spaces(i).map_or(i, |(rest, _)| rest)
}

/// Expects `c` (after optional spaces with quirks).
#[inline]
pub(crate) fn close<'a>(i: &'a [u8], c: u8, cfg: &ParserConfig) -> PResult<'a, ()> {
    let i = skip_sp(i, cfg);
    match byte(i, c, "closing bracket") {
        Err(_) if c == b')' => fail(i, ParseErrorKind::UnbalancedParens),
        r => r,
    }
}

/// Expects `c`.
#[inline]
pub(crate) fn byte<'a>(i: &'a [u8], c: u8, what: &'static str) -> PResult<'a, ()> {
    crate::core::lex::byte(c, what)(i)
}

/// Expects `NIL` (case-insensitive) not followed by an atom character.
#[inline]
pub(crate) fn nil(i: &[u8]) -> Option<&[u8]> {
    terminated(kw("NIL"), not(byte_where(|b| is(b, ATOM))))
        .parse(i)
        .ok()
        .map(|(rest, ())| rest)
}

/// The end of a space-separated list: no space ahead; with quirks also spaces before
/// the line end (taken).
#[inline]
pub(crate) fn items_end<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ()> {
    let trailing = |j| {
        if quirks(cfg) {
            value(
                (),
                terminated(spaces, peek(byte_where(|b| matches!(b, b'\r' | b'\n')))),
            )
            .parse(j)
        } else {
            fail(j, ParseErrorKind::Expected("line end"))
        }
    };
    alt((not(crate::core::lex::sp), trailing)).parse(i)
}

/// Space-separated items up to anything that is not a space (`*(SP item)`). An item
/// after a space is committed to: `many_till` reports its error, where `many0` would
/// backtrack to the space. With quirks, runs of spaces separate items, and spaces
/// before the line end close the list.
#[inline]
pub(crate) fn sp_items<'a, T>(
    i: &'a [u8],
    cfg: &ParserConfig,
    item: impl Parser<&'a [u8], Output = T, Error = PErr<'a>>,
) -> PResult<'a, Vec<T>> {
    map(
        many_till(preceded(|j| sp(j, cfg), item), |j| items_end(j, cfg)),
        |(items, ())| items,
    )
    .parse(i)
}

/// A quoted string that, with quirks, keeps a backslash before a character other than
/// `"` and `\` as a literal backslash (Gmail, some Exchange versions).
fn quoted_tolerant(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    let body = match i {
        [b'"', rest @ ..] => rest,
        _ => return fail(i, ParseErrorKind::Expected("quoted string")),
    };
    let mut out = Vec::new();
    let mut n = 0;
    loop {
        let m = span(&body[n..], QUOTED);
        out.extend_from_slice(&body[n..n + m]);
        n += m;
        match body.get(n) {
            Some(b'"') => {
                if std::str::from_utf8(&out).is_err() {
                    return fail(body, ParseErrorKind::NotUtf8);
                }
                return Ok((&body[n + 1..], Cow::Owned(out)));
            }
            Some(b'\\') => match body.get(n + 1) {
                Some(&c @ (b'"' | b'\\')) => {
                    out.push(c);
                    n += 2;
                }
                Some(b'\r' | b'\n') | None => {
                    return fail(&body[n..], ParseErrorKind::Expected("closing '\"'"));
                }
                Some(_) => {
                    out.push(b'\\');
                    n += 1;
                }
            },
            Some(&b) if b >= 0x80 => {
                out.push(b);
                n += 1;
            }
            Some(0) => return fail(&body[n..], ParseErrorKind::Nul),
            Some(_) => return fail(&body[n..], ParseErrorKind::Expected("closing '\"'")),
            None => return fail(i, ParseErrorKind::Expected("closing '\"'")),
        }
    }
}

/// A `string`; with quirks a tolerant quoted string.
#[inline]
pub(crate) fn istring<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, IString<'a>> {
    match string::string(i, cfg) {
        Err(nom::Err::Error(e)) if quirks(cfg) && i.first() == Some(&b'"') => {
            match quoted_tolerant(i) {
                Ok((rest, v)) => Ok((rest, IString::from_parsed(v))),
                Err(_) => Err(nom::Err::Error(e)),
            }
        }
        r => r,
    }
}

/// An `nstring`; with quirks a tolerant quoted string.
#[inline]
pub(crate) fn nstring<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NString<'a>> {
    if let Some(rest) = nil(i) {
        return Ok((rest, NString(None)));
    }
    let (rest, s) = istring(i, cfg)?;
    Ok((rest, NString(Some(s))))
}

/// A `string` where, with quirks, `NIL` is read as the empty string (servers that send
/// `NIL` for a parameter value or an encoding).
#[inline]
pub(crate) fn string_or_nil<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, IString<'a>> {
    if quirks(cfg)
        && let Some(rest) = nil(i)
    {
        return Ok((rest, IString::from_parsed(Cow::Borrowed(&[]))));
    }
    istring(i, cfg)
}

/// Checks the nesting depth against the configured limit.
#[inline]
pub(crate) fn check_depth<'a>(i: &'a [u8], depth: usize, cfg: &ParserConfig) -> PResult<'a, ()> {
    if depth > cfg.max_nesting_depth {
        return Err(nom::Err::Failure(crate::error::PErr::new(
            i,
            ParseErrorKind::NestingTooDeep {
                limit: cfg.max_nesting_depth,
            },
        )));
    }
    Ok((i, ()))
}

/// A `number` (32-bit); with quirks a negative number reads as 0 (Dovecot sends `-1`).
#[inline]
pub(crate) fn number_or_negative<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, u32> {
    if quirks(cfg)
        && let [b'-', rest @ ..] = i
    {
        let (rest, _) = crate::core::number::number64(rest)?;
        return Ok((rest, 0));
    }
    crate::core::number::number(i)
}

/// `mod-sequence-value` (RFC 7162): a non-zero mod-sequence; with quirks zero too.
/// A zero is refused outright (not read back as text when inside a response code).
pub(crate) fn mod_sequence_value<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, u64> {
    if quirks(cfg) {
        return crate::core::number::number64(i);
    }
    crate::core::number::mod_sequence_value(i).map_err(|e| match e {
        nom::Err::Error(e) => nom::Err::Failure(e),
        e => e,
    })
}

/// Parses `"(" item *(SP item) ")"`, or `()` when `allow_empty` (or with quirks).
///
/// Hand-written on purpose (measured): as nom's `many_till` over `SP item` up to `)`
/// (quirk spaces in the separator and before the parenthesis), it made the response
/// corpus of `benches/imap.rs` 4 points slower against the hand-written grammar (14 %
/// instead of 10 % at that step; best of 40 runs, both in one process), with responses
/// at 2.1-2.3x imap-codec against a floor of 2x.
pub(crate) fn list<'a, T>(
    i: &'a [u8],
    allow_empty: bool,
    cfg: &ParserConfig,
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let (i, ()) = byte(i, b'(', "'('")?;
    let mut out = Vec::new();
    let j = skip_sp(i, cfg);
    if let [b')', rest @ ..] = j {
        if allow_empty || quirks(cfg) {
            return Ok((rest, out));
        }
        return fail(i, ParseErrorKind::Expected("list item"));
    }
    let mut i = j;
    loop {
        let (rest, v) = item(i)?;
        out.push(v);
        match rest {
            [b')', r @ ..] => return Ok((r, out)),
            [b' ', ..] => {
                let r = skip_sp(&rest[1..], cfg);
                if let [b')', r2 @ ..] = r {
                    if quirks(cfg) {
                        return Ok((r2, out));
                    }
                    return fail(r, ParseErrorKind::Expected("list item"));
                }
                i = r;
            }
            _ => return fail(rest, ParseErrorKind::UnbalancedParens),
        }
    }
}
