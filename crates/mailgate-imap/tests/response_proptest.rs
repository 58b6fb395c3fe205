//! Property tests of the response codec: any value encodes to a message that parses
//! back to the same value (strict and lenient); mutated corpus messages that parse
//! survive encode -> parse unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::num::NonZeroU32;

use mailgate_imap::command::{PartialRange, Section, SectionText};
use mailgate_imap::response::*;
use mailgate_imap::{
    AString, Atom, Capability, Charset, Date, DateTime, Encode, Flag, FlagExtension, FlagFetch,
    FlagPerm, IString, Literal8, Mailbox, NString, NonEmpty, ObjectId, ParserConfig, SeqItem,
    SeqNumber, SequenceSet, Tag,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn nz() -> impl Strategy<Value = NonZeroU32> {
    (1u32..=u32::MAX).prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn small_nz() -> impl Strategy<Value = NonZeroU32> {
    (1u32..5000).prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn n64() -> impl Strategy<Value = u64> {
    0u64..=(i64::MAX as u64)
}

/// `mod-sequence-value`: non-zero.
fn modseq() -> impl Strategy<Value = u64> {
    1u64..=(i64::MAX as u64)
}

fn object_id() -> impl Strategy<Value = ObjectId<'static>> {
    "[A-Za-z0-9_-]{1,30}".prop_map(|s| ObjectId::try_new(s).unwrap())
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

fn tag() -> impl Strategy<Value = Tag<'static>> {
    "[A-Za-z0-9.]{1,8}".prop_map(|s| Tag::try_from(s).unwrap())
}

fn atom() -> impl Strategy<Value = Atom<'static>> {
    "[A-Za-z0-9$.\\-_]{1,10}".prop_map(|s| Atom::try_from(s).unwrap())
}

fn text() -> impl Strategy<Value = Text<'static>> {
    "([A-Za-z0-9.,!?;:'\"()-][A-Za-z0-9 .,!?;:'\"()\\[\\]-]{0,30})?"
        .prop_map(|s| Text::try_new(s).unwrap())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[A-Za-z0-9 ._@<>=/-]{0,24}".prop_map(String::into_bytes),
        1 => vec(1u8..=255, 0..40),
        1 => "\\PC{0,8}".prop_map(String::into_bytes),
    ]
}

fn istring() -> impl Strategy<Value = IString<'static>> {
    bytes().prop_map(|b| {
        IString::try_from(b.into_iter().filter(|&c| c != 0).collect::<Vec<u8>>()).unwrap()
    })
}

fn astring() -> impl Strategy<Value = AString<'static>> {
    istring().prop_map(AString::from)
}

fn nstring() -> impl Strategy<Value = NString<'static>> {
    option::of(istring()).prop_map(NString)
}

fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof![
        Just(Mailbox::Inbox),
        astring().prop_map(Mailbox::from_astring)
    ]
}

fn flag() -> impl Strategy<Value = Flag<'static>> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        atom().prop_filter_map("system flag", |a| FlagExtension::try_new(a)
            .ok()
            .map(Flag::Extension)),
    ]
}

const CAPS: &[&str] = &[
    "IMAP4rev1",
    "IMAP4rev2",
    "IDLE",
    "AUTH=PLAIN",
    "AUTH=XOAUTH2",
    "LITERAL+",
    "UIDPLUS",
    "X-GM-EXT-1",
    "CONDSTORE",
    "UTF8=ACCEPT",
    "STARTTLS",
    "LOGINDISABLED",
    "X-FOO",
];

fn capability() -> impl Strategy<Value = Capability<'static>> {
    proptest::sample::select(CAPS).prop_map(|s| Capability::try_from(s).unwrap())
}

fn uid_set() -> impl Strategy<Value = UidSet> {
    vec(
        (small_nz(), small_nz()).prop_map(|(first, last)| UidRange { first, last }),
        1..4,
    )
    .prop_map(|r| UidSet::try_new(r).unwrap())
}

fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    let num =
        prop_oneof![4 => small_nz().prop_map(SeqNumber::Value), 1 => Just(SeqNumber::Largest)];
    let item = prop_oneof![
        num.clone().prop_map(SeqItem::Single),
        (num.clone(), num).prop_map(|(a, b)| SeqItem::Range(a, b)),
    ];
    vec(item, 1..4).prop_map(|v| SequenceSet::try_new(v).unwrap())
}

