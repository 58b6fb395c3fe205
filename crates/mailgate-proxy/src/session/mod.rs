//! One client connection: local TLS, upstream connection, pre-authentication dialogue of the
//! protocol, then the relay.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::certificate::{UpstreamEndpoint, explain_handshake_failure};
use crate::limits::{AttemptPermit, ConnectionGate, LimitExceeded};
use crate::listener_spec::{LocalTls, PreparedListener, Protocol};
use crate::login::{Authenticator, LoginRejected};
use crate::relay::{self, RelayEnd, RelayMeter};
use crate::shutdown::Shutdown;
use crate::stats::{ListenerEntry, LoginOutcome, UpstreamFailure};
use crate::stream::{ProxyStream, UpgradeError};

mod driver;
mod imap;
mod machine;
mod pop3;
mod smtp;

/// Largest pre-authentication line accepted from either side (bytes).
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Everything a session needs from its listener.
#[derive(Clone)]
pub(crate) struct SessionContext {
    /// The listener's settings when the connection was accepted.
    pub(crate) listener: Arc<PreparedListener>,
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// Turns password logins into tokens.
    pub(crate) authenticator: Arc<dyn Authenticator>,
    /// Fires when the proxy shuts down.
    pub(crate) shutdown: Shutdown,
    /// The listener's connection counts (upstream attempts in flight among them).
    pub(crate) gate: ConnectionGate,
    /// The listener's counters.
    pub(crate) stats: Arc<ListenerEntry>,
}

impl SessionContext {
    fn protocol(&self) -> Protocol {
        self.listener.spec.protocol
    }

    /// The Python email-oauth2-proxy's connection label: `IMAP (127.0.0.1:1993)`.
    pub(crate) fn label(&self) -> String {
        format!(
            "{} ({})",
            self.protocol(),
            self.listener.spec.bind_address()
        )
    }
}

/// A step of setting up the upstream connection, each with its own time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamStep {
    /// The TCP connection (`server_connect_timeout`).
    Connect,
    /// The TLS handshake (`server_tls_timeout`).
    Tls,
    /// The greeting and the replies before the client is greeted (`server_greeting_timeout`).
    Greeting,
}

impl UpstreamStep {
    /// The configuration key of the step's time limit.
    fn key(self) -> &'static str {
        match self {
            UpstreamStep::Connect => "server_connect_timeout",
            UpstreamStep::Tls => "server_tls_timeout",
            UpstreamStep::Greeting => "server_greeting_timeout",
        }
    }

    /// What the proxy was waiting for, as in "timed out ...".
    fn waiting_for(self) -> &'static str {
        match self {
            UpstreamStep::Connect => "connecting to",
            UpstreamStep::Tls => "in the TLS handshake with",
            UpstreamStep::Greeting => "waiting for the greeting of",
        }
    }
}

/// Why a session ended before or during the login.
#[derive(Debug)]
pub(crate) enum Interrupt {
    /// The pre-authentication timeout passed.
    Timeout,
    /// The client sent no complete command within `client_idle_timeout`.
    Idle(std::time::Duration),
    /// A step of the upstream connection took longer than its limit.
    UpstreamTimeout(UpstreamStep, std::time::Duration),
    /// A limit of the listener refused the connection.
    Limit(LimitExceeded),
    /// The proxy is shutting down.
    Shutdown,
    /// The client closed the connection.
    ClientClosed,
    /// The server closed the connection.
    ServerClosed,
    /// A socket or TLS error on the client's connection.
    Io(io::Error),
    /// A socket or TLS error on the connection to the server (a reset, say).
    ServerIo(io::Error),
    /// The peer broke the protocol; the text is for the log.
    Protocol(String),
    /// The server refused the connection with this reply, shown to the client as it is.
    ServerRefused(Vec<u8>),
}

impl From<io::Error> for Interrupt {
    fn from(error: io::Error) -> Self {
        Interrupt::Io(error)
    }
}

