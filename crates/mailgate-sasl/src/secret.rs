//! A redacting, zeroizing wrapper for passwords, tokens and SASL payloads.

use core::fmt;

use zeroize::Zeroize;

/// The text that [`Secret`]'s `Debug` and `Display` print instead of the value.
pub const REDACTED: &str = "[redacted]";

/// A value that must never be logged: a password, an access token, a SASL payload.
///
/// * `Debug` and `Display` print [`REDACTED`] in every build, so a secret can sit in
///   structs that derive `Debug` and in `tracing` fields without leaking.
/// * The value is zeroized when the `Secret` is dropped.
/// * [`Secret::expose`] is the one way to read it; grep for `expose` to audit uses.
/// * Equality between byte-like secrets runs in time independent of where the
///   first difference lies (the length is not hidden).
///
/// ```
/// use mailgate_sasl::SecretString;
///
/// let password = SecretString::from("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret([redacted])");
/// assert_eq!(password.to_string(), "[redacted]");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, Default)]
pub struct Secret<T: Zeroize>(T);

/// A secret UTF-8 string (password, access token, base64 text of a SASL payload).
pub type SecretString = Secret<String>;

/// A secret byte string (a raw SASL payload).
pub type SecretBytes = Secret<Vec<u8>>;

impl<T: Zeroize> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the secret value. Every call site is a place where the secret leaves
    /// its wrapper: keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Borrows the secret value mutably, e.g. to append to it in place.
    pub fn expose_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<&[u8]> for Secret<Vec<u8>> {
    fn from(value: &[u8]) -> Self {
        Self(value.to_vec())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize + AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_ref(), other.0.as_ref())
    }
}

impl<T: Zeroize + AsRef<[u8]>> Eq for Secret<T> {}

/// Compares two byte strings without an early exit on the first difference.
///
/// Lengths are compared first and are not secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | core::hint::black_box(x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = SecretString::from("p@ss");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s:#?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), REDACTED);
        let b = SecretBytes::from(&b"\x00\x01"[..]);
        assert_eq!(format!("{b:?}"), "Secret([redacted])");
    }

    #[test]
    fn redacts_inside_derived_debug() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: SecretString,
        }
        let l = Login {
            user: "u".into(),
            password: "topsecret".into(),
        };
        let text = format!("{l:?}");
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains(REDACTED));
    }

    #[test]
    fn equality() {
        assert_eq!(SecretString::from("abc"), SecretString::from("abc"));
        assert_ne!(SecretString::from("abc"), SecretString::from("abd"));
        assert_ne!(SecretString::from("abc"), SecretString::from("abcd"));
        assert_eq!(SecretBytes::default(), SecretBytes::from(Vec::new()));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }

    #[test]
    fn clone_and_expose() {
        let mut s = SecretString::new("a".into());
        s.expose_mut().push('b');
        let c = s.clone();
        assert_eq!(c.expose(), "ab");
    }
}
