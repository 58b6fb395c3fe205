//! Fuzzes the IMAP server response and greeting parsers in strict and lenient mode:
//! never panics, and whatever parses survives encode -> parse unchanged with
//! canonical (stable) bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailgate_imap::response::{parse_greeting, parse_response};
use mailgate_imap::{Encode, ParserConfig};

fuzz_target!(|data: &[u8]| {
    for config in [ParserConfig::strict(), ParserConfig::lenient()] {
        if let Ok((response, used)) = parse_response(data, &config) {
            assert!(used <= data.len());
            let wire = response.to_vec();
            let (again, again_used) = parse_response(&wire, &config).unwrap_or_else(|e| {
                panic!(
                    "canonical form rejected: {e}: {:?} from {:?}",
                    String::from_utf8_lossy(&wire),
                    String::from_utf8_lossy(data)
                )
            });
            assert_eq!(again_used, wire.len());
            assert_eq!(again, response);
            assert_eq!(again.to_vec(), wire);
        }
        if let Ok((greeting, used)) = parse_greeting(data, &config) {
            assert!(used <= data.len());
            let wire = greeting.to_vec();
            let (again, _) = parse_greeting(&wire, &config).unwrap_or_else(|e| {
                panic!(
                    "canonical greeting rejected: {e}: {:?}",
                    String::from_utf8_lossy(&wire)
                )
            });
            assert_eq!(again, greeting);
        }
    }
});