/// The end of the pre-authentication phase with a logged-in upstream.
pub(crate) struct Handoff {
    pub(crate) client: ProxyStream,
    pub(crate) server: ProxyStream,
    /// Bytes from the client not yet forwarded to the server.
    pub(crate) to_server: Vec<u8>,
    /// Bytes from the server not yet forwarded to the client.
    pub(crate) to_client: Vec<u8>,
    /// The account that logged in.
    pub(crate) account: String,
}

/// Watches the pre-authentication deadline, the time limit of the current upstream step and
/// the shutdown signal around every wait; holds the listener's place for an upstream
/// connection being set up.
pub(crate) struct Guard {
    deadline: Instant,
    shutdown: Shutdown,
    /// The upstream step under way, its limit and when it ends.
    step: Option<(UpstreamStep, std::time::Duration, Instant)>,
    /// Held from the start of an upstream connection until it is ready.
    attempt: Option<AttemptPermit>,
}

impl Guard {
    /// A guard with the session's pre-authentication deadline.
    pub(crate) fn new(deadline: Instant, shutdown: Shutdown) -> Self {
        Guard {
            deadline,
            shutdown,
            step: None,
            attempt: None,
        }
    }

    /// Runs `future` unless the deadline or the current step's limit passes, or the proxy shuts
    /// down, first.
    pub(crate) async fn run<F: Future>(&mut self, future: F) -> Result<F::Output, Interrupt> {
        self.run_until(self.deadline, Interrupt::Timeout, future)
            .await
    }

