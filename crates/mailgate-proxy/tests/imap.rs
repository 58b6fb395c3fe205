//! IMAP through the proxy against an in-process upstream over verified TLS: every client
//! login form, capability rewriting, TLS modes and error paths.
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

const USER: &str = "alice@example.com";
const PASSWORD: &str = "pa ss\"word";
const TOKEN: &str = "imap-token";

const CAPS: &str = "IMAP4rev1 LITERAL+ SASL-IR ID IDLE AUTH=XOAUTH2 AUTH=OAUTHBEARER";

/// An IMAP server after TLS: CAPABILITY, ID, AUTHENTICATE XOAUTH2/OAUTHBEARER, then
/// SELECT and LOGOUT.
async fn imap_session<S: AsyncRead + AsyncWrite + Unpin>(mut lines: Lines<S>, greet: bool) {
    if greet {
        // As Dovecot does, the greeting names the capabilities, so no CAPABILITY is needed.
        lines
            .send(&format!("* OK [CAPABILITY {CAPS}] Fake IMAP ready.\r\n"))
            .await;
    }
    let mut authenticated = false;
    loop {
        let line = lines.line().await;
        if line.is_empty() {
            return;
        }
        let mut words = line.trim_end().splitn(3, ' ');
        let tag = words.next().unwrap().to_owned();
        let command = words.next().unwrap_or_default().to_ascii_uppercase();
        let rest = words.next().unwrap_or_default().to_owned();
        match command.as_str() {
            "CAPABILITY" => {
                lines
                    .send(&format!("* CAPABILITY {CAPS}\r\n{tag} OK done\r\n"))
                    .await;
            }
            "ID" => {
                lines
                    .send(&format!("* ID (\"name\" \"fake\")\r\n{tag} OK ID done\r\n"))
                    .await
            }
            "AUTHENTICATE" => {
                let mut parts = rest.split(' ');
                let _mechanism = parts.next();
                let ir = match parts.next() {
                    Some(ir) => ir.to_owned(),
                    None => {
                        lines.send("+ \r\n").await;
                        lines.line().await
                    }
                };
                if token_ok(&ir, USER, TOKEN) {
                    authenticated = true;
                    lines
                        .send(&format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n"))
                        .await;
                } else {
                    lines.send(&format!("+ {ERROR_CHALLENGE}\r\n")).await;
                    let _ = lines.line().await;
                    lines
                        .send(&format!(
                            "{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                        ))
                        .await;
                }
            }
            "SELECT" if authenticated => {
                lines
                    .send(&format!(
                        "* 3 EXISTS\r\n{tag} OK [READ-WRITE] Select completed\r\n"
                    ))
                    .await;
            }
            "LOGOUT" => {
                lines
                    .send(&format!("* BYE bye\r\n{tag} OK Logout\r\n"))
                    .await;
                return;
            }
            _ => {
                lines
                    .send(&format!("{tag} BAD unexpected {command}\r\n"))
                    .await
            }
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
                imap_session(Lines::new(stream), true).await;
            }
            UpstreamTls::StartTls => {
                let mut lines = Lines::new(tcp);
                lines
                    .send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Plain port.\r\n")
                    .await;
                loop {
                    let line = lines.line().await;
                    if line.is_empty() {
                        return;
                    }
                    let tag = line.split(' ').next().unwrap().to_owned();
                    if line.to_ascii_uppercase().contains("STARTTLS") {
                        lines.send(&format!("{tag} OK Begin TLS\r\n")).await;
                        let Ok(stream) = acceptor.accept(lines.into_inner()).await else {
                            return;
                        };
                        imap_session(Lines::new(stream), false).await;
                        return;
                    }
                    lines.send(&format!("{tag} BAD STARTTLS first\r\n")).await;
                }
            }
        }
    })
    .await
}

async fn proxy_for(
    pki: &Pki,
    tls: UpstreamTls,
) -> (
    mailgate_proxy::Proxy,
    SocketAddr,
    std::sync::Arc<FixedTokens>,
) {
    let server = upstream(pki, tls).await;
    let mut spec = pki.spec(Protocol::Imap, server);
    spec.server_starttls = tls == UpstreamTls::StartTls;
    let tokens = FixedTokens::one(USER, PASSWORD, TOKEN);
    let (proxy, address) = start_proxy(spec, tokens.clone()).await;
    (proxy, address, tokens)
}

/// Reads lines until the tagged reply of `tag`; returns all of them.
async fn until_tagged<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Lines<S>,
    tag: &str,
) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = client.line().await;
        assert!(!line.is_empty(), "connection closed; got {lines:?}");
        let done = line.starts_with(&format!("{tag} "));
        lines.push(line);
        if done {
            return lines;
        }
    }
}

