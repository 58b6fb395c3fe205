use super::*;
use proptest::prelude::*;

fn status(line: &[u8]) -> StatusLine {
    match ServerLine::parse(line).unwrap() {
        ServerLine::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn valid_table() {
    type Row = (&'static [u8], Status, Option<ResponseCode>, &'static str);
    let rows: &[Row] = &[
        (b"+OK", Status::Ok, None, ""),
        (b"+OK ", Status::Ok, None, ""),
        (b"+ok fine", Status::Ok, None, "fine"),
        (b"+OK 2 320", Status::Ok, None, "2 320"),
        (b"-ERR", Status::Err, None, ""),
        (
            b"-ERR no such message",
            Status::Err,
            None,
            "no such message",
        ),
        (
            b"-ERR [IN-USE] Do you have another POP session running?",
            Status::Err,
            Some(ResponseCode::InUse),
            "Do you have another POP session running?",
        ),
        (
            b"-ERR [LOGIN-DELAY] wait",
            Status::Err,
            Some(ResponseCode::LoginDelay),
            "wait",
        ),
        (
            b"-ERR [SYS/TEMP] try later",
            Status::Err,
            Some(ResponseCode::SysTemp),
            "try later",
        ),
        (
            b"-ERR [SYS/PERM] gone",
            Status::Err,
            Some(ResponseCode::SysPerm),
            "gone",
        ),
        (
            b"-ERR [AUTH] Authentication failed.",
            Status::Err,
            Some(ResponseCode::Auth),
            "Authentication failed.",
        ),
        (b"-ERR [auth] x", Status::Err, Some(ResponseCode::Auth), "x"),
        (
            b"-ERR [SYS/TEMP/QUOTA] x",
            Status::Err,
            Some(ResponseCode::Other("SYS/TEMP/QUOTA".into())),
            "x",
        ),
        (b"-ERR [AUTH]", Status::Err, Some(ResponseCode::Auth), ""),
        // Not a valid code: kept as text.
        (b"-ERR [not a code] x", Status::Err, None, "[not a code] x"),
        (b"-ERR [] x", Status::Err, None, "[] x"),
        (b"-ERR [AUTH x", Status::Err, None, "[AUTH x"),
        (b"-ERR [A//B] x", Status::Err, None, "[A//B] x"),
        (b"+OK \xff", Status::Ok, None, "\u{fffd}"),
    ];
    for (line, st, code, text) in rows {
        let s = status(line);
        assert_eq!(
            (s.status, &s.code, s.text.as_str()),
            (*st, code, *text),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn continuations() {
    assert_eq!(
        ServerLine::parse(b"+ ").unwrap(),
        ServerLine::Continuation(String::new())
    );
    assert_eq!(
        ServerLine::parse(b"+").unwrap(),
        ServerLine::Continuation(String::new())
    );
    assert_eq!(
        ServerLine::parse(b"+ VXNlcm5hbWU6").unwrap(),
        ServerLine::Continuation("VXNlcm5hbWU6".into())
    );
    assert_eq!(
        ServerLine::Continuation("AQ==".into()).to_bytes(),
        b"+ AQ==\r\n"
    );
    assert_eq!(
        ServerLine::Continuation(String::new()).to_bytes(),
        b"+ \r\n"
    );
}

#[test]
fn invalid_table() {
    let rows: &[(&[u8], Pop3Error)] = &[
        (b"", Pop3Error::InvalidStatus),
        (b"OK", Pop3Error::InvalidStatus),
        (b"+OKAY", Pop3Error::InvalidStatus),
        (b"-ERROR", Pop3Error::InvalidStatus),
        (b"+x", Pop3Error::InvalidStatus),
        (b"* OK IMAP", Pop3Error::InvalidStatus),
        (b"220 smtp", Pop3Error::InvalidStatus),
        (
            b"+OK a\rb",
            Pop3Error::ControlCharacter {
                byte: b'\r',
                offset: 5,
            },
        ),
        (
            b"+OK \0",
            Pop3Error::ControlCharacter { byte: 0, offset: 4 },
        ),
    ];
    for (line, want) in rows {
        assert_eq!(&ServerLine::parse(line).unwrap_err(), want, "{line:?}");
    }
}

#[test]
fn encode() {
    assert_eq!(StatusLine::ok("").to_bytes(), b"+OK\r\n");
    assert_eq!(StatusLine::ok("ready").to_bytes(), b"+OK ready\r\n");
    assert_eq!(
        StatusLine::err("bad")
            .with_code(ResponseCode::Auth)
            .to_bytes(),
        b"-ERR [AUTH] bad\r\n"
    );
    assert_eq!(StatusLine::err("a\r\nb").to_bytes(), b"-ERR a  b\r\n");
    assert_eq!(
        StatusLine::err("x")
            .with_code(ResponseCode::SysTemp)
            .to_string(),
        "-ERR [SYS/TEMP] x"
    );
}

#[test]
fn apop_timestamp() {
    let s = status(b"+OK POP3 server ready <1896.697170952@dbc.mit.edu>");
    assert_eq!(s.apop_timestamp(), Some("<1896.697170952@dbc.mit.edu>"));
    assert_eq!(status(b"+OK Dovecot ready.").apop_timestamp(), None);
    assert_eq!(status(b"+OK <no-at-sign>").apop_timestamp(), None);
    assert_eq!(status(b"+OK <unterminated@").apop_timestamp(), None);
}

fn arb_code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        Just(ResponseCode::InUse),
        Just(ResponseCode::LoginDelay),
        Just(ResponseCode::SysTemp),
        Just(ResponseCode::SysPerm),
        Just(ResponseCode::Auth),
        "X-[A-Z]{1,8}(/[A-Z0-9]{1,4})?".prop_map(ResponseCode::Other),
    ]
}

pub(crate) fn arb_status_line() -> impl Strategy<Value = StatusLine> {
    (
        prop_oneof![Just(Status::Ok), Just(Status::Err)],
        proptest::option::of(arb_code()),
        "([^\\[\r\n\u{0}][^\r\n\u{0}]{0,40})?",
    )
        .prop_map(|(status, code, text)| StatusLine { status, code, text })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(s in arb_status_line()) {
        let bytes = s.to_bytes();
        let parsed = ServerLine::parse(&bytes[..bytes.len() - 2]).unwrap();
        prop_assert_eq!(parsed, ServerLine::Status(s));
    }

    #[test]
    fn continuation_round_trip(text in "[A-Za-z0-9+/=]{0,60}") {
        let line = ServerLine::Continuation(text);
        let bytes = line.to_bytes();
        prop_assert_eq!(ServerLine::parse(&bytes[..bytes.len() - 2]).unwrap(), line);
    }

    #[test]
    fn parse_encode_parse_is_stable(line in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(first) = ServerLine::parse(&line) {
            let bytes = first.to_bytes();
            let second = ServerLine::parse(&bytes[..bytes.len() - 2]).unwrap();
            prop_assert_eq!(second, first);
        }
    }
}
