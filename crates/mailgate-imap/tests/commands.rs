//! RFC example commands as tests, the table of inputs that must be rejected, and the
//! parse → encode → parse round trip over the example corpus.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_imap::command::{AuthenticateData, parse_idle_done};
use mailgate_imap::{
    Command, CommandBody, Encode, ParseErrorKind, ParserConfig, canonicalize_command,
};

/// Loads the example corpus (see the header of `data/commands.txt` for the format).
fn corpus() -> Vec<(usize, Vec<u8>)> {
    let text = include_str!("data/commands.txt");
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut entry = Vec::new();
        let mut current = Some(line.to_owned());
        while let Some(line) = current.take() {
            let placeholder = ["~{?}", "{?+}", "{?}"]
                .into_iter()
                .find(|p| line.ends_with(p));
            if let Some(p) = placeholder {
                let mut data: Vec<u8> = Vec::new();
                loop {
                    let (_, l) = lines.next().expect("unterminated literal");
                    if l == "." {
                        break;
                    }
                    if !data.is_empty() {
                        data.extend_from_slice(b"\r\n");
                    }
                    data.extend_from_slice(l.as_bytes());
                }
                let head = &line[..line.len() - p.len()];
                let sized = p.replace('?', &data.len().to_string());
                entry.extend_from_slice(head.as_bytes());
                entry.extend_from_slice(sized.as_bytes());
                entry.extend_from_slice(b"\r\n");
                entry.extend_from_slice(&data);
                // The line after "." continues right after the data.
                current = Some(lines.next().map(|(_, l)| l.to_owned()).unwrap_or_default());
            } else {
                entry.extend_from_slice(line.as_bytes());
                match lines.peek() {
                    Some((_, next)) if !next.is_empty() && !next.starts_with('#') => {
                        entry.extend_from_slice(b"\r\n");
                        current = lines.next().map(|(_, l)| l.to_owned());
                    }
                    _ => entry.extend_from_slice(b"\r\n"),
                }
            }
        }
        out.push((n + 1, entry));
    }
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_rfc_example_parses_and_round_trips() {
    let cfg = ParserConfig::strict();
    let corpus = corpus();
    assert!(corpus.len() >= 110, "corpus has {} entries", corpus.len());
    for (line, input) in &corpus {
        let (cmd, used) = Command::parse(input, &cfg)
            .unwrap_or_else(|e| panic!("line {line}: {e}: {:?}", show(input)));
        assert_eq!(used, input.len(), "line {line}: not all consumed");
        let wire = cmd.to_vec();
        let (again, used) = Command::parse(&wire, &cfg).unwrap_or_else(|e| {
            panic!(
                "line {line}: canonical form rejected: {e}: {:?}",
                show(&wire)
            )
        });
        assert_eq!(used, wire.len());
        assert_eq!(again, cmd, "line {line}: {:?}", show(&wire));
        assert_eq!(again.to_vec(), wire, "line {line}: encoding not canonical");
        assert_eq!(cmd.clone().into_owned(), cmd);
    }
}

