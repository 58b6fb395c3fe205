use super::*;
use proptest::prelude::*;

fn pass(p: &str) -> Command {
    Command::Pass(SecretString::from(p))
}

#[test]
fn valid_table() {
    let rows: Vec<(&[u8], Command)> = vec![
        (b"USER tim", Command::User("tim".into())),
        (
            b"user mrose@example.com",
            Command::User("mrose@example.com".into()),
        ),
        (b"PASS tanstaaf", pass("tanstaaf")),
        (b"PASS with spaces  inside ", pass("with spaces  inside ")),
        (
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
            Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into(),
            },
        ),
        (
            b"APOP mrose C4C9334BAC560ECC979E58001B3E22FB",
            Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into(),
            },
        ),
        (b"STAT", Command::Stat),
        (b"stat", Command::Stat),
        (b"LIST", Command::List(None)),
        (b"LIST 2", Command::List(Some(2))),
        (b"RETR 1", Command::Retr(1)),
        (b"DELE 4294967295", Command::Dele(u32::MAX)),
        (b"NOOP", Command::Noop),
        (b"RSET", Command::Rset),
        (b"QUIT", Command::Quit),
        (b"QUIT ", Command::Quit),
        (b"TOP 1 10", Command::Top { msg: 1, lines: 10 }),
        (b"TOP 1 0", Command::Top { msg: 1, lines: 0 }),
        (b"UIDL", Command::Uidl(None)),
        (b"UIDL 7", Command::Uidl(Some(7))),
        (b"CAPA", Command::Capa),
        (b"STLS", Command::Stls),
        (b"AUTH", Command::AuthList),
        (
            b"AUTH plain",
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: None,
            },
        ),
        (
            b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=",
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("dGVzdAB0ZXN0AHRlc3Q=".into()),
            },
        ),
        (
            b"AUTH PLAIN =",
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("=".into()),
            },
        ),
        (
            b"AUTH X-OAUTH_2",
            Command::Auth {
                mechanism: "X-OAUTH_2".into(),
                initial_response: None,
            },
        ),
    ];
    for (line, want) in rows {
        let got = Command::parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(line));
        // Round trip through the encoder.
        let encoded = got.to_bytes();
        assert!(encoded.ends_with(b"\r\n"));
        let again = Command::parse(&encoded[..encoded.len() - 2]).unwrap();
        assert_eq!(again, want);
    }
}

#[test]
fn invalid_table() {
    let rows: &[(&[u8], &str)] = &[
        (b"", "unknown command \"\""),
        (b"HELO x", "unknown command \"HELO\""),
        // Unknown keywords are echoed as escaped ASCII, never as raw bytes.
        (b"\xff\xfeNOOP", "unknown command \"\\xff\\xfeNOOP\""),
        (b"\x01\x02\x03", "unknown command \"\\x01\\x02\\x03\""),
        (b"\"quoted\"", "unknown command \"\\\"quoted\\\"\""),
        (b"caf\xc3\xa9", "unknown command \"caf\\xc3\\xa9\""),
        (b"USER", "USER: missing argument"),
        (b"USER ", "USER: missing argument"),
        (b"PASS", "PASS: missing argument"),
        (b"USER \xff", "USER: invalid argument: not UTF-8"),
        (b"STAT 1", "STAT: too many arguments"),
        (b"CAPA x", "CAPA: too many arguments"),
        (b"LIST 1 2", "LIST: too many arguments"),
        (b"LIST x", "LIST: invalid argument: not a decimal number"),
        (b"LIST -1", "LIST: invalid argument: not a decimal number"),
        (b"LIST +1", "LIST: invalid argument: not a decimal number"),
        (b"RETR", "RETR: missing argument"),
        (
            b"RETR 4294967296",
            "RETR: invalid argument: number too large",
        ),
        (b"TOP 1", "TOP: missing argument"),
        (b"TOP 1 2 3", "TOP: too many arguments"),
        (b"APOP mrose", "APOP: missing argument"),
        (
            b"APOP mrose xyz",
            "APOP: invalid argument: digest is not 32 hex digits",
        ),
        (b"AUTH PLAIN a b", "AUTH: too many arguments"),
        (
            b"AUTH PL@IN",
            "AUTH: invalid argument: mechanism name is not 1-20 of A-Z 0-9 - _",
        ),
        (
            b"AUTH PLAIN a$b",
            "AUTH: invalid argument: initial response is not base64",
        ),
        (b"USER a\0b", "control character 0x00 at offset 6"),
        (b"USER a\rb", "control character 0x0d at offset 6"),
    ];
    for (line, want) in rows {
        let err = Command::parse(line).unwrap_err();
        assert_eq!(
            err.to_string(),
            *want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn unknown_keyword_is_truncated() {
    let long = vec![b'X'; 1000];
    match Command::parse(&long).unwrap_err() {
        Pop3Error::UnknownCommand { keyword } => assert_eq!(keyword.len(), 40),
        other => panic!("{other}"),
    }
}

#[test]
fn pass_is_redacted_in_debug_and_errors() {
    let c = Command::parse(b"PASS hunter2").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
    let c = Command::parse(b"AUTH PLAIN AHRpbQBodW50ZXIy").unwrap();
    assert!(!format!("{c:?}").contains("AHRpbQBodW50ZXIy"));
}

#[test]
fn multiline_knowledge() {
    for (line, multi) in [
        (&b"CAPA"[..], true),
        (b"LIST", true),
        (b"LIST 1", false),
        (b"UIDL", true),
        (b"UIDL 1", false),
        (b"RETR 1", true),
        (b"TOP 1 0", true),
        (b"AUTH", true),
        (b"AUTH PLAIN", false),
        (b"STAT", false),
        (b"USER x", false),
        (b"STLS", false),
    ] {
        assert_eq!(
            Command::parse(line).unwrap().has_multiline_response(),
            multi
        );
    }
}

fn text() -> impl Strategy<Value = String> {
    "[^\r\n\u{0}]{1,30}"
}

fn number() -> impl Strategy<Value = u32> {
    any::<u32>()
}

pub(crate) fn arb_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        text().prop_map(Command::User),
        text().prop_map(|p| Command::Pass(p.into())),
        ("[a-z0-9@.]{1,20}", "[0-9a-f]{32}")
            .prop_map(|(name, digest)| Command::Apop { name, digest }),
        Just(Command::Stat),
        proptest::option::of(number()).prop_map(Command::List),
        number().prop_map(Command::Retr),
        number().prop_map(Command::Dele),
        Just(Command::Noop),
        Just(Command::Rset),
        Just(Command::Quit),
        (number(), number()).prop_map(|(msg, lines)| Command::Top { msg, lines }),
        proptest::option::of(number()).prop_map(Command::Uidl),
        Just(Command::Capa),
        Just(Command::Stls),
        Just(Command::AuthList),
        (
            "[A-Z0-9_-]{1,20}",
            proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}|=")
        )
            .prop_map(|(mechanism, ir)| Command::Auth {
                mechanism,
                initial_response: ir.map(Into::into),
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(cmd in arb_command()) {
        let bytes = cmd.to_bytes();
        prop_assert!(bytes.ends_with(b"\r\n"));
        let parsed = Command::parse(&bytes[..bytes.len() - 2]).unwrap();
        prop_assert_eq!(parsed, cmd);
    }

    #[test]
    fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Command::parse(&line);
    }
}