    /// [`Guard::run`] with an earlier `deadline` (capped at the session's), which ends the wait
    /// with `expired`.
    async fn run_until<F: Future>(
        &mut self,
        deadline: Instant,
        expired: Interrupt,
        future: F,
    ) -> Result<F::Output, Interrupt> {
        let (deadline, expired) = if deadline < self.deadline {
            (deadline, expired)
        } else {
            (self.deadline, Interrupt::Timeout)
        };
        let step = async {
            match self.step {
                Some((step, limit, ends)) => {
                    tokio::time::sleep_until(ends).await;
                    Interrupt::UpstreamTimeout(step, limit)
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            output = future => Ok(output),
            () = tokio::time::sleep_until(deadline) => Err(expired),
            interrupt = step => Err(interrupt),
            () = self.shutdown.wait() => Err(Interrupt::Shutdown),
        }
    }

    /// Starts an upstream connection: takes one of the listener's places for connections being
    /// set up, or refuses.
    pub(crate) fn begin_upstream(&mut self, context: &SessionContext) -> Result<(), Interrupt> {
        if self.attempt.is_none() {
            let permit = context
                .gate
                .attempt(context.listener.spec.limits)
                .map_err(Interrupt::Limit)?;
            self.attempt = Some(permit);
        }
        Ok(())
    }

    /// Starts an upstream step with its limit from the listener's settings.
    pub(crate) fn begin_step(&mut self, context: &SessionContext, step: UpstreamStep) {
        let timeouts = context.listener.spec.upstream_timeouts;
        let limit = match step {
            UpstreamStep::Connect => timeouts.connect,
            UpstreamStep::Tls => timeouts.tls,
            UpstreamStep::Greeting => timeouts.greeting,
        };
        self.step = limit.map(|limit| (step, limit, Instant::now() + limit));
    }

    /// The upstream connection is ready (or given up): no step limit, its place released.
    pub(crate) fn upstream_ready(&mut self) {
        self.step = None;
        self.attempt = None;
    }
}

/// One side of a session before the relay: a stream and the bytes read but not yet used.
pub(crate) struct Peer {
    /// `None` only while a TLS upgrade is in progress (or after it failed).
    stream: Option<ProxyStream>,
    pub(crate) buffer: Vec<u8>,
    /// The server's `host:port` when this is the connection to the server (its I/O errors
    /// are [`Interrupt::ServerIo`]).
    server: Option<String>,
    /// The client's side: how long it may take to send its next command, counted from the
    /// proxy's last reply (a client sending one byte at a time never completes one).
    idle: Option<(std::time::Duration, Instant)>,
}

impl Peer {
    /// The client's side.
    pub(crate) fn new(stream: ProxyStream) -> Self {
        Peer {
            stream: Some(stream),
            buffer: Vec::new(),
            server: None,
            idle: None,
        }
    }

    /// The client's side, closed when it sends no complete command within `idle`.
    pub(crate) fn client(stream: ProxyStream, idle: Option<std::time::Duration>) -> Self {
        Peer {
            idle: idle.map(|idle| (idle, Instant::now())),
            ..Peer::new(stream)
        }
    }

    /// The side of the server at `host:port`.
    pub(crate) fn upstream(stream: ProxyStream, server: String) -> Self {
        Peer {
            server: Some(server),
            ..Peer::new(stream)
        }
    }

    /// A peer without a stream, left behind when the stream is handed to the relay.
    pub(crate) fn placeholder() -> Self {
        Peer {
            stream: None,
            buffer: Vec::new(),
            server: None,
            idle: None,
        }
    }

    /// The interrupt for an I/O error on this side.
    fn failed(&self, error: io::Error) -> Interrupt {
        if self.server.is_some() {
            Interrupt::ServerIo(error)
        } else {
            Interrupt::Io(error)
        }
    }

    /// The stream, or an error after a failed upgrade.
    pub(crate) fn stream(&mut self) -> io::Result<&mut ProxyStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "TLS upgrade failed"))
    }

    /// Whether the connection is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(ProxyStream::is_tls)
    }

    /// Takes the stream out (for the hand-off to the relay).
    pub(crate) fn into_stream(self) -> io::Result<ProxyStream> {
        self.stream
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "TLS upgrade failed"))
    }

    /// Takes the stream out for an upgrade; refuses when unread bytes are buffered (they
    /// were sent in plain text after STARTTLS and must not be trusted).
    fn take_for_upgrade(&mut self) -> Result<ProxyStream, Interrupt> {
        if !self.buffer.is_empty() {
            return Err(Interrupt::Protocol(
                "data sent after STARTTLS before the TLS handshake".to_owned(),
            ));
        }
        Ok(self
            .stream
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "TLS upgrade failed"))?)
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream. On the client's side the
    /// wait ends with [`Interrupt::Idle`] when the client has been idle too long.
    pub(crate) async fn read_more(&mut self, guard: &mut Guard) -> Result<usize, Interrupt> {
        let mut chunk = [0u8; 8192];
        let idle = self.idle;
        let stream = self.stream()?;
        let read = match idle {
            Some((limit, since)) => {
                guard
                    .run_until(
                        since + limit,
                        Interrupt::Idle(limit),
                        stream.read(&mut chunk),
                    )
                    .await?
            }
            None => guard.run(stream.read(&mut chunk)).await?,
        };
        let n = read.map_err(|error| self.failed(error))?;
        self.buffer
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(n)
    }

    /// [`Peer::read_more`], or `None` once `deadline` (a session machine's) has passed.
    pub(crate) async fn read_more_until(
        &mut self,
        guard: &mut Guard,
        deadline: Option<std::time::Instant>,
    ) -> Result<Option<usize>, Interrupt> {
        let Some(deadline) = deadline.map(Instant::from_std) else {
            return self.read_more(guard).await.map(Some);
        };
        tokio::select! {
            read = self.read_more(guard) => read.map(Some),
            () = tokio::time::sleep_until(deadline) => Ok(None),
        }
    }

    /// Whether the peer closed the connection, failed or sent something since it was last
    /// read, looked at without waiting. Bytes it sent are dropped: this is for a connection
    /// that should have stayed silent and is given up when it did not.
    pub(crate) fn closed_or_spoke(&mut self) -> bool {
        let Some(stream) = self.stream.as_mut() else {
            return true;
        };
        let mut chunk = [0u8; 512];
        let mut buf = tokio::io::ReadBuf::new(&mut chunk);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::pin::Pin::new(stream)
            .poll_read(&mut cx, &mut buf)
            .is_ready()
    }

    /// Writes all of `bytes` and flushes. On the client's side a reply restarts the idle time.
    pub(crate) async fn send(&mut self, bytes: &[u8], guard: &mut Guard) -> Result<(), Interrupt> {
        if let Some((_, since)) = &mut self.idle {
            *since = Instant::now();
        }
        let stream = self.stream()?;
        let written = guard
            .run(async {
                stream.write_all(bytes).await?;
                stream.flush().await
            })
            .await?;
        written.map_err(|error| self.failed(error))
    }

    /// Takes everything buffered.
    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    /// Runs `work` (a wait on the server or the token store) while watching this client: bytes
    /// it sends meanwhile are kept in the buffer (up to [`MAX_LINE`]), and when it closes the
    /// connection or it fails, `work` is dropped at once (cancelling a connection attempt, a
    /// TLS handshake or the session's interest in a token request) and the session ends.
    pub(crate) async fn watching<T>(
        &mut self,
        work: impl Future<Output = Result<T, Interrupt>>,
    ) -> Result<T, Interrupt> {
        let mut work = std::pin::pin!(work);
        let mut chunk = [0u8; 4096];
        loop {
            let room = self.buffer.len() < MAX_LINE;
            let Some(stream) = self.stream.as_mut().filter(|_| room) else {
                return work.await;
            };
            tokio::select! {
                biased;
                output = &mut work => return output,
                read = stream.read(&mut chunk) => match read {
                    Ok(0) => return Err(Interrupt::ClientClosed),
                    Ok(n) => self.buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                    Err(error) => return Err(Interrupt::Io(error)),
                },
            }
        }
    }
}

