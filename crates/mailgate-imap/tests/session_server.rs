//! The server session as a local client sees it: one row per input script and the exact
//! bytes and events that come out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use mailgate_imap::session::{CloseReason, ServerConfig, ServerEvent, ServerSession};
use mailgate_imap::{Capability, ParserConfig};

/// A script of client reads, the expected bytes sent back, and the expected credentials.
type LoginRow<'a> = (&'a [&'a [u8]], &'a str, &'a str, &'a str);

const CAPS: &str = "IMAP4rev1 AUTH=PLAIN AUTH=LOGIN SASL-IR";

fn session(config: ServerConfig) -> (ServerSession, Instant) {
    let now = Instant::now();
    let mut s = ServerSession::new(config, now);
    let Some(ServerEvent::Send(greeting)) = s.poll_event() else {
        panic!("no greeting")
    };
    assert!(greeting.starts_with(b"* OK [CAPABILITY "), "{greeting:?}");
    (s, now)
}

/// Everything sent as text, plus the other events in order.
fn drain(s: &mut ServerSession) -> (String, Vec<ServerEvent>) {
    let mut wire = Vec::new();
    let mut rest = Vec::new();
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Send(bytes) => wire.extend(bytes),
            other => rest.push(other),
        }
    }
    (String::from_utf8(wire).unwrap(), rest)
}

/// The credentials of a single Login event.
fn login(events: &[ServerEvent]) -> (String, String, String) {
    let [ServerEvent::Login { tag, credentials }] = events else {
        panic!("{events:?}")
    };
    (
        tag.as_str().to_owned(),
        credentials.username.clone(),
        credentials.password.expose().clone(),
    )
}

#[test]
fn greeting_names_the_rewritten_capabilities() {
    let now = Instant::now();
    let mut config = ServerConfig::default();
    config.capabilities = [
        "IMAP4rev1",
        "LITERAL+",
        "SASL-IR",
        "ID",
        "AUTH=XOAUTH2",
        "STARTTLS",
    ]
    .into_iter()
    .map(|c| Capability::try_from(c).unwrap().into_owned())
    .collect();
    config.greeting = "Proxy\r\nready".to_owned();
    let mut s = ServerSession::new(config.clone(), now);
    assert_eq!(
        drain(&mut s).0,
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID AUTH=PLAIN AUTH=LOGIN SASL-IR] Proxy  ready\r\n"
    );
    config.offer_starttls = true;
    let mut s = ServerSession::new(config, now);
    assert_eq!(
        drain(&mut s).0,
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID STARTTLS LOGINDISABLED] Proxy  ready\r\n"
    );
}

#[test]
fn login_in_every_string_form() {
    let rows: &[LoginRow<'_>] = &[
        (&[b"a1 LOGIN joe secret\r\n"], "", "joe", "secret"),
        (
            &[b"a1 login \"joe\" \"two \\\"words\\\"\"\r\n"],
            "",
            "joe",
            "two \"words\"",
        ),
        (
            &[b"a1 LOGIN {3}\r\n", b"joe {6}\r\n", b"secret\r\n"],
            "+ Ready for literal data\r\n+ Ready for literal data\r\n",
            "joe",
            "secret",
        ),
        (
            &[b"a1 LOGIN {3+}\r\njoe {6+}\r\nsecret\r\n"],
            "",
            "joe",
            "secret",
        ),
        (&[b"a1 LOGIN {3-}\r\n"], "a1 BAD", "", ""),
        (
            &[b"a1 LOGIN joe {0}\r\n", b"\r\n"],
            "+ Ready for literal data\r\n",
            "joe",
            "",
        ),
        (
            &[b"a1 LOGIN \"j\xc3\xb6\" {4+}\r\np\xc3\xa4s\r\n"],
            "",
            "j\u{f6}",
            "p\u{e4}s",
        ),
    ];
    for (input, expected_wire, user, password) in rows {
        let (mut s, now) = session(ServerConfig::default());
        let mut wire = String::new();
        let mut events = Vec::new();
        for chunk in *input {
            s.receive(chunk, now);
            let (w, e) = drain(&mut s);
            wire.push_str(&w);
            events.extend(e);
        }
        if expected_wire.ends_with("BAD") {
            assert!(wire.starts_with(expected_wire), "{input:?}: {wire}");
            assert!(events.is_empty(), "{input:?}");
            continue;
        }
        assert_eq!(wire, *expected_wire, "{input:?}");
        assert_eq!(
            login(&events),
            ("a1".to_owned(), user.to_string(), password.to_string())
        );
    }
}

