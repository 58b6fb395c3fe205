//! LIST and LSUB responses (`mailbox-list`) with LIST-EXTENDED items and SPECIAL-USE
//! attributes.

use std::borrow::Cow;

use super::ext_value::{TaggedExtValue, tagged_ext_val};
use super::lex::{byte, close, list, nil, quirks, sp};
use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::chars::{ASTRING, is};
use crate::core::mailbox::{Mailbox, mailbox};
use crate::core::non_empty::NonEmpty;
use crate::core::string::{AString, IString, astring, encode_quoted, quoted};
use crate::encode::{Encode, encode_list, encode_separated};
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

macro_rules! attributes {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// A mailbox attribute in a LIST response (`mbx-list-flags`), written with a
        /// leading backslash.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum MailboxAttribute<'a> {
            $(#[doc = concat!("`\\", $name, "`: ", $doc)] $variant,)*
            /// Another attribute (name without the backslash, not one of the above).
            Extension(Atom<'a>),
        }

        impl<'a> MailboxAttribute<'a> {
            /// The attribute named `name` (without backslash), case-insensitively.
            pub fn from_name(name: Atom<'a>) -> Self {
                let s = name.as_str();
                $(if s.eq_ignore_ascii_case($name) { return Self::$variant; })*
                Self::Extension(name)
            }

            /// Detaches from the input buffer.
            pub fn into_owned(self) -> MailboxAttribute<'static> {
                match self {
                    $(Self::$variant => MailboxAttribute::$variant,)*
                    Self::Extension(a) => MailboxAttribute::Extension(a.into_owned()),
                }
            }

            /// The name without backslash.
            pub fn name(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Extension(a) => a.as_str(),
                }
            }
        }
    };
}

attributes! {
    NoInferiors => "Noinferiors", "no child mailboxes are possible";
    NoSelect => "Noselect", "the mailbox cannot be selected";
    Marked => "Marked", "probably has new messages";
    Unmarked => "Unmarked", "probably has no new messages";
    HasChildren => "HasChildren", "has child mailboxes";
    HasNoChildren => "HasNoChildren", "has no child mailboxes";
    NonExistent => "NonExistent", "does not exist";
    Subscribed => "Subscribed", "is subscribed";
    Remote => "Remote", "is on a remote server";
    All => "All", "special use: all messages";
    Archive => "Archive", "special use: archive";
    Drafts => "Drafts", "special use: drafts";
    Flagged => "Flagged", "special use: flagged messages";
    Junk => "Junk", "special use: junk";
    Sent => "Sent", "special use: sent messages";
    Trash => "Trash", "special use: trash";
    Important => "Important", "special use: important messages (RFC 8457)";
}

impl Encode for MailboxAttribute<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'\\');
        out.extend_from_slice(self.name().as_bytes());
    }
}

/// A LIST-EXTENDED item (`mbox-list-extended-item`, RFC 5258 / RFC 9051).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListExtendedItem<'a> {
    /// `"CHILDINFO" (...)`: why a non-matching parent is listed (e.g. `SUBSCRIBED`).
    ChildInfo(NonEmpty<AString<'a>>),
    /// `"OLDNAME" (mailbox)`: the name before a RENAME (IMAP4rev2).
    OldName(Mailbox<'a>),
    /// Any other item: a tag (not `CHILDINFO` nor `OLDNAME`) and its value.
    Other {
        /// The item tag.
        tag: AString<'a>,
        /// The value.
        value: TaggedExtValue<'a>,
    },
}

impl Encode for ListExtendedItem<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::ChildInfo(opts) => {
                out.extend_from_slice(b"\"CHILDINFO\" (");
                for (n, o) in opts.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    IString::from(o.clone()).encode(out);
                }
                out.push(b')');
            }
            Self::OldName(m) => {
                out.extend_from_slice(b"\"OLDNAME\" (");
                m.encode(out);
                out.push(b')');
            }
            Self::Other { tag, value } => {
                tag.encode(out);
                out.push(b' ');
                value.encode(out);
            }
        }
    }
}

/// A LIST or LSUB response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListItem<'a> {
    /// Mailbox attributes.
    pub attributes: Vec<MailboxAttribute<'a>>,
    /// The hierarchy delimiter, or `None` (`NIL`) for a flat namespace.
    pub delimiter: Option<char>,
    /// The mailbox name.
    pub mailbox: Mailbox<'a>,
    /// LIST-EXTENDED items (empty when absent).
    pub extended: Vec<ListExtendedItem<'a>>,
}

