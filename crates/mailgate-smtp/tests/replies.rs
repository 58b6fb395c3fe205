//! Table-driven tests of the reply parser and encoder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_smtp::{EnhancedStatus, Limits, Reply, ReplyError, ReplyStatus};

fn st(c: u8, s: u16, d: u16) -> Option<EnhancedStatus> {
    EnhancedStatus::new(c, s, d)
}

/// Input, code, status, lines, canonical encoding.
type Row = (
    &'static str,
    u16,
    Option<EnhancedStatus>,
    Vec<&'static str>,
    &'static str,
);

#[test]
fn valid_replies() {
    let rows: Vec<Row> = vec![
        (
            "220 mx.example.com ESMTP ready\r\n",
            220,
            None,
            vec!["mx.example.com ESMTP ready"],
            "220 mx.example.com ESMTP ready\r\n",
        ),
        ("250 OK\r\n", 250, None, vec!["OK"], "250 OK\r\n"),
        ("250\r\n", 250, None, vec![""], "250\r\n"),
        ("250 \r\n", 250, None, vec![""], "250\r\n"),
        (
            "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            354,
            None,
            vec!["Start mail input; end with <CRLF>.<CRLF>"],
            "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
        ),
        (
            "250 2.1.0 Sender OK\r\n",
            250,
            st(2, 1, 0),
            vec!["Sender OK"],
            "250 2.1.0 Sender OK\r\n",
        ),
        (
            "535 5.7.8 Authentication credentials invalid\r\n",
            535,
            st(5, 7, 8),
            vec!["Authentication credentials invalid"],
            "535 5.7.8 Authentication credentials invalid\r\n",
        ),
        (
            "421 4.4.2 timeout\n",
            421,
            st(4, 4, 2),
            vec!["timeout"],
            "421 4.4.2 timeout\r\n",
        ),
        // Class must match the code's first digit; otherwise the text is kept.
        (
            "250 5.0.0 odd\r\n",
            250,
            None,
            vec!["5.0.0 odd"],
            "250 5.0.0 odd\r\n",
        ),
        ("250 2.0.0\r\n", 250, st(2, 0, 0), vec![""], "250 2.0.0\r\n"),
        (
            "250-a\r\n250-\r\n250 b\r\n",
            250,
            None,
            vec!["a", "", "b"],
            "250-a\r\n250-\r\n250 b\r\n",
        ),
        (
            "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n",
            550,
            st(5, 7, 1),
            vec!["first", "second", "third"],
            "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n",
        ),
        (
            "554-5.7.0 a\r\n554 b\r\n",
            554,
            st(5, 7, 0),
            vec!["a", "b"],
            "554-5.7.0 a\r\n554 5.7.0 b\r\n",
        ),
        (
            "334 eyJzdGF0dXMiOiI0MDAifQ==\r\n",
            334,
            None,
            vec!["eyJzdGF0dXMiOiI0MDAifQ=="],
            "334 eyJzdGF0dXMiOiI0MDAifQ==\r\n",
        ),
    ];
    for (input, code, status, lines, canonical) in rows {
        let ReplyStatus::Complete(reply, used) = Reply::parse(input.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("{input:?}: {e}"))
        else {
            panic!("{input:?}: partial")
        };
        assert_eq!(used, input.len(), "{input:?}");
        assert_eq!((reply.code, reply.status), (code, status), "{input:?}");
        assert_eq!(reply.lines, lines, "{input:?}");
        assert_eq!(
            String::from_utf8(reply.to_bytes()).unwrap(),
            canonical,
            "{input:?}"
        );
    }
}

#[test]
fn partial_replies() {
    for input in [
        "",
        "2",
        "250",
        "250-a\r\n",
        "250-a\r\n250 b",
        "250-a\r\n250-b\r\n",
    ] {
        assert_eq!(
            Reply::parse(input.as_bytes(), &Limits::default()),
            Ok(ReplyStatus::Partial),
            "{input:?}"
        );
    }
}

#[test]
fn reply_stops_at_final_line() {
    let input = b"250 a\r\n221 bye\r\n";
    let ReplyStatus::Complete(r, used) = Reply::parse(input, &Limits::default()).unwrap() else {
        panic!()
    };
    assert_eq!((r.code, used), (250, 7));
}

#[test]
fn invalid_replies() {
    let limits = Limits {
        reply_line: 16,
        reply_lines: 3,
        ..Limits::default()
    };
    let rows: Vec<(&[u8], ReplyError)> = vec![
        (b"hello\r\n", ReplyError::BadCode { line: 0 }),
        (b"25 x\r\n", ReplyError::BadCode { line: 0 }),
        (b"650 x\r\n", ReplyError::BadCode { line: 0 }),
        (b"250x\r\n", ReplyError::BadSeparator { line: 0 }),
        (
            b"250-a\r\n251 b\r\n",
            ReplyError::CodeMismatch {
                line: 1,
                expected: 250,
                found: 251,
            },
        ),
        (b"250-a\r\nxyz\r\n", ReplyError::BadCode { line: 1 }),
        (b"250 \xff\r\n", ReplyError::NotUtf8 { line: 0 }),
        (
            b"250 0123456789abcdef\r\n",
            ReplyError::LineTooLong { line: 0, limit: 16 },
        ),
        (
            b"250 0123456789abcdef",
            ReplyError::LineTooLong { line: 0, limit: 16 },
        ),
        (
            b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n",
            ReplyError::TooManyLines { limit: 3 },
        ),
    ];
    for (input, want) in rows {
        assert_eq!(
            Reply::parse(input, &limits),
            Err(want),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn encode_never_injects_lines() {
    let r = Reply::new(250, None, "a\r\n250 b");
    assert_eq!(r.to_bytes(), b"250 a  250 b\r\n");
}
