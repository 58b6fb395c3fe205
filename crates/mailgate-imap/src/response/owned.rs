//! `into_owned`: detaching response values from the input buffer.

use std::borrow::Cow;

use super::Response;
use super::body::{
    BasicType, BodyExtension, BodyFields, BodyStructure, Disposition, ExtensionTail, Language,
    LanguageTail, LocationTail, MultiPartExtension, SinglePart, SinglePartExtension,
    SinglePartKind,
};
use super::code::{Code, OtherCode};
use super::continuation::Continue;
use super::data::Data;
use super::envelope::{Address, Envelope};
use super::ext_value::{TaggedExtComp, TaggedExtValue};
use super::fetch::{FetchItem, MessageData};
use super::list::{ListExtendedItem, ListItem, MailboxAttribute};
use super::misc::{
    IdParams, MetadataEntries, MetadataEntry, NamespaceDescription, Namespaces, QuotaResource,
};
use super::search::{ESearch, SearchReturnData};
use super::status::{Greeting, RespText, Status};
use crate::core::string::IString;

type Params<'a> = Vec<(IString<'a>, IString<'a>)>;

fn params(p: Params<'_>) -> Params<'static> {
    p.into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Response<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Response<'static> {
        match self {
            Self::Status(s) => Response::Status(s.into_owned()),
            Self::Data(d) => Response::Data(d.into_owned()),
            Self::Continue(c) => Response::Continue(c.into_owned()),
        }
    }
}

impl Greeting<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Greeting<'static> {
        Greeting {
            kind: self.kind,
            text: self.text.into_owned(),
        }
    }
}

impl Status<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Status<'static> {
        match self {
            Self::Tagged { tag, kind, text } => Status::Tagged {
                tag: tag.into_owned(),
                kind,
                text: text.into_owned(),
            },
            Self::Untagged { kind, text } => Status::Untagged {
                kind,
                text: text.into_owned(),
            },
            Self::Bye(text) => Status::Bye(text.into_owned()),
            Self::PreAuth(text) => Status::PreAuth(text.into_owned()),
        }
    }
}

impl RespText<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> RespText<'static> {
        RespText {
            code: self.code.map(Code::into_owned),
            text: self.text.into_owned(),
        }
    }
}

impl Code<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Code<'static> {
        match self {
            Self::Simple(c) => Code::Simple(c),
            Self::BadCharset(l) => {
                Code::BadCharset(l.into_iter().map(|c| c.into_owned()).collect())
            }
            Self::Capability(l) => {
                Code::Capability(l.into_iter().map(|c| c.into_owned()).collect())
            }
            Self::PermanentFlags(l) => {
                Code::PermanentFlags(l.into_iter().map(|f| f.into_owned()).collect())
            }
            Self::UidNext(n) => Code::UidNext(n),
            Self::UidValidity(n) => Code::UidValidity(n),
            Self::Unseen(n) => Code::Unseen(n),
            Self::AppendUid { uid_validity, uids } => Code::AppendUid { uid_validity, uids },
            Self::CopyUid {
                uid_validity,
                source,
                destination,
            } => Code::CopyUid {
                uid_validity,
                source,
                destination,
            },
            Self::HighestModSeq(n) => Code::HighestModSeq(n),
            Self::Modified(s) => Code::Modified(s),
            Self::Metadata(m) => Code::Metadata(m),
            Self::MailboxId(id) => Code::MailboxId(id.into_owned()),
            Self::Other(o) => Code::Other(o.into_owned()),
        }
    }
}

impl OtherCode<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> OtherCode<'static> {
        let (name, args) = self.into_parts();
        OtherCode::from_parts(name.into_owned(), args.map(|a| Cow::Owned(a.into_owned())))
    }
}

impl Continue<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Continue<'static> {
        match self.as_text() {
            Some(_) => match self.into_text() {
                Some(t) => Continue::from_text_unchecked(t.into_owned()),
                None => Continue::base64(Vec::new()),
            },
            None => Continue::base64(self.as_base64().unwrap_or_default().to_vec()),
        }
    }
}