fn code() -> impl Strategy<Value = Code<'static>> {
    prop_oneof![
        proptest::sample::select(SimpleCode::ALL).prop_map(Code::Simple),
        vec(
            proptest::sample::select(&["UTF-8", "US-ASCII", "ISO-8859-1", "a b"][..]),
            0..3
        )
        .prop_map(|v| Code::BadCharset(
            v.into_iter()
                .map(|s| Charset::try_from(s).unwrap())
                .collect()
        )),
        vec(capability(), 1..5).prop_map(Code::Capability),
        vec(
            prop_oneof![flag().prop_map(FlagPerm::Flag), Just(FlagPerm::Asterisk)],
            0..5
        )
        .prop_map(Code::PermanentFlags),
        nz().prop_map(Code::UidNext),
        nz().prop_map(Code::UidValidity),
        nz().prop_map(Code::Unseen),
        (nz(), uid_set()).prop_map(|(uid_validity, uids)| Code::AppendUid { uid_validity, uids }),
        (nz(), uid_set(), uid_set()).prop_map(|(uid_validity, source, destination)| {
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            }
        }),
        modseq().prop_map(Code::HighestModSeq),
        object_id().prop_map(Code::MailboxId),
        sequence_set().prop_map(Code::Modified),
        prop_oneof![
            any::<u32>().prop_map(MetadataCode::LongEntries),
            any::<u32>().prop_map(MetadataCode::MaxSize),
            Just(MetadataCode::TooMany),
            Just(MetadataCode::NoPrivate),
        ]
        .prop_map(Code::Metadata),
        (
            "X-[A-Z]{1,6}",
            option::of("[A-Za-z0-9 =:\"/.]{0,12}[A-Za-z0-9]")
        )
            .prop_map(|(n, a)| {
                Code::Other(
                    OtherCode::try_new(Atom::try_from(n).unwrap(), a.map(Into::into)).unwrap(),
                )
            }),
    ]
}

fn resp_text() -> impl Strategy<Value = RespText<'static>> {
    (option::of(code()), text()).prop_map(|(code, text)| RespText { code, text })
}

fn status() -> impl Strategy<Value = Status<'static>> {
    let kind = prop_oneof![
        Just(StatusKind::Ok),
        Just(StatusKind::No),
        Just(StatusKind::Bad)
    ];
    prop_oneof![
        (tag(), kind.clone(), resp_text()).prop_map(|(tag, kind, text)| Status::Tagged {
            tag,
            kind,
            text
        }),
        (kind, resp_text()).prop_map(|(kind, text)| Status::Untagged { kind, text }),
        resp_text().prop_map(Status::Bye),
        resp_text().prop_map(Status::PreAuth),
    ]
}

fn continuation() -> impl Strategy<Value = Continue<'static>> {
    prop_oneof![
        resp_text().prop_filter_map("base64-like text", |t| Continue::text(t).ok()),
        vec(any::<u8>(), 0..40).prop_map(Continue::base64),
    ]
}

fn address() -> impl Strategy<Value = Address<'static>> {
    (nstring(), nstring(), nstring(), nstring()).prop_map(|(name, adl, mailbox, host)| Address {
        name,
        adl,
        mailbox,
        host,
    })
}

fn envelope() -> impl Strategy<Value = Envelope<'static>> {
    let addrs = || vec(address(), 0..3);
    (
        (nstring(), nstring(), addrs(), addrs(), addrs()),
        (addrs(), addrs(), addrs(), nstring(), nstring()),
    )
        .prop_map(
            |((date, subject, from, sender, reply_to), (to, cc, bcc, in_reply_to, message_id))| {
                Envelope {
                    date,
                    subject,
                    from,
                    sender,
                    reply_to,
                    to,
                    cc,
                    bcc,
                    in_reply_to,
                    message_id,
                }
            },
        )
}

fn params() -> impl Strategy<Value = Vec<(IString<'static>, IString<'static>)>> {
    vec((istring(), istring()), 0..3)
}