#[test]
fn accept_hands_off_pipelined_bytes() {
    let (mut s, now) = session(ServerConfig::default());
    s.receive(b"a1 LOGIN joe secret\r\na2 SELECT INBOX\r\na3 FE", now);
    let (_, events) = drain(&mut s);
    login(&events);
    s.receive(b"TCH 1 BODY[]\r\n", now);
    assert_eq!(s.poll_event(), None);
    s.accept_login();
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "a1 OK LOGIN completed\r\n");
    assert_eq!(
        events,
        [ServerEvent::Authenticated {
            pipelined: b"a2 SELECT INBOX\r\na3 FETCH 1 BODY[]\r\n".to_vec()
        }]
    );
    assert!(s.is_done());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn rejected_logins_count_and_close() {
    let (mut s, now) = session(ServerConfig::default());
    for n in 1..=3 {
        s.receive(format!("a{n} LOGIN joe wrong\r\n").as_bytes(), now);
        login(&drain(&mut s).1);
        s.reject_login("Invalid credentials", now);
        let (wire, events) = drain(&mut s);
        let expected = format!("a{n} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
        if n < 3 {
            assert_eq!(wire, expected);
            assert!(events.is_empty());
        } else {
            assert_eq!(wire, format!("{expected}* BYE Too many failed logins\r\n"));
            assert_eq!(
                events,
                [ServerEvent::Closed(CloseReason::TooManyAuthFailures)]
            );
        }
    }
}

#[test]
fn authenticate_plain_and_login() {
    let rows: &[LoginRow<'_>] = &[
        // SASL-IR.
        (
            &[b"a1 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n"],
            "",
            "joe",
            "secret",
        ),
        // Continuation.
        (
            &[b"a1 AUTHENTICATE PLAIN\r\n", b"AGpvZQBzZWNyZXQ=\r\n"],
            "+ \r\n",
            "joe",
            "secret",
        ),
        // LOGIN: user name and password prompts.
        (
            &[b"a1 authenticate login\r\n", b"am9l\r\n", b"c2VjcmV0\r\n"],
            "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n",
            "joe",
            "secret",
        ),
        // LOGIN with the user name as initial response.
        (
            &[b"a1 AUTHENTICATE LOGIN am9l\r\n", b"c2VjcmV0\r\n"],
            "+ UGFzc3dvcmQ6\r\n",
            "joe",
            "secret",
        ),
    ];
    for (input, expected_wire, user, password) in rows {
        let (mut s, now) = session(ServerConfig::default());
        let mut wire = String::new();
        let mut events = Vec::new();
        for chunk in *input {
            s.receive(chunk, now);
            let (w, e) = drain(&mut s);
            wire.push_str(&w);
            events.extend(e);
        }
        assert_eq!(wire, *expected_wire, "{input:?}");
        assert_eq!(
            login(&events),
            ("a1".to_owned(), user.to_string(), password.to_string())
        );
    }
}

#[test]
fn authenticate_failures() {
    let rows: &[(&[u8], &str)] = &[
        (
            b"a1 AUTHENTICATE PLAIN\r\n*\r\n",
            "+ \r\na1 BAD AUTHENTICATE cancelled\r\n",
        ),
        (
            b"a1 AUTHENTICATE PLAIN\r\n!!!!\r\n",
            "+ \r\na1 BAD Invalid SASL response: syntax error",
        ),
        (
            b"a1 AUTHENTICATE PLAIN\r\nAGpvZQ==\r\n",
            "+ \r\na1 BAD Invalid SASL response: malformed PLAIN response",
        ),
        (
            b"a1 AUTHENTICATE XOAUTH2 dGVzdA==\r\n",
            "a1 NO Unsupported authentication mechanism XOAUTH2; use PLAIN or LOGIN\r\n",
        ),
        (
            b"a1 AUTHENTICATE PLAIN\r\nab {5}\r\n",
            "+ \r\na1 BAD Invalid SASL response\r\n",
        ),
    ];
    for (input, expected) in rows {
        let (mut s, now) = session(ServerConfig::default());
        s.receive(input, now);
        let (wire, events) = drain(&mut s);
        assert!(wire.starts_with(expected), "{input:?}: {wire}");
        assert!(events.is_empty(), "{input:?}: {events:?}");
        // The session goes on.
        s.receive(b"z NOOP\r\n", now);
        assert_eq!(drain(&mut s).0, "z OK NOOP completed\r\n");
    }
}

#[test]
fn other_commands_before_login() {
    let rows: &[(&[u8], &str)] = &[
        (
            b"a CAPABILITY\r\n",
            &*format!("* CAPABILITY {CAPS}\r\na OK CAPABILITY completed\r\n"),
        ),
        (b"a NOOP\r\n", "a OK NOOP completed\r\n"),
        (
            b"a ID (\"name\" \"mutt\")\r\n",
            "* ID NIL\r\na OK ID completed\r\n",
        ),
        (
            b"a ENABLE UTF8=ACCEPT\r\n",
            "a BAD ENABLE is only valid after login\r\n",
        ),
        (
            b"a SELECT INBOX\r\n",
            "a BAD Command not available before login\r\n",
        ),
        (b"a STARTTLS\r\n", "a BAD STARTTLS is not available\r\n"),
        (
            b"a FROB\r\n",
            "a BAD Invalid command: unknown command at byte 2\r\n",
        ),
        (
            b"(bad tag\r\n",
            "* BAD Invalid command: invalid tag at byte 0\r\n",
        ),
        (b"a LOGIN joe\r\n", "a BAD Invalid command: "),
    ];
    for (input, expected) in rows {
        let (mut s, now) = session(ServerConfig::default());
        s.receive(input, now);
        let (wire, events) = drain(&mut s);
        assert!(wire.starts_with(expected), "{input:?}: {wire}");
        assert!(events.is_empty(), "{input:?}: {events:?}");
    }
}

#[test]
fn logout_closes() {
    let (mut s, now) = session(ServerConfig::default());
    s.receive(b"a LOGOUT\r\nb NOOP\r\n", now);
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "* BYE Logging out\r\na OK LOGOUT completed\r\n");
    assert_eq!(events, [ServerEvent::Closed(CloseReason::Logout)]);
    s.receive(b"c NOOP\r\n", now);
    assert_eq!(s.poll_event(), None);
}

