//! Fernet tokens (version `0x80`), byte-compatible with Python `cryptography`.
//!
//! A token is `urlsafe_base64(0x80 ‖ timestamp (u64 BE) ‖ IV (16) ‖ AES-128-CBC
//! ciphertext (PKCS #7) ‖ HMAC-SHA256 (32))`, the HMAC keyed with the first half of
//! the 32-byte key and covering everything before it; the AES key is the second half.
//! The timestamp is written but never checked (the Python email-oauth2-proxy sets no TTL).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::RandomnessUnavailable;
use crate::SecretBytes;

const VERSION: u8 = 0x80;
const HEADER_LEN: usize = 1 + 8 + 16;
const TAG_LEN: usize = 32;
const BLOCK: usize = 16;

/// The longest token text accepted, in bytes (tokens of real providers are a few KiB).
pub(crate) const MAX_TOKEN_TEXT: usize = 256 * 1024;

/// URL-safe base64 that accepts tokens with or without `=` padding, and writes padding.
pub(crate) const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A token that does not decrypt under a key: wrong key (password), or damaged text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token does not decrypt with this key (wrong password or damaged token)")]
pub struct InvalidToken;

/// A 32-byte Fernet key: HMAC signing key and AES-128 key. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FernetKey {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl core::fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FernetKey([redacted])")
    }
}

impl FernetKey {
    /// Splits 32 key bytes into the signing and encryption halves.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut signing = [0u8; 16];
        let mut encryption = [0u8; 16];
        signing.copy_from_slice(&bytes[..16]);
        encryption.copy_from_slice(&bytes[16..]);
        Self {
            signing,
            encryption,
        }
    }

    /// Reads the urlsafe-base64 text form Python's `Fernet(key)` takes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let mut bytes = URL_SAFE_LENIENT.decode(text).ok()?;
        let key = <&[u8; 32]>::try_from(bytes.as_slice())
            .ok()
            .map(Self::from_bytes);
        bytes.zeroize();
        key
    }

    /// Encrypts `plaintext` with the given timestamp (Unix seconds) and IV.
    pub fn encrypt_with(&self, plaintext: &[u8], timestamp: u64, iv: [u8; 16]) -> String {
        let padded_len = (plaintext.len() / BLOCK + 1) * BLOCK;
        let mut data = Vec::with_capacity(HEADER_LEN + padded_len + TAG_LEN);
        data.push(VERSION);
        data.extend_from_slice(&timestamp.to_be_bytes());
        data.extend_from_slice(&iv);
        let start = data.len();
        data.extend_from_slice(plaintext);
        data.resize(start + padded_len, 0);
        let encryptor = cbc::Encryptor::<aes::Aes128>::new(&self.encryption.into(), &iv.into());
        // The buffer holds a whole padded block more than the message: padding cannot fail.
        let written = encryptor
            .encrypt_padded_mut::<Pkcs7>(&mut data[start..], plaintext.len())
            .map(<[u8]>::len)
            .unwrap_or(0);
        data.truncate(start + written);
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.signing), &data);
        data.extend_from_slice(tag.as_ref());
        URL_SAFE_LENIENT.encode(&data)
    }

    /// Encrypts `plaintext` with a random IV from the system generator.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        timestamp: u64,
    ) -> Result<String, RandomnessUnavailable> {
        Ok(self.encrypt_with(plaintext, timestamp, super::random_bytes::<16>()?))
    }

    /// Verifies the HMAC (in constant time) and decrypts; the timestamp is ignored.
    pub fn decrypt(&self, token: &str) -> Result<SecretBytes, InvalidToken> {
        let data = decode(token)?;
        let (signed, tag) = data.split_at(data.len() - TAG_LEN);
        hmac::verify(
            &hmac::Key::new(hmac::HMAC_SHA256, &self.signing),
            signed,
            tag,
        )
        .map_err(|_| InvalidToken)?;
        let iv = &signed[9..HEADER_LEN];
        let mut body = signed[HEADER_LEN..].to_vec();
        let decryptor = cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.encryption, iv)
            .map_err(|_| InvalidToken)?;
        let result = decryptor
            .decrypt_padded_mut::<Pkcs7>(&mut body)
            .map(<[u8]>::len);
        match result {
            Ok(len) => {
                body.truncate(len);
                Ok(SecretBytes::new(body))
            }
            Err(_) => {
                body.zeroize();
                Err(InvalidToken)
            }
        }
    }
}

/// Decodes and checks the framing of a token.
fn decode(token: &str) -> Result<Vec<u8>, InvalidToken> {
    if token.len() > MAX_TOKEN_TEXT {
        return Err(InvalidToken);
    }
    let data = URL_SAFE_LENIENT
        .decode(token.trim())
        .map_err(|_| InvalidToken)?;
    let body = data
        .len()
        .checked_sub(HEADER_LEN + TAG_LEN)
        .ok_or(InvalidToken)?;
    if data.first() != Some(&VERSION) || body == 0 || body % BLOCK != 0 {
        return Err(InvalidToken);
    }
    Ok(data)
}

/// The timestamp a token was made at (Unix seconds), without verifying it.
pub fn token_timestamp(token: &str) -> Option<u64> {
    let data = decode(token).ok()?;
    let bytes: [u8; 8] = data.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_fernet_specification_vector() {
        // The "generate" vector of the Fernet specification.
        let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let token = key.encrypt_with(b"hello", 499_162_800, iv);
        assert_eq!(
            token,
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
        );
        assert_eq!(key.decrypt(&token).unwrap().expose(), b"hello");
        assert_eq!(token_timestamp(&token), Some(499_162_800));
    }

    #[test]
    fn rejects_tampering_and_garbage() {
        let key = FernetKey::from_bytes(&[7u8; 32]);
        let other = FernetKey::from_bytes(&[8u8; 32]);
        let token = key.encrypt(b"secret", 1).unwrap();
        assert_eq!(other.decrypt(&token).unwrap_err(), InvalidToken);
        let mut bytes = URL_SAFE_LENIENT.decode(&token).unwrap();
        for index in [0, 5, 20, 30, bytes.len() - 1] {
            bytes[index] ^= 1;
            assert!(
                key.decrypt(&URL_SAFE_LENIENT.encode(&bytes)).is_err(),
                "flip at {index}"
            );
            bytes[index] ^= 1;
        }
        for garbage in ["", "gAAAAA", "not base64!", &"A".repeat(200)] {
            assert!(key.decrypt(garbage).is_err());
        }
        assert_eq!(
            key.decrypt(token.trim_end_matches('=')).unwrap().expose(),
            b"secret"
        );
    }

    #[test]
    fn round_trips_every_length() {
        let key = FernetKey::from_bytes(&[1u8; 32]);
        for len in 0..40 {
            let plaintext = vec![b'x'; len];
            assert_eq!(
                key.decrypt(&key.encrypt(&plaintext, 9).unwrap())
                    .unwrap()
                    .expose(),
                &plaintext
            );
        }
    }
}