fn body_fields() -> impl Strategy<Value = BodyFields<'static>> {
    (params(), nstring(), nstring(), istring(), any::<u32>()).prop_map(
        |(params, id, description, encoding, octets)| BodyFields {
            params,
            id,
            description,
            encoding,
            octets,
        },
    )
}

fn body_extension() -> impl Strategy<Value = BodyExtension<'static>> {
    let leaf = prop_oneof![
        nstring().prop_map(BodyExtension::String),
        n64().prop_map(BodyExtension::Number)
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        vec(inner, 1..3).prop_map(|v| BodyExtension::List(NonEmpty::try_new(v).unwrap()))
    })
}

fn extension_tail() -> impl Strategy<Value = ExtensionTail<'static>> {
    let disposition =
        option::of((istring(), params()).prop_map(|(kind, params)| Disposition { kind, params }));
    let language = prop_oneof![
        nstring().prop_map(Language::Single),
        vec(istring(), 1..3).prop_map(|v| Language::List(NonEmpty::try_new(v).unwrap())),
    ];
    let location = option::of((nstring(), vec(body_extension(), 0..3)).prop_map(
        |(location, extensions)| LocationTail {
            location,
            extensions,
        },
    ));
    (
        disposition,
        option::of(
            (language, location)
                .prop_map(|(language, location)| LanguageTail { language, location }),
        ),
    )
        .prop_map(|(disposition, language)| ExtensionTail {
            disposition,
            language,
        })
}

fn body_structure() -> impl Strategy<Value = BodyStructure<'static>> {
    let basic = (istring(), istring(), body_fields()).prop_filter_map(
        "text or message type",
        |(t, s, fields)| {
            BasicType::try_new(t, s).ok().map(|b| SinglePart {
                kind: SinglePartKind::Basic(b),
                fields,
            })
        },
    );
    let text_part =
        (istring(), any::<u32>(), body_fields()).prop_map(|(subtype, lines, fields)| SinglePart {
            kind: SinglePartKind::Text { subtype, lines },
            fields,
        });
    let single_ext = option::of(
        (nstring(), option::of(extension_tail()))
            .prop_map(|(md5, tail)| SinglePartExtension { md5, tail }),
    );
    let leaf = (prop_oneof![basic, text_part], single_ext)
        .prop_map(|(part, extension)| BodyStructure::Single { part, extension });
    leaf.prop_recursive(3, 8, 2, |inner| {
        let multi_ext = option::of(
            (params(), option::of(extension_tail()))
                .prop_map(|(params, tail)| MultiPartExtension { params, tail }),
        );
        prop_oneof![
            (vec(inner.clone(), 1..3), istring(), multi_ext).prop_map(
                |(parts, subtype, extension)| {
                    BodyStructure::Multi {
                        parts: NonEmpty::try_new(parts).unwrap(),
                        subtype,
                        extension,
                    }
                }
            ),
            (
                any::<bool>(),
                envelope(),
                inner,
                any::<u32>(),
                body_fields()
            )
                .prop_map(|(global, envelope, body, lines, fields)| {
                    BodyStructure::Single {
                        part: SinglePart {
                            kind: SinglePartKind::Message {
                                global,
                                envelope: Box::new(envelope),
                                body: Box::new(body),
                                lines,
                            },
                            fields,
                        },
                        extension: None,
                    }
                }),
        ]
    })
}

fn section() -> impl Strategy<Value = Section<'static>> {
    let part = vec(small_nz(), 0..3);
    let fields = || vec(astring(), 1..3).prop_map(|v| NonEmpty::try_new(v).unwrap());
    let text = option::of(prop_oneof![
        Just(SectionText::Header),
        Just(SectionText::Text),
        Just(SectionText::Mime),
        fields().prop_map(SectionText::HeaderFields),
        fields().prop_map(SectionText::HeaderFieldsNot),
    ]);
    (part, text).prop_map(|(part, text)| {
        let text = if part.is_empty() && text == Some(SectionText::Mime) {
            None
        } else {
            text
        };
        Section { part, text }
    })
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (
        1900u16..2100,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
        -720i16..=720,
    )
        .prop_map(|(y, mo, d, h, mi, s, z)| {
            DateTime::try_new(Date::try_new(y, mo, d).unwrap(), h, mi, s, z).unwrap()
        })
}

