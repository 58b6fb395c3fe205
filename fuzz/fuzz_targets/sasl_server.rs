//! Feeds an arbitrary sequence of client responses (split at `\n`) into the PLAIN
//! and LOGIN server exchanges. Byte 0 picks the mechanism (bit 0), whether the first
//! response is an initial response (bit 1), whether a response arrives before the
//! exchange starts (bit 2), whether `start` is called again mid-exchange (bit 3), and
//! the response length limit (bits 4-7).
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_sasl::{Mechanism, SaslError, ServerExchange, ServerStep, decode_plain, encode_plain};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mechanism = if mode & 1 == 0 {
        Mechanism::Plain
    } else {
        Mechanism::Login
    };
    let max_response_len = match mode >> 4 {
        0 => 4096,
        n => usize::from(n) * 8,
    };
    let mut exchange = ServerExchange::new(mechanism)
        .unwrap()
        .with_max_response_len(max_response_len);
    assert_eq!(exchange.mechanism(), mechanism);
    let mut parts = rest.split(|&b| b == b'\n');
    if mode & 4 != 0 {
        // A response before the exchange started is refused and changes nothing.
        assert_eq!(
            exchange.step(b"dXNlcg==").unwrap_err(),
            SaslError::ExchangeFinished
        );
        assert!(!exchange.is_finished());
    }
    let initial = if mode & 2 != 0 { parts.next() } else { None };
    let mut result = exchange.start(initial);
    for (i, part) in parts.enumerate() {
        if mode & 8 != 0 && i == 1 {
            // Starting twice is refused and leaves the exchange where it was.
            let finished = exchange.is_finished();
            assert_eq!(
                exchange.start(None).unwrap_err(),
                SaslError::ExchangeFinished
            );
            assert_eq!(exchange.is_finished(), finished);
        }
        if exchange.is_finished() {
            assert_eq!(
                exchange.step(part).unwrap_err(),
                SaslError::ExchangeFinished
            );
            continue;
        }
        assert!(matches!(result, Ok(ServerStep::Challenge(_))));
        result = exchange.step(part);
    }
    match result {
        Ok(ServerStep::Done(creds)) => {
            assert!(exchange.is_finished());
            assert!(!creds.username.is_empty());
            assert!(!creds.username.contains('\0'));
            assert!(!creds.password.expose().is_empty());
            // The credentials survive a PLAIN round trip.
            let message = encode_plain(
                creds.authzid.as_deref(),
                &creds.username,
                creds.password.expose(),
            );
            assert_eq!(decode_plain(message.expose()).unwrap(), creds);
        }
        Ok(ServerStep::Challenge(c)) => assert!(!exchange.is_finished() || c.raw().is_empty()),
        Ok(_) => {}
        Err(e) => {
            assert!(exchange.is_finished());
            let _ = e.to_string();
        }
    }
});
