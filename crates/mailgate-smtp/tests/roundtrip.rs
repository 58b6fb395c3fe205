//! Property tests: value -> encode -> parse == value, for commands, replies, the EHLO
//! model and DATA stuffing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::borrow::Cow;

use mailgate_smtp::{
    Body, Capability, Command, DataScanner, DataStatus, EhloReply, EnhancedStatus, Limits,
    MailParameters, Notify, Orcpt, Parameter, Path, RcptParameters, Reply, ReplyStatus, Ret,
    dot_stuff, dot_unstuff,
};
use proptest::prelude::*;

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn s(re: &'static str) -> impl Strategy<Value = &'static str> {
    re.prop_map(leak)
}

fn other_params() -> impl Strategy<Value = Vec<Parameter<'static>>> {
    prop::collection::vec(
        (s("X-[A-Z0-9]{1,6}"), prop::option::of(s("[!-<>-~]{1,8}")))
            .prop_map(|(keyword, value)| Parameter { keyword, value }),
        0..3,
    )
}

fn mail_params() -> impl Strategy<Value = MailParameters<'static>> {
    (
        prop::option::of(any::<u64>()),
        prop::option::of(prop::sample::select(vec![
            Body::SevenBit,
            Body::EightBitMime,
            Body::BinaryMime,
        ])),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![Ret::Full, Ret::Headers])),
        prop::option::of(s("[A-Za-z0-9+]{1,12}")),
        any::<bool>(),
        prop::option::of(s("<>|[a-z]{1,5}@[a-z]{1,5}")),
        other_params(),
    )
        .prop_map(
            |(size, body, smtputf8, ret, envid, requiretls, auth, other)| MailParameters {
                size,
                body,
                smtputf8,
                ret,
                envid,
                requiretls,
                auth,
                other,
            },
        )
}

fn rcpt_params() -> impl Strategy<Value = RcptParameters<'static>> {
    let notify = prop_oneof![
        Just(Notify::Never),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_filter("at least one event", |(a, b, c)| *a || *b || *c)
            .prop_map(|(success, failure, delay)| Notify::On {
                success,
                failure,
                delay
            }),
    ];
    (
        prop::option::of(notify),
        prop::option::of(
            (s("rfc822|utf-8"), s("[a-z+0-9]{1,8}@[a-z]{1,5}"))
                .prop_map(|(addr_type, address)| Orcpt { addr_type, address }),
        ),
        other_params(),
    )
        .prop_map(|(notify, orcpt, other)| RcptParameters {
            notify,
            orcpt,
            other,
        })
}

fn command() -> impl Strategy<Value = Command<'static>> {
    let text = "[!-~][ -~]{0,19}";
    prop_oneof![
        s("[a-zA-Z0-9][a-zA-Z0-9.-]{0,20}|\\[[0-9.]{7,15}\\]")
            .prop_map(|domain| Command::Ehlo { domain }),
        s("[a-zA-Z0-9.-]{1,20}").prop_map(|domain| Command::Helo { domain }),
        (
            s("|[a-zA-Z0-9._+-]{1,10}@[a-z0-9.-]{1,10}|rené@bücher\\.de"),
            mail_params()
        )
            .prop_map(|(from, parameters)| Command::Mail {
                from: Path(from),
                parameters
            }),
        (
            s("[a-zA-Z0-9._+-]{1,10}@[a-z0-9.-]{1,10}|Postmaster"),
            rcpt_params()
        )
            .prop_map(|(to, parameters)| Command::Rcpt {
                to: Path(to),
                parameters
            }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        prop::option::of(s(text)).prop_map(|argument| Command::Noop { argument }),
        s(text).prop_map(|argument| Command::Vrfy { argument }),
        s(text).prop_map(|argument| Command::Expn { argument }),
        prop::option::of(s(text)).prop_map(|argument| Command::Help { argument }),
        Just(Command::Quit),
        Just(Command::StartTls),
        (
            s("[A-Z0-9_-]{1,20}"),
            prop::option::of(s("=|[A-Za-z0-9+/]{1,60}={0,2}"))
        )
            .prop_map(|(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }),
    ]
}

