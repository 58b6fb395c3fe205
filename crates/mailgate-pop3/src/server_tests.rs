use super::*;

/// Feeds `input`, drains events; returns everything sent as text and the other events.
fn run(s: &mut ServerSession, input: &[u8]) -> (String, Vec<ServerEvent>) {
    s.receive(input);
    let mut sent = Vec::new();
    let mut other = Vec::new();
    while let Some(e) = s.poll_event() {
        match e {
            ServerEvent::Send(b) => sent.extend(b),
            e => other.push(e),
        }
    }
    (String::from_utf8(sent).unwrap(), other)
}

fn login(events: &[ServerEvent]) -> &Credentials {
    match events {
        [ServerEvent::Login(c)] => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn greeting_and_capa() {
    let mut s = ServerSession::new(ServerConfig {
        offer_stls: true,
        ..ServerConfig::default()
    });
    let (out, ev) = run(&mut s, b"CAPA\r\n");
    assert!(ev.is_empty());
    assert_eq!(
        out,
        "+OK POP3 server ready\r\n+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSASL PLAIN LOGIN\r\nUSER\r\nSTLS\r\n.\r\n"
    );
}

#[test]
fn required_tls_hides_and_refuses_logins_until_stls() {
    let mut s = ServerSession::new(ServerConfig {
        offer_stls: true,
        require_tls_for_auth: true,
        ..ServerConfig::default()
    });
    let (out, ev) = run(
        &mut s,
        b"CAPA\r\nAUTH\r\nUSER joe\r\nPASS secret\r\nAUTH PLAIN AGpvZQBzZWNyZXQ=\r\n",
    );
    assert!(ev.is_empty(), "{ev:?}");
    let refusal =
        "-ERR [AUTH] Use STLS first: this server does not accept passwords in clear text.\r\n";
    assert_eq!(
        out,
        format!(
            "+OK POP3 server ready\r\n+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\n.\r\n+OK\r\n.\r\n{refusal}{refusal}{refusal}"
        )
    );
    let (out, ev) = run(&mut s, b"STLS\r\n");
    assert_eq!(out, "+OK Begin TLS negotiation now.\r\n");
    assert_eq!(ev, [ServerEvent::StartTls]);
    s.tls_established();
    let (out, ev) = run(&mut s, b"CAPA\r\nUSER joe\r\nPASS secret\r\n");
    assert_eq!(
        out,
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSASL PLAIN LOGIN\r\nUSER\r\n.\r\n+OK\r\n"
    );
    assert!(
        matches!(&ev[..], [ServerEvent::Login(c)] if c.username == "joe"),
        "{ev:?}"
    );
}

#[test]
fn stls_discards_injected_plaintext() {
    let mut s = ServerSession::new(ServerConfig {
        offer_stls: true,
        ..ServerConfig::default()
    });
    run(&mut s, b"");
    let (out, ev) = run(&mut s, b"STLS\r\nUSER evil\r\n");
    assert_eq!(out, "+OK Begin TLS negotiation now.\r\n");
    assert_eq!(ev, [ServerEvent::StartTls]);
    // Input before the handshake completes is dropped too.
    let (out, ev) = run(&mut s, b"PASS evil\r\n");
    assert_eq!((out.as_str(), ev.len()), ("", 0));
    s.tls_established();
    // The injected USER was not kept: PASS alone fails.
    let (out, _) = run(&mut s, b"PASS x\r\nCAPA\r\n");
    assert!(out.starts_with("-ERR No USER given.\r\n"), "{out}");
    assert!(!out.contains("STLS"), "{out}");
    let (out, _) = run(&mut s, b"STLS\r\n");
    assert_eq!(out, "-ERR TLS is already active.\r\n");
}

#[test]
fn stls_not_offered() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, ev) = run(&mut s, b"STLS\r\n");
    assert_eq!(out, "-ERR STLS is not available.\r\n");
    assert!(ev.is_empty());
}

