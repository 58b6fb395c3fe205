//! The relay after authentication: bytes copied both ways, bounded, with real backpressure.
//!
//! Each direction owns one fixed buffer of [`RelayConfig::buffer_size`] bytes. A chunk read from
//! one side is written completely to the other side before the next read, so a peer that stops
//! reading stops the proxy reading from the other peer (TCP flow control then reaches the
//! sender). Nothing polls in a loop: an idle or stalled session costs no CPU. When one side
//! closes its sending direction the proxy closes the matching direction of the other side
//! (half-close) and keeps relaying the other way until it ends too.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use crate::shutdown::Shutdown;

/// Default size of each direction's relay buffer (bytes).
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// How the relay behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Size of each direction's buffer; the most the proxy holds per direction.
    pub buffer_size: usize,
    /// Close the session when neither side sent anything for this long.
    pub idle_timeout: Option<Duration>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            buffer_size: DEFAULT_BUFFER_SIZE,
            idle_timeout: None,
        }
    }
}

/// Why a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEnd {
    /// Both sides closed their sending direction.
    Closed,
    /// Neither side sent anything for the idle timeout.
    Idle,
    /// The proxy is shutting down.
    Shutdown,
}

/// Byte counters of one relayed session, shared so that tests and metrics can read them while
/// the relay runs.
#[derive(Debug, Default)]
pub struct RelayMeter {
    client_read: AtomicU64,
    client_written: AtomicU64,
    server_read: AtomicU64,
    server_written: AtomicU64,
    /// Milliseconds since `epoch` of the last read from either side.
    last_activity_ms: AtomicU64,
    /// The largest number of bytes ever held by the proxy in one direction at once.
    high_water: AtomicU64,
}

impl RelayMeter {
    /// Bytes read from the client so far.
    pub fn client_read(&self) -> u64 {
        self.client_read.load(Ordering::Relaxed)
    }

    /// Bytes written to the client so far.
    pub fn client_written(&self) -> u64 {
        self.client_written.load(Ordering::Relaxed)
    }

    /// Bytes read from the server so far.
    pub fn server_read(&self) -> u64 {
        self.server_read.load(Ordering::Relaxed)
    }

    /// Bytes written to the server so far.
    pub fn server_written(&self) -> u64 {
        self.server_written.load(Ordering::Relaxed)
    }

    /// Bytes read from the server and not yet written to the client.
    pub fn buffered_towards_client(&self) -> u64 {
        self.server_read().saturating_sub(self.client_written())
    }

    /// Bytes read from the client and not yet written to the server.
    pub fn buffered_towards_server(&self) -> u64 {
        self.client_read().saturating_sub(self.server_written())
    }

    /// The most bytes the proxy ever held in one direction at once during this relay.
    pub fn high_water(&self) -> u64 {
        self.high_water.load(Ordering::Relaxed)
    }

    fn note_buffered(&self) {
        let held = self
            .buffered_towards_client()
            .max(self.buffered_towards_server());
        self.high_water.fetch_max(held, Ordering::Relaxed);
    }
}

/// Which peer a [`Metered`] stream talks to.
#[derive(Debug, Clone, Copy)]
enum Side {
    Client,
    Server,
}

/// A stream wrapper that counts bytes into a [`RelayMeter`].
struct Metered<'a, S> {
    inner: &'a mut S,
    side: Side,
    meter: Arc<RelayMeter>,
    epoch: Instant,
}

impl<S> Metered<'_, S> {
    fn counted_read(&self, n: usize) {
        let n = n as u64;
        match self.side {
            Side::Client => self.meter.client_read.fetch_add(n, Ordering::Relaxed),
            Side::Server => self.meter.server_read.fetch_add(n, Ordering::Relaxed),
        };
        let now = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_millis();
        self.meter
            .last_activity_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.meter.note_buffered();
    }

    fn counted_write(&self, n: usize) {
        let n = n as u64;
        match self.side {
            Side::Client => self.meter.client_written.fetch_add(n, Ordering::Relaxed),
            Side::Server => self.meter.server_written.fetch_add(n, Ordering::Relaxed),
        };
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut *this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.counted_read(buf.filled().len().saturating_sub(before));
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut *this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.counted_write(n);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Relays a session until both sides close, the idle timeout passes or `shutdown` fires.
///
/// `to_server` and `to_client` are bytes already received during authentication that still
/// belong to the other side (pipelined commands, untagged data); they are written first.
/// The streams are borrowed so that the caller can still send a goodbye line afterwards.
pub async fn relay<C, S>(
    client: &mut C,
    server: &mut S,
    to_server: &[u8],
    to_client: &[u8],
    config: RelayConfig,
    meter: Arc<RelayMeter>,
    mut shutdown: Shutdown,
) -> io::Result<RelayEnd>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !to_server.is_empty() {
        server.write_all(to_server).await?;
        server.flush().await?;
    }
    if !to_client.is_empty() {
        client.write_all(to_client).await?;
        client.flush().await?;
    }
    let epoch = Instant::now();
    let mut client = Metered {
        inner: client,
        side: Side::Client,
        meter: meter.clone(),
        epoch,
    };
    let mut server = Metered {
        inner: server,
        side: Side::Server,
        meter: meter.clone(),
        epoch,
    };
    let size = config.buffer_size.max(1024);
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, size, size);
    let idle = idle_watch(meter.clone(), epoch, config.idle_timeout);
    tokio::select! {
        result = copy => result.map(|_| RelayEnd::Closed),
        () = idle => Ok(RelayEnd::Idle),
        () = shutdown.wait() => Ok(RelayEnd::Shutdown),
    }
}

/// Completes when no byte was read from either side for `timeout`; never without a timeout.
async fn idle_watch(meter: Arc<RelayMeter>, epoch: Instant, timeout: Option<Duration>) {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        let last = meter.last_activity_ms.load(Ordering::Relaxed);
        tokio::time::sleep_until(epoch + Duration::from_millis(last) + timeout).await;
        if meter.last_activity_ms.load(Ordering::Relaxed) == last {
            return;
        }
    }
}
