//! Base64 as SASL uses it on the wire (RFC 4648 section 4, standard alphabet).
//!
//! Two strictnesses:
//!
//! * [`decode_base64`] is strict: standard alphabet, canonical padding required, no
//!   whitespace, no trailing bits set. Client responses (PLAIN, LOGIN) are decoded this
//!   way, as RFC 4422 section 3 and the protocol profiles (RFC 4954, RFC 5034,
//!   RFC 9051) require well-formed base64.
//! * [`decode_base64_lenient`] additionally accepts a missing `=` padding. It is used
//!   only for a server's *error challenge* (the provider's JSON error after XOAUTH2 or
//!   OAUTHBEARER), which is diagnostic data: refusing to show a user why their login
//!   failed because a server dropped the padding would help nobody.
//!
//! Initial responses use `=` for a zero-length response (RFC 4954 section 4,
//! RFC 5034 section 4, RFC 4959); see [`decode_initial_response`] and
//! [`encode_initial_response`].

use ::base64::Engine as _;
use ::base64::engine::DecodePaddingMode;
use ::base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use crate::SaslError;

/// Standard alphabet, padding optional when decoding, canonical trailing bits required.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &::base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes `bytes` as standard padded base64.
///
/// ```
/// assert_eq!(mailgate_sasl::encode_base64(b"Username:"), "VXNlcm5hbWU6");
/// ```
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes strict standard base64 (padding required, no whitespace).
///
/// An empty input decodes to an empty payload.
///
/// ```
/// assert_eq!(mailgate_sasl::decode_base64(b"VXNlcm5hbWU6").unwrap(), b"Username:");
/// assert!(mailgate_sasl::decode_base64(b"VXNlcm5hbWU").is_err());
/// ```
///
/// # Errors
///
/// [`SaslError::Base64`] naming the offending byte offset or the length problem.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    STANDARD.decode(text).map_err(|e| SaslError::Base64 {
        reason: describe(&e),
    })
}

/// Decodes standard base64 but accepts missing `=` padding (see the module docs for
/// where this is used).
///
/// # Errors
///
/// [`SaslError::Base64`] if the text is not base64 at all.
pub fn decode_base64_lenient(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    LENIENT.decode(text).map_err(|e| SaslError::Base64 {
        reason: describe(&e),
    })
}

/// Decodes an initial response as it appears on an `AUTH`/`AUTHENTICATE` command
/// line: `=` stands for a zero-length response, anything else is strict base64.
///
/// ```
/// use mailgate_sasl::decode_initial_response;
/// assert_eq!(decode_initial_response(b"=").unwrap(), b"");
/// assert_eq!(decode_initial_response(b"AGEAYg==").unwrap(), b"\0a\0b");
/// ```
///
/// # Errors
///
/// [`SaslError::Base64`] for malformed base64 (including an empty string, which
/// cannot appear as a command argument).
pub fn decode_initial_response(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    match text {
        b"=" => Ok(Vec::new()),
        b"" => Err(SaslError::Base64 {
            reason: "empty initial response (a zero-length response is sent as `=`)".into(),
        }),
        _ => decode_base64(text),
    }
}

/// Encodes an initial response for an `AUTH`/`AUTHENTICATE` command line: a
/// zero-length response becomes `=`.
///
/// ```
/// assert_eq!(mailgate_sasl::encode_initial_response(b""), "=");
/// assert_eq!(mailgate_sasl::encode_initial_response(b"\0a\0b"), "AGEAYg==");
/// ```
pub fn encode_initial_response(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "=".to_owned()
    } else {
        encode_base64(bytes)
    }
}

fn describe(e: &::base64::DecodeError) -> String {
    use ::base64::DecodeError as E;
    match e {
        E::InvalidByte(offset, byte) => {
            format!("invalid byte 0x{byte:02x} at offset {offset}")
        }
        E::InvalidLength(len) => format!("invalid length {len} (not a whole number of quanta)"),
        E::InvalidLastSymbol(offset, byte) => {
            format!("non-canonical last symbol 0x{byte:02x} at offset {offset}")
        }
        E::InvalidPadding => "missing or misplaced `=` padding".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_table() {
        let ok: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"AA==", b"\0"),
            (b"AAA=", b"\0\0"),
            (b"AAAA", b"\0\0\0"),
            (b"VXNlcm5hbWU6", b"Username:"),
            (b"UGFzc3dvcmQ6", b"Password:"),
            (b"AQ==", b"\x01"),
        ];
        for (text, want) in ok {
            assert_eq!(decode_base64(text).unwrap(), *want, "{text:?}");
        }
        let bad: &[&[u8]] = &[
            b"A",
            b"AA",
            b"AA=",
            b"AA==AA==",
            b"AB==",
            b"A A=",
            b"AA==\r\n",
            b"AA-_",
            b"====",
            b"*",
            b"\xff\xfe",
        ];
        for text in bad {
            let err = decode_base64(text).unwrap_err();
            assert!(matches!(err, SaslError::Base64 { .. }), "{text:?}");
        }
    }

    #[test]
    fn lenient_accepts_missing_padding_only() {
        assert_eq!(decode_base64_lenient(b"AA").unwrap(), b"\0");
        assert_eq!(decode_base64_lenient(b"AA==").unwrap(), b"\0");
        assert_eq!(decode_base64_lenient(b"AAA").unwrap(), b"\0\0");
        assert!(decode_base64_lenient(b"A").is_err());
        assert!(decode_base64_lenient(b"A#==").is_err());
    }

    #[test]
    fn error_names_position() {
        let err = decode_base64(b"AB#D").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed base64: invalid byte 0x23 at offset 2"
        );
    }

    #[test]
    fn initial_response() {
        assert_eq!(decode_initial_response(b"=").unwrap(), b"");
        assert!(decode_initial_response(b"").is_err());
        assert!(decode_initial_response(b"==").is_err());
        assert_eq!(encode_initial_response(b""), "=");
        assert_eq!(encode_initial_response(b"x"), "eA==");
    }
}
