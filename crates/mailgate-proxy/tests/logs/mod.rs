//! Log capture for tests: every `tracing` event of the test process, as plain text lines, in
//! one shared buffer. Tests run in parallel, so assertions look for lines only their own case
//! can produce (a port, an account, a `state`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    dead_code,
    unreachable_pub
)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// Everything logged so far.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static BUFFER: OnceLock<Buffer> = OnceLock::new();

/// Starts capturing (once per test process; later calls do nothing).
pub fn capture() {
    BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_target(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("another global subscriber is installed");
        buffer
    });
}

/// The captured lines containing every one of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    let Some(buffer) = BUFFER.get() else {
        panic!("logs::capture() was not called");
    };
    let bytes = buffer
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .map(str::to_owned)
        .collect()
}

/// The first captured line containing every one of `needles`, waiting a bounded time for it
/// (the proxy may log just after the client sees its reply).
pub async fn line_with(needles: &[&str]) -> String {
    for _ in 0..200 {
        if let Some(line) = lines_with(needles).into_iter().next() {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no log line contains all of {needles:?}");
}
