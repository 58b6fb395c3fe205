//! The POP3 line buffer: never panics, lines never hold an LF and respect the limit,
//! the buffer stays bounded, and without over-long lines the lines do not depend on how
//! the stream is split into reads (with them, every line returned from a chunked stream
//! is also returned from the whole stream).
//!
//! Input: byte 0 is the line limit, byte 1 the chunk size, the rest is the stream.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::LineBuffer;

/// The lines (`None` for an over-long line report) and the bytes left buffered.
fn split(max_len: usize, input: &[u8], chunk: usize) -> (Vec<Option<Vec<u8>>>, Vec<u8>) {
    let mut lines = LineBuffer::new(max_len);
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        lines.push(piece);
        while let Some(line) = lines.next_line() {
            match line {
                Ok(line) => {
                    assert!(!line.contains(&b'\n'));
                    assert!(line.len() < lines.max_len());
                    out.push(Some(line));
                }
                Err(_) => out.push(None),
            }
        }
        assert!(lines.buffered().len() <= lines.max_len() + piece.len());
    }
    (out, lines.take_buffered())
}

fuzz_target!(|data: &[u8]| {
    let Some((&[max_len, chunk], input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max_len = usize::from(max_len);
    let (whole, rest) = split(max_len, input, input.len());
    for size in [usize::from(chunk), 1] {
        let (chunked, chunked_rest) = split(max_len, input, size);
        if !whole.contains(&None) && !chunked.contains(&None) {
            assert_eq!(chunked, whole);
            assert_eq!(chunked_rest, rest);
        } else {
            for line in chunked.iter().flatten() {
                assert!(
                    whole.contains(&Some(line.clone())),
                    "line only seen chunked"
                );
            }
        }
    }
});
