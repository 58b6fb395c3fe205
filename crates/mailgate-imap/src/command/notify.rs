//! NOTIFY (RFC 5465): which events of which mailboxes the server reports unasked.

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{map, opt, value};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded, separated_pair};

use super::fetch::{FetchAttribute, fetch_attribute};
use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::lex::{byte, kw, word};
use crate::core::mailbox::mailbox;
use crate::core::{Mailbox, NonEmpty};
use crate::encode::{Encode, encode_list};
use crate::error::{PResult, ParseErrorKind, fail};

/// The argument of NOTIFY: `NONE`, or `SET` with the events to report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Notify<'a> {
    /// `NONE`: report nothing unasked.
    None,
    /// `SET [STATUS] (group) ...`.
    Set {
        /// `STATUS`: send the STATUS of the named mailboxes right away.
        status: bool,
        /// The mailbox filters and their events.
        groups: NonEmpty<NotifyEventGroup<'a>>,
    },
}

/// One `event-group`: mailboxes and the events reported for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyEventGroup<'a> {
    /// Which mailboxes.
    pub filter: NotifyMailboxes<'a>,
    /// Which events; empty for `NONE`.
    pub events: Vec<NotifyEvent<'a>>,
}

/// The mailboxes of an event group (`filter-mailboxes`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotifyMailboxes<'a> {
    /// `selected`: the selected mailbox.
    Selected,
    /// `selected-delayed`: the selected mailbox, expunges delayed.
    SelectedDelayed,
    /// `inboxes`: mailboxes where mail is delivered.
    Inboxes,
    /// `personal`: the user's personal mailboxes.
    Personal,
    /// `subscribed`: the subscribed mailboxes.
    Subscribed,
    /// `subtree mailbox...`: these mailboxes and all below them.
    Subtree(NonEmpty<Mailbox<'a>>),
    /// `mailboxes mailbox...`: exactly these mailboxes.
    Mailboxes(NonEmpty<Mailbox<'a>>),
}

/// An event (`event`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotifyEvent<'a> {
    /// `MessageNew [(fetch-att ...)]`: new messages, with the data to send along.
    MessageNew(Vec<FetchAttribute<'a>>),
    /// `MessageExpunge`.
    MessageExpunge,
    /// `FlagChange`.
    FlagChange,
    /// `AnnotationChange`.
    AnnotationChange,
    /// `MailboxName`.
    MailboxName,
    /// `SubscriptionChange`.
    SubscriptionChange,
    /// `MailboxMetadataChange`.
    MailboxMetadataChange,
    /// `ServerMetadataChange`.
    ServerMetadataChange,
    /// `QuotaChange`.
    QuotaChange,
    /// Another event name (`event-ext`).
    Other(Atom<'a>),
}

const NAMED_EVENTS: [(&str, NotifyEvent<'static>); 8] = [
    ("MessageExpunge", NotifyEvent::MessageExpunge),
    ("FlagChange", NotifyEvent::FlagChange),
    ("AnnotationChange", NotifyEvent::AnnotationChange),
    ("MailboxName", NotifyEvent::MailboxName),
    ("SubscriptionChange", NotifyEvent::SubscriptionChange),
    ("MailboxMetadataChange", NotifyEvent::MailboxMetadataChange),
    ("ServerMetadataChange", NotifyEvent::ServerMetadataChange),
    ("QuotaChange", NotifyEvent::QuotaChange),
];

impl Notify<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Notify<'static> {
        match self {
            Self::None => Notify::None,
            Self::Set { status, groups } => Notify::Set {
                status,
                groups: groups.map(|g| NotifyEventGroup {
                    filter: g.filter.into_owned(),
                    events: g.events.into_iter().map(NotifyEvent::into_owned).collect(),
                }),
            },
        }
    }
}

impl NotifyMailboxes<'_> {
    fn into_owned(self) -> NotifyMailboxes<'static> {
        match self {
            Self::Selected => NotifyMailboxes::Selected,
            Self::SelectedDelayed => NotifyMailboxes::SelectedDelayed,
            Self::Inboxes => NotifyMailboxes::Inboxes,
            Self::Personal => NotifyMailboxes::Personal,
            Self::Subscribed => NotifyMailboxes::Subscribed,
            Self::Subtree(m) => NotifyMailboxes::Subtree(m.map(Mailbox::into_owned)),
            Self::Mailboxes(m) => NotifyMailboxes::Mailboxes(m.map(Mailbox::into_owned)),
        }
    }
}

impl NotifyEvent<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> NotifyEvent<'static> {
        match self {
            Self::MessageNew(a) => {
                NotifyEvent::MessageNew(a.into_iter().map(FetchAttribute::into_owned).collect())
            }
            Self::MessageExpunge => NotifyEvent::MessageExpunge,
            Self::FlagChange => NotifyEvent::FlagChange,
            Self::AnnotationChange => NotifyEvent::AnnotationChange,
            Self::MailboxName => NotifyEvent::MailboxName,
            Self::SubscriptionChange => NotifyEvent::SubscriptionChange,
            Self::MailboxMetadataChange => NotifyEvent::MailboxMetadataChange,
            Self::ServerMetadataChange => NotifyEvent::ServerMetadataChange,
            Self::QuotaChange => NotifyEvent::QuotaChange,
            Self::Other(a) => NotifyEvent::Other(a.into_owned()),
        }
    }
}