#[test]
fn starttls_first_then_login() {
    let mut config = ServerConfig::default();
    config.offer_starttls = true;
    let (mut s, now) = session(config);
    // Logins before TLS are refused, literals too (their data is never invited).
    s.receive(b"a LOGIN joe secret\r\nb LOGIN {3}\r\n", now);
    let (wire, events) = drain(&mut s);
    let refusal = "NO [PRIVACYREQUIRED] Use STARTTLS first: this server does not accept passwords in clear text\r\n";
    assert_eq!(wire, format!("a {refusal}b {refusal}"));
    assert!(events.is_empty());
    s.receive(b"c AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n", now);
    assert_eq!(drain(&mut s).0, format!("c {refusal}"));
    // STARTTLS: what the client pipelined in clear text is dropped.
    s.receive(b"d STARTTLS\r\ne LOGIN joe injected\r\n", now);
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "d OK Begin TLS negotiation now\r\n");
    assert_eq!(events, [ServerEvent::StartTls]);
    s.receive(b"f LOGIN joe injected\r\n", now);
    assert_eq!(s.poll_event(), None);
    s.tls_established(now);
    assert!(s.is_tls());
    s.receive(b"g CAPABILITY\r\nh STARTTLS\r\n", now);
    assert_eq!(
        drain(&mut s).0,
        format!(
            "* CAPABILITY {CAPS}\r\ng OK CAPABILITY completed\r\nh BAD TLS is already active\r\n"
        )
    );
    s.receive(b"i LOGIN joe secret\r\n", now);
    assert_eq!(login(&drain(&mut s).1).2, "secret");
}

