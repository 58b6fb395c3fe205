//! Operations: backpressure after login, reload without dropping live sessions, graceful
//! drain with the protocol's goodbye line, connection limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use mailgate_proxy::{ConnectionLimits, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const USER: &str = "ops@example.com";
const PASSWORD: &str = "pw";
const TOKEN: &str = "ops-token";

/// Bytes a `BIG` command makes the upstream send.
const BIG: u64 = 64 * 1024 * 1024;

/// An IMAP upstream named `name`; `BIG` streams [`BIG`] bytes as one literal, counting what
/// it managed to write into `written`.
async fn upstream(pki: &Pki, name: &'static str, written: Arc<AtomicU64>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let written = written.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send(&format!("* OK {name} ready\r\n")).await;
            loop {
                let line = lines.line().await;
                if line.is_empty() {
                    return;
                }
                let mut words = line.trim_end().split(' ');
                let tag = words.next().unwrap().to_owned();
                match words.next().unwrap_or_default() {
                    "CAPABILITY" => {
                        lines
                            .send(&format!(
                                "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n{tag} OK done\r\n"
                            ))
                            .await;
                    }
                    "AUTHENTICATE" => {
                        let ok = token_ok(words.nth(1).unwrap_or_default(), USER, TOKEN);
                        let status = if ok { "OK" } else { "NO" };
                        lines.send(&format!("{tag} {status} done\r\n")).await;
                    }
                    "BIG" => {
                        lines
                            .send(&format!("* 1 FETCH (BODY[] {{{BIG}}}\r\n"))
                            .await;
                        let chunk = vec![b'x'; 64 * 1024];
                        let mut left = BIG;
                        while left > 0 {
                            let n = left.min(chunk.len() as u64) as usize;
                            if lines.inner.get_mut().write_all(&chunk[..n]).await.is_err() {
                                return;
                            }
                            written.fetch_add(n as u64, Ordering::SeqCst);
                            left -= n as u64;
                        }
                        lines.send(&format!(")\r\n{tag} OK done\r\n")).await;
                    }
                    "WHO" => lines.send(&format!("* {name}\r\n{tag} OK done\r\n")).await,
                    _ => lines.send(&format!("{tag} OK done\r\n")).await,
                }
            }
        }
    })
    .await
}

/// Connects with a small receive buffer and logs in; returns the greeting and the session.
async fn logged_in(address: SocketAddr) -> (String, Lines<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(32 * 1024).unwrap();
    let mut client = Lines::new(socket.connect(address).await.unwrap());
    let greeting = client.line().await;
    client
        .send(&format!("l1 LOGIN {USER} {PASSWORD}\r\n"))
        .await;
    let reply = client.line().await;
    assert!(reply.starts_with("l1 OK"), "{reply}");
    (greeting, client)
}

async fn who(client: &mut Lines<TcpStream>) -> String {
    client.send("w1 WHO\r\n").await;
    let name = client.line().await;
    assert!(client.line().await.starts_with("w1 OK"));
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_stops_the_upstream() {
    let pki = Pki::new();
    let written = Arc::new(AtomicU64::new(0));
    let server = upstream(&pki, "big", written.clone()).await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    let (_, mut client) = logged_in(address).await;
    client.send("b1 BIG\r\n").await;
    // Do not read. Wait (bounded) until the upstream can write no more.
    let mut last = 0;
    let mut still = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let now = written.load(Ordering::SeqCst);
        if now == last && now > 0 {
            still += 1;
            if still == 20 {
                break;
            }
        } else {
            still = 0;
            last = now;
        }
    }
    let stalled_at = written.load(Ordering::SeqCst);
    eprintln!("upstream stalled after writing {stalled_at} bytes");
    assert!(stalled_at > 0);
    // Only socket buffers and one relay buffer can hold data: far less than the 64 MiB sent.
    assert!(
        stalled_at < BIG / 4,
        "the upstream wrote {stalled_at} bytes to a client that reads nothing"
    );
    // Reading resumes the flow; every byte arrives.
    let mut header = client.line().await;
    assert!(header.starts_with("* 1 FETCH"), "{header}");
    header.clear();
    let mut body = vec![0u8; 1024 * 1024];
    let mut received = 0u64;
    while received < BIG {
        let want = (BIG - received).min(body.len() as u64) as usize;
        let n = client.inner.read(&mut body[..want]).await.unwrap();
        assert!(n > 0);
        assert!(body[..n].iter().all(|&b| b == b'x'));
        received += n as u64;
    }
    assert_eq!(client.line().await, ")\r\n");
    assert_eq!(client.line().await, "b1 OK done\r\n");
    assert_eq!(written.load(Ordering::SeqCst), BIG);
}

