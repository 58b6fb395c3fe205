//! DATA scanner: never panics, and the outcome does not depend on how the stream is
//! split into chunks.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::{BareLineEndings, DataScanner, DataStatus, dot_stuff, dot_unstuff};

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
    let Some((&step, input)) = data.split_first() else { return };
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
        assert_eq!(scan(&wire, usize::from(step), BareLineEndings::Reject), Ok(Some((wire.len(), wire.len() as u64 - 3))));
        let mut want = input.to_vec();
        if !want.is_empty() {
            want.extend_from_slice(b"\r\n");
        }
        assert_eq!(dot_unstuff(&wire), want);
    }
});
