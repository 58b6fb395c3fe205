//! RFC example server responses (`tests/response_data/rfc-examples.txt`): each parses
//! strictly, uses all its bytes, and survives parse -> encode -> parse unchanged, in
//! strict and lenient mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_imap::response::{parse_greeting, parse_response};
use mailgate_imap::{Encode, ParserConfig};

/// One example: whether it is a greeting, its wire bytes and its line in the file.
struct Example {
    greeting: bool,
    bytes: Vec<u8>,
    line: usize,
}

fn load() -> Vec<Example> {
    let text = include_str!("response_data/rfc-examples.txt");
    let mut out: Vec<Example> = Vec::new();
    let mut pending: Option<(Vec<u8>, usize)> = None;
    let mut literal: Option<Vec<u8>> = None;
    for (n, line) in text.lines().enumerate() {
        if let Some(data) = literal.as_mut() {
            if let Some(d) = line.strip_prefix("D:") {
                data.extend_from_slice(d.strip_prefix(' ').unwrap_or(d).as_bytes());
                data.extend_from_slice(b"\r\n");
                continue;
            }
            let (mut msg, start) = pending.take().expect("literal without message");
            let data = literal.take().unwrap();
            // Fill in the literal size after the "{" kept from the header line.
            let size = data.len().to_string();
            msg.extend_from_slice(size.as_bytes());
            msg.extend_from_slice(b"}\r\n");
            msg.extend_from_slice(&data);
            let rest = line
                .strip_prefix("S: ")
                .expect("continuation after literal");
            if rest.ends_with('}') {
                let open = rest.rfind('{').unwrap();
                msg.extend_from_slice(&rest.as_bytes()[..=open]);
                pending = Some((msg, start));
                literal = Some(Vec::new());
            } else {
                msg.extend_from_slice(rest.as_bytes());
                msg.extend_from_slice(b"\r\n");
                out.push(Example {
                    greeting: false,
                    bytes: msg,
                    line: start,
                });
            }
            continue;
        }
        let (greeting, rest) = if let Some(r) = line.strip_prefix("S: ") {
            (false, r)
        } else if let Some(r) = line.strip_prefix("G: ") {
            (true, r)
        } else {
            continue;
        };
        if rest.ends_with('}') {
            let open = rest.rfind('{').unwrap();
            pending = Some((rest.as_bytes()[..=open].to_vec(), n + 1));
            literal = Some(Vec::new());
            continue;
        }
        let mut bytes = rest.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        out.push(Example {
            greeting,
            bytes,
            line: n + 1,
        });
    }
    assert!(pending.is_none(), "unterminated literal at end of file");
    out
}

#[test]
fn rfc_examples_parse_and_round_trip() {
    let examples = load();
    assert!(examples.len() > 200, "only {} examples", examples.len());
    for cfg in [ParserConfig::strict(), ParserConfig::lenient()] {
        for ex in &examples {
            let show = String::from_utf8_lossy(&ex.bytes);
            if ex.greeting {
                let (g, used) = parse_greeting(&ex.bytes, &cfg)
                    .unwrap_or_else(|e| panic!("line {}: {show:?}: {e}", ex.line));
                assert_eq!(used, ex.bytes.len(), "line {}", ex.line);
                let wire = g.to_vec();
                let (g2, used2) = parse_greeting(&wire, &cfg).unwrap();
                assert_eq!((g2, used2), (g, wire.len()), "line {}", ex.line);
                continue;
            }
            let (r, used) = parse_response(&ex.bytes, &cfg)
                .unwrap_or_else(|e| panic!("line {}: {show:?}: {e}", ex.line));
            assert_eq!(used, ex.bytes.len(), "line {}: {show:?}", ex.line);
            let wire = r.to_vec();
            let (r2, used2) = parse_response(&wire, &cfg).unwrap_or_else(|e| {
                panic!(
                    "line {}: re-encoded {:?}: {e}",
                    ex.line,
                    String::from_utf8_lossy(&wire)
                )
            });
            assert_eq!(r2, r, "line {}", ex.line);
            assert_eq!(used2, wire.len());
            // Canonical: encoding the re-parsed value gives the same bytes.
            assert_eq!(r2.to_vec(), wire, "line {}", ex.line);
        }
    }
}

#[test]
fn simple_examples_encode_to_their_input() {
    // Lines already in canonical form come back byte for byte.
    for line in [
        &b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"[..],
        b"* 172 EXISTS\r\n",
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
        b"A142 OK [READ-WRITE] SELECT completed\r\n",
        b"* SEARCH 2 84 882\r\n",
        b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
        b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
        b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n",
        b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
        b"A003 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
        b"* QUOTA \"\" (STORAGE 10 512)\r\n",
    ] {
        let (r, _) = parse_response(line, &ParserConfig::strict()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&r.to_vec()),
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn into_owned_keeps_the_value() {
    let examples = load();
    let cfg = ParserConfig::lenient();
    for ex in examples.iter().filter(|e| !e.greeting) {
        let owned = {
            let copy = ex.bytes.clone();
            let (r, _) = parse_response(&copy, &cfg).unwrap();
            r.into_owned()
        };
        let (r, _) = parse_response(&ex.bytes, &cfg).unwrap();
        assert_eq!(owned, r, "line {}", ex.line);
    }
    for ex in examples.iter().filter(|e| e.greeting) {
        let owned = {
            let copy = ex.bytes.clone();
            parse_greeting(&copy, &cfg).unwrap().0.into_owned()
        };
        assert_eq!(owned, parse_greeting(&ex.bytes, &cfg).unwrap().0);
    }
}