#[test]
fn limits_close_the_session() {
    // Too many errors.
    let (mut s, now) = session(ServerConfig::default());
    s.receive(&b"x FROB\r\n".repeat(11), now);
    let (wire, events) = drain(&mut s);
    assert!(
        wire.ends_with("* BYE Too many invalid commands\r\n"),
        "{wire}"
    );
    assert_eq!(events, [ServerEvent::Closed(CloseReason::TooManyErrors)]);
    // Too many commands.
    let (mut s, now) = session(ServerConfig::default());
    s.receive(&b"x NOOP\r\n".repeat(101), now);
    let (wire, events) = drain(&mut s);
    assert!(wire.ends_with("* BYE Too many commands before login\r\n"));
    assert_eq!(events, [ServerEvent::Closed(CloseReason::TooManyCommands)]);
    // Over-long literal: refused once, its data skipped, not read as commands.
    let (mut s, now) = session(ServerConfig::default());
    let mut input = b"a LOGIN joe {70000+}\r\n".to_vec();
    input.extend(b"b LOGOUT\r\n".repeat(7000));
    input.extend(b"\r\nc NOOP\r\n");
    s.receive(&input, now);
    let (wire, events) = drain(&mut s);
    assert_eq!(
        wire,
        "a BAD literal of 70000 bytes exceeds the limit of 65536 bytes at byte 21\r\nc OK NOOP completed\r\n"
    );
    assert!(events.is_empty());
    // Over-long line.
    let (mut s, now) = session(ServerConfig::default());
    let mut input = b"a LOGIN joe ".to_vec();
    input.extend(vec![b'x'; 20_000]);
    input.extend(b"\r\nb NOOP\r\n");
    s.receive(&input, now);
    let wire = drain(&mut s).0;
    assert!(
        wire.starts_with("a BAD line longer than 16384 bytes"),
        "{wire}"
    );
    assert!(wire.ends_with("b OK NOOP completed\r\n"), "{wire}");
    // Flooding while the driver verifies credentials.
    let (mut s, now) = session(ServerConfig::default());
    s.receive(b"a LOGIN joe secret\r\n", now);
    login(&drain(&mut s).1);
    s.receive(&vec![b'x'; 200_000], now);
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "* BYE Too much input before the login completed\r\n");
    assert_eq!(events, [ServerEvent::Closed(CloseReason::TooMuchInput)]);
}

#[test]
fn idle_timeout() {
    let (mut s, now) = session(ServerConfig::default());
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(300));
    s.handle_timeout(now + Duration::from_secs(299));
    assert_eq!(s.poll_event(), None);
    s.receive(b"a NOOP\r\n", now + Duration::from_secs(100));
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(400)));
    drain(&mut s);
    s.handle_timeout(now + Duration::from_secs(400));
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "* BYE Autologout; idle for too long\r\n");
    assert_eq!(events, [ServerEvent::Closed(CloseReason::Timeout)]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn no_deadline_while_the_driver_verifies() {
    let (mut s, now) = session(ServerConfig::default());
    s.receive(b"a LOGIN joe wrong\r\n", now);
    login(&drain(&mut s).1);
    // A browser authorisation may take a while: the client is not idle meanwhile.
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(now + Duration::from_secs(3600));
    assert_eq!(s.poll_event(), None);
    let later = now + Duration::from_secs(3600);
    s.reject_login("Invalid credentials", later);
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(later + Duration::from_secs(300)));
}

