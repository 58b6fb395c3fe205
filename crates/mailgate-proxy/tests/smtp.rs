//! SMTP through the proxy against an in-process upstream over verified TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use mailgate_proxy::{Protocol, UpstreamMechanism};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

const USER: &str = "sender@example.com";
const PASSWORD: &str = "pw";
const TOKEN: &str = "smtp-token";

/// An SMTP server (after TLS) accepting AUTH XOAUTH2/OAUTHBEARER with `TOKEN`.
async fn smtp_session<S: AsyncRead + AsyncWrite + Unpin>(
    mut lines: Lines<S>,
    greet: bool,
    mechanisms: &str,
) {
    if greet {
        lines.send("220 fake.upstream ESMTP ready\r\n").await;
    }
    loop {
        let line = lines.line().await;
        if line.is_empty() {
            return;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            lines
                .send(&format!(
                    "250-fake.upstream greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250 AUTH {mechanisms}\r\n"
                ))
                .await;
        } else if upper.starts_with("AUTH ") {
            let mut parts = line.split_whitespace().skip(1);
            let mechanism = parts.next().unwrap_or_default().to_owned();
            if !mechanisms.contains(&mechanism) {
                lines.send("504 5.5.4 mechanism not offered\r\n").await;
                continue;
            }
            let ir = match parts.next() {
                Some(ir) => ir.to_owned(),
                None => {
                    lines.send("334 \r\n").await;
                    lines.line().await
                }
            };
            if token_ok(&ir, USER, TOKEN) {
                lines.send("235 2.7.0 Authentication successful\r\n").await;
            } else {
                lines.send(&format!("334 {ERROR_CHALLENGE}\r\n")).await;
                let _ = lines.line().await;
                lines
                    .send("535 5.7.8 Username and Password not accepted\r\n")
                    .await;
            }
        } else if upper.starts_with("MAIL FROM") {
            lines.send("250 2.1.0 OK\r\n").await;
        } else if upper.starts_with("QUIT") {
            lines.send("221 2.0.0 bye\r\n").await;
            return;
        } else {
            lines.send("502 5.5.2 unknown\r\n").await;
        }
    }
}

async fn upstream(pki: &Pki, tls: UpstreamTls, mechanisms: &'static str) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| async move {
        match tls {
            UpstreamTls::Implicit => {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                smtp_session(Lines::new(stream), true, mechanisms).await;
            }
            UpstreamTls::StartTls => {
                let mut lines = Lines::new(tcp);
                lines.send("220 fake.upstream ESMTP ready\r\n").await;
                loop {
                    let line = lines.line().await.to_ascii_uppercase();
                    if line.is_empty() {
                        return;
                    }
                    if line.starts_with("EHLO") {
                        lines
                            .send("250-fake.upstream\r\n250-STARTTLS\r\n250 SIZE 100\r\n")
                            .await;
                    } else if line.starts_with("STARTTLS") {
                        lines.send("220 2.0.0 go ahead\r\n").await;
                        let Ok(stream) = acceptor.accept(lines.into_inner()).await else {
                            return;
                        };
                        smtp_session(Lines::new(stream), false, mechanisms).await;
                        return;
                    } else {
                        lines.send("530 5.7.0 STARTTLS first\r\n").await;
                    }
                }
            }
        }
    })
    .await
}

/// Reads a multi-line reply.
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Lines<S>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = client.line().await;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return lines;
        }
    }
}

#[tokio::test]
async fn ehlo_is_rewritten_and_auth_plain_is_relayed() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit, "XOAUTH2 OAUTHBEARER").await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Smtp, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert_eq!(client.line().await, "220 fake.upstream ESMTP ready\r\n");
    client.send("EHLO client.example\r\n").await;
    let ehlo = reply(&mut client).await;
    assert!(
        ehlo.iter().any(|l| l.contains("AUTH PLAIN LOGIN")),
        "{ehlo:?}"
    );
    assert!(ehlo.iter().any(|l| l.contains("PIPELINING")), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("XOAUTH2")), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    // Pipelined: AUTH and MAIL FROM in one write.
    client
        .send(&format!("AUTH PLAIN {plain}\r\nMAIL FROM:<{USER}>\r\n"))
        .await;
    assert!(client.line().await.starts_with("235"));
    assert_eq!(client.line().await, "250 2.1.0 OK\r\n");
    client.send("QUIT\r\n").await;
    assert!(client.line().await.starts_with("221"));
}

