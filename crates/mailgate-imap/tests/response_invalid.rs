//! Responses that must be rejected: one row per input, with the reason and, where it
//! matters, where it was found.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_imap::response::{parse_greeting, parse_response};
use mailgate_imap::{Encode, ParseErrorKind, ParserConfig};

/// Rejected in strict mode; `lenient` says whether lenient mode rejects it too.
const INVALID: &[(&[u8], bool, &str)] = &[
    (b"", true, "empty input"),
    (b"\r\n", true, "empty line"),
    (b"*\r\n", true, "star alone"),
    (b"* \r\n", true, "no keyword"),
    (b"* OK hello", true, "no line end"),
    (b"* OK hello\n", false, "bare LF"),
    (b"* OK hello\r", true, "CR without LF"),
    (b"* OK he\0llo\r\n", true, "NUL in text"),
    (b"* OK he\rllo\r\n", true, "CR inside text"),
    (b"* OK\r\n", false, "no SP after OK"),
    (b"* OK [ALERT]\r\n", false, "no SP after code"),
    (b"* OK[ALERT] x\r\n", false, "no SP before code"),
    (b"a+b OK done\r\n", true, "'+' in tag"),
    (b"a{ OK done\r\n", true, "'{' in tag"),
    (b"a1 BYE logging out\r\n", true, "tagged BYE"),
    (b"a1 PREAUTH x\r\n", true, "tagged PREAUTH"),
    (b"a1 FOO x\r\n", true, "unknown status"),
    (b"* FOO bar\r\n", true, "unknown response"),
    (b"* 0 EXPUNGE\r\n", true, "zero message number"),
    (b"* 0 FETCH (UID 1)\r\n", true, "zero message number in FETCH"),
    (b"* 4294967296 EXISTS\r\n", true, "number too large"),
    (b"* -1 EXISTS\r\n", true, "negative number"),
    (b"* 1 FOO\r\n", true, "unknown message data"),
    (b"* 1 FETCH ()\r\n", true, "empty FETCH"),
    (b"* 1 FETCH (UID 0)\r\n", true, "zero UID"),
    (b"* 1 FETCH (UID 5\r\n", true, "unbalanced parenthesis"),
    (b"* 1 FETCH (UID 5))\r\n", true, "extra parenthesis"),
    (b"* 1 FETCH (UID 5 )\r\n", false, "space before ')'"),
    (b"* 1 FETCH (FOO 5)\r\n", true, "unknown FETCH item"),
    (b"* 1 FETCH (BODY[HEADER] {5}\r\nabc)\r\n", true, "literal shorter than announced"),
    (b"* 1 FETCH (BODY[HEADER] {3}\r\na\0c)\r\n", true, "NUL in literal"),
    (b"* 1 FETCH (BODY[HEADER] {3-}\r\nabc)\r\n", true, "{n-} is no literal"),
    (b"* 1 FETCH (BODY[HEADER] \"a\\b\")\r\n", false, "bad escape in quoted string"),
    (b"* 1 FETCH (BODY[0] NIL)\r\n", true, "part number zero"),
    (b"* 1 FETCH (BODY[MIME] NIL)\r\n", true, "MIME without part"),
    (b"* 1 FETCH (INTERNALDATE \"31-Feb-2020 00:00:00 +0000\")\r\n", true, "no such day"),
    (b"* 1 FETCH (INTERNALDATE \"01-Foo-2020 00:00:00 +0000\")\r\n", true, "bad month"),
    (b"* 1 FETCH (FLAGS (\\Seen \\*))\r\n", true, "\\* outside PERMANENTFLAGS"),
    (b"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", true, "short envelope"),
    (b"* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n", false, "empty address list"),
    (b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10))\r\n", true, "TEXT without lines"),
    (b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"a\" NIL) NIL NIL \"7BIT\" 10 1))\r\n", false, "NIL parameter value"),
    (b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL NIL 10 1))\r\n", false, "NIL encoding"),
    (b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" -1 1))\r\n", false, "negative size"),
    (b"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1) \"MIXED\"))\r\n", true, "multipart body: part then SP then subtype is fine, this has the parts"),
    (b"* 1 FETCH (BODYSTRUCTURE (\"MIXED\"))\r\n", true, "multipart without parts"),
    (b"* 1 FETCH (BODYSTRUCTURE (\"APPLICATION\" \"PDF\" NIL NIL NIL \"BASE64\" 10 NIL \"inline\" NIL NIL))\r\n", false, "disposition as bare string"),
    (b"* SEARCH 0\r\n", true, "zero in SEARCH"),
    (b"* SEARCH 1 \r\n", false, "trailing space in SEARCH"),
    (b"* SEARCH x\r\n", true, "non-number in SEARCH"),
    (b"* SEARCH 1 (MODSEQ)\r\n", true, "MODSEQ without value"),
    (b"* ESEARCH (TAG) MIN 1\r\n", true, "TAG without value"),
    (b"* ESEARCH MIN 0\r\n", true, "zero MIN"),
    // Found by fuzzing: taken as return data named UID, written back as the UID flag.
    (b"* ESEARCH  UID 4444317\r\n", true, "UID then a number"),
    (b"* ESEARCH (TAG \"a\")  UID 4444317\r\n", true, "TAG, UID then a number"),
    (b"* ESEARCH MIN 1 UID 5\r\n", true, "UID after return data"),
    (b"* THREAD (1 (2))\r\n", false, "single sub-thread"),
    (b"* THREAD ()\r\n", true, "empty thread"),
    (b"* CAPABILITY\r\n", false, "no capabilities"),
    (b"* CAPABILITY IMAP4rev1 \r\n", false, "trailing space after capabilities"),
    (b"* CAPABILITY AUTH=\r\n", true, "AUTH= without mechanism"),
    (b"* FLAGS (\\Seen\r\n", true, "unclosed FLAGS"),
    (b"* FLAGS (\\Recent)\r\n", true, "\\Recent in FLAGS"),
    (b"* LIST () \"//\" INBOX\r\n", true, "two-character delimiter"),
    (b"* LIST () \"/\"\r\n", true, "LIST without mailbox"),
    (b"* LIST (Noselect) \"/\" foo\r\n", true, "attribute without backslash"),
    (b"* LIST () \"/\" foo\\bar\r\n", false, "backslash in unquoted mailbox"),
    (b"* LIST () \"/\" foo (\"CHILDINFO\" ())\r\n", true, "empty CHILDINFO"),
    (b"* STATUS INBOX (MESSAGES)\r\n", true, "status item without value"),
    (b"* STATUS INBOX (FOO 1)\r\n", true, "unknown status item"),
    (b"* STATUS INBOX (UIDNEXT 0)\r\n", true, "zero UIDNEXT"),
    (b"* VANISHED 1:*\r\n", true, "star in VANISHED"),
    (b"* VANISHED (EARLIER)\r\n", true, "VANISHED without UIDs"),
    (b"* NAMESPACE ((\"\" \"/\")) NIL\r\n", true, "two namespaces"),
    (b"* NAMESPACE () NIL NIL\r\n", false, "empty namespace list"),
    (b"* QUOTA \"\" ()\r\n", false, "empty quota list"),
    (b"* QUOTA \"\" (STORAGE 1)\r\n", true, "quota without limit"),
    (b"* ID (\"name\")\r\n", true, "ID field without value"),
    (b"* METADATA INBOX ()\r\n", true, "empty METADATA values"),
    (b"* OK [UIDNEXT 0] x\r\n", false, "zero UIDNEXT: not a code, but text"),
    (b"a1 OK [COPYUID 1 2:*, 3] x\r\n", false, "star in COPYUID: read as text"),
    (b"+\r\n", false, "continuation without SP"),
    (b"+x\r\n", true, "continuation without SP before text"),
    (b"* 1 FETCH (MODSEQ (0))\r\n", false, "zero mod-sequence in FETCH"),
    (b"* OK [HIGHESTMODSEQ 0] x\r\n", false, "zero HIGHESTMODSEQ code"),
    (b"* SEARCH 2 (MODSEQ 0)\r\n", false, "zero mod-sequence after SEARCH"),
    (b"* ESEARCH MODSEQ 0\r\n", false, "zero mod-sequence in ESEARCH"),
    (b"* 1 FETCH (UID 07)\r\n", true, "UID with a leading zero"),
    (b"* 07 FETCH (UID 1)\r\n", true, "message number with a leading zero"),
    (b"* 07 EXPUNGE\r\n", true, "expunged message number with a leading zero"),
    (b"* 07 UIDFETCH (FLAGS ())\r\n", true, "UID with a leading zero in UIDFETCH"),
    (b"* ACL\r\n", true, "ACL without mailbox"),
    (b"* ACL INBOX Fred\r\n", true, "ACL identifier without rights"),
    (b"* LISTRIGHTS INBOX smith\r\n", true, "LISTRIGHTS without required rights"),
    (b"* MYRIGHTS INBOX\r\n", true, "MYRIGHTS without rights"),
    (b"* LANGUAGE ()\r\n", true, "empty LANGUAGE list"),
    (b"* LANGUAGE EN\r\n", true, "LANGUAGE without list"),
    (b"* COMPARATOR\r\n", true, "COMPARATOR without comparator"),
    (b"* 0 UIDFETCH (FLAGS ())\r\n", true, "zero UID in UIDFETCH"),
    (b"* 5 UIDFETCH\r\n", true, "UIDFETCH without data"),
    (b"* STATUS a (MAILBOXID (F.1))\r\n", true, "invalid objectid in STATUS"),
    (b"* STATUS a (MAILBOXID F1)\r\n", true, "MAILBOXID without parentheses"),
    (b"* STATUS a (DELETED-STORAGE)\r\n", true, "DELETED-STORAGE without value"),
    (b"* OK [MAILBOXID F1] x\r\n", false, "MAILBOXID code without parentheses read as text"),
    (b"* ESEARCH RELEVANCY (0)\r\n", true, "zero relevancy score"),
    (b"* ESEARCH RELEVANCY (101)\r\n", true, "relevancy score above 100"),
    (b"* ESEARCH PARTIAL (1:5)\r\n", true, "PARTIAL without results"),
    (b"* ESEARCH PARTIAL (0:5 NIL)\r\n", true, "zero in a partial range"),
    (b"* 1 FETCH (SAVEDATE \"x\")\r\n", true, "invalid SAVEDATE"),
    (b"* 1 FETCH (SAVEDATE)\r\n", true, "SAVEDATE without value"),
    (b"* 1 FETCH (EMAILID (M.1))\r\n", true, "invalid objectid in EMAILID"),
    (b"* 1 FETCH (THREADID ())\r\n", true, "empty THREADID"),
    (
        b"* 1 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 9 NIL (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1) 1))\r\n",
        false,
        "NIL envelope of a MESSAGE/RFC822 part",
    ),
    (
        b"* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 NIL))\r\n",
        false,
        "NIL line count",
    ),
];