impl Encode for NotifyEvent<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::MessageNew(atts) => {
                out.extend_from_slice(b"MessageNew");
                if !atts.is_empty() {
                    out.push(b' ');
                    encode_list(atts, out);
                }
            }
            Self::Other(a) => a.encode(out),
            named => {
                let name = NAMED_EVENTS
                    .iter()
                    .find(|(_, e)| e == named)
                    .map_or("", |(n, _)| n);
                out.extend_from_slice(name.as_bytes());
            }
        }
    }
}

fn encode_mailboxes(name: &[u8], m: &[Mailbox<'_>], out: &mut Vec<u8>) {
    out.extend_from_slice(name);
    if let [one] = m {
        one.encode(out);
    } else {
        encode_list(m, out);
    }
}

impl Encode for NotifyMailboxes<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Selected => out.extend_from_slice(b"selected"),
            Self::SelectedDelayed => out.extend_from_slice(b"selected-delayed"),
            Self::Inboxes => out.extend_from_slice(b"inboxes"),
            Self::Personal => out.extend_from_slice(b"personal"),
            Self::Subscribed => out.extend_from_slice(b"subscribed"),
            Self::Subtree(m) => encode_mailboxes(b"subtree ", m, out),
            Self::Mailboxes(m) => encode_mailboxes(b"mailboxes ", m, out),
        }
    }
}

impl Encode for NotifyEventGroup<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        self.filter.encode(out);
        out.push(b' ');
        if self.events.is_empty() {
            out.extend_from_slice(b"NONE");
        } else {
            encode_list(&self.events, out);
        }
        out.push(b')');
    }
}

impl Encode for Notify<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::None => out.extend_from_slice(b"NONE"),
            Self::Set { status, groups } => {
                out.extend_from_slice(if *status { b"SET STATUS" } else { b"SET" });
                for g in groups {
                    out.push(b' ');
                    g.encode(out);
                }
            }
        }
    }
}

fn sp(i: &[u8]) -> PResult<'_, ()> {
    byte(b' ', "SP")(i)
}

/// `one-or-more-mailbox`: a mailbox or a parenthesized list of them.
fn one_or_more_mailbox<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NonEmpty<Mailbox<'a>>> {
    alt((
        map(
            delimited(
                byte(b'(', "'('"),
                separated_list1(sp, |j| mailbox(j, cfg)),
                byte(b')', "')'"),
            ),
            NonEmpty::from_parsed,
        ),
        map(|j| mailbox(j, cfg), NonEmpty::one),
    ))
    .parse(i)
}

fn filter_mailboxes<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NotifyMailboxes<'a>> {
    alt((
        value(NotifyMailboxes::SelectedDelayed, word("selected-delayed")),
        value(NotifyMailboxes::Selected, word("selected")),
        value(NotifyMailboxes::Inboxes, word("inboxes")),
        value(NotifyMailboxes::Personal, word("personal")),
        value(NotifyMailboxes::Subscribed, word("subscribed")),
        map(
            preceded(kw("subtree "), |j| one_or_more_mailbox(j, cfg)),
            NotifyMailboxes::Subtree,
        ),
        map(
            preceded(kw("mailboxes "), |j| one_or_more_mailbox(j, cfg)),
            NotifyMailboxes::Mailboxes,
        ),
        |j| {
            fail(
                j,
                ParseErrorKind::Expected(
                    "selected, selected-delayed, inboxes, personal, subscribed, subtree or mailboxes",
                ),
            )
        },
    ))
    .parse(i)
}

fn event<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NotifyEvent<'a>> {
    let (r, name) = atom(i, cfg)?;
    if name.as_str().eq_ignore_ascii_case("MessageNew") {
        let (r, atts) = opt(preceded(
            sp,
            delimited(
                byte(b'(', "'('"),
                separated_list1(sp, |j| fetch_attribute(j, cfg)),
                byte(b')', "')'"),
            ),
        ))
        .parse(r)?;
        return Ok((r, NotifyEvent::MessageNew(atts.unwrap_or_default())));
    }
    let event = NAMED_EVENTS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
        .map_or(NotifyEvent::Other(name), |(_, e)| e.clone());
    Ok((r, event))
}

fn events<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<NotifyEvent<'a>>> {
    alt((
        value(Vec::new(), word("NONE")),
        delimited(
            byte(b'(', "'(' or NONE"),
            separated_list1(sp, |j| event(j, cfg)),
            byte(b')', "')'"),
        ),
    ))
    .parse(i)
}

fn event_group<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NotifyEventGroup<'a>> {
    map(
        delimited(
            byte(b'(', "'('"),
            separated_pair(|j| filter_mailboxes(j, cfg), sp, |j| events(j, cfg)),
            byte(b')', "')'"),
        ),
        |(filter, events)| NotifyEventGroup { filter, events },
    )
    .parse(i)
}

/// Parses the argument of NOTIFY (after `NOTIFY SP`).
pub(crate) fn notify<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Notify<'a>> {
    alt((
        value(Notify::None, word("NONE")),
        map(
            preceded(
                kw("SET"),
                (
                    map(opt(kw(" STATUS")), |s| s.is_some()),
                    preceded(sp, separated_list1(sp, |j| event_group(j, cfg))),
                ),
            ),
            |(status, groups)| Notify::Set {
                status,
                groups: NonEmpty::from_parsed(groups),
            },
        ),
        |j| fail(j, ParseErrorKind::Expected("SET or NONE")),
    ))
    .parse(i)
}
