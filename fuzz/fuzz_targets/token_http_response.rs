//! Feeds arbitrary bytes, split at an arbitrary point, to the HTTP response parser; a parsed
//! response re-encoded with `Content-Length` must parse to the same status and body, and token
//! response decoding must never panic.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_token::http::{ResponseLimits, ResponseParser};
use mailgate_token::oauth::TokenResponse;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut parser = ResponseParser::new(ResponseLimits::default());
    let parsed = match parser.push(&data[..split]) {
        Ok(Some(response)) => Some(response),
        Ok(None) => match parser.push(&data[split..]) {
            Ok(Some(response)) => Some(response),
            Ok(None) => parser.finish().ok(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    if let Some(response) = parsed {
        let _ = TokenResponse::from_response(&response);
        let mut wire = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n\r\n",
            response.status,
            response.body.len()
        )
        .into_bytes();
        wire.extend_from_slice(&response.body);
        let mut again = ResponseParser::new(ResponseLimits::default());
        if (100..200).contains(&response.status) || response.status == 204 || response.status == 304 {
            return;
        }
        let reparsed = again.push(&wire).unwrap().unwrap();
        assert_eq!(reparsed.status, response.status);
        assert_eq!(&reparsed.body[..], &response.body[..]);
    }
});