impl TaggedExtComp<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> TaggedExtComp<'static> {
        match self {
            Self::String(s) => TaggedExtComp::String(s.into_owned()),
            Self::List(l) => TaggedExtComp::List(l.into_iter().map(Self::into_owned).collect()),
        }
    }
}

impl TaggedExtValue<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> TaggedExtValue<'static> {
        match self {
            Self::Number(n) => TaggedExtValue::Number(n),
            Self::SequenceSet(s) => TaggedExtValue::SequenceSet(s),
            Self::List(l) => {
                TaggedExtValue::List(l.into_iter().map(TaggedExtComp::into_owned).collect())
            }
        }
    }
}

impl ListItem<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ListItem<'static> {
        ListItem {
            attributes: self
                .attributes
                .into_iter()
                .map(MailboxAttribute::into_owned)
                .collect(),
            delimiter: self.delimiter,
            mailbox: self.mailbox.into_owned(),
            extended: self
                .extended
                .into_iter()
                .map(|e| match e {
                    ListExtendedItem::ChildInfo(o) => {
                        ListExtendedItem::ChildInfo(o.map(|s| s.into_owned()))
                    }
                    ListExtendedItem::OldName(m) => ListExtendedItem::OldName(m.into_owned()),
                    ListExtendedItem::Other { tag, value } => ListExtendedItem::Other {
                        tag: tag.into_owned(),
                        value: value.into_owned(),
                    },
                })
                .collect(),
        }
    }
}

impl Address<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Address<'static> {
        Address {
            name: self.name.into_owned(),
            adl: self.adl.into_owned(),
            mailbox: self.mailbox.into_owned(),
            host: self.host.into_owned(),
        }
    }
}

fn addresses(l: Vec<Address<'_>>) -> Vec<Address<'static>> {
    l.into_iter().map(Address::into_owned).collect()
}

impl Envelope<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Envelope<'static> {
        Envelope {
            date: self.date.into_owned(),
            subject: self.subject.into_owned(),
            from: addresses(self.from),
            sender: addresses(self.sender),
            reply_to: addresses(self.reply_to),
            to: addresses(self.to),
            cc: addresses(self.cc),
            bcc: addresses(self.bcc),
            in_reply_to: self.in_reply_to.into_owned(),
            message_id: self.message_id.into_owned(),
        }
    }
}

impl BodyExtension<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> BodyExtension<'static> {
        match self {
            Self::String(s) => BodyExtension::String(s.into_owned()),
            Self::Number(n) => BodyExtension::Number(n),
            Self::List(l) => BodyExtension::List(l.map(Self::into_owned)),
        }
    }
}

impl ExtensionTail<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ExtensionTail<'static> {
        ExtensionTail {
            disposition: self.disposition.map(|d| Disposition {
                kind: d.kind.into_owned(),
                params: params(d.params),
            }),
            language: self.language.map(|l| LanguageTail {
                language: match l.language {
                    Language::Single(s) => Language::Single(s.into_owned()),
                    Language::List(v) => Language::List(v.map(|s| s.into_owned())),
                },
                location: l.location.map(|loc| LocationTail {
                    location: loc.location.into_owned(),
                    extensions: loc
                        .extensions
                        .into_iter()
                        .map(BodyExtension::into_owned)
                        .collect(),
                }),
            }),
        }
    }
}

impl BodyFields<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> BodyFields<'static> {
        BodyFields {
            params: params(self.params),
            id: self.id.into_owned(),
            description: self.description.into_owned(),
            encoding: self.encoding.into_owned(),
            octets: self.octets,
        }
    }
}

