//! The command bodies: one variant per command, and their parser (the encoder is in
//! `encode.rs`, `into_owned` in `owned.rs`).

use crate::config::ParserConfig;
use crate::core::GmailLabel;
use crate::core::atom::{Atom, atom};
use crate::core::capability::{auth_mechanism, capability, charset};
use crate::core::lex::{byte, keyword, paren_list, sp, sp_list1};
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
use nom::multi::many0;
use nom::sequence::preceded;

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

fn sp_then<'a, T>(i: &'a [u8], f: impl FnOnce(&'a [u8]) -> PResult<'a, T>) -> PResult<'a, T> {
    let (i, ()) = sp(i)?;
    f(i)
}

/// Parses the UID-able commands after `UID SP` (or without UID).
fn uid_command<'a>(
    name: &[u8],
    i: &'a [u8],
    cfg: &ParserConfig,
    uid: bool,
) -> PResult<'a, CommandBody<'a>> {
    use CommandBody as B;
    Ok(match name {
        b"FETCH" => {
            let (i, sequence_set) = sp_then(i, sequence_set)?;
            let (i, items) = sp_then(i, |j| fetch_items(j, cfg))?;
            let (i, modifiers) = fetch_modifiers(i, uid)?;
            (
                i,
                B::Fetch {
                    uid,
                    sequence_set,
                    items,
                    modifiers,
                },
            )
        }
        b"STORE" => {
            let (i, sequence_set) = sp_then(i, sequence_set)?;
            let (i, unchanged_since) = store_modifier(i)?;
            let (i, (kind, labels, silent)) = sp_then(i, store_kind)?;
            if labels {
                let (i, labels) = sp_then(i, |j| store_labels(j, cfg))?;
                return Ok((
                    i,
                    B::StoreGmailLabels {
                        uid,
                        sequence_set,
                        unchanged_since,
                        kind,
                        silent,
                        labels,
                    },
                ));
            }
            let (i, flags) = sp_then(i, |j| store_flags(j, cfg))?;
            (
                i,
                B::Store {
                    uid,
                    sequence_set,
                    unchanged_since,
                    kind,
                    silent,
                    flags,
                },
            )
        }
        b"COPY" | b"MOVE" => {
            let (i, sequence_set) = sp_then(i, sequence_set)?;
            let (i, mailbox) = sp_then(i, |j| mailbox(j, cfg))?;
            if name == b"COPY" {
                (
                    i,
                    B::Copy {
                        uid,
                        sequence_set,
                        mailbox,
                    },
                )
            } else {
                (
                    i,
                    B::Move {
                        uid,
                        sequence_set,
                        mailbox,
                    },
                )
            }
        }
        b"SEARCH" => {
            let (i, return_options) = match sp_then(i, |j| search_return(j, cfg)) {
                Ok((i, r)) => (i, Some(r)),
                Err(nom::Err::Error(_)) => (i, None),
                Err(e) => return Err(e),
            };
            let (i, charset) = match keyword(i, " CHARSET ") {
                Ok((i, ())) => {
                    let (i, c) = charset(i, cfg)?;
                    (i, Some(c))
                }
                Err(_) => (i, None),
            };
            let (i, criteria) = search_criteria(i, cfg)?;
            (
                i,
                B::Search {
                    uid,
                    return_options,
                    charset,
                    criteria,
                },
            )
        }
        b"SORT" => {
            let (i, return_options) = match sp_then(i, |j| search_return(j, cfg)) {
                Ok((i, r)) => (i, Some(r)),
                Err(nom::Err::Error(_)) => (i, None),
                Err(e) => return Err(e),
            };
            let (i, criteria) = sp_then(i, |j| paren_list(j, false, |k| sort_criterion(k, cfg)))?;
            let (i, charset) = sp_then(i, |j| charset(j, cfg))?;
            let (i, search) = search_criteria(i, cfg)?;
            (
                i,
                B::Sort {
                    uid,
                    return_options,
                    criteria: NonEmpty::from_parsed(criteria),
                    charset,
                    search,
                },
            )
        }
        b"THREAD" => {
            let (i, algorithm) = sp_then(i, |j| atom(j, cfg))?;
            let (i, charset) = sp_then(i, |j| charset(j, cfg))?;
            let (i, search) = search_criteria(i, cfg)?;
            (
                i,
                B::Thread {
                    uid,
                    algorithm,
                    charset,
                    search,
                },
            )
        }
        b"EXPUNGE" if uid => {
            let (i, sequence_set) = sp_then(i, sequence_set)?;
            (i, B::UidExpunge { sequence_set })
        }
        b"REPLACE" => {
            let (i, sequence) = sp_then(i, seq_number)?;
            let (i, mailbox) = sp_then(i, |j| mailbox(j, cfg))?;
            let (i, message) = sp_then(i, |j| append_message(j, cfg))?;
            (
                i,
                B::Replace(Box::new(Replace {
                    uid,
                    sequence,
                    mailbox,
                    message,
                })),
            )
        }
        _ => return fail(i, ParseErrorKind::UnknownCommand),
    })
}

