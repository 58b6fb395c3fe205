//! Drives the IMAP server session with an arbitrary sequence of operations: receive a
//! chunk, complete TLS, accept the pending login (with its own `OK` or an upstream
//! response), reject it (also with text trying to inject a second line), relay an upstream
//! response to a forwarded `ID`, let time pass, in any order and at any time. Never panics,
//! every reply ends with CRLF, a verdict's first line is the verdict (text with CR or LF
//! cannot add a line), a login never happens before TLS while STARTTLS is on offer, and
//! nothing happens after the hand-off or close.
//! Byte 0 chooses the configuration: bit 0 offers STARTTLS, bit 1 forwards `ID`, bit 2
//! forwards the other commands, bit 3 ends the session on a framing error. A rejection may
//! also be a temporary one (`NO [UNAVAILABLE]`).
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailgate_imap::session::{CloseReason, ServerConfig, ServerEvent, ServerSession};
use mailgate_imap::{Capability, CapabilityName};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut ops)) = data.split_first() else {
        return;
    };
    let mut config = ServerConfig::default();
    config.offer_starttls = mode & 1 != 0;
    config.forward_id = mode & 2 != 0;
    config.forward_other = mode & 4 != 0;
    config.close_on_framing_error = mode & 8 != 0;
    let mut now = Instant::now();
    let mut session = ServerSession::new(config, now);
    let mut done = false;
    let mut awaiting_verdict = false;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        // What the first line sent after this operation must contain.
        let mut verdict: Option<&str> = None;
        match op % 8 {
            0 => session.tls_established(now),
            1 if op & 0x80 == 0 => {
                session.accept_login();
                verdict =
                    std::mem::take(&mut awaiting_verdict).then_some(" OK LOGIN completed\r\n");
            }
            1 => {
                session.accept_login_with(b"* CAPABILITY IMAP4rev1\r\nx OK in\r\n".to_vec());
                awaiting_verdict = false;
            }
            2 if op & 0x40 != 0 => {
                let text = if op & 0x80 == 0 {
                    "no"
                } else {
                    "no\r\nx OK Logged in"
                };
                session.reject_login_temporarily(text, now);
                verdict = std::mem::take(&mut awaiting_verdict).then_some(" NO [UNAVAILABLE] no");
            }
            2 => {
                let text = if op & 0x80 == 0 {
                    "no"
                } else {
                    "no\r\nx OK Logged in"
                };
                session.reject_login(text, now);
                verdict = std::mem::take(&mut awaiting_verdict)
                    .then_some(" NO [AUTHENTICATIONFAILED] no");
            }
            3 => {
                let n = usize::from(op / 8).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                session.forward_response(chunk, now);
                ops = rest;
            }
            4 => {
                now += Duration::from_secs(u64::from(op) * 4);
                session.handle_timeout(now);
            }
            _ => {
                let n = usize::from(op / 8).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                session.receive(chunk, now);
                ops = rest;
            }
        }
        let tls_required = session
            .capabilities()
            .contains(&Capability::Name(CapabilityName::LoginDisabled));
        let mut budget = 10_000;
        while let Some(event) = session.poll_event() {
            budget -= 1;
            assert!(budget > 0, "poll_event does not terminate");
            assert!(!done, "event after hand-off or close: {event:?}");
            match event {
                ServerEvent::Send(bytes) => {
                    assert!(bytes.ends_with(b"\r\n"), "{bytes:?}");
                    if let Some(expected) = verdict.take() {
                        let end = bytes.iter().position(|&b| b == b'\n').unwrap_or(0);
                        let first = String::from_utf8_lossy(&bytes[..=end]);
                        assert!(first.contains(expected), "{first:?}");
                        assert!(!bytes.windows(16).any(|w| w == b"\r\nx OK Logged in"));
                    }
                }
                ServerEvent::Login { credentials, .. } => {
                    assert!(!tls_required, "a login before TLS");
                    let _ = credentials.username.len();
                    awaiting_verdict = true;
                }
                ServerEvent::Forward { message, .. } => assert!(message.ends_with(b"\n")),
                ServerEvent::Authenticated { .. } | ServerEvent::Closed(_) => {
                    if event == ServerEvent::Closed(CloseReason::InvalidInput) {
                        assert!(mode & 8 != 0 && session.invalid_input().is_some());
                    }
                    assert!(session.is_done());
                    done = true;
                }
                _ => {}
            }
        }
        assert_eq!(done, session.is_done());
    }
});