#[tokio::test]
async fn auth_login_over_upstream_starttls_with_oauthbearer() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::StartTls, "OAUTHBEARER").await;
    let mut spec = pki.spec(Protocol::Smtp, server);
    spec.server_starttls = true;
    let (_proxy, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert!(client.line().await.starts_with("220"));
    client.send("EHLO client.example\r\n").await;
    let ehlo = reply(&mut client).await;
    assert!(
        ehlo.iter().any(|l| l.contains("AUTH PLAIN LOGIN")),
        "{ehlo:?}"
    );
    client.send("AUTH LOGIN\r\n").await;
    assert_eq!(client.line().await, "334 VXNlcm5hbWU6\r\n");
    client.send(&format!("{}\r\n", STANDARD.encode(USER))).await;
    assert_eq!(client.line().await, "334 UGFzc3dvcmQ6\r\n");
    client
        .send(&format!("{}\r\n", STANDARD.encode(PASSWORD)))
        .await;
    let answer = client.line().await;
    assert!(answer.starts_with("235"), "{answer}");
    client.send(&format!("MAIL FROM:<{USER}>\r\n")).await;
    assert_eq!(client.line().await, "250 2.1.0 OK\r\n");
}

#[tokio::test]
async fn rejected_token_reports_the_provider_error() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit, "XOAUTH2").await;
    let tokens = FixedTokens::one(USER, PASSWORD, "expired");
    let (_proxy, address) = start_proxy(pki.spec(Protocol::Smtp, server), tokens).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client.send("EHLO c\r\n").await;
    reply(&mut client).await;
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    let answer = client.line().await;
    assert!(answer.starts_with("535"), "{answer}");
    assert!(answer.contains("401"), "{answer}");
    // The session stays usable: a second attempt reaches a fresh upstream connection.
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    assert!(client.line().await.starts_with("535"));
}

#[tokio::test]
async fn forced_oauthbearer_is_used_even_when_xoauth2_is_offered() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit, "OAUTHBEARER").await;
    let mut accounts = std::collections::HashMap::new();
    accounts.insert(USER.to_owned(), (PASSWORD.to_owned(), TOKEN.to_owned()));
    let tokens = std::sync::Arc::new(FixedTokens {
        accounts,
        mechanism: UpstreamMechanism::OAuthBearer,
        ..FixedTokens::default()
    });
    let (_proxy, address) = start_proxy(pki.spec(Protocol::Smtp, server), tokens).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client.send("EHLO c\r\n").await;
    reply(&mut client).await;
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    assert!(client.line().await.starts_with("235"));
}

/// On a listener offering STARTTLS, no password crosses in clear text: EHLO offers no AUTH
/// and AUTH is refused with 538 until STARTTLS, then works.
#[tokio::test]
async fn local_starttls_is_required_before_auth() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit, "XOAUTH2").await;
    let spec = pki.starttls_spec(Protocol::Smtp, server);
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (_proxy, address) = start_proxy(spec, tokens.clone()).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert!(client.line().await.starts_with("220 "));
    client.send("EHLO client.example\r\n").await;
    let ehlo = reply(&mut client).await;
    assert!(ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("AUTH")), "{ehlo:?}");
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    assert_eq!(
        client.line().await,
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 0);
    client.send("STARTTLS\r\n").await;
    assert!(client.line().await.starts_with("220 "));
    let mut client = Lines::new(pki.upgrade(client.into_inner()).await);
    client.send("EHLO client.example\r\n").await;
    let ehlo = reply(&mut client).await;
    assert!(
        ehlo.iter().any(|l| l.contains("AUTH PLAIN LOGIN")),
        "{ehlo:?}"
    );
    client.send(&format!("AUTH PLAIN {plain}\r\n")).await;
    assert!(client.line().await.starts_with("235"));
}
