//! Strings: quoted strings, literals (`{n}`, `{n+}`, `~{n}`), and the `string`,
//! `astring` and `nstring` forms built from them.

use std::borrow::Cow;
use std::fmt;

use zeroize::Zeroize;

use super::chars::{ASTRING, DIGIT, QUOTED, TEXT, all, is, span};
use super::lex::{byte, crlf};
use super::number::number64;
use crate::config::ParserConfig;
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};
use nom::Parser;
use nom::combinator::{map, opt};
use nom::sequence::preceded;

/// Whether the sender waits for a `+` continuation before sending literal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: synchronising, the client waits for `+` before sending the data.
    Sync,
    /// `{n+}`: non-synchronising (LITERAL+ / LITERAL-), the data follows at once.
    NonSync,
}

/// A literal header as announced at the end of a line: `{n}`, `{n+}`, `~{n}` or `~{n+}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiteralHeader {
    /// Number of data bytes that follow the header line.
    pub size: u64,
    /// Synchronising or not.
    pub mode: LiteralMode,
    /// `~{n}` (literal8, RFC 3516 BINARY): the data may contain NUL.
    pub binary: bool,
}

impl Encode for LiteralHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        if self.binary {
            out.push(b'~');
        }
        out.push(b'{');
        encode_u64(self.size, out);
        if self.mode == LiteralMode::NonSync {
            out.push(b'+');
        }
        out.extend_from_slice(b"}\r\n");
    }
}

/// Parses a literal header `["~"] "{" number64 ["+"] "}"` followed by the line end.
pub(crate) fn literal_header<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, LiteralHeader> {
    let strict_eol = ParserConfig {
        allow_trailing_space: false,
        ..cfg.clone()
    };
    let open = |j| match byte(b'{', "literal")(j) {
        Err(_) => fail(i, ParseErrorKind::Expected("literal")),
        ok => ok,
    };
    let size = |j: &'a [u8]| match j.first() {
        Some(&b) if is(b, DIGIT) => number64(j),
        _ => fail(j, ParseErrorKind::Expected("literal size")),
    };
    map(
        (
            map(opt(byte(b'~', "'~'")), |b| b.is_some()),
            preceded(open, size),
            map(opt(byte(b'+', "'+'")), |n| {
                if n.is_some() {
                    LiteralMode::NonSync
                } else {
                    LiteralMode::Sync
                }
            }),
            byte(b'}', "'}'"),
            |j| crlf(j, &strict_eol),
        ),
        |(binary, size, mode, (), ())| LiteralHeader { size, mode, binary },
    )
    .parse(i)
}

/// Takes the announced literal data from a framed message.
fn literal_data<'a>(i: &'a [u8], header: &LiteralHeader) -> PResult<'a, &'a [u8]> {
    let available = i.len() as u64;
    if header.size > available {
        return fail(
            i,
            ParseErrorKind::LiteralLengthMismatch {
                announced: header.size,
                available,
            },
        );
    }
    let n = header.size as usize;
    Ok((&i[n..], &i[..n]))
}

/// Parses a `literal` (not literal8): header plus data without NUL.
pub(crate) fn literal<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, (LiteralHeader, &'a [u8])> {
    let (j, header) = literal_header(i, cfg)?;
    if header.binary {
        return fail(i, ParseErrorKind::Expected("literal, not literal8"));
    }
    let (rest, data) = literal_data(j, &header)?;
    if let Some(pos) = memchr::memchr(0, data) {
        return fail(&j[pos..], ParseErrorKind::Nul);
    }
    Ok((rest, (header, data)))
}

/// Parses a `literal8` (`~{n}`, RFC 3516) or, with `accept_plain`, also a plain literal.
pub(crate) fn literal8<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, (LiteralHeader, &'a [u8])> {
    let (j, header) = literal_header(i, cfg)?;
    let (rest, data) = literal_data(j, &header)?;
    if !header.binary && memchr::memchr(0, data).is_some() {
        return fail(j, ParseErrorKind::Nul);
    }
    Ok((rest, (header, data)))
}

