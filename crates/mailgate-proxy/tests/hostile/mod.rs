//! Shared fixtures of the hostile-input suites: a minimal IMAP upstream, bounded reads that
//! survive resets, and the "a normal login still works" check.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    dead_code,
    unreachable_pub
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::common::{Lines, Pki, fake_upstream, token_ok};

pub const USER: &str = "alice@example.com";
pub const PASSWORD: &str = "correct horse";
pub const TOKEN: &str = "imap-token";

/// Generous bound on any single wait, so a broken proxy fails the test instead of hanging it.
pub const BOUND: Duration = Duration::from_secs(15);

/// An IMAP server after TLS: CAPABILITY, AUTHENTICATE (XOAUTH2 / OAUTHBEARER initial
/// response), SELECT, LOGOUT; any other command gets a tagged BAD.
pub async fn imap_session<S: AsyncRead + AsyncWrite + Unpin>(mut lines: Lines<S>) {
    lines.send("* OK Fake IMAP ready.\r\n").await;
    loop {
        // The proxy may drop the connection without a TLS close_notify: treat it as the end.
        let mut line = String::new();
        if !matches!(lines.inner.read_line(&mut line).await, Ok(1..)) {
            return;
        }
        let mut words = line.trim_end().splitn(4, ' ');
        let tag = words.next().unwrap_or("*").to_owned();
        let command = words.next().unwrap_or_default().to_ascii_uppercase();
        match command.as_str() {
            "CAPABILITY" => {
                lines
                    .send(&format!(
                        "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n{tag} OK done\r\n"
                    ))
                    .await
            }
            "AUTHENTICATE" => {
                let ir = words.nth(1).unwrap_or_default();
                if token_ok(ir, USER, TOKEN) {
                    lines.send(&format!("{tag} OK Logged in\r\n")).await;
                } else {
                    lines.send(&format!("{tag} NO bad token\r\n")).await;
                }
            }
            "SELECT" => {
                lines
                    .send(&format!("* 3 EXISTS\r\n{tag} OK Select completed\r\n"))
                    .await
            }
            "LOGOUT" => {
                lines
                    .send(&format!("* BYE bye\r\n{tag} OK Logout\r\n"))
                    .await;
                return;
            }
            _ => lines.send(&format!("{tag} BAD unexpected\r\n")).await,
        }
    }
}

/// A well-behaved IMAP upstream over implicit TLS.
pub async fn imap_upstream(pki: &Pki) -> SocketAddr {
    fake_upstream(pki, |tcp: TcpStream, acceptor| async move {
        if let Ok(stream) = acceptor.accept(tcp).await {
            imap_session(Lines::new(stream)).await;
        }
    })
    .await
}

/// A raw client: line reads that report end of stream or a reset as `None`.
pub struct Raw {
    pub inner: BufReader<TcpStream>,
}

impl Raw {
    pub async fn connect(address: SocketAddr) -> Raw {
        Raw {
            inner: BufReader::new(TcpStream::connect(address).await.unwrap()),
        }
    }

    /// Connects from `source` (a loopback address) to `address`.
    pub async fn connect_from(source: &str, address: SocketAddr) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        Raw {
            inner: BufReader::new(socket.connect(address).await.unwrap()),
        }
    }

    /// The next line (lossy UTF-8), or `None` at end of stream or on a connection error.
    pub async fn line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        match tokio::time::timeout(BOUND, self.inner.read_until(b'\n', &mut line)).await {
            Ok(Ok(0)) | Ok(Err(_)) => None,
            Ok(Ok(_)) => Some(String::from_utf8_lossy(&line).into_owned()),
            Err(_) => panic!("no reply within {BOUND:?}"),
        }
    }

    /// The next line, which must exist.
    pub async fn expect_line(&mut self) -> String {
        self.line().await.expect("connection closed early")
    }

    /// Sends raw bytes; `false` if the connection is gone.
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        let stream = self.inner.get_mut();
        stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
    }

    /// Asserts that the proxy closes the connection (after any further lines).
    pub async fn assert_closed(&mut self) {
        for _ in 0..100 {
            if self.line().await.is_none() {
                return;
            }
        }
        panic!("the connection was not closed");
    }
}

/// A normal login on `address` works and reaches the mailbox.
pub async fn good_login(address: SocketAddr) {
    let mut client = Raw::connect(address).await;
    let greeting = client.expect_line().await;
    assert!(greeting.starts_with("* OK"), "{greeting}");
    client
        .send(format!("g1 LOGIN {USER} \"{PASSWORD}\"\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "g1 OK Logged in\r\n");
    client.send(b"g2 SELECT INBOX\r\n").await;
    assert_eq!(client.expect_line().await, "* 3 EXISTS\r\n");
    assert_eq!(client.expect_line().await, "g2 OK Select completed\r\n");
}

/// The most the test process (proxy, upstreams and clients together) may have resident.
pub const PEAK_RSS_LIMIT: u64 = 200 * 1024 * 1024;

/// The peak resident set size of this process so far (`VmHWM` in `/proc/self/status`), in
/// bytes; `None` where `/proc` is not available.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// Prints the peak RSS of the process so far (the proxy runs in it) and asserts it stayed
/// below [`PEAK_RSS_LIMIT`]. Called at the end of every case, so the last line printed by a
/// suite is its peak.
pub fn check_peak_rss(suite: &str, case: &str) {
    let Some(peak) = peak_rss() else {
        eprintln!("{suite}: peak RSS not available on this platform");
        return;
    };
    eprintln!(
        "{suite}: peak RSS {:.1} MiB after {case}",
        peak as f64 / (1024.0 * 1024.0)
    );
    assert!(
        peak < PEAK_RSS_LIMIT,
        "{suite}: peak RSS {peak} bytes after {case}, limit {PEAK_RSS_LIMIT}"
    );
}

/// Connects from `source` until the listener admits a connection again, that is until the
/// first line is a greeting (`greeted` says which); permits are released asynchronously when
/// a session ends. Bounded.
pub async fn wait_for_admission(source: &str, address: SocketAddr, greeted: impl Fn(&str) -> bool) {
    for _ in 0..300 {
        let mut client = Raw::connect_from(source, address).await;
        if client.line().await.is_some_and(|line| greeted(&line)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the listener never admitted a connection from {source} again");
}

/// The lines the proxy sends a new client before it closes the connection (at most six).
pub async fn first_reply(address: SocketAddr) -> Vec<String> {
    let mut client = Raw::connect(address).await;
    let mut lines = Vec::new();
    while let Some(line) = client.line().await {
        lines.push(line);
        if lines.len() > 5 {
            break;
        }
    }
    lines
}

/// Serves the well-behaved IMAP upstream on `listener` with `config`.
pub fn serve_on(listener: TcpListener, config: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(tcp).await {
                    imap_session(Lines::new(stream)).await;
                }
            });
        }
    });
}
