//! One test per server quirk listed in `mailgate_imap::response::quirks`: strict mode
//! rejects the input, lenient mode reads it as documented, and the value encodes to
//! a response that strict mode reads back as the same value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_imap::response::{
    BodyStructure, Code, Data, FetchItem, Response, SinglePartKind, Status, StatusKind, Thread,
    parse_greeting, parse_response,
};
use mailgate_imap::{Encode, ParserConfig};

/// Lenient parse of a quirky response, checked: strict mode rejects the input (or,
/// for bracketed codes, reads it as plain text, a different value), and the value
/// survives encode -> parse in strict mode.
fn lenient(input: &[u8]) -> Response<'_> {
    quirk(input, true)
}

/// Like [`lenient`] for values only lenient mode can express: the round trip is
/// checked in lenient mode.
fn lenient_only(input: &[u8]) -> Response<'_> {
    quirk(input, false)
}

fn quirk(input: &[u8], strict_round_trip: bool) -> Response<'_> {
    let show = String::from_utf8_lossy(input);
    let (r, used) = parse_response(input, &ParserConfig::lenient())
        .unwrap_or_else(|e| panic!("lenient mode rejected {show:?}: {e}"));
    assert_eq!(used, input.len(), "{show:?}");
    if let Ok((s, n)) = parse_response(input, &ParserConfig::strict()) {
        assert!(
            n != input.len() || s != r,
            "strict mode gave the same value for {show:?}"
        );
    }
    let cfg = if strict_round_trip {
        ParserConfig::strict()
    } else {
        ParserConfig::lenient()
    };
    let wire = r.to_vec();
    let (again, _) = parse_response(&wire, &cfg).unwrap_or_else(|e| {
        panic!(
            "canonical form {:?} of {show:?} rejected: {e}",
            String::from_utf8_lossy(&wire)
        )
    });
    assert_eq!(again, r, "{show:?}");
    r.clone_owned_for_test()
}

trait OwnedForTest {
    fn clone_owned_for_test(&self) -> Response<'static>;
}

impl OwnedForTest for Response<'_> {
    fn clone_owned_for_test(&self) -> Response<'static> {
        // Leak the canonical bytes so the parsed value can outlive the input in tests.
        let wire: &'static [u8] = Box::leak(self.to_vec().into_boxed_slice());
        parse_response(wire, &ParserConfig::lenient()).unwrap().0
    }
}

fn text_of(r: &Response<'_>) -> String {
    match r {
        Response::Status(
            Status::Tagged { text, .. } | Status::Untagged { text, .. } | Status::Bye(text),
        ) => text.text.as_str().to_owned(),
        other => panic!("not a status: {other:?}"),
    }
}

