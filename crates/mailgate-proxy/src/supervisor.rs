//! The listener supervisor: one listener per server section, reload without dropping live
//! sessions, graceful drain.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use tracing::Instrument as _;

use crate::accept::AcceptBackoff;
use crate::error::ListenError;
use crate::limits::ConnectionGate;
use crate::listener_spec::{ListenerSpec, PreparedListener};
use crate::login::Authenticator;
use crate::session::{self, SessionContext};
use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::stats::{ListenerEntry, ProxyStats};

/// How long a refused connection's goodbye line may take to send.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// A running listener.
#[derive(Debug)]
struct RunningListener {
    spec: ListenerSpec,
    bound: SocketAddr,
    settings: watch::Sender<Arc<PreparedListener>>,
    stop: ShutdownTrigger,
    task: JoinHandle<()>,
    entry: Arc<ListenerEntry>,
}

/// What every session shares.
struct Shared {
    authenticator: Arc<dyn Authenticator>,
    sessions_shutdown: Shutdown,
    /// Every live session holds a clone; the drain waits until all are dropped.
    live: mpsc::Sender<()>,
}

/// The target of the span every session runs in (fields `listener`, `client` and, after
/// login, `account`). A log layer that prints the fields in each line already (the text and
/// JSON formats of the `mailgate` binary) can leave this span out with a per-layer filter; a
/// structured sink (journald) keeps its fields.
pub const SESSION_SPAN_TARGET: &str = "mailgate::session";

/// Counts a [`Proxy`]'s open sessions ([`Proxy::session_count`]).
#[derive(Debug, Clone)]
pub struct SessionCount(mpsc::WeakSender<()>);

impl SessionCount {
    /// The number of sessions open now (0 once the proxy has shut down).
    pub fn get(&self) -> usize {
        // Each session holds a clone of the sender; the proxy holds one more.
        self.0.strong_count().saturating_sub(1)
    }
}

/// The proxy: a set of listeners, their sessions, and the authenticator they use.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use mailgate_proxy::{Authenticator, ListenerSpec, Protocol, Proxy};
/// # async fn run(authenticator: Arc<dyn Authenticator>) {
/// let mut proxy = Proxy::new(authenticator);
/// let spec = ListenerSpec::new(Protocol::Imap, 1993, "outlook.office365.com", 993);
/// for error in proxy.apply(vec![spec]).await {
///     eprintln!("{error}");
/// }
/// // ... later, on SIGTERM:
/// proxy.shutdown(std::time::Duration::from_secs(10)).await;
/// # }
/// ```
pub struct Proxy {
    shared: Arc<Shared>,
    listeners: HashMap<String, RunningListener>,
    sessions_trigger: ShutdownTrigger,
    live_receiver: mpsc::Receiver<()>,
    stats: ProxyStats,
}