async fn assert_logged_in<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Lines<S>, tag: &str) {
    let reply = until_tagged(client, tag).await;
    let last = reply.last().unwrap();
    assert!(last.starts_with(&format!("{tag} OK")), "{reply:?}");
    assert!(
        last.contains("MOVE"),
        "the server's own OK is forwarded: {reply:?}"
    );
    client.send("s1 SELECT INBOX\r\n").await;
    let select = until_tagged(client, "s1").await;
    assert_eq!(
        select,
        ["* 3 EXISTS\r\n", "s1 OK [READ-WRITE] Select completed\r\n"]
    );
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[tokio::test]
async fn greeting_and_capability_are_rewritten() {
    let pki = Pki::new();
    let (_proxy, address, _) = proxy_for(&pki, UpstreamTls::Implicit).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    let greeting = client.line().await;
    assert_eq!(
        greeting,
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID IDLE AUTH=PLAIN AUTH=LOGIN SASL-IR] Fake IMAP ready.\r\n"
    );
    client.send("c1 CAPABILITY\r\n").await;
    let reply = until_tagged(&mut client, "c1").await;
    assert_eq!(
        reply[0],
        "* CAPABILITY IMAP4rev1 LITERAL+ ID IDLE AUTH=PLAIN AUTH=LOGIN SASL-IR\r\n"
    );
    client.send("n1 NOOP\r\n").await;
    assert_eq!(client.line().await, "n1 OK NOOP completed\r\n");
    client.send("i1 ID (\"name\" \"test\")\r\n").await;
    let reply = until_tagged(&mut client, "i1").await;
    assert_eq!(reply, ["* ID (\"name\" \"fake\")\r\n", "i1 OK ID done\r\n"]);
    client.send("t1 STARTTLS\r\n").await;
    assert!(client.line().await.starts_with("t1 BAD"));
    client.send("x1 LOGOUT\r\n").await;
    assert_eq!(client.line().await, "* BYE Logging out\r\n");
}

#[tokio::test]
async fn login_with_quoted_strings() {
    let pki = Pki::new();
    let (_proxy, address, tokens) = proxy_for(&pki, UpstreamTls::Implicit).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!(
            "a1 LOGIN {} {}\r\n",
            quoted(USER),
            quoted(PASSWORD)
        ))
        .await;
    assert_logged_in(&mut client, "a1").await;
    assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn login_with_an_atom_and_synchronising_literals() {
    let pki = Pki::new();
    let (_proxy, address, _) = proxy_for(&pki, UpstreamTls::Implicit).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!("a2 LOGIN {USER} {{{}}}\r\n", PASSWORD.len()))
        .await;
    assert!(client.line().await.starts_with("+ "));
    client.send(&format!("{PASSWORD}\r\n")).await;
    assert_logged_in(&mut client, "a2").await;
}

