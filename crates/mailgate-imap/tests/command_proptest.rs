//! Property tests: arbitrary command → encode → parse gives the same command, and
//! random bytes never make the parser panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::num::NonZeroU32;

use mailgate_imap::command::*;
use mailgate_imap::response::GmailLabel;
use mailgate_imap::*;
use proptest::prelude::*;
use proptest::strategy::Union;

fn nz() -> impl Strategy<Value = NonZeroU32> {
    (1u32..=u32::MAX).prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn part() -> impl Strategy<Value = Vec<NonZeroU32>> {
    prop::collection::vec(small_nz(), 0..4)
}

fn small_nz() -> impl Strategy<Value = NonZeroU32> + Clone {
    (1u32..2000).prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn atom() -> impl Strategy<Value = Atom<'static>> {
    "[A-Za-z0-9!#&'+,./:;<=>?@^_`|~$\\[-]{1,10}".prop_map(|s| Atom::try_from(s).unwrap())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-zA-Z0-9 ._\"\\\\/]{0,12}".prop_map(String::into_bytes),
        prop::collection::vec(1u8..=255, 0..24),
    ]
}

fn astring() -> impl Strategy<Value = AString<'static>> {
    bytes().prop_map(|b| AString::try_from(b).unwrap())
}

fn istring() -> impl Strategy<Value = IString<'static>> {
    bytes().prop_map(|b| IString::try_from(b).unwrap())
}

fn nstring() -> impl Strategy<Value = NString<'static>> {
    prop::option::of(istring()).prop_map(NString)
}

fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof![
        Just(Mailbox::Inbox),
        astring().prop_map(Mailbox::from_astring)
    ]
}

fn seq_number() -> impl Strategy<Value = SeqNumber> {
    prop_oneof![nz().prop_map(SeqNumber::Value), Just(SeqNumber::Largest)]
}

fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    let item = prop_oneof![
        seq_number().prop_map(SeqItem::Single),
        (seq_number(), seq_number()).prop_map(|(a, b)| SeqItem::Range(a, b)),
    ];
    prop_oneof![
        1 => Just(SequenceSet::saved()),
        8 => prop::collection::vec(item, 1..5).prop_map(|v| SequenceSet::try_new(v).unwrap()),
    ]
}

fn flag() -> impl Strategy<Value = Flag<'static>> {
    prop_oneof![
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Seen),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        "X[a-z]{1,6}".prop_map(|s| Flag::Extension(
            FlagExtension::try_new(Atom::try_from(s).unwrap()).unwrap()
        )),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (1900u16..2100, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::try_new(y, m, d).unwrap())
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..60, -720i16..=840)
        .prop_map(|(d, h, m, s, z)| DateTime::try_new(d, h, m, s, z).unwrap())
}

fn charset() -> impl Strategy<Value = Charset<'static>> {
    "[ -~]{1,12}".prop_map(|s| Charset::try_from(s.as_str()).unwrap().into_owned())
}

