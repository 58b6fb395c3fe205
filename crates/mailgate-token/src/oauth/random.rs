//! Random values from the operating system's CSPRNG (ring's `SystemRandom`).

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

/// Why random bytes could not be produced (the operating system's generator failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

/// `n` random bytes.
pub(crate) fn bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, RandomError> {
    let mut out = Zeroizing::new(vec![0u8; n]);
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| RandomError)?;
    Ok(out)
}

/// Base64url (unpadded) of `n` random bytes, like Python's `secrets.token_urlsafe(n)`.
pub(crate) fn token_urlsafe(n: usize) -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(bytes(n)?.as_slice()))
}

/// A random version 4 UUID in its hyphenated text form (for JWT `jti`).
pub(crate) fn uuid_v4() -> Result<String, RandomError> {
    let mut b = bytes(16)?;
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | 0x40;
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(token_urlsafe(16).unwrap().len(), 22);
        assert_eq!(token_urlsafe(64).unwrap().len(), 86);
        assert_ne!(token_urlsafe(16).unwrap(), token_urlsafe(16).unwrap());
        let uuid = uuid_v4().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }
}