#[test]
fn canonical_forms() {
    let cfg = ParserConfig::strict();
    let cases: &[(&[u8], &[u8])] = &[
        (b"a001 login mrc secret\r\n", b"a001 LOGIN mrc secret\r\n"),
        (
            b"a LOGIN \"joe\" {6+}\r\nsecret\r\n",
            b"a LOGIN joe secret\r\n",
        ),
        (b"a LOGIN \"\" \"a b\"\r\n", b"a LOGIN \"\" \"a b\"\r\n"),
        (b"a select inbox\r\n", b"a SELECT INBOX\r\n"),
        (
            b"a005 store 12 +flags \\deleted\r\n",
            b"a005 STORE 12 +FLAGS (\\Deleted)\r\n",
        ),
        (b"a fetch 1 (flags)\r\n", b"a FETCH 1 FLAGS\r\n"),
        (
            b"a fetch 1 body.peek[header.fields (from)]<0.10>\r\n",
            b"a FETCH 1 BODY.PEEK[HEADER.FIELDS (from)]<0.10>\r\n",
        ),
        (
            b"a SEARCH SINCE \"01-Feb-1994\"\r\n",
            b"a SEARCH SINCE 1-Feb-1994\r\n",
        ),
        (b"a LIST () \"\" * RETURN ()\r\n", b"a LIST \"\" *\r\n"),
        (b"a APPEND x () {1}\r\ny\r\n", b"a APPEND x {1}\r\ny\r\n"),
        (b"a APPEND x {1+}\r\ny\r\n", b"a APPEND x {1}\r\ny\r\n"),
        (
            b"a LOGIN joe {4}\r\na\r\nb\r\n",
            b"a LOGIN joe {4}\r\na\r\nb\r\n",
        ),
        (b"a AUTHENTICATE plain =\r\n", b"a AUTHENTICATE PLAIN =\r\n"),
        (b"a ENABLE utf8=accept\r\n", b"a ENABLE UTF8=ACCEPT\r\n"),
    ];
    for (input, canonical) in cases {
        let (cmd, _) =
            Command::parse(input, &cfg).unwrap_or_else(|e| panic!("{e}: {:?}", show(input)));
        assert_eq!(show(&cmd.to_vec()), show(canonical));
    }
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'0' => out.push(0),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn invalid_inputs_are_rejected() {
    let cfg = ParserConfig::strict();
    let mut count = 0;
    for line in include_str!("data/invalid.txt").lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (input, reason) = line.split_once(" => ").expect("missing reason");
        let input = unescape(input);
        // "Exactly one message": trailing data counts as a rejection too.
        let result = Command::parse(&input, &cfg);
        if let Ok((cmd, used)) = &result {
            assert!(
                used < &input.len(),
                "accepted ({reason}): {:?} as {cmd:?}",
                show(&input)
            );
        }
        count += 1;
    }
    assert!(count >= 80, "{count} rows");
}

#[test]
fn errors_name_the_problem_and_the_offset() {
    let cfg = ParserConfig::strict();
    let cases: &[(&[u8], ParseErrorKind, usize)] = &[
        (b"+a NOOP\r\n", ParseErrorKind::BadTag, 0),
        (b"a NOOP\n", ParseErrorKind::BareLf, 6),
        (b"a LOGIN j\0e x\r\n", ParseErrorKind::Nul, 9),
        (b"a LOGIN j\xc3\xb6e x\r\n", ParseErrorKind::EightBit, 9),
        (
            b"a FETCH 1 (FLAGS\r\n",
            ParseErrorKind::UnbalancedParens,
            16,
        ),
        (
            b"a FETCH 1 FLAGS)\r\n",
            ParseErrorKind::UnbalancedParens,
            15,
        ),
        (b"a FETCH 0 FLAGS\r\n", ParseErrorKind::BadSequenceSet, 8),
        (b"a FOO\r\n", ParseErrorKind::UnknownCommand, 2),
        (b"a FETCH 07 FLAGS\r\n", ParseErrorKind::LeadingZero, 8),
        (
            b"a UID FETCH 1 FLAGS (VANISHED)\r\n",
            ParseErrorKind::Rule("VANISHED needs CHANGEDSINCE"),
            20,
        ),
        (
            b"a UID FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
            ParseErrorKind::Rule("mod-sequence must not be zero"),
            34,
        ),
        (
            b"a LIST (RECURSIVEMATCH) \"\" *\r\n",
            ParseErrorKind::Rule(
                "RECURSIVEMATCH needs another selection option such as SUBSCRIBED",
            ),
            7,
        ),
        (b"a UID FOO 1\r\n", ParseErrorKind::UnknownCommand, 6),
        (
            b"a LOGIN {20}\r\njoe\r\n",
            ParseErrorKind::LiteralLengthMismatch {
                announced: 20,
                available: 5,
            },
            14,
        ),
    ];
    for (input, kind, offset) in cases {
        let err = Command::parse(input, &cfg).unwrap_err();
        assert_eq!(
            (err.kind(), err.offset()),
            (kind, *offset),
            "{:?}: {err}",
            show(input)
        );
    }
    let err = Command::parse(b"a FETCH 1 (FLAGS\r\n", &cfg).unwrap_err();
    assert_eq!(err.to_string(), "unbalanced parentheses at byte 16");
}

