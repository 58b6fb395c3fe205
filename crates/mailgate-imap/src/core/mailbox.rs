//! Mailbox names: `INBOX` (case-insensitive) or any other astring, kept as bytes
//! (modified UTF-7 in IMAP4rev1, UTF-8 in IMAP4rev2); LIST patterns.

use std::borrow::Cow;

use super::chars::{LIST, all};
use super::string::{AString, astring, encode_string_content, string};
use crate::config::ParserConfig;
use crate::encode::Encode;
use crate::error::{PResult, ValidationError};

/// A mailbox name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mailbox<'a> {
    /// `INBOX`, matched case-insensitively.
    Inbox,
    /// Any other name.
    Other(MailboxOther<'a>),
}

/// A mailbox name other than `INBOX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxOther<'a>(AString<'a>);

impl<'a> MailboxOther<'a> {
    /// The raw name bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl<'a> Mailbox<'a> {
    /// Builds a mailbox from its name; any case of `INBOX` gives [`Mailbox::Inbox`].
    pub fn from_astring(name: AString<'a>) -> Self {
        if name.as_bytes().eq_ignore_ascii_case(b"INBOX") {
            Self::Inbox
        } else {
            Self::Other(MailboxOther(name))
        }
    }

    /// The name bytes (`INBOX` for the inbox).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inbox => b"INBOX",
            Self::Other(o) => o.as_bytes(),
        }
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Mailbox<'static> {
        match self {
            Self::Inbox => Mailbox::Inbox,
            Self::Other(o) => Mailbox::Other(MailboxOther(o.0.into_owned())),
        }
    }
}

impl<'a> TryFrom<&'a str> for Mailbox<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Ok(Self::from_astring(AString::try_from(s)?))
    }
}

impl Encode for Mailbox<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Inbox => out.extend_from_slice(b"INBOX"),
            Self::Other(o) => o.0.encode(out),
        }
    }
}

/// Parses a `mailbox`.
pub(crate) fn mailbox<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Mailbox<'a>> {
    let (rest, name) = astring(i, cfg)?;
    Ok((rest, Mailbox::from_astring(name)))
}

/// A `list-mailbox` pattern of LIST and LSUB (may contain `%` and `*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListMailbox<'a>(Cow<'a, [u8]>);

impl<'a> ListMailbox<'a> {
    /// Validates the pattern (any bytes except NUL).
    pub fn try_new(data: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
        let data = data.into();
        if memchr::memchr(0, &data).is_some() {
            return Err(ValidationError::new("list-mailbox", "must not contain NUL"));
        }
        Ok(Self(data))
    }

    /// The pattern bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ListMailbox<'static> {
        ListMailbox(Cow::Owned(self.0.into_owned()))
    }
}

impl<'a> TryFrom<&'a str> for ListMailbox<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Self::try_new(s.as_bytes())
    }
}

impl Encode for ListMailbox<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        if all(&self.0, LIST) {
            out.extend_from_slice(&self.0);
        } else {
            encode_string_content(&self.0, false, out);
        }
    }
}

/// Parses a `list-mailbox`: `1*list-char / string`.
pub(crate) fn list_mailbox<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ListMailbox<'a>> {
    match i.first() {
        Some(b'"' | b'{') => {
            let (rest, s) = string(i, cfg)?;
            Ok((rest, ListMailbox(Cow::Owned(s.as_bytes().to_vec()))))
        }
        _ => {
            let (rest, s) = super::atom::scan(i, LIST, cfg, "list-mailbox")?;
            Ok((rest, ListMailbox(Cow::Borrowed(s.as_bytes()))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive() {
        let cfg = ParserConfig::strict();
        assert_eq!(mailbox(b"inbox", &cfg).unwrap().1, Mailbox::Inbox);
        assert_eq!(mailbox(b"\"InBoX\"", &cfg).unwrap().1, Mailbox::Inbox);
        let m = mailbox(b"INBOX.Sent", &cfg).unwrap().1;
        assert_eq!(m.as_bytes(), b"INBOX.Sent");
        assert_eq!(
            Mailbox::try_from("~peter/mail/&U,BTFw-/&ZeVnLIqe-")
                .unwrap()
                .to_vec(),
            b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(list_mailbox(b"%/*", &cfg).unwrap().1.to_vec(), b"%/*");
        assert_eq!(ListMailbox::try_from("a b").unwrap().to_vec(), b"\"a b\"");
    }
}
