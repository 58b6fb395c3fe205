//! Transcript tests of the client session: the proxy logging in upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use mailgate_sasl::{ClientExchange, SecretString};
use mailgate_smtp::{Capability, ClientConfig, ClientError, ClientEvent, ClientSession, Stage};

const O365_GREETING: &[u8] = b"220 BN9PR03CA0123.outlook.office365.com Microsoft ESMTP MAIL Service ready at Sat, 28 Nov 2026 17:00:00 +0000\r\n";
const O365_EHLO_PLAIN: &[u8] = b"250-BN9PR03CA0123.outlook.office365.com Hello [203.0.113.5]\r\n\
250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n\
250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";
const O365_EHLO_TLS: &[u8] = b"250-BN9PR03CA0123.outlook.office365.com Hello [203.0.113.5]\r\n\
250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n\
250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";
/// base64 of {"status":"401","schemes":"bearer","scope":"https://outlook.office365.com/SMTP.Send"}
const JSON_CHALLENGE: &str = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbS9TTVRQLlNlbmQifQ==";

fn sent(c: &mut ClientSession) -> Vec<u8> {
    match c.poll_event() {
        Some(ClientEvent::Send(b)) => b,
        Some(ClientEvent::SendSecret(b)) => b.expose().clone(),
        other => panic!("expected Send, got {other:?}"),
    }
}

fn starttls_config() -> ClientConfig {
    let mut c = ClientConfig::new("proxy.local");
    c.starttls = true;
    c
}

/// Office 365 style: greeting, EHLO, STARTTLS, EHLO again, AUTH XOAUTH2 refused through
/// the JSON error challenge, answered with an empty line, then 535 5.7.8.
#[test]
fn office365_starttls_xoauth2_error_challenge() {
    let now = Instant::now();
    let mut c = ClientSession::new(starttls_config(), now);
    assert!(c.poll_event().is_none());
    // The greeting may arrive in pieces.
    c.receive(&O365_GREETING[..10], now);
    assert!(c.poll_event().is_none());
    c.receive(&O365_GREETING[10..], now);
    assert_eq!(sent(&mut c), b"EHLO proxy.local\r\n");
    c.receive(O365_EHLO_PLAIN, now);
    assert_eq!(sent(&mut c), b"STARTTLS\r\n");
    c.receive(b"220 2.0.0 SMTP server ready\r\n", now);
    assert!(matches!(c.poll_event(), Some(ClientEvent::StartTls)));
    assert!(c.poll_event().is_none());
    c.tls_established(now);
    assert_eq!(sent(&mut c), b"EHLO proxy.local\r\n");
    c.receive(O365_EHLO_TLS, now);
    let Some(ClientEvent::Capabilities(ehlo)) = c.poll_event() else {
        panic!()
    };
    assert!(ehlo.supports_auth("XOAUTH2"));
    assert!(!ehlo.has(&Capability::StartTls));
    assert_eq!(ehlo.size(), Some(157_286_400));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::NeedAuthentication)
    ));
    c.authenticate(
        ClientExchange::xoauth2("user@contoso.com", SecretString::from("expired")),
        now,
    );
    let auth = sent(&mut c);
    assert_eq!(
        auth,
        b"AUTH XOAUTH2 dXNlcj11c2VyQGNvbnRvc28uY29tAWF1dGg9QmVhcmVyIGV4cGlyZWQBAQ==\r\n"
    );
    c.receive(format!("334 {JSON_CHALLENGE}\r\n").as_bytes(), now);
    // XOAUTH2 error challenge: answered with an empty line.
    assert_eq!(sent(&mut c), b"\r\n");
    c.receive(b"535 5.7.8 Authentication unsuccessful\r\n", now);
    let Some(ClientEvent::Failed(err)) = c.poll_event() else {
        panic!()
    };
    let ClientError::AuthRejected {
        reply,
        provider_error,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(reply.code, 535);
    assert_eq!(
        reply.status.map(|s| s.to_string()).as_deref(),
        Some("5.7.8")
    );
    let p = provider_error.as_ref().unwrap();
    assert_eq!(p.status.as_deref(), Some("401"));
    assert_eq!(
        p.scope.as_deref(),
        Some("https://outlook.office365.com/SMTP.Send")
    );
    let message = err.to_string();
    assert!(
        message.starts_with("authentication rejected: 535 5.7.8 Authentication unsuccessful"),
        "{message}"
    );
    assert!(message.contains("401"), "{message}");
    assert!(c.is_done());
    assert!(c.poll_event().is_none());
}