#[tokio::test]
async fn reload_keeps_live_sessions_and_drain_says_goodbye() {
    let pki = Pki::new();
    let first = upstream(&pki, "first", Arc::default()).await;
    let second = upstream(&pki, "second", Arc::default()).await;
    let spec = pki.spec(Protocol::Imap, first);
    let section = spec.section.clone();
    let mut proxy = mailgate_proxy::Proxy::new(FixedTokens::one(USER, PASSWORD, TOKEN));
    assert!(proxy.apply(vec![spec.clone()]).await.is_empty());
    let address = proxy.local_addr(&section).unwrap();
    let (greeting, mut old_session) = logged_in(address).await;
    assert!(greeting.contains("first ready"), "{greeting}");

    // Same bind address, new upstream: settings change in place, no rebind.
    let mut changed = spec.clone();
    changed.server_port = second.port();
    assert!(proxy.apply(vec![changed.clone()]).await.is_empty());
    assert_eq!(proxy.local_addr(&section), Some(address));
    let (greeting, mut new_session) = logged_in(address).await;
    assert!(greeting.contains("second ready"), "{greeting}");
    assert_eq!(who(&mut old_session).await, "* first\r\n");

    // A new local address: the listener moves; live sessions stay.
    let mut moved = changed.clone();
    moved.local_address = "127.0.0.2".to_owned();
    assert!(proxy.apply(vec![moved]).await.is_empty());
    let new_address = proxy.local_addr(&section).unwrap();
    assert_eq!(new_address.ip().to_string(), "127.0.0.2");
    assert!(TcpStream::connect(address).await.is_err());
    let (greeting, _third) = logged_in(new_address).await;
    assert!(greeting.contains("second ready"));
    assert_eq!(who(&mut old_session).await, "* first\r\n");
    assert_eq!(who(&mut new_session).await, "* second\r\n");

    // Invalid settings keep the running listener.
    let mut broken = changed.clone();
    broken.local_address = "127.0.0.2".to_owned();
    broken.local_certificate_path = Some("/nonexistent/cert.pem".into());
    broken.local_key_path = Some("/nonexistent/key.pem".into());
    assert_eq!(proxy.apply(vec![broken]).await.len(), 1);
    assert_eq!(proxy.local_addr(&section), Some(new_address));

    // Shutdown: every live session gets the goodbye line.
    proxy.shutdown(Duration::from_secs(5)).await;
    assert_eq!(old_session.line().await, "* BYE Server shutting down\r\n");
    assert_eq!(new_session.line().await, "* BYE Server shutting down\r\n");
}

#[tokio::test]
async fn connection_limits_refuse_with_a_clear_line() {
    let pki = Pki::new();
    let server = upstream(&pki, "limited", Arc::default()).await;
    let mut spec = pki.spec(Protocol::Imap, server);
    spec.limits = ConnectionLimits {
        per_listener: Some(10),
        per_source: Some(2),
        ..ConnectionLimits::default()
    };
    let (_proxy, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let (_, _first) = logged_in(address).await;
    let (_, _second) = logged_in(address).await;
    let mut third = Lines::new(TcpStream::connect(address).await.unwrap());
    let refusal = third.line().await;
    assert!(refusal.starts_with("* BYE"), "{refusal}");
    assert!(
        refusal.contains("limit of 2 connections from one address"),
        "{refusal}"
    );
    drop(_first);
    // The place is free again once the first session has ended (bounded wait).
    let mut admitted = false;
    for _ in 0..200 {
        let mut probe = Lines::new(TcpStream::connect(address).await.unwrap());
        if probe.line().await.contains("limited ready") {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(admitted);
}

#[tokio::test]
async fn a_client_that_never_logs_in_is_closed_at_the_pre_auth_timeout() {
    let pki = Pki::new();
    let server = upstream(&pki, "slow", Arc::default()).await;
    let mut spec = pki.spec(Protocol::Imap, server);
    spec.pre_auth_timeout = Duration::from_millis(200);
    let (_proxy, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    assert!(client.line().await.starts_with("* OK"));
    let bye = client.line().await;
    assert!(
        bye.starts_with("* BYE") && bye.contains("Timed out"),
        "{bye}"
    );
    assert_eq!(client.line().await, "");
}

/// Relay throughput through the proxy against the same TLS upstream read directly; run with
/// `cargo test --release -p mailgate-proxy --test operations -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_relay_throughput() {
    let pki = Pki::new();
    let server = upstream(&pki, "fast", Arc::default()).await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    async fn drain<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
        client: &mut Lines<S>,
    ) -> f64 {
        let started = std::time::Instant::now();
        client.send("b1 BIG\r\n").await;
        client.line().await;
        let mut body = vec![0u8; 256 * 1024];
        let mut received = 0u64;
        while received < BIG {
            let want = (BIG - received).min(body.len() as u64) as usize;
            received += client.inner.read(&mut body[..want]).await.unwrap() as u64;
        }
        client.line().await;
        client.line().await;
        BIG as f64 / 1e6 / started.elapsed().as_secs_f64()
    }
    for round in 0..3 {
        let mut direct = Lines::new(pki.connect_tls(server).await);
        direct.line().await;
        let direct_rate = drain(&mut direct).await;
        let mut proxied = Lines::new(TcpStream::connect(address).await.unwrap());
        proxied.line().await;
        proxied
            .send(&format!("l1 LOGIN {USER} {PASSWORD}\r\n"))
            .await;
        assert!(proxied.line().await.starts_with("l1 OK"));
        let proxied_rate = drain(&mut proxied).await;
        eprintln!(
            "round {round}: direct {direct_rate:.0} MB/s, through mailgate {proxied_rate:.0} MB/s ({:.2}x)",
            proxied_rate / direct_rate
        );
    }
}
