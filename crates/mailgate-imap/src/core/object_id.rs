//! `objectid` (RFC 8474 OBJECTID): the stable identifiers of mailboxes, messages and
//! threads.

use std::borrow::Cow;
use std::fmt;

use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// Longest identifier the grammar allows.
const MAX_LEN: usize = 255;

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// An `objectid`: 1 to 255 of `ALPHA / DIGIT / "_" / "-"` (RFC 8474), such as the
/// `MAILBOXID` of a mailbox or the `EMAILID` of a message.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId<'a>(Cow<'a, str>);

impl<'a> ObjectId<'a> {
    /// Validates an identifier.
    pub fn try_new(s: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let s = s.into();
        if s.is_empty() || s.len() > MAX_LEN || !s.bytes().all(is_id_char) {
            return Err(ValidationError::new(
                "objectid",
                "must be 1 to 255 letters, digits, '_' or '-'",
            ));
        }
        Ok(Self(s))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ObjectId<'static> {
        ObjectId(Cow::Owned(self.0.into_owned()))
    }
}

impl<'a> TryFrom<&'a str> for ObjectId<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl fmt::Debug for ObjectId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({:?})", self.0)
    }
}

impl fmt::Display for ObjectId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Encode for ObjectId<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

/// Parses an `objectid`.
pub(crate) fn object_id(i: &[u8]) -> PResult<'_, ObjectId<'_>> {
    let n = i.iter().position(|&b| !is_id_char(b)).unwrap_or(i.len());
    if n == 0 {
        return fail(i, ParseErrorKind::Expected("objectid"));
    }
    if n > MAX_LEN {
        return fail(
            i,
            ParseErrorKind::Rule("objectid longer than 255 characters"),
        );
    }
    let s = std::str::from_utf8(&i[..n]).unwrap_or_default();
    Ok((&i[n..], ObjectId(Cow::Borrowed(s))))
}

/// Parses `"(" objectid ")"`.
pub(crate) fn paren_object_id(i: &[u8]) -> PResult<'_, ObjectId<'_>> {
    use crate::core::lex::byte;
    use nom::Parser;
    use nom::sequence::delimited;
    delimited(byte(b'(', "'('"), object_id, byte(b')', "')'")).parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids() {
        assert_eq!(
            object_id(b"F2212ea87-6097 ").map(|(r, id)| (r, id.to_string())),
            Ok((&b" "[..], "F2212ea87-6097".to_owned()))
        );
        assert!(object_id(b" x").is_err());
        assert!(object_id("a".repeat(256).as_bytes()).is_err());
        assert!(ObjectId::try_new("a.b").is_err());
        assert!(ObjectId::try_new("").is_err());
        assert_eq!(
            paren_object_id(b"(M1)").map(|(_, id)| id.to_string()),
            Ok("M1".to_owned())
        );
    }
}
