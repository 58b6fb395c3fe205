//! What the listeners have done: counters per listener for status reports and metrics.
//!
//! Counters only grow (sessions, logins by outcome, bytes relayed, upstream failures); the
//! open sessions of a listener are read from its connection gate. A listener's counters live
//! as long as its section (a reload keeps them). [`ProxyStats`] is a cheap handle that another
//! task (a status server, say) reads without holding the [`Proxy`](crate::Proxy).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::limits::ConnectionGate;
use crate::listener_spec::{ListenerSpec, Protocol};

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    /// Logged in upstream; the session is relayed.
    Success,
    /// Refused before anything was sent upstream (password, configuration, authorisation).
    Rejected,
    /// The token could not be had for a temporary reason (token endpoint down or slow).
    Unavailable,
    /// The server refused the token.
    UpstreamRefused,
}

/// Why an upstream connection failed before login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamFailure {
    /// The TCP connection failed or timed out.
    Connect,
    /// The TLS handshake failed or timed out (an untrusted certificate, say).
    Tls,
    /// The greeting or a reply before login did not come in time.
    Greeting,
}

/// The counters of one listener.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sessions: AtomicU64,
    refused: AtomicU64,
    logins_success: AtomicU64,
    logins_rejected: AtomicU64,
    logins_unavailable: AtomicU64,
    logins_upstream_refused: AtomicU64,
    bytes_from_client: AtomicU64,
    bytes_from_server: AtomicU64,
    connect_failures: AtomicU64,
    tls_failures: AtomicU64,
    greeting_failures: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    /// A session was admitted.
    pub(crate) fn session(&self) {
        add(&self.sessions, 1);
    }

    /// A connection was refused by a limit of the listener.
    pub(crate) fn refused(&self) {
        add(&self.refused, 1);
    }

    /// A login attempt ended with `outcome`.
    pub(crate) fn login(&self, outcome: LoginOutcome) {
        add(
            match outcome {
                LoginOutcome::Success => &self.logins_success,
                LoginOutcome::Rejected => &self.logins_rejected,
                LoginOutcome::Unavailable => &self.logins_unavailable,
                LoginOutcome::UpstreamRefused => &self.logins_upstream_refused,
            },
            1,
        );
    }

    /// Bytes a relayed session carried (added when it ends).
    pub(crate) fn relayed(&self, from_client: u64, from_server: u64) {
        add(&self.bytes_from_client, from_client);
        add(&self.bytes_from_server, from_server);
    }

    /// An upstream connection failed before login.
    pub(crate) fn upstream_failed(&self, failure: UpstreamFailure) {
        add(
            match failure {
                UpstreamFailure::Connect => &self.connect_failures,
                UpstreamFailure::Tls => &self.tls_failures,
                UpstreamFailure::Greeting => &self.greeting_failures,
            },
            1,
        );
    }
}

/// A listener as the statistics know it.
#[derive(Debug)]
pub(crate) struct ListenerEntry {
    spec: RwLock<ListenerSpec>,
    bound: SocketAddr,
    gate: ConnectionGate,
    pub(crate) counters: Counters,
}

impl ListenerEntry {
    pub(crate) fn new(spec: ListenerSpec, bound: SocketAddr, gate: ConnectionGate) -> Self {
        ListenerEntry {
            spec: RwLock::new(spec),
            bound,
            gate,
            counters: Counters::default(),
        }
    }

    /// The listener was reloaded with `spec`.
    pub(crate) fn set_spec(&self, spec: ListenerSpec) {
        *self.spec.write().unwrap_or_else(PoisonError::into_inner) = spec;
    }

    fn snapshot(&self) -> ListenerSnapshot {
        let spec = self.spec.read().unwrap_or_else(PoisonError::into_inner);
        let c = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ListenerSnapshot {
            section: spec.section.clone(),
            protocol: spec.protocol,
            address: self.bound,
            server: spec.server_host_port(),
            local_tls: if spec.local_starttls {
                LocalTlsMode::StartTls
            } else if spec.local_certificate_path.is_some() {
                LocalTlsMode::Implicit
            } else {
                LocalTlsMode::None
            },
            description: spec.describe(),
            open_sessions: self.gate.active() as u64,
            connecting: self.gate.attempts() as u64,
            sessions: load(&c.sessions),
            refused: load(&c.refused),
            logins_success: load(&c.logins_success),
            logins_rejected: load(&c.logins_rejected),
            logins_unavailable: load(&c.logins_unavailable),
            logins_upstream_refused: load(&c.logins_upstream_refused),
            bytes_from_client: load(&c.bytes_from_client),
            bytes_from_server: load(&c.bytes_from_server),
            connect_failures: load(&c.connect_failures),
            tls_failures: load(&c.tls_failures),
            greeting_failures: load(&c.greeting_failures),
        }
    }
}