fn fetch_items(r: Response<'static>) -> Vec<FetchItem<'static>> {
    match r {
        Response::Data(Data::Fetch(m)) => m.items,
        other => panic!("not a FETCH: {other:?}"),
    }
}

fn body_of(r: Response<'static>) -> BodyStructure<'static> {
    match fetch_items(r).into_iter().next() {
        Some(FetchItem::BodyStructure(b) | FetchItem::Body(b)) => *b,
        other => panic!("no body: {other:?}"),
    }
}

#[test]
fn code_without_text() {
    let r = lenient(b"* OK [UIDNEXT 4392]\r\n");
    assert_eq!(r.to_vec(), b"* OK [UIDNEXT 4392] \r\n");
    assert_eq!(text_of(&r), "");
}

#[test]
fn keyword_without_text() {
    for input in [&b"* OK\r\n"[..], b"* BYE\r\n", b"a1 OK\r\n", b"a1 no\r\n"] {
        assert_eq!(text_of(&lenient(input)), "");
    }
    let (g, _) = parse_greeting(b"* OK\r\n", &ParserConfig::lenient()).unwrap();
    assert!(g.text.text.is_empty());
    assert!(parse_greeting(b"* OK\r\n", &ParserConfig::strict()).is_err());
}

#[test]
fn no_space_before_code() {
    let r = lenient(b"* OK[ALERT] Go away\r\n");
    assert_eq!(r.to_vec(), b"* OK [ALERT] Go away\r\n");
}

#[test]
fn bare_plus_continuation() {
    let r = lenient(b"+\r\n");
    match r {
        Response::Continue(c) => assert_eq!(c.as_base64(), Some(&b""[..])),
        other => panic!("{other:?}"),
    }
}

#[test]
fn outlook_code_arguments_glued_to_name() {
    let input = b"RUBY0001 OK [Error=\"Microsoft.Exchange.Data.Storage.WrongServerException:Cross Server access is not allowed\" AuthResultFromPopImapEnd=0 Proxy=X.PROD.OUTLOOK.COM:1993:SSL Service=Imap4] AUTHENTICATE completed.\r\n";
    let r = lenient(input);
    let Response::Status(s) = &r else { panic!() };
    let Some(Code::Other(o)) = s.code() else {
        panic!("{r:?}")
    };
    assert_eq!(o.name(), "Error=");
    assert!(o.args().unwrap().starts_with("\"Microsoft.Exchange"));
    assert_eq!(text_of(&r), "AUTHENTICATE completed.");
    // Strict mode keeps the whole thing as text rather than failing.
    let (s, _) = parse_response(input, &ParserConfig::strict()).unwrap();
    assert!(text_of(&s).starts_with("[Error="));
}

#[test]
fn latin1_text() {
    let r = lenient(b"* OK Willkommen \xfc\r\n");
    assert_eq!(text_of(&r), "Willkommen \u{fffd}");
}

#[test]
fn spaces_before_closing_parenthesis() {
    let items = fetch_items(lenient(b"* 11487 FETCH (UID 19436 )\r\n"));
    assert_eq!(items.len(), 1);
    let items = fetch_items(lenient(b"* 1 FETCH (FLAGS (\\Seen )  UID 3)\r\n"));
    assert_eq!(items.len(), 2);
}

#[test]
fn empty_lists_for_one_or_more() {
    let items = fetch_items(lenient(
        b"* 1 FETCH (ENVELOPE (NIL \"s\" () NIL NIL NIL NIL NIL NIL NIL))\r\n",
    ));
    let FetchItem::Envelope(e) = &items[0] else {
        panic!()
    };
    assert!(e.from.is_empty());
    let b = body_of(lenient(
        b"* 1 FETCH (BODY (\"APPLICATION\" \"PDF\" () NIL NIL \"BASE64\" 10))\r\n",
    ));
    let BodyStructure::Single { part, .. } = b else {
        panic!()
    };
    assert!(part.fields.params.is_empty());
    let r = lenient(b"* NAMESPACE () NIL NIL\r\n");
    assert_eq!(r.to_vec(), b"* NAMESPACE NIL NIL NIL\r\n");
    let r = lenient(b"a NO [BADCHARSET ()] no\r\n");
    assert_eq!(r.to_vec(), b"a NO [BADCHARSET] no\r\n");
}

#[test]
fn spaces_between_concatenated_items() {
    let b = body_of(lenient(
        b"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1) (\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 2 1) \"ALTERNATIVE\"))\r\n",
    ));
    let BodyStructure::Multi { parts, .. } = b else {
        panic!()
    };
    assert_eq!(parts.len(), 2);
    let items = fetch_items(lenient(
        b"* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\" \"b\") (NIL NIL \"c\" \"d\")) NIL NIL NIL NIL NIL NIL NIL))\r\n",
    ));
    let FetchItem::Envelope(e) = &items[0] else {
        panic!()
    };
    assert_eq!(e.from.len(), 2);
    let r = lenient(b"* THREAD (1) (2)\r\n");
    let Response::Data(Data::Thread(t)) = r else {
        panic!()
    };
    assert_eq!(t.len(), 2);
}

#[test]
fn nil_parameter_value() {
    // Mail.ru and Exchange 2010.
    let b = body_of(lenient(
        b"* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 536 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 7130 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" NIL)))\r\n",
    ));
    let BodyStructure::Multi {
        extension: Some(ext),
        ..
    } = b
    else {
        panic!()
    };
    assert_eq!(ext.params[0].1.as_bytes(), b"");
}

#[test]
fn nil_encoding() {
    let b = body_of(lenient(
        b"* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL NIL 10 1))\r\n",
    ));
    let BodyStructure::Single { part, .. } = b else {
        panic!()
    };
    assert_eq!(part.fields.encoding.as_bytes(), b"");
}

#[test]
fn negative_sizes() {
    // Dovecot.
    let b = body_of(lenient(
        b"* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" -1 -1))\r\n",
    ));
    let BodyStructure::Single { part, .. } = b else {
        panic!()
    };
    assert_eq!(part.fields.octets, 0);
    assert!(matches!(part.kind, SinglePartKind::Text { lines: 0, .. }));
}

#[test]
fn disposition_as_bare_string() {
    // Exchange / Office 365 (MailKit #919).
    let b = body_of(lenient(
        b"* 37 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 850 31 NIL \"inline\" NIL NIL)(\"text\" \"html\" (\"charset\" \"ISO-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 14692 502 NIL \"inline\" NIL NIL) \"alternative\" (\"boundary\" \"x\") NIL NIL))\r\n",
    ));
    let BodyStructure::Multi { parts, .. } = b else {
        panic!()
    };
    let BodyStructure::Single {
        extension: Some(ext),
        ..
    } = &parts[0]
    else {
        panic!()
    };
    let d = ext.tail.as_ref().unwrap().disposition.as_ref().unwrap();
    assert_eq!(d.kind.as_bytes(), b"inline");
    // Exchange 2016 on a multipart (javamail #278).
    let b = body_of(lenient(
        b"* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 0 NIL (\"inline\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"b\") \"S/MIME Encrypted Message\" NIL))\r\n",
    ));
    assert!(matches!(b, BodyStructure::Multi { .. }));
}