/// Writes a hierarchy delimiter (`DQUOTE QUOTED-CHAR DQUOTE` or `NIL`).
pub(crate) fn encode_delimiter(d: Option<char>, out: &mut Vec<u8>) {
    match d {
        Some(c) => {
            let mut buf = [0u8; 4];
            encode_quoted(c.encode_utf8(&mut buf).as_bytes(), out);
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Validates a delimiter character: not CR, LF or NUL.
pub(crate) fn check_delimiter(c: char) -> Result<char, ValidationError> {
    if matches!(c, '\r' | '\n' | '\0') {
        return Err(ValidationError::new(
            "delimiter",
            "must be a text character",
        ));
    }
    Ok(c)
}

impl Encode for ListItem<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_list(&self.attributes, out);
        out.push(b' ');
        encode_delimiter(self.delimiter, out);
        out.push(b' ');
        self.mailbox.encode(out);
        if !self.extended.is_empty() {
            out.extend_from_slice(b" (");
            encode_separated(&self.extended, b' ', out);
            out.push(b')');
        }
    }
}

/// Parses a delimiter: a quoted single character or `NIL`.
pub(crate) fn delimiter<'a>(i: &'a [u8], _cfg: &ParserConfig) -> PResult<'a, Option<char>> {
    if let Some(r) = nil(i) {
        return Ok((r, None));
    }
    let (r, q) = quoted(i)?;
    let s = std::str::from_utf8(&q).ok();
    let mut chars = s.map(str::chars);
    match chars.as_mut().and_then(Iterator::next) {
        Some(c) if chars.as_mut().and_then(Iterator::next).is_none() => match check_delimiter(c) {
            Ok(c) => Ok((r, Some(c))),
            Err(_) => fail(i, ParseErrorKind::Expected("delimiter character")),
        },
        _ => fail(i, ParseErrorKind::Expected("one delimiter character")),
    }
}

fn attribute<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, MailboxAttribute<'a>> {
    let (i, ()) = byte(i, b'\\', "'\\'")?;
    let (r, a) = atom(i, cfg)?;
    Ok((r, MailboxAttribute::from_name(a)))
}

/// A mailbox name; with quirks an unquoted name may contain `\` (Gmail).
pub(crate) fn list_mailbox_name<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Mailbox<'a>> {
    if quirks(cfg) && !matches!(i.first(), Some(b'"' | b'{')) {
        let n = i
            .iter()
            .position(|&b| !(is(b, ASTRING) || b == b'\\' || (b >= 0x80 && cfg.allow_8bit_atoms)))
            .unwrap_or(i.len());
        if i[..n].contains(&b'\\') {
            if std::str::from_utf8(&i[..n]).is_err() {
                return fail(i, ParseErrorKind::NotUtf8);
            }
            let name = AString::from_parsed(Cow::Borrowed(&i[..n]));
            return Ok((&i[n..], Mailbox::from_astring(name)));
        }
    }
    mailbox(i, cfg)
}

fn extended_item<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ListExtendedItem<'a>> {
    let (r, tag) = astring(i, cfg)?;
    let (r, ()) = sp(r, cfg)?;
    if tag.as_bytes().eq_ignore_ascii_case(b"CHILDINFO") {
        let (r, opts) = list(r, false, cfg, |j| astring(j, cfg))?;
        return match NonEmpty::try_new(opts) {
            Ok(opts) => Ok((r, ListExtendedItem::ChildInfo(opts))),
            Err(_) => fail(r, ParseErrorKind::Expected("CHILDINFO option")),
        };
    }
    if tag.as_bytes().eq_ignore_ascii_case(b"OLDNAME") {
        let (r, ()) = byte(r, b'(', "'('")?;
        let (r, m) = mailbox(r, cfg)?;
        let (r, ()) = close(r, b')', cfg)?;
        return Ok((r, ListExtendedItem::OldName(m)));
    }
    let (r, value) = tagged_ext_val(r, cfg)?;
    Ok((r, ListExtendedItem::Other { tag, value }))
}

/// Parses a `mailbox-list`.
pub(crate) fn mailbox_list<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ListItem<'a>> {
    let (r, attributes) = list(i, true, cfg, |j| attribute(j, cfg))?;
    let (r, ()) = sp(r, cfg)?;
    let (r, delimiter) = delimiter(r, cfg)?;
    let (r, ()) = sp(r, cfg)?;
    let (r, mailbox) = list_mailbox_name(r, cfg)?;
    let (r, extended) = match r {
        [b' ', b'(', ..] => list(&r[1..], false, cfg, |j| extended_item(j, cfg))?,
        _ => (r, Vec::new()),
    };
    Ok((
        r,
        ListItem {
            attributes,
            delimiter,
            mailbox,
            extended,
        },
    ))
}