fn fetch_item() -> impl Strategy<Value = FetchItem<'static>> {
    prop_oneof![
        vec(
            prop_oneof![flag().prop_map(FlagFetch::Flag), Just(FlagFetch::Recent)],
            0..4
        )
        .prop_map(FetchItem::Flags),
        date_time().prop_map(FetchItem::InternalDate),
        n64().prop_map(FetchItem::Rfc822Size),
        envelope().prop_map(|e| FetchItem::Envelope(Box::new(e))),
        body_structure().prop_map(|b| FetchItem::BodyStructure(Box::new(b))),
        body_structure().prop_map(|b| FetchItem::Body(Box::new(b))),
        (section(), option::of(any::<u32>()), nstring()).prop_map(|(section, origin, data)| {
            FetchItem::BodySection {
                section,
                origin,
                data,
            }
        }),
        (vec(small_nz(), 0..3), option::of(vec(any::<u8>(), 0..20))).prop_map(|(section, data)| {
            FetchItem::Binary {
                section,
                data: data.map(|d| Literal8::try_from(d).unwrap()),
            }
        }),
        (vec(small_nz(), 0..3), any::<u32>())
            .prop_map(|(section, size)| FetchItem::BinarySize { section, size }),
        nz().prop_map(FetchItem::Uid),
        modseq().prop_map(FetchItem::ModSeq),
        option::of(date_time()).prop_map(FetchItem::SaveDate),
        nstring().prop_map(FetchItem::Rfc822),
        nstring().prop_map(FetchItem::Rfc822Header),
        nstring().prop_map(FetchItem::Rfc822Text),
        nstring().prop_map(FetchItem::Preview),
        object_id().prop_map(FetchItem::EmailId),
        option::of(object_id()).prop_map(FetchItem::ThreadId),
        n64().prop_map(FetchItem::GmailMessageId),
        n64().prop_map(FetchItem::GmailThreadId),
        vec(
            prop_oneof![
                atom().prop_map(GmailLabel::System),
                astring().prop_map(GmailLabel::Name)
            ],
            0..3
        )
        .prop_map(FetchItem::GmailLabels),
    ]
}

fn thread() -> impl Strategy<Value = Thread> {
    vec(small_nz(), 1..4)
        .prop_map(|m| Thread::try_new(m, vec![]).unwrap())
        .prop_recursive(3, 12, 3, |inner| {
            (vec(small_nz(), 0..3), vec(inner, 2..4))
                .prop_map(|(m, c)| Thread::try_new(m, c).unwrap())
        })
}

fn delimiter() -> impl Strategy<Value = Option<char>> {
    option::of(prop_oneof![
        Just('/'),
        Just('.'),
        Just('\\'),
        Just('"'),
        any::<char>()
    ])
    .prop_filter("control", |c| !matches!(c, Some('\r' | '\n' | '\0')))
}

fn list_item() -> impl Strategy<Value = ListItem<'static>> {
    let attr = atom().prop_map(MailboxAttribute::from_name);
    let ext = prop_oneof![
        vec(astring(), 1..3)
            .prop_map(|v| ListExtendedItem::ChildInfo(NonEmpty::try_new(v).unwrap())),
        mailbox().prop_map(ListExtendedItem::OldName),
        ("X-[A-Z]{1,5}", n64()).prop_map(|(t, n)| ListExtendedItem::Other {
            tag: AString::try_from(t).unwrap(),
            value: TaggedExtValue::Number(n)
        }),
    ];
    (vec(attr, 0..4), delimiter(), mailbox(), vec(ext, 0..3)).prop_map(
        |(attributes, delimiter, mailbox, extended)| ListItem {
            attributes,
            delimiter,
            mailbox,
            extended,
        },
    )
}

fn namespace() -> impl Strategy<Value = Namespace<'static>> {
    let descr = (
        istring(),
        delimiter(),
        vec((istring(), vec(istring(), 1..3)), 0..2),
    )
        .prop_map(|(prefix, delimiter, ext)| NamespaceDescription {
            prefix,
            delimiter,
            extensions: ext
                .into_iter()
                .map(|(k, v)| (k, NonEmpty::try_new(v).unwrap()))
                .collect(),
        });
    option::of(vec(descr, 1..3).prop_map(|v| NonEmpty::try_new(v).unwrap()))
}