fn search_key() -> impl Strategy<Value = SearchKey<'static>> {
    let leaf = Union::new(vec![
        Just(SearchKey::All).boxed(),
        Just(SearchKey::Answered).boxed(),
        Just(SearchKey::Deleted).boxed(),
        Just(SearchKey::Draft).boxed(),
        Just(SearchKey::Flagged).boxed(),
        Just(SearchKey::New).boxed(),
        Just(SearchKey::Old).boxed(),
        Just(SearchKey::Recent).boxed(),
        Just(SearchKey::Seen).boxed(),
        Just(SearchKey::Unanswered).boxed(),
        Just(SearchKey::Undeleted).boxed(),
        Just(SearchKey::Undraft).boxed(),
        Just(SearchKey::Unflagged).boxed(),
        Just(SearchKey::Unseen).boxed(),
        astring().prop_map(SearchKey::Bcc).boxed(),
        astring().prop_map(SearchKey::Body).boxed(),
        astring().prop_map(SearchKey::Cc).boxed(),
        astring().prop_map(SearchKey::From).boxed(),
        astring().prop_map(SearchKey::Subject).boxed(),
        astring().prop_map(SearchKey::Text).boxed(),
        astring().prop_map(SearchKey::To).boxed(),
        (astring(), astring())
            .prop_map(|(a, b)| SearchKey::Header(a, b))
            .boxed(),
        atom().prop_map(SearchKey::Keyword).boxed(),
        atom().prop_map(SearchKey::Unkeyword).boxed(),
        date().prop_map(SearchKey::Before).boxed(),
        date().prop_map(SearchKey::On).boxed(),
        date().prop_map(SearchKey::Since).boxed(),
        date().prop_map(SearchKey::SentBefore).boxed(),
        date().prop_map(SearchKey::SentOn).boxed(),
        date().prop_map(SearchKey::SentSince).boxed(),
        (0u64..=NUMBER64_MAX).prop_map(SearchKey::Larger).boxed(),
        (0u64..=NUMBER64_MAX).prop_map(SearchKey::Smaller).boxed(),
        sequence_set().prop_map(SearchKey::Uid).boxed(),
        sequence_set().prop_map(SearchKey::SequenceSet).boxed(),
        small_nz().prop_map(SearchKey::Older).boxed(),
        small_nz().prop_map(SearchKey::Younger).boxed(),
        (
            prop::option::of((
                prop_oneof![
                    "/flags/[a-z\\\\]{1,6}".prop_map(|s| AString::try_from(s).unwrap()),
                    astring(),
                ],
                prop_oneof![
                    Just(ModSeqEntryType::Private),
                    Just(ModSeqEntryType::Shared),
                    Just(ModSeqEntryType::All)
                ],
            )),
            0u64..=NUMBER64_MAX,
        )
            .prop_map(|(entry, modseq)| SearchKey::ModSeq { entry, modseq })
            .boxed(),
        object_id().prop_map(SearchKey::EmailId).boxed(),
        object_id().prop_map(SearchKey::ThreadId).boxed(),
        date().prop_map(SearchKey::SavedBefore).boxed(),
        date().prop_map(SearchKey::SavedOn).boxed(),
        date().prop_map(SearchKey::SavedSince).boxed(),
        Just(SearchKey::SaveDateSupported).boxed(),
        astring().prop_map(SearchKey::GmailRaw).boxed(),
        (0u64..=NUMBER64_MAX)
            .prop_map(SearchKey::GmailMessageId)
            .boxed(),
        (0u64..=NUMBER64_MAX)
            .prop_map(SearchKey::GmailThreadId)
            .boxed(),
        gmail_label().prop_map(SearchKey::GmailLabels).boxed(),
    ]);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            inner.clone().prop_map(|k| SearchKey::Fuzzy(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            prop::collection::vec(inner, 1..4)
                .prop_map(|v| SearchKey::And(NonEmpty::try_new(v).unwrap())),
        ]
    })
}

fn object_id() -> impl Strategy<Value = ObjectId<'static>> {
    "[A-Za-z0-9_-]{1,40}".prop_map(|s| ObjectId::try_new(s).unwrap())
}

fn gmail_label() -> impl Strategy<Value = GmailLabel<'static>> {
    prop_oneof![
        atom().prop_map(GmailLabel::System),
        astring().prop_map(GmailLabel::Name),
    ]
}

fn partial_range() -> impl Strategy<Value = PartialRange> {
    (any::<bool>(), nz(), nz()).prop_map(|(last, a, b)| {
        if last {
            PartialRange::Last(a, b)
        } else {
            PartialRange::First(a, b)
        }
    })
}

fn keys() -> impl Strategy<Value = NonEmpty<SearchKey<'static>>> {
    prop::collection::vec(search_key(), 1..4).prop_map(|v| NonEmpty::try_new(v).unwrap())
}

fn non_empty<T: std::fmt::Debug>(
    s: impl Strategy<Value = T>,
    max: usize,
) -> impl Strategy<Value = NonEmpty<T>> {
    prop::collection::vec(s, 1..max).prop_map(|v| NonEmpty::try_new(v).unwrap())
}

fn return_options() -> impl Strategy<Value = Option<Vec<SearchReturnOption>>> {
    prop::option::of(prop::collection::vec(
        prop_oneof![
            Just(SearchReturnOption::Min),
            Just(SearchReturnOption::Max),
            Just(SearchReturnOption::All),
            Just(SearchReturnOption::Count),
            Just(SearchReturnOption::Save),
            Just(SearchReturnOption::Relevancy),
            partial_range().prop_map(SearchReturnOption::Partial),
        ],
        0..4,
    ))
}

