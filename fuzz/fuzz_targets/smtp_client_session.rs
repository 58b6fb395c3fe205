//! Client session machine driven by an arbitrary sequence of server input and driver
//! actions (server chunks, TLS completion, XOAUTH2/OAUTHBEARER/PLAIN/LOGIN credentials at
//! any time, time passing): never panics, events stay consistent, nothing happens after
//! the hand-off or failure.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailgate_sasl::{ClientExchange, SecretString};
use mailgate_smtp::{ClientConfig, ClientEvent, ClientSession};

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let mut config = ClientConfig::new("proxy.test");
    config.starttls = data.first().is_some_and(|b| b & 1 == 1);
    let mut c = ClientSession::new(config, now);
    let mut rest = data.get(1..).unwrap_or_default();
    let mut done = false;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 8 {
            0..=3 => {
                let n = usize::from(op / 8).min(rest.len());
                c.receive(&rest[..n], now);
                rest = &rest[n..];
            }
            4 => c.tls_established(now),
            5 if op & 0x80 == 0 => c.authenticate(
                ClientExchange::xoauth2("u@example.com", SecretString::from("t")),
                now,
            ),
            5 => c.authenticate(
                ClientExchange::plain(None, "u", SecretString::from("p")),
                now,
            ),
            6 if op & 0x80 == 0 => c.authenticate(
                ClientExchange::oauthbearer(
                    "u@example.com",
                    Some("h"),
                    Some(587),
                    SecretString::from("t"),
                ),
                now,
            ),
            6 => c.authenticate(ClientExchange::login("u", SecretString::from("p")), now),
            _ => {
                now += Duration::from_secs(u64::from(op));
                c.handle_timeout(now);
            }
        }
        while let Some(ev) = c.poll_event() {
            assert!(!done, "event after hand-off or failure: {ev:?}");
            if matches!(ev, ClientEvent::HandOff { .. } | ClientEvent::Failed(_)) {
                done = true;
            }
        }
        assert_eq!(done, c.is_done());
    }
});