#[tokio::test]
async fn login_with_two_literals_quoted_user_and_literal_plus() {
    let pki = Pki::new();
    let (_proxy, address, _) = proxy_for(&pki, UpstreamTls::Implicit).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    // Both literals synchronising.
    client
        .send(&format!("a3 LOGIN {{{}}}\r\n", USER.len()))
        .await;
    assert!(client.line().await.starts_with("+ "));
    client
        .send(&format!("{USER} {{{}}}\r\n", PASSWORD.len()))
        .await;
    assert!(client.line().await.starts_with("+ "));
    client.send(&format!("{PASSWORD}\r\n")).await;
    assert_logged_in(&mut client, "a3").await;

    // A quoted user and a non-synchronising literal (LITERAL+), pipelined with SELECT.
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!(
            "a4 LOGIN {} {{{}+}}\r\n{PASSWORD}\r\n",
            quoted(USER),
            PASSWORD.len()
        ))
        .await;
    assert_logged_in(&mut client, "a4").await;
}

#[tokio::test]
async fn authenticate_plain_with_and_without_initial_response() {
    let pki = Pki::new();
    let (_proxy, address, _) = proxy_for(&pki, UpstreamTls::Implicit).await;
    let plain = STANDARD.encode(format!("\0{USER}\0{PASSWORD}"));
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!("p1 AUTHENTICATE PLAIN {plain}\r\n"))
        .await;
    assert_logged_in(&mut client, "p1").await;

    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client.send("p2 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(client.line().await, "+ \r\n");
    client.send(&format!("{plain}\r\n")).await;
    assert_logged_in(&mut client, "p2").await;
}

#[tokio::test]
async fn authenticate_login_and_cancel() {
    let pki = Pki::new();
    let (_proxy, address, _) = proxy_for(&pki, UpstreamTls::Implicit).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client.send("l0 AUTHENTICATE LOGIN\r\n").await;
    assert_eq!(client.line().await, "+ VXNlcm5hbWU6\r\n");
    client.send("*\r\n").await;
    assert!(client.line().await.starts_with("l0 BAD"));
    client.send("l1 AUTHENTICATE LOGIN\r\n").await;
    assert_eq!(client.line().await, "+ VXNlcm5hbWU6\r\n");
    client.send(&format!("{}\r\n", STANDARD.encode(USER))).await;
    assert_eq!(client.line().await, "+ UGFzc3dvcmQ6\r\n");
    client
        .send(&format!("{}\r\n", STANDARD.encode(PASSWORD)))
        .await;
    assert_logged_in(&mut client, "l1").await;
}

#[tokio::test]
async fn upstream_starttls_hides_logindisabled() {
    let pki = Pki::new();
    let (_proxy, address, _) = proxy_for(&pki, UpstreamTls::StartTls).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    let greeting = client.line().await;
    assert!(greeting.contains("AUTH=PLAIN"), "{greeting}");
    assert!(!greeting.contains("LOGINDISABLED"), "{greeting}");
    assert!(!greeting.contains("STARTTLS"), "{greeting}");
    client
        .send(&format!("a1 LOGIN {USER} {}\r\n", quoted(PASSWORD)))
        .await;
    assert_logged_in(&mut client, "a1").await;
}