#[test]
fn id_is_forwarded_when_configured() {
    let mut config = ServerConfig::default();
    config.forward_id = true;
    let (mut s, now) = session(config);
    s.receive(b"a ID (\"name\" \"mutt\")\r\nb CAPABILITY\r\n", now);
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "");
    assert_eq!(
        events,
        [ServerEvent::Forward {
            tag: "a".try_into().unwrap(),
            message: b"a ID (\"name\" \"mutt\")\r\n".to_vec()
        }]
    );
    // Not a complete response: not relayed.
    s.forward_response(b"* CAPABILITY IMAP4rev1 ID\r", now);
    s.forward_response(b"garbage\r\n", now);
    assert_eq!(s.poll_event(), None);
    s.forward_response(b"* ID (\"name\" \"Dovecot\")\r\n", now);
    s.forward_response(b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n", now);
    // A bare LF from the server reaches the client as CRLF.
    s.forward_response(b"a OK ID completed.\n", now);
    assert_eq!(
        drain(&mut s).0,
        format!(
            "* ID (\"name\" \"Dovecot\")\r\n* CAPABILITY {CAPS}\r\na OK ID completed.\r\n\
             * CAPABILITY {CAPS}\r\nb OK CAPABILITY completed\r\n"
        )
    );
}

#[test]
fn other_commands_are_forwarded_when_configured() {
    let mut config = ServerConfig::default();
    config.forward_other = true;
    let (mut s, now) = session(config);
    s.receive(b"a SELECT INBOX\r\n", now);
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "");
    let [ServerEvent::Forward { message, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(message, b"a SELECT INBOX\r\n");
    s.forward_response(b"a NO [CLIENTBUG] Not logged in\r\n", now);
    assert_eq!(drain(&mut s).0, "a NO [CLIENTBUG] Not logged in\r\n");
    // Not with a literal, and never ENABLE.
    s.receive(b"b SELECT {5+}\r\nINBOX\r\nc ENABLE IMAP4rev2\r\n", now);
    let (wire, events) = drain(&mut s);
    assert_eq!(
        wire,
        "b BAD Command not available before login\r\nc BAD ENABLE is only valid after login\r\n"
    );
    assert!(events.is_empty());
}

#[test]
fn custom_parser_limits_apply() {
    let mut config = ServerConfig::default();
    let mut parser = ParserConfig::strict();
    parser.max_literal_size = 4;
    config.parser = parser;
    let (mut s, now) = session(config);
    s.receive(b"a LOGIN {5}\r\n", now);
    let wire = drain(&mut s).0;
    assert!(
        wire.starts_with("a BAD literal of 5 bytes exceeds the limit of 4 bytes"),
        "{wire}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// How the client's bytes are split into reads never changes what the session does.
    #[test]
    fn chunking_is_invisible(split in proptest::collection::vec(1usize..40, 1..20)) {
        let script: &[u8] = b"a CAPABILITY\r\nb LOGIN {3+}\r\njoe \"x y\"\r\n";
        let (mut whole, now) = session(ServerConfig::default());
        whole.receive(script, now);
        let expected = drain(&mut whole);
        let (mut chunked, now) = session(ServerConfig::default());
        let mut rest = script;
        let mut got = (String::new(), Vec::new());
        for n in split.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*n).min(rest.len()));
            rest = tail;
            chunked.receive(chunk, now);
            let (w, e) = drain(&mut chunked);
            got.0.push_str(&w);
            got.1.extend(e);
        }
        proptest::prop_assert_eq!(got, expected);
    }

    /// Whatever the user name and password, the crate's own encoding of `LOGIN` (atom,
    /// quoted string or literal, with its `+` answered) yields exactly those credentials.
    #[test]
    fn login_round_trip(user in "[^\\x00]{1,40}", password in "[^\\x00]{0,40}") {
        use mailgate_imap::{AString, Command, CommandBody, Encode, Secret, Tag};
        let command = Command {
            tag: Tag::try_from("t1").unwrap(),
            body: CommandBody::Login {
                username: AString::try_from(user.as_str()).unwrap(),
                password: Secret::new(AString::try_from(password.as_str()).unwrap()),
            },
        };
        let (mut s, now) = session(ServerConfig::default());
        s.receive(&command.to_vec(), now);
        let (_, events) = drain(&mut s);
        proptest::prop_assert_eq!(login(&events), ("t1".to_owned(), user.clone(), password.clone()));
    }

    /// Arbitrary input never panics and never produces unbounded output.
    #[test]
    fn arbitrary_input(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        let (mut s, now) = session(ServerConfig::default());
        s.receive(&input, now);
        let mut sent = 0;
        while let Some(event) = s.poll_event() {
            if let ServerEvent::Send(bytes) = event {
                sent += bytes.len();
            }
        }
        proptest::prop_assert!(sent < 200 * 1024);
    }
}