#[test]
fn user_pass_reject_then_accept_with_pipelining() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, ev) = run(&mut s, b"USER tim\r\nPASS wrong pass\r\nSTAT\r\n");
    assert_eq!(out, "+OK\r\n");
    let c = login(&ev);
    assert_eq!(
        (c.username.as_str(), c.password.expose().as_str()),
        ("tim", "wrong pass")
    );
    s.reject_login("Authentication failed.");
    let (out, ev) = run(&mut s, b"");
    assert_eq!(
        out,
        "-ERR [AUTH] Authentication failed.\r\n-ERR Not logged in.\r\n"
    );
    assert!(ev.is_empty());
    let (_, ev) = run(&mut s, b"USER tim\r\nPASS right\r\nSTAT\r\nLIST");
    login(&ev);
    s.accept_login();
    let (out, ev) = run(&mut s, b"");
    assert_eq!(out, "+OK Logged in.\r\n");
    assert_eq!(
        ev,
        [ServerEvent::Authenticated {
            pipelined: b"STAT\r\nLIST".to_vec()
        }]
    );
    assert!(s.is_finished());
}

#[test]
fn temporary_rejections_do_not_count_as_failures() {
    let mut config = ServerConfig::default();
    config.limits.max_auth_failures = 2;
    let mut s = ServerSession::new(config);
    run(&mut s, b"");
    for _ in 0..3 {
        let (out, ev) = run(&mut s, b"USER tim\r\nPASS right\r\n");
        assert_eq!(out, "+OK\r\n");
        login(&ev);
        s.reject_login_temporarily("Token endpoint timed out.");
        let (out, ev) = run(&mut s, b"");
        assert_eq!(out, "-ERR [SYS/TEMP] Token endpoint timed out.\r\n");
        assert!(ev.is_empty());
    }
    let (_, ev) = run(&mut s, b"USER tim\r\nPASS right\r\n");
    login(&ev);
    s.accept_login();
    let (out, _) = run(&mut s, b"");
    assert_eq!(out, "+OK Logged in.\r\n");
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (_, ev) = run(&mut s, b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    assert_eq!(login(&ev).username, "tim");
    s.reject_login("no");

    let (out, ev) = run(&mut s, b"AUTH PLAIN\r\n");
    assert!(out.ends_with("+ \r\n"), "{out}");
    assert!(ev.is_empty());
    let (_, ev) = run(&mut s, b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    assert_eq!(login(&ev).password.expose(), "tanstaaftanstaaf");
}

#[test]
fn auth_login_and_cancel() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, _) = run(&mut s, b"AUTH LOGIN\r\n");
    assert_eq!(out, "+ VXNlcm5hbWU6\r\n");
    let (out, _) = run(&mut s, b"dGlt\r\n");
    assert_eq!(out, "+ UGFzc3dvcmQ6\r\n");
    let (out, _) = run(&mut s, b"*\r\n");
    assert_eq!(out, "-ERR Authentication cancelled.\r\n");
    let (out, _) = run(&mut s, b"AUTH LOGIN dGlt\r\n");
    assert_eq!(out, "+ UGFzc3dvcmQ6\r\n");
    let (_, ev) = run(&mut s, b"c2VjcmV0\r\n");
    assert_eq!(login(&ev).password.expose(), "secret");
}

#[test]
fn auth_errors() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, _) = run(&mut s, b"AUTH CRAM-MD5\r\n");
    assert_eq!(out, "-ERR Unsupported authentication mechanism.\r\n");
    let (out, _) = run(&mut s, b"AUTH PLAIN !!!!\r\n");
    assert!(out.starts_with("-ERR AUTH: invalid argument"), "{out}");
    let (out, _) = run(&mut s, b"AUTH PLAIN\r\nnot base64\r\n");
    assert_eq!(
        out,
        "+ \r\n-ERR malformed base64: invalid byte 0x20 at offset 3\r\n"
    );
    let (out, _) = run(&mut s, b"AUTH\r\n");
    assert_eq!(out, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
}

