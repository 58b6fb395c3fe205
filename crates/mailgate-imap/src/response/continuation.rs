//! Continuation requests (`continue-req`): `+ text` and `+ base64`.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::lex::quirks;
use super::status::{RespText, resp_text};
use crate::config::ParserConfig;
use crate::core::chars::{BASE64, is};
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// A continuation request: the server is ready for literal data or the next
/// AUTHENTICATE (SASL) step, or acknowledges IDLE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Continue<'a>(Repr<'a>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr<'a> {
    Text(RespText<'a>),
    Base64(Cow<'a, [u8]>),
}

impl<'a> Continue<'a> {
    /// `+ [code] text`. Text that is valid base64 reads back as a SASL challenge, so
    /// it is refused here (use [`Continue::base64`]).
    pub fn text(text: RespText<'a>) -> Result<Self, ValidationError> {
        if text.code.is_none() && is_base64(text.text.as_str().as_bytes()) {
            return Err(ValidationError::new(
                "continuation text",
                "is valid base64, use Continue::base64",
            ));
        }
        Ok(Self(Repr::Text(text)))
    }

    /// `+ base64`: a SASL challenge, given decoded. An empty challenge is sent as `+ `.
    pub fn base64(data: impl Into<Cow<'a, [u8]>>) -> Self {
        let data = data.into();
        if data.is_empty() {
            return Self(Repr::Text(RespText::default()));
        }
        Self(Repr::Base64(data))
    }

    /// The text form, if this is not a SASL challenge.
    pub fn as_text(&self) -> Option<&RespText<'a>> {
        match &self.0 {
            Repr::Text(t) => Some(t),
            Repr::Base64(_) => None,
        }
    }

    pub(crate) fn into_text(self) -> Option<RespText<'a>> {
        match self.0 {
            Repr::Text(t) => Some(t),
            Repr::Base64(_) => None,
        }
    }

    pub(crate) fn from_text_unchecked(text: RespText<'a>) -> Self {
        Self(Repr::Text(text))
    }

    /// The decoded SASL challenge, if this is one (`+ ` alone is an empty challenge).
    pub fn as_base64(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Base64(b) => Some(b),
            Repr::Text(t) if t.code.is_none() && t.text.is_empty() => Some(&[]),
            Repr::Text(_) => None,
        }
    }
}

fn is_base64(b: &[u8]) -> bool {
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let body = b
        .strip_suffix(b"==")
        .or_else(|| b.strip_suffix(b"="))
        .unwrap_or(b);
    body.iter().all(|&c| is(c, BASE64)) && STANDARD.decode(b).is_ok()
}

impl Encode for Continue<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"+ ");
        match &self.0 {
            Repr::Text(t) => t.encode(out),
            Repr::Base64(b) => {
                let start = out.len();
                out.resize(start + b.len().div_ceil(3) * 4, 0);
                let n = STANDARD.encode_slice(b, &mut out[start..]).unwrap_or(0);
                out.truncate(start + n);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses a continuation request line (without the line end).
///
/// `+ ` followed by nothing is an empty text (the usual AUTHENTICATE first step);
/// non-empty valid base64 is a SASL challenge; anything else is text.
pub(crate) fn continue_req<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Continue<'a>> {
    let i = match i {
        [b'+', b' ', rest @ ..] => rest,
        // `+` alone (some servers before the AUTHENTICATE challenge).
        [b'+', rest @ ..] if quirks(cfg) && matches!(rest.first(), Some(b'\r' | b'\n')) => rest,
        _ => return fail(i, ParseErrorKind::Expected("'+ '")),
    };
    let end = memchr::memchr2(b'\r', b'\n', i).unwrap_or(i.len());
    let line = &i[..end];
    if is_base64(line)
        && let Ok(data) = STANDARD.decode(line)
    {
        return Ok((&i[end..], Continue(Repr::Base64(Cow::Owned(data)))));
    }
    let (rest, t) = resp_text(i, cfg)?;
    Ok((rest, Continue(Repr::Text(t))))
}
