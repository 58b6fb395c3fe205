use super::*;

fn done(step: ServerStep) -> Credentials {
    match step {
        ServerStep::Done(c) => c,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn challenge(step: ServerStep) -> String {
    match step {
        ServerStep::Challenge(c) => c.base64().to_owned(),
        other => panic!("expected Challenge, got {other:?}"),
    }
}

#[test]
fn plain_with_initial_response() {
    let mut s = ServerExchange::new(Mechanism::Plain).unwrap();
    let c = done(s.start(Some(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm")).unwrap());
    assert_eq!(c.username, "tim");
    assert_eq!(c.password.expose(), "tanstaaftanstaaf");
    assert!(s.is_finished());
    assert_eq!(s.step(b"AA==").unwrap_err(), SaslError::ExchangeFinished);
}

#[test]
fn plain_without_initial_response() {
    let mut s = ServerExchange::from_name(b"plain").unwrap();
    assert_eq!(challenge(s.start(None).unwrap()), "");
    let c = done(s.step(b"VXJzZWwAS3VydAB4aXBqM3BsbXE=").unwrap());
    assert_eq!(c.authzid.as_deref(), Some("Ursel"));
    assert_eq!(c.username, "Kurt");
}

#[test]
fn plain_empty_initial_response_is_malformed() {
    let mut s = ServerExchange::new(Mechanism::Plain).unwrap();
    assert!(matches!(
        s.start(Some(b"=")),
        Err(SaslError::MalformedPlain { .. })
    ));
    assert!(s.is_finished());
}

#[test]
fn login_exchange() {
    let mut s = ServerExchange::new(Mechanism::Login).unwrap();
    assert_eq!(challenge(s.start(None).unwrap()), "VXNlcm5hbWU6");
    assert_eq!(challenge(s.step(b"dGlt").unwrap()), "UGFzc3dvcmQ6");
    let c = done(s.step(b"dGFuc3RhYWZ0YW5zdGFhZg==").unwrap());
    assert_eq!(c.username, "tim");
    assert_eq!(c.authzid, None);
    assert_eq!(c.password.expose(), "tanstaaftanstaaf");
}

#[test]
fn login_with_initial_username() {
    // SMTP clients may send "AUTH LOGIN <base64 username>".
    let mut s = ServerExchange::new(Mechanism::Login).unwrap();
    assert_eq!(challenge(s.start(Some(b"dGlt")).unwrap()), "UGFzc3dvcmQ6");
    let c = done(s.step(b"cHc=").unwrap());
    assert_eq!(
        (c.username.as_str(), c.password.expose().as_str()),
        ("tim", "pw")
    );
}

#[test]
fn cancel_at_every_step() {
    let mut s = ServerExchange::new(Mechanism::Login).unwrap();
    s.start(None).unwrap();
    assert_eq!(s.step(b"*").unwrap_err(), SaslError::Cancelled);
    assert!(s.is_finished());

    let mut s = ServerExchange::new(Mechanism::Login).unwrap();
    s.start(None).unwrap();
    s.step(b"dGlt").unwrap();
    assert_eq!(s.step(b"*").unwrap_err(), SaslError::Cancelled);

    let mut s = ServerExchange::new(Mechanism::Plain).unwrap();
    assert_eq!(s.start(Some(b"*")).unwrap_err(), SaslError::Cancelled);

    let mut s = ServerExchange::new(Mechanism::Plain).unwrap();
    s.start(None).unwrap();
    assert_eq!(s.step(b"*").unwrap_err(), SaslError::Cancelled);
}

#[test]
fn invalid_responses_table() {
    // (mechanism, initial response, lines, expected error kind)
    type Row = (
        Mechanism,
        Option<&'static [u8]>,
        &'static [&'static [u8]],
        &'static str,
    );
    let rows: &[Row] = &[
        (Mechanism::Plain, Some(b"AHRpbQ"), &[], "Base64"),
        (Mechanism::Plain, Some(b""), &[], "Base64"),
        (Mechanism::Plain, None, &[b"="], "Base64"),
        (Mechanism::Plain, None, &[b"AHRpbQB0 YW5z"], "Base64"),
        (Mechanism::Plain, None, &[b"dGltAHBhc3M="], "MalformedPlain"),
        (Mechanism::Plain, None, &[b""], "MalformedPlain"),
        (Mechanism::Login, None, &[b""], "MalformedLogin"),
        (Mechanism::Login, None, &[b"AA=="], "MalformedLogin"),
        (Mechanism::Login, None, &[b"/w=="], "MalformedLogin"),
        (Mechanism::Login, None, &[b"dGlt", b""], "MalformedLogin"),
        (Mechanism::Login, None, &[b"dGlt", b"cA=!"], "Base64"),
        (Mechanism::Login, Some(b"="), &[], "MalformedLogin"),
    ];
    for (mech, ir, lines, want) in rows {
        let mut s = ServerExchange::new(*mech).unwrap();
        let mut result = s.start(*ir);
        for line in *lines {
            result = s.step(line);
        }
        let err = result.unwrap_err();
        let kind = format!("{err:?}");
        assert!(kind.starts_with(want), "{mech} {ir:?} {lines:?}: {kind}");
        assert!(s.is_finished());
    }
}

#[test]
fn too_long() {
    let mut s = ServerExchange::new(Mechanism::Plain)
        .unwrap()
        .with_max_response_len(8);
    s.start(None).unwrap();
    assert_eq!(
        s.step(b"AHRpbQB0YW5z").unwrap_err(),
        SaslError::TooLong { len: 12, max: 8 }
    );
}

#[test]
fn misuse() {
    assert!(matches!(
        ServerExchange::new(Mechanism::XOAuth2),
        Err(SaslError::UnsupportedMechanism { .. })
    ));
    assert!(matches!(
        ServerExchange::from_name(b"CRAM-MD5"),
        Err(SaslError::UnsupportedMechanism { name }) if name == "CRAM-MD5"
    ));
    let mut s = ServerExchange::new(Mechanism::Plain).unwrap();
    assert_eq!(s.step(b"AA==").unwrap_err(), SaslError::ExchangeFinished);
    s.start(None).unwrap();
    assert_eq!(s.start(None).unwrap_err(), SaslError::ExchangeFinished);
}

#[test]
fn errors_never_contain_the_password() {
    let mut s = ServerExchange::new(Mechanism::Plain).unwrap();
    // "\0user\0hunter2\0x"
    let text = crate::encode_base64(b"\0user\0hunter2\0x");
    let err = s.start(Some(text.as_bytes())).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Whatever a LOGIN client sends (non-empty, NUL-free UTF-8) comes out unchanged.
    #[test]
    fn login_round_trip(user in "[^\u{0}]{1,40}", pass in "[^\u{0}]{1,40}") {
        let mut s = ServerExchange::new(Mechanism::Login).unwrap();
        s.start(None).unwrap();
        s.step(crate::encode_base64(user.as_bytes()).as_bytes()).unwrap();
        let c = done(s.step(crate::encode_base64(pass.as_bytes()).as_bytes()).unwrap());
        proptest::prop_assert_eq!(c.username, user);
        proptest::prop_assert_eq!(c.password.expose(), &pass);
    }

    /// Arbitrary responses never panic and always end the exchange or continue it.
    #[test]
    fn arbitrary_responses(lines in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 0..4), login in proptest::prelude::any::<bool>()) {
        let mech = if login { Mechanism::Login } else { Mechanism::Plain };
        let mut s = ServerExchange::new(mech).unwrap();
        let mut r = s.start(None);
        for l in &lines {
            if s.is_finished() { break; }
            r = s.step(l);
        }
        proptest::prop_assert_eq!(s.is_finished(), !matches!(r, Ok(ServerStep::Challenge(_))));
    }
}
