//! The relay after authentication: bytes copied both ways, bounded, with real backpressure.
//!
//! Each direction reads at most [`RelayConfig::buffer_size`] bytes (what is available at once,
//! several reads coalesced into one write) and writes them completely to the other side before
//! reading again, so a peer that stops reading stops the proxy reading from the other peer (TCP
//! flow control then reaches the sender). Nothing polls in a loop: an idle or stalled session
//! costs no CPU. The buffer is borrowed from a per-thread pool only while bytes are in flight,
//! so an idle session holds no relay buffer at all. When one side closes its sending direction
//! the proxy closes the matching direction of the other side (half-close) and keeps relaying
//! the other way until it ends too.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use crate::bufpool;
use crate::shutdown::Shutdown;

/// Default size of each direction's relay buffer (bytes); also the largest size used.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// How the relay behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Size of each direction's buffer; the most the proxy holds per direction (between 1 KiB
    /// and [`DEFAULT_BUFFER_SIZE`]; other values are clamped).
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
    let limit = config.buffer_size.clamp(1024, bufpool::BUFFER_SIZE);
    let copy = Bidirectional {
        client: &mut client,
        server: &mut server,
        to_server: Direction::new(limit),
        to_client: Direction::new(limit),
    };
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

/// One direction of the relay: bytes read from one side and not yet written to the other.
struct Direction {
    /// Borrowed from the pool while bytes are in flight.
    buffer: Option<Box<[u8]>>,
    start: usize,
    end: usize,
    /// The most bytes read before writing.
    limit: usize,
    /// The reading side has closed.
    read_done: bool,
    /// The reading side failed; reported once the bytes read before are written.
    failed: Option<io::Error>,
    /// Bytes were written since the last flush.
    need_flush: bool,
    /// The writing side has been shut down: this direction is over.
    done: bool,
}

impl Direction {
    fn new(limit: usize) -> Self {
        Direction {
            buffer: None,
            start: 0,
            end: 0,
            limit,
            read_done: false,
            failed: None,
            need_flush: false,
            done: false,
        }
    }

    fn release(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            bufpool::give(buffer);
        }
        self.start = 0;
        self.end = 0;
    }

    /// Copies from `reader` to `writer` until the reader has nothing more for now (then
    /// `Pending`, holding no buffer) or has closed and the writer is shut down (`Ready`).
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        if self.done {
            return Poll::Ready(Ok(()));
        }
        loop {
            while self.start < self.end {
                let Some(buffer) = &self.buffer else { break };
                let pending = buffer.get(self.start..self.end).unwrap_or_default();
                match writer.as_mut().poll_write(cx, pending) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "the peer accepts no more data",
                        )));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.start += n;
                        self.need_flush = true;
                    }
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            self.start = 0;
            self.end = 0;
            if let Some(error) = self.failed.take() {
                self.release();
                return Poll::Ready(Err(error));
            }
            if self.read_done {
                self.release();
                if self.need_flush {
                    std::task::ready!(writer.as_mut().poll_flush(cx))?;
                    self.need_flush = false;
                }
                std::task::ready!(writer.as_mut().poll_shutdown(cx))?;
                self.done = true;
                return Poll::Ready(Ok(()));
            }
            // Read what is available now, up to the limit, to write it in one go.
            let mut buffer = self.buffer.take().unwrap_or_else(bufpool::take);
            let mut read_pending = false;
            while self.end < self.limit {
                let Some(space) = buffer.get_mut(self.end..self.limit) else {
                    break;
                };
                let mut read = ReadBuf::new(space);
                match reader.as_mut().poll_read(cx, &mut read) {
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        if n == 0 {
                            self.read_done = true;
                            break;
                        }
                        self.end += n;
                    }
                    // A TLS peer that closes without close_notify: its data is complete as far
                    // as the proxy can tell, so end this direction as a close would.
                    Poll::Ready(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                        self.read_done = true;
                        break;
                    }
                    // Write out what was read before the error, then report it.
                    Poll::Ready(Err(error)) => {
                        self.failed = Some(error);
                        break;
                    }
                    Poll::Pending => {
                        read_pending = true;
                        break;
                    }
                }
            }
            self.buffer = Some(buffer);
            if self.end > 0 || self.read_done || self.failed.is_some() {
                continue;
            }
            // Nothing to read: hold no buffer while waiting, and push out what was written.
            debug_assert!(read_pending);
            self.release();
            if self.need_flush {
                match writer.as_mut().poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.need_flush = false,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => {}
                }
            }
            return Poll::Pending;
        }
    }
}

impl Drop for Direction {
    fn drop(&mut self) {
        self.release();
    }
}

/// Both directions of a relay; completes when both are over or on the first error.
struct Bidirectional<'a, C, S> {
    client: &'a mut C,
    server: &'a mut S,
    to_server: Direction,
    to_client: Direction,
}

