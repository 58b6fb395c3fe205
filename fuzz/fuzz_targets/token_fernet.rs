//! Decrypts arbitrary text as a Fernet token (the form tokens take in the config file):
//! never panics; a token made by `encrypt_with` decrypts to its plaintext under the same
//! key and to nothing under another, whatever the padding.
//!
//! Input: byte 0 picks the key, the rest is the token text (and the plaintext for the
//! round trip).
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_token::crypto::{FernetKey, token_timestamp};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let key = FernetKey::from_bytes(&[seed; 32]);
    let other = FernetKey::from_bytes(&[seed.wrapping_add(1); 32]);
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = key.decrypt(text);
        let _ = token_timestamp(text);
        let _ = FernetKey::from_base64(text);
    }
    let timestamp = u64::from(seed) << 32 | rest.len() as u64;
    let iv = core::array::from_fn(|i| seed.wrapping_mul(i as u8));
    let token = key.encrypt_with(rest, timestamp, iv);
    assert_eq!(key.decrypt(&token).unwrap().expose(), rest);
    assert_eq!(token_timestamp(&token), Some(timestamp));
    assert!(other.decrypt(&token).is_err());
    let unpadded = token.trim_end_matches('=');
    assert_eq!(key.decrypt(unpadded).unwrap().expose(), rest);
    // Any single changed character is refused (or, for the last character's unused
    // low bits, still decodes to the same plaintext).
    if let Some(at) = usize::from(seed).checked_rem(unpadded.len()) {
        let mut tampered = unpadded.as_bytes().to_vec();
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        if let Ok(plain) = key.decrypt(&tampered) {
            assert_eq!(plain.expose(), rest);
        }
    }
});
