//! Flags: system flags, keywords, extensions, `\Recent` (fetch) and `\*` (permanent).

use super::atom::{Atom, atom};
use crate::config::ParserConfig;
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// A message flag (`flag`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag<'a> {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// A keyword (an atom without backslash), such as `$Forwarded`.
    Keyword(Atom<'a>),
    /// Another backslash flag (`flag-extension`), such as `\Junk`.
    Extension(FlagExtension<'a>),
}

/// The name (without backslash) of a `flag-extension`: not a system flag nor `Recent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlagExtension<'a>(Atom<'a>);

const SYSTEM: [&str; 6] = ["Answered", "Flagged", "Deleted", "Seen", "Draft", "Recent"];

impl<'a> FlagExtension<'a> {
    /// Validates the name of an extension flag.
    pub fn try_new(name: Atom<'a>) -> Result<Self, ValidationError> {
        if SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(name.as_str())) {
            Err(ValidationError::new(
                "flag extension",
                "is a system flag name",
            ))
        } else {
            Ok(Self(name))
        }
    }

    /// The name without backslash.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl<'a> Flag<'a> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Flag<'static> {
        match self {
            Self::Answered => Flag::Answered,
            Self::Flagged => Flag::Flagged,
            Self::Deleted => Flag::Deleted,
            Self::Seen => Flag::Seen,
            Self::Draft => Flag::Draft,
            Self::Keyword(a) => Flag::Keyword(a.into_owned()),
            Self::Extension(e) => Flag::Extension(FlagExtension(e.0.into_owned())),
        }
    }
}

impl Encode for Flag<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        let s: &[u8] = match self {
            Self::Answered => b"\\Answered",
            Self::Flagged => b"\\Flagged",
            Self::Deleted => b"\\Deleted",
            Self::Seen => b"\\Seen",
            Self::Draft => b"\\Draft",
            Self::Keyword(a) => return a.encode(out),
            Self::Extension(e) => {
                out.push(b'\\');
                return e.0.encode(out);
            }
        };
        out.extend_from_slice(s);
    }
}

/// A flag in a FETCH response (`flag-fetch`): a flag or `\Recent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagFetch<'a> {
    /// A flag.
    Flag(Flag<'a>),
    /// `\Recent` (IMAP4rev1 only).
    Recent,
}

impl FlagFetch<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FlagFetch<'static> {
        match self {
            Self::Flag(f) => FlagFetch::Flag(f.into_owned()),
            Self::Recent => FlagFetch::Recent,
        }
    }
}

impl Encode for FlagFetch<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Flag(f) => f.encode(out),
            Self::Recent => out.extend_from_slice(b"\\Recent"),
        }
    }
}

/// A flag in PERMANENTFLAGS (`flag-perm`): a flag or `\*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagPerm<'a> {
    /// A flag.
    Flag(Flag<'a>),
    /// `\*`: new keywords may be created.
    Asterisk,
}

impl FlagPerm<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FlagPerm<'static> {
        match self {
            Self::Flag(f) => FlagPerm::Flag(f.into_owned()),
            Self::Asterisk => FlagPerm::Asterisk,
        }
    }
}

impl Encode for FlagPerm<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Flag(f) => f.encode(out),
            Self::Asterisk => out.extend_from_slice(b"\\*"),
        }
    }
}

/// Parses a `flag`.
pub(crate) fn flag<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Flag<'a>> {
    match i {
        [b'\\', rest @ ..] => {
            let (rest, name) = atom(rest, cfg)?;
            let s = name.as_str();
            let f = if s.eq_ignore_ascii_case("Answered") {
                Flag::Answered
            } else if s.eq_ignore_ascii_case("Flagged") {
                Flag::Flagged
            } else if s.eq_ignore_ascii_case("Deleted") {
                Flag::Deleted
            } else if s.eq_ignore_ascii_case("Seen") {
                Flag::Seen
            } else if s.eq_ignore_ascii_case("Draft") {
                Flag::Draft
            } else if s.eq_ignore_ascii_case("Recent") {
                return fail(i, ParseErrorKind::Expected("flag other than \\Recent"));
            } else {
                Flag::Extension(FlagExtension(name))
            };
            Ok((rest, f))
        }
        _ => {
            let (rest, a) = atom(i, cfg)?;
            Ok((rest, Flag::Keyword(a)))
        }
    }
}

/// Parses a `flag-fetch`.
#[allow(dead_code)] // Used by the response parser.
pub(crate) fn flag_fetch<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, FlagFetch<'a>> {
    if let Some(rest) = super::lex::starts_with_ci(i, b"\\Recent")
        && !rest
            .first()
            .is_some_and(|&b| super::chars::is(b, super::chars::ATOM))
    {
        return Ok((rest, FlagFetch::Recent));
    }
    let (rest, f) = flag(i, cfg)?;
    Ok((rest, FlagFetch::Flag(f)))
}

/// Parses a `flag-perm`.
#[allow(dead_code)] // Used by the response parser.
pub(crate) fn flag_perm<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, FlagPerm<'a>> {
    if let [b'\\', b'*', rest @ ..] = i {
        return Ok((rest, FlagPerm::Asterisk));
    }
    let (rest, f) = flag(i, cfg)?;
    Ok((rest, FlagPerm::Flag(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let cfg = ParserConfig::strict();
        assert_eq!(flag(b"\\seen", &cfg).unwrap().1, Flag::Seen);
        assert_eq!(flag(b"$Forwarded", &cfg).unwrap().1.to_vec(), b"$Forwarded");
        assert_eq!(flag(b"\\Junk", &cfg).unwrap().1.to_vec(), b"\\Junk");
        assert!(flag(b"\\Recent", &cfg).is_err());
        assert!(flag(b"\\*", &cfg).is_err());
        assert_eq!(flag_fetch(b"\\Recent)", &cfg).unwrap().1, FlagFetch::Recent);
        assert_eq!(
            flag_fetch(b"\\RecentX", &cfg).unwrap().1.to_vec(),
            b"\\RecentX"
        );
        assert_eq!(flag_perm(b"\\*", &cfg).unwrap().1, FlagPerm::Asterisk);
        assert!(FlagExtension::try_new(Atom::try_from("seen").unwrap()).is_err());
    }
}
