use super::*;

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Msg(Vec<u8>),
    Cont(u64),
    Err(ParseErrorKind, Option<String>),
}

fn drain(f: &mut Framer, out: &mut Vec<Ev>) {
    while let Some(ev) = f.next_event() {
        out.push(match ev {
            FramerEvent::Message(m) => Ev::Msg(m.to_vec()),
            FramerEvent::ContinuationNeeded(h) => Ev::Cont(h.size),
            FramerEvent::Error { error, tag } => {
                Ev::Err(error.kind().clone(), tag.map(|t| t.as_str().to_owned()))
            }
        });
    }
}

fn run(dir: Direction, cfg: ParserConfig, input: &[u8], chunk: usize) -> Vec<Ev> {
    let mut f = Framer::new(dir, cfg);
    let mut out = Vec::new();
    for c in input.chunks(chunk.max(1)) {
        f.push(c);
        drain(&mut f, &mut out);
    }
    out
}

/// Frames `input` one-shot and byte by byte, checks both agree, returns the events.
fn frame(dir: Direction, cfg: ParserConfig, input: &[u8]) -> Vec<Ev> {
    let one = run(dir, cfg.clone(), input, input.len());
    for chunk in [1, 2, 3, 7] {
        let split = run(dir, cfg.clone(), input, chunk);
        // Continuation events may be repeated only once per literal; messages must match.
        assert_eq!(split, one, "chunk size {chunk}");
    }
    one
}

fn msg(s: &[u8]) -> Ev {
    Ev::Msg(s.to_vec())
}

const C: Direction = Direction::ClientToServer;
const S: Direction = Direction::ServerToClient;

fn strict() -> ParserConfig {
    ParserConfig::strict()
}

#[test]
fn plain_lines() {
    let evs = frame(C, strict(), b"a1 NOOP\r\na2 CAPABILITY\r\npartial");
    assert_eq!(evs, vec![msg(b"a1 NOOP\r\n"), msg(b"a2 CAPABILITY\r\n")]);
}

#[test]
fn every_literal_form() {
    let input = b"a1 LOGIN {3}\r\njoe {6+}\r\nsecret\r\na2 APPEND x ~{3}\r\n\0\x01\x02\r\na3 APPEND x ~{2+}\r\n\r\n\r\n";
    let evs = frame(C, strict(), input);
    assert_eq!(
        evs,
        vec![
            Ev::Cont(3),
            msg(b"a1 LOGIN {3}\r\njoe {6+}\r\nsecret\r\n"),
            Ev::Cont(3),
            msg(b"a2 APPEND x ~{3}\r\n\0\x01\x02\r\n"),
            msg(b"a3 APPEND x ~{2+}\r\n\r\n\r\n"),
        ]
    );
}

