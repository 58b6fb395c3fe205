//! Gmail labels (X-GM-EXT-1): in FETCH responses, STORE and SEARCH.

use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::string::{AString, astring};
use crate::encode::Encode;
use crate::error::PResult;

/// A Gmail label in `X-GM-LABELS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GmailLabel<'a> {
    /// A system label written with a backslash, such as `\Inbox` or `\Important`
    /// (the name without the backslash).
    System(Atom<'a>),
    /// A user label.
    Name(AString<'a>),
}

impl GmailLabel<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> GmailLabel<'static> {
        match self {
            Self::System(a) => GmailLabel::System(a.into_owned()),
            Self::Name(s) => GmailLabel::Name(s.into_owned()),
        }
    }
}

impl Encode for GmailLabel<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::System(a) => {
                out.push(b'\\');
                a.encode(out);
            }
            Self::Name(s) => s.encode(out),
        }
    }
}

/// Parses a label: `\\` atom (a system label) or astring.
pub(crate) fn gmail_label<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, GmailLabel<'a>> {
    match i {
        [b'\\', rest @ ..] => atom(rest, cfg).map(|(r, a)| (r, GmailLabel::System(a))),
        _ => astring(i, cfg).map(|(r, s)| (r, GmailLabel::Name(s))),
    }
}