#[test]
fn search_nesting_is_bounded() {
    let mut cfg = ParserConfig::strict();
    cfg.max_nesting_depth = 10;
    let deep = |n: usize| format!("a SEARCH {}ALL{}\r\n", "(".repeat(n), ")".repeat(n));
    assert!(Command::parse(deep(9).as_bytes(), &cfg).is_ok());
    let err = Command::parse(deep(10).as_bytes(), &cfg).unwrap_err();
    assert_eq!(err.kind(), &ParseErrorKind::NestingTooDeep { limit: 10 });
    let nots = format!("a SEARCH {}ALL\r\n", "NOT ".repeat(100));
    assert!(Command::parse(nots.as_bytes(), &cfg).is_err());
    // Far beyond any limit: no stack overflow.
    let huge = format!("a SEARCH {}ALL\r\n", "(".repeat(100_000));
    assert!(Command::parse(huge.as_bytes(), &ParserConfig::strict()).is_err());
}

/// `nz-number` is `digit-nz *DIGIT`: a leading zero is refused in both modes (a
/// tolerant reading would turn `07` into a different message than the peer named).
#[test]
fn nz_numbers_with_a_leading_zero_are_refused_in_lenient_mode_too() {
    let cases: &[(&[u8], usize)] = &[
        (b"a FETCH 07 FLAGS\r\n", 8),
        (b"a UID FETCH 1:007 FLAGS\r\n", 14),
        (b"a FETCH 1 BODY[1.07]\r\n", 17),
        (b"a FETCH 1 BODY[]<0.07>\r\n", 19),
        (b"a SEARCH OLDER 07\r\n", 15),
        (b"a SELECT x (QRESYNC (07 5))\r\n", 21),
        (b"a UID FETCH 1 FLAGS (PARTIAL 1:07)\r\n", 31),
    ];
    for config in [ParserConfig::strict(), ParserConfig::lenient()] {
        for (input, offset) in cases {
            let err = Command::parse(input, &config).unwrap_err();
            assert_eq!(
                (err.kind(), err.offset()),
                (&ParseErrorKind::LeadingZero, *offset),
                "{:?}: {err}",
                show(input)
            );
        }
    }
}

/// An 8-bit byte right where a parser peeks at the next byte, at the end of the input:
/// refused, no panic.
#[test]
fn an_eight_bit_byte_at_the_end_does_not_panic() {
    for input in [
        &b"a FETCH 1 BODY[1\xeb"[..],
        b"a FETCH 1 FULL\xeb",
        b"a FETCH 1\xeb",
        b"a SEARCH MODSEQ \xeb",
        b"a FETCH 1:2\xeb",
    ] {
        for config in [ParserConfig::strict(), ParserConfig::lenient()] {
            assert!(Command::parse(input, &config).is_err(), "{input:?}");
        }
    }
}

#[test]
fn login_password_is_secret() {
    let (cmd, _) = Command::parse(b"a LOGIN joe hunter2\r\n", &ParserConfig::strict()).unwrap();
    let debug = format!("{cmd:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    match &cmd.body {
        CommandBody::Login { username, password } => {
            assert_eq!(username.as_bytes(), b"joe");
            assert_eq!(password.expose().as_bytes(), b"hunter2");
        }
        other => panic!("{other:?}"),
    }
    let (cmd, _) = Command::parse(
        b"a AUTHENTICATE PLAIN AGpvZQBodW50ZXIy\r\n",
        &ParserConfig::strict(),
    )
    .unwrap();
    assert!(!format!("{cmd:?}").contains("hunter2"));
}

#[test]
fn idle_done_and_authenticate_lines() {
    let cfg = ParserConfig::strict();
    assert_eq!(parse_idle_done(b"DONE\r\n", &cfg), Ok(6));
    assert_eq!(parse_idle_done(b"done\r\n", &cfg), Ok(6));
    assert!(parse_idle_done(b"DONE \r\n", &cfg).is_err());
    assert!(parse_idle_done(b"DONE\n", &cfg).is_err());
    assert_eq!(parse_idle_done(b"DONE\n", &ParserConfig::lenient()), Ok(5));
    let (d, _) = AuthenticateData::parse(b"AGpvZQBodW50ZXIy\r\n", &cfg).unwrap();
    assert!(matches!(d, AuthenticateData::Response(ref s) if s.expose() == b"\0joe\0hunter2"));
    assert_eq!(
        AuthenticateData::parse(b"*\r\n", &cfg).unwrap().0,
        AuthenticateData::Cancel
    );
}

#[test]
fn lenient_mode_accepts_quirks() {
    let lenient = ParserConfig::lenient();
    assert!(Command::parse(b"a LOGIN j\xc3\xb6e x \n", &lenient).is_ok());
    assert!(Command::parse(b"a LOGIN j\xc3\xb6e x \n", &ParserConfig::strict()).is_err());
}

