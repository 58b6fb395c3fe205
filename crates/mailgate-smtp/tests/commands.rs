//! Table-driven tests of the command parser and encoder: one row per input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_smtp::{
    Body, Command, CommandError, MailParameters, Notify, Orcpt, Parameter, Path, RcptParameters,
    Ret,
};

fn mail(from: &str, parameters: MailParameters<'static>) -> Command<'static> {
    Command::Mail {
        from: Path(Box::leak(from.to_owned().into_boxed_str())),
        parameters,
    }
}

#[test]
fn valid_commands() {
    let rows: Vec<(&str, Command<'static>, &str)> = vec![
        (
            "EHLO client.example.com",
            Command::Ehlo {
                domain: "client.example.com",
            },
            "EHLO client.example.com",
        ),
        (
            "ehlo [192.0.2.1]",
            Command::Ehlo {
                domain: "[192.0.2.1]",
            },
            "EHLO [192.0.2.1]",
        ),
        ("HELO x", Command::Helo { domain: "x" }, "HELO x"),
        ("EHLO x ", Command::Ehlo { domain: "x" }, "EHLO x"),
        (
            "MAIL FROM:<a@b.c>",
            mail("a@b.c", MailParameters::default()),
            "MAIL FROM:<a@b.c>",
        ),
        (
            "mail from:<>",
            mail("", MailParameters::default()),
            "MAIL FROM:<>",
        ),
        (
            "MAIL FROM: <a@b.c>",
            mail("a@b.c", MailParameters::default()),
            "MAIL FROM:<a@b.c>",
        ),
        (
            "MAIL FROM:<@r1,@r2:a@b.c>",
            mail("@r1,@r2:a@b.c", MailParameters::default()),
            "MAIL FROM:<@r1,@r2:a@b.c>",
        ),
        (
            "MAIL FROM:<a@b.c> SIZE=12345 BODY=8BITMIME",
            mail(
                "a@b.c",
                MailParameters {
                    size: Some(12345),
                    body: Some(Body::EightBitMime),
                    ..Default::default()
                },
            ),
            "MAIL FROM:<a@b.c> SIZE=12345 BODY=8BITMIME",
        ),
        (
            "MAIL FROM:<a@b.c> body=binarymime smtputf8 requiretls",
            mail(
                "a@b.c",
                MailParameters {
                    body: Some(Body::BinaryMime),
                    smtputf8: true,
                    requiretls: true,
                    ..Default::default()
                },
            ),
            "MAIL FROM:<a@b.c> BODY=BINARYMIME SMTPUTF8 REQUIRETLS",
        ),
        (
            "MAIL FROM:<a@b.c> RET=HDRS ENVID=QQ314159 AUTH=<>",
            mail(
                "a@b.c",
                MailParameters {
                    ret: Some(Ret::Headers),
                    envid: Some("QQ314159"),
                    auth: Some("<>"),
                    ..Default::default()
                },
            ),
            "MAIL FROM:<a@b.c> RET=HDRS ENVID=QQ314159 AUTH=<>",
        ),
        (
            "MAIL FROM:<a@b.c> BODY=7BIT XVERP X-FOO=bar",
            mail(
                "a@b.c",
                MailParameters {
                    body: Some(Body::SevenBit),
                    other: vec![
                        Parameter {
                            keyword: "XVERP",
                            value: None,
                        },
                        Parameter {
                            keyword: "X-FOO",
                            value: Some("bar"),
                        },
                    ],
                    ..Default::default()
                },
            ),
            "MAIL FROM:<a@b.c> BODY=7BIT XVERP X-FOO=bar",
        ),
        (
            "MAIL FROM:<rené@exämple.de> SMTPUTF8",
            mail(
                "rené@exämple.de",
                MailParameters {
                    smtputf8: true,
                    ..Default::default()
                },
            ),
            "MAIL FROM:<rené@exämple.de> SMTPUTF8",
        ),
        (
            "RCPT TO:<Postmaster>",
            Command::Rcpt {
                to: Path("Postmaster"),
                parameters: RcptParameters::default(),
            },
            "RCPT TO:<Postmaster>",
        ),
        (
            "RCPT TO:<x@y.z> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+40y.z",
            Command::Rcpt {
                to: Path("x@y.z"),
                parameters: RcptParameters {
                    notify: Some(Notify::On {
                        success: false,
                        failure: true,
                        delay: true,
                    }),
                    orcpt: Some(Orcpt {
                        addr_type: "rfc822",
                        address: "x+40y.z",
                    }),
                    other: vec![],
                },
            },
            "RCPT TO:<x@y.z> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+40y.z",
        ),
        (
            "RCPT TO:<x@y.z> NOTIFY=never",
            Command::Rcpt {
                to: Path("x@y.z"),
                parameters: RcptParameters {
                    notify: Some(Notify::Never),
                    ..Default::default()
                },
            },
            "RCPT TO:<x@y.z> NOTIFY=NEVER",
        ),
        ("DATA", Command::Data, "DATA"),
        ("data", Command::Data, "DATA"),
        (
            "BDAT 0 LAST",
            Command::Bdat {
                size: 0,
                last: true,
            },
            "BDAT 0 LAST",
        ),
        (
            "BDAT 86 last",
            Command::Bdat {
                size: 86,
                last: true,
            },
            "BDAT 86 LAST",
        ),
        (
            "BDAT 1000",
            Command::Bdat {
                size: 1000,
                last: false,
            },
            "BDAT 1000",
        ),
        ("RSET", Command::Rset, "RSET"),
        ("NOOP", Command::Noop { argument: None }, "NOOP"),
        (
            "NOOP hello there",
            Command::Noop {
                argument: Some("hello there"),
            },
            "NOOP hello there",
        ),
        (
            "VRFY Smith",
            Command::Vrfy { argument: "Smith" },
            "VRFY Smith",
        ),
        (
            "EXPN Example-People",
            Command::Expn {
                argument: "Example-People",
            },
            "EXPN Example-People",
        ),
        ("HELP", Command::Help { argument: None }, "HELP"),
        (
            "HELP MAIL",
            Command::Help {
                argument: Some("MAIL"),
            },
            "HELP MAIL",
        ),
        ("QUIT", Command::Quit, "QUIT"),
        ("StartTLS", Command::StartTls, "STARTTLS"),
        (
            "AUTH PLAIN",
            Command::Auth {
                mechanism: "PLAIN",
                initial_response: None,
            },
            "AUTH PLAIN",
        ),
        (
            "AUTH PLAIN AHRlc3QAdGVzdA==",
            Command::Auth {
                mechanism: "PLAIN",
                initial_response: Some("AHRlc3QAdGVzdA=="),
            },
            "AUTH PLAIN AHRlc3QAdGVzdA==",
        ),
        (
            "AUTH LOGIN =",
            Command::Auth {
                mechanism: "LOGIN",
                initial_response: Some("="),
            },
            "AUTH LOGIN =",
        ),
        (
            "auth xoauth2 dXNlcj0=",
            Command::Auth {
                mechanism: "xoauth2",
                initial_response: Some("dXNlcj0="),
            },
            "AUTH xoauth2 dXNlcj0=",
        ),
    ];
    for (input, want, canonical) in rows {
        let got = Command::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got, want, "{input:?}");
        let encoded = got.to_bytes();
        assert_eq!(encoded, format!("{canonical}\r\n").as_bytes(), "{input:?}");
        let again = Command::parse(&encoded[..encoded.len() - 2]).unwrap();
        assert_eq!(again, want, "{input:?} round trip");
    }
}