#[test]
fn invalid_responses_are_rejected() {
    let strict = ParserConfig::strict();
    let lenient = ParserConfig::lenient();
    for (input, lenient_rejects, why) in INVALID {
        let show = String::from_utf8_lossy(input);
        // Rows that read as text under the grammar are valid in strict mode too.
        if why.contains("read as text") || why.contains("but text") {
            assert!(parse_response(input, &strict).is_ok(), "{why}: {show:?}");
            continue;
        }
        if why.contains("this has the parts") {
            assert!(parse_response(input, &strict).is_ok(), "{why}: {show:?}");
            continue;
        }
        let consumed_all = |r: Result<(_, usize), _>| matches!(r, Ok((_, n)) if n == input.len());
        assert!(
            !consumed_all(parse_response(input, &strict)),
            "strict accepted {why}: {show:?}"
        );
        let l = parse_response(input, &lenient);
        if *lenient_rejects {
            assert!(!consumed_all(l), "lenient accepted {why}: {show:?}");
        } else {
            assert!(consumed_all(l), "lenient rejected {why}: {show:?}");
        }
    }
}

#[test]
fn errors_say_what_and_where() {
    let strict = ParserConfig::strict();
    let e = parse_response(b"* 1 FETCH (UID 0)\r\n", &strict).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::InvalidNumber);
    assert_eq!(e.offset(), 15);
    let e = parse_response(b"* OK he\0llo\r\n", &strict).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&ParseErrorKind::Nul, 7));
    let e = parse_response(b"* OK x\n", &strict).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&ParseErrorKind::BareLf, 6));
    let e = parse_response(b"* 1 FETCH (BODY[] {9}\r\nabc)\r\n", &strict).unwrap_err();
    assert!(matches!(
        e.kind(),
        ParseErrorKind::LiteralLengthMismatch { announced: 9, .. }
    ));
}

