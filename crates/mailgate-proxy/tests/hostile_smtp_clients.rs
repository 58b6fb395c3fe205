//! Hostile clients against an SMTP listener: a 100 MB line, NUL and 8-bit bytes, bare LF,
//! bad base64 in AUTH, abandoned AUTH, pipelined garbage, slowloris, connection floods,
//! password floods, huge DATA and BDAT before authentication and SMTP smuggling forms in
//! DATA after it. Each case checks the exact reply, that the proxy closes or carries on as it
//! should, that a normal login on the same listener then works, and that the process (proxy
//! included) stays below the peak RSS limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hostile::*;
use mailgate_proxy::{ConnectionLimits, ListenerSpec, Protocol, Proxy};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const SUITE: &str = "hostile SMTP clients";
const GREETING: &str = "220 fake.upstream ESMTP ready\r\n";
const AUTHENTICATED: &str = "235 2.7.0 Authentication successful\r\n";

/// Message data the upstream received, one entry per DATA command, exactly as sent
/// (terminating `CRLF.CRLF` included).
type Received = Arc<Mutex<Vec<Vec<u8>>>>;

/// An SMTP server after TLS: EHLO, AUTH XOAUTH2/OAUTHBEARER, MAIL, RCPT, DATA (recorded
/// raw up to the first CRLF.CRLF), QUIT; anything else gets `502`.
async fn smtp_session<S: AsyncRead + AsyncWrite + Unpin>(mut lines: Lines<S>, received: Received) {
    lines.send(GREETING).await;
    loop {
        // The proxy may drop the connection without a TLS close_notify: treat it as the end.
        let mut line = String::new();
        if !matches!(lines.inner.read_line(&mut line).await, Ok(1..)) {
            return;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            lines
                .send("250-fake.upstream greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n")
                .await;
        } else if upper.starts_with("AUTH ") {
            let ir = line
                .split_whitespace()
                .nth(2)
                .unwrap_or_default()
                .to_owned();
            if token_ok(&ir, USER, TOKEN) {
                lines.send(AUTHENTICATED).await;
            } else {
                lines.send("535 5.7.8 bad token\r\n").await;
            }
        } else if upper.starts_with("MAIL FROM") {
            lines.send("250 2.1.0 OK\r\n").await;
        } else if upper.starts_with("RCPT TO") {
            lines.send("250 2.1.5 OK\r\n").await;
        } else if upper.trim_end() == "DATA" {
            lines.send("354 Go ahead\r\n").await;
            let mut data = Vec::new();
            while !data.ends_with(b"\r\n.\r\n") && data.len() < 1024 * 1024 {
                if !matches!(lines.inner.read_until(b'\n', &mut data).await, Ok(1..)) {
                    return;
                }
            }
            received.lock().unwrap().push(data);
            lines.send("250 2.0.0 queued\r\n").await;
        } else if upper.starts_with("QUIT") {
            lines.send("221 2.0.0 bye\r\n").await;
            // A clean TLS close (close_notify), as a well-behaved server does.
            let _ = lines.inner.get_mut().shutdown().await;
            return;
        } else {
            lines.send("502 5.5.2 unknown\r\n").await;
        }
    }
}

/// A well-behaved SMTP upstream over implicit TLS that records the message data it gets.
async fn smtp_upstream(pki: &Pki) -> (SocketAddr, Received) {
    let received = Received::default();
    let shared = received.clone();
    let address = fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let received = shared.clone();
        async move {
            if let Ok(stream) = acceptor.accept(tcp).await {
                smtp_session(Lines::new(stream), received).await;
            }
        }
    })
    .await;
    (address, received)
}

struct Setup {
    _proxy: Proxy,
    address: SocketAddr,
    tokens: Arc<FixedTokens>,
    received: Received,
}

