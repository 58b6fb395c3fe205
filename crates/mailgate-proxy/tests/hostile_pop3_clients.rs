//! Hostile clients against a POP3 listener: a 100 MB line, NUL and 8-bit bytes, bare LF,
//! bad base64 in AUTH, abandoned AUTH, pipelined garbage, slowloris, connection floods and
//! password floods. Each case checks the exact reply, that the proxy closes or carries on as
//! it should, that a normal login on the same listener then works, and that the process
//! (proxy included) stays below the peak RSS limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hostile::*;
use mailgate_proxy::{ConnectionLimits, ListenerSpec, Protocol, Proxy};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

const SUITE: &str = "hostile POP3 clients";
const GREETING: &str = "+OK fake POP3 ready\r\n";

/// A POP3 server after TLS: CAPA, AUTH XOAUTH2/OAUTHBEARER (with or without initial
/// response), STAT, QUIT; anything else gets `-ERR`.
async fn pop3_session<S: AsyncRead + AsyncWrite + Unpin>(mut lines: Lines<S>) {
    lines.send(GREETING).await;
    loop {
        // The proxy may drop the connection without a TLS close_notify: treat it as the end.
        let mut line = String::new();
        if !matches!(lines.inner.read_line(&mut line).await, Ok(1..)) {
            return;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("CAPA") {
            lines
                .send("+OK\r\nTOP\r\nUIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n")
                .await;
        } else if upper.starts_with("AUTH ") {
            let ir = match line.split_whitespace().nth(2) {
                Some(ir) => ir.to_owned(),
                None => {
                    lines.send("+ \r\n").await;
                    let mut answer = String::new();
                    if !matches!(lines.inner.read_line(&mut answer).await, Ok(1..)) {
                        return;
                    }
                    answer
                }
            };
            if token_ok(&ir, USER, TOKEN) {
                lines.send("+OK Logged in.\r\n").await;
            } else {
                lines.send("-ERR [AUTH] bad token\r\n").await;
            }
        } else if upper.starts_with("STAT") {
            lines.send("+OK 1 42\r\n").await;
        } else if upper.starts_with("QUIT") {
            lines.send("+OK bye\r\n").await;
            return;
        } else {
            lines.send("-ERR unknown command\r\n").await;
        }
    }
}

/// A well-behaved POP3 upstream over implicit TLS.
async fn pop3_upstream(pki: &Pki) -> SocketAddr {
    fake_upstream(pki, |tcp: TcpStream, acceptor| async move {
        if let Ok(stream) = acceptor.accept(tcp).await {
            pop3_session(Lines::new(stream)).await;
        }
    })
    .await
}

async fn setup_with(
    pki: &Pki,
    adjust: impl FnOnce(&mut ListenerSpec),
) -> (Proxy, SocketAddr, Arc<FixedTokens>) {
    let server = pop3_upstream(pki).await;
    let mut spec = pki.spec(Protocol::Pop, server);
    adjust(&mut spec);
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (proxy, address) = start_proxy(spec, tokens.clone()).await;
    (proxy, address, tokens)
}

async fn setup(pki: &Pki) -> (Proxy, SocketAddr, Arc<FixedTokens>) {
    setup_with(pki, |_| {}).await
}

async fn greeted(address: SocketAddr) -> Raw {
    let mut client = Raw::connect(address).await;
    assert_eq!(client.expect_line().await, GREETING);
    client
}

/// Sends `bytes` on a fresh, greeted connection and returns the first reply line.
async fn exchange(address: SocketAddr, bytes: &[u8]) -> (Raw, String) {
    let mut client = greeted(address).await;
    assert!(client.send(bytes).await);
    let reply = client.expect_line().await;
    (client, reply)
}

/// The session carries on after a rejected command.
async fn still_usable(client: &mut Raw) {
    client.send(b"NOOP\r\n").await;
    assert_eq!(client.expect_line().await, "-ERR Not logged in.\r\n");
}

/// A normal USER/PASS login on `address` works and reaches the mailbox; then the suite's
/// peak RSS is checked.
async fn good_login(address: SocketAddr, case: &str) {
    let mut client = greeted(address).await;
    client
        .send(format!("USER {USER}\r\nPASS {PASSWORD}\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "+OK\r\n");
    assert_eq!(client.expect_line().await, "+OK Logged in.\r\n");
    client.send(b"STAT\r\n").await;
    assert_eq!(client.expect_line().await, "+OK 1 42\r\n");
    check_peak_rss(SUITE, case);
}

#[tokio::test]
async fn a_100_mb_line_without_crlf_is_refused_once_and_discarded() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let mut client = greeted(address).await;
    let chunk = vec![b'x'; 64 * 1024];
    // The first chunk already passes the line limit: the proxy answers once...
    assert!(client.send(&chunk).await);
    assert_eq!(
        client.expect_line().await,
        "-ERR line longer than 16384 octets\r\n"
    );
    // ...and discards the rest of the line without buffering it.
    for _ in 1..100 * 1024 * 1024 / chunk.len() {
        assert!(client.send(&chunk).await);
    }
    // The line ends: no second reply for it, and the session goes on.
    client.send(b"\r\n").await;
    still_usable(&mut client).await;
    // The same for an AUTH continuation line (which may be longer than a command).
    let (mut client, reply) = exchange(address, b"AUTH PLAIN\r\n").await;
    assert_eq!(reply, "+ \r\n");
    for _ in 0..100 * 1024 * 1024 / chunk.len() {
        assert!(client.send(&chunk).await);
    }
    client.send(b"\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "-ERR line longer than 16384 octets\r\n"
    );
    still_usable(&mut client).await;
    // Nothing of the line was kept: far below what holding 100 MB would take.
    let peak = peak_rss().unwrap_or(0);
    assert!(
        peak < 64 * 1024 * 1024,
        "peak RSS {peak} bytes: the line was buffered"
    );
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address, "a 100 MB line").await;
}

#[tokio::test]
async fn nul_and_8_bit_bytes_in_commands() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let cases: [(&[u8], &str); 5] = [
        (
            b"USER al\0ice\r\n",
            "-ERR control character 0x00 at offset 7\r\n",
        ),
        (b"\0\r\n", "-ERR control character 0x00 at offset 0\r\n"),
        (
            b"USER \xff\xfe\x80\r\n",
            "-ERR USER: invalid argument: not UTF-8\r\n",
        ),
        (
            b"PASS pa\xffss\r\n",
            "-ERR PASS: invalid argument: not UTF-8\r\n",
        ),
        (
            b"\xff\xfeNOOP\r\n",
            "-ERR unknown command \"\\xff\\xfeNOOP\"\r\n",
        ),
    ];
    let mut client = greeted(address).await;
    for (bytes, expected) in cases {
        client.send(bytes).await;
        assert_eq!(client.expect_line().await, expected);
    }
    still_usable(&mut client).await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address, "NUL and 8-bit bytes").await;
}