#[test]
fn long_lines() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let long = format!("USER {}\r\nQUIT\r\n", "x".repeat(300));
    let (out, ev) = run(&mut s, long.as_bytes());
    assert_eq!(
        out,
        "-ERR line longer than 255 octets\r\n+OK Logging out.\r\n"
    );
    assert_eq!(ev, [ServerEvent::Closed(CloseReason::Quit)]);
    // AUTH lines may be longer.
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let ir = mailgate_sasl::encode_base64(format!("\0tim\0{}", "p".repeat(400)).as_bytes());
    let (_, ev) = run(&mut s, format!("AUTH PLAIN {ir}\r\n").as_bytes());
    assert_eq!(login(&ev).password.expose().len(), 400);
}

#[test]
fn overlong_sasl_continuation_is_refused_once() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, _) = run(&mut s, b"AUTH PLAIN\r\n");
    assert_eq!(out, "+ \r\n");
    let (out, ev) = run(&mut s, &[b'A'; 20_000]);
    assert_eq!(out, "-ERR line longer than 16384 octets\r\n");
    assert!(ev.is_empty());
    // The rest of the line is discarded, the exchange is over and the session goes on.
    let (out, ev) = run(&mut s, b"AAAA\r\nNOOP\r\n");
    assert_eq!(out, "-ERR Not logged in.\r\n");
    assert!(ev.is_empty());
}

#[test]
fn too_many_errors_and_failures() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, ev) = run(&mut s, &b"NOOP\r\n".repeat(20));
    assert_eq!(out.matches("-ERR").count(), 11);
    assert!(out.ends_with("-ERR Too many errors, closing connection.\r\n"));
    assert_eq!(ev, [ServerEvent::Closed(CloseReason::TooManyErrors)]);
    assert!(s.poll_event().is_none());

    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    for i in 0..3 {
        let (_, ev) = run(&mut s, b"USER a\r\nPASS b\r\n");
        login(&ev);
        s.reject_login("bad");
        let (_, ev) = run(&mut s, b"");
        assert_eq!(ev.is_empty(), i < 2);
    }
    assert!(s.is_finished());
}

#[test]
fn verdict_calls_out_of_turn_are_ignored() {
    let mut s = ServerSession::new(ServerConfig::default());
    s.accept_login();
    s.reject_login("x");
    let (out, ev) = run(&mut s, b"");
    assert_eq!(out, "+OK POP3 server ready\r\n");
    assert!(ev.is_empty());
}

#[test]
fn output_does_not_depend_on_chunking() {
    let input: &[u8] =
        b"CAPA\r\nAUTH LOGIN\r\ndGlt\r\n*\r\nUSER a b\r\nNOOP\r\nAUTH PLAIN AGEAYg==\r\n";
    let whole = {
        let mut s = ServerSession::new(ServerConfig::default());
        run(&mut s, input)
    };
    for split in 0..input.len() {
        let mut s = ServerSession::new(ServerConfig::default());
        let (mut out, mut ev) = run(&mut s, &input[..split]);
        let (out2, ev2) = run(&mut s, &input[split..]);
        out.push_str(&out2);
        ev.extend(ev2);
        assert_eq!((out, ev), whole, "split at {split}");
    }
}

#[test]
fn too_many_commands() {
    let mut s = ServerSession::new(ServerConfig::default());
    run(&mut s, b"");
    let (out, ev) = run(&mut s, &b"CAPA\r\n".repeat(150));
    assert_eq!(out.matches("+OK Capability list follows").count(), 100);
    assert!(out.ends_with("-ERR Too many commands, closing connection.\r\n"));
    assert_eq!(ev, [ServerEvent::Closed(CloseReason::TooManyCommands)]);
}
