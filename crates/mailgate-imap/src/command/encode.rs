//! The canonical wire form of command bodies.

use super::authenticate::encode_base64;
use super::body::CommandBody;
use super::params::encode_store_kind;
use super::search::{SearchKey, encode_search_return};
use crate::core::Mailbox;
use crate::encode::{Encode, encode_list};

fn word(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn word_mailbox(out: &mut Vec<u8>, s: &str, m: &Mailbox<'_>) {
    word(out, s);
    out.push(b' ');
    m.encode(out);
}

fn uid_prefix(out: &mut Vec<u8>, uid: bool) {
    if uid {
        out.extend_from_slice(b"UID ");
    }
}

fn encode_keys(keys: &[SearchKey<'_>], out: &mut Vec<u8>) {
    for k in keys {
        out.push(b' ');
        k.encode(out);
    }
}

impl Encode for CommandBody<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        use CommandBody as B;
        match self {
            B::Capability => word(out, "CAPABILITY"),
            B::Noop => word(out, "NOOP"),
            B::Logout => word(out, "LOGOUT"),
            B::StartTls => word(out, "STARTTLS"),
            B::Namespace => word(out, "NAMESPACE"),
            B::Idle => word(out, "IDLE"),
            B::Check => word(out, "CHECK"),
            B::Close => word(out, "CLOSE"),
            B::Unselect => word(out, "UNSELECT"),
            B::Expunge => word(out, "EXPUNGE"),
            B::Authenticate {
                mechanism,
                initial_response,
            } => {
                word(out, "AUTHENTICATE ");
                mechanism.encode(out);
                if let Some(r) = initial_response {
                    out.push(b' ');
                    encode_base64(r.expose(), true, out);
                }
            }
            B::Login { username, password } => {
                word(out, "LOGIN ");
                username.encode(out);
                out.push(b' ');
                password.encode(out);
            }
            B::Enable { capabilities } => {
                word(out, "ENABLE");
                for c in capabilities {
                    out.push(b' ');
                    c.encode(out);
                }
            }
            B::Select {
                mailbox,
                parameters,
            }
            | B::Examine {
                mailbox,
                parameters,
            } => {
                word_mailbox(
                    out,
                    if matches!(self, B::Select { .. }) {
                        "SELECT"
                    } else {
                        "EXAMINE"
                    },
                    mailbox,
                );
                if !parameters.is_empty() {
                    out.push(b' ');
                    encode_list(parameters, out);
                }
            }
            B::Create {
                mailbox,
                special_use,
            } => {
                word_mailbox(out, "CREATE", mailbox);
                if !special_use.is_empty() {
                    word(out, " (USE (");
                    for (n, u) in special_use.iter().enumerate() {
                        if n > 0 {
                            out.push(b' ');
                        }
                        out.push(b'\\');
                        u.encode(out);
                    }
                    word(out, "))");
                }
            }
            B::Delete { mailbox } => word_mailbox(out, "DELETE", mailbox),
            B::Subscribe { mailbox } => word_mailbox(out, "SUBSCRIBE", mailbox),
            B::Unsubscribe { mailbox } => word_mailbox(out, "UNSUBSCRIBE", mailbox),
            B::GetQuotaRoot { mailbox } => word_mailbox(out, "GETQUOTAROOT", mailbox),
            B::Rename { from, to } => {
                word_mailbox(out, "RENAME", from);
                out.push(b' ');
                to.encode(out);
            }
            B::List {
                selection,
                reference,
                patterns,
                return_options,
            } => {
                word(out, "LIST ");
                if !selection.is_empty() {
                    encode_list(selection, out);
                    out.push(b' ');
                }
                reference.encode(out);
                out.push(b' ');
                if patterns.len() == 1 {
                    patterns[0].encode(out);
                } else {
                    encode_list(patterns, out);
                }
                if !return_options.is_empty() {
                    word(out, " RETURN ");
                    encode_list(return_options, out);
                }
            }
            B::Lsub { reference, pattern } => {
                word_mailbox(out, "LSUB", reference);
                out.push(b' ');
                pattern.encode(out);
            }
            B::Status { mailbox, items } => {
                word_mailbox(out, "STATUS", mailbox);
                out.push(b' ');
                encode_list(items, out);
            }
            B::Append { mailbox, messages } => {
                word_mailbox(out, "APPEND", mailbox);
                for m in messages {
                    out.push(b' ');
                    m.encode(out);
                }
            }
            B::UidExpunge { sequence_set } => {
                word(out, "UID EXPUNGE ");
                sequence_set.encode(out);
            }
            B::Search {
                uid,
                return_options,
                charset,
                criteria,
            } => {
                uid_prefix(out, *uid);
                word(out, "SEARCH");
                if let Some(r) = return_options {
                    out.push(b' ');
                    encode_search_return(r, out);
                }
                if let Some(c) = charset {
                    word(out, " CHARSET ");
                    c.encode(out);
                }
                encode_keys(criteria, out);
            }
            B::Fetch {
                uid,
                sequence_set,
                items,
                modifiers,
            } => {
                uid_prefix(out, *uid);
                word(out, "FETCH ");
                sequence_set.encode(out);
                out.push(b' ');
                items.encode(out);
                if !modifiers.is_empty() {
                    out.push(b' ');
                    encode_list(modifiers, out);
                }
            }
            B::Store {
                uid,
                sequence_set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => {
                uid_prefix(out, *uid);
                word(out, "STORE ");
                sequence_set.encode(out);
                if let Some(n) = unchanged_since {
                    word(out, " (UNCHANGEDSINCE ");
                    crate::encode::encode_u64(*n, out);
                    out.push(b')');
                }
                out.push(b' ');
                encode_store_kind(*kind, "FLAGS", *silent, out);
                out.push(b' ');
                encode_list(flags, out);
            }
            B::Copy {
                uid,
                sequence_set,
                mailbox,
            }
            | B::Move {
                uid,
                sequence_set,
                mailbox,
            } => {
                uid_prefix(out, *uid);
                word(
                    out,
                    if matches!(self, B::Copy { .. }) {
                        "COPY "
                    } else {
                        "MOVE "
                    },
                );
                sequence_set.encode(out);
                out.push(b' ');
                mailbox.encode(out);
            }
            B::Sort {
                uid,
                return_options,
                criteria,
                charset,
                search,
            } => {
                uid_prefix(out, *uid);
                word(out, "SORT ");
                if let Some(r) = return_options {
                    encode_search_return(r, out);
                    out.push(b' ');
                }
                encode_list(criteria, out);
                out.push(b' ');
                charset.encode(out);
                encode_keys(search, out);
            }
            B::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => {
                uid_prefix(out, *uid);
                word(out, "THREAD ");
                algorithm.encode(out);
                out.push(b' ');
                charset.encode(out);
                encode_keys(search, out);
            }
            B::GetQuota { root } => {
                word(out, "GETQUOTA ");
                root.encode(out);
            }
            B::SetQuota { root, limits } => {
                word(out, "SETQUOTA ");
                root.encode(out);
                out.push(b' ');
                encode_list(limits, out);
            }
            B::GetMetadata {
                options,
                mailbox,
                entries,
            } => {
                word(out, "GETMETADATA ");
                if !options.is_empty() {
                    encode_list(options, out);
                    out.push(b' ');
                }
                mailbox.encode(out);
                out.push(b' ');
                if entries.len() == 1 {
                    entries[0].encode(out);
                } else {
                    encode_list(entries, out);
                }
            }
            B::SetMetadata { mailbox, entries } => {
                word_mailbox(out, "SETMETADATA", mailbox);
                out.push(b' ');
                encode_list(entries, out);
            }
            B::Id { fields } => {
                word(out, "ID ");
                match fields {
                    Some(f) => encode_list(f, out),
                    None => word(out, "NIL"),
                }
            }
            B::Compress { algorithm } => {
                word(out, "COMPRESS ");
                algorithm.encode(out);
            }
            B::Unauthenticate => word(out, "UNAUTHENTICATE"),
            B::StoreGmailLabels {
                uid,
                sequence_set,
                unchanged_since,
                kind,
                silent,
                labels,
            } => {
                uid_prefix(out, *uid);
                word(out, "STORE ");
                sequence_set.encode(out);
                if let Some(n) = unchanged_since {
                    word(out, " (UNCHANGEDSINCE ");
                    crate::encode::encode_u64(*n, out);
                    out.push(b')');
                }
                out.push(b' ');
                encode_store_kind(*kind, "X-GM-LABELS", *silent, out);
                out.push(b' ');
                encode_list(labels, out);
            }
            B::Replace(r) => {
                uid_prefix(out, r.uid);
                word(out, "REPLACE ");
                r.sequence.encode(out);
                out.push(b' ');
                r.mailbox.encode(out);
                out.push(b' ');
                r.message.encode(out);
            }
            B::SetAcl {
                mailbox,
                identifier,
                rights,
            } => {
                word_mailbox(out, "SETACL", mailbox);
                out.push(b' ');
                identifier.encode(out);
                out.push(b' ');
                rights.encode(out);
            }
            B::DeleteAcl {
                mailbox,
                identifier,
            } => {
                word_mailbox(out, "DELETEACL", mailbox);
                out.push(b' ');
                identifier.encode(out);
            }
            B::ListRights {
                mailbox,
                identifier,
            } => {
                word_mailbox(out, "LISTRIGHTS", mailbox);
                out.push(b' ');
                identifier.encode(out);
            }
            B::GetAcl { mailbox } => word_mailbox(out, "GETACL", mailbox),
            B::MyRights { mailbox } => word_mailbox(out, "MYRIGHTS", mailbox),
            B::Notify(n) => {
                word(out, "NOTIFY ");
                n.encode(out);
            }
            B::Language { ranges: names } | B::Comparator { comparators: names } => {
                word(
                    out,
                    if matches!(self, B::Language { .. }) {
                        "LANGUAGE"
                    } else {
                        "COMPARATOR"
                    },
                );
                for r in names {
                    out.push(b' ');
                    r.encode(out);
                }
            }
            B::Other { name, arguments } => {
                name.encode(out);
                out.extend_from_slice(arguments.as_bytes());
            }
        }
    }
}
