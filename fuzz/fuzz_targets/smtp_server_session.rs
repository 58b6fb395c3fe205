//! Server session machine driven by an arbitrary sequence of client input and driver
//! actions (client chunks, TLS completion, a fixed or fuzzed upstream EHLO reply,
//! accept/reject at any time, time passing): never panics, output stays bounded, events
//! stay consistent.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::{EhloReply, Limits, ServerConfig, ServerEvent, ServerSession};

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let mut config = ServerConfig::new("proxy.test");
    config.starttls = data.first().is_some_and(|b| b & 1 == 1);
    config.require_tls_for_auth = data.first().is_some_and(|b| b & 2 == 2);
    config.limits = Limits {
        command_line: 64,
        auth_line: 256,
        commands: 50,
        ..Limits::default()
    };
    let mut s = ServerSession::new(config, now);
    let mut rest = data.get(1..).unwrap_or_default();
    let mut sent = 0usize;
    let mut done = false;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 8 {
            0..=3 => {
                let n = usize::from(op / 8).min(rest.len());
                s.receive(&rest[..n], now);
                rest = &rest[n..];
            }
            4 => s.tls_established(now),
            5 if op & 0x80 == 0 => s.set_capabilities(
                EhloReply::parse(b"250-up\r\n250-PIPELINING\r\n250 AUTH XOAUTH2\r\n").unwrap(),
            ),
            5 => {
                // The upstream's own EHLO reply, from the next bytes of the input.
                let n = usize::from(op & 0x78).min(rest.len());
                if let Some(ehlo) = EhloReply::parse(&rest[..n]) {
                    s.set_capabilities(ehlo);
                }
                rest = &rest[n..];
            }
            6 => {
                if op & 0x80 == 0 {
                    s.accept_auth()
                } else {
                    s.reject_auth(None)
                }
            }
            _ => {
                now += Duration::from_secs(u64::from(op));
                s.handle_timeout(now);
            }
        }
        while let Some(ev) = s.poll_event() {
            assert!(!done, "event after hand-off or close: {ev:?}");
            match ev {
                ServerEvent::Send(b) => {
                    assert!(b.ends_with(b"\r\n"));
                    sent += b.len();
                }
                ServerEvent::HandOff { .. } | ServerEvent::Close => done = true,
                _ => {}
            }
        }
        assert!(sent <= 64 * 1024 + data.len() * 64, "unbounded output");
    }
});
