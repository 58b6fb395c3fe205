//! Connection limits per listener and per source address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Default pre-authentication timeout: a client must have logged in within this time.
pub const DEFAULT_PRE_AUTH_TIMEOUT: Duration = Duration::from_secs(600);

/// Default `max_connection_attempts`: upstream connections of one listener being set up at
/// once (connect, TLS handshake, greeting). Past it a client is refused at once instead of
/// waiting silently behind a server that accepts slowly.
pub const DEFAULT_MAX_CONNECTION_ATTEMPTS: usize = 100;

/// Default `server_connect_timeout`: the TCP connection to the server.
pub const DEFAULT_SERVER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default `server_tls_timeout`: the TLS handshake with the server.
pub const DEFAULT_SERVER_TLS_TIMEOUT: Duration = Duration::from_secs(10);

/// Default `server_greeting_timeout`: the server's greeting, and each of its replies before the
/// client is greeted (IMAP `CAPABILITY`, POP3 `CAPA`, SMTP `EHLO`, `STARTTLS`).
pub const DEFAULT_SERVER_GREETING_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the steps of an upstream connection may take before the client is refused
/// (`None`: no limit but the pre-authentication timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamTimeouts {
    /// `server_connect_timeout`.
    pub connect: Option<Duration>,
    /// `server_tls_timeout`.
    pub tls: Option<Duration>,
    /// `server_greeting_timeout`.
    pub greeting: Option<Duration>,
}

impl Default for UpstreamTimeouts {
    fn default() -> Self {
        UpstreamTimeouts {
            connect: Some(DEFAULT_SERVER_CONNECT_TIMEOUT),
            tls: Some(DEFAULT_SERVER_TLS_TIMEOUT),
            greeting: Some(DEFAULT_SERVER_GREETING_TIMEOUT),
        }
    }
}

/// Limits applied to the connections of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most concurrent connections on the listener (`max_connections`; `None` = no limit).
    pub per_listener: Option<usize>,
    /// Most concurrent connections from one source address (`max_connections_per_address`).
    pub per_source: Option<usize>,
    /// Most upstream connections being set up at once (`max_connection_attempts`).
    pub attempts: Option<usize>,
}

impl Default for ConnectionLimits {
    /// No limit on connections; [`DEFAULT_MAX_CONNECTION_ATTEMPTS`] upstream attempts.
    fn default() -> Self {
        ConnectionLimits {
            per_listener: None,
            per_source: None,
            attempts: Some(DEFAULT_MAX_CONNECTION_ATTEMPTS),
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// The listener already holds its maximum.
    #[error("rejecting new connection above the limit of {0} connections on this server")]
    Listener(usize),
    /// The source address already holds its maximum.
    #[error("rejecting new connection above the limit of {0} connections from one address")]
    Source(usize),
    /// The listener is already setting up its maximum of upstream connections.
    #[error(
        "rejecting new connection: {0} connections to the server are already being set up \
         (max_connection_attempts)"
    )]
    Attempts(usize),
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    attempts: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Counts the live connections of a listener and hands out [`ConnectionPermit`]s.
///
/// The gate is shared by a listener across reloads so that live sessions keep counting.
#[derive(Debug, Clone, Default)]
pub struct ConnectionGate {
    counts: Arc<Mutex<Counts>>,
}

/// An upstream connection being set up; releases its place when dropped.
#[derive(Debug)]
pub struct AttemptPermit {
    gate: ConnectionGate,
}

impl Drop for AttemptPermit {
    fn drop(&mut self) {
        let mut counts = self
            .gate
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.attempts = counts.attempts.saturating_sub(1);
    }
}

/// Proof that a connection was admitted; releases its place when dropped.
#[derive(Debug)]
pub struct ConnectionPermit {
    gate: ConnectionGate,
    source: IpAddr,
}

impl ConnectionGate {
    /// A gate with no connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits a connection from `source` if `limits` allow it.
    pub fn admit(
        &self,
        source: IpAddr,
        limits: ConnectionLimits,
    ) -> Result<ConnectionPermit, LimitExceeded> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limit) = limits.per_listener
            && counts.total >= limit
        {
            return Err(LimitExceeded::Listener(limit));
        }
        let from_source = counts.per_source.get(&source).copied().unwrap_or(0);
        if let Some(limit) = limits.per_source
            && from_source >= limit
        {
            return Err(LimitExceeded::Source(limit));
        }
        counts.total += 1;
        counts.per_source.insert(source, from_source + 1);
        Ok(ConnectionPermit {
            gate: self.clone(),
            source,
        })
    }

    /// Starts setting up an upstream connection if `limits` allow another one now.
    pub fn attempt(&self, limits: ConnectionLimits) -> Result<AttemptPermit, LimitExceeded> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limit) = limits.attempts
            && counts.attempts >= limit
        {
            return Err(LimitExceeded::Attempts(limit));
        }
        counts.attempts += 1;
        Ok(AttemptPermit { gate: self.clone() })
    }

    /// Upstream connections currently being set up.
    pub fn attempts(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .attempts
    }

    /// Connections currently admitted.
    pub fn active(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self
            .gate
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_source.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.per_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_listener_and_source() {
        let gate = ConnectionGate::new();
        let limits = ConnectionLimits {
            per_listener: Some(3),
            per_source: Some(2),
            ..ConnectionLimits::default()
        };
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = gate.admit(a, limits).unwrap();
        let _second = gate.admit(a, limits).unwrap();
        assert_eq!(gate.admit(a, limits).unwrap_err(), LimitExceeded::Source(2));
        let _third = gate.admit(b, limits).unwrap();
        assert_eq!(
            gate.admit(b, limits).unwrap_err(),
            LimitExceeded::Listener(3)
        );
        drop(first);
        assert_eq!(gate.active(), 2);
        let _again = gate.admit(a, limits).unwrap();
        assert_eq!(gate.active(), 3);
    }

    #[test]
    fn attempts_are_bounded_and_released() {
        let gate = ConnectionGate::new();
        let limits = ConnectionLimits {
            attempts: Some(2),
            ..ConnectionLimits::default()
        };
        let first = gate.attempt(limits).unwrap();
        let _second = gate.attempt(limits).unwrap();
        assert_eq!(
            gate.attempt(limits).unwrap_err(),
            LimitExceeded::Attempts(2)
        );
        assert_eq!(gate.attempts(), 2);
        drop(first);
        let _third = gate.attempt(limits).unwrap();
        assert_eq!(gate.attempts(), 2);
        let unlimited = ConnectionLimits {
            attempts: None,
            ..limits
        };
        let more: Vec<_> = (0..10).map(|_| gate.attempt(unlimited).unwrap()).collect();
        assert_eq!(gate.attempts(), 12);
        drop(more);
        assert_eq!(gate.attempts(), 2);
    }

    #[test]
    fn unlimited_by_default() {
        let gate = ConnectionGate::new();
        let permits: Vec<_> = (0..100)
            .map(|_| {
                gate.admit("::1".parse().unwrap(), ConnectionLimits::default())
                    .unwrap()
            })
            .collect();
        assert_eq!(gate.active(), 100);
        drop(permits);
        assert_eq!(gate.active(), 0);
    }
}