fn partial() -> impl Strategy<Value = Option<Partial>> {
    prop::option::of((any::<u32>(), nz()).prop_map(|(offset, length)| Partial { offset, length }))
}

fn fetch_attribute() -> BoxedStrategy<FetchAttribute<'static>> {
    let section = (part(), 0u8..6, non_empty(astring(), 3)).prop_map(|(part, t, names)| {
        let text = match t {
            0 => None,
            1 => Some(SectionText::Header),
            2 => Some(SectionText::HeaderFields(names)),
            3 => Some(SectionText::HeaderFieldsNot(names)),
            4 => Some(SectionText::Text),
            _ if part.is_empty() => Some(SectionText::Text),
            _ => Some(SectionText::Mime),
        };
        Section { part, text }
    });
    prop_oneof![
        Just(FetchAttribute::Envelope),
        Just(FetchAttribute::Flags),
        Just(FetchAttribute::InternalDate),
        Just(FetchAttribute::Rfc822),
        Just(FetchAttribute::Rfc822Header),
        Just(FetchAttribute::Rfc822Size),
        Just(FetchAttribute::Rfc822Text),
        Just(FetchAttribute::Body),
        Just(FetchAttribute::BodyStructure),
        Just(FetchAttribute::Uid),
        Just(FetchAttribute::ModSeq),
        Just(FetchAttribute::EmailId),
        Just(FetchAttribute::ThreadId),
        Just(FetchAttribute::SaveDate),
        Just(FetchAttribute::GmailMessageId),
        Just(FetchAttribute::GmailThreadId),
        Just(FetchAttribute::GmailLabels),
        any::<bool>().prop_map(|lazy| FetchAttribute::Preview { lazy }),
        (any::<bool>(), section, partial()).prop_map(|(peek, section, partial)| {
            FetchAttribute::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), part(), partial()).prop_map(|(peek, part, partial)| {
            FetchAttribute::Binary {
                peek,
                part,
                partial,
            }
        }),
        part().prop_map(|part| FetchAttribute::BinarySize { part }),
    ]
    .boxed()
}

fn fetch_items() -> impl Strategy<Value = FetchItems<'static>> {
    prop_oneof![
        Just(FetchItems::All),
        Just(FetchItems::Fast),
        Just(FetchItems::Full),
        non_empty(fetch_attribute(), 5).prop_map(FetchItems::Attributes),
    ]
}

fn status_item() -> impl Strategy<Value = StatusItem> {
    prop_oneof![
        Just(StatusItem::Messages),
        Just(StatusItem::Recent),
        Just(StatusItem::UidNext),
        Just(StatusItem::UidValidity),
        Just(StatusItem::Unseen),
        Just(StatusItem::Deleted),
        Just(StatusItem::Size),
        Just(StatusItem::HighestModSeq),
        Just(StatusItem::AppendLimit),
        Just(StatusItem::MailboxId),
        Just(StatusItem::DeletedStorage),
    ]
}

fn append_message() -> BoxedStrategy<AppendMessage<'static>> {
    let data = prop_oneof![
        bytes().prop_map(|b| AppendData::Literal(IString::try_from(b).unwrap())),
        prop::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| AppendData::Binary(Literal8::try_from(b).unwrap())),
        prop::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| AppendData::Utf8(Literal8::try_from(b).unwrap())),
        non_empty(
            prop_oneof![
                bytes().prop_map(|b| CatenatePart::Text(IString::try_from(b).unwrap())),
                astring().prop_map(CatenatePart::Url),
                prop::collection::vec(any::<u8>(), 0..20)
                    .prop_map(|b| CatenatePart::Utf8(Literal8::try_from(b).unwrap())),
            ],
            4
        )
        .prop_map(AppendData::Catenate),
    ];
    (
        prop::collection::vec(flag(), 0..3),
        prop::option::of(date_time()),
        data,
    )
        .prop_map(|(flags, date, data)| AppendMessage { flags, date, data })
        .boxed()
}

