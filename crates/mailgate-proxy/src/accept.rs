//! Pacing of accept loops through failed `accept` calls.

use std::io;
use std::time::{Duration, Instant};

/// Wait after a failed `accept` before the next one. The usual cause, running out of file
/// descriptors, leaves the connection waiting in the backlog, so an immediate retry fails
/// again at once: without the wait the loop would spin on a core until descriptors are free.
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(100);

/// A run of failures is logged when it starts and then at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Paces one accept loop: waits [`RETRY_DELAY`] after each failure, logs the first failure
/// of a run and then at most every ten seconds, and logs the recovery. For programs that run
/// accept loops of their own beside the proxy's (the `mailgate` binary's control socket).
///
/// ```no_run
/// # async fn run(listener: tokio::net::TcpListener) {
/// let mut backoff = mailgate_proxy::AcceptBackoff::default();
/// loop {
///     match listener.accept().await {
///         Ok((stream, _)) => {
///             backoff.accepted(|| "my listener".to_owned());
///             drop(stream);
///         }
///         Err(error) => backoff.failed("my listener", &error).await,
///     }
/// }
/// # }
/// ```
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u64,
    logged_at: Option<Instant>,
}

impl AcceptBackoff {
    /// Records a failed `accept` on `listener` (a description for the log) and waits.
    pub async fn failed(&mut self, listener: &str, error: &io::Error) {
        self.failures += 1;
        let now = Instant::now();
        if self
            .logged_at
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
        {
            tracing::error!(
                "Unable to accept a connection on {listener}: {error} ({} failed in a row; \
                 retrying every {} ms)",
                self.failures,
                RETRY_DELAY.as_millis()
            );
            self.logged_at = Some(now);
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }

    /// Records a successful `accept`, logging the end of a run of failures (`listener` is
    /// called only then).
    pub fn accepted(&mut self, listener: impl FnOnce() -> String) {
        if self.failures > 0 {
            tracing::info!(
                "Accepting connections on {} again after {} failed attempts",
                listener(),
                self.failures
            );
            self.failures = 0;
            self.logged_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn failures_wait_and_a_success_resets_the_run() {
        let mut backoff = AcceptBackoff::default();
        let error = io::Error::from_raw_os_error(24);
        let start = Instant::now();
        for _ in 0..3 {
            backoff.failed("the test listener", &error).await;
        }
        assert!(start.elapsed() >= 3 * RETRY_DELAY);
        assert_eq!(backoff.failures, 3);
        assert!(backoff.logged_at.is_some());
        backoff.accepted(|| "the test listener".to_owned());
        assert_eq!(backoff.failures, 0);
        assert!(backoff.logged_at.is_none());
    }
}