impl BodyStructure<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> BodyStructure<'static> {
        match self {
            Self::Single { part, extension } => BodyStructure::Single {
                part: SinglePart {
                    kind: match part.kind {
                        SinglePartKind::Basic(b) => {
                            let (t, s) = b.into_parts();
                            SinglePartKind::Basic(BasicType::from_parts(
                                t.into_owned(),
                                s.into_owned(),
                            ))
                        }
                        SinglePartKind::Message {
                            global,
                            envelope,
                            body,
                            lines,
                        } => SinglePartKind::Message {
                            global,
                            envelope: Box::new(envelope.into_owned()),
                            body: Box::new(body.into_owned()),
                            lines,
                        },
                        SinglePartKind::Text { subtype, lines } => SinglePartKind::Text {
                            subtype: subtype.into_owned(),
                            lines,
                        },
                    },
                    fields: part.fields.into_owned(),
                },
                extension: extension.map(|e| SinglePartExtension {
                    md5: e.md5.into_owned(),
                    tail: e.tail.map(ExtensionTail::into_owned),
                }),
            },
            Self::Multi {
                parts,
                subtype,
                extension,
            } => BodyStructure::Multi {
                parts: parts.map(Self::into_owned),
                subtype: subtype.into_owned(),
                extension: extension.map(|e| MultiPartExtension {
                    params: params(e.params),
                    tail: e.tail.map(ExtensionTail::into_owned),
                }),
            },
        }
    }
}

impl FetchItem<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> FetchItem<'static> {
        match self {
            Self::Flags(f) => FetchItem::Flags(f.into_iter().map(|f| f.into_owned()).collect()),
            Self::InternalDate(d) => FetchItem::InternalDate(d),
            Self::Rfc822Size(n) => FetchItem::Rfc822Size(n),
            Self::Envelope(e) => FetchItem::Envelope(Box::new(e.into_owned())),
            Self::Body(b) => FetchItem::Body(Box::new(b.into_owned())),
            Self::BodyStructure(b) => FetchItem::BodyStructure(Box::new(b.into_owned())),
            Self::BodySection {
                section,
                origin,
                data,
            } => FetchItem::BodySection {
                section: section.into_owned(),
                origin,
                data: data.into_owned(),
            },
            Self::Binary { section, data } => FetchItem::Binary {
                section,
                data: data.map(|d| d.into_owned()),
            },
            Self::BinarySize { section, size } => FetchItem::BinarySize { section, size },
            Self::Uid(n) => FetchItem::Uid(n),
            Self::ModSeq(n) => FetchItem::ModSeq(n),
            Self::Rfc822(d) => FetchItem::Rfc822(d.into_owned()),
            Self::Rfc822Header(d) => FetchItem::Rfc822Header(d.into_owned()),
            Self::Rfc822Text(d) => FetchItem::Rfc822Text(d.into_owned()),
            Self::Preview(d) => FetchItem::Preview(d.into_owned()),
            Self::EmailId(a) => FetchItem::EmailId(a.into_owned()),
            Self::ThreadId(a) => FetchItem::ThreadId(a.map(|a| a.into_owned())),
            Self::GmailMessageId(n) => FetchItem::GmailMessageId(n),
            Self::GmailThreadId(n) => FetchItem::GmailThreadId(n),
            Self::GmailLabels(l) => {
                FetchItem::GmailLabels(l.into_iter().map(|l| l.into_owned()).collect())
            }
            Self::SaveDate(d) => FetchItem::SaveDate(d),
        }
    }
}

fn namespace(
    ns: Option<crate::core::non_empty::NonEmpty<NamespaceDescription<'_>>>,
) -> Option<crate::core::non_empty::NonEmpty<NamespaceDescription<'static>>> {
    ns.map(|l| {
        l.map(|d| NamespaceDescription {
            prefix: d.prefix.into_owned(),
            delimiter: d.delimiter,
            extensions: d
                .extensions
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.map(|s| s.into_owned())))
                .collect(),
        })
    })
}