fn mechanism() -> impl Strategy<Value = AuthMechanism<'static>> {
    prop_oneof![
        Just("PLAIN"),
        Just("XOAUTH2"),
        Just("oauthbearer"),
        Just("X-FOO"),
        Just("GSSAPI")
    ]
    .prop_map(|s| AuthMechanism::try_from(s).unwrap())
}

fn capability() -> impl Strategy<Value = Capability<'static>> {
    prop_oneof![
        Just("IMAP4rev2"),
        Just("UTF8=ACCEPT"),
        Just("condstore"),
        Just("X-FOO"),
        Just("AUTH=PLAIN")
    ]
    .prop_map(|s| Capability::try_from(s).unwrap())
}

fn sort_criterion() -> impl Strategy<Value = SortCriterion> {
    let key = prop_oneof![
        Just(SortKey::Arrival),
        Just(SortKey::Cc),
        Just(SortKey::Date),
        Just(SortKey::From),
        Just(SortKey::Size),
        Just(SortKey::Subject),
        Just(SortKey::To),
        Just(SortKey::DisplayFrom),
        Just(SortKey::DisplayTo),
        Just(SortKey::Relevancy),
    ];
    (any::<bool>(), key).prop_map(|(reverse, key)| SortCriterion { reverse, key })
}

fn select_parameters() -> impl Strategy<Value = Vec<SelectParameter>> {
    let qresync = (
        nz(),
        1u64..=NUMBER64_MAX,
        prop::option::of(sequence_set()),
        prop::option::of((sequence_set(), sequence_set())),
    )
        .prop_map(
            |(uid_validity, mod_seq, known_uids, seq_match)| SelectParameter::QResync {
                uid_validity,
                mod_seq,
                known_uids,
                seq_match,
            },
        );
    prop::collection::vec(prop_oneof![Just(SelectParameter::CondStore), qresync], 0..2)
}