/// Runs a session to its end; never fails outward (everything is logged).
pub(crate) async fn run(context: SessionContext, tcp: TcpStream) {
    // The steps before login hold far more state than the relay (parsers, TLS handshakes,
    // read buffers: some 13 KB). They run in an allocation of their own, freed when the relay
    // starts, so that an idle authenticated session keeps only the relay's small state.
    let handoff = Box::pin(before_login(&context, tcp)).await;
    if let Some(handoff) = handoff {
        relay_session(&context, handoff).await;
    }
}

/// Runs a session up to login: the hand-off to the relay, or `None` when it ended (logged, and
/// the client told when that helps).
async fn before_login(context: &SessionContext, tcp: TcpStream) -> Option<Handoff> {
    let _ = tcp.set_nodelay(true);
    let label = context.label();
    let mut guard = Guard::new(
        Instant::now() + context.listener.spec.pre_auth_timeout,
        context.shutdown.clone(),
    );
    let mut client = ProxyStream::Plain(tcp);
    if let LocalTls::Implicit(config) = &context.listener.local_tls {
        client = match guard.run(client.accept_tls(config.clone())).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::info!(
                    "{label} Client TLS handshake failed: {error} - is the client using a secure connection?"
                );
                return None;
            }
            Err(_) => return None,
        };
    }
    let mut client = Peer::client(client, context.listener.spec.client_idle_timeout);
    let outcome = match context.protocol() {
        Protocol::Imap => driver::pre_auth::<imap::Imap>(context, &mut client, &mut guard).await,
        Protocol::Pop => driver::pre_auth::<pop3::Pop3>(context, &mut client, &mut guard).await,
        Protocol::Smtp => driver::pre_auth::<smtp::Smtp>(context, &mut client, &mut guard).await,
    };
    match outcome {
        Ok(handoff) => Some(handoff),
        Err(interrupt) => {
            end_before_login(context, &mut client, interrupt).await;
            None
        }
    }
}

