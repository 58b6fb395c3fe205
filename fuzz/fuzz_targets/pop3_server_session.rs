//! Drives the server session with an arbitrary sequence of operations: receive a
//! chunk, complete TLS, accept the pending login (with the default or an upstream
//! line), reject it (with plain text or text trying to inject a second line), in any
//! order and at any time. Never panics, every reply is one CRLF-terminated line or a
//! dot-terminated multi-line block, and nothing happens after the hand-off or close.
//! Inputs of odd length require TLS for logins: then no login happens before TLS, and
//! `CAPA` offers neither `USER` nor `SASL` until then.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::{ServerConfig, ServerEvent, ServerSession, StatusLine};

fuzz_target!(|data: &[u8]| {
    let config = ServerConfig {
        offer_stls: true,
        require_tls_for_auth: data.len() % 2 == 1,
        ..ServerConfig::default()
    };
    let require_tls = config.require_tls_for_auth;
    let mut session = ServerSession::new(config);
    let mut ops = data;
    let mut done = false;
    // A `Login` event was seen and neither accepted nor rejected yet.
    let mut awaiting_verdict = false;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        // The reply this operation must produce first, if it produces one.
        let mut verdict: Option<&[u8]> = None;
        let pending = std::mem::replace(&mut awaiting_verdict, false);
        match op % 8 {
            0 => {
                session.tls_established();
                awaiting_verdict = pending;
            }
            1 if op & 0x80 == 0 => {
                session.accept_login();
                verdict = pending.then_some(b"+OK".as_slice());
            }
            1 => {
                // An upstream `-ERR` line used as the welcome is still sent as `+OK`.
                session.accept_login_with(&StatusLine::err("upstream\r\n-ERR x"));
                verdict = pending.then_some(b"+OK".as_slice());
            }
            2 if op & 0x80 == 0 => {
                session.reject_login("no");
                verdict = pending.then_some(b"-ERR".as_slice());
            }
            2 => {
                session.reject_login("no\r\n+OK Logged in.");
                verdict = pending.then_some(b"-ERR".as_slice());
            }
            _ => {
                awaiting_verdict = pending;
                let n = usize::from(op / 8).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                session.receive(chunk);
                ops = rest;
            }
        }
        let capabilities = session.capabilities();
        // STLS is on offer exactly until TLS is active.
        let tls_active = !capabilities.contains("STLS");
        if require_tls && !tls_active {
            assert!(!capabilities.contains("USER") && !capabilities.contains("SASL"));
        }
        let mut budget = 10_000;
        while let Some(event) = session.poll_event() {
            budget -= 1;
            assert!(budget > 0, "poll_event does not terminate");
            assert!(!done, "event after hand-off or close: {event:?}");
            match event {
                ServerEvent::Send(bytes) => {
                    assert!(bytes.ends_with(b"\r\n"));
                    if let Some(prefix) = verdict.take() {
                        assert!(bytes.starts_with(prefix), "{bytes:?}");
                        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
                    }
                }
                ServerEvent::Login(creds) => {
                    assert!(!creds.username.is_empty());
                    assert!(tls_active || !require_tls, "a login before TLS");
                    awaiting_verdict = true;
                }
                ServerEvent::Authenticated { .. } | ServerEvent::Closed(_) => {
                    assert!(session.is_finished());
                    done = true;
                }
                _ => {}
            }
            verdict = None;
        }
        assert_eq!(done, session.is_finished());
    }
});
