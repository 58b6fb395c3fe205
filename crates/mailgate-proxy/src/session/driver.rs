//! The one pre-authentication driver of the three protocols.
//!
//! It connects upstream and runs the upstream machine until the server has greeted, greets
//! the client through the local machine, and then answers the local machine's events: a
//! TLS upgrade, the upstream capabilities (SMTP's EHLO), a command to forward (IMAP's `ID`),
//! and the login: a token from the authenticator, the upstream login with it, and the
//! verdict for the client. After an accepted login both streams and the bytes each machine
//! received beyond the login go to the relay.
//!
//! Framing: the machines frame what they receive themselves (the IMAP framer, the POP3 and
//! SMTP line buffers, bounded by their limits) and hand back the bytes beyond the login in
//! their hand-off events, so the driver passes raw reads in and keeps no framing buffer of
//! its own; a `tokio_util` codec in front of them would frame every byte twice. Nothing of
//! it outlives the hand-off: the relay starts with the leftover bytes and its own pooled
//! buffers.
//!
//! Waits: every read and write runs under the session [`Guard`] (pre-authentication
//! deadline, the upstream step's limit, shutdown); a wait on the upstream machine also ends
//! at the machine's own `poll_timeout` (its reply deadline). The client's idle limit is the
//! proxy's (`client_idle_timeout`, restarted by each reply of the proxy, so that a client
//! sending one byte at a time is idle too), kept by [`Peer`]; the local machines' own idle
//! deadlines, restarted by every byte received, are switched off.
//!
//! What used to differ between the protocols is done the same way for all three: the token
//! is asked for before the upstream connection is used; an upstream connection that the
//! server closed (or spoke on) while the login waited, typically during an interactive
//! authorisation in a browser, is replaced by a fresh one, and a login that loses its
//! connection is tried once more on a new one; a token the server refused is dropped from
//! the store; and the connection after a refusal is kept only when the protocol allows
//! another login on it (IMAP).

use std::time::Instant;

use super::machine::{
    LocalEvent, LocalMachine, Machine, Machines, Transmit, UpstreamEvent, UpstreamFailure,
    UpstreamMachine,
};
use super::{
    Guard, Handoff, Interrupt, Peer, SessionContext, UpstreamStep, client_starttls,
    connect_upstream, log_authenticated, log_upstream_refused, not_a_greeting, obtain_token,
    offers_starttls, trace_line, upstream_tls,
};

/// The time the machines are given: tokio's clock (paused in tests), as a std instant.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// How many bytes of the server's first line are kept to quote when it is not a greeting.
const QUOTED: usize = 64;

/// The upstream connection and its machine.
struct Upstream<M> {
    peer: Peer,
    machine: M,
    /// The machine has accepted the greeting (it produced something other than a failure).
    greeted: bool,
    /// The start of the server's first line, quoted when it is not a greeting.
    first_line: Vec<u8>,
}

