//! Hostile clients against an IMAP listener: over-long lines, huge literals, deep nesting,
//! NUL and 8-bit bytes, bare LF, bad base64, abandoned SASL, pipelined garbage, slowloris,
//! connection floods and password floods. Each case checks the exact reply, that the proxy
//! closes or carries on as it should, and that a normal login on the same listener then works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hostile::*;
use mailgate_proxy::{ConnectionLimits, ListenerSpec, Protocol, Proxy};

const SUITE: &str = "hostile IMAP clients";

async fn setup_with(
    pki: &Pki,
    adjust: impl FnOnce(&mut ListenerSpec),
) -> (Proxy, SocketAddr, std::sync::Arc<FixedTokens>) {
    let server = imap_upstream(pki).await;
    let mut spec = pki.spec(Protocol::Imap, server);
    adjust(&mut spec);
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (proxy, address) = start_proxy(spec, tokens.clone()).await;
    (proxy, address, tokens)
}

async fn setup(pki: &Pki) -> (Proxy, SocketAddr, std::sync::Arc<FixedTokens>) {
    setup_with(pki, |_| {}).await
}

async fn greeted(address: SocketAddr) -> Raw {
    let mut client = Raw::connect(address).await;
    let greeting = client.expect_line().await;
    assert!(greeting.starts_with("* OK [CAPABILITY "), "{greeting}");
    client
}

#[tokio::test]
async fn a_100_mb_line_without_crlf_is_refused_once_and_not_buffered() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let mut client = greeted(address).await;
    let chunk = vec![b'x'; 64 * 1024];
    // The first chunk already passes the line limit: the proxy answers once and closes.
    assert!(client.send(&chunk).await);
    assert_eq!(
        client.expect_line().await,
        "* BAD line longer than 16384 bytes at byte 16384\r\n"
    );
    assert_eq!(
        client.expect_line().await,
        "* BYE client sent an invalid command: line longer than 16384 bytes at byte 16384\r\n"
    );
    // Keep sending the rest of the 100 MB: the proxy must have stopped reading, so the
    // writes fail (reset) long before 100 MB went out.
    let total = 100 * 1024 * 1024 / chunk.len();
    let mut sent = 1;
    while sent < total && client.send(&chunk).await {
        sent += 1;
    }
    assert!(sent < total, "the proxy accepted all 100 MB of one line");
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address).await;
    check_peak_rss(
        SUITE,
        "a_100_mb_line_without_crlf_is_refused_once_and_not_buffered",
    );
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
    client.send(b"n1 NOOP\r\n").await;
    assert_eq!(client.expect_line().await, "n1 OK NOOP completed\r\n");
}

#[tokio::test]
async fn a_literal_announcing_4_gb_is_refused() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let (mut client, reply) = exchange(address, b"a1 LOGIN alice {4294967296}\r\n").await;
    let text = "literal of 4294967296 bytes exceeds the limit of 65536 bytes at byte 28";
    assert_eq!(reply, format!("a1 BAD {text}\r\n"));
    assert_eq!(
        client.expect_line().await,
        format!("* BYE client sent an invalid command: {text}\r\n")
    );
    client.assert_closed().await;
    // Also as a non-synchronising literal, with a few bytes of it following.
    let (mut client, reply) = exchange(address, b"a2 LOGIN alice {4294967296+}\r\nxxxx").await;
    assert_eq!(
        reply,
        "a2 BAD literal of 4294967296 bytes exceeds the limit of 65536 bytes at byte 29\r\n"
    );
    client.assert_closed().await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address).await;
    check_peak_rss(SUITE, "a_literal_announcing_4_gb_is_refused");
}

#[tokio::test]
async fn ten_thousand_nested_parentheses_are_refused() {
    let pki = Pki::new();
    let (_proxy, address, _) = setup(&pki).await;
    let nested = |tag: &str, depth: usize| {
        let mut line = format!("{tag} ID ").into_bytes();
        line.extend(std::iter::repeat_n(b'(', depth));
        line.extend(std::iter::repeat_n(b')', depth));
        line.extend(b"\r\n");
        line
    };
    let (mut client, reply) = exchange(address, &nested("a1", 10_000)).await;
    let text = "line longer than 16384 bytes at byte 16384";
    assert_eq!(reply, format!("a1 BAD {text}\r\n"));
    assert_eq!(
        client.expect_line().await,
        format!("* BYE client sent an invalid command: {text}\r\n")
    );
    client.assert_closed().await;
    // Deep but within the line limit: a syntax error, and the session goes on.
    let (mut client, reply) = exchange(address, &nested("a2", 5_000)).await;
    assert_eq!(
        reply,
        "a2 BAD Invalid command: syntax error, expected ')' at byte 7\r\n"
    );
    still_usable(&mut client).await;
    good_login(address).await;
    check_peak_rss(SUITE, "ten_thousand_nested_parentheses_are_refused");
}

