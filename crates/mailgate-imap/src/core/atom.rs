//! `atom` and `tag`.

use std::borrow::Cow;
use std::fmt;

use super::chars::{ATOM, TAG, all, span};
use crate::config::ParserConfig;
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// Borrows the ASCII bytes of `b` as `&str`.
///
/// Callers pass bytes already checked to be 7-bit (or valid UTF-8).
pub(crate) fn ascii_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

/// Scans a run of `class` characters, reporting 8-bit bytes (unless allowed) and emptiness.
pub(crate) fn scan<'a>(
    i: &'a [u8],
    class: u8,
    cfg: &ParserConfig,
    what: &'static str,
) -> PResult<'a, &'a str> {
    let mut n = span(i, class);
    if cfg.allow_8bit_atoms {
        while let Some(&b) = i.get(n) {
            if b >= 0x80 {
                n += 1;
                n += span(&i[n..], class);
            } else {
                break;
            }
        }
        if n == 0 {
            return fail(i, ParseErrorKind::Expected(what));
        }
        return match std::str::from_utf8(&i[..n]) {
            Ok(s) => Ok((&i[n..], s)),
            Err(_) => fail(i, ParseErrorKind::NotUtf8),
        };
    }
    match i.get(n) {
        Some(&b) if b >= 0x80 => fail(&i[n..], ParseErrorKind::EightBit),
        _ if n == 0 => fail(i, ParseErrorKind::Expected(what)),
        _ => Ok((&i[n..], ascii_str(&i[..n]))),
    }
}

/// `atom`: one or more ATOM-CHARs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom<'a>(Cow<'a, str>);

impl<'a> Atom<'a> {
    /// The atom text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Atom<'static> {
        Atom(Cow::Owned(self.0.into_owned()))
    }

    pub(crate) fn borrowed(s: &'a str) -> Self {
        Self(Cow::Borrowed(s))
    }

    /// Validates `s` as an atom.
    pub fn try_new(s: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let s = s.into();
        if all(s.as_bytes(), ATOM) {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "atom",
                "must be one or more ATOM-CHARs",
            ))
        }
    }
}

impl<'a> TryFrom<&'a str> for Atom<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl TryFrom<String> for Atom<'static> {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl fmt::Debug for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({:?})", self.0)
    }
}

impl fmt::Display for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Encode for Atom<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

/// Parses an `atom`.
pub(crate) fn atom<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Atom<'a>> {
    let (rest, s) = scan(i, ATOM, cfg, "atom")?;
    Ok((rest, Atom::borrowed(s)))
}

/// A command tag: one or more ASTRING-CHARs except `+`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag<'a>(Cow<'a, str>);

impl<'a> Tag<'a> {
    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Tag<'static> {
        Tag(Cow::Owned(self.0.into_owned()))
    }

    /// Validates `s` as a tag.
    pub fn try_new(s: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let s = s.into();
        if all(s.as_bytes(), TAG) {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "tag",
                "must be one or more ASTRING-CHARs other than '+'",
            ))
        }
    }
}

impl<'a> TryFrom<&'a str> for Tag<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl TryFrom<String> for Tag<'static> {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl fmt::Debug for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", self.0)
    }
}

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Encode for Tag<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

/// Parses a `tag` (always strict: tags are plain ASCII).
pub(crate) fn tag(i: &[u8]) -> PResult<'_, Tag<'_>> {
    let n = span(i, TAG);
    if n == 0 {
        return fail(i, ParseErrorKind::BadTag);
    }
    match i.get(n) {
        Some(b' ') | Some(b'\r') | Some(b'\n') | None => {
            Ok((&i[n..], Tag(Cow::Borrowed(ascii_str(&i[..n])))))
        }
        Some(_) => fail(&i[n..], ParseErrorKind::BadTag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(
            tag(b"a001 NOOP").map(|r| r.1.as_str().to_owned()),
            Ok("a001".into())
        );
        for bad in [
            &b"+a NOOP"[..],
            b"a+b NOOP",
            b"a{ NOOP",
            b"a\"b NOOP",
            b"\xc3\xa4 NOOP",
            b" x",
        ] {
            assert!(tag(bad).is_err(), "{bad:?}");
        }
        assert!(Tag::try_from("a]1").is_ok());
        assert!(Tag::try_from("").is_err());
        assert!(Tag::try_from("a b").is_err());
    }

    #[test]
    fn atoms() {
        let strict = ParserConfig::strict();
        assert_eq!(
            atom(b"FLAGS)", &strict).map(|r| r.1.as_str().to_owned()),
            Ok("FLAGS".into())
        );
        assert_eq!(
            atom(b"ab\xc3\xa4", &strict).map_err(|e| match e {
                nom::Err::Error(e) => e.kind,
                _ => ParseErrorKind::Incomplete,
            }),
            Err(ParseErrorKind::EightBit)
        );
        let lenient = ParserConfig::lenient();
        assert_eq!(
            atom("ab\u{e4} x".as_bytes(), &lenient).map(|r| r.1.as_str().to_owned()),
            Ok("ab\u{e4}".into())
        );
        assert!(Atom::try_from("a]").is_err());
    }
}
