//! Bounded waits before login: the steps of the upstream connection (connect, TLS handshake,
//! greeting) each have a time limit, upstream connections being set up are bounded per
//! listener, a client that leaves takes its upstream attempt with it, and a client that sends
//! no complete command is closed with the protocol's goodbye. Each case checks the exact line
//! the client gets, and that the session ended when it should (never a silent client).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use hostile::*;
use mailgate_proxy::{ConnectionLimits, ListenerSpec, Protocol, Proxy, UpstreamTimeouts};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

const PROTOCOLS: [Protocol; 3] = [Protocol::Imap, Protocol::Pop, Protocol::Smtp];

/// The time limits of these tests: short, so that a case that waits for the limit is quick,
/// and a wait that is not bounded shows as a failure of `Raw::line` (15 s).
const LIMIT: Duration = Duration::from_millis(400);

/// What a silent upstream does with each connection.
#[derive(Clone, Copy)]
enum Silence {
    /// Accepts TCP and never starts TLS.
    BeforeTls,
    /// Completes TLS and never greets.
    AfterTls,
}

/// An upstream that never greets; counts its open connections (a connection closed by the
/// proxy is seen as end of stream and uncounted).
async fn silent_upstream(pki: &Pki, silence: Silence, open: Arc<AtomicUsize>) -> SocketAddr {
    fake_upstream(pki, move |mut tcp: TcpStream, acceptor: TlsAcceptor| {
        let open = open.clone();
        async move {
            open.fetch_add(1, Ordering::SeqCst);
            let mut sink = [0u8; 1024];
            match silence {
                Silence::BeforeTls => while !matches!(tcp.read(&mut sink).await, Ok(0) | Err(_)) {},
                Silence::AfterTls => {
                    if let Ok(mut stream) = acceptor.accept(tcp).await {
                        while !matches!(stream.read(&mut sink).await, Ok(0) | Err(_)) {}
                    }
                }
            }
            open.fetch_sub(1, Ordering::SeqCst);
        }
    })
    .await
}

/// A POP3, SMTP or IMAP upstream that greets and answers what the proxy asks before it greets
/// the client (`CAPA`, `EHLO`, `CAPABILITY`), then waits.
async fn greeting_upstream(pki: &Pki, protocol: Protocol) -> SocketAddr {
    fake_upstream(
        pki,
        move |tcp: TcpStream, acceptor: TlsAcceptor| async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines
                .send(match protocol {
                    Protocol::Imap => "* OK fake IMAP ready\r\n",
                    Protocol::Pop => "+OK fake POP3 ready\r\n",
                    Protocol::Smtp => "220 fake.upstream ESMTP ready\r\n",
                })
                .await;
            loop {
                let mut line = String::new();
                if !matches!(lines.inner.read_line(&mut line).await, Ok(1..)) {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let tag = line.split(' ').next().unwrap_or("*").to_owned();
                if upper.starts_with("CAPA") {
                    lines.send("+OK\r\nSASL XOAUTH2\r\n.\r\n").await;
                } else if upper.starts_with("EHLO") {
                    lines
                        .send("250-fake.upstream\r\n250 AUTH XOAUTH2\r\n")
                        .await;
                } else if upper.contains(" CAPABILITY") {
                    lines
                        .send(&format!(
                            "* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n{tag} OK done\r\n"
                        ))
                        .await;
                } else {
                    lines.send("-ERR unexpected\r\n").await;
                }
            }
        },
    )
    .await
}

async fn proxy_for(
    pki: &Pki,
    protocol: Protocol,
    upstream: SocketAddr,
    adjust: impl FnOnce(&mut ListenerSpec),
) -> (Proxy, SocketAddr) {
    let mut spec = pki.spec(protocol, upstream);
    adjust(&mut spec);
    start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await
}

fn refusal(protocol: Protocol, text: &str) -> String {
    String::from_utf8(protocol.refusal(text)).unwrap()
}