#[tokio::test]
async fn nul_and_8_bit_bytes_in_commands() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let cases: [(&[u8], &str); 4] = [
        (
            b"a1 LOGIN al\0ice pass\r\n",
            "a1 BAD Invalid command: NUL byte not allowed at byte 11\r\n",
        ),
        (
            b"a2 LOGIN \xff\xfe\x80 pass\r\n",
            "a2 BAD Invalid command: 8-bit byte not allowed here at byte 9\r\n",
        ),
        (
            b"a3 LOGIN alice \"pa\xffss\"\r\n",
            "a3 BAD Invalid command: invalid UTF-8 at byte 16\r\n",
        ),
        // A tag with a NUL byte is not echoed back.
        (
            b"a\x004 NOOP\r\n",
            "* BAD Invalid command: invalid tag at byte 1\r\n",
        ),
    ];
    let mut client = greeted(address).await;
    for (bytes, expected) in cases {
        client.send(bytes).await;
        assert_eq!(client.expect_line().await, expected);
    }
    still_usable(&mut client).await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address).await;
    check_peak_rss(SUITE, "nul_and_8_bit_bytes_in_commands");
}

#[tokio::test]
async fn bare_lf_line_endings() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let (mut client, reply) = exchange(address, b"a1 NOOP\n").await;
    assert_eq!(
        reply,
        "a1 BAD Invalid command: bare LF, lines must end with CRLF at byte 7\r\n"
    );
    client
        .send(format!("a2 LOGIN {USER} \"{PASSWORD}\"\n").as_bytes())
        .await;
    assert_eq!(
        client.expect_line().await,
        "a2 BAD Invalid command: bare LF, lines must end with CRLF at byte 42\r\n"
    );
    still_usable(&mut client).await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address).await;
    check_peak_rss(SUITE, "bare_lf_line_endings");
}

#[tokio::test]
async fn invalid_base64_in_authenticate() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let (mut client, reply) = exchange(address, b"a1 AUTHENTICATE PLAIN !!!notbase64***\r\n").await;
    assert_eq!(
        reply,
        "a1 BAD Invalid command: syntax error, expected base64 or '=' at byte 22\r\n"
    );
    client.send(b"a2 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(client.expect_line().await, "+ \r\n");
    client.send(b"%%%%\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "a2 BAD Invalid SASL response: syntax error, expected CRLF at byte 0\r\n"
    );
    client.send(b"a3 AUTHENTICATE LOGIN\r\n").await;
    assert_eq!(client.expect_line().await, "+ VXNlcm5hbWU6\r\n");
    client.send(b"=abc\r\n").await;
    assert_eq!(
        client.expect_line().await,
        "a3 BAD Invalid SASL response: invalid base64 at byte 0\r\n"
    );
    // Valid base64 of a PLAIN message without the NUL separators.
    let bad = STANDARD.encode("no separators here");
    client
        .send(format!("a4 AUTHENTICATE PLAIN {bad}\r\n").as_bytes())
        .await;
    assert_eq!(
        client.expect_line().await,
        "a4 BAD Invalid SASL response: malformed PLAIN response: no NUL separator (expected [authzid] NUL authcid NUL passwd)\r\n"
    );
    still_usable(&mut client).await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address).await;
    check_peak_rss(SUITE, "invalid_base64_in_authenticate");
}

#[tokio::test]
async fn authenticate_started_and_abandoned() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    for _ in 0..5 {
        let (client, reply) = exchange(address, b"a1 AUTHENTICATE PLAIN\r\n").await;
        assert_eq!(reply, "+ \r\n");
        drop(client);
        let (client, reply) = exchange(address, b"a1 AUTHENTICATE LOGIN\r\n").await;
        assert_eq!(reply, "+ VXNlcm5hbWU6\r\n");
        drop(client);
    }
    let (mut client, _) = exchange(address, b"a1 AUTHENTICATE LOGIN\r\n").await;
    client
        .send(format!("{}\r\n", STANDARD.encode(USER)).as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "+ UGFzc3dvcmQ6\r\n");
    drop(client);
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    good_login(address).await;
    check_peak_rss(SUITE, "authenticate_started_and_abandoned");
}

