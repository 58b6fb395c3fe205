//! PBKDF2-HMAC-SHA256 key derivation and the iteration counts the Python email-oauth2-proxy uses.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroize;

use super::fernet::FernetKey;

/// The iteration count new entries are encrypted with (the Python email-oauth2-proxy's current value).
pub const ITERATIONS: u32 = 1_200_000;

/// The iteration count of entries written before `token_iterations` existed.
pub const LEGACY_ITERATIONS: u32 = 100_000;

/// The largest stored `token_iterations` honoured; larger values are ignored so an
/// edited file cannot stall logins.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Standard base64, padding optional (the Python email-oauth2-proxy writes it padded).
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Derives the Fernet key of a login password: PBKDF2-HMAC-SHA256 over the password's
/// bytes with the salt, 32 bytes of output.
pub fn derive_key(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> FernetKey {
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password,
        &mut out,
    );
    let key = FernetKey::from_bytes(&out);
    out.zeroize();
    key
}

/// The iteration counts to try when decrypting, highest first, without duplicates:
/// [`ITERATIONS`], the stored `token_iterations` ([`LEGACY_ITERATIONS`] when absent or
/// unusable) and [`LEGACY_ITERATIONS`]. The first is also the count to encrypt with.
pub(crate) fn iteration_candidates(stored: Option<i64>) -> Vec<NonZeroU32> {
    let stored = stored
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .unwrap_or(LEGACY_ITERATIONS);
    let mut counts = vec![ITERATIONS, stored, LEGACY_ITERATIONS];
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts.dedup();
    counts.into_iter().filter_map(NonZeroU32::new).collect()
}

/// Decodes a `token_salt` value (standard base64); `None` when absent, empty or not
/// base64, in which case the Python email-oauth2-proxy generates a new salt.
pub(crate) fn decode_salt(value: Option<&str>) -> Option<Vec<u8>> {
    let value = value?.trim();
    STANDARD_LENIENT
        .decode(value)
        .ok()
        .filter(|salt| !salt.is_empty())
}

/// Encodes a salt for `token_salt` (standard base64 with padding).
pub(crate) fn encode_salt(salt: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(stored: Option<i64>) -> Vec<u32> {
        iteration_candidates(stored)
            .into_iter()
            .map(NonZeroU32::get)
            .collect()
    }

    #[test]
    fn candidates_table() {
        assert_eq!(counts(None), vec![1_200_000, 100_000]);
        assert_eq!(counts(Some(1_200_000)), vec![1_200_000, 100_000]);
        assert_eq!(counts(Some(100_000)), vec![1_200_000, 100_000]);
        assert_eq!(counts(Some(480_000)), vec![1_200_000, 480_000, 100_000]);
        assert_eq!(counts(Some(2_000_000)), vec![2_000_000, 1_200_000, 100_000]);
        assert_eq!(counts(Some(0)), vec![1_200_000, 100_000]);
        assert_eq!(counts(Some(-5)), vec![1_200_000, 100_000]);
        assert_eq!(counts(Some(i64::MAX)), vec![1_200_000, 100_000]);
    }

    #[test]
    fn salts_table() {
        assert_eq!(
            decode_salt(Some("AAECAwQFBgcICQoLDA0ODw==")).unwrap(),
            (0u8..16).collect::<Vec<_>>()
        );
        assert_eq!(
            decode_salt(Some("AAECAwQFBgcICQoLDA0ODw")).unwrap().len(),
            16
        );
        assert_eq!(decode_salt(Some("")), None);
        assert_eq!(decode_salt(Some("***")), None);
        assert_eq!(decode_salt(None), None);
        assert_eq!(
            encode_salt(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
            "AAECAwQFBgcICQoLDA0ODw=="
        );
    }

    #[test]
    fn pbkdf2_matches_rfc_7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
        let key = derive_key(b"passwd", b"salt", NonZeroU32::MIN);
        let token = key.encrypt_with(b"", 0, [0; 16]);
        let expected = FernetKey::from_bytes(&[
            0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91, 0xc2, 0x25, 0x44,
            0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde, 0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57,
            0xc2, 0x0d, 0xac, 0xbc,
        ]);
        assert_eq!(token, expected.encrypt_with(b"", 0, [0; 16]));
    }
}
