//! The command bodies: one variant per command, and their parser (the encoder is in
//! `encode.rs`, `into_owned` in `owned.rs`).

use crate::config::ParserConfig;
use crate::core::GmailLabel;
use crate::core::atom::{Atom, atom};
use crate::core::capability::{auth_mechanism, capability, charset};
use crate::core::lex::{byte, keyword, kw, paren_list, sp};
use crate::core::mailbox::{list_mailbox, mailbox};
use crate::core::sequence::seq_number;
use crate::core::sequence::sequence_set;
use crate::core::string::{AString, astring};
use crate::core::{
    AuthMechanism, Capability, Charset, Flag, ListMailbox, Mailbox, NonEmpty, SequenceSet,
};
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, fail};
use crate::secret::Secret;
use nom::Parser;
use nom::branch::alt;
use nom::combinator::{cut, map, opt, peek};
use nom::multi::{many0, many1, separated_list1};
use nom::sequence::{preceded, terminated};

use super::authenticate::{SaslData, initial_response};
use super::fetch::{FetchItems, FetchModifier, fetch_items, fetch_modifiers};
use super::list::{
    ListReturnOption, ListSelectOption, StatusItem, list_return_options, list_select_options,
    status_items,
};
use super::notify::{Notify, notify};
use super::other::{RawArguments, raw_arguments};
use super::params::{
    AppendMessage, IdField, MetadataEntry, MetadataOption, QuotaLimit, Replace, SelectParameter,
    StoreKind, append_message, id_fields, metadata_entries, metadata_options, quota_limits,
    select_parameters, store_flags, store_kind, store_labels, store_modifier,
};
use super::search::{SearchKey, SearchReturnOption, search_criteria, search_return};

/// A SORT criterion (RFC 5256, RFC 5957 DISPLAY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    /// `REVERSE`.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// A SORT key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortKey {
    /// `ARRIVAL`.
    Arrival,
    /// `CC`.
    Cc,
    /// `DATE`.
    Date,
    /// `FROM`.
    From,
    /// `SIZE`.
    Size,
    /// `SUBJECT`.
    Subject,
    /// `TO`.
    To,
    /// `DISPLAYFROM`.
    DisplayFrom,
    /// `DISPLAYTO`.
    DisplayTo,
    /// `RELEVANCY` (RFC 6203 SEARCH=FUZZY).
    Relevancy,
}

const SORT_KEYS: [(SortKey, &str); 10] = [
    (SortKey::Arrival, "ARRIVAL"),
    (SortKey::Cc, "CC"),
    (SortKey::Date, "DATE"),
    (SortKey::From, "FROM"),
    (SortKey::Size, "SIZE"),
    (SortKey::Subject, "SUBJECT"),
    (SortKey::To, "TO"),
    (SortKey::DisplayFrom, "DISPLAYFROM"),
    (SortKey::DisplayTo, "DISPLAYTO"),
    (SortKey::Relevancy, "RELEVANCY"),
];

impl Encode for SortCriterion {
    fn encode(&self, out: &mut Vec<u8>) {
        if self.reverse {
            out.extend_from_slice(b"REVERSE ");
        }
        let name = SORT_KEYS
            .iter()
            .find(|(k, _)| *k == self.key)
            .map_or("", |(_, s)| s);
        out.extend_from_slice(name.as_bytes());
    }
}

fn sort_criterion<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, SortCriterion> {
    let (i, reverse) = match keyword(i, "REVERSE ") {
        Ok((i, ())) => (i, true),
        Err(_) => (i, false),
    };
    let (r, a) = atom(i, cfg)?;
    match SORT_KEYS
        .iter()
        .find(|(_, s)| s.eq_ignore_ascii_case(a.as_str()))
    {
        Some((key, _)) => Ok((r, SortCriterion { reverse, key: *key })),
        None => fail(i, ParseErrorKind::Expected("sort key")),
    }
}