/// How a listener offers TLS to its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTlsMode {
    /// Plain text (loopback clients).
    None,
    /// TLS from the first byte.
    Implicit,
    /// STARTTLS / STLS.
    StartTls,
}

impl LocalTlsMode {
    /// `none`, `implicit` or `starttls`.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalTlsMode::None => "none",
            LocalTlsMode::Implicit => "implicit",
            LocalTlsMode::StartTls => "starttls",
        }
    }
}

/// One listener's state and counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerSnapshot {
    /// The section, e.g. `IMAP-1993`.
    pub section: String,
    /// The protocol.
    pub protocol: Protocol,
    /// The address the listener is bound to.
    pub address: SocketAddr,
    /// The upstream `host:port`.
    pub server: String,
    /// TLS towards clients.
    pub local_tls: LocalTlsMode,
    /// The log's description of the listener.
    pub description: String,
    /// Sessions open now (before and after login).
    pub open_sessions: u64,
    /// Upstream connections being set up now.
    pub connecting: u64,
    /// Sessions admitted since the listener started.
    pub sessions: u64,
    /// Connections refused by `max_connections`, `max_connections_per_address` or
    /// `max_connection_attempts`.
    pub refused: u64,
    /// Logins relayed.
    pub logins_success: u64,
    /// Logins refused before anything was sent upstream.
    pub logins_rejected: u64,
    /// Logins that failed for a temporary reason (the token endpoint).
    pub logins_unavailable: u64,
    /// Logins whose token the server refused.
    pub logins_upstream_refused: u64,
    /// Bytes read from clients by ended relayed sessions.
    pub bytes_from_client: u64,
    /// Bytes read from the server by ended relayed sessions.
    pub bytes_from_server: u64,
    /// Upstream connections that could not be made (refused, unreachable, timed out).
    pub connect_failures: u64,
    /// Upstream TLS handshakes that failed or timed out.
    pub tls_failures: u64,
    /// Upstream greetings (or replies before login) that did not come in time.
    pub greeting_failures: u64,
}

/// A handle on the statistics of a [`Proxy`](crate::Proxy)'s listeners
/// ([`Proxy::stats`](crate::Proxy::stats)); cheap to clone.
///
/// ```no_run
/// # fn show(proxy: &mailgate_proxy::Proxy) {
/// for listener in proxy.stats().snapshot() {
///     println!("{}: {} open, {} logins", listener.section, listener.open_sessions,
///              listener.logins_success);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ProxyStats {
    listeners: Arc<RwLock<Vec<Arc<ListenerEntry>>>>,
}

impl ProxyStats {
    /// Every running listener's state and counters, sorted by section.
    pub fn snapshot(&self) -> Vec<ListenerSnapshot> {
        let mut list: Vec<ListenerSnapshot> = self
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|entry| entry.snapshot())
            .collect();
        list.sort_by(|a, b| a.section.cmp(&b.section));
        list
    }

    pub(crate) fn add(&self, entry: Arc<ListenerEntry>) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    pub(crate) fn remove(&self, entry: &Arc<ListenerEntry>) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|e| !Arc::ptr_eq(e, entry));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn snapshots_follow_the_counters_and_reloads() {
        let stats = ProxyStats::default();
        let gate = ConnectionGate::new();
        let spec = ListenerSpec::new(Protocol::Pop, 1995, "pop.example.com", 995);
        let entry = Arc::new(ListenerEntry::new(
            spec.clone(),
            "127.0.0.1:1995".parse().unwrap(),
            gate.clone(),
        ));
        stats.add(entry.clone());
        entry.counters.session();
        entry.counters.login(LoginOutcome::Success);
        entry.counters.login(LoginOutcome::Unavailable);
        entry.counters.relayed(10, 2000);
        entry.counters.upstream_failed(UpstreamFailure::Tls);
        let _permit = gate
            .admit(
                "127.0.0.1".parse().unwrap(),
                crate::limits::ConnectionLimits::default(),
            )
            .unwrap();
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.len(), 1);
        let s = &snapshot[0];
        assert_eq!(
            (s.section.as_str(), s.protocol),
            ("POP-1995", Protocol::Pop)
        );
        assert_eq!((s.open_sessions, s.sessions), (1, 1));
        assert_eq!((s.logins_success, s.logins_unavailable), (1, 1));
        assert_eq!((s.bytes_from_client, s.bytes_from_server), (10, 2000));
        assert_eq!((s.tls_failures, s.connect_failures), (1, 0));
        assert_eq!(s.local_tls, LocalTlsMode::None);
        let mut reloaded = spec;
        reloaded.server_address = "pop2.example.com".to_owned();
        entry.set_spec(reloaded);
        assert_eq!(stats.snapshot()[0].server, "pop2.example.com:995");
        stats.remove(&entry);
        assert!(stats.snapshot().is_empty());
    }
}
