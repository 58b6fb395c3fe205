use super::*;
use proptest::prelude::*;

fn decode_all(wire: &[u8]) -> Result<(Vec<u8>, usize), Pop3Error> {
    let mut dec = MultilineDecoder::new(1000, 100_000);
    let mut out = Vec::new();
    let p = dec.decode(wire, &mut out)?;
    assert!(p.done, "not done: {:?}", String::from_utf8_lossy(wire));
    Ok((out, p.consumed))
}

#[test]
fn table() {
    let rows: &[(&[u8], &[u8], usize)] = &[
        (b".\r\n", b"", 3),
        (b".\r\nextra", b"", 3),
        (b"a\r\n.\r\n", b"a\r\n", 6),
        (b"..\r\n.\r\n", b".\r\n", 7),
        (b"...\r\n.\r\n", b"..\r\n", 8),
        (b".x\r\n.\r\n", b"x\r\n", 7),
        (b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n", 11),
        (b"a\r.\r\n.\r\n", b"a\r.\r\n", 8),
        (b".\rx\r\n.\r\n", b"\rx\r\n", 8),
        (b"\r\n.\r\n", b"\r\n", 5),
        (
            b"SASL PLAIN LOGIN\r\nUSER\r\n.\r\n+OK",
            b"SASL PLAIN LOGIN\r\nUSER\r\n",
            27,
        ),
    ];
    for (wire, body, consumed) in rows {
        let (out, n) = decode_all(wire).unwrap();
        assert_eq!(
            (out.as_slice(), n),
            (*body, *consumed),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn incomplete() {
    for wire in [
        &b""[..],
        b"a\r\n",
        b"a\r\n.",
        b"a\r\n.\r",
        b"a\n.\n",
        b"x.\r\n",
    ] {
        let mut dec = MultilineDecoder::new(1000, 1000);
        let mut out = Vec::new();
        let p = dec.decode(wire, &mut out).unwrap();
        assert!(!p.done, "{wire:?}");
        assert_eq!(p.consumed, wire.len());
    }
}

#[test]
fn every_chunk_boundary() {
    let wire = b"1 120\r\n..2 200\r\n.\r\nTAIL";
    for split in 0..=wire.len() {
        let mut dec = MultilineDecoder::new(1000, 1000);
        let mut out = Vec::new();
        let (a, b) = wire.split_at(split);
        let p1 = dec.decode(a, &mut out).unwrap();
        let p2 = if p1.done {
            Progress {
                consumed: 0,
                done: true,
            }
        } else {
            dec.decode(b, &mut out).unwrap()
        };
        assert!(p2.done);
        assert_eq!(out, b"1 120\r\n.2 200\r\n");
        assert_eq!(p1.consumed + p2.consumed, wire.len() - 4, "{split}");
    }
}

#[test]
fn bounds() {
    let mut dec = MultilineDecoder::new(8, 1000);
    let mut out = Vec::new();
    assert_eq!(dec.decode(b"123456\r\n", &mut out).unwrap().consumed, 8);
    assert_eq!(
        dec.decode(b"1234567\r\n", &mut out).unwrap_err(),
        Pop3Error::LineTooLong { max: 8 }
    );
    let mut dec = MultilineDecoder::new(100, 10);
    assert_eq!(
        dec.decode(b"a\r\nb\r\nc\r\nd\r\n", &mut out).unwrap_err(),
        Pop3Error::MultilineTooLong { max: 10 }
    );
}

#[test]
fn stuffing() {
    let rows: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b"a\n.b\r\n", b"a\n.b\r\n.\r\n"),
    ];
    for (body, wire) in rows {
        let mut out = Vec::new();
        dot_stuff(body, &mut out);
        assert_eq!(out.as_slice(), *wire, "{body:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(lines in proptest::collection::vec(
        proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..20), 0..10),
        chunk in 1usize..16,
    ) {
        let mut body = Vec::new();
        for l in &lines {
            body.extend_from_slice(l);
            body.extend_from_slice(b"\r\n");
        }
        // Chunked encoding equals one-shot encoding.
        let mut wire = Vec::new();
        let mut stuffer = DotStuffer::new();
        for c in body.chunks(chunk) {
            stuffer.encode(c, &mut wire);
        }
        stuffer.finish(&mut wire);
        let mut once = Vec::new();
        dot_stuff(&body, &mut once);
        prop_assert_eq!(&wire, &once);
        // Chunked decoding recovers the body and stops at the terminator.
        wire.extend_from_slice(b"+OK next\r\n");
        let mut dec = MultilineDecoder::new(usize::MAX, usize::MAX);
        let mut out = Vec::new();
        let mut consumed = 0;
        for c in wire.chunks(chunk) {
            let p = dec.decode(c, &mut out).unwrap();
            consumed += p.consumed;
            if p.done { break; }
        }
        prop_assert!(dec.is_done());
        prop_assert_eq!(consumed, once.len());
        prop_assert_eq!(out, body);
    }
}