/// Logs why a session ended before login and tells the client when that helps.
async fn end_before_login(context: &SessionContext, client: &mut Peer, interrupt: Interrupt) {
    let label = context.label();
    let protocol = context.protocol();
    let line = match &interrupt {
        Interrupt::Timeout => {
            tracing::info!(
                "{label} Closing connection from {}: no login within the pre-authentication timeout",
                context.peer
            );
            Some(protocol.refusal("Timed out waiting for authentication"))
        }
        Interrupt::Idle(limit) => {
            tracing::info!(
                "{label} Closing connection from {}: no command within {} s before login \
                 (client_idle_timeout)",
                context.peer,
                limit.as_secs_f64()
            );
            Some(protocol.idle_goodbye().to_vec())
        }
        Interrupt::UpstreamTimeout(step, limit) => {
            context.stats.counters.upstream_failed(match step {
                UpstreamStep::Connect => UpstreamFailure::Connect,
                UpstreamStep::Tls => UpstreamFailure::Tls,
                UpstreamStep::Greeting => UpstreamFailure::Greeting,
            });
            let server = context.listener.spec.server_host_port();
            let seconds = limit.as_secs_f64();
            tracing::error!(
                "{label} Timed out after {seconds} s {} the server {server} ({}); refusing the \
                 connection from {}",
                step.waiting_for(),
                step.key(),
                context.peer
            );
            Some(protocol.refusal(&format!(
                "Timed out after {seconds} s {} the server {server}",
                step.waiting_for()
            )))
        }
        Interrupt::Limit(limit) => {
            context.stats.counters.refused();
            let text = format!("{} {limit}", context.listener.spec.describe());
            tracing::warn!("{text} (connection from {})", context.peer);
            Some(protocol.refusal(&text))
        }
        Interrupt::Shutdown => Some(protocol.goodbye().to_vec()),
        Interrupt::ClientClosed => {
            tracing::debug!("{label} Client disconnected before login");
            None
        }
        Interrupt::ServerClosed => {
            let server = context.listener.spec.server_host_port();
            tracing::info!("{label} The server {server} closed the connection before login");
            Some(protocol.refusal(&format!("The server {server} closed the connection")))
        }
        Interrupt::Io(error) => {
            tracing::info!("{label} Connection error before login: {error}");
            None
        }
        Interrupt::ServerIo(error) => {
            let server = context.listener.spec.server_host_port();
            let cause = io_cause(error);
            tracing::error!(
                "{label} Lost the connection to the server {server} before login: {cause}"
            );
            Some(protocol.refusal(&format!(
                "Lost the connection to the server {server}: {cause}"
            )))
        }
        Interrupt::Protocol(text) => {
            tracing::info!("{label} Closing connection: {text}");
            Some(protocol.refusal(text))
        }
        Interrupt::ServerRefused(reply) => {
            let server = context.listener.spec.server_host_port();
            tracing::info!(
                "{label} The server {server} refused the connection: {}",
                reply.trim_ascii_end().escape_ascii()
            );
            Some(reply.clone())
        }
    };
    if let Some(line) = line {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            if let Ok(stream) = client.stream() {
                let _ = stream.write_all(&line).await;
                let _ = stream.shutdown().await;
            }
        })
        .await;
    }
}

/// A short, stable description of a connection error (no OS error numbers).
fn io_cause(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "connection reset by the server".to_owned(),
        io::ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        io::ErrorKind::BrokenPipe => "the server closed the connection".to_owned(),
        io::ErrorKind::UnexpectedEof => {
            "the server closed the connection without ending TLS properly".to_owned()
        }
        io::ErrorKind::TimedOut => "the connection timed out".to_owned(),
        _ => error.to_string(),
    }
}

/// What a client is told when the server's first line is not a greeting of the protocol: the
/// server's name and a bounded, escaped prefix of what it sent.
pub(crate) fn not_a_greeting(context: &SessionContext, line: &[u8]) -> Interrupt {
    const SHOWN: usize = 40;
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let shown = line.get(..SHOWN).unwrap_or(line);
    Interrupt::Protocol(format!(
        "the server {} sent a greeting that is not {}: \"{}\"{}",
        context.listener.spec.server_host_port(),
        match context.protocol() {
            Protocol::Imap => "IMAP",
            Protocol::Pop => "POP3",
            Protocol::Smtp => "SMTP",
        },
        shown.escape_ascii(),
        if shown.len() < line.len() {
            " [...]"
        } else {
            ""
        }
    ))
}

