//! Lexical helpers shared by the response parsers, with the leniency switches applied.

use std::borrow::Cow;

use crate::config::ParserConfig;
use crate::core::chars::{QUOTED, span};
use crate::core::string::{self, IString, NString};
use crate::error::{PResult, ParseErrorKind, fail};

/// Whether the tolerances for known server quirks are on.
#[inline]
pub(crate) fn quirks(cfg: &ParserConfig) -> bool {
    cfg.allow_server_quirks
}

/// One space; with quirks, a run of spaces.
#[inline]
pub(crate) fn sp<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ()> {
    match i {
        [b' ', rest @ ..] => {
            let mut rest = rest;
            if quirks(cfg) {
                while let [b' ', r @ ..] = rest {
                    rest = r;
                }
            }
            Ok((rest, ()))
        }
        _ => fail(i, ParseErrorKind::Expected("SP")),
    }
}

/// With quirks, skips spaces (before a closing parenthesis, between list items that
/// the grammar writes without a separator).
#[inline]
pub(crate) fn skip_sp<'a>(i: &'a [u8], cfg: &ParserConfig) -> &'a [u8] {
    let mut i = i;
    if quirks(cfg) {
        while let [b' ', r @ ..] = i {
            i = r;
        }
    }
    i
}

/// Expects `c` (after optional spaces with quirks).
#[inline]
pub(crate) fn close<'a>(i: &'a [u8], c: u8, cfg: &ParserConfig) -> PResult<'a, ()> {
    let i = skip_sp(i, cfg);
    match i {
        [b, rest @ ..] if *b == c => Ok((rest, ())),
        _ if c == b')' => fail(i, ParseErrorKind::UnbalancedParens),
        _ => fail(i, ParseErrorKind::Expected("closing bracket")),
    }
}

/// Expects `c`.
#[inline]
pub(crate) fn byte<'a>(i: &'a [u8], c: u8, what: &'static str) -> PResult<'a, ()> {
    match i {
        [b, rest @ ..] if *b == c => Ok((rest, ())),
        _ => fail(i, ParseErrorKind::Expected(what)),
    }
}

/// Expects `NIL` (case-insensitive) not followed by an atom character.
#[inline]
pub(crate) fn nil(i: &[u8]) -> Option<&[u8]> {
    match i {
        [n, i2, l, rest @ ..]
            if n.eq_ignore_ascii_case(&b'N')
                && i2.eq_ignore_ascii_case(&b'I')
                && l.eq_ignore_ascii_case(&b'L') =>
        {
            match rest.first() {
                Some(&b) if crate::core::chars::is(b, crate::core::chars::ATOM) => None,
                _ => Some(rest),
            }
        }
        _ => None,
    }
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