/// A server that sends another challenge where the final reply belongs (after the answer to
/// the error challenge) broke the exchange: it is cancelled with `*`, and the failure is the
/// exchange's, not a refusal of the credentials (the proxy keeps the token).
#[test]
fn a_challenge_after_the_error_challenge_is_cancelled() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::new("proxy.local"), now).with_tls_active();
    c.receive(b"220 ready\r\n", now);
    assert_eq!(sent(&mut c), b"EHLO proxy.local\r\n");
    c.receive(b"250-fake.upstream\r\n250 AUTH XOAUTH2\r\n", now);
    assert!(matches!(c.poll_event(), Some(ClientEvent::Capabilities(_))));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::NeedAuthentication)
    ));
    c.authenticate(
        ClientExchange::xoauth2("user@contoso.com", SecretString::from("t")),
        now,
    );
    sent(&mut c);
    c.receive(format!("334 {JSON_CHALLENGE}\r\n").as_bytes(), now);
    assert_eq!(sent(&mut c), b"\r\n");
    c.receive(b"334 bW9yZQ==\r\n", now);
    assert_eq!(sent(&mut c), b"*\r\n");
    assert!(c.poll_event().is_none());
    c.receive(b"501 5.7.0 Exchange aborted\r\n", now);
    let Some(ClientEvent::Failed(err)) = c.poll_event() else {
        panic!()
    };
    assert!(matches!(err, ClientError::Sasl(_)), "{err:?}");
}

/// Gmail style: implicit TLS, multi-line greeting, OAUTHBEARER error answered with 0x01.
#[test]
fn gmail_oauthbearer_error_challenge() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::new("proxy.local"), now).with_tls_active();
    c.receive(b"220-smtp.gmail.com ESMTP\r\n220 ready\r\n", now);
    assert_eq!(sent(&mut c), b"EHLO proxy.local\r\n");
    c.receive(
        b"250-smtp.gmail.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n\
250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n\
250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
        now,
    );
    assert!(matches!(c.poll_event(), Some(ClientEvent::Capabilities(_))));
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::NeedAuthentication)
    ));
    c.authenticate(
        ClientExchange::oauthbearer(
            "someuser@example.com",
            Some("smtp.gmail.com"),
            Some(465),
            SecretString::from("t"),
        ),
        now,
    );
    assert!(sent(&mut c).starts_with(
        b"AUTH OAUTHBEARER bixhPXNvbWV1c2VyQGV4YW1wbGUuY29tLAFob3N0PXNtdHAuZ21haWwuY29t"
    ));
    c.receive(b"334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n", now);
    assert_eq!(sent(&mut c), b"AQ==\r\n");
    c.receive(
        b"535-5.7.8 Username and Password not accepted. For more information, go to\r\n\
535 5.7.8  https://support.google.com/mail/?p=BadCredentials\r\n",
        now,
    );
    let Some(ClientEvent::Failed(ClientError::AuthRejected {
        reply,
        provider_error,
    })) = c.poll_event()
    else {
        panic!()
    };
    assert_eq!(reply.lines.len(), 2);
    assert_eq!(
        provider_error.unwrap().status.as_deref(),
        Some("invalid_token")
    );
}

#[test]
fn success_hands_off_with_pending_bytes() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::new("p"), now).with_tls_active();
    c.receive(b"220 x\r\n", now);
    sent(&mut c);
    c.receive(b"250-x\r\n250 AUTH XOAUTH2\r\n", now);
    c.poll_event();
    c.poll_event();
    c.authenticate(ClientExchange::xoauth2("u", SecretString::from("t")), now);
    sent(&mut c);
    c.receive(b"235 2.7.0 Accepted\r\n", now);
    assert!(matches!(c.poll_event(), Some(ClientEvent::Authenticated)));
    let Some(ClientEvent::HandOff { pending }) = c.poll_event() else {
        panic!()
    };
    assert!(pending.is_empty());
    assert!(c.is_done() && c.poll_timeout().is_none());
}