/// Relays an authenticated session and logs its end.
async fn relay_session(context: &SessionContext, handoff: Handoff) {
    let label = format!(
        "{} ({}; {})",
        context.protocol(),
        context.listener.spec.bind_address(),
        handoff.account
    );
    let Handoff {
        mut client,
        mut server,
        to_server,
        to_client,
        ..
    } = handoff;
    let meter = Arc::new(RelayMeter::default());
    let result = relay::relay(
        &mut client,
        &mut server,
        &to_server,
        &to_client,
        context.listener.spec.relay_config(),
        meter.clone(),
        context.shutdown.clone(),
    )
    .await;
    context
        .stats
        .counters
        .relayed(meter.client_read(), meter.server_read());
    let totals = format!(
        "{} bytes from client, {} bytes from server",
        meter.client_read(),
        meter.server_read()
    );
    match result {
        Ok(RelayEnd::Closed) => tracing::debug!("{label} Session closed ({totals})"),
        Ok(RelayEnd::Idle) => {
            tracing::info!("{label} Closing idle session ({totals})");
            let _ = client.shutdown().await;
        }
        Ok(RelayEnd::Shutdown) => {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                let _ = client.write_all(context.protocol().goodbye()).await;
                let _ = client.shutdown().await;
            })
            .await;
        }
        Err(error) => {
            tracing::info!("{label} Session ended with a connection error: {error} ({totals})")
        }
    }
}

/// Connects to the upstream server; implicit TLS unless `server_starttls` is set.
pub(crate) async fn connect_upstream(
    context: &SessionContext,
    guard: &mut Guard,
) -> Result<Peer, Interrupt> {
    let spec = &context.listener.spec;
    let label = context.label();
    guard.begin_upstream(context)?;
    guard.begin_step(context, UpstreamStep::Connect);
    let tcp = match guard
        .run(TcpStream::connect((
            spec.server_address.as_str(),
            spec.server_port,
        )))
        .await?
    {
        Ok(tcp) => tcp,
        Err(error) => {
            context
                .stats
                .counters
                .upstream_failed(UpstreamFailure::Connect);
            tracing::error!(
                "{label} Unable to connect to {}: {error}",
                spec.server_host_port()
            );
            return Err(Interrupt::Protocol(format!(
                "Unable to connect to the server {}",
                spec.server_host_port()
            )));
        }
    };
    let _ = tcp.set_nodelay(true);
    let mut server = Peer::upstream(ProxyStream::Plain(tcp), spec.server_host_port());
    if !spec.server_starttls {
        upstream_tls(context, &mut server, guard).await?;
    }
    // The greeting, and what each protocol asks before greeting the client, come next; the
    // protocol calls `Guard::upstream_ready` when the connection is ready.
    guard.begin_step(context, UpstreamStep::Greeting);
    Ok(server)
}

/// Performs the verified TLS handshake with the upstream (implicit TLS, or after the server
/// accepted STARTTLS/STLS).
pub(crate) async fn upstream_tls(
    context: &SessionContext,
    server: &mut Peer,
    guard: &mut Guard,
) -> Result<(), Interrupt> {
    let prepared = &context.listener;
    let stream = server.take_for_upgrade()?;
    guard.begin_step(context, UpstreamStep::Tls);
    let handshake = guard
        .run(stream.connect_tls(prepared.upstream_tls.clone(), prepared.server_name.clone()))
        .await?;
    guard.begin_step(context, UpstreamStep::Greeting);
    match handshake {
        Ok(tls) => {
            tracing::debug!(
                "{} <-> [ TLS handshake complete with {}: {} ]",
                context.label(),
                prepared.spec.server_host_port(),
                tls.tls_summary()
                    .map_or_else(|| "TLS".to_owned(), |summary| summary.to_string())
            );
            server.stream = Some(tls);
            Ok(())
        }
        Err(error) => {
            context.stats.counters.upstream_failed(UpstreamFailure::Tls);
            let server = prepared.spec.server_host_port();
            let reason = match &error {
                UpgradeError::Handshake(error) => explain_handshake_failure(
                    error,
                    UpstreamEndpoint {
                        section: &prepared.spec.section,
                        server: &server,
                        ca_file: prepared.spec.server_ca_file.as_deref(),
                    },
                ),
                other => other.to_string(),
            };
            tracing::error!(
                "{} TLS connection to {server} failed: {reason}",
                context.label(),
            );
            // The client is told why (an untrusted, expired or wrong-host certificate).
            Err(Interrupt::Protocol(format!(
                "Secure connection to the server {server} failed: {reason}"
            )))
        }
    }
}

/// Whether the listener offers STARTTLS/STLS to a client on this connection.
pub(crate) fn offers_starttls(context: &SessionContext, client: &Peer) -> bool {
    matches!(context.listener.local_tls, LocalTls::StartTls(_)) && !client.is_tls()
}

