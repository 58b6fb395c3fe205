//! The client session against recorded server dialogues (Dovecot, Gmail, Office 365) and
//! against misbehaving servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use mailgate_imap::response::{Code, SimpleCode};
use mailgate_imap::session::{ClientConfig, ClientError, ClientEvent, ClientSession};
use mailgate_imap::{AuthMechanism, Capability, Tag};
use mailgate_sasl::{ClientExchange, SecretString};

/// What the session wrote (credentials included, for the assertions) and the other events.
fn drain(c: &mut ClientSession) -> (String, Vec<ClientEvent>) {
    let mut wire = Vec::new();
    let mut rest = Vec::new();
    while let Some(event) = c.poll_event() {
        match event {
            ClientEvent::Send(bytes) => wire.extend(bytes),
            ClientEvent::SendSecret(bytes) => wire.extend(bytes.expose()),
            other => rest.push(other),
        }
    }
    (String::from_utf8(wire).unwrap(), rest)
}

fn xoauth2() -> ClientExchange {
    ClientExchange::xoauth2("user@example.com", SecretString::from("ya29.token"))
}

/// `user=user@example.com^Aauth=Bearer ya29.token^A^A` in base64.
const XOAUTH2_IR: &str = "dXNlcj11c2VyQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ==";

fn tag(s: &str) -> Option<Tag<'static>> {
    Some(Tag::try_new(s.to_owned()).unwrap())
}

#[test]
fn dovecot_capabilities_in_the_greeting() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.receive(
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER] Dovecot ready.\r\n",
        now,
    );
    assert_eq!(
        drain(&mut c),
        (String::new(), vec![ClientEvent::NeedCredentials])
    );
    assert!(c.has_capability(&Capability::Auth(AuthMechanism::XOAuth2)));
    assert_eq!(c.poll_timeout(), None);
    c.authenticate(xoauth2(), tag("a1"), now);
    assert_eq!(
        drain(&mut c).0,
        format!("a1 AUTHENTICATE XOAUTH2 {XOAUTH2_IR}\r\n")
    );
    c.receive(
        b"a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MOVE] Logged in\r\n* 3 EXISTS",
        now,
    );
    let (_, events) = drain(&mut c);
    assert_eq!(
        events,
        [ClientEvent::Authenticated {
            response: b"a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MOVE] Logged in\r\n".to_vec(),
            buffered: b"* 3 EXISTS".to_vec(),
        }]
    );
    assert!(c.has_capability(&Capability::try_from("MOVE").unwrap()));
    assert!(c.is_done());
}

#[test]
fn gmail_error_challenge_then_retry() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.receive(
        b"* OK Gimap ready for requests from 192.0.2.1 a1mb123456\r\n",
        now,
    );
    assert_eq!(drain(&mut c).0, "mg1 CAPABILITY\r\n");
    c.receive(
        b"* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER\r\n\
mg1 OK Thats all she wrote! a1mb123456\r\n",
        now,
    );
    assert_eq!(drain(&mut c).1, [ClientEvent::NeedCredentials]);
    c.authenticate(xoauth2(), tag("A001"), now);
    drain(&mut c);
    // The provider's error challenge is answered with an empty response.
    c.receive(
        b"+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n",
        now,
    );
    assert_eq!(drain(&mut c), ("\r\n".to_owned(), vec![]));
    c.receive(
        b"A001 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n",
        now,
    );
    let (_, events) = drain(&mut c);
    let [ClientEvent::Rejected(failure)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        failure.code(),
        Some(&Code::Simple(SimpleCode::AuthenticationFailed))
    );
    let provider = failure.provider_error.as_ref().unwrap();
    assert_eq!(provider.status.as_deref(), Some("400"));
    assert_eq!(
        failure.to_string(),
        format!(
            "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure) (provider said: {provider})"
        )
    );
    // The connection stays usable: a refreshed token logs in.
    c.authenticate(xoauth2(), tag("A002"), now);
    drain(&mut c);
    c.receive(
        b"* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584\r\n\
A002 OK user@example.com authenticated (Success)\r\n",
        now,
    );
    let (_, events) = drain(&mut c);
    let [ClientEvent::Authenticated { response, buffered }] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(response.starts_with(b"* CAPABILITY IMAP4rev1 UNSELECT"));
    assert!(response.ends_with(b"A002 OK user@example.com authenticated (Success)\r\n"));
    assert!(buffered.is_empty());
    assert!(c.has_capability(&Capability::try_from("CONDSTORE").unwrap()));
}