#[test]
fn a_temporary_rejection_says_unavailable_and_does_not_count() {
    let (mut s, now) = session(ServerConfig::default());
    // More temporary refusals than `max_auth_failures` (3): the session goes on.
    for tag in ["a", "b", "c", "d"] {
        s.receive(format!("{tag} LOGIN joe secret\r\n").as_bytes(), now);
        login(&drain(&mut s).1);
        s.reject_login_temporarily("The token endpoint is unreachable", now);
        let (wire, events) = drain(&mut s);
        assert_eq!(
            wire,
            format!("{tag} NO [UNAVAILABLE] The token endpoint is unreachable\r\n")
        );
        assert!(events.is_empty(), "{events:?}");
    }
    // The idle deadline restarts from the verdict.
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(300)));
    s.receive(b"e LOGIN joe secret\r\n", now);
    login(&drain(&mut s).1);
    s.accept_login();
    let (wire, events) = drain(&mut s);
    assert_eq!(wire, "e OK LOGIN completed\r\n");
    assert_eq!(
        events,
        [ServerEvent::Authenticated {
            pipelined: Vec::new()
        }]
    );
}

#[test]
fn a_framing_error_ends_the_session_when_configured() {
    let mut parser = ParserConfig::strict();
    parser.max_line_length = 64;
    let mut config = ServerConfig::default();
    config.parser = parser.clone();
    // By default the over-long line is skipped and the session goes on.
    let (mut s, now) = session(config.clone());
    s.receive(&[b'x'; 100], now);
    s.receive(b"\r\na NOOP\r\n", now);
    let (wire, events) = drain(&mut s);
    assert!(
        wire.starts_with("* BAD line longer than 64 bytes"),
        "{wire}"
    );
    assert!(wire.ends_with("a OK NOOP completed\r\n"), "{wire}");
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(s.invalid_input(), None);
    // With the switch, the BAD is the last word.
    config.close_on_framing_error = true;
    let (mut s, now) = session(config);
    s.receive(&[b'x'; 100], now);
    s.receive(b"\r\na NOOP\r\n", now);
    let (wire, events) = drain(&mut s);
    assert!(
        wire.starts_with("* BAD line longer than 64 bytes"),
        "{wire}"
    );
    assert!(!wire.contains("NOOP"), "{wire}");
    assert_eq!(events, [ServerEvent::Closed(CloseReason::InvalidInput)]);
    let error = s
        .invalid_input()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(error.starts_with("line longer than 64 bytes"), "{error}");
    assert!(s.is_done());
}
