//! DATA scanner: never panics, and the outcome does not depend on how the stream is
//! split into chunks. The same input also drives the BDAT accounting (`BdatTracker`),
//! checked against a model: declared size, chunk count and limit, LAST, consumed octets.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::{
    BareLineEndings, BdatTracker, DataError, DataScanner, DataStatus, dot_stuff, dot_unstuff,
};

/// Drives a `BdatTracker` with `BDAT size [LAST]` commands and chunk data taken from
/// `input` (three octets per command: size high, size low, flags), checking every answer.
fn bdat(step: u8, input: &[u8]) {
    let max_size = u64::from(step) * 97;
    let max_chunks = u64::from(step % 8) + 1;
    let mut tracker = BdatTracker::new(max_size, max_chunks);
    let (mut declared, mut chunks, mut last) = (0u64, 0u64, false);
    let mut data = input;
    for command in input.chunks_exact(3) {
        let size =
            u64::from(u16::from_be_bytes([command[0], command[1]])) * u64::from(command[2] >> 4);
        let is_last = command[2] & 1 == 1;
        match tracker.begin_chunk(size, is_last) {
            Ok(()) => {
                assert!(!last && chunks < max_chunks);
                chunks += 1;
                declared = declared.saturating_add(size);
                last = is_last;
            }
            Err(DataError::AfterLast) => assert!(last),
            Err(DataError::TooManyChunks { limit }) => {
                assert!(!last && chunks == max_chunks && limit == max_chunks)
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert_eq!((tracker.size(), tracker.chunks()), (declared, chunks));
        assert_eq!(tracker.too_large(), declared > max_size);
        // Feed the chunk's data in pieces of (flags & 0x0e) + 1 octets, then whatever follows.
        let piece = usize::from(command[2] & 0x0e) + 1;
        while !tracker.chunk_complete() && !data.is_empty() {
            let before = tracker.remaining();
            let offered = &data[..piece.min(data.len())];
            let taken = tracker.consume(offered);
            assert_eq!(taken as u64, before.min(offered.len() as u64));
            assert_eq!(tracker.remaining(), before - taken as u64);
            data = &data[taken..];
        }
        assert_eq!(tracker.is_finished(), last && tracker.chunk_complete());
    }
}

/// Scans `input` in chunks of `step` octets; returns the end offset or an error marker.
fn scan(input: &[u8], step: usize, mode: BareLineEndings) -> Result<Option<(usize, u64)>, ()> {
    let mut s = DataScanner::new(1 << 16).with_bare_line_endings(mode);
    let mut at = 0;
    for chunk in input.chunks(step.max(1)) {
        match s.scan(chunk).map_err(|_| ())? {
            DataStatus::Complete { end, .. } => return Ok(Some((at + end, s.size()))),
            DataStatus::Partial => at += chunk.len(),
        }
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    bdat(step, input);
    for mode in [BareLineEndings::Allow, BareLineEndings::Reject] {
        let whole = scan(input, input.len(), mode);
        assert_eq!(scan(input, usize::from(step), mode), whole);
        assert_eq!(scan(input, 1, mode), whole);
        if let Ok(Some((end, size))) = whole {
            assert!(end >= 3 && &input[end - 3..end] == b".\r\n");
            assert_eq!(size, end as u64 - 3);
        }
    }
    // Stuffing a message without bare CR/LF always yields a stream that ends exactly once.
    if !input.contains(&b'\r') && !input.contains(&b'\n') {
        let mut wire = Vec::new();
        dot_stuff(input, &mut wire);
        assert_eq!(
            scan(&wire, usize::from(step), BareLineEndings::Reject),
            Ok(Some((wire.len(), wire.len() as u64 - 3)))
        );
        let mut want = input.to_vec();
        if !want.is_empty() {
            want.extend_from_slice(b"\r\n");
        }
        assert_eq!(dot_unstuff(&wire), want);
    }
});
