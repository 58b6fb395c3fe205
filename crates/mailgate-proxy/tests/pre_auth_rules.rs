//! The rules the one pre-authentication driver applies to IMAP, POP3 and SMTP alike: a login
//! whose upstream connection the server dropped while it waited reconnects, and a token is
//! dropped when the server refused it, not when the exchange itself broke.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use mailgate_proxy::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const USER: &str = "user@example.com";
const PASSWORD: &str = "local password";
const TOKEN: &str = "ya29.good-token";

/// The first word of a command line (an IMAP tag).
fn first_word(line: &str) -> String {
    line.split(' ').next().unwrap_or_default().to_owned()
}

/// The SASL initial response of an `AUTHENTICATE`/`AUTH` line, or the next line.
async fn initial_response<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    line: &str,
    words_before: usize,
    prompt: &str,
) -> String {
    match line.split_whitespace().nth(words_before) {
        Some(ir) => ir.to_owned(),
        None => {
            lines.send(prompt).await;
            lines.line().await.trim_end().to_owned()
        }
    }
}

/// A server of `protocol` (after TLS) that greets, says what it can, and accepts `TOKEN`.
/// With `stop_after_hello` it stops once it has answered the capability request (its idle
/// timeout, say), before any login.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut lines: Lines<S>,
    protocol: Protocol,
    stop_after_hello: bool,
) {
    lines
        .send(match protocol {
            Protocol::Imap => "* OK Fake IMAP ready.\r\n",
            Protocol::Pop => "+OK fake POP3 ready\r\n",
            Protocol::Smtp => "220 fake.upstream ESMTP ready\r\n",
        })
        .await;
    loop {
        let line = lines.line().await;
        if line.is_empty() {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let hello = match protocol {
            Protocol::Imap if upper.contains(" CAPABILITY") => {
                let tag = first_word(&line);
                format!("* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n{tag} OK done\r\n")
            }
            Protocol::Pop if upper.starts_with("CAPA") => "+OK\r\nSASL XOAUTH2\r\n.\r\n".to_owned(),
            Protocol::Smtp if upper.starts_with("EHLO") => {
                "250-fake.upstream\r\n250 AUTH XOAUTH2\r\n".to_owned()
            }
            _ => String::new(),
        };
        if !hello.is_empty() {
            lines.send(&hello).await;
            if stop_after_hello {
                return;
            }
            continue;
        }
        let (ir, accepted, refused) = match protocol {
            Protocol::Imap if upper.contains(" AUTHENTICATE ") => {
                let tag = first_word(&line);
                (
                    initial_response(&mut lines, &line, 3, "+ \r\n").await,
                    format!("{tag} OK Logged in\r\n"),
                    format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
                )
            }
            Protocol::Pop if upper.starts_with("AUTH ") => (
                initial_response(&mut lines, &line, 2, "+ \r\n").await,
                "+OK Logged in.\r\n".to_owned(),
                "-ERR [AUTH] Authentication failed.\r\n".to_owned(),
            ),
            Protocol::Smtp if upper.starts_with("AUTH ") => (
                initial_response(&mut lines, &line, 2, "334 \r\n").await,
                "235 2.7.0 Authentication successful\r\n".to_owned(),
                "535 5.7.8 Username and Password not accepted\r\n".to_owned(),
            ),
            _ => {
                lines.send("-ERR unexpected\r\n").await;
                continue;
            }
        };
        if token_ok(&ir, USER, TOKEN) {
            lines.send(&accepted).await;
        } else {
            lines.send(&refused).await;
        }
    }
}

/// An upstream of `protocol` whose first connection stops after its capabilities, telling
/// `stopped`; later connections serve logins. Counts connections.
async fn forgetful_upstream(
    pki: &Pki,
    protocol: Protocol,
    connections: Arc<AtomicUsize>,
    stopped: Arc<Notify>,
) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let first = connections.fetch_add(1, Ordering::SeqCst) == 0;
        let stopped = stopped.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            serve(Lines::new(stream), protocol, first).await;
            if first {
                stopped.notify_one();
            }
        }
    })
    .await
}

/// Logs in as `USER` in the protocol's plainest form and returns the proxy's answer.
async fn log_in<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Lines<S>,
    protocol: Protocol,
) -> String {
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    match protocol {
        Protocol::Imap => {
            client
                .send(&format!("a1 AUTHENTICATE PLAIN {plain}\r\n"))
                .await
        }
        Protocol::Pop | Protocol::Smtp => client.send(&format!("AUTH PLAIN {plain}\r\n")).await,
    }
    client.line().await
}

/// Greets through the proxy (SMTP: and says EHLO, which the proxy passes upstream).
async fn greeted(address: SocketAddr, protocol: Protocol) -> Lines<TcpStream> {
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    if protocol == Protocol::Smtp {
        client.send("EHLO client.example\r\n").await;
        while client.line().await.starts_with("250-") {}
    }
    client
}