#[test]
fn message_part_without_envelope() {
    let b = body_of(lenient_only(
        b"* 1 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 903))\r\n",
    ));
    let BodyStructure::Single { part, .. } = b else {
        panic!()
    };
    assert!(matches!(part.kind, SinglePartKind::Basic(_)));
}

#[test]
fn backslash_not_escaping_in_quoted_string() {
    let items = fetch_items(lenient(
        b"* 1 FETCH (ENVELOPE (NIL \"C:\\Temp\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
    ));
    let FetchItem::Envelope(e) = &items[0] else {
        panic!()
    };
    assert_eq!(e.subject.0.as_ref().unwrap().as_bytes(), b"C:\\Temp");
}

#[test]
fn unquoted_mailbox_with_backslash() {
    let r = lenient(b"* LIST (\\HasNoChildren) \"/\" Foo\\Bar\r\n");
    let Response::Data(Data::List(item)) = &r else {
        panic!()
    };
    assert_eq!(item.mailbox.as_bytes(), b"Foo\\Bar");
    assert_eq!(
        r.to_vec(),
        b"* LIST (\\HasNoChildren) \"/\" \"Foo\\\\Bar\"\r\n"
    );
}

#[test]
fn capability_without_capabilities() {
    let r = lenient_only(b"* CAPABILITY\r\n");
    assert_eq!(r, Response::Data(Data::Capability(Vec::new())));
}

#[test]
fn trailing_spaces_in_lists() {
    let r = lenient(b"* SEARCH 1 2 \r\n");
    assert_eq!(r.to_vec(), b"* SEARCH 1 2\r\n");
    let r = lenient(b"* SEARCH \r\n");
    assert_eq!(r.to_vec(), b"* SEARCH\r\n");
    let r = lenient(b"* CAPABILITY IMAP4rev1 IDLE \r\n");
    assert_eq!(r.to_vec(), b"* CAPABILITY IMAP4rev1 IDLE\r\n");
    let r = lenient(b"a OK [CAPABILITY IMAP4rev1 IDLE ] done\r\n");
    assert_eq!(r.to_vec(), b"a OK [CAPABILITY IMAP4rev1 IDLE] done\r\n");
}

#[test]
fn single_sub_thread() {
    let r = lenient(b"* THREAD (1 (2))\r\n");
    let Response::Data(Data::Thread(t)) = &r else {
        panic!()
    };
    let two = std::num::NonZeroU32::new(2).unwrap();
    let one = std::num::NonZeroU32::new(1).unwrap();
    assert_eq!(t[0], Thread::try_new(vec![one, two], vec![]).unwrap());
}

#[test]
fn lower_case_keywords_are_valid_everywhere() {
    // Keywords are case-insensitive by the grammar: no quirk needed.
    for input in [
        &b"* ok [uidnext 5] x\r\n"[..],
        b"* search 1\r\n",
        b"* 3 exists\r\n",
        b"a1 bad x\r\n",
    ] {
        let (r, _) = parse_response(input, &ParserConfig::strict()).unwrap();
        if let Response::Status(Status::Tagged { kind, .. }) = r {
            assert_eq!(kind, StatusKind::Bad);
        }
    }
}

#[test]
fn nil_envelope_and_line_count_of_encapsulated_messages() {
    let r = lenient(
        b"* 1 FETCH (BODYSTRUCTURE (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 900 NIL ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 NIL NIL NIL NIL NIL) \"MIXED\" NIL NIL NIL NIL) NIL NIL NIL NIL NIL))\r\n",
    );
    let BodyStructure::Single { part, .. } = body_of(r) else {
        panic!("not a single part");
    };
    let SinglePartKind::Message {
        envelope,
        body,
        lines,
        ..
    } = part.kind
    else {
        panic!("not a message part");
    };
    assert_eq!(lines, 0);
    assert_eq!(*envelope, Default::default());
    let BodyStructure::Multi { parts, .. } = *body else {
        panic!("not a multipart");
    };
    assert!(matches!(
        &parts[0],
        BodyStructure::Single {
            part: mailgate_imap::response::SinglePart {
                kind: SinglePartKind::Text { lines: 0, .. },
                ..
            },
            ..
        }
    ));
}

#[test]
fn zero_mod_sequences() {
    for input in [
        &b"* 1 FETCH (MODSEQ (0))\r\n"[..],
        b"* SEARCH 2 (MODSEQ 0)\r\n",
        b"* ESEARCH MODSEQ 0\r\n",
        b"* OK [HIGHESTMODSEQ 0] x\r\n",
    ] {
        lenient_only(input);
        assert!(parse_response(input, &ParserConfig::strict()).is_err());
    }
    assert!(matches!(
        fetch_items(lenient_only(b"* 1 FETCH (MODSEQ (0))\r\n"))[..],
        [FetchItem::ModSeq(0)]
    ));
}
