//! Decodes arbitrary multi-line bodies in chunks (byte 0 sets the chunk size):
//! chunked decoding equals one-shot decoding, and stuffing the decoded body and
//! decoding again gives the same body.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::{MultilineDecoder, dot_stuff};

fn decode(input: &[u8], chunk: usize) -> Option<(Vec<u8>, usize, bool)> {
    let mut decoder = MultilineDecoder::new(1024, 64 * 1024);
    let mut body = Vec::new();
    let mut consumed = 0;
    for piece in input.chunks(chunk) {
        let progress = decoder.decode(piece, &mut body).ok()?;
        assert!(progress.consumed <= piece.len());
        consumed += progress.consumed;
        if progress.done {
            return Some((body, consumed, true));
        }
    }
    Some((body, consumed, false))
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let chunked = decode(input, usize::from(chunk).max(1));
    let whole = decode(input, input.len().max(1));
    assert_eq!(chunked, whole);
    if let Some((body, _, true)) = whole {
        assert!(body.is_empty() || body.ends_with(b"\r\n"));
        let mut wire = Vec::new();
        dot_stuff(&body, &mut wire);
        let (again, consumed, done) = decode(&wire, wire.len()).unwrap();
        assert!(done);
        assert_eq!(consumed, wire.len());
        assert_eq!(again, body);
    }
});
