//! emailproxy.config parsing never panics; parse → write → parse is stable and
//! lossless; the typed model, catch-all resolution and token edits never panic.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_token::config::{CacheChanges, CacheKey, IniDocument, ProxyConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut document) = IniDocument::parse(text) else {
        return;
    };
    let written = document.to_string();
    assert_eq!(
        written, text,
        "unchanged documents write back byte for byte"
    );
    assert_eq!(IniDocument::parse(&written).unwrap(), document);

    if let Ok(config) = ProxyConfig::from_document(&document) {
        let accounts: Vec<String> = config.accounts().map(str::to_owned).collect();
        for account in accounts.iter().chain([&"someone@example.com".to_owned()]) {
            let _ = config.resolve_account(account);
            let _ = config.account_cache(account);
        }
    }

    let sections: Vec<String> = document.sections().map(str::to_owned).collect();
    let mut changes = CacheChanges::new();
    changes
        .set(CacheKey::AccessToken, "gAAAA-fuzz")
        .remove(CacheKey::RefreshToken);
    for section in sections
        .iter()
        .take(4)
        .chain([&"new@example.com".to_owned()])
    {
        if document.apply(section, &changes).is_ok() {
            let edited = document.to_string();
            let reparsed = IniDocument::parse(&edited).expect("edits keep the document valid");
            assert_eq!(reparsed, document);
            assert_eq!(
                document.get_own(section, "access_token"),
                Some("gAAAA-fuzz")
            );
        }
    }
});