fn data() -> impl Strategy<Value = Data<'static>> {
    prop_oneof![
        vec(capability(), 1..6).prop_map(Data::Capability),
        vec(capability(), 0..4).prop_map(Data::Enabled),
        vec(flag(), 0..5).prop_map(Data::Flags),
        list_item().prop_map(Data::List),
        list_item().prop_map(Data::Lsub),
        (
            mailbox(),
            vec(
                prop_oneof![
                    any::<u32>().prop_map(StatusItem::Messages),
                    nz().prop_map(StatusItem::UidNext),
                    nz().prop_map(StatusItem::UidValidity),
                    any::<u32>().prop_map(StatusItem::Unseen),
                    any::<u32>().prop_map(StatusItem::Deleted),
                    n64().prop_map(StatusItem::Size),
                    any::<u32>().prop_map(StatusItem::Recent),
                    n64().prop_map(StatusItem::HighestModSeq),
                    option::of(n64()).prop_map(StatusItem::AppendLimit),
                    n64().prop_map(StatusItem::DeletedStorage),
                    object_id().prop_map(StatusItem::MailboxId),
                ],
                0..5
            )
        )
            .prop_map(|(mailbox, items)| Data::Status { mailbox, items }),
        (vec(nz(), 0..8), option::of(modseq()))
            .prop_map(|(numbers, mod_seq)| Data::Search { numbers, mod_seq }),
        (vec(nz(), 0..8), option::of(modseq()))
            .prop_map(|(numbers, mod_seq)| Data::Sort { numbers, mod_seq }),
        (
            option::of(istring()),
            any::<bool>(),
            vec(
                prop_oneof![
                    nz().prop_map(SearchReturnData::Min),
                    nz().prop_map(SearchReturnData::Max),
                    sequence_set().prop_map(SearchReturnData::All),
                    any::<u32>().prop_map(SearchReturnData::Count),
                    modseq().prop_map(SearchReturnData::ModSeq),
                    (partial_range(), option::of(sequence_set()))
                        .prop_map(|(range, results)| SearchReturnData::Partial { range, results }),
                    vec(1u8..=100, 1..4)
                        .prop_map(|v| SearchReturnData::Relevancy(NonEmpty::try_new(v).unwrap())),
                ],
                0..4
            )
        )
            .prop_map(|(tag, uid, data)| Data::ESearch(ESearch { tag, uid, data })),
        vec(thread(), 0..4).prop_map(Data::Thread),
        any::<u32>().prop_map(Data::Exists),
        any::<u32>().prop_map(Data::Recent),
        nz().prop_map(Data::Expunge),
        (any::<bool>(), uid_set()).prop_map(|(earlier, uids)| Data::Vanished { earlier, uids }),
        (nz(), vec(fetch_item(), 1..5))
            .prop_map(|(seq, items)| Data::Fetch(MessageData { seq, items })),
        (nz(), vec(fetch_item(), 1..5))
            .prop_map(|(seq, items)| Data::UidFetch(MessageData { seq, items })),
        option::of(vec((istring(), nstring()), 0..3)).prop_map(|p| Data::Id(IdParams(p))),
        (namespace(), namespace(), namespace()).prop_map(|(personal, other, shared)| {
            Data::Namespace(Namespaces {
                personal,
                other,
                shared,
            })
        }),
        (astring(), vec((atom(), n64(), n64()), 1..3)).prop_map(|(root, r)| Data::Quota {
            root,
            resources: r
                .into_iter()
                .map(|(name, usage, limit)| QuotaResource { name, usage, limit })
                .collect()
        }),
        (mailbox(), vec(astring(), 0..3))
            .prop_map(|(mailbox, roots)| Data::QuotaRoot { mailbox, roots }),
        (
            mailbox(),
            prop_oneof![
                vec(
                    (
                        astring(),
                        prop_oneof![
                            Just(MetadataEntry::Nil),
                            istring().prop_map(MetadataEntry::String),
                            vec(any::<u8>(), 0..10).prop_map(|d| MetadataEntry::Binary(
                                Literal8::try_from(d).unwrap()
                            )),
                        ]
                    ),
                    1..3
                )
                .prop_map(|v| MetadataEntries::Values(NonEmpty::try_new(v).unwrap())),
                vec(astring(), 1..3)
                    .prop_map(|v| MetadataEntries::Changed(NonEmpty::try_new(v).unwrap())),
            ]
        )
            .prop_map(|(mailbox, entries)| Data::Metadata { mailbox, entries }),
        acl_data(),
    ]
}

