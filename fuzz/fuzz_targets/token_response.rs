//! Feeds a token endpoint's answer (a status chosen by the first byte, then the body) to the
//! token response and error decoding (the serde types token requests are answered with).
//! Never panics; a token always has an access token; an OAuth 2.0 error object is honoured
//! whatever the status; decoding is deterministic.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_token::oauth::{TokenRequestError, TokenResponse};

const STATUSES: [u16; 8] = [200, 400, 401, 429, 500, 503, 302, 201];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = STATUSES[usize::from(selector % 8)];
    let first = TokenResponse::from_http(status, body);
    match &first {
        Ok(token) => {
            assert!((200..300).contains(&status));
            assert!(!token.access_token.expose().is_empty());
            let _ = token.expires_at(u64::MAX);
        }
        Err(TokenRequestError::ServerError { status: s }) => assert!(*s >= 400),
        Err(error) => {
            let _ = error.to_string();
            let _ = error.is_transient();
        }
    }
    let again = TokenResponse::from_http(status, body);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
});
