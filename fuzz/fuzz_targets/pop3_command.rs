//! Parses arbitrary command lines; whatever parses must encode and parse back equal.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::Command;

fuzz_target!(|line: &[u8]| {
    if let Ok(command) = Command::parse(line) {
        let bytes = command.to_bytes();
        assert!(bytes.ends_with(b"\r\n"));
        let again = Command::parse(&bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(again, command);
        let _ = command.has_multiline_response();
    }
});
