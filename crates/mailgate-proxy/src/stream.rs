//! A connection that is plain TCP or TLS on either side, upgradable by STARTTLS.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

use crate::bufpool;

/// A TCP connection, possibly wrapped in TLS (as the server towards a local client, or as the
/// client towards an upstream server).
#[derive(Debug)]
pub enum ProxyStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS where the proxy is the server (local side).
    Server(Box<server::TlsStream<ReadAhead>>),
    /// TLS where the proxy is the client (upstream side).
    Client(Box<client::TlsStream<ReadAhead>>),
}

/// What a TLS handshake negotiated. Displays as `TLS 1.3, TLS13_AES_256_GCM_SHA384,
/// X25519MLKEM768`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSummary {
    /// The protocol version.
    pub version: Option<rustls::ProtocolVersion>,
    /// The cipher suite.
    pub cipher_suite: Option<rustls::CipherSuite>,
    /// The key exchange group (`X25519MLKEM768` when the post-quantum hybrid was agreed).
    pub key_exchange: Option<rustls::NamedGroup>,
}

impl std::fmt::Display for TlsSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Some(rustls::ProtocolVersion::TLSv1_3) => f.write_str("TLS 1.3")?,
            Some(rustls::ProtocolVersion::TLSv1_2) => f.write_str("TLS 1.2")?,
            Some(other) => f.write_str(other.as_str().unwrap_or("TLS"))?,
            None => f.write_str("TLS")?,
        }
        if let Some(suite) = self.cipher_suite {
            write!(f, ", {}", suite.as_str().unwrap_or("unknown cipher suite"))?;
        }
        if let Some(group) = self.key_exchange {
            write!(
                f,
                ", {}",
                group.as_str().unwrap_or("unknown key exchange group")
            )?;
        }
        Ok(())
    }
}

/// Upgrading a connection to TLS failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The connection is already encrypted.
    #[error("the connection already uses TLS")]
    AlreadyTls,
    /// The handshake failed (certificate not trusted, wrong host name, protocol mismatch...).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] io::Error),
}

impl ProxyStream {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, ProxyStream::Plain(_))
    }

    /// The underlying TCP stream.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ProxyStream::Plain(tcp) => tcp,
            ProxyStream::Server(tls) => tls.get_ref().0.get_ref(),
            ProxyStream::Client(tls) => tls.get_ref().0.get_ref(),
        }
    }

    /// Performs the server side of a TLS handshake on a plain connection (implicit TLS or after
    /// STARTTLS/STLS was accepted).
    pub async fn accept_tls(self, config: Arc<ServerConfig>) -> Result<ProxyStream, UpgradeError> {
        match self {
            ProxyStream::Plain(tcp) => TlsAcceptor::from(config)
                .accept(ReadAhead::new(tcp))
                .await
                .map(|tls| ProxyStream::Server(Box::new(tls)))
                .map_err(UpgradeError::Handshake),
            _ => Err(UpgradeError::AlreadyTls),
        }
    }

    /// Performs the client side of a verified TLS handshake with an upstream server.
    pub async fn connect_tls(
        self,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<ProxyStream, UpgradeError> {
        match self {
            ProxyStream::Plain(tcp) => TlsConnector::from(config)
                .connect(name, ReadAhead::new(tcp))
                .await
                .map(|tls| ProxyStream::Client(Box::new(tls)))
                .map_err(UpgradeError::Handshake),
            _ => Err(UpgradeError::AlreadyTls),
        }
    }

    /// What the TLS handshake negotiated (version, cipher suite, key exchange group), for logs
    /// and `mailgate check`; `None` on a plain connection.
    pub fn tls_summary(&self) -> Option<TlsSummary> {
        let connection: &rustls::CommonState = match self {
            ProxyStream::Plain(_) => return None,
            ProxyStream::Server(tls) => tls.get_ref().1,
            ProxyStream::Client(tls) => tls.get_ref().1,
        };
        Some(TlsSummary {
            version: connection.protocol_version(),
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map(|suite| suite.suite()),
            key_exchange: connection
                .negotiated_key_exchange_group()
                .map(|group| group.name()),
        })
    }

    /// The negotiated TLS protocol version, for logs.
    pub fn tls_version(&self) -> Option<&'static str> {
        let version = match self {
            ProxyStream::Plain(_) => None,
            ProxyStream::Server(tls) => tls.get_ref().1.protocol_version(),
            ProxyStream::Client(tls) => tls.get_ref().1.protocol_version(),
        };
        version.and_then(|v| v.as_str())
    }
}

impl AsyncRead for ProxyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ProxyStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ProxyStream::Server(s) => Pin::new(s).poll_read(cx, buf),
            ProxyStream::Client(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ProxyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ProxyStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ProxyStream::Server(s) => Pin::new(s).poll_write(cx, buf),
            ProxyStream::Client(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ProxyStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ProxyStream::Server(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ProxyStream::Client(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ProxyStream::Plain(s) => s.is_write_vectored(),
            ProxyStream::Server(s) => s.is_write_vectored(),
            ProxyStream::Client(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ProxyStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ProxyStream::Server(s) => Pin::new(s).poll_flush(cx),
            ProxyStream::Client(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ProxyStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ProxyStream::Server(s) => Pin::new(s).poll_shutdown(cx),
            ProxyStream::Client(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A TCP stream under TLS that reads ahead: one system call fetches up to 64 KiB, which
/// rustls then takes in its own small reads (it asks for 4 KiB at a time). The buffer is
/// borrowed from a per-thread pool only while it holds bytes, so an idle connection holds none.
#[derive(Debug)]
pub struct ReadAhead {
    inner: TcpStream,
    buffer: Option<Box<[u8]>>,
    start: usize,
    end: usize,
}

impl ReadAhead {
    fn new(inner: TcpStream) -> Self {
        ReadAhead {
            inner,
            buffer: None,
            start: 0,
            end: 0,
        }
    }

    /// The TCP stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.inner
    }

    /// Copies buffered bytes into `out`; gives the buffer back once it is drained.
    fn drain_into(&mut self, out: &mut ReadBuf<'_>) {
        if let Some(buffer) = &self.buffer {
            let n = out.remaining().min(self.end - self.start);
            out.put_slice(buffer.get(self.start..self.start + n).unwrap_or_default());
            self.start += n;
        }
        if self.start >= self.end {
            self.release();
        }
    }

    fn release(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            bufpool::give(buffer);
        }
        self.start = 0;
        self.end = 0;
    }
}

impl AsyncRead for ReadAhead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start < this.end {
            this.drain_into(out);
            return Poll::Ready(Ok(()));
        }
        if out.remaining() >= bufpool::BUFFER_SIZE {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let mut buffer = this.buffer.take().unwrap_or_else(bufpool::take);
        let mut read = ReadBuf::new(&mut buffer);
        match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                this.buffer = Some(buffer);
                this.start = 0;
                this.end = n;
                this.drain_into(out);
                Poll::Ready(Ok(()))
            }
            other => {
                bufpool::give(buffer);
                other
            }
        }
    }
}

impl AsyncWrite for ReadAhead {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.release();
    }
}