/// Parses the command name and its arguments (after `tag SP`).
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
    let mbox = |i| sp_then(i, |j| mailbox(j, cfg));
    Ok(match name {
        b"CAPABILITY" => (i, B::Capability),
        b"NOOP" => (i, B::Noop),
        b"LOGOUT" => (i, B::Logout),
        b"STARTTLS" => (i, B::StartTls),
        b"NAMESPACE" => (i, B::Namespace),
        b"IDLE" => (i, B::Idle),
        b"CHECK" => (i, B::Check),
        b"CLOSE" => (i, B::Close),
        b"UNSELECT" => (i, B::Unselect),
        b"EXPUNGE" => (i, B::Expunge),
        b"AUTHENTICATE" => {
            let (i, mechanism) = sp_then(i, |j| auth_mechanism(j, cfg))?;
            let (i, initial_response) = match i {
                [b' ', rest @ ..] => {
                    let (i, r) = initial_response(rest)?;
                    (i, Some(r))
                }
                _ => (i, None),
            };
            (
                i,
                B::Authenticate {
                    mechanism,
                    initial_response,
                },
            )
        }
        b"LOGIN" => {
            let (i, username) = sp_then(i, |j| astring(j, cfg))?;
            let (i, password) = sp_then(i, |j| astring(j, cfg))?;
            (
                i,
                B::Login {
                    username,
                    password: Secret::new(password),
                },
            )
        }
        b"ENABLE" => {
            let (i, caps) = sp_then(i, |j| sp_list1(j, |k| capability(k, cfg)))?;
            (
                i,
                B::Enable {
                    capabilities: NonEmpty::from_parsed(caps),
                },
            )
        }
        b"SELECT" | b"EXAMINE" => {
            let (i, mailbox) = mbox(i)?;
            let (i, parameters) = select_parameters(i)?;
            if name == b"SELECT" {
                (
                    i,
                    B::Select {
                        mailbox,
                        parameters,
                    },
                )
            } else {
                (
                    i,
                    B::Examine {
                        mailbox,
                        parameters,
                    },
                )
            }
        }
        b"CREATE" => {
            let (i, mailbox) = mbox(i)?;
            let (i, special_use) = match keyword(i, " (USE ") {
                Ok((i, ())) => {
                    let (i, uses) = paren_list(i, false, |j| {
                        let (j, ()) = byte(b'\\', "special-use flag")(j)?;
                        atom(j, cfg)
                    })?;
                    let (i, ()) = byte(b')', ")")(i)?;
                    (i, uses)
                }
                Err(_) => (i, Vec::new()),
            };
            (
                i,
                B::Create {
                    mailbox,
                    special_use,
                },
            )
        }
        b"DELETE" => mbox(i).map(|(i, mailbox)| (i, B::Delete { mailbox }))?,
        b"SUBSCRIBE" => mbox(i).map(|(i, mailbox)| (i, B::Subscribe { mailbox }))?,
        b"UNSUBSCRIBE" => mbox(i).map(|(i, mailbox)| (i, B::Unsubscribe { mailbox }))?,
        b"GETQUOTAROOT" => mbox(i).map(|(i, mailbox)| (i, B::GetQuotaRoot { mailbox }))?,
        b"RENAME" => {
            let (i, from) = mbox(i)?;
            let (i, to) = mbox(i)?;
            (i, B::Rename { from, to })
        }
        b"LIST" => {
            let (i, selection) = match i {
                [b' ', b'(', ..] => sp_then(i, |j| list_select_options(j, cfg))?,
                _ => (i, Vec::new()),
            };
            let (i, reference) = mbox(i)?;
            let (i, patterns) = match i {
                [b' ', b'(', ..] => {
                    let (i, p) = sp_then(i, |j| paren_list(j, false, |k| list_mailbox(k, cfg)))?;
                    (i, NonEmpty::from_parsed(p))
                }
                _ => {
                    let (i, p) = sp_then(i, |j| list_mailbox(j, cfg))?;
                    (i, NonEmpty::one(p))
                }
            };
            let (i, return_options) = match i {
                [b' ', ..] => sp_then(i, |j| list_return_options(j, cfg))?,
                _ => (i, Vec::new()),
            };
            (
                i,
                B::List {
                    selection,
                    reference,
                    patterns,
                    return_options,
                },
            )
        }
        b"LSUB" => {
            let (i, reference) = mbox(i)?;
            let (i, pattern) = sp_then(i, |j| list_mailbox(j, cfg))?;
            (i, B::Lsub { reference, pattern })
        }
        b"STATUS" => {
            let (i, mailbox) = mbox(i)?;
            let (i, items) = sp_then(i, |j| status_items(j, cfg))?;
            (
                i,
                B::Status {
                    mailbox,
                    items: NonEmpty::from_parsed(items),
                },
            )
        }
        b"APPEND" => {
            let (mut i, mailbox) = mbox(i)?;
            let mut messages = Vec::new();
            while let [b' ', rest @ ..] = i {
                let (r, m) = append_message(rest, cfg)?;
                messages.push(m);
                i = r;
            }
            if messages.is_empty() {
                return fail(i, ParseErrorKind::Expected("SP and message literal"));
            }
            (
                i,
                B::Append {
                    mailbox,
                    messages: NonEmpty::from_parsed(messages),
                },
            )
        }
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
                    return unknown_uid_command(start, i, cfg);
                }
                r => r?,
            }
        }
        b"FETCH" | b"STORE" | b"COPY" | b"MOVE" | b"SEARCH" | b"SORT" | b"THREAD" | b"REPLACE" => {
            uid_command(name, i, cfg, false)?
        }
        b"UNAUTHENTICATE" => (i, B::Unauthenticate),
        b"GETACL" => mbox(i).map(|(i, mailbox)| (i, B::GetAcl { mailbox }))?,
        b"MYRIGHTS" => mbox(i).map(|(i, mailbox)| (i, B::MyRights { mailbox }))?,
        b"DELETEACL" | b"LISTRIGHTS" => {
            let (i, mailbox) = mbox(i)?;
            let (i, identifier) = sp_then(i, |j| astring(j, cfg))?;
            if name == b"DELETEACL" {
                (
                    i,
                    B::DeleteAcl {
                        mailbox,
                        identifier,
                    },
                )
            } else {
                (
                    i,
                    B::ListRights {
                        mailbox,
                        identifier,
                    },
                )
            }
        }
        b"SETACL" => {
            let (i, mailbox) = mbox(i)?;
            let (i, identifier) = sp_then(i, |j| astring(j, cfg))?;
            let (i, rights) = sp_then(i, |j| astring(j, cfg))?;
            (
                i,
                B::SetAcl {
                    mailbox,
                    identifier,
                    rights,
                },
            )
        }
        b"NOTIFY" => sp_then(i, |j| notify(j, cfg)).map(|(i, n)| (i, B::Notify(n)))?,
        b"LANGUAGE" => {
            let (i, ranges) = many0(preceded(sp, |j| astring(j, cfg))).parse(i)?;
            (i, B::Language { ranges })
        }
        b"COMPARATOR" => {
            let (i, comparators) = many0(preceded(sp, |j| astring(j, cfg))).parse(i)?;
            (i, B::Comparator { comparators })
        }
        b"GETQUOTA" => {
            sp_then(i, |j| astring(j, cfg)).map(|(i, root)| (i, B::GetQuota { root }))?
        }
        b"SETQUOTA" => {
            let (i, root) = sp_then(i, |j| astring(j, cfg))?;
            let (i, limits) = sp_then(i, |j| quota_limits(j, cfg))?;
            (i, B::SetQuota { root, limits })
        }
        b"GETMETADATA" => {
            let (i, options) = match i {
                [b' ', b'(', ..] => sp_then(i, metadata_options)?,
                _ => (i, Vec::new()),
            };
            let (i, mailbox) = mbox(i)?;
            let (i, entries) = match i {
                [b' ', b'(', ..] => {
                    let (i, e) = sp_then(i, |j| paren_list(j, false, |k| astring(k, cfg)))?;
                    (i, NonEmpty::from_parsed(e))
                }
                _ => {
                    let (i, e) = sp_then(i, |j| astring(j, cfg))?;
                    (i, NonEmpty::one(e))
                }
            };
            (
                i,
                B::GetMetadata {
                    options,
                    mailbox,
                    entries,
                },
            )
        }
        b"SETMETADATA" => {
            let (i, mailbox) = mbox(i)?;
            let (i, entries) = sp_then(i, |j| metadata_entries(j, cfg))?;
            (
                i,
                B::SetMetadata {
                    mailbox,
                    entries: NonEmpty::from_parsed(entries),
                },
            )
        }
        b"ID" => sp_then(i, |j| id_fields(j, cfg)).map(|(i, fields)| (i, B::Id { fields }))?,
        b"COMPRESS" => {
            sp_then(i, |j| atom(j, cfg)).map(|(i, algorithm)| (i, B::Compress { algorithm }))?
        }
        _ => return other_command(start, cfg),
    })
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
