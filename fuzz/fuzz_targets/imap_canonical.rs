//! Fuzzes `canonicalize_command` and `canonicalize_response` (framer plus parser plus
//! encoder on exactly one message), strict and lenient: never panics, and the canonical
//! form is a fixed point — canonicalising it again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailgate_imap::{ParserConfig, canonicalize_command, canonicalize_response};

fuzz_target!(|data: &[u8]| {
    for config in [ParserConfig::strict(), ParserConfig::lenient()] {
        if let Ok(wire) = canonicalize_command(data, &config) {
            let again = canonicalize_command(&wire, &config).unwrap_or_else(|e| {
                panic!(
                    "canonical command rejected: {e}: {:?} from {:?}",
                    String::from_utf8_lossy(&wire),
                    String::from_utf8_lossy(data)
                )
            });
            assert_eq!(again, wire, "canonical command is not a fixed point");
        }
        if let Ok(wire) = canonicalize_response(data, &config) {
            let again = canonicalize_response(&wire, &config).unwrap_or_else(|e| {
                panic!(
                    "canonical response rejected: {e}: {:?} from {:?}",
                    String::from_utf8_lossy(&wire),
                    String::from_utf8_lossy(data)
                )
            });
            assert_eq!(again, wire, "canonical response is not a fixed point");
        }
    }
});