#[tokio::test]
async fn pipelined_garbage_before_and_after_login() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let mut pipeline = b"garbage\r\n\x01\x02\x03\r\n)(\r\n* OK\r\n".to_vec();
    pipeline.extend(format!("a1 LOGIN {USER} \"{PASSWORD}\"\r\n").as_bytes());
    // After the login everything is relayed to the server, garbage included.
    pipeline.extend(b"b1 FOO\r\n)(\r\nb2 SELECT INBOX\r\n");
    let (mut client, reply) = exchange(address, &pipeline).await;
    assert_eq!(
        reply,
        "* BAD Invalid command: syntax error, expected SP at byte 7\r\n"
    );
    for _ in 0..3 {
        assert_eq!(
            client.expect_line().await,
            "* BAD Invalid command: invalid tag at byte 0\r\n"
        );
    }
    assert_eq!(client.expect_line().await, "a1 OK Logged in\r\n");
    assert_eq!(client.expect_line().await, "b1 BAD unexpected\r\n");
    assert_eq!(client.expect_line().await, ")( BAD unexpected\r\n");
    assert_eq!(client.expect_line().await, "* 3 EXISTS\r\n");
    assert_eq!(client.expect_line().await, "b2 OK Select completed\r\n");
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    good_login(address).await;
    check_peak_rss(SUITE, "pipelined_garbage_before_and_after_login");
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
    for byte in b"a1 LOGIN alice@example.com password "
        .iter()
        .cycle()
        .take(200)
    {
        if !client.send(&[*byte]).await {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent < 200, "the proxy never closed the slow connection");
    assert_eq!(
        client.line().await.as_deref(),
        Some("* BYE Timed out waiting for authentication\r\n")
    );
    client.assert_closed().await;
    good_login(address).await;
    check_peak_rss(SUITE, "slowloris_is_closed_by_the_pre_auth_timeout");
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
            line.starts_with("* BYE IMAP server at 127.0.0.1:0"),
            "{line}"
        );
        assert!(
            line.ends_with(
                " rejecting new connection above the limit of 20 connections on this server\r\n"
            ),
            "{line}"
        );
        refused.assert_closed().await;
    }
    drop(idle);
    wait_for_admission("127.0.0.1", address, |l| l.starts_with("* OK")).await;
    good_login(address).await;
    check_peak_rss(SUITE, "idle_connections_hit_the_listener_limit");
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
        assert!(client.expect_line().await.starts_with("* OK"));
        idle.push(client);
    }
    let mut refused = Raw::connect_from("127.0.0.2", address).await;
    let line = refused.expect_line().await;
    assert!(
        line.ends_with(
            " rejecting new connection above the limit of 5 connections from one address\r\n"
        ),
        "{line}"
    );
    refused.assert_closed().await;
    // Another address is still served while the first one is at its limit.
    good_login(address).await;
    drop(idle);
    let mut admitted = false;
    for _ in 0..300 {
        let mut again = Raw::connect_from("127.0.0.2", address).await;
        if again.line().await.is_some_and(|l| l.starts_with("* OK")) {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(admitted, "the address was never admitted again");
    check_peak_rss(SUITE, "idle_connections_hit_the_per_address_limit");
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_is_refused_and_the_right_one_still_works() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = setup(&pki).await;
    let mut client = greeted(address).await;
    for n in 0..50 {
        client
            .send(format!("w{n} LOGIN {USER} wrong{n}\r\n").as_bytes())
            .await;
        assert_eq!(
            client.expect_line().await,
            format!(
                "w{n} NO [AUTHENTICATIONFAILED] Login failed - the password for account {USER} is incorrect\r\n"
            )
        );
    }
    // Across connections too.
    for n in 0..20 {
        let (_client, reply) =
            exchange(address, format!("v{n} LOGIN {USER} nope\r\n").as_bytes()).await;
        assert!(
            reply.starts_with(&format!("v{n} NO [AUTHENTICATIONFAILED]")),
            "{reply}"
        );
    }
    // A wrong password never tells the authenticator the token was rejected.
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 0);
    client
        .send(format!("a1 LOGIN {USER} \"{PASSWORD}\"\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "a1 OK Logged in\r\n");
    good_login(address).await;
    check_peak_rss(
        SUITE,
        "a_flood_of_wrong_passwords_is_refused_and_the_right_one_still_works",
    );
}
