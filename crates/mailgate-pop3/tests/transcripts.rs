//! Whole-session transcripts. `S:` lines are what the server sends, `C:` lines what
//! the client sends; `TLS` marks the handshake after STLS. Directive lines start
//! with `=`. For the client session (the proxy upstream) `S:` lines are input and
//! `C:` lines are expected output; for the server session (the proxy towards a
//! local client) it is the other way round.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_pop3::{
    ClientConfig, ClientEvent, ClientFailure, ClientSession, ServerConfig, ServerEvent,
    ServerSession,
};
use mailgate_sasl::{ClientExchange, SecretString, encode_base64};

/// Splits a transcript into (direction, bytes-with-CRLF) steps.
fn steps(script: &str) -> Vec<(String, Vec<u8>)> {
    script
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(": ") {
            Some((dir @ ("S" | "C"), rest)) => (dir.to_owned(), format!("{rest}\r\n").into_bytes()),
            _ if l == "S:" || l == "C:" => (l[..1].to_owned(), b"\r\n".to_vec()),
            _ => (l.to_owned(), Vec::new()),
        })
        .collect()
}

/// Drives a client session through a transcript. Returns the final event.
fn run_client(config: ClientConfig, exchange: ClientExchange, script: &str) -> ClientEvent {
    let mut session = ClientSession::new(config);
    let mut exchange = Some(exchange);
    let mut sent: Vec<u8> = Vec::new();
    let mut last = None;
    let mut pump =
        |session: &mut ClientSession, sent: &mut Vec<u8>, last: &mut Option<ClientEvent>| {
            while let Some(event) = session.poll_event() {
                match event {
                    ClientEvent::Send(b) => sent.extend(b),
                    ClientEvent::SendSecret(b) => sent.extend(b.expose()),
                    ClientEvent::NeedCredentials => session.authenticate(exchange.take().unwrap()),
                    other => *last = Some(other),
                }
            }
        };
    for (dir, bytes) in steps(script) {
        match dir.as_str() {
            "S" => {
                session.receive(&bytes);
                pump(&mut session, &mut sent, &mut last);
            }
            "C" => {
                let n = bytes.len().min(sent.len());
                assert_eq!(
                    String::from_utf8_lossy(&sent[..n]),
                    String::from_utf8_lossy(&bytes),
                    "client sent something else"
                );
                sent.drain(..n);
            }
            "TLS" => {
                assert_eq!(last.take(), Some(ClientEvent::StartTls));
                session.tls_established();
                pump(&mut session, &mut sent, &mut last);
            }
            other => panic!("unknown directive {other}"),
        }
    }
    assert!(
        sent.is_empty(),
        "unexpected client output {:?}",
        String::from_utf8_lossy(&sent)
    );
    last.expect("session ended without outcome")
}

/// Drives a server session through a transcript. `= ACCEPT` / `= REJECT text`
/// answer the pending login; `= LOGIN user password` checks it.
fn run_server(config: ServerConfig, script: &str) -> Vec<ServerEvent> {
    let mut session = ServerSession::new(config);
    let mut sent: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let pump = |session: &mut ServerSession, sent: &mut Vec<u8>, events: &mut Vec<ServerEvent>| {
        while let Some(event) = session.poll_event() {
            match event {
                ServerEvent::Send(b) => sent.extend(b),
                other => events.push(other),
            }
        }
    };
    pump(&mut session, &mut sent, &mut events);
    for (dir, bytes) in steps(script) {
        match dir.as_str() {
            "C" => {
                session.receive(&bytes);
                pump(&mut session, &mut sent, &mut events);
            }
            "S" => {
                let n = bytes.len().min(sent.len());
                assert_eq!(
                    String::from_utf8_lossy(&sent[..n]),
                    String::from_utf8_lossy(&bytes),
                    "server sent something else"
                );
                sent.drain(..n);
            }
            "TLS" => {
                assert_eq!(events.pop(), Some(ServerEvent::StartTls));
                session.tls_established();
                pump(&mut session, &mut sent, &mut events);
            }
            d if d.starts_with("= LOGIN ") => {
                let mut words = d["= LOGIN ".len()..].splitn(2, ' ');
                let (user, pass) = (words.next().unwrap(), words.next().unwrap());
                match events.pop() {
                    Some(ServerEvent::Login(c)) => {
                        assert_eq!(
                            (c.username.as_str(), c.password.expose().as_str()),
                            (user, pass)
                        );
                    }
                    other => panic!("expected a login, got {other:?}"),
                }
            }
            "= ACCEPT" => {
                session.accept_login();
                pump(&mut session, &mut sent, &mut events);
            }
            d if d.starts_with("= REJECT ") => {
                session.reject_login(&d["= REJECT ".len()..]);
                pump(&mut session, &mut sent, &mut events);
            }
            other => panic!("unknown directive {other}"),
        }
    }
    assert!(
        sent.is_empty(),
        "unexpected server output {:?}",
        String::from_utf8_lossy(&sent)
    );
    events
}

