//! Drives the client session with an arbitrary sequence of server chunks, TLS
//! completions and unsolicited `authenticate` calls; credentials are supplied whenever
//! asked (mechanism from byte 0). Never panics, every command is CRLF-terminated, and
//! nothing happens after the hand-off or failure.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::{ClientConfig, ClientEvent, ClientSession};
use mailgate_sasl::{ClientExchange, SecretString};

fn exchange(selector: u8) -> ClientExchange {
    let token = SecretString::from("fuzz-token");
    match selector % 4 {
        0 => ClientExchange::xoauth2("u@example.com", token),
        1 => ClientExchange::oauthbearer("u@example.com", Some("h"), Some(995), token),
        2 => ClientExchange::plain(None, "u", token),
        _ => ClientExchange::login("u", token),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut ops)) = data.split_first() else {
        return;
    };
    let config = ClientConfig {
        starttls: mode & 1 != 0,
        use_initial_response: mode & 2 != 0,
        ..ClientConfig::default()
    };
    let mut session = ClientSession::new(config);
    let mut done = false;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        if op % 8 == 0 && op & 0x40 != 0 {
            // Out of turn: ignored unless the session asked for credentials.
            session.authenticate(exchange(op >> 4));
        } else if op % 8 == 0 {
            session.tls_established();
        } else {
            let n = usize::from(op / 2).min(ops.len());
            let (chunk, rest) = ops.split_at(n);
            session.receive(chunk);
            ops = rest;
        }
        let mut budget = 10_000;
        while let Some(event) = session.poll_event() {
            budget -= 1;
            assert!(budget > 0, "poll_event does not terminate");
            assert!(!done, "event after hand-off or failure: {event:?}");
            match event {
                ClientEvent::NeedCredentials => session.authenticate(exchange(mode / 4)),
                ClientEvent::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
                ClientEvent::SendSecret(bytes) => assert!(bytes.expose().ends_with(b"\r\n")),
                ClientEvent::Authenticated { .. } | ClientEvent::Failed(_) => {
                    assert!(session.is_finished());
                    done = true;
                }
                _ => {}
            }
        }
        let _ = (session.greeting(), session.capabilities().len());
    }
});
