//! SASL data of AUTHENTICATE: the SASL-IR initial response and the continuation lines
//! a client sends while authenticating (base64, or `*` to cancel).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::config::ParserConfig;
use crate::core::chars::{BASE64, span};
use crate::core::lex::crlf;
use crate::encode::Encode;
use crate::error::{PResult, ParseError, ParseErrorKind, fail, to_public};
use crate::secret::Secret;

/// Decoded SASL bytes, kept secret.
pub type SaslData = Secret<Vec<u8>>;

/// Parses `base64` (possibly empty) and decodes it.
pub(crate) fn base64_data(i: &[u8]) -> PResult<'_, Vec<u8>> {
    let mut n = span(i, BASE64);
    while n < i.len() && i[n] == b'=' {
        n += 1;
    }
    let text = &i[..n];
    if !text.len().is_multiple_of(4) {
        return fail(i, ParseErrorKind::InvalidBase64);
    }
    match STANDARD.decode(text) {
        Ok(v) => Ok((&i[n..], v)),
        Err(_) => fail(i, ParseErrorKind::InvalidBase64),
    }
}

/// Writes bytes as base64 (`=` for none, as SASL-IR requires for an empty response).
pub(crate) fn encode_base64(data: &[u8], empty_as_equals: bool, out: &mut Vec<u8>) {
    if data.is_empty() && empty_as_equals {
        out.push(b'=');
        return;
    }
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let written = STANDARD.encode_slice(data, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Parses a SASL-IR initial response: `base64` or `=` (empty).
pub(crate) fn initial_response(i: &[u8]) -> PResult<'_, SaslData> {
    if let [b'=', rest @ ..] = i
        && matches!(rest.first(), None | Some(b'\r' | b'\n' | b' '))
    {
        return Ok((rest, Secret::new(Vec::new())));
    }
    let (rest, v) = base64_data(i)?;
    if v.is_empty() {
        return fail(i, ParseErrorKind::Expected("base64 or '='"));
    }
    Ok((rest, Secret::new(v)))
}

/// A line a client sends during AUTHENTICATE, after a `+` continuation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticateData {
    /// A base64-encoded SASL response (decoded here; may be empty).
    Response(SaslData),
    /// `*`: the client cancels the exchange.
    Cancel,
}

impl AuthenticateData {
    /// Parses one complete line (`base64 CRLF` or `"*" CRLF`); returns the value and
    /// the bytes consumed.
    pub fn parse(input: &[u8], config: &ParserConfig) -> Result<(Self, usize), ParseError> {
        let parsed = (|| {
            let (i, v) = match input {
                [b'*', rest @ ..] => (rest, Self::Cancel),
                _ => {
                    let (i, v) = base64_data(input)?;
                    (i, Self::Response(Secret::new(v)))
                }
            };
            let (i, ()) = crlf(i, config)?;
            Ok((i, v))
        })();
        match parsed {
            Ok((rest, v)) => Ok((v, input.len() - rest.len())),
            Err(e) => Err(to_public(e, input)),
        }
    }
}

impl Encode for AuthenticateData {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Cancel => out.push(b'*'),
            Self::Response(d) => encode_base64(d.expose(), false, out),
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines() {
        let cfg = ParserConfig::strict();
        let (d, n) = AuthenticateData::parse(b"dGVzdA==\r\n", &cfg).unwrap();
        assert_eq!(n, 10);
        assert_eq!(d, AuthenticateData::Response(Secret::new(b"test".to_vec())));
        assert_eq!(d.to_vec(), b"dGVzdA==\r\n");
        assert!(!format!("{d:?}").contains("test"));
        assert_eq!(
            AuthenticateData::parse(b"*\r\n", &cfg).unwrap().0,
            AuthenticateData::Cancel
        );
        assert_eq!(
            AuthenticateData::parse(b"\r\n", &cfg).unwrap().0.to_vec(),
            b"\r\n"
        );
        for bad in [
            &b"dGVzdA=\r\n"[..],
            b"dGV*\r\n",
            b"dGVzdA==\n",
            b"dGVzdA== \r\n",
            b"** \r\n",
        ] {
            assert!(AuthenticateData::parse(bad, &cfg).is_err(), "{bad:?}");
        }
        assert_eq!(initial_response(b"=\r\n").unwrap().1.expose().len(), 0);
    }
}