/// A command and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody<'a> {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR).
    Authenticate {
        /// SASL mechanism.
        mechanism: AuthMechanism<'a>,
        /// Initial response (decoded; empty for `=`).
        initial_response: Option<SaslData>,
    },
    /// `LOGIN username password`.
    Login {
        /// User name.
        username: AString<'a>,
        /// Password.
        password: Secret<AString<'a>>,
    },
    /// `ENABLE capability...`.
    Enable {
        /// Capabilities to enable.
        capabilities: NonEmpty<Capability<'a>>,
    },
    /// `SELECT mailbox [(parameters)]`.
    Select {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// CONDSTORE / QRESYNC parameters.
        parameters: Vec<SelectParameter>,
    },
    /// `EXAMINE mailbox [(parameters)]`.
    Examine {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// CONDSTORE / QRESYNC parameters.
        parameters: Vec<SelectParameter>,
    },
    /// `CREATE mailbox [(USE (special-use...))]`.
    Create {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// Special-use attributes without backslash (CREATE-SPECIAL-USE).
        special_use: Vec<Atom<'a>>,
    },
    /// `DELETE mailbox`.
    Delete {
        /// Mailbox.
        mailbox: Mailbox<'a>,
    },
    /// `RENAME from to`.
    Rename {
        /// Existing name.
        from: Mailbox<'a>,
        /// New name.
        to: Mailbox<'a>,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe {
        /// Mailbox.
        mailbox: Mailbox<'a>,
    },
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe {
        /// Mailbox.
        mailbox: Mailbox<'a>,
    },
    /// `LIST [(selection)] reference patterns [RETURN (options)]`.
    List {
        /// Selection options (omitted on the wire when empty).
        selection: Vec<ListSelectOption<'a>>,
        /// Reference name.
        reference: Mailbox<'a>,
        /// One pattern, or several (LIST-EXTENDED).
        patterns: NonEmpty<ListMailbox<'a>>,
        /// Return options (omitted on the wire when empty).
        return_options: Vec<ListReturnOption<'a>>,
    },
    /// `LSUB reference pattern` (IMAP4rev1).
    Lsub {
        /// Reference name.
        reference: Mailbox<'a>,
        /// Pattern.
        pattern: ListMailbox<'a>,
    },
    /// `NAMESPACE`.
    Namespace,
    /// `STATUS mailbox (items)`.
    Status {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// Items.
        items: NonEmpty<StatusItem>,
    },
    /// `APPEND mailbox message...` (several with MULTIAPPEND).
    Append {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// Messages.
        messages: NonEmpty<AppendMessage<'a>>,
    },
    /// `IDLE` (ended by a `DONE` line, see [`parse_idle_done`](super::parse_idle_done)).
    Idle,
    /// `CHECK` (IMAP4rev1).
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT`.
    Unselect,
    /// `EXPUNGE`.
    Expunge,
    /// `UID EXPUNGE set` (UIDPLUS).
    UidExpunge {
        /// UIDs.
        sequence_set: SequenceSet,
    },
    /// `[UID] SEARCH [RETURN (...)] [CHARSET charset] keys`.
    Search {
        /// `UID SEARCH`.
        uid: bool,
        /// ESEARCH return options; `Some(vec![])` is `RETURN ()`.
        return_options: Option<Vec<SearchReturnOption>>,
        /// Charset.
        charset: Option<Charset<'a>>,
        /// Keys (all must match).
        criteria: NonEmpty<SearchKey<'a>>,
    },
    /// `[UID] FETCH set items [(modifiers)]`.
    Fetch {
        /// `UID FETCH`.
        uid: bool,
        /// Messages.
        sequence_set: SequenceSet,
        /// Items.
        items: FetchItems<'a>,
        /// CONDSTORE / QRESYNC modifiers.
        modifiers: Vec<FetchModifier>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags`.
    Store {
        /// `UID STORE`.
        uid: bool,
        /// Messages.
        sequence_set: SequenceSet,
        /// `UNCHANGEDSINCE` (CONDSTORE).
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        kind: StoreKind,
        /// `.SILENT`.
        silent: bool,
        /// Flags.
        flags: Vec<Flag<'a>>,
    },
    /// `[UID] COPY set mailbox`.
    Copy {
        /// `UID COPY`.
        uid: bool,
        /// Messages.
        sequence_set: SequenceSet,
        /// Destination.
        mailbox: Mailbox<'a>,
    },
    /// `[UID] MOVE set mailbox`.
    Move {
        /// `UID MOVE`.
        uid: bool,
        /// Messages.
        sequence_set: SequenceSet,
        /// Destination.
        mailbox: Mailbox<'a>,
    },
    /// `[UID] SORT [RETURN (...)] (criteria) charset keys`.
    Sort {
        /// `UID SORT`.
        uid: bool,
        /// ESORT return options.
        return_options: Option<Vec<SearchReturnOption>>,
        /// Sort criteria.
        criteria: NonEmpty<SortCriterion>,
        /// Charset.
        charset: Charset<'a>,
        /// Search keys.
        search: NonEmpty<SearchKey<'a>>,
    },
    /// `[UID] THREAD algorithm charset keys`.
    Thread {
        /// `UID THREAD`.
        uid: bool,
        /// Algorithm, such as `REFERENCES`.
        algorithm: Atom<'a>,
        /// Charset.
        charset: Charset<'a>,
        /// Search keys.
        search: NonEmpty<SearchKey<'a>>,
    },
    /// `GETQUOTA root`.
    GetQuota {
        /// Quota root.
        root: AString<'a>,
    },
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot {
        /// Mailbox.
        mailbox: Mailbox<'a>,
    },
    /// `SETQUOTA root (limits)`.
    SetQuota {
        /// Quota root.
        root: AString<'a>,
        /// Limits.
        limits: Vec<QuotaLimit<'a>>,
    },
    /// `GETMETADATA [(options)] mailbox entries`.
    GetMetadata {
        /// Options (omitted on the wire when empty).
        options: Vec<MetadataOption>,
        /// Mailbox (empty name for server entries).
        mailbox: Mailbox<'a>,
        /// Entry names.
        entries: NonEmpty<AString<'a>>,
    },
    /// `SETMETADATA mailbox (entry value ...)`.
    SetMetadata {
        /// Mailbox (empty name for server entries).
        mailbox: Mailbox<'a>,
        /// Entries and values.
        entries: NonEmpty<MetadataEntry<'a>>,
    },
    /// `ID (fields)` or `ID NIL`.
    Id {
        /// Fields (`ID ()` has none); `None` for NIL.
        fields: Option<Vec<IdField<'a>>>,
    },
    /// `COMPRESS algorithm`.
    Compress {
        /// Algorithm, such as `DEFLATE`.
        algorithm: Atom<'a>,
    },
    /// `UNAUTHENTICATE` (RFC 8437): back to the not authenticated state.
    Unauthenticate,
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+-]X-GM-LABELS[.SILENT] labels` (Gmail's
    /// X-GM-EXT-1).
    StoreGmailLabels {
        /// `UID STORE`.
        uid: bool,
        /// Messages.
        sequence_set: SequenceSet,
        /// `UNCHANGEDSINCE` (CONDSTORE).
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        kind: StoreKind,
        /// `.SILENT`.
        silent: bool,
        /// Labels.
        labels: Vec<GmailLabel<'a>>,
    },
    /// `[UID] REPLACE n mailbox message` (RFC 8508). Boxed: rare, and its 4-byte
    /// message number would otherwise reorder the layout of every variant (moves of a
    /// parsed command then stall on partial copies).
    Replace(Box<Replace<'a>>),
    /// `SETACL mailbox identifier rights` (RFC 4314); rights starting with `+` or `-`
    /// are added or removed, others replace.
    SetAcl {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// User or group.
        identifier: AString<'a>,
        /// `mod-rights`.
        rights: AString<'a>,
    },
    /// `DELETEACL mailbox identifier` (RFC 4314).
    DeleteAcl {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// User or group.
        identifier: AString<'a>,
    },
    /// `GETACL mailbox` (RFC 4314).
    GetAcl {
        /// Mailbox.
        mailbox: Mailbox<'a>,
    },
    /// `LISTRIGHTS mailbox identifier` (RFC 4314).
    ListRights {
        /// Mailbox.
        mailbox: Mailbox<'a>,
        /// User or group.
        identifier: AString<'a>,
    },
    /// `MYRIGHTS mailbox` (RFC 4314).
    MyRights {
        /// Mailbox.
        mailbox: Mailbox<'a>,
    },
    /// `NOTIFY NONE` or `NOTIFY SET ...` (RFC 5465).
    Notify(Notify<'a>),
    /// `LANGUAGE [range ...]` (RFC 5255): list the languages, or choose one.
    Language {
        /// Language ranges in order of preference; empty to ask for the list.
        ranges: Vec<AString<'a>>,
    },
    /// `COMPARATOR [comparator ...]` (RFC 5255 I18NLEVEL=2): show or choose the
    /// collation.
    Comparator {
        /// Comparator names in order of preference; empty to ask for the active one.
        comparators: Vec<AString<'a>>,
    },
    /// A command this crate does not know, kept as sent (only with
    /// [`ParserConfig::allow_unknown_commands`]).
    Other {
        /// The command name.
        name: Atom<'a>,
        /// The arguments.
        arguments: RawArguments<'a>,
    },
}

/// `SP mailbox`.
fn sp_mailbox<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Mailbox<'a>> {
    preceded(sp, |j| mailbox(j, cfg)).parse(i)
}

/// `SP astring`.
fn sp_astring<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, AString<'a>> {
    preceded(sp, |j| astring(j, cfg)).parse(i)
}

/// The SP before each message of APPEND.
fn append_sp(i: &[u8]) -> PResult<'_, ()> {
    match sp(i) {
        Err(_) => fail(i, ParseErrorKind::Expected("SP and message literal")),
        ok => ok,
    }
}

/// `[SP search-return-opts]` (ESEARCH, ESORT).
fn opt_search_return<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Option<Vec<SearchReturnOption>>> {
    opt(preceded(sp, |j| search_return(j, cfg))).parse(i)
}

/// `"(" item *(SP item) ")"` or a single item, as one or more.
fn one_or_list<'a, T>(
    i: &'a [u8],
    item: impl Fn(&'a [u8]) -> PResult<'a, T> + Copy,
) -> PResult<'a, NonEmpty<T>> {
    alt((
        map(|j| paren_list(j, false, item), NonEmpty::from_parsed),
        map(item, NonEmpty::one),
    ))
    .parse(i)
}

/// Parses the UID-able commands after `UID SP` (or without UID).
fn uid_command<'a>(
    name: &[u8],
    i: &'a [u8],
    cfg: &ParserConfig,
    uid: bool,
) -> PResult<'a, CommandBody<'a>> {
    use CommandBody as B;
    match name {
        b"FETCH" => map(
            (
                preceded(sp, sequence_set),
                preceded(sp, |j| fetch_items(j, cfg)),
                |j| fetch_modifiers(j, uid),
            ),
            |(sequence_set, items, modifiers)| B::Fetch {
                uid,
                sequence_set,
                items,
                modifiers,
            },
        )
        .parse(i),
        b"STORE" => {
            let (i, (sequence_set, unchanged_since, (kind, labels, silent))) = (
                preceded(sp, sequence_set),
                store_modifier,
                preceded(sp, store_kind),
            )
                .parse(i)?;
            if labels {
                let (i, labels) = preceded(sp, |j| store_labels(j, cfg)).parse(i)?;
                let body = B::StoreGmailLabels {
                    uid,
                    sequence_set,
                    unchanged_since,
                    kind,
                    silent,
                    labels,
                };
                Ok((i, body))
            } else {
                let (i, flags) = preceded(sp, |j| store_flags(j, cfg)).parse(i)?;
                let body = B::Store {
                    uid,
                    sequence_set,
                    unchanged_since,
                    kind,
                    silent,
                    flags,
                };
                Ok((i, body))
            }
        }
        b"COPY" => map(
            (preceded(sp, sequence_set), |j| sp_mailbox(j, cfg)),
            |(sequence_set, mailbox)| B::Copy {
                uid,
                sequence_set,
                mailbox,
            },
        )
        .parse(i),
        b"MOVE" => map(
            (preceded(sp, sequence_set), |j| sp_mailbox(j, cfg)),
            |(sequence_set, mailbox)| B::Move {
                uid,
                sequence_set,
                mailbox,
            },
        )
        .parse(i),
        b"SEARCH" => map(
            (
                |j| opt_search_return(j, cfg),
                opt(preceded(kw(" CHARSET "), cut(|j| charset(j, cfg)))),
                |j| search_criteria(j, cfg),
            ),
            |(return_options, charset, criteria)| B::Search {
                uid,
                return_options,
                charset,
                criteria,
            },
        )
        .parse(i),
        b"SORT" => map(
            (
                |j| opt_search_return(j, cfg),
                preceded(sp, |j| paren_list(j, false, |k| sort_criterion(k, cfg))),
                preceded(sp, |j| charset(j, cfg)),
                |j| search_criteria(j, cfg),
            ),
            |(return_options, criteria, charset, search)| B::Sort {
                uid,
                return_options,
                criteria: NonEmpty::from_parsed(criteria),
                charset,
                search,
            },
        )
        .parse(i),
        b"THREAD" => map(
            (
                preceded(sp, |j| atom(j, cfg)),
                preceded(sp, |j| charset(j, cfg)),
                |j| search_criteria(j, cfg),
            ),
            |(algorithm, charset, search)| B::Thread {
                uid,
                algorithm,
                charset,
                search,
            },
        )
        .parse(i),
        b"EXPUNGE" if uid => map(preceded(sp, sequence_set), |sequence_set| B::UidExpunge {
            sequence_set,
        })
        .parse(i),
        b"REPLACE" => map(
            (
                preceded(sp, seq_number),
                |j| sp_mailbox(j, cfg),
                preceded(sp, |j| append_message(j, cfg)),
            ),
            |(sequence, mailbox, message)| {
                B::Replace(Box::new(Replace {
                    uid,
                    sequence,
                    mailbox,
                    message,
                }))
            },
        )
        .parse(i),
        _ => fail(i, ParseErrorKind::UnknownCommand),
    }
}

/// Parses the command name and its arguments (after `tag SP`).
///
/// The name is matched on its upper-cased bytes in one `match` (a jump on length and
/// bytes) rather than with an `alt` of ~50 `tag_no_case` parsers tried in turn: the
/// arguments after it are nom combinators.
pub(crate) fn command_body<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, CommandBody<'a>> {
    use CommandBody as B;
    let start = i;
    let n = crate::core::chars::span(i, crate::core::chars::ATOM);
    if n == 0 {
        let (_, _) = atom(i, cfg)?;
        return fail(i, ParseErrorKind::UnknownCommand);
    }
    let (name_bytes, i) = i.split_at(n);
    let mut buf = [0u8; 16];
    if name_bytes.len() > buf.len() {
        return other_command(start, cfg);
    }
    for (u, b) in buf.iter_mut().zip(name_bytes) {
        *u = b.to_ascii_uppercase();
    }
    let name = &buf[..name_bytes.len()];
    let mbox = |j| sp_mailbox(j, cfg);
    let sp_astr = |j| sp_astring(j, cfg);
    match name {
        b"CAPABILITY" => Ok((i, B::Capability)),
        b"NOOP" => Ok((i, B::Noop)),
        b"LOGOUT" => Ok((i, B::Logout)),
        b"STARTTLS" => Ok((i, B::StartTls)),
        b"NAMESPACE" => Ok((i, B::Namespace)),
        b"IDLE" => Ok((i, B::Idle)),
        b"CHECK" => Ok((i, B::Check)),
        b"CLOSE" => Ok((i, B::Close)),
        b"UNSELECT" => Ok((i, B::Unselect)),
        b"EXPUNGE" => Ok((i, B::Expunge)),
        b"UNAUTHENTICATE" => Ok((i, B::Unauthenticate)),
        b"AUTHENTICATE" => map(
            (
                preceded(sp, |j| auth_mechanism(j, cfg)),
                opt(preceded(sp, cut(initial_response))),
            ),
            |(mechanism, initial_response)| B::Authenticate {
                mechanism,
                initial_response,
            },
        )
        .parse(i),
        b"LOGIN" => map((sp_astr, sp_astr), |(username, password)| B::Login {
            username,
            password: Secret::new(password),
        })
        .parse(i),
        b"ENABLE" => map(
            preceded(sp, separated_list1(sp, |j| capability(j, cfg))),
            |caps| B::Enable {
                capabilities: NonEmpty::from_parsed(caps),
            },
        )
        .parse(i),
        b"SELECT" => map((mbox, select_parameters), |(mailbox, parameters)| {
            B::Select {
                mailbox,
                parameters,
            }
        })
        .parse(i),
        b"EXAMINE" => map((mbox, select_parameters), |(mailbox, parameters)| {
            B::Examine {
                mailbox,
                parameters,
            }
        })
        .parse(i),
        b"CREATE" => {
            let special_use = preceded(
                kw(" (USE "),
                cut(terminated(
                    |j| {
                        paren_list(j, false, |k| {
                            preceded(byte(b'\\', "special-use flag"), |l| atom(l, cfg)).parse(k)
                        })
                    },
                    byte(b')', ")"),
                )),
            );
            map((mbox, opt(special_use)), |(mailbox, special_use)| {
                B::Create {
                    mailbox,
                    special_use: special_use.unwrap_or_default(),
                }
            })
            .parse(i)
        }
        b"DELETE" => map(mbox, |mailbox| B::Delete { mailbox }).parse(i),
        b"SUBSCRIBE" => map(mbox, |mailbox| B::Subscribe { mailbox }).parse(i),
        b"UNSUBSCRIBE" => map(mbox, |mailbox| B::Unsubscribe { mailbox }).parse(i),
        b"GETQUOTAROOT" => map(mbox, |mailbox| B::GetQuotaRoot { mailbox }).parse(i),
        b"GETACL" => map(mbox, |mailbox| B::GetAcl { mailbox }).parse(i),
        b"MYRIGHTS" => map(mbox, |mailbox| B::MyRights { mailbox }).parse(i),
        b"RENAME" => map((mbox, mbox), |(from, to)| B::Rename { from, to }).parse(i),
        b"LIST" => map(
            (
                // `SP "("` starts the selection options; otherwise the reference follows.
                opt(preceded(
                    (sp, peek(byte(b'(', "("))),
                    cut(|j| list_select_options(j, cfg)),
                )),
                mbox,
                preceded(sp, |j| one_or_list(j, |k| list_mailbox(k, cfg))),
                opt(preceded(sp, cut(|j| list_return_options(j, cfg)))),
            ),
            |(selection, reference, patterns, return_options)| B::List {
                selection: selection.unwrap_or_default(),
                reference,
                patterns,
                return_options: return_options.unwrap_or_default(),
            },
        )
        .parse(i),
        b"LSUB" => map(
            (mbox, preceded(sp, |j| list_mailbox(j, cfg))),
            |(reference, pattern)| B::Lsub { reference, pattern },
        )
        .parse(i),
        b"STATUS" => map(
            (mbox, preceded(sp, |j| status_items(j, cfg))),
            |(mailbox, items)| B::Status {
                mailbox,
                items: NonEmpty::from_parsed(items),
            },
        )
        .parse(i),
        b"APPEND" => map(
            (
                mbox,
                many1(preceded(append_sp, cut(|j| append_message(j, cfg)))),
            ),
            |(mailbox, messages)| B::Append {
                mailbox,
                messages: NonEmpty::from_parsed(messages),
            },
        )
        .parse(i),
        b"UID" => {
            let (i, ()) = sp(i)?;
            let n = crate::core::chars::span(i, crate::core::chars::ATOM);
            let (sub, j) = i.split_at(n);
            let mut upper = [0u8; 8];
            if sub.len() > upper.len() {
                return unknown_uid_command(start, i, cfg);
            }
            for (u, b) in upper.iter_mut().zip(sub) {
                *u = b.to_ascii_uppercase();
            }
            match uid_command(&upper[..sub.len()], j, cfg, true) {
                Err(nom::Err::Error(p)) if p.kind == ParseErrorKind::UnknownCommand => {
                    unknown_uid_command(start, i, cfg)
                }
                r => r,
            }
        }
        b"FETCH" | b"STORE" | b"COPY" | b"MOVE" | b"SEARCH" | b"SORT" | b"THREAD" | b"REPLACE" => {
            uid_command(name, i, cfg, false)
        }
        b"DELETEACL" => map((mbox, sp_astr), |(mailbox, identifier)| B::DeleteAcl {
            mailbox,
            identifier,
        })
        .parse(i),
        b"LISTRIGHTS" => map((mbox, sp_astr), |(mailbox, identifier)| B::ListRights {
            mailbox,
            identifier,
        })
        .parse(i),
        b"SETACL" => map((mbox, sp_astr, sp_astr), |(mailbox, identifier, rights)| {
            B::SetAcl {
                mailbox,
                identifier,
                rights,
            }
        })
        .parse(i),
        b"NOTIFY" => map(preceded(sp, |j| notify(j, cfg)), B::Notify).parse(i),
        b"LANGUAGE" => map(many0(sp_astr), |ranges| B::Language { ranges }).parse(i),
        b"COMPARATOR" => map(many0(sp_astr), |comparators| B::Comparator { comparators }).parse(i),
        b"GETQUOTA" => map(sp_astr, |root| B::GetQuota { root }).parse(i),
        b"SETQUOTA" => map(
            (sp_astr, preceded(sp, |j| quota_limits(j, cfg))),
            |(root, limits)| B::SetQuota { root, limits },
        )
        .parse(i),
        b"GETMETADATA" => map(
            (
                opt(preceded((sp, peek(byte(b'(', "("))), cut(metadata_options))),
                mbox,
                preceded(sp, |j| one_or_list(j, |k| astring(k, cfg))),
            ),
            |(options, mailbox, entries)| B::GetMetadata {
                options: options.unwrap_or_default(),
                mailbox,
                entries,
            },
        )
        .parse(i),
        b"SETMETADATA" => map(
            (mbox, preceded(sp, |j| metadata_entries(j, cfg))),
            |(mailbox, entries)| B::SetMetadata {
                mailbox,
                entries: NonEmpty::from_parsed(entries),
            },
        )
        .parse(i),
        b"ID" => map(preceded(sp, |j| id_fields(j, cfg)), |fields| B::Id {
            fields,
        })
        .parse(i),
        b"COMPRESS" => map(preceded(sp, |j| atom(j, cfg)), |algorithm| B::Compress {
            algorithm,
        })
        .parse(i),
        _ => other_command(start, cfg),
    }
}

/// An unknown command: its generic form if the configuration allows it.
fn other_command<'a>(start: &'a [u8], cfg: &ParserConfig) -> PResult<'a, CommandBody<'a>> {
    if !cfg.allow_unknown_commands {
        return fail(start, ParseErrorKind::UnknownCommand);
    }
    let (i, name) = atom(start, cfg)?;
    let (i, arguments) = raw_arguments(i, cfg)?;
    Ok((i, CommandBody::Other { name, arguments }))
}

/// `UID` followed by an unknown command name (`sub` points at that name).
fn unknown_uid_command<'a>(
    start: &'a [u8],
    sub: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, CommandBody<'a>> {
    if cfg.allow_unknown_commands {
        return other_command(start, cfg);
    }
    fail(sub, ParseErrorKind::UnknownCommand)
}