/// ACL (RFC 4314) and LANGUAGE / COMPARATOR (RFC 5255) data.
fn acl_data() -> BoxedStrategy<Data<'static>> {
    prop_oneof![
        (mailbox(), vec((astring(), astring()), 0..3))
            .prop_map(|(mailbox, entries)| Data::Acl { mailbox, entries }),
        (mailbox(), astring(), astring(), vec(astring(), 0..3)).prop_map(
            |(mailbox, identifier, required, optional)| Data::ListRights {
                mailbox,
                identifier,
                required,
                optional,
            }
        ),
        (mailbox(), astring()).prop_map(|(mailbox, rights)| Data::MyRights { mailbox, rights }),
        vec(astring(), 1..4).prop_map(|v| Data::Language(NonEmpty::try_new(v).unwrap())),
        (astring(), vec(astring(), 0..3))
            .prop_map(|(selected, matching)| Data::Comparator { selected, matching }),
    ]
    .boxed()
}

fn response() -> impl Strategy<Value = Response<'static>> {
    prop_oneof![
        1 => status().prop_map(Response::Status),
        1 => continuation().prop_map(Response::Continue),
        4 => data().prop_map(Response::Data),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn greeting_encode_parse(kind in prop_oneof![Just(GreetingKind::Ok), Just(GreetingKind::PreAuth), Just(GreetingKind::Bye)], text in resp_text()) {
        let g = Greeting { kind, text };
        let wire = g.to_vec();
        let (back, used) = parse_greeting(&wire, &ParserConfig::strict()).unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(back, g);
    }

    #[test]
    fn mutated_corpus_round_trips(index in any::<proptest::sample::Index>(), edits in vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..4)) {
        let corpus: Vec<&str> = include_str!("response_data/rfc-examples.txt")
            .lines()
            .filter_map(|l| l.strip_prefix("S: "))
            .filter(|l| !l.ends_with('}') && !l.starts_with(')'))
            .collect();
        let mut msg = corpus[index.index(corpus.len())].as_bytes().to_vec();
        for (at, byte, op) in edits {
            let pos = at.index(msg.len() + 1);
            match op {
                0 => msg.insert(pos, byte),
                1 if pos < msg.len() => { msg.remove(pos); }
                _ if pos < msg.len() => msg[pos] = byte,
                _ => {}
            }
        }
        msg.extend_from_slice(b"\r\n");
        for cfg in [ParserConfig::strict(), ParserConfig::lenient()] {
            if let Ok((r, _)) = parse_response(&msg, &cfg) {
                let wire = r.to_vec();
                let (back, used) = parse_response(&wire, &cfg).unwrap();
                prop_assert_eq!(used, wire.len());
                prop_assert_eq!(back, r);
            }
        }
    }
}

/// Any response value encodes to a message that parses back to it, in strict and
/// lenient mode. Runs on a thread with a large stack: generating deeply nested
/// BODYSTRUCTURE values recurses deeply in unoptimised builds.
#[test]
fn value_encode_parse() {
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 256,
            ..ProptestConfig::default()
        });
        runner
            .run(&response(), |r| {
                let wire = r.to_vec();
                for cfg in [ParserConfig::strict(), ParserConfig::lenient()] {
                    let parsed = parse_response(&wire, &cfg);
                    prop_assert!(
                        parsed.is_ok(),
                        "{:?} -> {:?}: {:?}",
                        r,
                        String::from_utf8_lossy(&wire),
                        parsed
                    );
                    let (back, used) = parsed.unwrap();
                    prop_assert_eq!(used, wire.len());
                    prop_assert_eq!(&back, &r, "wire {:?}", String::from_utf8_lossy(&wire));
                }
                Ok(())
            })
            .unwrap();
    };
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}