#[tokio::test]
async fn local_implicit_tls_and_local_starttls() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit).await;
    let mut spec = pki.spec(Protocol::Imap, server);
    spec.local_certificate_path = Some(pki.cert_file.clone());
    spec.local_key_path = Some(pki.key_file.clone());
    let (_proxy, address) =
        start_proxy(spec.clone(), FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let mut client = Lines::new(pki.connect_tls(address).await);
    assert!(client.line().await.starts_with("* OK"));
    client
        .send(&format!("a1 LOGIN {USER} {}\r\n", quoted(PASSWORD)))
        .await;
    assert_logged_in(&mut client, "a1").await;

    spec.local_starttls = true;
    spec.section = "IMAP-starttls".to_owned();
    let (_proxy2, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    let greeting = client.line().await;
    // Before STARTTLS no password may be sent: LOGINDISABLED, no AUTH=, logins refused.
    assert!(greeting.contains(" STARTTLS LOGINDISABLED]"), "{greeting}");
    assert!(!greeting.contains("AUTH="), "{greeting}");
    client
        .send(&format!("p1 LOGIN {USER} {}\r\n", quoted(PASSWORD)))
        .await;
    let refusal = "NO [PRIVACYREQUIRED] Use STARTTLS first: this server does not accept passwords in clear text\r\n";
    assert_eq!(client.line().await, format!("p1 {refusal}"));
    client.send("p2 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(client.line().await, format!("p2 {refusal}"));
    // A synchronising literal is refused, not invited with `+`: the password never leaves.
    client.send(&format!("p3 LOGIN {USER} {{8}}\r\n")).await;
    assert_eq!(client.line().await, format!("p3 {refusal}"));
    client.send("t1 STARTTLS\r\n").await;
    assert!(client.line().await.starts_with("t1 OK"));
    let mut client = Lines::new(pki.upgrade(client.into_inner()).await);
    client.send("c1 CAPABILITY\r\n").await;
    let caps = until_tagged(&mut client, "c1").await;
    assert!(!caps[0].contains("STARTTLS"), "{caps:?}");
    assert!(!caps[0].contains("LOGINDISABLED"), "{caps:?}");
    assert!(caps[0].contains("AUTH=PLAIN"), "{caps:?}");
    client
        .send(&format!("a1 LOGIN {USER} {}\r\n", quoted(PASSWORD)))
        .await;
    assert_logged_in(&mut client, "a1").await;
}

#[tokio::test]
async fn provider_error_and_local_errors_reach_the_client() {
    let pki = Pki::new();
    let server = upstream(&pki, UpstreamTls::Implicit).await;
    let tokens = FixedTokens::one(USER, PASSWORD, "stale-token");
    let (_proxy, address) = start_proxy(pki.spec(Protocol::Imap, server), tokens.clone()).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!("a1 LOGIN {USER} {}\r\n", quoted(PASSWORD)))
        .await;
    let reply = client.line().await;
    assert!(reply.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "{reply}");
    assert!(reply.contains("401") && reply.contains("Bearer"), "{reply}");
    assert_eq!(tokens.rejected.load(Ordering::SeqCst), 1);
    client.send(&format!("a2 LOGIN {USER} wrong\r\n")).await;
    let reply = client.line().await;
    assert!(
        reply.starts_with("a2 NO") && reply.contains("incorrect"),
        "{reply}"
    );
    client.send("a3 LOGIN nobody@example.com x\r\n").await;
    let reply = client.line().await;
    assert!(
        reply.starts_with("a3 NO") && reply.contains("No config file entry"),
        "{reply}"
    );
    // RFC 9051 section 6.2.2: an unsupported mechanism gets a tagged NO.
    client.send("a4 AUTHENTICATE CRAM-MD5\r\n").await;
    assert!(client.line().await.starts_with("a4 NO"));
    client.send("a5 LOGIN\r\n").await;
    assert!(client.line().await.starts_with("a5 BAD"));
}

#[tokio::test]
async fn a_login_reconnects_when_the_server_dropped_the_waiting_connection() {
    let pki = Pki::new();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    let server = fake_upstream(&pki, move |tcp: TcpStream, acceptor| {
        let counter = counter.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                // The first connection answers CAPABILITY, then goes away (an idle timeout).
                let mut lines = Lines::new(stream);
                lines.send("* OK first\r\n").await;
                let line = lines.line().await;
                let tag = line.split(' ').next().unwrap().to_owned();
                lines
                    .send(&format!("* CAPABILITY {CAPS}\r\n{tag} OK done\r\n"))
                    .await;
                return;
            }
            imap_session(Lines::new(stream), true).await;
        }
    })
    .await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert!(client.line().await.contains("first"));
    client
        .send(&format!("a1 LOGIN {USER} {}\r\n", quoted(PASSWORD)))
        .await;
    assert_logged_in(&mut client, "a1").await;
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