fn body() -> impl Strategy<Value = CommandBody<'static>> {
    let simple = prop_oneof![
        Just(CommandBody::Capability),
        Just(CommandBody::Noop),
        Just(CommandBody::Logout),
        Just(CommandBody::StartTls),
        Just(CommandBody::Namespace),
        Just(CommandBody::Idle),
        Just(CommandBody::Check),
        Just(CommandBody::Close),
        Just(CommandBody::Unselect),
        Just(CommandBody::Expunge),
    ];
    let auth = prop_oneof![
        (
            mechanism(),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..20))
        )
            .prop_map(|(mechanism, ir)| {
                CommandBody::Authenticate {
                    mechanism,
                    initial_response: ir.map(Secret::new),
                }
            }),
        (astring(), astring()).prop_map(|(username, p)| CommandBody::Login {
            username,
            password: Secret::new(p)
        }),
        non_empty(capability(), 4).prop_map(|capabilities| CommandBody::Enable { capabilities }),
    ];
    let mailboxes = prop_oneof![
        (mailbox(), select_parameters()).prop_map(|(mailbox, parameters)| CommandBody::Select {
            mailbox,
            parameters
        }),
        (mailbox(), select_parameters()).prop_map(|(mailbox, parameters)| CommandBody::Examine {
            mailbox,
            parameters
        }),
        (mailbox(), prop::collection::vec(atom(), 0..3)).prop_map(|(mailbox, special_use)| {
            CommandBody::Create {
                mailbox,
                special_use,
            }
        }),
        mailbox().prop_map(|mailbox| CommandBody::Delete { mailbox }),
        (mailbox(), mailbox()).prop_map(|(from, to)| CommandBody::Rename { from, to }),
        mailbox().prop_map(|mailbox| CommandBody::Subscribe { mailbox }),
        mailbox().prop_map(|mailbox| CommandBody::Unsubscribe { mailbox }),
        (mailbox(), non_empty(status_item(), 5))
            .prop_map(|(mailbox, items)| CommandBody::Status { mailbox, items }),
        (mailbox(), non_empty(append_message(), 3))
            .prop_map(|(mailbox, messages)| CommandBody::Append { mailbox, messages }),
        (mailbox(), bytes()).prop_map(|(reference, p)| CommandBody::Lsub {
            reference,
            pattern: ListMailbox::try_new(p).unwrap()
        }),
        (
            prop::collection::vec(
                prop_oneof![
                    Just(ListSelectOption::Subscribed),
                    Just(ListSelectOption::Remote),
                    Just(ListSelectOption::RecursiveMatch),
                    Just(ListSelectOption::SpecialUse),
                ],
                0..3
            )
            .prop_map(|mut selection| {
                // RECURSIVEMATCH needs an option other than REMOTE (RFC 5258).
                if selection.contains(&ListSelectOption::RecursiveMatch)
                    && selection.iter().all(|o| {
                        matches!(
                            o,
                            ListSelectOption::RecursiveMatch | ListSelectOption::Remote
                        )
                    })
                {
                    selection.push(ListSelectOption::Subscribed);
                }
                selection
            }),
            mailbox(),
            non_empty(bytes().prop_map(|b| ListMailbox::try_new(b).unwrap()), 3),
            prop::collection::vec(
                prop_oneof![
                    Just(ListReturnOption::Subscribed),
                    Just(ListReturnOption::Children),
                    Just(ListReturnOption::SpecialUse),
                    prop::collection::vec(status_item(), 1..3).prop_map(ListReturnOption::Status),
                ],
                0..3
            ),
        )
            .prop_map(|(selection, reference, patterns, return_options)| {
                CommandBody::List {
                    selection,
                    reference,
                    patterns,
                    return_options,
                }
            }),
    ];
    let selected = prop_oneof![
        sequence_set().prop_map(|sequence_set| CommandBody::UidExpunge { sequence_set }),
        (
            any::<bool>(),
            return_options(),
            prop::option::of(charset()),
            keys()
        )
            .prop_map(
                |(uid, return_options, charset, criteria)| CommandBody::Search {
                    uid,
                    return_options,
                    charset,
                    criteria
                }
            ),
        (
            any::<bool>(),
            sequence_set(),
            fetch_items(),
            prop::collection::vec(
                prop_oneof![
                    (1u64..=NUMBER64_MAX).prop_map(FetchModifier::ChangedSince),
                    Just(FetchModifier::Vanished),
                    partial_range().prop_map(FetchModifier::Partial),
                ],
                0..3
            )
        )
            .prop_map(|(uid, sequence_set, items, mut modifiers)| {
                // VANISHED only in UID FETCH and with CHANGEDSINCE (RFC 7162).
                let since = modifiers
                    .iter()
                    .any(|m| matches!(m, FetchModifier::ChangedSince(_)));
                if !uid || !since {
                    modifiers.retain(|m| *m != FetchModifier::Vanished);
                }
                CommandBody::Fetch {
                    uid,
                    sequence_set,
                    items,
                    modifiers,
                }
            }),
        (
            any::<bool>(),
            sequence_set(),
            prop::option::of(0u64..=NUMBER64_MAX),
            prop_oneof![
                Just(StoreKind::Replace),
                Just(StoreKind::Add),
                Just(StoreKind::Remove)
            ],
            any::<bool>(),
            prop::collection::vec(flag(), 0..4)
        )
            .prop_map(
                |(uid, sequence_set, unchanged_since, kind, silent, flags)| CommandBody::Store {
                    uid,
                    sequence_set,
                    unchanged_since,
                    kind,
                    silent,
                    flags
                }
            ),
        (any::<bool>(), sequence_set(), mailbox()).prop_map(|(uid, sequence_set, mailbox)| {
            CommandBody::Copy {
                uid,
                sequence_set,
                mailbox,
            }
        }),
        (any::<bool>(), sequence_set(), mailbox()).prop_map(|(uid, sequence_set, mailbox)| {
            CommandBody::Move {
                uid,
                sequence_set,
                mailbox,
            }
        }),
        (
            any::<bool>(),
            return_options(),
            non_empty(sort_criterion(), 4),
            charset(),
            keys()
        )
            .prop_map(|(uid, return_options, criteria, charset, search)| {
                CommandBody::Sort {
                    uid,
                    return_options,
                    criteria,
                    charset,
                    search,
                }
            }),
        (any::<bool>(), atom(), charset(), keys()).prop_map(|(uid, algorithm, charset, search)| {
            CommandBody::Thread {
                uid,
                algorithm,
                charset,
                search,
            }
        }),
    ];
    let extensions = prop_oneof![
        astring().prop_map(|root| CommandBody::GetQuota { root }),
        mailbox().prop_map(|mailbox| CommandBody::GetQuotaRoot { mailbox }),
        (
            astring(),
            prop::collection::vec((atom(), 0u64..=NUMBER64_MAX), 0..3)
        )
            .prop_map(|(root, l)| {
                CommandBody::SetQuota {
                    root,
                    limits: l
                        .into_iter()
                        .map(|(resource, limit)| QuotaLimit { resource, limit })
                        .collect(),
                }
            }),
        (
            prop::collection::vec(
                prop_oneof![
                    any::<u32>().prop_map(MetadataOption::MaxSize),
                    Just(MetadataOption::Depth(MetadataDepth::Zero)),
                    Just(MetadataOption::Depth(MetadataDepth::One)),
                    Just(MetadataOption::Depth(MetadataDepth::Infinity)),
                ],
                0..3
            ),
            mailbox(),
            non_empty(astring(), 3)
        )
            .prop_map(|(options, mailbox, entries)| CommandBody::GetMetadata {
                options,
                mailbox,
                entries
            }),
        (
            mailbox(),
            non_empty(
                (
                    astring(),
                    prop_oneof![
                        nstring().prop_map(MetadataValue::NString),
                        prop::collection::vec(any::<u8>(), 0..10)
                            .prop_map(|b| MetadataValue::Binary(Literal8::try_from(b).unwrap())),
                    ]
                )
                    .prop_map(|(name, value)| MetadataEntry { name, value }),
                3
            )
        )
            .prop_map(|(mailbox, entries)| CommandBody::SetMetadata { mailbox, entries }),
        prop::option::of(prop::collection::vec(
            (istring(), nstring()).prop_map(|(name, value)| IdField { name, value }),
            0..4
        ))
        .prop_map(|fields| CommandBody::Id { fields }),
        atom().prop_map(|algorithm| CommandBody::Compress { algorithm }),
    ];
    let acl = prop_oneof![
        (mailbox(), astring(), astring()).prop_map(|(mailbox, identifier, rights)| {
            CommandBody::SetAcl {
                mailbox,
                identifier,
                rights,
            }
        }),
        (mailbox(), astring()).prop_map(|(mailbox, identifier)| CommandBody::DeleteAcl {
            mailbox,
            identifier
        }),
        (mailbox(), astring()).prop_map(|(mailbox, identifier)| CommandBody::ListRights {
            mailbox,
            identifier
        }),
        mailbox().prop_map(|mailbox| CommandBody::GetAcl { mailbox }),
        mailbox().prop_map(|mailbox| CommandBody::MyRights { mailbox }),
    ];
    let newer = prop_oneof![
        Just(CommandBody::Unauthenticate),
        prop::collection::vec(astring(), 0..3).prop_map(|ranges| CommandBody::Language { ranges }),
        prop::collection::vec(astring(), 0..3)
            .prop_map(|comparators| CommandBody::Comparator { comparators }),
        notify().prop_map(CommandBody::Notify),
        (any::<bool>(), seq_number(), mailbox(), append_message()).prop_map(
            |(uid, sequence, mailbox, message)| CommandBody::Replace(Box::new(Replace {
                uid,
                sequence,
                mailbox,
                message,
            }))
        ),
        (
            any::<bool>(),
            sequence_set(),
            prop::option::of(0u64..=NUMBER64_MAX),
            prop_oneof![
                Just(StoreKind::Replace),
                Just(StoreKind::Add),
                Just(StoreKind::Remove)
            ],
            any::<bool>(),
            prop::collection::vec(gmail_label(), 0..4)
        )
            .prop_map(
                |(uid, sequence_set, unchanged_since, kind, silent, labels)| {
                    CommandBody::StoreGmailLabels {
                        uid,
                        sequence_set,
                        unchanged_since,
                        kind,
                        silent,
                        labels,
                    }
                }
            ),
    ];
    // Boxed: the value trees of the whole union would not fit a test thread's stack in
    // debug builds.
    prop_oneof![
        simple.boxed(),
        auth.boxed(),
        mailboxes.boxed(),
        selected.boxed(),
        extensions.boxed(),
        acl.boxed(),
        newer.boxed(),
    ]
}

