//! Connection limits per listener and per source address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Default pre-authentication timeout: a client must have logged in within this time.
pub const DEFAULT_PRE_AUTH_TIMEOUT: Duration = Duration::from_secs(600);

/// Limits applied to the connections of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionLimits {
    /// Most concurrent connections on the listener (`max_connections`; `None` = no limit).
    pub per_listener: Option<usize>,
    /// Most concurrent connections from one source address (`max_connections_per_address`).
    pub per_source: Option<usize>,
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
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Counts the live connections of a listener and hands out [`ConnectionPermit`]s.
///
/// The gate is shared by a listener across reloads so that live sessions keep counting.
#[derive(Debug, Clone, Default)]
pub struct ConnectionGate {
    counts: Arc<Mutex<Counts>>,
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