fn reply() -> impl Strategy<Value = Reply<'static>> {
    (
        2u16..=5,
        0u16..=5,
        0u16..=9,
        any::<bool>(),
        0u16..20,
        0u16..20,
    )
        .prop_flat_map(|(a, b, c, with_status, subject, detail)| {
            let code = a * 100 + b * 10 + c;
            let status = if with_status && a != 3 {
                EnhancedStatus::new(a as u8, subject, detail)
            } else {
                None
            };
            prop::collection::vec("|[a-zA-Z ][ -~]{0,30}", 1..5).prop_map(move |lines| Reply {
                code,
                status,
                lines: lines.into_iter().map(Cow::Owned).collect(),
            })
        })
}

fn capability() -> impl Strategy<Value = Capability> {
    let mech = "[A-Z][A-Z0-9-]{0,9}";
    prop_oneof![
        Just(Capability::Pipelining),
        prop::option::of(any::<u64>()).prop_map(Capability::Size),
        Just(Capability::EightBitMime),
        Just(Capability::SmtpUtf8),
        Just(Capability::Chunking),
        Just(Capability::BinaryMime),
        Just(Capability::EnhancedStatusCodes),
        Just(Capability::Dsn),
        Just(Capability::StartTls),
        Just(Capability::RequireTls),
        prop::collection::vec(mech, 0..4).prop_map(Capability::Auth),
        prop::collection::vec(mech, 1..4).prop_map(Capability::AuthLegacy),
        "X-[A-Z]{1,8}( [a-z0-9]{1,5}){0,2}".prop_map(Capability::Other),
    ]
}

fn ehlo() -> impl Strategy<Value = EhloReply> {
    (
        "[a-z][a-z0-9.-]{0,19}",
        "|[A-Za-z][ -~]{0,20}",
        prop::collection::vec(capability(), 0..8),
    )
        .prop_map(|(domain, greeting, capabilities)| EhloReply {
            domain,
            greeting,
            capabilities,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn command_round_trip(cmd in command()) {
        let bytes = cmd.to_bytes();
        prop_assert!(bytes.ends_with(b"\r\n"));
        let parsed = Command::parse(&bytes[..bytes.len() - 2]);
        prop_assert_eq!(parsed, Ok(cmd));
    }

    #[test]
    fn reply_round_trip(r in reply()) {
        let bytes = r.to_bytes();
        let parsed = Reply::parse(&bytes, &Limits::default());
        prop_assert_eq!(parsed, Ok(ReplyStatus::Complete(r, bytes.len())));
    }

    #[test]
    fn ehlo_round_trip(e in ehlo()) {
        let bytes = e.to_reply().to_bytes();
        prop_assert_eq!(EhloReply::parse(&bytes), Some(e));
    }

    #[test]
    fn ehlo_rewrite_keeps_everything_else(e in ehlo(), offer in any::<bool>()) {
        let mut r = e.clone();
        r.set_auth_mechanisms(&["PLAIN", "LOGIN"]);
        r.set_starttls(offer);
        prop_assert_eq!(r.auth_mechanisms(), vec!["PLAIN", "LOGIN"]);
        prop_assert_eq!(r.has(&Capability::StartTls), offer);
        let rest = |x: &EhloReply| -> Vec<Capability> {
            x.capabilities.iter().filter(|c| !matches!(c,
                Capability::Auth(_) | Capability::AuthLegacy(_) | Capability::StartTls)).cloned().collect()
        };
        prop_assert_eq!(rest(&r), rest(&e));
    }

    #[test]
    fn data_stuffing_round_trip(
        lines in prop::collection::vec("[ -~\u{80}-\u{10ffff}]{0,20}", 0..10),
        split in any::<prop::sample::Index>(),
        trailer in "[A-Z]{0,6}",
    ) {
        let message = lines.iter().map(|l| format!("{l}\r\n")).collect::<String>();
        let mut wire = Vec::new();
        dot_stuff(message.as_bytes(), &mut wire);
        let end = wire.len();
        wire.extend_from_slice(trailer.as_bytes());
        let at = split.index(wire.len() + 1);
        let mut scanner = DataScanner::new(u64::MAX);
        let found = match scanner.scan(&wire[..at]).unwrap() {
            DataStatus::Complete { end, .. } => end,
            DataStatus::Partial => match scanner.scan(&wire[at..]).unwrap() {
                DataStatus::Complete { end, .. } => at + end,
                DataStatus::Partial => usize::MAX,
            },
        };
        prop_assert_eq!(found, end);
        prop_assert_eq!(dot_unstuff(&wire[..end]), message.as_bytes());
    }
}
