//! Answers arbitrary server challenges (split at `\n`) with each client mechanism.
//! Byte 0 picks the mechanism (bits 0-1), whether an initial response is sent (bit 2),
//! whether a challenge arrives before the exchange starts (bit 3) and whether `start` is
//! called again after the first challenge (bit 4).
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_sasl::{
    ClientExchange, ClientStep, MAX_RAW_ERROR_LEN, Mechanism, ProviderError, SecretString,
    decode_base64,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let secret = SecretString::from("fuzz-token");
    let mut exchange = match mode % 4 {
        0 => ClientExchange::xoauth2("user@example.com", secret),
        1 => ClientExchange::oauthbearer("a,b=c", Some("host"), Some(993), secret),
        2 => ClientExchange::plain(None, "user", secret),
        _ => ClientExchange::login("user", secret),
    };
    let mechanism = exchange.mechanism();
    if mode & 8 != 0 {
        // A challenge before the exchange started is refused.
        assert_eq!(
            exchange.step(b"").unwrap_err(),
            mailgate_sasl::SaslError::ExchangeFinished
        );
    }
    let ir = exchange.start(mode & 4 != 0).unwrap();
    if let Some(ir) = ir {
        decode_base64(ir.expose().as_bytes()).unwrap();
    }
    for (i, challenge) in rest.split(|&b| b == b'\n').enumerate() {
        if mode & 16 != 0 && i == 1 {
            assert!(exchange.start(false).is_err(), "started twice");
        }
        let error = ProviderError::from_challenge(challenge);
        assert!(error.raw.len() <= MAX_RAW_ERROR_LEN);
        let _ = error.to_string();
        match exchange.step(challenge) {
            Ok(ClientStep::Respond(line)) => {
                decode_base64(line.expose().as_bytes()).unwrap();
            }
            Ok(ClientStep::ErrorChallenge { response, error: _ }) => match mechanism {
                Mechanism::XOAuth2 => assert_eq!(response, ""),
                Mechanism::OAuthBearer => assert_eq!(response, "AQ=="),
                other => panic!("{other} has no error challenge"),
            },
            Ok(_) => {}
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