async fn reconnects_after_the_server_left(protocol: Protocol) {
    let pki = Pki::new();
    let connections = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(Notify::new());
    let server = forgetful_upstream(&pki, protocol, connections.clone(), stopped.clone()).await;
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (_proxy, address) = start_proxy(pki.spec(protocol, server), tokens.clone()).await;
    let mut client = greeted(address, protocol).await;
    // The server has closed the connection the proxy keeps for the login (as after a long
    // authorisation in a browser).
    stopped.notified().await;
    let answer = log_in(&mut client, protocol).await;
    let accepted = match protocol {
        Protocol::Imap => "a1 OK",
        Protocol::Pop => "+OK",
        Protocol::Smtp => "235",
    };
    assert!(answer.starts_with(accepted), "{protocol}: {answer}");
    assert_eq!(connections.load(Ordering::SeqCst), 2, "{protocol}");
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 0, "{protocol}");
}

#[tokio::test]
async fn imap_login_reconnects_after_the_server_left() {
    reconnects_after_the_server_left(Protocol::Imap).await;
}

#[tokio::test]
async fn pop3_login_reconnects_after_the_server_left() {
    reconnects_after_the_server_left(Protocol::Pop).await;
}

#[tokio::test]
async fn smtp_login_reconnects_after_the_server_left() {
    reconnects_after_the_server_left(Protocol::Smtp).await;
}

async fn a_refused_token_is_dropped(protocol: Protocol) {
    let pki = Pki::new();
    let server = fake_upstream(&pki, move |tcp: TcpStream, acceptor| async move {
        if let Ok(stream) = acceptor.accept(tcp).await {
            serve(Lines::new(stream), protocol, false).await;
        }
    })
    .await;
    let tokens = FixedTokens::one(USER, PASSWORD, "revoked-token");
    let (_proxy, address) = start_proxy(pki.spec(protocol, server), tokens.clone()).await;
    let mut client = greeted(address, protocol).await;
    let answer = log_in(&mut client, protocol).await;
    let refused = match protocol {
        Protocol::Imap => "a1 NO [AUTHENTICATIONFAILED] Invalid credentials",
        Protocol::Pop => "-ERR [AUTH] Authentication failed.",
        Protocol::Smtp => "535 5.7.8 Authentication credentials invalid.",
    };
    assert!(answer.starts_with(refused), "{protocol}: {answer}");
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 1, "{protocol}");
    // The client may try again (on the same connection where the protocol allows it).
    let answer = log_in(&mut client, protocol).await;
    assert!(answer.starts_with(refused), "{protocol}: {answer}");
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 2, "{protocol}");
}

#[tokio::test]
async fn a_refused_token_is_dropped_in_every_protocol() {
    for protocol in [Protocol::Imap, Protocol::Pop, Protocol::Smtp] {
        a_refused_token_is_dropped(protocol).await;
    }
}

/// A server of `protocol` that answers the error challenge's reply with another challenge:
/// the exchange is broken, which says nothing about the token.
async fn a_broken_exchange_keeps_the_token(protocol: Protocol) {
    let pki = Pki::new();
    let server = fake_upstream(&pki, move |tcp: TcpStream, acceptor| async move {
        let Ok(stream) = acceptor.accept(tcp).await else {
            return;
        };
        let mut lines = Lines::new(stream);
        let (greeting, prompt, aborted) = match protocol {
            Protocol::Imap => (
                "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n",
                "+ ",
                "NO Exchange aborted",
            ),
            Protocol::Pop => ("+OK fake POP3 ready\r\n", "+ ", "-ERR Exchange aborted"),
            Protocol::Smtp => (
                "220 fake.upstream ESMTP ready\r\n",
                "334 ",
                "501 5.7.0 Exchange aborted",
            ),
        };
        lines.send(greeting).await;
        loop {
            let line = lines.line().await;
            if line.is_empty() {
                return;
            }
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("CAPA") {
                lines.send("+OK\r\nSASL XOAUTH2\r\n.\r\n").await;
                continue;
            }
            if upper.starts_with("EHLO") {
                lines
                    .send("250-fake.upstream\r\n250 AUTH XOAUTH2\r\n")
                    .await;
                continue;
            }
            let tag = match protocol {
                Protocol::Imap => format!("{} ", first_word(&line)),
                Protocol::Pop | Protocol::Smtp => String::new(),
            };
            lines.send(&format!("{prompt}{ERROR_CHALLENGE}\r\n")).await;
            let _empty = lines.line().await;
            lines.send(&format!("{prompt}bW9yZQ==\r\n")).await;
            let cancel = lines.line().await;
            assert_eq!(cancel.trim_end(), "*", "{protocol}");
            lines.send(&format!("{tag}{aborted}\r\n")).await;
        }
    })
    .await;
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (_proxy, address) = start_proxy(pki.spec(protocol, server), tokens.clone()).await;
    let mut client = greeted(address, protocol).await;
    let answer = log_in(&mut client, protocol).await;
    let refused = match protocol {
        Protocol::Imap => "a1 NO [AUTHENTICATIONFAILED] SASL exchange failed",
        Protocol::Pop => "-ERR",
        Protocol::Smtp => "535",
    };
    assert!(answer.starts_with(refused), "{protocol}: {answer}");
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 0, "{protocol}");
}

#[tokio::test]
async fn a_broken_exchange_keeps_the_token_in_every_protocol() {
    for protocol in [Protocol::Imap, Protocol::Pop, Protocol::Smtp] {
        a_broken_exchange_keeps_the_token(protocol).await;
    }
}
