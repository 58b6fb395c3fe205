//! Drives the IMAP client session with an arbitrary sequence of server chunks, TLS
//! completions, `authenticate`, `forward` and `logout` calls (asked for or out of turn)
//! and time passing. Credentials are supplied whenever asked or after a rejection
//! (mechanism from byte 0). Never panics, every command ends with CRLF, and nothing
//! happens after the hand-off, logout or failure.
//! Byte 0: bit 0 requires STARTTLS, bit 1 uses SASL-IR, bits 2-3 choose the mechanism.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailgate_imap::session::{ClientConfig, ClientEvent, ClientSession};
use mailgate_sasl::{ClientExchange, SecretString};

fn exchange(selector: u8) -> ClientExchange {
    let token = SecretString::from("fuzz-token");
    match selector % 4 {
        0 => ClientExchange::xoauth2("u@example.com", token),
        1 => ClientExchange::oauthbearer("u@example.com", Some("h"), Some(993), token),
        2 => ClientExchange::plain(None, "u", token),
        _ => ClientExchange::login("u", token),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut ops)) = data.split_first() else {
        return;
    };
    let mut config = ClientConfig::default();
    config.starttls = mode & 1 != 0;
    config.use_sasl_ir = mode & 2 != 0;
    let mut now = Instant::now();
    let mut session = ClientSession::new(config, now);
    let mut done = false;
    let mut tries = 0;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op % 8 {
            0 if op & 0x40 != 0 => session.authenticate(exchange(op >> 4), None, now),
            0 => session.tls_established(now),
            1 => session.forward(b"f1 ID NIL\r\n", now),
            2 => session.logout(now),
            3 => {
                now += Duration::from_secs(u64::from(op));
                session.handle_timeout(now);
            }
            _ => {
                let n = usize::from(op / 2).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                session.receive(chunk, now);
                ops = rest;
            }
        }
        let mut budget = 10_000;
        while let Some(event) = session.poll_event() {
            budget -= 1;
            assert!(budget > 0, "poll_event does not terminate");
            assert!(!done, "event after the end: {event:?}");
            match event {
                ClientEvent::NeedCredentials | ClientEvent::Rejected(_) if tries < 4 => {
                    tries += 1;
                    session.authenticate(exchange(mode / 4), None, now);
                }
                ClientEvent::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
                ClientEvent::SendSecret(bytes) => assert!(bytes.expose().ends_with(b"\r\n")),
                ClientEvent::Authenticated { response, .. } => {
                    assert!(response.ends_with(b"\n"));
                    assert!(session.is_done());
                    done = true;
                }
                ClientEvent::LoggedOut | ClientEvent::Failed(_) => {
                    assert!(session.is_done());
                    done = true;
                }
                _ => {}
            }
        }
        let _ = (session.greeting(), session.capabilities().len(), session.poll_timeout());
    }
});
