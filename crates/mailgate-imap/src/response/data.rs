//! Untagged data responses (`response-data`, `message-data`, `mailbox-data`, ...).

use std::num::NonZeroU32;

use super::Response;
use super::fetch::{MessageData, msg_att};
use super::lex::{byte, quirks, sp, sp_items};
use super::list::{ListItem, mailbox_list};
use super::mailbox_status::{StatusItem, status_att_list};
use super::misc::{
    IdParams, MetadataEntries, Namespaces, QuotaResource, id_params, metadata, namespaces,
    quota_list,
};
use super::search::{ESearch, Thread, esearch, search_numbers, thread_lists};
use super::status::{Status, after_keyword, status_kind};
use super::uid_set::{UidSet, uid_set};
use crate::config::ParserConfig;
use crate::core::NonEmpty;
use crate::core::capability::{Capability, capability};
use crate::core::chars::{ATOM, span};
use crate::core::flag::{Flag, flag};
use crate::core::lex::kw;
use crate::core::mailbox::{Mailbox, mailbox};
use crate::core::number::{number, nz_number};
use crate::core::string::{AString, astring};
use crate::encode::{Encode, encode_list, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail};
use nom::Parser;
use nom::branch::alt;
use nom::combinator::{not, value};
use nom::sequence::{preceded, separated_pair, terminated};