/// Runs the pre-authentication phase of protocol `P` on the client connection `client`.
pub(crate) async fn pre_auth<P: Machines>(
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<Handoff, Interrupt> {
    // The client's hello (SMTP EHLO domain), used again when the upstream is reconnected.
    let mut hello: Option<String> = None;
    let mut upstream = Some(client.watching(connect::<P>(context, guard, None)).await?);
    let mut local = match &upstream {
        Some(up) => P::local(
            context,
            &up.machine,
            client.is_tls(),
            offers_starttls(context, client),
            now(),
        ),
        None => return Err(Interrupt::ServerClosed),
    };
    let mut account = String::new();
    let mut to_client = Vec::new();
    loop {
        while let Some(transmit) = local.poll_transmit() {
            trace_line(context, "<--", transmit.bytes());
            client.send(transmit.bytes(), guard).await?;
        }
        let Some(event) = local.poll_event() else {
            // Bytes may be buffered already (sent while the proxy waited on the server).
            if client.buffer.is_empty() {
                match client.read_more_until(guard, local.poll_timeout()).await? {
                    Some(0) => return Err(Interrupt::ClientClosed),
                    Some(_) => {}
                    None => {
                        local.handle_timeout(now());
                        continue;
                    }
                }
            }
            let bytes = client.take_buffer();
            local.receive(&bytes, now());
            continue;
        };
        match event {
            LocalEvent::StartTls => {
                client_starttls(context, client, guard).await?;
                local.tls_established(now());
            }
            LocalEvent::NeedCapabilities { client_domain } => {
                if !client_domain.is_empty() {
                    hello = Some(client_domain);
                }
                let hello = hello.get_or_insert_with(|| "localhost".to_owned()).clone();
                let up = match upstream.take() {
                    Some(up) => up,
                    None => {
                        client
                            .watching(connect::<P>(context, guard, Some(&hello)))
                            .await?
                    }
                };
                let up = client
                    .watching(introduce(context, up, &hello, guard))
                    .await?;
                P::present(&mut local, &up.machine);
                upstream = Some(up);
            }
            LocalEvent::Forward(message) => {
                let mut up = match upstream.take() {
                    Some(up) => up,
                    None => {
                        client
                            .watching(connect::<P>(context, guard, hello.as_deref()))
                            .await?
                    }
                };
                trace_line(context, "-->", &message);
                up.machine.forward(&message, now());
                loop {
                    match drive(context, &mut up, guard).await? {
                        UpstreamEvent::Response { message, done } => {
                            local.forward_response(&message, now());
                            if done {
                                break;
                            }
                        }
                        other => return Err(unexpected(&other)),
                    }
                }
                upstream = Some(up);
            }
            LocalEvent::Login(credentials) => {
                tracing::debug!(
                    "{} --> [ login for account {} ]",
                    context.label(),
                    credentials.username
                );
                let token = match client
                    .watching(obtain_token(context, &credentials, guard))
                    .await?
                {
                    Ok(token) => token,
                    Err(rejected) => {
                        local.reject_login(&rejected.message, rejected.temporary, now());
                        continue;
                    }
                };
                let username = token.username.clone();
                let up = client
                    .watching(usable::<P>(
                        context,
                        upstream.take(),
                        hello.as_deref(),
                        guard,
                    ))
                    .await?;
                let (up, outcome) = client
                    .watching(login::<P>(
                        context,
                        &local,
                        up,
                        token,
                        hello.as_deref(),
                        guard,
                    ))
                    .await?;
                match outcome {
                    UpstreamEvent::Authenticated { response, buffered } => {
                        log_authenticated(context, &username);
                        account = username;
                        to_client = buffered;
                        local.accept_login(response);
                        upstream = Some(up);
                    }
                    UpstreamEvent::Rejected {
                        text,
                        token_refused,
                        reusable,
                    } => {
                        log_upstream_refused(context, &username, &text);
                        if token_refused {
                            context
                                .authenticator
                                .token_rejected(&username, &credentials.password)
                                .await;
                        }
                        local.reject_login(&text, false, now());
                        if reusable {
                            upstream = Some(up);
                        }
                    }
                    other => return Err(unexpected(&other)),
                }
            }
            LocalEvent::HandOff { pipelined } => {
                let Some(mut up) = upstream.take() else {
                    return Err(Interrupt::ServerClosed);
                };
                let mut to_server = pipelined;
                to_server.extend(client.take_buffer());
                to_client.extend(up.peer.take_buffer());
                let client_peer = std::mem::replace(client, Peer::placeholder());
                return Ok(Handoff {
                    client: client_peer.into_stream()?,
                    server: up.peer.into_stream()?,
                    to_server,
                    to_client,
                    account,
                });
            }
            LocalEvent::Invalid(text) => {
                return Err(Interrupt::Protocol(format!(
                    "client sent an invalid command: {text}"
                )));
            }
            LocalEvent::Closed(reason) => {
                tracing::debug!("{} Client session closed: {reason}", context.label());
                return Err(Interrupt::ClientClosed);
            }
        }
    }
}

/// Connects upstream and runs the machine until the server has greeted (and, given the
/// client's `hello`, until it is ready to log in).
async fn connect<P: Machines>(
    context: &SessionContext,
    guard: &mut Guard,
    hello: Option<&str>,
) -> Result<Upstream<P::Upstream>, Interrupt> {
    let peer = connect_upstream(context, guard).await?;
    let mut up = Upstream {
        peer,
        machine: P::upstream(context, now()),
        greeted: false,
        first_line: Vec::new(),
    };
    match drive(context, &mut up, guard).await? {
        UpstreamEvent::Ready => {}
        other => return Err(unexpected(&other)),
    }
    let up = match hello {
        Some(hello) => introduce(context, up, hello, guard).await?,
        None => up,
    };
    guard.upstream_ready();
    Ok(up)
}

/// Gives the machine the client's hello and waits until it is ready to log in (SMTP's
/// EHLO, STARTTLS and EHLO again, each within `server_greeting_timeout`).
async fn introduce<M: UpstreamMachine>(
    context: &SessionContext,
    mut up: Upstream<M>,
    hello: &str,
    guard: &mut Guard,
) -> Result<Upstream<M>, Interrupt> {
    if up.machine.introduce(hello, now()) {
        guard.begin_step(context, UpstreamStep::Greeting);
        match drive(context, &mut up, guard).await? {
            UpstreamEvent::Ready => {}
            other => return Err(unexpected(&other)),
        }
        guard.upstream_ready();
    }
    Ok(up)
}

/// The upstream connection to log in on: the one kept since the greeting, unless the server
/// closed it or spoke on it meanwhile (an idle timeout during a long authorisation), else a
/// new one.
async fn usable<P: Machines>(
    context: &SessionContext,
    upstream: Option<Upstream<P::Upstream>>,
    hello: Option<&str>,
    guard: &mut Guard,
) -> Result<Upstream<P::Upstream>, Interrupt> {
    if let Some(mut up) = upstream {
        if !up.peer.closed_or_spoke() {
            return Ok(up);
        }
        tracing::info!(
            "{} The server closed the connection while the login waited; reconnecting",
            context.label()
        );
    }
    connect::<P>(context, guard, hello).await
}

/// Logs in upstream with `token`; a connection lost on the way is replaced once. Returns
/// the connection used and the machine's verdict.
async fn login<P: Machines>(
    context: &SessionContext,
    local: &P::Local,
    mut up: Upstream<P::Upstream>,
    token: crate::login::UpstreamCredentials,
    hello: Option<&str>,
    guard: &mut Guard,
) -> Result<(Upstream<P::Upstream>, UpstreamEvent), Interrupt> {
    P::authenticate(context, local, &mut up.machine, token.clone(), now());
    match drive(context, &mut up, guard).await {
        Err(Interrupt::ServerIo(_) | Interrupt::ServerClosed) => {
            tracing::info!(
                "{} The server closed the connection while the login waited; reconnecting",
                context.label()
            );
            let mut up = connect::<P>(context, guard, hello).await?;
            P::authenticate(context, local, &mut up.machine, token, now());
            let outcome = drive(context, &mut up, guard).await?;
            Ok((up, outcome))
        }
        outcome => Ok((up, outcome?)),
    }
}

/// Runs the upstream machine (writes, TLS upgrades, reads) until it reports an event.
async fn drive<M: UpstreamMachine>(
    context: &SessionContext,
    up: &mut Upstream<M>,
    guard: &mut Guard,
) -> Result<UpstreamEvent, Interrupt> {
    loop {
        while let Some(transmit) = up.machine.poll_transmit() {
            up.greeted = true;
            match &transmit {
                Transmit::Plain(bytes) => trace_line(context, "    -->", bytes),
                Transmit::Secret(_) => {
                    tracing::debug!("{}     --> [ credentials ]", context.label());
                }
            }
            up.peer.send(transmit.bytes(), guard).await?;
        }
        match up.machine.poll_event() {
            Some(UpstreamEvent::StartTls) => {
                upstream_tls(context, &mut up.peer, guard).await?;
                up.machine.tls_established(now());
            }
            Some(UpstreamEvent::Failed(failure)) => return Err(failed(context, up, failure)),
            Some(event) => {
                up.greeted = true;
                return Ok(event);
            }
            None => match up
                .peer
                .read_more_until(guard, up.machine.poll_timeout())
                .await?
            {
                Some(0) => return Err(Interrupt::ServerClosed),
                Some(_) => {
                    let bytes = up.peer.take_buffer();
                    trace_line(context, "    <--", &bytes);
                    if !up.greeted && !up.first_line.ends_with(b"\n") {
                        // Kept only to be quoted if the machine finds no greeting in it.
                        let end = bytes
                            .iter()
                            .position(|&b| b == b'\n')
                            .map_or(bytes.len(), |at| at + 1);
                        let room = QUOTED.saturating_sub(up.first_line.len());
                        let quoted = bytes.get(..end.min(room)).unwrap_or_default();
                        up.first_line.extend_from_slice(quoted);
                    }
                    up.machine.receive(&bytes, now());
                }
                None => up.machine.handle_timeout(now()),
            },
        }
    }
}

/// The interrupt for an upstream machine's failure.
fn failed<M>(context: &SessionContext, up: &Upstream<M>, failure: UpstreamFailure) -> Interrupt {
    let server = context.listener.spec.server_host_port();
    match failure {
        UpstreamFailure::Malformed(_) if !up.greeted => not_a_greeting(context, &up.first_line),
        UpstreamFailure::Malformed(what) => Interrupt::Protocol(format!(
            "the server {server} sent an invalid response: {what}"
        )),
        UpstreamFailure::PassOn(reply) => Interrupt::ServerRefused(reply),
        UpstreamFailure::Timeout if !up.greeted => {
            Interrupt::Protocol(format!("the server {server} sent no greeting in time"))
        }
        UpstreamFailure::Timeout => {
            Interrupt::Protocol(format!("the server {server} did not answer in time"))
        }
        UpstreamFailure::Other(text) => {
            tracing::error!("{} Upstream server {server}: {text}", context.label());
            Interrupt::Protocol(text)
        }
    }
}

/// An event the driver did not ask for at this point.
fn unexpected(event: &UpstreamEvent) -> Interrupt {
    Interrupt::Protocol(format!("unexpected upstream event {event:?}"))
}
