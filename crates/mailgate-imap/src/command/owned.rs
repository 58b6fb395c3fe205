//! `into_owned` for command bodies: detaches a parsed command from its input buffer.

use super::body::CommandBody;
use super::params::{IdField, QuotaLimit, Replace};
use crate::core::{AString, Mailbox};
use crate::secret::Secret;

fn mb(m: Mailbox<'_>) -> Mailbox<'static> {
    m.into_owned()
}

impl CommandBody<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> CommandBody<'static> {
        use CommandBody as B;
        match self {
            B::Capability => B::Capability,
            B::Noop => B::Noop,
            B::Logout => B::Logout,
            B::StartTls => B::StartTls,
            B::Namespace => B::Namespace,
            B::Idle => B::Idle,
            B::Check => B::Check,
            B::Close => B::Close,
            B::Unselect => B::Unselect,
            B::Expunge => B::Expunge,
            B::Authenticate {
                mechanism,
                initial_response,
            } => B::Authenticate {
                mechanism: mechanism.into_owned(),
                initial_response,
            },
            B::Login { username, password } => B::Login {
                username: username.into_owned(),
                password: Secret::new(AString::clone(password.expose()).into_owned()),
            },
            B::Enable { capabilities } => B::Enable {
                capabilities: capabilities.map(|c| c.into_owned()),
            },
            B::Select {
                mailbox,
                parameters,
            } => B::Select {
                mailbox: mb(mailbox),
                parameters,
            },
            B::Examine {
                mailbox,
                parameters,
            } => B::Examine {
                mailbox: mb(mailbox),
                parameters,
            },
            B::Create {
                mailbox,
                special_use,
            } => B::Create {
                mailbox: mb(mailbox),
                special_use: special_use.into_iter().map(|a| a.into_owned()).collect(),
            },
            B::Delete { mailbox } => B::Delete {
                mailbox: mb(mailbox),
            },
            B::Subscribe { mailbox } => B::Subscribe {
                mailbox: mb(mailbox),
            },
            B::Unsubscribe { mailbox } => B::Unsubscribe {
                mailbox: mb(mailbox),
            },
            B::GetQuotaRoot { mailbox } => B::GetQuotaRoot {
                mailbox: mb(mailbox),
            },
            B::Rename { from, to } => B::Rename {
                from: mb(from),
                to: mb(to),
            },
            B::List {
                selection,
                reference,
                patterns,
                return_options,
            } => B::List {
                selection: selection.into_iter().map(|s| s.into_owned()).collect(),
                reference: mb(reference),
                patterns: patterns.map(|p| p.into_owned()),
                return_options: return_options.into_iter().map(|r| r.into_owned()).collect(),
            },
            B::Lsub { reference, pattern } => B::Lsub {
                reference: mb(reference),
                pattern: pattern.into_owned(),
            },
            B::Status { mailbox, items } => B::Status {
                mailbox: mb(mailbox),
                items,
            },
            B::Append { mailbox, messages } => B::Append {
                mailbox: mb(mailbox),
                messages: messages.map(|m| m.into_owned()),
            },
            B::UidExpunge { sequence_set } => B::UidExpunge { sequence_set },
            B::Search {
                uid,
                return_options,
                charset,
                criteria,
            } => B::Search {
                uid,
                return_options,
                charset: charset.map(|c| c.into_owned()),
                criteria: criteria.map(|k| k.into_owned()),
            },
            B::Fetch {
                uid,
                sequence_set,
                items,
                modifiers,
            } => B::Fetch {
                uid,
                sequence_set,
                items: items.into_owned(),
                modifiers,
            },
            B::Store {
                uid,
                sequence_set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => B::Store {
                uid,
                sequence_set,
                unchanged_since,
                kind,
                silent,
                flags: flags.into_iter().map(|f| f.into_owned()).collect(),
            },
            B::Copy {
                uid,
                sequence_set,
                mailbox,
            } => B::Copy {
                uid,
                sequence_set,
                mailbox: mb(mailbox),
            },
            B::Move {
                uid,
                sequence_set,
                mailbox,
            } => B::Move {
                uid,
                sequence_set,
                mailbox: mb(mailbox),
            },
            B::Sort {
                uid,
                return_options,
                criteria,
                charset,
                search,
            } => B::Sort {
                uid,
                return_options,
                criteria,
                charset: charset.into_owned(),
                search: search.map(|k| k.into_owned()),
            },
            B::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => B::Thread {
                uid,
                algorithm: algorithm.into_owned(),
                charset: charset.into_owned(),
                search: search.map(|k| k.into_owned()),
            },
            B::GetQuota { root } => B::GetQuota {
                root: root.into_owned(),
            },
            B::SetQuota { root, limits } => B::SetQuota {
                root: root.into_owned(),
                limits: limits
                    .into_iter()
                    .map(|l| QuotaLimit {
                        resource: l.resource.into_owned(),
                        limit: l.limit,
                    })
                    .collect(),
            },
            B::GetMetadata {
                options,
                mailbox,
                entries,
            } => B::GetMetadata {
                options,
                mailbox: mb(mailbox),
                entries: entries.map(|e| e.into_owned()),
            },
            B::SetMetadata { mailbox, entries } => B::SetMetadata {
                mailbox: mb(mailbox),
                entries: entries.map(|e| e.into_owned()),
            },
            B::Id { fields } => B::Id {
                fields: fields.map(|f| {
                    f.into_iter()
                        .map(|f| IdField {
                            name: f.name.into_owned(),
                            value: f.value.into_owned(),
                        })
                        .collect()
                }),
            },
            B::Compress { algorithm } => B::Compress {
                algorithm: algorithm.into_owned(),
            },
            B::Unauthenticate => B::Unauthenticate,
            B::StoreGmailLabels {
                uid,
                sequence_set,
                unchanged_since,
                kind,
                silent,
                labels,
            } => B::StoreGmailLabels {
                uid,
                sequence_set,
                unchanged_since,
                kind,
                silent,
                labels: labels.into_iter().map(|l| l.into_owned()).collect(),
            },
            B::Replace(r) => B::Replace(Box::new(Replace {
                uid: r.uid,
                sequence: r.sequence,
                mailbox: mb(r.mailbox),
                message: r.message.into_owned(),
            })),
            B::SetAcl {
                mailbox,
                identifier,
                rights,
            } => B::SetAcl {
                mailbox: mb(mailbox),
                identifier: identifier.into_owned(),
                rights: rights.into_owned(),
            },
            B::DeleteAcl {
                mailbox,
                identifier,
            } => B::DeleteAcl {
                mailbox: mb(mailbox),
                identifier: identifier.into_owned(),
            },
            B::ListRights {
                mailbox,
                identifier,
            } => B::ListRights {
                mailbox: mb(mailbox),
                identifier: identifier.into_owned(),
            },
            B::GetAcl { mailbox } => B::GetAcl {
                mailbox: mb(mailbox),
            },
            B::MyRights { mailbox } => B::MyRights {
                mailbox: mb(mailbox),
            },
            B::Notify(n) => B::Notify(n.into_owned()),
            B::Language { ranges } => B::Language {
                ranges: ranges.into_iter().map(AString::into_owned).collect(),
            },
            B::Comparator { comparators } => B::Comparator {
                comparators: comparators.into_iter().map(AString::into_owned).collect(),
            },
            B::Other { name, arguments } => B::Other {
                name: name.into_owned(),
                arguments: arguments.into_owned(),
            },
        }
    }
}
