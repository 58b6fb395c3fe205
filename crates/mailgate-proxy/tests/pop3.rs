//! POP3 through the proxy against an in-process upstream over verified TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use mailgate_proxy::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

const USER: &str = "user@example.com";
const PASSWORD: &str = "local password";
const TOKEN: &str = "ya29.good-token";

/// A POP3 server that accepts AUTH XOAUTH2/OAUTHBEARER with `TOKEN` for `USER`.
async fn pop3_session<S: AsyncRead + AsyncWrite + Unpin>(mut lines: Lines<S>, greet: bool) {
    if greet {
        lines.send("+OK fake POP3 ready <1.2@fake>\r\n").await;
    }
    loop {
        let line = lines.line().await;
        if line.is_empty() {
            return;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("CAPA") {
            lines
                .send("+OK\r\nTOP\r\nUIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n")
                .await;
        } else if upper.starts_with("AUTH ") {
            let mut parts = line.split_whitespace().skip(1);
            let _mechanism = parts.next();
            let ir = match parts.next() {
                Some(ir) => ir.to_owned(),
                None => {
                    lines.send("+ \r\n").await;
                    lines.line().await
                }
            };
            if token_ok(&ir, USER, TOKEN) {
                lines.send("+OK Logged in.\r\n").await;
            } else {
                lines.send(&format!("+ {ERROR_CHALLENGE}\r\n")).await;
                let _answer = lines.line().await;
                lines.send("-ERR [AUTH] Authentication failed.\r\n").await;
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

async fn upstream(pki: &Pki, tls: UpstreamTls) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| async move {
        match tls {
            UpstreamTls::Implicit => {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                pop3_session(Lines::new(stream), true).await;
            }
            UpstreamTls::StartTls => {
                let mut lines = Lines::new(tcp);
                lines.send("+OK fake POP3 ready\r\n").await;
                loop {
                    let line = lines.line().await.to_ascii_uppercase();
                    if line.is_empty() {
                        return;
                    }
                    if line.starts_with("CAPA") {
                        lines.send("+OK\r\nSTLS\r\nUSER\r\n.\r\n").await;
                    } else if line.starts_with("STLS") {
                        lines.send("+OK Begin TLS\r\n").await;
                        let Ok(stream) = acceptor.accept(lines.into_inner()).await else {
                            return;
                        };
                        pop3_session(Lines::new(stream), false).await;
                        return;
                    } else {
                        lines.send("-ERR STLS first\r\n").await;
                    }
                }
            }
        }
    })
    .await
}

/// The client's `CAPA` lines (without the status line and the final dot).
async fn capa<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Lines<S>) -> Vec<String> {
    client.send("CAPA\r\n").await;
    assert!(client.line().await.starts_with("+OK"));
    let mut capa = Vec::new();
    loop {
        let line = client.line().await;
        if line == ".\r\n" {
            return capa;
        }
        capa.push(line);
    }
}

#[tokio::test]
async fn user_pass_login_is_relayed_with_xoauth2() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit).await;
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (proxy, address) = start_proxy(pki.spec(Protocol::Pop, server), tokens.clone()).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert_eq!(client.line().await, "+OK fake POP3 ready <1.2@fake>\r\n");
    let capa = capa(&mut client).await;
    assert!(capa.iter().any(|l| l == "SASL PLAIN LOGIN\r\n"), "{capa:?}");
    assert!(capa.iter().any(|l| l == "USER\r\n"), "{capa:?}");
    assert!(!capa.iter().any(|l| l.contains("XOAUTH2")), "{capa:?}");
    client.send(&format!("USER {USER}\r\n")).await;
    assert!(client.line().await.starts_with("+OK"));
    client.send(&format!("PASS {PASSWORD}\r\nSTAT\r\n")).await;
    assert!(client.line().await.starts_with("+OK"));
    assert_eq!(client.line().await, "+OK 1 42\r\n");
    client.send("QUIT\r\n").await;
    assert_eq!(client.line().await, "+OK bye\r\n");
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    proxy.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn auth_plain_over_upstream_stls() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::StartTls).await;
    let mut spec = pki.spec(Protocol::Pop, server);
    spec.server_starttls = true;
    let (_proxy, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert!(client.line().await.starts_with("+OK fake POP3 ready"));
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    assert!(client.line().await.starts_with("+OK"));
    client.send("STAT\r\n").await;
    assert_eq!(client.line().await, "+OK 1 42\r\n");
}

#[tokio::test]
async fn provider_error_reaches_the_client() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit).await;
    let tokens = FixedTokens::one(USER, PASSWORD, "revoked-token");
    let (_proxy, address) = start_proxy(pki.spec(Protocol::Pop, server), tokens.clone()).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!("USER {USER}\r\nPASS {PASSWORD}\r\n"))
        .await;
    assert!(client.line().await.starts_with("+OK"));
    let reply = client.line().await;
    assert!(reply.starts_with("-ERR"), "{reply}");
    assert!(reply.contains("401"), "{reply}");
    assert!(reply.contains("https://mail.google.com/"), "{reply}");
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 1);
    // A wrong local password never reaches the upstream.
    client.send(&format!("USER {USER}\r\nPASS wrong\r\n")).await;
    assert!(client.line().await.starts_with("+OK"));
    let reply = client.line().await;
    assert!(reply.starts_with("-ERR"), "{reply}");
    assert!(reply.contains("incorrect"), "{reply}");
}

/// On a listener offering STLS, no password crosses in clear text: `CAPA` offers neither
/// `USER` nor `SASL` and logins are refused until STLS, then work.
#[tokio::test]
async fn local_stls_is_required_before_logging_in() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit).await;
    let spec = pki.starttls_spec(Protocol::Pop, server);
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (_proxy, address) = start_proxy(spec, tokens.clone()).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert!(client.line().await.starts_with("+OK fake POP3 ready"));
    let capa = capa(&mut client).await;
    assert!(capa.iter().any(|l| l == "STLS\r\n"), "{capa:?}");
    assert!(
        !capa
            .iter()
            .any(|l| l == "USER\r\n" || l.starts_with("SASL")),
        "{capa:?}"
    );
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    client
        .send(&format!(
            "USER {USER}\r\nPASS {PASSWORD}\r\nAUTH PLAIN {plain}\r\n"
        ))
        .await;
    let refusal =
        "-ERR [AUTH] Use STLS first: this server does not accept passwords in clear text.\r\n";
    for _ in 0..3 {
        assert_eq!(client.line().await, refusal);
    }
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    client.send("STLS\r\n").await;
    assert!(client.line().await.starts_with("+OK"));
    let mut client = Lines::new(pki.upgrade(client.into_inner()).await);
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    assert!(client.line().await.starts_with("+OK"));
    client.send("STAT\r\n").await;
    assert_eq!(client.line().await, "+OK 1 42\r\n");
}