fn notify() -> BoxedStrategy<Notify<'static>> {
    let filter = prop_oneof![
        Just(NotifyMailboxes::Selected),
        Just(NotifyMailboxes::SelectedDelayed),
        Just(NotifyMailboxes::Inboxes),
        Just(NotifyMailboxes::Personal),
        Just(NotifyMailboxes::Subscribed),
        non_empty(mailbox(), 3).prop_map(NotifyMailboxes::Subtree),
        non_empty(mailbox(), 3).prop_map(NotifyMailboxes::Mailboxes),
    ];
    let event = prop_oneof![
        prop::collection::vec(fetch_attribute(), 0..3).prop_map(NotifyEvent::MessageNew),
        Just(NotifyEvent::MessageExpunge),
        Just(NotifyEvent::FlagChange),
        Just(NotifyEvent::AnnotationChange),
        Just(NotifyEvent::MailboxName),
        Just(NotifyEvent::SubscriptionChange),
        Just(NotifyEvent::MailboxMetadataChange),
        Just(NotifyEvent::ServerMetadataChange),
        Just(NotifyEvent::QuotaChange),
        "X[a-z]{1,6}".prop_map(|s| NotifyEvent::Other(Atom::try_from(s).unwrap())),
    ];
    let group = (filter, prop::collection::vec(event, 0..3))
        .prop_map(|(filter, events)| NotifyEventGroup { filter, events });
    prop_oneof![
        Just(Notify::None),
        (any::<bool>(), non_empty(group, 3))
            .prop_map(|(status, groups)| Notify::Set { status, groups }),
    ]
    .boxed()
}