#[test]
fn greetings_reject_other_responses() {
    let strict = ParserConfig::strict();
    for bad in [
        &b"* NO x\r\n"[..],
        b"a1 OK x\r\n",
        b"* CAPABILITY IMAP4rev1\r\n",
        b"+ x\r\n",
        b"* OK x",
    ] {
        assert!(
            parse_greeting(bad, &strict).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn nesting_is_bounded() {
    let mut cfg = ParserConfig::strict();
    cfg.max_nesting_depth = 8;
    let leaf = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)";
    let nest = |depth: usize| {
        let mut s = leaf.to_string();
        for _ in 1..depth {
            s = format!("({s} \"MIXED\")");
        }
        format!("* 1 FETCH (BODYSTRUCTURE {s})\r\n")
    };
    assert!(parse_response(nest(8).as_bytes(), &cfg).is_ok());
    let e = parse_response(nest(9).as_bytes(), &cfg).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::NestingTooDeep { limit: 8 });
    // Deep THREAD and body-extension nesting are bounded as well.
    let deep_thread = format!("* THREAD {}1{}\r\n", "((1)".repeat(40), ")".repeat(40));
    assert!(parse_response(deep_thread.as_bytes(), &cfg).is_err());
    let huge = format!("* 1 FETCH (BODYSTRUCTURE {})\r\n", "(".repeat(100_000));
    let e = parse_response(huge.as_bytes(), &ParserConfig::lenient()).unwrap_err();
    assert!(matches!(e.kind(), ParseErrorKind::NestingTooDeep { .. }));
}

#[test]
fn deep_message_parts_fit_the_stack() {
    // MESSAGE/RFC822 parts nest an envelope and a body at each level: the deepest
    // structure the lenient limit allows must parse without exhausting the stack.
    let cfg = ParserConfig::lenient();
    let env = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";
    let mut s = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)".to_string();
    for _ in 1..cfg.max_nesting_depth {
        s = format!("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 1 {env} {s} 1)");
    }
    let input = format!("* 1 FETCH (BODYSTRUCTURE {s})\r\n");
    let (r, _) = parse_response(input.as_bytes(), &cfg).unwrap();
    let wire = mailgate_imap::Encode::to_vec(&r);
    assert_eq!(parse_response(&wire, &cfg).unwrap().0, r);
}