#[tokio::test]
async fn bare_lf_line_endings() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    // POP3 peers commonly end lines with a bare LF; the proxy accepts it before login...
    let (mut client, reply) = exchange(address, b"NOOP\n").await;
    assert_eq!(reply, "-ERR Not logged in.\r\n");
    // ...but a bare CR inside a line is refused.
    client.send(b"NO\rOP\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "-ERR control character 0x0d at offset 2\r\n"
    );
    // A whole login with bare LF works, and the relayed command reaches the server.
    client
        .send(format!("USER {USER}\nPASS {PASSWORD}\nSTAT\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "+OK\r\n");
    assert_eq!(client.expect_line().await, "+OK Logged in.\r\n");
    assert_eq!(client.expect_line().await, "+OK 1 42\r\n");
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    good_login(address, "bare LF").await;
}

#[tokio::test]
async fn invalid_base64_in_auth() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let (mut client, reply) = exchange(address, b"AUTH PLAIN !!!notbase64***\r\n").await;
    assert_eq!(
        reply,
        "-ERR AUTH: invalid argument: initial response is not base64\r\n"
    );
    client.send(b"AUTH PLAIN\r\n").await;
    assert_eq!(client.expect_line().await, "+ \r\n");
    client.send(b"%%%%\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "-ERR malformed base64: invalid byte 0x25 at offset 0\r\n"
    );
    client.send(b"AUTH LOGIN\r\n").await;
    assert_eq!(client.expect_line().await, "+ VXNlcm5hbWU6\r\n");
    client.send(b"=abc\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "-ERR malformed base64: invalid byte 0x3d at offset 0\r\n"
    );
    // Base64 characters that do not decode (bad padding) in the initial response.
    client.send(b"AUTH PLAIN a===\r\n").await;
    let reply = client.expect_line().await;
    assert!(reply.starts_with("-ERR malformed base64: "), "{reply}");
    // Valid base64 of a PLAIN message without the NUL separators.
    let bad = STANDARD.encode("no separators here");
    client
        .send(format!("AUTH PLAIN {bad}\r\n").as_bytes())
        .await;
    assert_eq!(
        client.expect_line().await,
        "-ERR malformed PLAIN response: no NUL separator (expected [authzid] NUL authcid NUL passwd)\r\n"
    );
    still_usable(&mut client).await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address, "invalid base64 in AUTH").await;
}