#[test]
fn login_exchange_upstream() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::new("p"), now);
    c.receive(b"220 x\r\n", now);
    sent(&mut c);
    c.receive(b"250-x\r\n250 AUTH=LOGIN\r\n", now);
    c.poll_event();
    c.poll_event();
    c.authenticate(
        ClientExchange::login("tim", SecretString::from("secret")),
        now,
    );
    assert_eq!(sent(&mut c), b"AUTH LOGIN\r\n");
    c.receive(b"334 VXNlcm5hbWU6\r\n", now);
    assert_eq!(sent(&mut c), b"dGlt\r\n");
    c.receive(b"334 UGFzc3dvcmQ6\r\n", now);
    assert_eq!(sent(&mut c), b"c2VjcmV0\r\n");
    c.receive(b"235 ok\r\n", now);
    assert!(matches!(c.poll_event(), Some(ClientEvent::Authenticated)));
}

#[test]
fn failures() {
    let now = Instant::now();
    type Script = (&'static [&'static [u8]], fn(&ClientError) -> bool);
    let rows: Vec<Script> = vec![
        (&[b"554 go away\r\n"], |e| {
            matches!(
                e,
                ClientError::Rejected {
                    stage: Stage::Greeting,
                    ..
                }
            )
        }),
        (&[b"220 x\r\n", b"502 no EHLO\r\n"], |e| {
            matches!(
                e,
                ClientError::Rejected {
                    stage: Stage::Ehlo,
                    ..
                }
            )
        }),
        // STARTTLS stripped from the EHLO reply: refuse to continue in plaintext.
        (&[b"220 x\r\n", b"250-x\r\n250 AUTH PLAIN\r\n"], |e| {
            *e == ClientError::StartTlsUnavailable
        }),
        (
            &[
                b"220 x\r\n",
                b"250-x\r\n250 STARTTLS\r\n",
                b"454 4.7.0 TLS not available\r\n",
            ],
            |e| matches!(e, ClientError::Rejected { stage: Stage::StartTls, reply } if reply.code == 454),
        ),
        // Response injection: data behind the STARTTLS reply.
        (
            &[
                b"220 x\r\n",
                b"250-x\r\n250 STARTTLS\r\n",
                b"220 go ahead\r\n250 injected\r\n",
            ],
            |e| *e == ClientError::UnexpectedData,
        ),
        // Unsolicited data while nothing is outstanding.
        (&[b"220 x\r\n220 again\r\n"], |e| {
            *e == ClientError::UnexpectedData
        }),
        (&[b"hello\r\n"], |e| matches!(e, ClientError::Protocol(_))),
    ];
    for (i, (script, check)) in rows.iter().enumerate() {
        let mut c = ClientSession::new(starttls_config(), now);
        let mut failure = None;
        for chunk in *script {
            c.receive(chunk, now);
            while let Some(ev) = c.poll_event() {
                if let ClientEvent::Failed(e) = ev {
                    failure = Some(e);
                }
            }
        }
        let e = failure.unwrap_or_else(|| panic!("row {i}: no failure"));
        assert!(check(&e), "row {i}: {e:?}");
        assert!(c.is_done());
    }
}

#[test]
fn timeout_and_misuse() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::new("p"), now);
    let deadline = c.poll_timeout().unwrap();
    c.handle_timeout(deadline - Duration::from_secs(1));
    assert!(c.poll_event().is_none());
    c.handle_timeout(deadline);
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Failed(ClientError::Timeout))
    ));

    let mut c = ClientSession::new(ClientConfig::new("p"), now);
    c.authenticate(ClientExchange::xoauth2("u", SecretString::from("t")), now);
    assert!(matches!(
        c.poll_event(),
        Some(ClientEvent::Failed(ClientError::Misuse))
    ));
}
