//! `text`: the human-readable part of status responses and continuation requests.

use std::borrow::Cow;
use std::fmt;

use crate::config::ParserConfig;
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

use super::lex::quirks;

/// Human-readable text (`text`, RFC 9051): any characters except CR, LF and NUL,
/// UTF-8 allowed; may be empty (RFC 9051 makes it optional).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    /// Validates `s` as text: no CR, LF or NUL.
    pub fn try_new(s: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let s = s.into();
        if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(ValidationError::new(
                "text",
                "must not contain CR, LF or NUL",
            ));
        }
        Ok(Self(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl<'a> TryFrom<&'a str> for Text<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({:?})", self.0)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Encode for Text<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

/// Parses text up to (not including) the line end. Invalid UTF-8 is an error, or with
/// quirks and `lossy` replaced (servers that send Latin-1 greetings).
pub(crate) fn text<'a>(i: &'a [u8], cfg: &ParserConfig, lossy: bool) -> PResult<'a, Text<'a>> {
    let n = memchr::memchr2(b'\r', b'\n', i).unwrap_or(i.len());
    let raw = &i[..n];
    if let Some(p) = memchr::memchr(0, raw) {
        return fail(&i[p..], ParseErrorKind::Nul);
    }
    let t = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) if lossy && quirks(cfg) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
        Err(e) => return fail(&i[e.valid_up_to()..], ParseErrorKind::NotUtf8),
    };
    Ok((&i[n..], Text(t)))
}