#[tokio::test]
async fn auth_started_and_abandoned() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    for _ in 0..5 {
        let (client, reply) = exchange(address, b"AUTH PLAIN\r\n").await;
        assert_eq!(reply, "+ \r\n");
        drop(client);
        let (client, reply) = exchange(address, b"AUTH LOGIN\r\n").await;
        assert_eq!(reply, "+ VXNlcm5hbWU6\r\n");
        drop(client);
    }
    // Cancelled with `*` at each step; the session goes on.
    let (mut client, reply) = exchange(address, b"AUTH PLAIN\r\n").await;
    assert_eq!(reply, "+ \r\n");
    client.send(b"*\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "-ERR Authentication cancelled.\r\n"
    );
    client.send(b"AUTH LOGIN\r\n").await;
    assert_eq!(client.expect_line().await, "+ VXNlcm5hbWU6\r\n");
    client
        .send(format!("{}\r\n", STANDARD.encode(USER)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "+ UGFzc3dvcmQ6\r\n");
    client.send(b"*\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "-ERR Authentication cancelled.\r\n"
    );
    still_usable(&mut client).await;
    // Abandoned half-way through LOGIN.
    let (mut client, _) = exchange(address, b"AUTH LOGIN\r\n").await;
    client
        .send(format!("{}\r\n", STANDARD.encode(USER)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "+ UGFzc3dvcmQ6\r\n");
    drop(client);
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address, "AUTH abandoned").await;
}

#[tokio::test]
async fn pipelined_garbage_before_and_after_login() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let mut pipeline = b"garbage\r\n\x01\x02\x03\r\n)(\r\n+OK\r\n".to_vec();
    pipeline.extend(format!("USER {USER}\r\nPASS {PASSWORD}\r\n").as_bytes());
    // After the login everything is relayed to the server, garbage included.
    pipeline.extend(b"FOO\r\n)(\r\nSTAT\r\n");
    let (mut client, reply) = exchange(address, &pipeline).await;
    assert_eq!(reply, "-ERR unknown command \"garbage\"\r\n");
    for expected in [
        "-ERR unknown command \"\\x01\\x02\\x03\"\r\n",
        "-ERR unknown command \")(\"\r\n",
        "-ERR unknown command \"+OK\"\r\n",
        "+OK\r\n",
        "+OK Logged in.\r\n",
        "-ERR unknown command\r\n",
        "-ERR unknown command\r\n",
        "+OK 1 42\r\n",
    ] {
        assert_eq!(client.expect_line().await, expected);
    }
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    good_login(address, "pipelined garbage").await;
}