fn command() -> impl Strategy<Value = Command<'static>> {
    ("[A-Za-z0-9.]{1,8}", body()).prop_map(|(tag, body)| Command {
        tag: Tag::try_from(tag).unwrap(),
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_parse_gives_the_same_command(cmd in command()) {
        let wire = cmd.to_vec();
        let parsed = Command::parse(&wire, &ParserConfig::strict());
        prop_assert!(parsed.is_ok(), "{:?} -> {:?}: {:?}", cmd, String::from_utf8_lossy(&wire), parsed);
        let (again, used) = parsed.unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(&again, &cmd);
        prop_assert_eq!(again.to_vec(), wire.clone());
    }

    #[test]
    fn unknown_commands_round_trip_in_lenient_mode(
        name in "X-[A-Z]{1,8}",
        args in prop::collection::vec(
            prop_oneof![
                "[!-z]([ -z]{0,6}[!-z])?".prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..8).prop_map(|d| {
                    let mut v = format!("{{{}}}\r\n", d.len()).into_bytes();
                    v.extend(d);
                    v
                }),
            ],
            0..4,
        ),
    ) {
        let mut wire = format!("a {name}").into_bytes();
        for a in &args {
            wire.push(b' ');
            wire.extend_from_slice(a);
        }
        wire.extend_from_slice(b"\r\n");
        let cfg = ParserConfig::lenient();
        let parsed = Command::parse(&wire, &cfg);
        // Text parts may end in a literal-looking `{n}` or hold a bare line end: those
        // are framing errors, not arguments.
        if let Ok((cmd, used)) = parsed {
            prop_assert_eq!(used, wire.len());
            let is_other = matches!(cmd.body, CommandBody::Other { .. });
            prop_assert!(is_other, "{:?}", cmd);
            prop_assert_eq!(cmd.to_vec(), wire.clone());
            prop_assert_eq!(Command::parse(&wire, &cfg).map(|(c, _)| c), Ok(cmd));
        }
        prop_assert!(Command::parse(&wire, &ParserConfig::strict()).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..200)) {
        for cfg in [ParserConfig::strict(), ParserConfig::lenient()] {
            if let Ok((cmd, used)) = Command::parse(&input, &cfg) {
                prop_assert!(used <= input.len());
                let wire = cmd.to_vec();
                if cfg == ParserConfig::strict() {
                    prop_assert_eq!(Command::parse(&wire, &cfg).map(|(c, _)| c), Ok(cmd));
                }
            }
        }
    }

    #[test]
    fn mutated_examples_never_panic(cmd in command(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut wire = cmd.to_vec();
        let at = pos.index(wire.len());
        wire[at] = byte;
        let _ = Command::parse(&wire, &ParserConfig::strict());
    }
}
