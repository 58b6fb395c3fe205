//! Fuzzes the IMAP command parser: never panics, and whatever parses round-trips
//! through the canonical encoding (under the same configuration). Also covers AUTHENTICATE lines and IDLE's DONE.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailgate_imap::command::{AuthenticateData, parse_idle_done};
use mailgate_imap::{Command, Encode, ParserConfig};

fuzz_target!(|data: &[u8]| {
    for config in [ParserConfig::strict(), ParserConfig::lenient()] {
        if let Ok((command, used)) = Command::parse(data, &config) {
            assert!(used <= data.len());
            let wire = command.to_vec();
            let (again, again_used) = Command::parse(&wire, &config).unwrap_or_else(|e| {
                panic!(
                    "canonical form rejected: {e}: {:?}",
                    String::from_utf8_lossy(&wire)
                )
            });
            assert_eq!(again_used, wire.len());
            assert_eq!(again, command);
            assert_eq!(again.to_vec(), wire);
            assert_eq!(command.clone().into_owned(), command);
        }
        if let Ok((line, _)) = AuthenticateData::parse(data, &config) {
            let wire = line.to_vec();
            assert_eq!(
                AuthenticateData::parse(&wire, &ParserConfig::strict()).map(|(l, _)| l),
                Ok(line)
            );
        }
        let _ = parse_idle_done(data, &config);
    }
});