async fn setup_with(pki: &Pki, adjust: impl FnOnce(&mut ListenerSpec)) -> Setup {
    let (server, received) = smtp_upstream(pki).await;
    let mut spec = pki.spec(Protocol::Smtp, server);
    adjust(&mut spec);
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (proxy, address) = start_proxy(spec, tokens.clone()).await;
    Setup {
        _proxy: proxy,
        address,
        tokens,
        received,
    }
}

async fn setup(pki: &Pki) -> Setup {
    setup_with(pki, |_| {}).await
}

async fn greeted(address: SocketAddr) -> Raw {
    let mut client = Raw::connect(address).await;
    assert_eq!(client.expect_line().await, GREETING);
    client
}

/// Reads one (multi-line) reply.
async fn reply(client: &mut Raw) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = client.expect_line().await;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last || lines.len() > 100 {
            return lines;
        }
    }
}

/// The EHLO reply the proxy presents: the upstream's extensions with its own AUTH.
const EHLO_REPLY: [&str; 5] = [
    "250-fake.upstream greets you\r\n",
    "250-PIPELINING\r\n",
    "250-SIZE 35882577\r\n",
    "250-8BITMIME\r\n",
    "250 AUTH PLAIN LOGIN\r\n",
];

/// A greeted connection after EHLO.
async fn after_ehlo(address: SocketAddr) -> Raw {
    let mut client = greeted(address).await;
    client.send(b"EHLO client.example\r\n").await;
    assert_eq!(reply(&mut client).await, EHLO_REPLY);
    client
}

/// The session carries on after a rejected command.
async fn still_usable(client: &mut Raw) {
    client.send(b"NOOP\r\n").await;
    assert_eq!(client.expect_line().await, "250 2.0.0 OK\r\n");
}

fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