/// Extra spaces before `UID` are a quirk like extra spaces between return data, and what
/// lenient mode reads writes back in a form both modes read the same.
#[test]
fn lenient_extra_spaces_before_the_esearch_uid_flag() {
    let lenient = ParserConfig::lenient();
    let (response, used) = parse_response(b"* ESEARCH  UID  MIN 3\r\n", &lenient).unwrap();
    assert_eq!(used, 23);
    let wire = response.to_vec();
    assert_eq!(wire, b"* ESEARCH UID MIN 3\r\n");
    for config in [ParserConfig::strict(), lenient] {
        assert_eq!(parse_response(&wire, &config).unwrap().0, response);
    }
}

/// An 8-bit byte where a parser only peeks at the next byte, at the very end of the
/// input: refused, no panic (a char-based peek once stepped two bytes past a lone
/// `0xeb`; found by fuzzing).
#[test]
fn an_eight_bit_byte_at_the_end_does_not_panic() {
    for input in [
        &b"' OK [CAPABILITY  I16 IDev16 IDLE \xeb"[..],
        b"* OK [CAPABILITY IMAP4rev1 \xeb",
        b"* 1 FETCH (ENVELOPE (NIL\xeb",
        b"* SEARCH 1 \xeb",
        b"* ESEARCH UID\xeb",
        b"* 1 FETCH (BODY[1\xeb",
    ] {
        for config in [ParserConfig::strict(), ParserConfig::lenient()] {
            assert!(parse_response(input, &config).is_err(), "{input:?}");
        }
    }
}