impl Data<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Data<'static> {
        match self {
            Self::Capability(c) => {
                Data::Capability(c.into_iter().map(|c| c.into_owned()).collect())
            }
            Self::Enabled(c) => Data::Enabled(c.into_iter().map(|c| c.into_owned()).collect()),
            Self::Flags(f) => Data::Flags(f.into_iter().map(|f| f.into_owned()).collect()),
            Self::List(l) => Data::List(l.into_owned()),
            Self::Lsub(l) => Data::Lsub(l.into_owned()),
            Self::Status { mailbox, items } => Data::Status {
                mailbox: mailbox.into_owned(),
                items,
            },
            Self::Search { numbers, mod_seq } => Data::Search { numbers, mod_seq },
            Self::Sort { numbers, mod_seq } => Data::Sort { numbers, mod_seq },
            Self::ESearch(e) => Data::ESearch(ESearch {
                tag: e.tag.map(|t| t.into_owned()),
                uid: e.uid,
                data: e
                    .data
                    .into_iter()
                    .map(|d| match d {
                        SearchReturnData::Min(n) => SearchReturnData::Min(n),
                        SearchReturnData::Max(n) => SearchReturnData::Max(n),
                        SearchReturnData::All(s) => SearchReturnData::All(s),
                        SearchReturnData::Count(n) => SearchReturnData::Count(n),
                        SearchReturnData::ModSeq(n) => SearchReturnData::ModSeq(n),
                        SearchReturnData::Partial { range, results } => {
                            SearchReturnData::Partial { range, results }
                        }
                        SearchReturnData::Relevancy(s) => SearchReturnData::Relevancy(s),
                        SearchReturnData::Other { name, value } => SearchReturnData::Other {
                            name: name.into_owned(),
                            value: value.into_owned(),
                        },
                    })
                    .collect(),
            }),
            Self::Thread(t) => Data::Thread(t),
            Self::Exists(n) => Data::Exists(n),
            Self::Recent(n) => Data::Recent(n),
            Self::Expunge(n) => Data::Expunge(n),
            Self::Vanished { earlier, uids } => Data::Vanished { earlier, uids },
            Self::Fetch(m) => Data::Fetch(MessageData {
                seq: m.seq,
                items: m.items.into_iter().map(FetchItem::into_owned).collect(),
            }),
            Self::UidFetch(m) => Data::UidFetch(MessageData {
                seq: m.seq,
                items: m.items.into_iter().map(FetchItem::into_owned).collect(),
            }),
            Self::Acl { mailbox, entries } => Data::Acl {
                mailbox: mailbox.into_owned(),
                entries: entries
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            },
            Self::ListRights {
                mailbox,
                identifier,
                required,
                optional,
            } => Data::ListRights {
                mailbox: mailbox.into_owned(),
                identifier: identifier.into_owned(),
                required: required.into_owned(),
                optional: optional.into_iter().map(|r| r.into_owned()).collect(),
            },
            Self::MyRights { mailbox, rights } => Data::MyRights {
                mailbox: mailbox.into_owned(),
                rights: rights.into_owned(),
            },
            Self::Language(l) => Data::Language(l.map(|t| t.into_owned())),
            Self::Comparator { selected, matching } => Data::Comparator {
                selected: selected.into_owned(),
                matching: matching.into_iter().map(|c| c.into_owned()).collect(),
            },
            Self::Id(p) => Data::Id(IdParams(p.0.map(|v| {
                v.into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            }))),
            Self::Namespace(n) => Data::Namespace(Namespaces {
                personal: namespace(n.personal),
                other: namespace(n.other),
                shared: namespace(n.shared),
            }),
            Self::Quota { root, resources } => Data::Quota {
                root: root.into_owned(),
                resources: resources
                    .into_iter()
                    .map(|r| QuotaResource {
                        name: r.name.into_owned(),
                        usage: r.usage,
                        limit: r.limit,
                    })
                    .collect(),
            },
            Self::QuotaRoot { mailbox, roots } => Data::QuotaRoot {
                mailbox: mailbox.into_owned(),
                roots: roots.into_iter().map(|r| r.into_owned()).collect(),
            },
            Self::Metadata { mailbox, entries } => Data::Metadata {
                mailbox: mailbox.into_owned(),
                entries: match entries {
                    MetadataEntries::Values(v) => MetadataEntries::Values(v.map(|(k, e)| {
                        (
                            k.into_owned(),
                            match e {
                                MetadataEntry::Nil => MetadataEntry::Nil,
                                MetadataEntry::String(s) => MetadataEntry::String(s.into_owned()),
                                MetadataEntry::Binary(b) => MetadataEntry::Binary(b.into_owned()),
                            },
                        )
                    })),
                    MetadataEntries::Changed(v) => {
                        MetadataEntries::Changed(v.map(|s| s.into_owned()))
                    }
                },
            },
        }
    }
}
