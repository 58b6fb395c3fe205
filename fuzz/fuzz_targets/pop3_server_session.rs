//! Drives the server session with an arbitrary sequence of operations: receive a
//! chunk, complete TLS, accept or reject the pending login.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::{ServerConfig, ServerEvent, ServerSession};

fuzz_target!(|data: &[u8]| {
    let mut config = ServerConfig::default();
    config.offer_stls = true;
    let mut session = ServerSession::new(config);
    let mut ops = data;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op % 8 {
            0 => session.tls_established(),
            1 => session.accept_login(),
            2 => session.reject_login("no"),
            _ => {
                let n = usize::from(op / 8).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                session.receive(chunk);
                ops = rest;
            }
        }
        let mut budget = 10_000;
        while let Some(event) = session.poll_event() {
            budget -= 1;
            assert!(budget > 0, "poll_event does not terminate");
            match event {
                ServerEvent::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
                ServerEvent::Login(creds) => assert!(!creds.username.is_empty()),
                ServerEvent::Authenticated { .. } | ServerEvent::Closed(_) => {
                    assert!(session.is_finished());
                }
                _ => {}
            }
        }
    }
});
