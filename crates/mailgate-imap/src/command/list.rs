//! LIST (with LIST-EXTENDED, LIST-STATUS and SPECIAL-USE options) and STATUS items.

use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use nom::Parser;
use nom::combinator::map;
use nom::sequence::preceded;

use crate::core::lex::{kw, paren_list, sp};
use crate::encode::{Encode, encode_list};
use crate::error::{PResult, ParseErrorKind, fail};

/// A STATUS data item name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusItem {
    /// `MESSAGES`.
    Messages,
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED` (IMAP4rev2).
    Deleted,
    /// `SIZE` (IMAP4rev2, STATUS=SIZE).
    Size,
    /// `HIGHESTMODSEQ` (CONDSTORE).
    HighestModSeq,
    /// `APPENDLIMIT` (RFC 7889).
    AppendLimit,
    /// `MAILBOXID` (OBJECTID).
    MailboxId,
    /// `DELETED-STORAGE` (RFC 9208 QUOTA).
    DeletedStorage,
}

const STATUS_ITEMS: [(StatusItem, &str); 11] = [
    (StatusItem::Messages, "MESSAGES"),
    (StatusItem::Recent, "RECENT"),
    (StatusItem::UidNext, "UIDNEXT"),
    (StatusItem::UidValidity, "UIDVALIDITY"),
    (StatusItem::Unseen, "UNSEEN"),
    (StatusItem::Deleted, "DELETED"),
    (StatusItem::Size, "SIZE"),
    (StatusItem::HighestModSeq, "HIGHESTMODSEQ"),
    (StatusItem::AppendLimit, "APPENDLIMIT"),
    (StatusItem::MailboxId, "MAILBOXID"),
    (StatusItem::DeletedStorage, "DELETED-STORAGE"),
];

impl StatusItem {
    /// The item name.
    pub fn as_str(self) -> &'static str {
        STATUS_ITEMS
            .iter()
            .find(|(i, _)| *i == self)
            .map_or("", |(_, s)| s)
    }
}

impl Encode for StatusItem {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_str().as_bytes());
    }
}

/// Parses a `status-att`.
pub(crate) fn status_item<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, StatusItem> {
    let (r, a) = atom(i, cfg)?;
    match STATUS_ITEMS
        .iter()
        .find(|(_, s)| s.eq_ignore_ascii_case(a.as_str()))
    {
        Some((item, _)) => Ok((r, *item)),
        None => fail(i, ParseErrorKind::Expected("status item")),
    }
}

/// Parses `"(" status-att *(SP status-att) ")"`.
pub(crate) fn status_items<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<StatusItem>> {
    paren_list(i, false, |j| status_item(j, cfg))
}

/// A LIST selection option (LIST-EXTENDED, SPECIAL-USE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListSelectOption<'a> {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// Another option name.
    Other(Atom<'a>),
}

/// A LIST return option (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListReturnOption<'a> {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `STATUS (items)` (LIST-STATUS).
    Status(Vec<StatusItem>),
    /// Another option name.
    Other(Atom<'a>),
}

impl ListSelectOption<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ListSelectOption<'static> {
        match self {
            Self::Subscribed => ListSelectOption::Subscribed,
            Self::Remote => ListSelectOption::Remote,
            Self::RecursiveMatch => ListSelectOption::RecursiveMatch,
            Self::SpecialUse => ListSelectOption::SpecialUse,
            Self::Other(a) => ListSelectOption::Other(a.into_owned()),
        }
    }
}

impl ListReturnOption<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ListReturnOption<'static> {
        match self {
            Self::Subscribed => ListReturnOption::Subscribed,
            Self::Children => ListReturnOption::Children,
            Self::SpecialUse => ListReturnOption::SpecialUse,
            Self::Status(s) => ListReturnOption::Status(s),
            Self::Other(a) => ListReturnOption::Other(a.into_owned()),
        }
    }
}

impl Encode for ListSelectOption<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        let s: &[u8] = match self {
            Self::Subscribed => b"SUBSCRIBED",
            Self::Remote => b"REMOTE",
            Self::RecursiveMatch => b"RECURSIVEMATCH",
            Self::SpecialUse => b"SPECIAL-USE",
            Self::Other(a) => return a.encode(out),
        };
        out.extend_from_slice(s);
    }
}

impl Encode for ListReturnOption<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        let s: &[u8] = match self {
            Self::Subscribed => b"SUBSCRIBED",
            Self::Children => b"CHILDREN",
            Self::SpecialUse => b"SPECIAL-USE",
            Self::Status(items) => {
                out.extend_from_slice(b"STATUS ");
                return encode_list(items, out);
            }
            Self::Other(a) => return a.encode(out),
        };
        out.extend_from_slice(s);
    }
}

/// Parses `"(" [option *(SP option)] ")"` of LIST selection options.
///
/// `RECURSIVEMATCH` alone, or with `REMOTE` only, is refused (RFC 5258 section 3.1:
/// it only makes sense together with a selection option such as `SUBSCRIBED`).
pub(crate) fn list_select_options<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<ListSelectOption<'a>>> {
    let (r, options) = list_select_option_list(i, cfg)?;
    if options.contains(&ListSelectOption::RecursiveMatch)
        && options.iter().all(|o| {
            matches!(
                o,
                ListSelectOption::RecursiveMatch | ListSelectOption::Remote
            )
        })
    {
        return fail(
            i,
            ParseErrorKind::Rule(
                "RECURSIVEMATCH needs another selection option such as SUBSCRIBED",
            ),
        );
    }
    Ok((r, options))
}

fn list_select_option_list<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<ListSelectOption<'a>>> {
    paren_list(i, true, |j| {
        let (r, a) = atom(j, cfg)?;
        let o = match a.as_str().to_ascii_uppercase().as_str() {
            "SUBSCRIBED" => ListSelectOption::Subscribed,
            "REMOTE" => ListSelectOption::Remote,
            "RECURSIVEMATCH" => ListSelectOption::RecursiveMatch,
            "SPECIAL-USE" => ListSelectOption::SpecialUse,
            _ => ListSelectOption::Other(a),
        };
        Ok((r, o))
    })
}

/// Parses `RETURN (options)` of LIST (keyword included).
pub(crate) fn list_return_options<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<ListReturnOption<'a>>> {
    preceded((kw("RETURN"), sp), |i| {
        paren_list(i, true, |j| {
            let (r, a) = atom(j, cfg)?;
            let o = match a.as_str().to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => ListReturnOption::Subscribed,
                "CHILDREN" => ListReturnOption::Children,
                "SPECIAL-USE" => ListReturnOption::SpecialUse,
                "STATUS" => {
                    return map(
                        preceded(sp, |k| status_items(k, cfg)),
                        ListReturnOption::Status,
                    )
                    .parse(r);
                }
                _ => ListReturnOption::Other(a),
            };
            Ok((r, o))
        })
    })
    .parse(i)
}