#[test]
fn invalid_commands() {
    use CommandError as E;
    let syntax = |at| move |e: &E| matches!(e, E::Syntax { at: a, .. } if *a == at);
    type Check = Box<dyn Fn(&E) -> bool>;
    let rows: Vec<(&[u8], Check, u16)> = vec![
        (b"", Box::new(|e| *e == E::Empty), 500),
        (b"FOO", Box::new(|e| *e == E::UnknownVerb), 500),
        (b"STARTTLSX", Box::new(|e| *e == E::UnknownVerb), 500),
        (b"EHLO", Box::new(syntax(4)), 501),
        (b"EHLO ", Box::new(syntax(5)), 501),
        (b"EHLOx", Box::new(|e| *e == E::UnknownVerb), 500),
        (b"EHLO a\tb", Box::new(syntax(5)), 501),
        (b"MAIL", Box::new(syntax(4)), 501),
        (b"MAIL TO:<a>", Box::new(syntax(5)), 501),
        (b"MAIL FROM:a@b.c", Box::new(syntax(10)), 501),
        (b"MAIL FROM:<a@b.c", Box::new(syntax(10)), 501),
        (b"MAIL FROM:<a b>", Box::new(syntax(11)), 501),
        (b"MAIL FROM:<a>x", Box::new(syntax(13)), 501),
        (b"RCPT TO:<>", Box::new(syntax(5)), 501),
        (b"RCPT FROM:<a>", Box::new(syntax(5)), 501),
        (b"DATA x", Box::new(syntax(5)), 501),
        (b"QUIT now", Box::new(syntax(5)), 501),
        (b"VRFY", Box::new(syntax(4)), 501),
        (b"BDAT", Box::new(syntax(4)), 501),
        (b"BDAT x", Box::new(syntax(5)), 501),
        (b"BDAT -1", Box::new(syntax(5)), 501),
        (b"BDAT 99999999999999999999999", Box::new(syntax(5)), 501),
        (b"BDAT 10 FIRST", Box::new(syntax(8)), 501),
        (b"BDAT 10 LAST x", Box::new(syntax(8)), 501),
        (b"AUTH", Box::new(syntax(4)), 501),
        (b"AUTH PL@IN", Box::new(syntax(5)), 501),
        (b"AUTH PLAIN abc!", Box::new(syntax(11)), 501),
        (b"AUTH THIS-NAME-IS-FAR-TOO-LONG", Box::new(syntax(5)), 501),
        (b"NOOP \x01", Box::new(syntax(5)), 501),
        (
            b"MAIL FROM:<\xff>",
            Box::new(|e| *e == E::NotUtf8 { at: 11 }),
            501,
        ),
        (
            b"MAIL FROM:<a> SIZE=abc",
            Box::new(|e| matches!(e, E::Parameter { keyword, .. } if keyword == "SIZE")),
            555,
        ),
        (
            b"MAIL FROM:<a> SIZE",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"MAIL FROM:<a> SIZE=1 SIZE=2",
            Box::new(|e| matches!(e, E::Parameter { reason, .. } if *reason == "given twice")),
            555,
        ),
        (
            b"MAIL FROM:<a> BODY=9BIT",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"MAIL FROM:<a> SMTPUTF8=yes",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"MAIL FROM:<a> RET=ALL",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"MAIL FROM:<a> -X=1",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"MAIL FROM:<a> X=",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"MAIL FROM:<a> X=a=b",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"RCPT TO:<a> NOTIFY=NEVER,SUCCESS",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"RCPT TO:<a> NOTIFY=SUCCESS,SUCCESS",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
        (
            b"RCPT TO:<a> ORCPT=rfc822",
            Box::new(|e| matches!(e, E::Parameter { .. })),
            555,
        ),
    ];
    for (input, check, code) in rows {
        let err = Command::parse(input).expect_err(&String::from_utf8_lossy(input));
        assert!(
            check(&err),
            "{:?}: got {err:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            err.reply_code(),
            code,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}