#[test]
fn server_literals_need_no_continuation() {
    let evs = frame(S, strict(), b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n");
    assert_eq!(evs, vec![msg(b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n")]);
}

#[test]
fn not_literals() {
    // `{n-}` is not literal syntax, nor is a brace without digits; strict mode does not
    // take `{n}` before a bare LF as a literal.
    let evs = frame(C, strict(), b"a {3-}\r\nb {}\r\nc {3}\nd NOOP\r\n");
    assert_eq!(
        evs,
        vec![
            msg(b"a {3-}\r\n"),
            msg(b"b {}\r\n"),
            msg(b"c {3}\n"),
            msg(b"d NOOP\r\n")
        ]
    );
    assert_eq!(
        trailing_literal(b"x {00}\r", false).map(|h| h.size),
        Some(0)
    );
    assert_eq!(
        trailing_literal(b"{99999999999999999999}\r", false).map(|h| h.size),
        Some(u64::MAX)
    );
}

#[test]
fn lenient_bare_lf_literal() {
    let evs = frame(S, ParserConfig::lenient(), b"* 1 FETCH (BODY[] {3}\nabc)\n");
    assert_eq!(evs, vec![msg(b"* 1 FETCH (BODY[] {3}\nabc)\n")]);
}

#[test]
fn line_too_long_is_reported_once_then_skipped() {
    let mut cfg = strict();
    cfg.max_line_length = 16;
    let mut input = b"a1 LOGIN ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100));
    input.extend_from_slice(b"\r\na2 NOOP\r\n");
    let evs = frame(C, cfg, &input);
    assert_eq!(
        evs,
        vec![
            Ev::Err(ParseErrorKind::LineTooLong { limit: 16 }, Some("a1".into())),
            msg(b"a2 NOOP\r\n")
        ]
    );
}

#[test]
fn long_line_announcing_a_literal_skips_its_data() {
    let mut cfg = strict();
    cfg.max_line_length = 16;
    let mut input = b"a1 APPEND ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 40));
    input.extend_from_slice(b" {11+}\r\na9 LOGOUT\r\n\r\na2 NOOP\r\n");
    let evs = frame(C, cfg, &input);
    assert_eq!(
        evs,
        vec![
            Ev::Err(ParseErrorKind::LineTooLong { limit: 16 }, Some("a1".into())),
            msg(b"a2 NOOP\r\n")
        ]
    );
}

#[test]
fn sync_literal_too_large_expects_no_data() {
    let mut cfg = strict();
    cfg.max_literal_size = 10;
    let evs = frame(C, cfg, b"a1 APPEND x {11}\r\na2 NOOP\r\n");
    assert_eq!(
        evs,
        vec![
            Ev::Err(
                ParseErrorKind::LiteralTooLarge {
                    size: 11,
                    limit: 10
                },
                Some("a1".into())
            ),
            msg(b"a2 NOOP\r\n")
        ]
    );
}

#[test]
fn nonsync_literal_too_large_is_skipped() {
    let mut cfg = strict();
    cfg.max_literal_size = 10;
    // The literal data looks like commands; they must not come out as messages.
    let input = b"a1 APPEND x {22+}\r\na9 LOGOUT\r\na8 LOGOUT\r\n {3+}\r\nabc\r\na2 NOOP\r\n";
    let evs = frame(C, cfg.clone(), input);
    assert_eq!(
        evs,
        vec![
            Ev::Err(
                ParseErrorKind::LiteralTooLarge {
                    size: 22,
                    limit: 10
                },
                Some("a1".into())
            ),
            msg(b"a2 NOOP\r\n")
        ]
    );
    // Server direction: even `{n}` data follows at once.
    let evs = frame(
        S,
        cfg,
        b"* 1 FETCH (BODY[] {12}\r\n* BYE fake\r\n)\r\n* OK\r\n",
    );
    assert_eq!(
        evs,
        vec![
            Ev::Err(
                ParseErrorKind::LiteralTooLarge {
                    size: 12,
                    limit: 10
                },
                None
            ),
            msg(b"* OK\r\n")
        ]
    );
}

#[test]
fn oversized_literal_number() {
    let evs = frame(C, strict(), b"a1 X {99999999999999999999+}\r\n");
    assert!(matches!(
        evs.as_slice(),
        [Ev::Err(
            ParseErrorKind::LiteralTooLarge { size: u64::MAX, .. },
            _
        )]
    ));
}

#[test]
fn message_too_large_across_literals() {
    let mut cfg = strict();
    cfg.max_message_size = 40;
    let input = b"a1 APPEND x {10+}\r\n0123456789 {10+}\r\n0123456789\r\na2 NOOP\r\n";
    let evs = frame(C, cfg, input);
    assert_eq!(
        evs,
        vec![
            Ev::Err(
                ParseErrorKind::MessageTooLarge { limit: 40 },
                Some("a1".into())
            ),
            msg(b"a2 NOOP\r\n")
        ]
    );
}

#[test]
fn message_too_large_on_a_line() {
    let mut cfg = strict();
    cfg.max_message_size = 30;
    let input = b"a1 APPEND x {10+}\r\n0123456789 and a long tail\r\na2 NOOP\r\n";
    let evs = frame(C, cfg, input);
    assert_eq!(
        evs,
        vec![
            Ev::Err(
                ParseErrorKind::MessageTooLarge { limit: 30 },
                Some("a1".into())
            ),
            msg(b"a2 NOOP\r\n")
        ]
    );
}

#[test]
fn refused_literal_drops_the_message() {
    let mut f = Framer::new(C, strict());
    f.push(b"a1 LOGIN joe {5}\r\n");
    assert!(matches!(
        f.next_event(),
        Some(FramerEvent::ContinuationNeeded(_))
    ));
    assert_eq!(f.next_event(), None);
    f.refuse_literal();
    f.push(b"a2 NOOP\r\n");
    assert_eq!(f.next_event(), Some(FramerEvent::Message(b"a2 NOOP\r\n")));
    assert!(!f.in_message());
}

#[test]
fn memory_stays_bounded_while_discarding() {
    let mut cfg = strict();
    cfg.max_line_length = 100;
    let mut f = Framer::new(C, cfg);
    let junk = vec![b'x'; 4096];
    let mut errors = 0;
    for _ in 0..1000 {
        f.push(&junk);
        while let Some(ev) = f.next_event() {
            assert!(matches!(ev, FramerEvent::Error { .. }));
            errors += 1;
        }
        assert!(f.buf.len() <= 2 * junk.len());
    }
    assert_eq!(errors, 1);
}

#[test]
fn tag_of_a_long_line_does_not_depend_on_chunking() {
    // Found by fuzzing: the tag was reported only when its SP had already arrived.
    let mut cfg = strict();
    cfg.max_line_length = 8;
    let evs = frame(
        C,
        cfg.clone(),
        b"ARTTLSRCH TEXT aaaaaaaaaaaaaaaaaa\r\na3 NOOP\r\n",
    );
    assert_eq!(
        evs,
        vec![
            Ev::Err(ParseErrorKind::LineTooLong { limit: 8 }, None),
            Ev::Err(ParseErrorKind::LineTooLong { limit: 8 }, Some("a3".into()))
        ]
    );
    let evs = frame(C, cfg, b"a1 LOGIN xxxxxxxxxxxx\r\n");
    assert_eq!(
        evs,
        vec![Ev::Err(
            ParseErrorKind::LineTooLong { limit: 8 },
            Some("a1".into())
        )]
    );
}

#[test]
fn literal_after_a_long_line_does_not_depend_on_chunking() {
    // Found by fuzzing: the end of a discarded line was looked at through a window
    // whose width depended on chunking, so a long literal announcement was seen or
    // not depending on how the bytes arrived.
    let mut cfg = strict();
    cfg.max_line_length = 16;
    cfg.max_literal_size = 2;
    let input = b"a05 X {1111111111111111111111111111111}\r\nq9 \naa5}L OM";
    let evs = frame(S, cfg, input);
    assert_eq!(
        evs[0],
        Ev::Err(
            ParseErrorKind::LineTooLong { limit: 16 },
            Some("a05".into())
        )
    );
}