/// A normal AUTH PLAIN login on `address` works and reaches the server; then the suite's
/// peak RSS is checked.
async fn good_login(address: SocketAddr, case: &str) {
    let mut client = after_ehlo(address).await;
    client
        .send(format!("AUTH PLAIN {}\r\n", plain(USER, PASSWORD)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, AUTHENTICATED);
    client
        .send(format!("MAIL FROM:<{USER}>\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "250 2.1.0 OK\r\n");
    check_peak_rss(SUITE, case);
}

#[tokio::test]
async fn a_100_mb_line_without_crlf_is_refused_once_and_discarded() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let mut client = greeted(s.address).await;
    let chunk = vec![b'x'; 64 * 1024];
    // The first chunk already passes the line limit: the proxy answers once...
    assert!(client.send(&chunk).await);
    assert_eq!(client.expect_line().await, "500 5.5.6 Line too long\r\n");
    // ...and discards the rest of the line without buffering it.
    for _ in 1..100 * 1024 * 1024 / chunk.len() {
        assert!(client.send(&chunk).await);
    }
    // The line ends: no second reply for it, and the session goes on.
    client.send(b"\r\n").await;
    still_usable(&mut client).await;
    // The same after EHLO, for an AUTH line (which may be longer than other commands).
    let mut client = after_ehlo(s.address).await;
    client.send(b"AUTH PLAIN ").await;
    for _ in 0..100 * 1024 * 1024 / chunk.len() {
        assert!(client.send(&chunk).await);
    }
    client.send(b"\r\n").await;
    assert_eq!(client.expect_line().await, "500 5.5.6 Line too long\r\n");
    still_usable(&mut client).await;
    // And for an AUTH continuation line: the exchange ends (a failed attempt).
    client.send(b"AUTH PLAIN\r\n").await;
    assert_eq!(client.expect_line().await, "334 \r\n");
    for _ in 0..100 * 1024 * 1024 / chunk.len() {
        assert!(client.send(&chunk).await);
    }
    client.send(b"\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "500 5.5.6 Authentication exchange line too long\r\n"
    );
    still_usable(&mut client).await;
    // Nothing of the line was kept: far below what holding 100 MB would take.
    let peak = peak_rss().unwrap_or(0);
    assert!(
        peak < 64 * 1024 * 1024,
        "peak RSS {peak} bytes: the line was buffered"
    );
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    good_login(s.address, "a 100 MB line").await;
}

#[tokio::test]
async fn nul_and_8_bit_bytes_in_commands() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let cases: [(&[u8], &str); 5] = [
        (
            b"NO\0OP\r\n",
            "500 5.5.2 Syntax error, command unrecognized\r\n",
        ),
        (
            b"NOOP \0\r\n",
            "501 5.5.4 Syntax error: syntax error in argument at octet 5\r\n",
        ),
        (
            b"\xff\xfe\x80\r\n",
            "500 5.5.2 Syntax error, command unrecognized\r\n",
        ),
        (
            b"EHLO \xffclient\r\n",
            "501 5.5.4 Syntax error: command line is not valid UTF-8 at octet 5\r\n",
        ),
        (
            b"MAIL FROM:<al\xc3\xa9@example.com>\r\n",
            "530 5.7.0 Authentication required\r\n",
        ),
    ];
    let mut client = greeted(s.address).await;
    for (bytes, expected) in cases {
        client.send(bytes).await;
        assert_eq!(client.expect_line().await, expected);
    }
    still_usable(&mut client).await;
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    good_login(s.address, "NUL and 8-bit bytes").await;
}

#[tokio::test]
async fn bare_lf_does_not_end_a_command() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let mut client = greeted(s.address).await;
    // A bare LF is part of the line (RFC 5321 lines end with CRLF): two "commands" joined by
    // it are one line, answered once, and neither runs.
    client.send(b"NOOP\nQUIT\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "500 5.5.2 Syntax error, command unrecognized\r\n"
    );
    client.send(b"EHLO client.example\n").await;
    client.send(b"NOOP\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "501 5.5.4 Syntax error: syntax error in domain at octet 5\r\n"
    );
    // The credentials in a bare-LF AUTH line are not accepted.
    client.send(b"EHLO client.example\r\n").await;
    assert_eq!(reply(&mut client).await, EHLO_REPLY);
    client
        .send(format!("AUTH PLAIN {}\nNOOP\r\n", plain(USER, PASSWORD)).as_bytes())
        .await;
    assert_eq!(
        client.expect_line().await,
        "501 5.5.4 Syntax error: syntax error in initial response at octet 11\r\n"
    );
    still_usable(&mut client).await;
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    good_login(s.address, "bare LF").await;
}

#[tokio::test]
async fn invalid_base64_in_auth() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let mut client = after_ehlo(s.address).await;
    client.send(b"AUTH PLAIN !!!notbase64***\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "501 5.5.4 Syntax error: syntax error in initial response at octet 11\r\n"
    );
    client.send(b"AUTH PLAIN\r\n").await;
    assert_eq!(client.expect_line().await, "334 \r\n");
    client.send(b"%%%%\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "501 5.5.2 Cannot decode response\r\n"
    );
    client.send(b"AUTH LOGIN\r\n").await;
    assert_eq!(client.expect_line().await, "334 VXNlcm5hbWU6\r\n");
    client.send(b"=abc\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "501 5.5.2 Cannot decode response\r\n"
    );
    // Valid base64 of a PLAIN message without the NUL separators: the third failed
    // exchange closes the connection.
    let bad = STANDARD.encode("no separators here");
    client
        .send(format!("AUTH PLAIN {bad}\r\n").as_bytes())
        .await;
    assert_eq!(
        client.expect_line().await,
        "501 5.5.4 Invalid authentication exchange: malformed PLAIN response: no NUL separator (expected [authzid] NUL authcid NUL passwd)\r\n"
    );
    assert_eq!(
        client.expect_line().await,
        "421 4.7.0 Too many authentication failures\r\n"
    );
    client.assert_closed().await;
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    good_login(s.address, "invalid base64 in AUTH").await;
}