/// Parses a quoted string, unescaping `\"` and `\\`; 8-bit content must be UTF-8.
pub(crate) fn quoted(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    let body = match i {
        [b'"', rest @ ..] => rest,
        _ => return fail(i, ParseErrorKind::Expected("quoted string")),
    };
    let mut n = span(body, QUOTED);
    let mut owned: Option<Vec<u8>> = None;
    let mut eight_bit = false;
    loop {
        match body.get(n) {
            Some(b'"') => {
                let end = &body[n + 1..];
                let value = match owned {
                    Some(v) => Cow::Owned(v),
                    None => Cow::Borrowed(&body[..n]),
                };
                if eight_bit && std::str::from_utf8(&value).is_err() {
                    return fail(body, ParseErrorKind::NotUtf8);
                }
                return Ok((end, value));
            }
            Some(b'\\') => match body.get(n + 1) {
                Some(&c @ (b'"' | b'\\')) => {
                    let v = owned.get_or_insert_with(|| body[..n].to_vec());
                    v.push(c);
                    n += 2;
                    let m = span(&body[n..], QUOTED);
                    v.extend_from_slice(&body[n..n + m]);
                    n += m;
                }
                _ => {
                    return fail(
                        &body[n..],
                        ParseErrorKind::Expected("quoted-special after '\\'"),
                    );
                }
            },
            Some(&b) if b >= 0x80 => {
                eight_bit = true;
                if let Some(v) = owned.as_mut() {
                    v.push(b);
                }
                n += 1;
                let m = span(&body[n..], QUOTED);
                if let Some(v) = owned.as_mut() {
                    v.extend_from_slice(&body[n..n + m]);
                }
                n += m;
            }
            Some(0) => return fail(&body[n..], ParseErrorKind::Nul),
            Some(b'\r' | b'\n') => {
                return fail(&body[n..], ParseErrorKind::Expected("'\"' before line end"));
            }
            Some(_) => return fail(&body[n..], ParseErrorKind::ControlChar),
            None => return fail(i, ParseErrorKind::Expected("closing '\"'")),
        }
    }
}

/// Writes `data` as a quoted string (the caller checked it is TEXT-CHARs).
pub(crate) fn encode_quoted(data: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in data {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Longest content written as a quoted string; longer content becomes a literal.
const MAX_QUOTED: usize = 1000;

/// Writes string content in the most compact form the context allows.
pub(crate) fn encode_string_content(data: &[u8], allow_atom: bool, out: &mut Vec<u8>) {
    if allow_atom && all(data, ASTRING) {
        out.extend_from_slice(data);
    } else if data.len() <= MAX_QUOTED && data.iter().all(|&b| is(b, TEXT)) {
        encode_quoted(data, out);
    } else {
        LiteralHeader {
            size: data.len() as u64,
            mode: LiteralMode::Sync,
            binary: false,
        }
        .encode(out);
        out.extend_from_slice(data);
    }
}

/// Writes string content as a quoted string or, if not quotable, a literal.
pub(crate) fn encode_quoted_or_literal(data: &[u8], out: &mut Vec<u8>) {
    encode_string_content(data, false, out);
}

fn debug_bytes(name: &str, data: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{name}({:?})", String::from_utf8_lossy(data))
}

fn zeroize_cow(c: &mut Cow<'_, [u8]>) {
    if let Cow::Owned(v) = c {
        v.zeroize();
    }
}

macro_rules! string_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $valid:expr, $reason:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<'a>(Cow<'a, [u8]>);

        impl<'a> $name<'a> {
            /// Validates and wraps the content bytes.
            pub fn try_new(data: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
                let data = data.into();
                let valid: fn(&[u8]) -> bool = $valid;
                if valid(&data) {
                    Ok(Self(data))
                } else {
                    Err(ValidationError::new($what, $reason))
                }
            }

            pub(crate) fn from_parsed(data: Cow<'a, [u8]>) -> Self {
                Self(data)
            }

            /// The content bytes (unescaped, without quotes or literal header).
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The content as text if it is valid UTF-8.
            pub fn as_str(&self) -> Option<&str> {
                std::str::from_utf8(&self.0).ok()
            }

            /// Detaches from the input buffer.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }

        impl<'a> TryFrom<&'a [u8]> for $name<'a> {
            type Error = ValidationError;
            fn try_from(data: &'a [u8]) -> Result<Self, ValidationError> {
                Self::try_new(data)
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = ValidationError;
            fn try_from(data: &'a str) -> Result<Self, ValidationError> {
                Self::try_new(data.as_bytes())
            }
        }

        impl TryFrom<Vec<u8>> for $name<'static> {
            type Error = ValidationError;
            fn try_from(data: Vec<u8>) -> Result<Self, ValidationError> {
                Self::try_new(data)
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = ValidationError;
            fn try_from(data: String) -> Result<Self, ValidationError> {
                Self::try_new(data.into_bytes())
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                debug_bytes(stringify!($name), &self.0, f)
            }
        }

        impl Zeroize for $name<'_> {
            fn zeroize(&mut self) {
                zeroize_cow(&mut self.0);
            }
        }

        impl AsRef<[u8]> for $name<'_> {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

fn no_nul(d: &[u8]) -> bool {
    memchr::memchr(0, d).is_none()
}

string_type!(
    /// `string` content: sent as a quoted string or a literal; any bytes except NUL.
    IString, "string", no_nul, "must not contain NUL"
);
string_type!(
    /// `astring` content: sent as an atom, a quoted string or a literal; any bytes except NUL.
    AString, "astring", no_nul, "must not contain NUL"
);
string_type!(
    /// `literal8` content (RFC 3516 BINARY): any bytes, NUL included.
    Literal8, "literal8", |_| true, "never"
);

impl Encode for IString<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_string_content(&self.0, false, out);
    }
}

impl Encode for AString<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_string_content(&self.0, true, out);
    }
}

impl Encode for Literal8<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        LiteralHeader {
            size: self.0.len() as u64,
            mode: LiteralMode::Sync,
            binary: true,
        }
        .encode(out);
        out.extend_from_slice(&self.0);
    }
}

