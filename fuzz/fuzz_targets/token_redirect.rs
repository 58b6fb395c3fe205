//! Validates arbitrary redirect targets against an authorization request; must never panic,
//! and a redirect built from the request's own state and a code must yield that code.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_token::oauth::{AuthorizationRequest, oauth2_url_escape};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let request = AuthorizationRequest::new(
        "https://login.example/authorize",
        "client",
        Some("http://localhost:8080/"),
        Some("scope"),
        "user@example.com",
        true,
    )
    .unwrap();
    let _ = request.parse_redirect(text);
    // Round trip: a code escaped twice (the reference decodes it twice) comes back unchanged.
    if !text.is_empty() {
        let code = oauth2_url_escape(&oauth2_url_escape(text));
        let redirect = format!("/?code={code}&state={}", request.state);
        let parsed = request.parse_redirect(&redirect).unwrap();
        assert_eq!(parsed.expose(), text);
    }
});