#[tokio::test]
async fn auth_started_and_abandoned() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    for _ in 0..5 {
        let mut client = after_ehlo(s.address).await;
        client.send(b"AUTH PLAIN\r\n").await;
        assert_eq!(client.expect_line().await, "334 \r\n");
        drop(client);
        let mut client = after_ehlo(s.address).await;
        client.send(b"AUTH LOGIN\r\n").await;
        assert_eq!(client.expect_line().await, "334 VXNlcm5hbWU6\r\n");
        drop(client);
    }
    // Cancelled with `*`; the session goes on.
    let mut client = after_ehlo(s.address).await;
    client.send(b"AUTH PLAIN\r\n").await;
    assert_eq!(client.expect_line().await, "334 \r\n");
    client.send(b"*\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "501 5.0.0 Authentication cancelled\r\n"
    );
    client.send(b"AUTH LOGIN\r\n").await;
    assert_eq!(client.expect_line().await, "334 VXNlcm5hbWU6\r\n");
    client
        .send(format!("{}\r\n", STANDARD.encode(USER)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "334 UGFzc3dvcmQ6\r\n");
    client.send(b"*\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "501 5.0.0 Authentication cancelled\r\n"
    );
    still_usable(&mut client).await;
    // Abandoned half-way through LOGIN.
    let mut client = after_ehlo(s.address).await;
    client.send(b"AUTH LOGIN\r\n").await;
    assert_eq!(client.expect_line().await, "334 VXNlcm5hbWU6\r\n");
    client
        .send(format!("{}\r\n", STANDARD.encode(USER)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "334 UGFzc3dvcmQ6\r\n");
    drop(client);
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    good_login(s.address, "AUTH abandoned").await;
}

#[tokio::test]
async fn pipelined_garbage_before_and_after_login() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let mut pipeline =
        b"garbage\r\n\x01\x02\x03\r\n)(\r\n250 OK\r\nEHLO client.example\r\n".to_vec();
    pipeline.extend(format!("AUTH PLAIN {}\r\n", plain(USER, PASSWORD)).as_bytes());
    // After the login everything is relayed to the server, garbage included.
    pipeline.extend(format!("FOO\r\n)(\r\nMAIL FROM:<{USER}>\r\n").as_bytes());
    let mut client = greeted(s.address).await;
    client.send(&pipeline).await;
    for _ in 0..4 {
        assert_eq!(
            client.expect_line().await,
            "500 5.5.2 Syntax error, command unrecognized\r\n"
        );
    }
    assert_eq!(reply(&mut client).await, EHLO_REPLY);
    for expected in [
        AUTHENTICATED,
        "502 5.5.2 unknown\r\n",
        "502 5.5.2 unknown\r\n",
        "250 2.1.0 OK\r\n",
    ] {
        assert_eq!(client.expect_line().await, expected);
    }
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 1);
    good_login(s.address, "pipelined garbage").await;
}