/// Waits (bounded) until `count` reads `expected`.
async fn settle(count: &AtomicUsize, expected: usize) {
    for _ in 0..500 {
        if count.load(Ordering::SeqCst) == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "expected {expected} open upstream connections, found {}",
        count.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn a_server_that_never_greets_is_given_up_after_the_greeting_timeout() {
    let pki = Pki::new();
    for protocol in PROTOCOLS {
        let open = Arc::new(AtomicUsize::new(0));
        let upstream = silent_upstream(&pki, Silence::AfterTls, open.clone()).await;
        let (_proxy, address) = proxy_for(&pki, protocol, upstream, |spec| {
            spec.upstream_timeouts.greeting = Some(LIMIT);
        })
        .await;
        let started = Instant::now();
        let mut client = Raw::connect(address).await;
        let line = client.expect_line().await;
        assert!(started.elapsed() >= LIMIT, "{protocol}: {line}");
        assert_eq!(
            line,
            refusal(
                protocol,
                &format!(
                    "Timed out after 0.4 s waiting for the greeting of the server localhost:{}",
                    upstream.port()
                )
            ),
            "{protocol}"
        );
        client.assert_closed().await;
        settle(&open, 0).await;
    }
}

#[tokio::test]
async fn a_server_that_never_starts_tls_is_given_up_after_the_tls_timeout() {
    let pki = Pki::new();
    for protocol in PROTOCOLS {
        let open = Arc::new(AtomicUsize::new(0));
        let upstream = silent_upstream(&pki, Silence::BeforeTls, open.clone()).await;
        let (_proxy, address) = proxy_for(&pki, protocol, upstream, |spec| {
            spec.upstream_timeouts.tls = Some(LIMIT);
        })
        .await;
        let mut client = Raw::connect(address).await;
        assert_eq!(
            client.expect_line().await,
            refusal(
                protocol,
                &format!(
                    "Timed out after 0.4 s in the TLS handshake with the server localhost:{}",
                    upstream.port()
                )
            ),
            "{protocol}"
        );
        client.assert_closed().await;
        settle(&open, 0).await;
    }
}

#[tokio::test]
async fn a_server_that_never_accepts_is_given_up_after_the_connect_timeout() {
    // A listener whose backlog is full and that never accepts: the kernel answers no more
    // connection requests, so a connect waits.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let upstream = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(upstream)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    let pki = Pki::new();
    let mut spec = pki.spec(Protocol::Imap, upstream);
    spec.server_address = "127.0.0.1".to_owned();
    spec.upstream_timeouts.connect = Some(LIMIT);
    let (_proxy, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let mut client = Raw::connect(address).await;
    assert_eq!(
        client.expect_line().await,
        format!(
            "* BYE Timed out after 0.4 s connecting to the server 127.0.0.1:{}\r\n",
            upstream.port()
        )
    );
    drop(listener);
}

#[tokio::test]
async fn connections_being_set_up_are_bounded_and_the_next_is_refused_at_once() {
    let pki = Pki::new();
    for protocol in PROTOCOLS {
        let open = Arc::new(AtomicUsize::new(0));
        let upstream = silent_upstream(&pki, Silence::AfterTls, open.clone()).await;
        let mut described = String::new();
        let (_proxy, address) = proxy_for(&pki, protocol, upstream, |spec| {
            described = spec.describe();
            spec.limits = ConnectionLimits {
                attempts: Some(3),
                ..ConnectionLimits::default()
            };
            spec.upstream_timeouts = UpstreamTimeouts {
                greeting: None,
                ..UpstreamTimeouts::default()
            };
        })
        .await;
        let mut waiting = Vec::new();
        for _ in 0..3 {
            waiting.push(Raw::connect(address).await);
        }
        settle(&open, 3).await;
        let started = Instant::now();
        let mut refused = Raw::connect(address).await;
        assert_eq!(
            refused.expect_line().await,
            refusal(
                protocol,
                &format!(
                    "{described} rejecting new connection: 3 connections to the server are already \
                     being set up (max_connection_attempts)"
                )
            ),
            "{protocol}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        refused.assert_closed().await;
        // The waiting clients leave: their attempts end with them and free their places.
        drop(waiting);
        settle(&open, 0).await;
        let mut again = Raw::connect(address).await;
        settle(&open, 1).await;
        assert!(again.send(b"").await);
    }
}

#[tokio::test]
async fn a_client_that_leaves_takes_its_upstream_attempt_with_it() {
    let pki = Pki::new();
    for protocol in PROTOCOLS {
        let open = Arc::new(AtomicUsize::new(0));
        let upstream = silent_upstream(&pki, Silence::AfterTls, open.clone()).await;
        let (proxy, address) = proxy_for(&pki, protocol, upstream, |spec| {
            spec.upstream_timeouts = UpstreamTimeouts {
                connect: None,
                tls: None,
                greeting: None,
            };
        })
        .await;
        let clients: Vec<Raw> = futures_join(address, 50).await;
        settle(&open, 50).await;
        assert_eq!(proxy.sessions(), 50, "{protocol}");
        drop(clients);
        // Long before any limit: the proxy sees each client go and closes its upstream.
        settle(&open, 0).await;
        for _ in 0..500 {
            if proxy.sessions() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(proxy.sessions(), 0, "{protocol}");
    }
}

async fn futures_join(address: SocketAddr, count: usize) -> Vec<Raw> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(Raw::connect(address).await);
    }
    clients
}

#[tokio::test]
async fn an_idle_client_is_closed_with_the_protocols_goodbye() {
    let pki = Pki::new();
    for protocol in PROTOCOLS {
        let upstream = greeting_upstream(&pki, protocol).await;
        let (_proxy, address) = proxy_for(&pki, protocol, upstream, |spec| {
            spec.client_idle_timeout = Some(LIMIT);
        })
        .await;
        let goodbye = String::from_utf8(protocol.idle_goodbye().to_vec()).unwrap();

        // Sends nothing after the greeting.
        let mut silent = Raw::connect(address).await;
        silent.expect_line().await;
        let started = Instant::now();
        assert_eq!(silent.expect_line().await, goodbye, "{protocol}");
        assert!(started.elapsed() >= LIMIT - Duration::from_millis(50));
        silent.assert_closed().await;

        // One byte at a time never completes a command: closed all the same.
        let mut dribbling = Raw::connect(address).await;
        dribbling.expect_line().await;
        let started = Instant::now();
        let trickle = async {
            for byte in b"a1 CAPABILITY and more and more and more" {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if !dribbling.send(&[*byte]).await {
                    break;
                }
            }
        };
        tokio::time::timeout(LIMIT * 3, trickle).await.ok();
        assert!(started.elapsed() >= LIMIT);
        let mut last = String::new();
        while let Some(line) = dribbling.line().await {
            last = line;
        }
        assert_eq!(last, goodbye, "{protocol}");

        // A client that keeps sending commands is not idle.
        let mut busy = Raw::connect(address).await;
        busy.expect_line().await;
        let command: &[u8] = match protocol {
            Protocol::Imap => b"n1 NOOP\r\n",
            Protocol::Pop => b"NOOP\r\n",
            Protocol::Smtp => b"NOOP\r\n",
        };
        for _ in 0..4 {
            tokio::time::sleep(LIMIT / 2).await;
            assert!(busy.send(command).await);
            let reply = busy.expect_line().await;
            assert_ne!(reply, goodbye, "{protocol}");
        }
    }
}