#[test]
fn office365_starttls_and_oauthbearer_without_sasl_ir() {
    let now = Instant::now();
    let mut config = ClientConfig::default();
    config.starttls = true;
    config.use_sasl_ir = false;
    let mut c = ClientSession::new(config, now);
    c.receive(
        b"* OK The Microsoft Exchange IMAP4 service is ready. [UABBADMAUAAyADgAMQBDAEEAMAAwADEANQAuAEYAUgBBAFAAMgA4ADEALgBQAFIATwBEAC4ATwBVAFQATABPAE8ASwAuAEMATwBNAA==]\r\n",
        now,
    );
    assert_eq!(drain(&mut c).0, "mg1 STARTTLS\r\n");
    c.receive(b"mg1 OK Begin TLS negotiation now.\r\n", now);
    assert_eq!(drain(&mut c).1, [ClientEvent::StartTls]);
    assert_eq!(c.poll_timeout(), None);
    c.tls_established(now);
    assert_eq!(drain(&mut c).0, "mg2 CAPABILITY\r\n");
    c.receive(
        b"* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+\r\n\
mg2 OK CAPABILITY completed.\r\n",
        now,
    );
    assert_eq!(drain(&mut c).1, [ClientEvent::NeedCredentials]);
    let token = SecretString::from("EwBwA8l6");
    c.authenticate(
        ClientExchange::oauthbearer(
            "user@example.com",
            Some("outlook.office365.com"),
            Some(993),
            token,
        ),
        None,
        now,
    );
    assert_eq!(drain(&mut c).0, "mg3 AUTHENTICATE OAUTHBEARER\r\n");
    c.receive(b"+ \r\n", now);
    let (wire, _) = drain(&mut c);
    assert!(wire.starts_with("bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9b3V0bG9vay5vZmZpY2UzNjUuY29tAXBvcnQ9OTkzAWF1dGg9QmVhcmVyIEV3QndBOGw2AQE="), "{wire}");
    // OAUTHBEARER's error challenge is answered with AQ==.
    c.receive(b"+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n", now);
    assert_eq!(drain(&mut c).0, "AQ==\r\n");
    c.receive(b"mg3 NO AUTHENTICATE failed.\r\n", now);
    let (_, events) = drain(&mut c);
    let [ClientEvent::Rejected(failure)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        failure.provider_error.as_ref().unwrap().status.as_deref(),
        Some("invalid_token")
    );
    c.logout(now);
    assert_eq!(drain(&mut c).0, "mg4 LOGOUT\r\n");
    c.receive(b"* BYE Microsoft Exchange Server IMAP4 server signing off.\r\nmg4 OK LOGOUT completed.\r\n", now);
    assert_eq!(drain(&mut c).1, [ClientEvent::LoggedOut]);
}

#[test]
fn failures() {
    let greeting = b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n".as_slice();
    let rows: &[(&[u8], bool, ClientError)] = &[
        (
            b"* PREAUTH [CAPABILITY IMAP4rev1] logged in as joe\r\n",
            false,
            ClientError::Preauthenticated,
        ),
        (
            b"* BYE [UNAVAILABLE] Too many connections\r\n",
            false,
            ClientError::Refused("[UNAVAILABLE] Too many connections".to_owned()),
        ),
        // STARTTLS required but not announced: no downgrade.
        (greeting, true, ClientError::StartTlsUnavailable),
        (
            b"* OK ready\r\nmg1 NO [PRIVACYREQUIRED] no\r\n",
            true,
            ClientError::StartTlsRefused("NO [PRIVACYREQUIRED] no".to_owned()),
        ),
        // Response injection: data after the OK to STARTTLS.
        (
            b"* OK ready\r\nmg1 OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n",
            true,
            ClientError::UnexpectedData,
        ),
        (
            b"* OK ready\r\nmg1 BAD no\r\n",
            false,
            ClientError::CapabilityRefused("BAD no".to_owned()),
        ),
        (
            b"* OK ready\r\nzz OK what\r\n",
            false,
            ClientError::UnexpectedTag("zz".to_owned()),
        ),
        (
            b"* OK ready\r\n+ go on\r\n",
            false,
            ClientError::UnexpectedContinuation,
        ),
        (
            b"* OK ready\r\n* BYE shutting down\r\n",
            false,
            ClientError::Bye("shutting down".to_owned()),
        ),
    ];
    for (input, starttls, expected) in rows {
        let now = Instant::now();
        let mut config = ClientConfig::default();
        config.starttls = *starttls;
        let mut c = ClientSession::new(config, now);
        c.receive(input, now);
        let (_, events) = drain(&mut c);
        assert_eq!(
            events.last(),
            Some(&ClientEvent::Failed(expected.clone())),
            "{input:?}"
        );
        assert!(c.is_done());
    }
    // Garbage greeting.
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.receive(b"HELLO\r\n", now);
    assert!(matches!(
        drain(&mut c).1[..],
        [ClientEvent::Failed(ClientError::Malformed(_))]
    ));
    // Plaintext while the TLS handshake should run.
    let mut config = ClientConfig::default();
    config.starttls = true;
    let mut c = ClientSession::new(config, now);
    c.receive(b"* OK ready\r\nmg1 OK go\r\n", now);
    drain(&mut c);
    c.receive(b"* OK more\r\n", now);
    assert_eq!(
        drain(&mut c).1,
        [ClientEvent::Failed(ClientError::UnexpectedData)]
    );
}