#[test]
fn readme_examples() {
    use mailgate_imap::framer::{Direction, Framer, FramerEvent};
    let input = b"a1 uid fetch 1:* (flags body.peek[header.fields (subject)])\r\n";
    let (command, used) = Command::parse(input, &ParserConfig::strict()).unwrap();
    assert_eq!(used, input.len());
    assert!(matches!(command.body, CommandBody::Fetch { uid: true, .. }));
    assert_eq!(
        command.to_vec(),
        b"a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (subject)])\r\n"
    );

    let mut framer = Framer::new(Direction::ClientToServer, ParserConfig::strict());
    framer.push(b"a1 APPEND INBOX {11}\r\n");
    assert!(
        matches!(framer.next_event(), Some(FramerEvent::ContinuationNeeded(h)) if h.size == 11)
    );
    assert!(framer.next_event().is_none());
    framer.push(b"Subject: hi\r\n");
    assert!(matches!(framer.next_event(), Some(FramerEvent::Message(_))));
}

#[test]
fn imap_parse_accepts_the_corpus_and_rejects_the_table() {
    // What the `imap_parse` example does: exactly one framed message, canonical output.
    let cfg = ParserConfig::strict();
    for (line, input) in corpus() {
        let out = canonicalize_command(&input, &cfg)
            .unwrap_or_else(|e| panic!("line {line}: {e}: {:?}", show(&input)));
        assert_eq!(
            canonicalize_command(&out, &cfg).as_ref(),
            Ok(&out),
            "line {line}"
        );
    }
    for line in include_str!("data/invalid.txt").lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (input, reason) = line.split_once(" => ").unwrap();
        let input = unescape(input);
        assert!(
            canonicalize_command(&input, &cfg).is_err(),
            "accepted ({reason}): {:?}",
            show(&input)
        );
    }
}

#[test]
fn unknown_commands_keep_their_arguments_in_lenient_mode() {
    use mailgate_imap::command::RawArguments;
    let lenient = ParserConfig::lenient();
    let cases: &[(&[u8], &str, &[u8], usize)] = &[
        (b"a XLIST \"\" *\r\n", "XLIST", b" \"\" *", 0),
        (
            b"a X-FOO bar {3}\r\nabc baz ~{2+}\r\n\0\n end\r\n",
            "X-FOO",
            b" bar {3}\r\nabc baz ~{2+}\r\n\0\n end",
            2,
        ),
        (b"a XYZZY\r\n", "XYZZY", b"", 0),
        // Not a literal: the line does not end in `}`. Kept with its space, so that the
        // canonical form does not announce one either.
        (b"a X-FOO {3} \r\n", "X-FOO", b" {3} ", 0),
        (b"a UID XMOVE 1 b\r\n", "UID", b" XMOVE 1 b", 0),
        (
            b"a VERYLONGCOMMANDNAMEBEYONDSIXTEEN x\r\n",
            "VERYLONGCOMMANDNAMEBEYONDSIXTEEN",
            b" x",
            0,
        ),
    ];
    for (input, name, args, literals) in cases {
        let (cmd, used) =
            Command::parse(input, &lenient).unwrap_or_else(|e| panic!("{e}: {:?}", show(input)));
        assert_eq!(used, input.len());
        let CommandBody::Other { name: n, arguments } = &cmd.body else {
            panic!("{cmd:?}");
        };
        let arguments: &RawArguments<'_> = arguments;
        assert_eq!(n.as_str(), *name);
        assert_eq!(arguments.as_bytes(), *args, "{:?}", show(input));
        assert_eq!(arguments.literals(), *literals);
        assert_eq!(cmd.to_vec(), *input);
        assert_eq!(cmd.clone().into_owned(), cmd);
        assert_eq!(
            Command::parse(input, &ParserConfig::strict())
                .unwrap_err()
                .kind(),
            &ParseErrorKind::UnknownCommand
        );
    }
    assert_eq!(
        canonicalize_command(b"a X-FOO {3} \r\n", &lenient).unwrap(),
        b"a X-FOO {3} \r\n"
    );
    // Known commands are never taken for unknown ones: their errors stay.
    assert!(Command::parse(b"a FETCH x\r\n", &lenient).is_err());
    assert!(Command::parse(b"a X-FOO {5}\r\nab\r\n", &lenient).is_err());
}
