//! systemd service notifications (`Type=notify`): READY=1 once every listener is bound,
//! RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 at shutdown, a STATUS= line with
//! the listener and session counts, and WATCHDOG=1 pings when the unit sets `WatchdogSec`.
//! Without `NOTIFY_SOCKET` (not started by systemd) nothing is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mailgate_proxy::{Proxy, SessionCount};

/// How often the STATUS line is refreshed when no watchdog asks for more often.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);

/// Sends `states` to systemd; failures are logged at debug level (systemd may be gone).
#[cfg(unix)]
fn send(states: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(error) = sd_notify::notify(states) {
        tracing::debug!("Unable to notify systemd: {error}");
    }
}

/// Tells systemd why start-up failed (before exiting).
pub(crate) fn failed(reason: &str) {
    #[cfg(unix)]
    send(&[sd_notify::NotifyState::Status(&format!("failed: {reason}"))]);
    #[cfg(not(unix))]
    let _ = reason;
}

/// The STATUS= text.
fn status(listeners: usize, sessions: usize) -> String {
    format!(
        "{listeners} listener{}, {sessions} open session{}",
        if listeners == 1 { "" } else { "s" },
        if sessions == 1 { "" } else { "s" }
    )
}

/// The running proxy's notifications.
#[derive(Debug)]
pub(crate) struct Notifier {
    listeners: Arc<AtomicUsize>,
    sessions: SessionCount,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Notifier {
    /// Every listener is bound: READY=1 with the first STATUS line, then the status (and
    /// watchdog) ticker.
    pub(crate) fn start(proxy: &Proxy) -> Self {
        let mut notifier = Notifier {
            listeners: Arc::new(AtomicUsize::new(0)),
            sessions: proxy.session_count(),
            ticker: None,
        };
        notifier.ready(proxy);
        #[cfg(unix)]
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            let watchdog = sd_notify::watchdog_enabled();
            let interval = watchdog.map_or(STATUS_INTERVAL, |timeout| {
                (timeout / 2).min(STATUS_INTERVAL)
            });
            let listeners = Arc::clone(&notifier.listeners);
            let sessions = notifier.sessions.clone();
            notifier.ticker = Some(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                let mut last = String::new();
                loop {
                    ticker.tick().await;
                    let now = status(listeners.load(Ordering::Relaxed), sessions.get());
                    let mut states = Vec::new();
                    if watchdog.is_some() {
                        states.push(sd_notify::NotifyState::Watchdog);
                    }
                    if now != last {
                        states.push(sd_notify::NotifyState::Status(&now));
                    }
                    if !states.is_empty() {
                        send(&states);
                    }
                    last = now;
                }
            }));
        }
        notifier
    }

    /// READY=1 with the current counts (at start and after a reload).
    pub(crate) fn ready(&self, proxy: &Proxy) {
        let listeners = proxy.listeners().len();
        self.listeners.store(listeners, Ordering::Relaxed);
        #[cfg(unix)]
        send(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&status(listeners, self.sessions.get())),
        ]);
    }

    /// RELOADING=1 (with the monotonic time systemd asks for), before a reload.
    pub(crate) fn reloading(&self) {
        #[cfg(unix)]
        {
            let mut states = vec![sd_notify::NotifyState::Reloading];
            if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
                states.push(now);
            }
            send(&states);
        }
    }

    /// STOPPING=1, before the sessions are drained.
    pub(crate) fn stopping(&self) {
        #[cfg(unix)]
        send(&[
            sd_notify::NotifyState::Stopping,
            sd_notify::NotifyState::Status("stopping: draining sessions"),
        ]);
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_count_listeners_and_sessions() {
        assert_eq!(status(1, 0), "1 listener, 0 open sessions");
        assert_eq!(status(3, 1), "3 listeners, 1 open session");
    }
}