impl<'a> From<IString<'a>> for AString<'a> {
    fn from(s: IString<'a>) -> Self {
        Self(s.0)
    }
}

impl<'a> From<AString<'a>> for IString<'a> {
    fn from(s: AString<'a>) -> Self {
        Self(s.0)
    }
}

/// `nstring`: `NIL` or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NString<'a>(pub Option<IString<'a>>);

impl NString<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> NString<'static> {
        NString(self.0.map(IString::into_owned))
    }
}

impl Encode for NString<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Some(s) => s.encode(out),
            None => out.extend_from_slice(b"NIL"),
        }
    }
}

/// Parses a `string`: quoted or literal.
pub(crate) fn string<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, IString<'a>> {
    match i.first() {
        Some(b'"') => {
            let (rest, v) = quoted(i)?;
            Ok((rest, IString(v)))
        }
        Some(b'{') => {
            let (rest, (_, data)) = literal(i, cfg)?;
            Ok((rest, IString(Cow::Borrowed(data))))
        }
        _ => fail(i, ParseErrorKind::Expected("string")),
    }
}

/// Parses an `astring`: 1*ASTRING-CHAR or a string.
pub(crate) fn astring<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, AString<'a>> {
    match i.first() {
        Some(b'"' | b'{') => {
            let (rest, s) = string(i, cfg)?;
            Ok((rest, s.into()))
        }
        _ => {
            let (rest, s) = super::atom::scan(i, ASTRING, cfg, "astring")?;
            Ok((rest, AString(Cow::Borrowed(s.as_bytes()))))
        }
    }
}

/// Parses an `nstring`: `NIL` or a string.
pub(crate) fn nstring<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NString<'a>> {
    if let Some(rest) = super::lex::starts_with_ci(i, b"NIL") {
        return Ok((rest, NString(None)));
    }
    let (rest, s) = string(i, cfg)?;
    Ok((rest, NString(Some(s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ParserConfig {
        ParserConfig::strict()
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted(b"\"abc\" x").map(|r| r.1.into_owned()),
            Ok(b"abc".to_vec())
        );
        assert_eq!(
            quoted(b"\"a\\\"b\\\\c\"").map(|r| r.1.into_owned()),
            Ok(b"a\"b\\c".to_vec())
        );
        assert_eq!(
            quoted("\"\u{e4}\"".as_bytes()).map(|r| r.1.into_owned()),
            Ok("\u{e4}".as_bytes().to_vec())
        );
        assert!(quoted(b"\"\xff\"").is_err());
        assert!(quoted(b"\"a\\b\"").is_err());
        assert!(quoted(b"\"a\r\n").is_err());
        assert!(quoted(b"\"a\0\"").is_err());
        assert!(quoted(b"\"abc").is_err());
    }

    #[test]
    fn literals() {
        let (rest, (h, d)) = literal(b"{3}\r\nabc rest", &cfg()).unwrap();
        assert_eq!(
            (h.size, h.mode, h.binary, d, rest),
            (3, LiteralMode::Sync, false, &b"abc"[..], &b" rest"[..])
        );
        let (_, (h, _)) = literal(b"{0+}\r\n", &cfg()).unwrap();
        assert_eq!(h.mode, LiteralMode::NonSync);
        let (_, (h, d)) = literal8(b"~{2}\r\n\0\x01", &cfg()).unwrap();
        assert!(h.binary && d == b"\0\x01");
        assert!(literal(b"{3}\r\nab", &cfg()).is_err());
        assert!(literal(b"{3-}\r\nabc", &cfg()).is_err());
        assert!(literal(b"{3}\nabc", &cfg()).is_err());
        assert!(literal(b"{2}\r\na\0", &cfg()).is_err());
        assert!(literal(b"~{2}\r\nab", &cfg()).is_err());
        assert!(literal(b"{}\r\n", &cfg()).is_err());
    }

    #[test]
    fn encoding_choice() {
        let enc = |s: &str, atom: bool| {
            let mut v = Vec::new();
            encode_string_content(s.as_bytes(), atom, &mut v);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(enc("INBOX]", true), "INBOX]");
        assert_eq!(enc("INBOX", false), "\"INBOX\"");
        assert_eq!(enc("", true), "\"\"");
        assert_eq!(enc("a b\"\\", true), "\"a b\\\"\\\\\"");
        assert_eq!(enc("a\r\nb", true), "{4}\r\na\r\nb");
        assert_eq!(enc("\u{e4}", true), "{2}\r\n\u{e4}");
        assert_eq!(NString(None).to_vec(), b"NIL");
    }

    #[test]
    fn astrings() {
        assert_eq!(astring(b"foo] x", &cfg()).unwrap().1.as_bytes(), b"foo]");
        assert_eq!(astring(b"\"\" x", &cfg()).unwrap().1.as_bytes(), b"");
        assert!(astring(b"(x", &cfg()).is_err());
        assert_eq!(nstring(b"nil", &cfg()).unwrap().1, NString(None));
        assert!(IString::try_from("a\0").is_err());
    }
}