/// Upgrades the client side after the proxy accepted STARTTLS/STLS. Bytes the client sent
/// after the command and before the handshake are refused (command injection).
pub(crate) async fn client_starttls(
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<(), Interrupt> {
    let LocalTls::StartTls(config) = &context.listener.local_tls else {
        return Err(Interrupt::Protocol("STARTTLS is not available".to_owned()));
    };
    let stream = client.take_for_upgrade()?;
    match guard.run(stream.accept_tls(config.clone())).await? {
        Ok(tls) => {
            client.stream = Some(tls);
            Ok(())
        }
        Err(error) => Err(Interrupt::Io(io::Error::other(error))),
    }
}

/// Asks the authenticator for the upstream credentials of a client login. `Ok(Err(rejected))`
/// is a refusal to show the client.
pub(crate) async fn obtain_token(
    context: &SessionContext,
    credentials: &mailgate_sasl::Credentials,
    guard: &mut Guard,
) -> Result<Result<crate::login::UpstreamCredentials, LoginRejected>, Interrupt> {
    let username = credentials.username.as_str();
    if username.is_empty() || credentials.password.expose().is_empty() {
        tracing::error!(
            "{} No username or password provided - aborting login",
            context.label()
        );
        return Ok(Err(LoginRejected::new(format!(
            "Login failed - no password provided for account {username}"
        ))));
    }
    let result = guard
        .run(
            context
                .authenticator
                .authenticate(username, &credentials.password),
        )
        .await?;
    match result {
        Ok(upstream) => Ok(Ok(upstream)),
        Err(rejected) => {
            tracing::error!("{} {}", context.label(), rejected.message);
            context.stats.counters.login(if rejected.temporary {
                LoginOutcome::Unavailable
            } else {
                LoginOutcome::Rejected
            });
            Ok(Err(rejected))
        }
    }
}

/// The SASL exchange for the upstream login with `credentials`; `offers` tells which of
/// XOAUTH2 and OAUTHBEARER the server advertised, when known.
pub(crate) fn upstream_exchange(
    context: &SessionContext,
    credentials: crate::login::UpstreamCredentials,
    offers: Option<(bool, bool)>,
) -> mailgate_sasl::ClientExchange {
    let spec = &context.listener.spec;
    match credentials.mechanism.choose(offers) {
        mailgate_sasl::Mechanism::OAuthBearer => mailgate_sasl::ClientExchange::oauthbearer(
            &credentials.username,
            Some(spec.server_address.as_str()),
            Some(spec.server_port),
            credentials.access_token,
        ),
        _ => {
            mailgate_sasl::ClientExchange::xoauth2(&credentials.username, credentials.access_token)
        }
    }
}

/// Logs an upstream login refused by the server for `account` and counts it.
pub(crate) fn log_upstream_refused(context: &SessionContext, account: &str, text: &str) {
    context.stats.counters.login(LoginOutcome::UpstreamRefused);
    tracing::error!(
        "{} Upstream login failed for account {account}: {text}",
        context.label()
    );
}

/// Logs a successful upstream login.
pub(crate) fn log_authenticated(context: &SessionContext, account: &str) {
    context.stats.counters.login(LoginOutcome::Success);
    // From here on every event of the session carries the account as a field.
    tracing::Span::current().record("account", tracing::field::display(account));
    tracing::info!(
        "{} ({}; {}) [ Successfully authenticated {} connection - releasing session ]",
        context.protocol(),
        context.listener.spec.bind_address(),
        account,
        context.protocol()
    );
}

/// Logs a pre-authentication protocol line at debug level, if it is not secret. Lines are
/// shown as escaped text, cut at 512 bytes.
pub(crate) fn trace_line(context: &SessionContext, arrow: &str, bytes: &[u8]) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let shown = bytes.get(..512).unwrap_or(bytes);
        tracing::debug!(
            "{} {arrow} {}{}",
            context.label(),
            shown.escape_ascii(),
            if shown.len() < bytes.len() {
                " [...]"
            } else {
                ""
            }
        );
    }
}
