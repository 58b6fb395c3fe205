//! The workspace's redacting, zeroizing wrapper for passwords and SASL payloads.
//!
//! [`Secret`] is [`mailgate_sasl::Secret`], re-exported so that IMAP values (a `LOGIN`
//! password, decoded `AUTHENTICATE` data) and SASL values are the same type and print
//! the same redaction everywhere. This module adds the IMAP wire encoding of a secret.
//!
//! ```
//! use mailgate_imap::Secret;
//! let s = Secret::new(String::from("hunter2"));
//! assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
//! assert_eq!(s.expose(), "hunter2");
//! ```

pub use mailgate_sasl::{REDACTED, Secret};
use zeroize::Zeroize;

impl<T: Zeroize + crate::Encode> crate::Encode for Secret<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.expose().encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Encode;
    use crate::core::AString;

    #[test]
    fn redacts_and_encodes() {
        let s = Secret::new(AString::try_from("two words").unwrap_or_else(|_| unreachable!()));
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s:#?}"), "Secret([redacted])");
        assert_eq!(s.to_string(), REDACTED);
        assert_eq!(s.clone(), s);
        assert_eq!(s.to_vec(), b"\"two words\"");
    }
}
