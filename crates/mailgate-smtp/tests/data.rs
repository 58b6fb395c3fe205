//! DATA framing: end-of-data detection across every chunk split, smuggling forms, stuffing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_smtp::{BareLineEndings, DataError, DataScanner, DataStatus, dot_stuff, dot_unstuff};

/// Scans `input` split at `split`, returns the end offset in the whole input.
fn scan_split(
    input: &[u8],
    split: usize,
    mode: BareLineEndings,
) -> Result<Option<usize>, DataError> {
    let mut s = DataScanner::new(1 << 20).with_bare_line_endings(mode);
    let (a, b) = input.split_at(split);
    match s.scan(a)? {
        DataStatus::Complete { end, .. } => return Ok(Some(end)),
        DataStatus::Partial => {}
    }
    match s.scan(b)? {
        DataStatus::Complete { end, .. } => Ok(Some(split + end)),
        DataStatus::Partial => Ok(None),
    }
}

/// (input, expected in Allow mode, expected in Reject mode). `Ok(Some(end))`: message
/// ends at `end`; `Ok(None)`: not finished; `Err(())`: refused.
type Row = (
    &'static [u8],
    Result<Option<usize>, ()>,
    Result<Option<usize>, ()>,
);

#[test]
fn end_of_data_table() {
    let rows: Vec<Row> = vec![
        (b".\r\n", Ok(Some(3)), Ok(Some(3))),
        (b"a\r\n.\r\n", Ok(Some(6)), Ok(Some(6))),
        (b"a\r\n.\r\nQUIT\r\n", Ok(Some(6)), Ok(Some(6))),
        (b"a\r\n..\r\n.\r\n", Ok(Some(10)), Ok(Some(10))),
        (b"a\r\n.b\r\n", Ok(None), Ok(None)),
        (b"a\r\n", Ok(None), Ok(None)),
        (b"a.\r\n", Ok(None), Ok(None)),
        (b"ab.\r\n", Ok(None), Ok(None)),
        (b"abc\r\nxy.\r\n.\r\n", Ok(Some(13)), Ok(Some(13))),
        (b"a\r\n\r\n.\r\n", Ok(Some(8)), Ok(Some(8))),
        // Smuggling forms: always refused.
        (b"a\n.\n", Err(()), Err(())),
        (b"a\r.\r", Err(()), Err(())),
        (b"a\n.\r\n", Err(()), Err(())),
        (b"a\r\n.\n", Err(()), Err(())),
        (b"a\r\n.\r", Ok(None), Ok(None)),
        (b"a\r\n.\rX", Err(()), Err(())),
        (b"a\r.\r\n", Err(()), Err(())),
        (b".\n", Err(()), Err(())),
        (b"a\n.\r\nMAIL FROM:<x>\r\n", Err(()), Err(())),
        // Bare endings that do not look like an end: allowed or refused per mode.
        (b"a\nb\r\n.\r\n", Ok(Some(8)), Err(())),
        (b"a\rb\r\n.\r\n", Ok(Some(8)), Err(())),
        (b"a\n.b\r\n", Ok(None), Err(())),
        (b"a\r\r\n.\r\n", Ok(Some(7)), Err(())),
    ];
    for (input, allow, reject) in rows {
        for (mode, want) in [
            (BareLineEndings::Allow, allow),
            (BareLineEndings::Reject, reject),
        ] {
            for split in 0..=input.len() {
                let got = scan_split(input, split, mode).map_err(|_| ());
                assert_eq!(
                    got,
                    want,
                    "{:?} split at {split} {mode:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }
}

#[test]
fn byte_at_a_time() {
    let input = b"Subject: x\r\n\r\n..leading dot\r\nline\r\n.\r\nNOOP\r\n";
    let mut s = DataScanner::new(1000);
    let mut end = None;
    for (i, b) in input.iter().enumerate() {
        if let DataStatus::Complete { end: e, too_large } = s.scan(std::slice::from_ref(b)).unwrap()
        {
            assert!(!too_large);
            end = Some(i + e);
            break;
        }
    }
    assert_eq!(end, Some(input.len() - 6));
    assert_eq!(s.size(), (input.len() - 6 - 3) as u64);
}

#[test]
fn size_limit_is_reported_at_the_end() {
    let mut s = DataScanner::new(4);
    assert_eq!(s.scan(b"12345\r\n"), Ok(DataStatus::Partial));
    assert_eq!(
        s.scan(b".\r\n"),
        Ok(DataStatus::Complete {
            end: 3,
            too_large: true
        })
    );
    let mut s = DataScanner::new(7);
    assert_eq!(
        s.scan(b"12345\r\n.\r\n"),
        Ok(DataStatus::Complete {
            end: 10,
            too_large: false
        })
    );
}

#[test]
fn error_offsets() {
    let mut s = DataScanner::new(100);
    assert_eq!(s.scan(b"ab\n.\nX"), Err(DataError::AmbiguousEnd { at: 4 }));
    let mut s = DataScanner::new(100).with_bare_line_endings(BareLineEndings::Reject);
    assert_eq!(s.scan(b"ab\ncd"), Err(DataError::BareLineEnding { at: 2 }));
}

#[test]
fn stuffing_table() {
    let rows: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n..c\r\n", b"a\r\n..b\r\n...c\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
    ];
    for (message, stuffed) in rows {
        let mut out = Vec::new();
        dot_stuff(message, &mut out);
        assert_eq!(out, *stuffed, "{:?}", String::from_utf8_lossy(message));
        let mut s = DataScanner::new(1000);
        assert_eq!(
            s.scan(&out),
            Ok(DataStatus::Complete {
                end: out.len(),
                too_large: false
            })
        );
        let mut want = message.to_vec();
        if !want.is_empty() && !want.ends_with(b"\r\n") {
            want.extend_from_slice(b"\r\n");
        }
        assert_eq!(dot_unstuff(&out), want);
    }
}

/// Byte-at-a-time reference of the Allow-mode rules, with no skipping: the end is the
/// first `.CRLF` line after CRLF (or at the start); any `.` line with a bare CR or LF
/// on either side is an error.
fn reference(input: &[u8]) -> Result<Option<usize>, ()> {
    // prev: 0 = start of data or after CRLF, 1 = after a bare CR or LF, 2 = other.
    let mut i = 0;
    let mut prev = 0u8;
    while i < input.len() {
        let b = input[i];
        if b == b'.' && prev != 2 {
            let bare_before = prev == 1;
            match (input.get(i + 1), input.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) if !bare_before => return Ok(Some(i + 3)),
                (Some(b'\r'), Some(b'\n')) => return Err(()),
                (Some(b'\n'), _) => return Err(()),
                (Some(b'\r'), Some(_)) => return Err(()),
                (Some(b'\r'), None) if bare_before => return Err(()),
                (Some(b'\r'), None) | (None, _) => return Ok(None),
                _ => {}
            }
        }
        prev = match b {
            b'\n' if i > 0 && input[i - 1] == b'\r' => 0,
            b'\n' => 1,
            b'\r' if input.get(i + 1) == Some(&b'\n') => 2,
            b'\r' if i + 1 == input.len() => 2,
            b'\r' => 1,
            _ => 2,
        };
        i += 1;
    }
    Ok(None)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// The skipping scanner agrees with the reference on every input and split.
    #[test]
    fn scanner_matches_reference(
        input in proptest::collection::vec(proptest::sample::select(vec![b'a', b'.', b'\r', b'\n']), 0..24),
        split in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let at = split.index(input.len() + 1);
        let got = scan_split(&input, at, BareLineEndings::Allow).map_err(|_| ());
        proptest::prop_assert_eq!(got, reference(&input), "{:?}", String::from_utf8_lossy(&input));
    }
}