#[tokio::test]
async fn slowloris_is_closed_by_the_pre_auth_timeout() {
    let pki = Pki::new();
    let s = setup_with(&pki, |spec| {
        spec.pre_auth_timeout = Duration::from_millis(500);
    })
    .await;
    let mut client = greeted(s.address).await;
    // One byte at a time, never a whole line; bounded at 200 bytes (10 s).
    let mut sent = 0;
    for byte in b"EHLO client.example ".iter().cycle().take(200) {
        if !client.send(&[*byte]).await {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent < 200, "the proxy never closed the slow connection");
    assert_eq!(
        client.line().await.as_deref(),
        Some("421 4.7.0 Timed out waiting for authentication\r\n")
    );
    client.assert_closed().await;
    good_login(s.address, "slowloris").await;
}

#[tokio::test]
async fn idle_connections_hit_the_listener_limit() {
    let pki = Pki::new();
    let s = setup_with(&pki, |spec| {
        spec.limits = ConnectionLimits {
            per_listener: Some(20),
            per_source: None,
            ..ConnectionLimits::default()
        };
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(greeted(s.address).await);
    }
    for _ in 0..3 {
        let mut refused = Raw::connect(s.address).await;
        let line = refused.expect_line().await;
        assert!(
            line.starts_with(
                "421 4.7.0 SMTP server at 127.0.0.1:0 (unsecured) proxying localhost:"
            ),
            "{line}"
        );
        assert!(
            line.ends_with(
                " (SSL/TLS) rejecting new connection above the limit of 20 connections on this server\r\n"
            ),
            "{line}"
        );
        refused.assert_closed().await;
    }
    drop(idle);
    wait_for_admission("127.0.0.1", s.address, |l| l == GREETING).await;
    good_login(s.address, "listener connection limit").await;
}

#[tokio::test]
async fn idle_connections_hit_the_per_address_limit() {
    let pki = Pki::new();
    let s = setup_with(&pki, |spec| {
        spec.limits = ConnectionLimits {
            per_listener: Some(20),
            per_source: Some(5),
            ..ConnectionLimits::default()
        };
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut client = Raw::connect_from("127.0.0.2", s.address).await;
        assert_eq!(client.expect_line().await, GREETING);
        idle.push(client);
    }
    let mut refused = Raw::connect_from("127.0.0.2", s.address).await;
    let line = refused.expect_line().await;
    assert!(line.starts_with("421 4.7.0 SMTP server at "), "{line}");
    assert!(
        line.ends_with(
            " rejecting new connection above the limit of 5 connections from one address\r\n"
        ),
        "{line}"
    );
    refused.assert_closed().await;
    // Another address is still served while the first one is at its limit.
    good_login(s.address, "per-address connection limit").await;
    drop(idle);
    wait_for_admission("127.0.0.2", s.address, |l| l == GREETING).await;
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_is_refused_and_the_right_one_still_works() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let refused = format!(
        "535 5.7.8 Authentication credentials invalid. Login failed - the password for account {USER} is incorrect\r\n"
    );
    // Three failures close the connection.
    let mut client = after_ehlo(s.address).await;
    for n in 0..3 {
        client
            .send(format!("AUTH PLAIN {}\r\n", plain(USER, &format!("wrong{n}"))).as_bytes())
            .await;
        assert_eq!(client.expect_line().await, refused);
    }
    assert_eq!(
        client.expect_line().await,
        "421 4.7.0 Too many authentication failures\r\n"
    );
    client.assert_closed().await;
    // Across many connections, with AUTH LOGIN too.
    for n in 0..30 {
        let mut client = after_ehlo(s.address).await;
        let user = STANDARD.encode(USER);
        let password = STANDARD.encode(format!("nope{n}"));
        client
            .send(format!("AUTH LOGIN {user}\r\n{password}\r\n").as_bytes())
            .await;
        assert_eq!(client.expect_line().await, "334 UGFzc3dvcmQ6\r\n");
        assert_eq!(client.expect_line().await, refused);
    }
    // A wrong password never tells the authenticator the token was rejected.
    assert_eq!(s.tokens.rejected.load(Ordering::SeqCst), 0);
    let mut client = after_ehlo(s.address).await;
    client
        .send(format!("AUTH PLAIN {}\r\n", plain(USER, PASSWORD)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, AUTHENTICATED);
    good_login(s.address, "a flood of wrong passwords").await;
}

/// Sends up to 100 MB of message lines after `commands` on a connection after EHLO, expects
/// `530` for each command, `500` for each body line taken as a command until the command
/// limit, then `421` and the end of the connection long before 100 MB went out.
async fn unauthenticated_message(address: SocketAddr, commands: &[&str]) {
    let mut client = after_ehlo(address).await;
    let head: String = commands.iter().map(|c| format!("{c}\r\n")).collect();
    // 64-octet lines of text, 1024 to a chunk; the first line is a header.
    let mut body = b"Subject: a message nobody authenticated for, padded to 64...\r\n".to_vec();
    while body.len() < 64 * 1024 {
        body.extend([b'x'; 62]);
        body.extend(b"\r\n");
    }
    let mut first = head.into_bytes();
    first.extend(&body);
    assert!(client.send(&first).await);
    for _ in commands {
        assert_eq!(
            client.expect_line().await,
            "530 5.7.0 Authentication required\r\n"
        );
    }
    // EHLO and the commands count towards the 100 commands allowed before login.
    for _ in 1 + commands.len()..100 {
        assert_eq!(
            client.expect_line().await,
            "500 5.5.2 Syntax error, command unrecognized\r\n"
        );
    }
    assert_eq!(
        client.expect_line().await,
        "421 4.7.0 Too many commands\r\n"
    );
    let total = 100 * 1024 * 1024 / body.len();
    let mut sent = 1;
    while sent < total && client.send(&body).await {
        sent += 1;
    }
    assert!(
        sent < total,
        "the proxy accepted a 100 MB message before login"
    );
}

#[tokio::test]
async fn huge_data_before_authentication_is_refused() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    unauthenticated_message(
        s.address,
        &[
            "MAIL FROM:<a@example.com>",
            "RCPT TO:<b@example.com>",
            "DATA",
        ],
    )
    .await;
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    assert!(s.received.lock().unwrap().is_empty());
    good_login(s.address, "huge DATA before authentication").await;
}

#[tokio::test]
async fn huge_bdat_before_authentication_is_refused() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    unauthenticated_message(s.address, &["BDAT 104857600 LAST"]).await;
    // A chunk without any line ending: one "line too long", then discarded.
    let mut client = after_ehlo(s.address).await;
    client.send(b"BDAT 1048576 LAST\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "530 5.7.0 Authentication required\r\n"
    );
    client.send(&vec![0u8; 1024 * 1024]).await;
    assert_eq!(client.expect_line().await, "500 5.5.6 Line too long\r\n");
    client.send(b"\r\n").await;
    still_usable(&mut client).await;
    assert_eq!(s.tokens.calls.load(Ordering::SeqCst), 0);
    assert!(s.received.lock().unwrap().is_empty());
    good_login(s.address, "huge BDAT before authentication").await;
}

#[tokio::test]
async fn smuggling_forms_in_data_are_relayed_unchanged_after_login() {
    let pki = Pki::new();
    let s = setup(&pki).await;
    let mut client = after_ehlo(s.address).await;
    client
        .send(format!("AUTH PLAIN {}\r\n", plain(USER, PASSWORD)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, AUTHENTICATED);
    client
        .send(format!("MAIL FROM:<{USER}>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "250 2.1.0 OK\r\n");
    assert_eq!(client.expect_line().await, "250 2.1.5 OK\r\n");
    assert_eq!(client.expect_line().await, "354 Go ahead\r\n");
    // Bare LF dot, bare CR dot and LF CR dot forms with a smuggled second transaction: the
    // proxy does not reinterpret message data after login; the server sees exactly these
    // bytes and ends the message only at CRLF.CRLF.
    let data: &[u8] = b"Subject: hi\r\n\r\nbody\n.\nMAIL FROM:<evil@example.com>\nRCPT TO:<victim@example.com>\nDATA\nforged\n.\r\n\
        more\r.\rdata\n.\r\nstill body\r\n.\r\n";
    client.send(data).await;
    assert_eq!(client.expect_line().await, "250 2.0.0 queued\r\n");
    client.send(b"QUIT\r\n").await;
    assert_eq!(client.expect_line().await, "221 2.0.0 bye\r\n");
    client.assert_closed().await;
    assert_eq!(s.received.lock().unwrap().as_slice(), [data.to_vec()]);
    good_login(s.address, "smuggling forms in DATA").await;
}