/// An untagged data response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Data<'a> {
    /// `* CAPABILITY ...`.
    Capability(Vec<Capability<'a>>),
    /// `* ENABLED ...` (RFC 5161): the extensions now enabled (may be empty).
    Enabled(Vec<Capability<'a>>),
    /// `* FLAGS (...)`: the flags defined in the mailbox.
    Flags(Vec<Flag<'a>>),
    /// `* LIST ...`.
    List(ListItem<'a>),
    /// `* LSUB ...` (IMAP4rev1).
    Lsub(ListItem<'a>),
    /// `* STATUS mailbox (...)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The status items (may be empty).
        items: Vec<StatusItem>,
    },
    /// `* SEARCH n ... [(MODSEQ m)]` (IMAP4rev1, CONDSTORE).
    Search {
        /// Matching message numbers or UIDs.
        numbers: Vec<NonZeroU32>,
        /// Highest mod-sequence of the matches (RFC 7162).
        mod_seq: Option<u64>,
    },
    /// `* SORT n ... [(MODSEQ m)]` (RFC 5256).
    Sort {
        /// Message numbers or UIDs in sort order.
        numbers: Vec<NonZeroU32>,
        /// Highest mod-sequence of the matches (RFC 7162).
        mod_seq: Option<u64>,
    },
    /// `* ESEARCH ...` (RFC 4731, IMAP4rev2).
    ESearch(ESearch<'a>),
    /// `* THREAD ...` (RFC 5256).
    Thread(Vec<Thread>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT` (IMAP4rev1).
    Recent(u32),
    /// `* n EXPUNGE`.
    Expunge(NonZeroU32),
    /// `* VANISHED [(EARLIER)] uids` (RFC 7162 QRESYNC).
    Vanished {
        /// `(EARLIER)`: answer to a FETCH/SELECT, not news.
        earlier: bool,
        /// The expunged UIDs.
        uids: UidSet,
    },
    /// `* n FETCH (...)`.
    Fetch(MessageData<'a>),
    /// `* uid UIDFETCH (...)` (RFC 9586 UIDONLY): the `seq` field holds the UID.
    UidFetch(MessageData<'a>),
    /// `* ACL mailbox identifier rights ...` (RFC 4314).
    Acl {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Identifiers and their rights (may be empty).
        entries: Vec<(AString<'a>, AString<'a>)>,
    },
    /// `* LISTRIGHTS mailbox identifier required optional...` (RFC 4314).
    ListRights {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The user or group asked about.
        identifier: AString<'a>,
        /// Rights always granted (may be empty).
        required: AString<'a>,
        /// Groups of rights that can be granted (each group together).
        optional: Vec<AString<'a>>,
    },
    /// `* MYRIGHTS mailbox rights` (RFC 4314).
    MyRights {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The rights of the logged-in user.
        rights: AString<'a>,
    },
    /// `* LANGUAGE (tag ...)` (RFC 5255): the languages available, or the one chosen.
    Language(NonEmpty<AString<'a>>),
    /// `* COMPARATOR selected [(comparator ...)]` (RFC 5255 I18NLEVEL).
    Comparator {
        /// The active comparator.
        selected: AString<'a>,
        /// Comparators matching the arguments of a COMPARATOR command.
        matching: Vec<AString<'a>>,
    },
    /// `* ID ...` (RFC 2971).
    Id(IdParams<'a>),
    /// `* NAMESPACE ...` (RFC 2342).
    Namespace(Namespaces<'a>),
    /// `* QUOTA root (...)` (RFC 9208).
    Quota {
        /// The quota root.
        root: AString<'a>,
        /// Usage and limit per resource (non-empty).
        resources: Vec<QuotaResource<'a>>,
    },
    /// `* QUOTAROOT mailbox root ...` (RFC 9208).
    QuotaRoot {
        /// The mailbox asked about.
        mailbox: Mailbox<'a>,
        /// Its quota roots (may be empty).
        roots: Vec<AString<'a>>,
    },
    /// `* METADATA mailbox ...` (RFC 5464).
    Metadata {
        /// The mailbox, or `""` for server annotations.
        mailbox: Mailbox<'a>,
        /// Entries with values, or names of changed entries.
        entries: MetadataEntries<'a>,
    },
}

fn search_like(out: &mut Vec<u8>, numbers: &[NonZeroU32], mod_seq: Option<u64>) {
    for n in numbers {
        out.push(b' ');
        encode_u64(u64::from(n.get()), out);
    }
    if let Some(m) = mod_seq {
        out.extend_from_slice(b" (MODSEQ ");
        encode_u64(m, out);
        out.push(b')');
    }
}

impl Encode for Data<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* ");
        match self {
            Self::Capability(caps) | Self::Enabled(caps) => {
                out.extend_from_slice(if matches!(self, Self::Capability(_)) {
                    b"CAPABILITY"
                } else {
                    b"ENABLED"
                });
                for c in caps {
                    out.push(b' ');
                    c.encode(out);
                }
            }
            Self::Flags(flags) => {
                out.extend_from_slice(b"FLAGS ");
                encode_list(flags, out);
            }
            Self::List(item) => {
                out.extend_from_slice(b"LIST ");
                item.encode(out);
            }
            Self::Lsub(item) => {
                out.extend_from_slice(b"LSUB ");
                item.encode(out);
            }
            Self::Status { mailbox, items } => {
                out.extend_from_slice(b"STATUS ");
                mailbox.encode(out);
                out.push(b' ');
                encode_list(items, out);
            }
            Self::Search { numbers, mod_seq } => {
                out.extend_from_slice(b"SEARCH");
                search_like(out, numbers, *mod_seq);
            }
            Self::Sort { numbers, mod_seq } => {
                out.extend_from_slice(b"SORT");
                search_like(out, numbers, *mod_seq);
            }
            Self::ESearch(e) => e.encode(out),
            Self::Thread(threads) => {
                out.extend_from_slice(b"THREAD");
                if !threads.is_empty() {
                    out.push(b' ');
                    for t in threads {
                        t.encode(out);
                    }
                }
            }
            Self::Exists(n) => {
                encode_u64(u64::from(*n), out);
                out.extend_from_slice(b" EXISTS");
            }
            Self::Recent(n) => {
                encode_u64(u64::from(*n), out);
                out.extend_from_slice(b" RECENT");
            }
            Self::Expunge(n) => {
                encode_u64(u64::from(n.get()), out);
                out.extend_from_slice(b" EXPUNGE");
            }
            Self::Vanished { earlier, uids } => {
                out.extend_from_slice(if *earlier {
                    b"VANISHED (EARLIER) "
                } else {
                    b"VANISHED "
                });
                uids.encode(out);
            }
            Self::Fetch(m) => m.encode(out),
            Self::UidFetch(m) => {
                encode_u64(m.seq.get().into(), out);
                out.extend_from_slice(b" UIDFETCH ");
                encode_list(&m.items, out);
            }
            Self::Acl { mailbox, entries } => {
                out.extend_from_slice(b"ACL ");
                mailbox.encode(out);
                for (id, rights) in entries {
                    out.push(b' ');
                    id.encode(out);
                    out.push(b' ');
                    rights.encode(out);
                }
            }
            Self::ListRights {
                mailbox,
                identifier,
                required,
                optional,
            } => {
                out.extend_from_slice(b"LISTRIGHTS ");
                mailbox.encode(out);
                out.push(b' ');
                identifier.encode(out);
                out.push(b' ');
                required.encode(out);
                for r in optional {
                    out.push(b' ');
                    r.encode(out);
                }
            }
            Self::MyRights { mailbox, rights } => {
                out.extend_from_slice(b"MYRIGHTS ");
                mailbox.encode(out);
                out.push(b' ');
                rights.encode(out);
            }
            Self::Language(tags) => {
                out.extend_from_slice(b"LANGUAGE ");
                encode_list(tags, out);
            }
            Self::Comparator { selected, matching } => {
                out.extend_from_slice(b"COMPARATOR ");
                selected.encode(out);
                if !matching.is_empty() {
                    out.push(b' ');
                    encode_list(matching, out);
                }
            }
            Self::Id(p) => {
                out.extend_from_slice(b"ID ");
                p.encode(out);
            }
            Self::Namespace(n) => {
                out.extend_from_slice(b"NAMESPACE ");
                n.encode(out);
            }
            Self::Quota { root, resources } => {
                out.extend_from_slice(b"QUOTA ");
                root.encode(out);
                out.push(b' ');
                encode_list(resources, out);
            }
            Self::QuotaRoot { mailbox, roots } => {
                out.extend_from_slice(b"QUOTAROOT ");
                mailbox.encode(out);
                for r in roots {
                    out.push(b' ');
                    r.encode(out);
                }
            }
            Self::Metadata { mailbox, entries } => {
                out.extend_from_slice(b"METADATA ");
                mailbox.encode(out);
                out.push(b' ');
                entries.encode(out);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses what follows `* ` (the line without its end).
pub(crate) fn untagged<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Response<'a>> {
    if i.first().is_some_and(u8::is_ascii_digit) {
        let (rest, n) = number(i)?;
        let (rest, ()) = byte(rest, b' ', "SP")?;
        let k = span(rest, ATOM);
        let (word, after) = rest.split_at(k);
        let data = if word.eq_ignore_ascii_case(b"EXISTS") {
            Data::Exists(n)
        } else if word.eq_ignore_ascii_case(b"RECENT") {
            Data::Recent(n)
        } else if word.eq_ignore_ascii_case(b"EXPUNGE")
            || word.eq_ignore_ascii_case(b"FETCH")
            || word.eq_ignore_ascii_case(b"UIDFETCH")
        {
            // `nz-number`: no leading zero, in lenient mode too.
            let (_, nz) = nz_number(i)?;
            if word.eq_ignore_ascii_case(b"EXPUNGE") {
                Data::Expunge(nz)
            } else {
                let (after, ()) = sp(after, cfg)?;
                let (after, items) = msg_att(after, cfg)?;
                let m = MessageData { seq: nz, items };
                let data = if word.len() == 5 {
                    Data::Fetch(m)
                } else {
                    Data::UidFetch(m)
                };
                return Ok((after, Response::Data(data)));
            }
        } else {
            return fail(
                rest,
                ParseErrorKind::Expected("EXISTS, RECENT, EXPUNGE, FETCH or UIDFETCH"),
            );
        };
        return Ok((after, Response::Data(data)));
    }
    if let Some((rest, kind)) = status_kind(i)
        && !rest
            .first()
            .is_some_and(|&b| b != b'[' && crate::core::chars::is(b, ATOM))
    {
        let (rest, text) = after_keyword(rest, cfg)?;
        return Ok((rest, Response::Status(Status::Untagged { kind, text })));
    }
    let k = span(i, ATOM);
    let (word, rest) = i.split_at(k);
    let mut buf = [0u8; 12];
    if word.len() > buf.len() {
        return fail(i, ParseErrorKind::Expected("response keyword"));
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_uppercase();
    }
    let s = |j| sp(j, cfg);
    let mbox = |j| mailbox(j, cfg);
    let astr = |j| astring(j, cfg);
    let data = match &buf[..word.len()] {
        b"BYE" => {
            let (rest, text) = after_keyword(rest, cfg)?;
            return Ok((rest, Response::Status(Status::Bye(text))));
        }
        b"PREAUTH" => {
            let (rest, text) = after_keyword(rest, cfg)?;
            return Ok((rest, Response::Status(Status::PreAuth(text))));
        }
        b"ACL" => (preceded(s, mbox), |j| {
            sp_items(j, cfg, separated_pair(astr, s, astr))
        })
            .map(|(mailbox, entries)| Data::Acl { mailbox, entries })
            .parse(rest)?,
        b"LISTRIGHTS" => (
            preceded(s, mbox),
            preceded(s, astr),
            preceded(s, astr),
            |j| sp_items(j, cfg, astr),
        )
            .map(
                |(mailbox, identifier, required, optional)| Data::ListRights {
                    mailbox,
                    identifier,
                    required,
                    optional,
                },
            )
            .parse(rest)?,
        b"MYRIGHTS" => (preceded(s, mbox), preceded(s, astr))
            .map(|(mailbox, rights)| Data::MyRights { mailbox, rights })
            .parse(rest)?,
        b"LANGUAGE" => {
            let (rest, tags) =
                preceded(s, |j| super::lex::list(j, false, cfg, astr)).parse(rest)?;
            match NonEmpty::try_new(tags) {
                Ok(tags) => (rest, Data::Language(tags)),
                Err(_) => return fail(rest, ParseErrorKind::Expected("language tag")),
            }
        }
        b"COMPARATOR" => (
            preceded(s, astr),
            // Committed after the space: a bad list reports its own error.
            alt((
                preceded(crate::core::lex::sp, |j| {
                    super::lex::list(j, false, cfg, astr)
                }),
                value(Vec::new(), not(crate::core::lex::sp)),
            )),
        )
            .map(|(selected, matching)| Data::Comparator { selected, matching })
            .parse(rest)?,
        b"CAPABILITY" => {
            let (rest, caps) = sp_items(rest, cfg, |j| capability(j, cfg))?;
            if caps.is_empty() && !quirks(cfg) {
                return fail(rest, ParseErrorKind::Expected("capability"));
            }
            return Ok((rest, Response::Data(Data::Capability(caps))));
        }
        b"ENABLED" => {
            let (rest, caps) = sp_items(rest, cfg, |j| capability(j, cfg))?;
            return Ok((rest, Response::Data(Data::Enabled(caps))));
        }
        b"FLAGS" => preceded(s, |j| super::lex::list(j, true, cfg, |k| flag(k, cfg)))
            .map(Data::Flags)
            .parse(rest)?,
        b"LIST" => preceded(s, |j| mailbox_list(j, cfg))
            .map(Data::List)
            .parse(rest)?,
        b"LSUB" => preceded(s, |j| mailbox_list(j, cfg))
            .map(Data::Lsub)
            .parse(rest)?,
        b"STATUS" => (preceded(s, mbox), preceded(s, |j| status_att_list(j, cfg)))
            .map(|(mailbox, items)| Data::Status { mailbox, items })
            .parse(rest)?,
        b"SEARCH" => (|j| search_numbers(j, cfg))
            .map(|(numbers, mod_seq)| Data::Search { numbers, mod_seq })
            .parse(rest)?,
        b"SORT" => (|j| search_numbers(j, cfg))
            .map(|(numbers, mod_seq)| Data::Sort { numbers, mod_seq })
            .parse(rest)?,
        b"ESEARCH" => (|j| esearch(j, cfg)).map(Data::ESearch).parse(rest)?,
        b"THREAD" => (|j| thread_lists(j, cfg)).map(Data::Thread).parse(rest)?,
        b"VANISHED" => preceded(
            s,
            (
                alt((
                    value(true, terminated(kw("(EARLIER)"), s)),
                    value(false, not(kw("(EARLIER)"))),
                )),
                uid_set,
            ),
        )
        .map(|(earlier, uids)| Data::Vanished { earlier, uids })
        .parse(rest)?,
        b"ID" => preceded(s, |j| id_params(j, cfg))
            .map(Data::Id)
            .parse(rest)?,
        b"NAMESPACE" => preceded(s, |j| namespaces(j, cfg))
            .map(Data::Namespace)
            .parse(rest)?,
        b"QUOTA" => (preceded(s, astr), preceded(s, |j| quota_list(j, cfg)))
            .map(|(root, resources)| Data::Quota { root, resources })
            .parse(rest)?,
        b"QUOTAROOT" => (preceded(s, mbox), |j| sp_items(j, cfg, astr))
            .map(|(mailbox, roots)| Data::QuotaRoot { mailbox, roots })
            .parse(rest)?,
        b"METADATA" => preceded(s, |j| metadata(j, cfg))
            .map(|(mailbox, entries)| Data::Metadata { mailbox, entries })
            .parse(rest)?,
        _ => return fail(i, ParseErrorKind::Expected("response keyword")),
    };
    let (rest, d) = data;
    Ok((rest, Response::Data(d)))
}
