//! One test connection to a listener's upstream server, as `mailgate check --connect` makes it:
//! TCP, the STARTTLS/STLS exchange when the section asks for it, the verified TLS handshake,
//! and what the handshake negotiated. Nothing is sent after the handshake: no login.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::certificate::{UpstreamEndpoint, explain_handshake_failure};
use crate::listener_spec::{PreparedListener, Protocol};
use crate::stream::{ProxyStream, TlsSummary, UpgradeError};

/// The longest line read from the server before TLS.
const MAX_LINE: usize = 4096;

/// Why the test connection failed; each names the server and says what went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// No TCP connection.
    #[error("unable to connect to {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server did not finish in time.
    #[error("{server} did not complete the connection within {} s", timeout.as_secs())]
    Timeout {
        /// `host:port`.
        server: String,
        /// The bound.
        timeout: Duration,
    },
    /// The plain-text exchange before STARTTLS went wrong.
    #[error("{server} refused STARTTLS: {reply}")]
    StartTls {
        /// `host:port`.
        server: String,
        /// What the server said (or that it closed the connection).
        reply: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("secure connection to {server} failed: {reason}")]
    Handshake {
        /// `host:port`.
        server: String,
        /// Why, as advice.
        reason: String,
    },
}

/// Connects to `listener`'s upstream server and completes the TLS handshake (after STARTTLS
/// with `server_starttls`), within `timeout`; returns what was negotiated.
pub async fn probe_upstream(
    listener: &PreparedListener,
    timeout: Duration,
) -> Result<TlsSummary, ProbeError> {
    let server = listener.spec.server_host_port();
    match tokio::time::timeout(timeout, probe(listener, &server)).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout { server, timeout }),
    }
}

async fn probe(listener: &PreparedListener, server: &str) -> Result<TlsSummary, ProbeError> {
    let spec = &listener.spec;
    let mut tcp = TcpStream::connect((spec.server_address.as_str(), spec.server_port))
        .await
        .map_err(|source| ProbeError::Connect {
            server: server.to_owned(),
            source,
        })?;
    if spec.server_starttls {
        starttls(&mut tcp, spec.protocol)
            .await
            .map_err(|reply| ProbeError::StartTls {
                server: server.to_owned(),
                reply,
            })?;
    }
    let stream = ProxyStream::Plain(tcp)
        .connect_tls(listener.upstream_tls.clone(), listener.server_name.clone())
        .await
        .map_err(|error| ProbeError::Handshake {
            server: server.to_owned(),
            reason: match &error {
                UpgradeError::Handshake(error) => explain_handshake_failure(
                    error,
                    UpstreamEndpoint {
                        section: &spec.section,
                        server,
                        ca_file: spec.server_ca_file.as_deref(),
                    },
                ),
                other => other.to_string(),
            },
        })?;
    stream.tls_summary().ok_or_else(|| ProbeError::Handshake {
        server: server.to_owned(),
        reason: "no TLS session after the handshake".to_owned(),
    })
}

/// The protocol's plain-text exchange up to the point where TLS starts; `Err` holds what the
/// server said instead.
async fn starttls(tcp: &mut TcpStream, protocol: Protocol) -> Result<(), String> {
    match protocol {
        Protocol::Imap => {
            let greeting = line(tcp).await?;
            if !(greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH")) {
                return Err(greeting);
            }
            send(tcp, "M1 STARTTLS\r\n").await?;
            loop {
                let reply = line(tcp).await?;
                if reply.starts_with("M1 OK") {
                    return Ok(());
                }
                if reply.starts_with("M1 ") {
                    return Err(reply);
                }
            }
        }
        Protocol::Pop => {
            let greeting = line(tcp).await?;
            if !greeting.starts_with("+OK") {
                return Err(greeting);
            }
            send(tcp, "STLS\r\n").await?;
            let reply = line(tcp).await?;
            if reply.starts_with("+OK") {
                Ok(())
            } else {
                Err(reply)
            }
        }
        Protocol::Smtp => {
            smtp_reply(tcp, "220").await?;
            send(tcp, "EHLO localhost\r\n").await?;
            smtp_reply(tcp, "250").await?;
            send(tcp, "STARTTLS\r\n").await?;
            smtp_reply(tcp, "220").await
        }
    }
}

/// Reads an SMTP reply (all its lines) and checks its code.
async fn smtp_reply(tcp: &mut TcpStream, code: &str) -> Result<(), String> {
    loop {
        let reply = line(tcp).await?;
        if !reply.starts_with(code) {
            return Err(reply);
        }
        if reply.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

async fn send(tcp: &mut TcpStream, text: &str) -> Result<(), String> {
    tcp.write_all(text.as_bytes())
        .await
        .map_err(|error| format!("the connection failed: {error}"))
}

/// One line, read a byte at a time so that nothing after it is consumed (the TLS handshake
/// follows on the same connection).
async fn line(tcp: &mut TcpStream) -> Result<String, String> {
    let mut line = Vec::new();
    loop {
        let byte = tcp
            .read_u8()
            .await
            .map_err(|_| "the server closed the connection".to_owned())?;
        if byte == b'\n' {
            let text = String::from_utf8_lossy(&line);
            return Ok(text.trim_end_matches('\r').to_owned());
        }
        if line.len() >= MAX_LINE {
            return Err(format!("a line longer than {MAX_LINE} bytes"));
        }
        line.push(byte);
    }
}