impl Proxy {
    /// A proxy with no listeners yet.
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        let sessions_trigger = ShutdownTrigger::new();
        let (live, live_receiver) = mpsc::channel(1);
        Proxy {
            shared: Arc::new(Shared {
                authenticator,
                sessions_shutdown: sessions_trigger.subscribe(),
                live,
            }),
            listeners: HashMap::new(),
            sessions_trigger,
            live_receiver,
            stats: ProxyStats::default(),
        }
    }

    /// Makes the running listeners match `specs`: starts new sections, stops removed ones,
    /// rebinds those whose local address changed and updates the settings of the others in
    /// place. Live sessions keep the settings they started with and are never dropped.
    ///
    /// Returns the errors of the sections that could not be (re)started; on error a section
    /// that was already running keeps running with its old settings.
    pub async fn apply(&mut self, specs: Vec<ListenerSpec>) -> Vec<ListenError> {
        let mut errors = Vec::new();
        let wanted: HashMap<String, ListenerSpec> = specs
            .into_iter()
            .map(|spec| (spec.section.clone(), spec))
            .collect();

        // Stop what is gone or must move, first, so that a port can move between sections.
        let to_stop: Vec<String> = self
            .listeners
            .iter()
            .filter(|(section, running)| match wanted.get(*section) {
                None => true,
                Some(spec) => spec.bind_address() != running.spec.bind_address(),
            })
            .map(|(section, _)| section.clone())
            .collect();
        for section in to_stop {
            if let Some(running) = self.listeners.remove(&section) {
                tracing::info!("Stopping {}", running.spec.describe());
                self.stats.remove(&running.entry);
                running.stop.fire();
                // The accept loop owns the socket; wait until it has closed it.
                let _ = running.task.await;
            }
        }

        let mut sections: Vec<&String> = wanted.keys().collect();
        sections.sort();
        for section in sections {
            let Some(spec) = wanted.get(section) else {
                continue;
            };
            if let Some(running) = self.listeners.get_mut(section) {
                if running.spec == *spec {
                    continue;
                }
                match spec.prepare() {
                    Ok(prepared) => {
                        tracing::info!("Reloaded {}", spec.describe());
                        running.settings.send_replace(Arc::new(prepared));
                        running.spec = spec.clone();
                        running.entry.set_spec(spec.clone());
                    }
                    Err(source) => errors.push(ListenError::Config {
                        section: section.clone(),
                        source,
                    }),
                }
                continue;
            }
            match self.start(spec).await {
                Ok(running) => {
                    self.listeners.insert(section.clone(), running);
                }
                Err(error) => errors.push(error),
            }
        }
        errors
    }

    /// Binds and starts one listener.
    async fn start(&self, spec: &ListenerSpec) -> Result<RunningListener, ListenError> {
        let prepared = spec.prepare().map_err(|source| ListenError::Config {
            section: spec.section.clone(),
            source,
        })?;
        let listener = bind(spec).await.map_err(|source| ListenError::Bind {
            section: spec.section.clone(),
            address: spec.bind_address(),
            source,
        })?;
        let bound = listener.local_addr().map_err(|source| ListenError::Bind {
            section: spec.section.clone(),
            address: spec.bind_address(),
            source,
        })?;
        tracing::info!("Starting {}", spec.describe());
        let (settings, settings_receiver) = watch::channel(Arc::new(prepared));
        let stop = ShutdownTrigger::new();
        let gate = ConnectionGate::new();
        let entry = Arc::new(ListenerEntry::new(spec.clone(), bound, gate.clone()));
        self.stats.add(entry.clone());
        let task = tokio::spawn(accept_loop(
            listener,
            settings_receiver,
            stop.subscribe(),
            gate,
            entry.clone(),
            self.shared.clone(),
        ));
        Ok(RunningListener {
            spec: spec.clone(),
            bound,
            settings,
            stop,
            task,
            entry,
        })
    }

    /// The address a section's listener is bound to (useful with port 0).
    pub fn local_addr(&self, section: &str) -> Option<SocketAddr> {
        self.listeners.get(section).map(|running| running.bound)
    }

    /// The running sections and their bound addresses, sorted by section.
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        let mut list: Vec<_> = self
            .listeners
            .iter()
            .map(|(section, running)| (section.clone(), running.bound))
            .collect();
        list.sort();
        list
    }

    /// The number of sessions open now, over all listeners (pre-authentication and relayed).
    pub fn sessions(&self) -> usize {
        self.session_count().get()
    }

    /// A handle on the listeners' state and counters, for status reports and metrics from
    /// another task.
    pub fn stats(&self) -> ProxyStats {
        self.stats.clone()
    }

    /// A handle that counts the open sessions from another task (e.g. for a status report),
    /// without keeping the proxy alive.
    pub fn session_count(&self) -> SessionCount {
        SessionCount(self.shared.live.downgrade())
    }

    /// Stops accepting, tells every session to say goodbye and close, and waits for them (at
    /// most `grace`).
    pub async fn shutdown(mut self, grace: Duration) {
        for (_, running) in self.listeners.drain() {
            tracing::info!("Stopping {}", running.spec.describe());
            running.stop.fire();
            let _ = running.task.await;
        }
        self.sessions_trigger.fire();
        let Proxy {
            shared,
            mut live_receiver,
            ..
        } = self;
        drop(shared);
        // `recv` returns `None` once every session dropped its sender.
        let _ = tokio::time::timeout(grace, live_receiver.recv()).await;
    }
}

/// Binds a listening socket with address reuse (a restart is not blocked by TIME_WAIT).
async fn bind(spec: &ListenerSpec) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for address in tokio::net::lookup_host(spec.bind_address()).await? {
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(address) {
            Ok(()) => return socket.listen(1024),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "the address did not resolve",
        )
    }))
}

/// Accepts connections until `stop` fires; each connection runs in its own task.
async fn accept_loop(
    listener: TcpListener,
    settings: watch::Receiver<Arc<PreparedListener>>,
    mut stop: Shutdown,
    gate: ConnectionGate,
    entry: Arc<ListenerEntry>,
    shared: Arc<Shared>,
) {
    let mut backoff = AcceptBackoff::default();
    loop {
        let accepted = tokio::select! {
            () = stop.wait() => return,
            accepted = listener.accept() => accepted,
        };
        let prepared = settings.borrow().clone();
        let spec = &prepared.spec;
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                let described = spec.describe();
                tokio::select! {
                    () = stop.wait() => return,
                    () = backoff.failed(&described, &error) => continue,
                }
            }
        };
        backoff.accepted(|| spec.describe());
        match gate.admit(peer.ip(), spec.limits) {
            Ok(permit) => {
                entry.counters.session();
                tracing::info!(
                    "Accepting new connection from {peer} to {}",
                    spec.describe()
                );
                let context = SessionContext {
                    listener: prepared.clone(),
                    peer,
                    authenticator: shared.authenticator.clone(),
                    shutdown: shared.sessions_shutdown.clone(),
                    gate: gate.clone(),
                    stats: entry.clone(),
                };
                let live = shared.live.clone();
                // Every event of the session carries the listener, the client and, once logged
                // in, the account as structured fields (journald's LISTENER=, ACCOUNT=, ...).
                let span = tracing::error_span!(
                    target: SESSION_SPAN_TARGET,
                    "session",
                    listener = %spec.section,
                    client = %peer,
                    account = tracing::field::Empty,
                );
                tokio::spawn(
                    async move {
                        session::run(context, tcp).await;
                        drop(permit);
                        drop(live);
                    }
                    .instrument(span),
                );
            }
            Err(limit) => {
                entry.counters.refused();
                let text = format!("{} {limit}", spec.describe());
                tracing::error!("{text} (connection from {peer})");
                // A plain-text line would be garbage to a client expecting TLS: just close.
                if !matches!(
                    prepared.local_tls,
                    crate::listener_spec::LocalTls::Implicit(_)
                ) {
                    tokio::spawn(refuse(tcp, spec.protocol.refusal(&text)));
                }
            }
        }
    }
}

/// Sends a refusal line and closes.
async fn refuse(mut tcp: TcpStream, line: Vec<u8>) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        let _ = tcp.write_all(&line).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}
