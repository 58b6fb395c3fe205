use super::*;
use mailgate_sasl::SecretString;

/// Feeds `input`, drains events; returns everything sent and the other events.
fn run(s: &mut ClientSession, input: &[u8]) -> (String, Vec<ClientEvent>) {
    s.receive(input);
    let mut sent = Vec::new();
    let mut other = Vec::new();
    while let Some(e) = s.poll_event() {
        match e {
            ClientEvent::Send(b) => sent.extend(b),
            ClientEvent::SendSecret(b) => sent.extend(b.expose()),
            e => other.push(e),
        }
    }
    (String::from_utf8(sent).unwrap(), other)
}

const GMAIL_ERROR: &str = "eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";

#[test]
fn greeting_refused() {
    let mut s = ClientSession::new(ClientConfig::default());
    let (out, ev) = run(&mut s, b"-ERR [SYS/TEMP] busy\r\n");
    assert_eq!(out, "");
    assert!(
        matches!(&ev[..], [ClientEvent::Failed(ClientFailure::Greeting(l))] if l.text == "busy")
    );
    assert!(s.is_finished());
}

#[test]
fn not_pop3() {
    let mut s = ClientSession::new(ClientConfig::default());
    let (_, ev) = run(&mut s, b"* OK IMAP4rev1 ready\r\n");
    assert_eq!(
        ev,
        [ClientEvent::Failed(ClientFailure::Protocol(
            Pop3Error::InvalidStatus
        ))]
    );
}

#[test]
fn server_without_capa_and_no_initial_response() {
    let mut s = ClientSession::new(ClientConfig {
        use_initial_response: false,
        ..ClientConfig::default()
    });
    let (out, ev) = run(&mut s, b"+OK POP3 ready <1.2@host>\r\n");
    assert_eq!(out, "CAPA\r\n");
    assert!(ev.is_empty());
    assert_eq!(s.greeting().unwrap().apop_timestamp(), Some("<1.2@host>"));
    let (out, ev) = run(&mut s, b"-ERR unknown command\r\n");
    assert_eq!(
        (out.as_str(), &ev[..]),
        ("", &[ClientEvent::NeedCredentials][..])
    );
    assert!(s.capabilities().is_empty());
    s.authenticate(ClientExchange::plain(None, "tim", SecretString::from("pw")));
    let (out, _) = run(&mut s, b"");
    assert_eq!(out, "AUTH PLAIN\r\n");
    let (out, _) = run(&mut s, b"+ \r\n");
    assert_eq!(out, "AHRpbQBwdw==\r\n");
    let (out, ev) = run(&mut s, b"+OK Logged in.\r\n1 2\r\n");
    assert_eq!(out, "");
    assert_eq!(
        ev,
        [ClientEvent::Authenticated {
            buffered: b"1 2\r\n".to_vec()
        }]
    );
}

#[test]
fn long_initial_response_goes_in_a_continuation() {
    let mut s = ClientSession::new(ClientConfig::default());
    run(&mut s, b"+OK\r\n+OK\r\nSASL XOAUTH2\r\n.\r\n");
    let token = SecretString::from("t".repeat(300));
    s.authenticate(ClientExchange::xoauth2("u@example.com", token));
    let (out, _) = run(&mut s, b"");
    assert_eq!(out, "AUTH XOAUTH2\r\n");
    let (out, _) = run(&mut s, b"+ \r\n");
    assert!(out.len() > 255, "{out}");
    let decoded = mailgate_sasl::decode_base64(out.trim_end().as_bytes()).unwrap();
    assert!(decoded.ends_with(&[b't', 1, 1]));
}