#[test]
fn a_hostile_server_cannot_make_it_buffer_much() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.receive(b"* OK hi\r\n* 1 FETCH (BODY[] {3000000}\r\n", now);
    let (_, events) = drain(&mut c);
    let [ClientEvent::Failed(ClientError::Oversized(e))] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        e.to_string(),
        "literal of 3000000 bytes exceeds the limit of 1048576 bytes at byte 28"
    );
}

#[test]
fn misuse_and_timeouts() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.authenticate(xoauth2(), None, now);
    assert_eq!(drain(&mut c).1, [ClientEvent::Failed(ClientError::Misuse)]);
    let mut c = ClientSession::new(ClientConfig::default(), now);
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
    c.handle_timeout(now + Duration::from_secs(59));
    assert!(drain(&mut c).1.is_empty());
    c.handle_timeout(now + Duration::from_secs(60));
    assert_eq!(drain(&mut c).1, [ClientEvent::Failed(ClientError::Timeout)]);
}

#[test]
fn the_cancelled_exchange_and_unexpected_challenges() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.receive(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n", now);
    drain(&mut c);
    c.authenticate(
        ClientExchange::plain(None, "joe", SecretString::from("pw")),
        None,
        now,
    );
    assert_eq!(drain(&mut c).0, "mg1 AUTHENTICATE PLAIN\r\n");
    c.receive(b"+ \r\n", now);
    assert_eq!(drain(&mut c).0, "AGpvZQBwdw==\r\n");
    // PLAIN allows no second challenge: cancel, and fail even if the server says OK.
    c.receive(b"+ again\r\n", now);
    assert_eq!(drain(&mut c).0, "*\r\n");
    c.receive(b"mg1 OK whatever\r\n", now);
    assert!(matches!(
        drain(&mut c).1[..],
        [ClientEvent::Failed(ClientError::Sasl(_))]
    ));
}

#[test]
fn forwarding_a_command() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), now);
    c.receive(
        b"* OK [CAPABILITY IMAP4rev1 ID AUTH=XOAUTH2] ready\r\n",
        now,
    );
    drain(&mut c);
    c.forward(b"a1 ID (\"name\" {4}\r\nmutt)\r\n", now);
    assert_eq!(drain(&mut c).0, "a1 ID (\"name\" {4}\r\nmutt)\r\n");
    c.receive(
        b"+ go ahead\r\n* ID (\"name\" \"Dovecot\")\r\na1 OK ID completed.\r\n",
        now,
    );
    assert_eq!(
        drain(&mut c).1,
        [
            ClientEvent::Response {
                message: b"* ID (\"name\" \"Dovecot\")\r\n".to_vec(),
                done: false
            },
            ClientEvent::Response {
                message: b"a1 OK ID completed.\r\n".to_vec(),
                done: true
            },
        ]
    );
    c.authenticate(xoauth2(), None, now);
    // No SASL-IR announced: the initial response waits for the server.
    assert_eq!(drain(&mut c).0, "mg1 AUTHENTICATE XOAUTH2\r\n");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Arbitrary server bytes in any state never panic.
    #[test]
    fn arbitrary_server_input(
        prefix in 0usize..4,
        input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
    ) {
        let now = Instant::now();
        let mut config = ClientConfig::default();
        config.starttls = prefix == 3;
        let mut c = ClientSession::new(config, now);
        if prefix >= 1 {
            c.receive(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 STARTTLS] hi\r\n", now);
        }
        if prefix == 2 {
            drain(&mut c);
            c.authenticate(xoauth2(), None, now);
        }
        c.receive(&input, now);
        drain(&mut c);
    }
}