#[tokio::test]
async fn slowloris_is_closed_by_the_pre_auth_timeout() {
    let pki = Pki::new();
    let (_proxy, address, _) = setup_with(&pki, |spec| {
        spec.pre_auth_timeout = Duration::from_millis(500);
    })
    .await;
    let mut client = greeted(address).await;
    // One byte at a time, never a whole line; bounded at 200 bytes (10 s).
    let mut sent = 0;
    for byte in b"USER alice@example.com ".iter().cycle().take(200) {
        if !client.send(&[*byte]).await {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent < 200, "the proxy never closed the slow connection");
    assert_eq!(
        client.line().await.as_deref(),
        Some("-ERR Timed out waiting for authentication\r\n")
    );
    client.assert_closed().await;
    good_login(address, "slowloris").await;
}

#[tokio::test]
async fn idle_connections_hit_the_listener_limit() {
    let pki = Pki::new();
    let (_proxy, address, _) = setup_with(&pki, |spec| {
        spec.limits = ConnectionLimits {
            per_listener: Some(20),
            per_source: None,
            ..ConnectionLimits::default()
        };
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(greeted(address).await);
    }
    for _ in 0..3 {
        let mut refused = Raw::connect(address).await;
        let line = refused.expect_line().await;
        assert!(
            line.starts_with("-ERR POP server at 127.0.0.1:0 (unsecured) proxying localhost:"),
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
    wait_for_admission("127.0.0.1", address, |l| l == GREETING).await;
    good_login(address, "listener connection limit").await;
}

#[tokio::test]
async fn idle_connections_hit_the_per_address_limit() {
    let pki = Pki::new();
    let (_proxy, address, _) = setup_with(&pki, |spec| {
        spec.limits = ConnectionLimits {
            per_listener: Some(20),
            per_source: Some(5),
            ..ConnectionLimits::default()
        };
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut client = Raw::connect_from("127.0.0.2", address).await;
        assert_eq!(client.expect_line().await, GREETING);
        idle.push(client);
    }
    let mut refused = Raw::connect_from("127.0.0.2", address).await;
    let line = refused.expect_line().await;
    assert!(line.starts_with("-ERR POP server at "), "{line}");
    assert!(
        line.ends_with(
            " rejecting new connection above the limit of 5 connections from one address\r\n"
        ),
        "{line}"
    );
    refused.assert_closed().await;
    // Another address is still served while the first one is at its limit.
    good_login(address, "per-address connection limit").await;
    drop(idle);
    wait_for_admission("127.0.0.2", address, |l| l == GREETING).await;
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_is_refused_and_the_right_one_still_works() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let refused = format!(
        "-ERR [AUTH] Authentication failed. Login failed - the password for account {USER} is incorrect\r\n"
    );
    // Three failures close the connection.
    let mut client = greeted(address).await;
    for n in 0..3 {
        client
            .send(format!("USER {USER}\r\nPASS wrong{n}\r\n").as_bytes())
            .await;
        assert_eq!(client.expect_line().await, "+OK\r\n");
        assert_eq!(client.expect_line().await, refused);
    }
    client.assert_closed().await;
    // AUTH PLAIN counts the same; across many connections too.
    for n in 0..30 {
        let plain = STANDARD.encode(format!("\0{USER}\0nope{n}"));
        let (mut client, reply) =
            exchange(address, format!("AUTH PLAIN {plain}\r\n").as_bytes()).await;
        assert_eq!(reply, refused);
        assert!(client.send(b"QUIT\r\n").await);
    }
    // A wrong password never tells the authenticator the token was rejected.
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 0);
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    let (mut client, reply) = exchange(address, format!("AUTH PLAIN {plain}\r\n").as_bytes()).await;
    assert_eq!(reply, "+OK Logged in.\r\n");
    client.send(b"STAT\r\n").await;
    assert_eq!(client.expect_line().await, "+OK 1 42\r\n");
    good_login(address, "a flood of wrong passwords").await;
}