#[test]
fn xoauth2_error_challenge() {
    let mut s = ClientSession::new(ClientConfig::default());
    let (_, ev) = run(
        &mut s,
        b"+OK Gpop ready\r\n+OK Capability list follows\r\nUSER\r\nSASL PLAIN XOAUTH2\r\n.\r\n",
    );
    assert_eq!(ev, [ClientEvent::NeedCredentials]);
    s.authenticate(ClientExchange::xoauth2(
        "u@gmail.com",
        SecretString::from("expired"),
    ));
    let (out, _) = run(&mut s, b"");
    assert!(
        out.starts_with("AUTH XOAUTH2 dXNlcj11QGdtYWlsLmNvbQ"),
        "{out}"
    );
    let (out, ev) = run(&mut s, format!("+ {GMAIL_ERROR}\r\n").as_bytes());
    assert_eq!(out, "\r\n");
    assert!(ev.is_empty());
    let (_, ev) = run(&mut s, b"-ERR [AUTH] Invalid credentials\r\n");
    match &ev[..] {
        [
            ClientEvent::Failed(
                f @ ClientFailure::AuthFailed {
                    reply,
                    provider_error: Some(e),
                },
            ),
        ] => {
            assert_eq!(reply.text, "Invalid credentials");
            assert_eq!(e.status.as_deref(), Some("400"));
            assert_eq!(
                f.to_string(),
                "authentication failed: -ERR [AUTH] Invalid credentials (status \"400\", schemes \"Bearer\", scope \"https://mail.google.com/\")"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stls_then_capa_again() {
    let mut s = ClientSession::new(ClientConfig {
        starttls: true,
        ..ClientConfig::default()
    });
    let (out, ev) = run(&mut s, b"+OK\r\n+OK\r\nSTLS\r\nUSER\r\n.\r\n");
    assert_eq!(out, "CAPA\r\nSTLS\r\n");
    assert!(ev.is_empty());
    let (_, ev) = run(&mut s, b"+OK Begin TLS\r\n");
    assert_eq!(ev, [ClientEvent::StartTls]);
    s.tls_established();
    let (out, ev) = run(&mut s, b"+OK\r\nSASL OAUTHBEARER\r\n.\r\n");
    assert_eq!(out, "CAPA\r\n");
    assert_eq!(ev, [ClientEvent::NeedCredentials]);
    assert!(!s.capabilities().contains("STLS"));
}

#[test]
fn stls_injection_and_refusal() {
    let mut s = ClientSession::new(ClientConfig {
        starttls: true,
        ..ClientConfig::default()
    });
    let (_, ev) = run(&mut s, b"+OK\r\n-ERR\r\n+OK go\r\n+OK injected\r\n");
    assert_eq!(ev, [ClientEvent::Failed(ClientFailure::PlaintextAfterStls)]);

    let mut s = ClientSession::new(ClientConfig {
        starttls: true,
        ..ClientConfig::default()
    });
    let (_, ev) = run(&mut s, b"+OK\r\n-ERR\r\n+OK go\r\n");
    assert_eq!(ev, [ClientEvent::StartTls]);
    s.receive(b"+OK late");
    assert_eq!(
        s.poll_event(),
        Some(ClientEvent::Failed(ClientFailure::PlaintextAfterStls))
    );

    let mut s = ClientSession::new(ClientConfig {
        starttls: true,
        ..ClientConfig::default()
    });
    let (_, ev) = run(&mut s, b"+OK\r\n-ERR\r\n-ERR no TLS here\r\n");
    assert!(matches!(
        &ev[..],
        [ClientEvent::Failed(ClientFailure::StlsRefused(_))]
    ));
}

#[test]
fn unexpected_challenge_is_cancelled() {
    let mut s = ClientSession::new(ClientConfig::default());
    run(&mut s, b"+OK\r\n-ERR\r\n");
    s.authenticate(ClientExchange::plain(None, "a", SecretString::from("b")));
    run(&mut s, b"");
    let (out, _) = run(&mut s, b"+ \r\n");
    assert_eq!(out, "*\r\n");
    // The -ERR answers the cancel: the exchange broke here, the credentials were not refused.
    let (_, ev) = run(&mut s, b"-ERR cancelled\r\n");
    assert!(
        matches!(
            &ev[..],
            [ClientEvent::Failed(ClientFailure::Sasl(
                SaslError::UnexpectedChallenge { mechanism: "PLAIN" }
            ))]
        ),
        "{ev:?}"
    );

    // A second challenge after the cancel is out of place.
    let mut s = ClientSession::new(ClientConfig::default());
    run(&mut s, b"+OK\r\n-ERR\r\n");
    s.authenticate(ClientExchange::plain(None, "a", SecretString::from("b")));
    run(&mut s, b"");
    run(&mut s, b"+ \r\n");
    let (_, ev) = run(&mut s, b"+ \r\n");
    assert!(matches!(
        &ev[..],
        [ClientEvent::Failed(ClientFailure::UnexpectedContinuation)]
    ));
}

#[test]
fn continuation_out_of_place() {
    let mut s = ClientSession::new(ClientConfig::default());
    let (_, ev) = run(&mut s, b"+ hi\r\n");
    assert_eq!(
        ev,
        [ClientEvent::Failed(ClientFailure::UnexpectedContinuation)]
    );
}

#[test]
fn capa_too_long() {
    let mut s = ClientSession::new(ClientConfig::default());
    let mut input = b"+OK\r\n+OK\r\n".to_vec();
    for _ in 0..30_000 {
        input.extend_from_slice(b"X-CAPA-LINE\r\n");
    }
    let (_, ev) = run(&mut s, &input);
    assert!(matches!(
        &ev[..],
        [ClientEvent::Failed(ClientFailure::Protocol(
            Pop3Error::MultilineTooLong { .. }
        ))]
    ));
}

#[test]
fn byte_at_a_time() {
    let server = format!(
        "+OK ready\r\n+OK\r\nSASL OAUTHBEARER\r\n.\r\n+ {GMAIL_ERROR}\r\n-ERR [AUTH] no\r\n"
    );
    let mut s = ClientSession::new(ClientConfig::default());
    let mut sent = Vec::new();
    let mut failed = None;
    for b in server.as_bytes() {
        s.receive(std::slice::from_ref(b));
        while let Some(e) = s.poll_event() {
            match e {
                ClientEvent::Send(b) => sent.extend(b),
                ClientEvent::SendSecret(b) => sent.extend(b.expose()),
                ClientEvent::NeedCredentials => s.authenticate(ClientExchange::oauthbearer(
                    "u@x",
                    Some("pop.x"),
                    Some(995),
                    SecretString::from("t"),
                )),
                ClientEvent::Failed(f) => failed = Some(f),
                other => panic!("{other:?}"),
            }
        }
    }
    let sent = String::from_utf8(sent).unwrap();
    assert!(sent.ends_with("\r\nAQ==\r\n"), "{sent}");
    assert!(matches!(
        failed,
        Some(ClientFailure::AuthFailed {
            provider_error: Some(_),
            ..
        })
    ));
}

#[test]
fn status_lines_are_bounded_by_response_line() {
    let mut config = ClientConfig::default();
    config.limits.response_line = 64;
    let mut s = ClientSession::new(config);
    let long = format!("+OK {}\r\n", "x".repeat(100));
    let (_, ev) = run(&mut s, long.as_bytes());
    assert_eq!(
        ev,
        [ClientEvent::Failed(ClientFailure::Protocol(
            Pop3Error::LineTooLong { max: 64 }
        ))]
    );
    // Continuations may be longer (up to auth_line).
    let mut config = ClientConfig::default();
    config.limits.response_line = 64;
    let mut s = ClientSession::new(config);
    run(&mut s, b"+OK\r\n-ERR\r\n");
    s.authenticate(ClientExchange::xoauth2("u", SecretString::from("t")));
    let challenge = mailgate_sasl::encode_base64(
        format!("{{\"status\":\"401\",\"x\":\"{}\"}}", "y".repeat(200)).as_bytes(),
    );
    let (out, ev) = run(&mut s, format!("+ {challenge}\r\n").as_bytes());
    assert!(out.ends_with("\r\n\r\n"), "{out}");
    assert!(ev.is_empty());
}