const RFC7628_ERROR: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";

#[test]
fn dovecot_upstream_stls_then_oauthbearer_failure() {
    let exchange = ClientExchange::oauthbearer(
        "user@example.com",
        Some("pop.example.com"),
        Some(110),
        SecretString::from("expired-token"),
    );
    let ir = exchange.initial_response_base64().unwrap();
    let script = format!(
        "
        S: +OK Dovecot ready.
        C: CAPA
        S: +OK
        S: CAPA
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: PIPELINING
        S: AUTH-RESP-CODE
        S: STLS
        S: USER
        S: SASL PLAIN LOGIN OAUTHBEARER XOAUTH2
        S: .
        C: STLS
        S: +OK Begin TLS negotiation now.
        TLS
        C: CAPA
        S: +OK
        S: CAPA
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: PIPELINING
        S: AUTH-RESP-CODE
        S: USER
        S: SASL PLAIN LOGIN OAUTHBEARER XOAUTH2
        S: .
        C: AUTH OAUTHBEARER {}
        S: + {RFC7628_ERROR}
        C: AQ==
        S: -ERR [AUTH] Authentication failed.
        ",
        ir.expose()
    );
    let config = ClientConfig {
        starttls: true,
        ..ClientConfig::default()
    };
    match run_client(config, exchange, &script) {
        ClientEvent::Failed(ClientFailure::AuthFailed {
            reply,
            provider_error,
        }) => {
            assert_eq!(reply.code, Some(mailgate_pop3::ResponseCode::Auth));
            let e = provider_error.unwrap();
            assert_eq!(e.status.as_deref(), Some("invalid_token"));
            assert_eq!(e.scope.as_deref(), Some("example_scope"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn office365_upstream_stls_then_xoauth2_failure_without_challenge() {
    // A real token is longer than fits in 255 octets, so no initial response.
    let token = SecretString::from(format!("EwBAA{}", "x".repeat(400)));
    let exchange = ClientExchange::xoauth2("user@contoso.onmicrosoft.com", token);
    let response = exchange.initial_response_base64().unwrap();
    let script = format!(
        "
        S: +OK The Microsoft Exchange POP3 service is ready. [UABBADAAUAAyADcAOAA=]
        C: CAPA
        S: +OK
        S: TOP
        S: UIDL
        S: SASL PLAIN XOAUTH2
        S: USER
        S: STLS
        S: .
        C: STLS
        S: +OK Begin starttls negotiation.
        TLS
        C: CAPA
        S: +OK
        S: TOP
        S: UIDL
        S: SASL PLAIN XOAUTH2
        S: USER
        S: .
        C: AUTH XOAUTH2
        S: +
        C: {}
        S: -ERR Authentication failure: unknown user name or bad password.
        ",
        response.expose()
    );
    let config = ClientConfig {
        starttls: true,
        ..ClientConfig::default()
    };
    match run_client(config, exchange, &script) {
        ClientEvent::Failed(failure @ ClientFailure::AuthFailed { .. }) => {
            let ClientFailure::AuthFailed {
                reply,
                provider_error,
            } = &failure
            else {
                unreachable!()
            };
            assert_eq!(provider_error, &None);
            assert_eq!(
                reply.text,
                "Authentication failure: unknown user name or bad password."
            );
            assert!(failure.to_string().contains("bad password"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gmail_upstream_xoauth2_success_and_hand_off() {
    let exchange = ClientExchange::xoauth2(
        "someuser@example.com",
        SecretString::from("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
    );
    let script = "
        S: +OK Gpop ready for requests from 192.0.2.1 a1b2c3
        C: CAPA
        S: +OK Capability list follows
        S: USER
        S: RESP-CODES
        S: EXPIRE 0
        S: LOGIN-DELAY 300
        S: TOP
        S: UIDL
        S: X-GOOGLE-RICO
        S: SASL PLAIN XOAUTH2 OAUTHBEARER
        S: .
        C: AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==
        S: +OK Welcome.
    ";
    assert_eq!(
        run_client(ClientConfig::default(), exchange, script),
        ClientEvent::Authenticated {
            buffered: Vec::new()
        }
    );
}

#[test]
fn outlook_like_local_client_stls_user_pass_failure_then_success() {
    let config = ServerConfig {
        greeting: "mailgate POP3 proxy ready".into(),
        offer_stls: true,
        ..ServerConfig::default()
    };
    let events = run_server(
        config,
        "
        S: +OK mailgate POP3 proxy ready
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: SASL PLAIN LOGIN
        S: USER
        S: STLS
        S: .
        C: STLS
        S: +OK Begin TLS negotiation now.
        TLS
        C: CAPA
        S: +OK Capability list follows
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: AUTH-RESP-CODE
        S: PIPELINING
        S: SASL PLAIN LOGIN
        S: USER
        S: .
        C: USER user@example.com
        S: +OK
        C: PASS wrong password
        = LOGIN user@example.com wrong password
        = REJECT Authentication failed.
        S: -ERR [AUTH] Authentication failed.
        C: USER user@example.com
        S: +OK
        C: PASS right
        = LOGIN user@example.com right
        = ACCEPT
        S: +OK Logged in.
        ",
    );
    assert_eq!(
        events,
        [ServerEvent::Authenticated {
            pipelined: Vec::new()
        }]
    );
}

#[test]
fn thunderbird_like_local_client_auth_plain_and_login() {
    let plain = encode_base64(b"\0user@example.com\0secret");
    let events = run_server(
        ServerConfig::default(),
        &format!(
            "
            S: +OK POP3 server ready
            C: CAPA
            S: +OK Capability list follows
            S: TOP
            S: UIDL
            S: RESP-CODES
            S: AUTH-RESP-CODE
            S: PIPELINING
            S: SASL PLAIN LOGIN
            S: USER
            S: .
            C: AUTH XOAUTH2
            S: -ERR Unsupported authentication mechanism.
            C: AUTH PLAIN {plain}
            = LOGIN user@example.com secret
            = REJECT Invalid credentials.
            S: -ERR [AUTH] Invalid credentials.
            C: AUTH LOGIN
            S: + VXNlcm5hbWU6
            C: dXNlckBleGFtcGxlLmNvbQ==
            S: + UGFzc3dvcmQ6
            C: *
            S: -ERR Authentication cancelled.
            C: AUTH LOGIN
            S: + VXNlcm5hbWU6
            C: dXNlckBleGFtcGxlLmNvbQ==
            S: + UGFzc3dvcmQ6
            C: c2VjcmV0
            = LOGIN user@example.com secret
            C: STAT
            = ACCEPT
            S: +OK Logged in.
            "
        ),
    );
    assert_eq!(
        events,
        [ServerEvent::Authenticated {
            pipelined: b"STAT\r\n".to_vec()
        }]
    );
}

/// The client session logs in to the server session: both machines agree.
#[test]
fn client_and_server_sessions_talk_to_each_other() {
    let mut server = ServerSession::new(ServerConfig::default());
    let mut client = ClientSession::new(ClientConfig::default());
    let mut exchange = Some(ClientExchange::plain(None, "tim", SecretString::from("pw")));
    let (mut to_client, mut to_server) = (Vec::new(), Vec::new());
    let (mut client_done, mut server_done) = (None, None);
    for _ in 0..20 {
        while let Some(e) = server.poll_event() {
            match e {
                ServerEvent::Send(b) => to_client.extend(b),
                ServerEvent::Login(c) => {
                    assert_eq!(c.username, "tim");
                    server.accept_login();
                }
                other => server_done = Some(other),
            }
        }
        client.receive(&std::mem::take(&mut to_client));
        while let Some(e) = client.poll_event() {
            match e {
                ClientEvent::Send(b) => to_server.extend(b),
                ClientEvent::SendSecret(b) => to_server.extend(b.expose()),
                ClientEvent::NeedCredentials => client.authenticate(exchange.take().unwrap()),
                other => client_done = Some(other),
            }
        }
        server.receive(&std::mem::take(&mut to_server));
    }
    assert_eq!(
        client_done,
        Some(ClientEvent::Authenticated {
            buffered: Vec::new()
        })
    );
    assert_eq!(
        server_done,
        Some(ServerEvent::Authenticated {
            pipelined: Vec::new()
        })
    );
}
