//! SMTP command parser: never panics; whatever parses re-encodes to a line that parses
//! to the same command.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::Command;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let bytes = cmd.to_bytes();
        let again = Command::parse(&bytes[..bytes.len() - 2]).expect("re-encoded command parses");
        assert_eq!(again, cmd);
    }
});
