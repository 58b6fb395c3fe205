//! Parses arbitrary response lines and capability lists; parse, encode and parse
//! again must give the same value.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::{Capabilities, MultilineDecoder, ServerLine};

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = ServerLine::parse(data) {
        let bytes = line.to_bytes();
        let again = ServerLine::parse(&bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(again, line);
    }
    let capa = Capabilities::parse(data);
    let wire = capa.to_body();
    let mut decoder = MultilineDecoder::new(usize::MAX, usize::MAX);
    let mut body = Vec::new();
    let progress = decoder.decode(&wire, &mut body).unwrap();
    assert!(progress.done);
    assert_eq!(progress.consumed, wire.len());
    assert_eq!(Capabilities::parse(&body), capa);
});