impl<C, S> Future for Bidirectional<'_, C, S>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let up = this.to_server.poll_copy(
            cx,
            Pin::new(&mut *this.client),
            Pin::new(&mut *this.server),
        )?;
        let down = this.to_client.poll_copy(
            cx,
            Pin::new(&mut *this.server),
            Pin::new(&mut *this.client),
        )?;
        match (up, down) {
            (Poll::Ready(()), Poll::Ready(())) => Poll::Ready(Ok(())),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A reader that plays a script: data, errors, `Pending`, then end of stream.
    enum Step {
        Data(&'static [u8]),
        Fail(io::ErrorKind),
        Wait,
    }

    struct Scripted(VecDeque<Step>);

    impl AsyncRead for Scripted {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let script = &mut self.get_mut().0;
            match script.pop_front() {
                Some(Step::Data(bytes)) => {
                    let n = bytes.len().min(buf.remaining());
                    buf.put_slice(&bytes[..n]);
                    if n < bytes.len() {
                        script.push_front(Step::Data(&bytes[n..]));
                    }
                    Poll::Ready(Ok(()))
                }
                Some(Step::Fail(kind)) => Poll::Ready(Err(kind.into())),
                // Waits for ever: a peer with nothing more to say for now.
                Some(Step::Wait) => {
                    script.push_front(Step::Wait);
                    Poll::Pending
                }
                None => Poll::Ready(Ok(())),
            }
        }
    }

    /// A writer that records writes and whether it was shut down.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        shut: bool,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().writes.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().shut = true;
            Poll::Ready(Ok(()))
        }
    }

    fn copy(script: Vec<Step>) -> (Poll<io::Result<()>>, Direction, Recorder) {
        let mut reader = Scripted(script.into());
        let mut writer = Recorder::default();
        let mut direction = Direction::new(DEFAULT_BUFFER_SIZE);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let poll = direction.poll_copy(&mut cx, Pin::new(&mut reader), Pin::new(&mut writer));
        (poll, direction, writer)
    }

    #[test]
    fn available_reads_are_coalesced_into_one_write() {
        let (poll, direction, writer) = copy(vec![
            Step::Data(b"a1 NOOP\r\n"),
            Step::Data(b"a2 NOOP\r\n"),
            Step::Wait,
        ]);
        assert!(poll.is_pending());
        assert_eq!(writer.writes, [b"a1 NOOP\r\na2 NOOP\r\n".to_vec()]);
        assert!(
            direction.buffer.is_none(),
            "an idle direction holds no buffer"
        );
        assert!(!writer.shut);
    }

    #[test]
    fn bytes_read_before_an_error_are_delivered_then_the_error_is_reported() {
        let (poll, _, writer) = copy(vec![
            Step::Data(b"* BYE going\r\n"),
            Step::Fail(io::ErrorKind::ConnectionReset),
        ]);
        match poll {
            Poll::Ready(Err(error)) => assert_eq!(error.kind(), io::ErrorKind::ConnectionReset),
            other => panic!("{other:?}"),
        }
        assert_eq!(writer.writes, [b"* BYE going\r\n".to_vec()]);
    }

    #[test]
    fn a_tls_close_without_close_notify_ends_the_direction_like_a_close() {
        let (poll, direction, writer) = copy(vec![
            Step::Data(b"+OK bye\r\n"),
            Step::Fail(io::ErrorKind::UnexpectedEof),
        ]);
        assert!(matches!(poll, Poll::Ready(Ok(()))), "{poll:?}");
        assert_eq!(writer.writes, [b"+OK bye\r\n".to_vec()]);
        assert!(writer.shut);
        assert!(direction.done && direction.buffer.is_none());
    }

    #[test]
    fn end_of_stream_shuts_the_other_side_down() {
        let (poll, _, writer) = copy(vec![Step::Data(b"x"), Step::Wait]);
        assert!(poll.is_pending() && !writer.shut);
        let (poll, _, writer) = copy(vec![Step::Data(b"x")]);
        assert!(matches!(poll, Poll::Ready(Ok(()))) && writer.shut);
        assert_eq!(writer.writes, [b"x".to_vec()]);
    }

    #[test]
    fn a_small_limit_bounds_each_write() {
        let mut reader =
            Scripted(vec![Step::Data(&[7; 1000]), Step::Data(&[8; 1000]), Step::Wait].into());
        let mut writer = Recorder::default();
        let mut direction = Direction::new(1500);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let poll = direction.poll_copy(&mut cx, Pin::new(&mut reader), Pin::new(&mut writer));
        assert!(poll.is_pending());
        let sizes: Vec<usize> = writer.writes.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1500, 500]);
    }
}
