//! The SMTP line framer over a caller-owned buffer: the lines and over-long-line reports
//! do not depend on how the stream is split into reads, lines respect the limit (and end
//! in CRLF under strict line endings), and the buffer never grows past the limit.
//!
//! Input: byte 0 holds the line limit (bits 0-6, times 2) and lenient line endings
//! (bit 7), byte 1 the chunk size, the rest is the stream.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::{Frame, LineEndings, LineFramer};

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Line(Vec<u8>),
    TooLong,
}

fn frame(endings: LineEndings, limit: usize, input: &[u8], chunk: usize) -> Vec<Event> {
    let mut framer = LineFramer::new(endings);
    let mut buffer = Vec::new();
    let mut events = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buffer.extend_from_slice(piece);
        loop {
            match framer.next_line(&buffer, limit) {
                Frame::Line { line, consumed } => {
                    assert!(consumed <= buffer.len() && consumed <= limit.max(2));
                    assert!(line.len() < consumed);
                    if endings == LineEndings::Strict {
                        assert_eq!(&buffer[consumed - 2..consumed], b"\r\n");
                    }
                    events.push(Event::Line(line.to_vec()));
                    buffer.drain(..consumed);
                }
                Frame::TooLong { consumed } => {
                    assert!(consumed > 0 && consumed <= buffer.len());
                    events.push(Event::TooLong);
                    buffer.drain(..consumed);
                }
                Frame::Discarded { consumed } => {
                    assert!(consumed > 0 && consumed <= buffer.len());
                    buffer.drain(..consumed);
                }
                Frame::Incomplete => break,
            }
        }
        assert!(buffer.len() <= limit.max(2), "buffer grew past the limit");
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, chunk], input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let limit = usize::from(mode & 0x7f) * 2;
    let endings = if mode & 0x80 == 0 {
        LineEndings::Strict
    } else {
        LineEndings::Lenient
    };
    let whole = frame(endings, limit, input, input.len());
    assert_eq!(frame(endings, limit, input, usize::from(chunk)), whole);
    assert_eq!(frame(endings, limit, input, 1), whole);
});
