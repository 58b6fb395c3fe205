//! SMTP before login: the client talks to `mailgate-smtp`'s server session (EHLO with
//! `AUTH PLAIN LOGIN`, local STARTTLS, AUTH PLAIN/LOGIN, pipelining), the upstream to its
//! client session (EHLO, STARTTLS when `server_starttls`, AUTH XOAUTH2/OAUTHBEARER).

use std::time::Instant;

use mailgate_smtp::{
    ClientConfig, ClientError, ClientEvent, ClientSession, EnhancedStatus, Reply, ServerConfig,
    ServerEvent, ServerSession,
};

use super::{
    Guard, Handoff, Interrupt, Peer, SessionContext, UpstreamStep, client_starttls,
    connect_upstream, log_authenticated, log_upstream_refused, not_a_greeting, obtain_token,
    offers_starttls, trace_line, upstream_exchange, upstream_tls,
};

/// The upstream connection and its session machine.
struct Upstream {
    peer: Peer,
    session: ClientSession,
}

/// Drives the upstream session until it reports something other than I/O to do.
async fn drive(
    context: &SessionContext,
    upstream: &mut Upstream,
    guard: &mut Guard,
) -> Result<ClientEvent, Interrupt> {
    loop {
        while let Some(event) = upstream.session.poll_event() {
            match event {
                ClientEvent::Send(bytes) => {
                    trace_line(context, "    -->", &bytes);
                    upstream.peer.send(&bytes, guard).await?;
                }
                ClientEvent::SendSecret(bytes) => {
                    tracing::debug!("{}     --> [ credentials ]", context.label());
                    upstream.peer.send(bytes.expose(), guard).await?;
                }
                ClientEvent::StartTls => {
                    upstream_tls(context, &mut upstream.peer, guard).await?;
                    upstream.session.tls_established(Instant::now());
                }
                other => return Ok(other),
            }
        }
        if upstream.peer.read_more(guard).await? == 0 {
            return Err(Interrupt::ServerClosed);
        }
        let bytes = upstream.peer.take_buffer();
        trace_line(context, "    <--", &bytes);
        upstream.session.receive(&bytes, Instant::now());
    }
}

/// Runs a fresh upstream session (whose greeting is in `peer`'s buffer or still to come)
/// until it is ready to authenticate; returns it with the server's EHLO capabilities.
async fn start_session(
    context: &SessionContext,
    peer: Peer,
    client_domain: &str,
    guard: &mut Guard,
) -> Result<(Upstream, mailgate_smtp::EhloReply), Interrupt> {
    // EHLO, STARTTLS and EHLO again answer within `server_greeting_timeout`.
    guard.begin_step(context, UpstreamStep::Greeting);
    let mut config = ClientConfig::new(client_domain);
    config.starttls = context.listener.spec.server_starttls;
    let mut upstream = Upstream {
        peer,
        session: ClientSession::new(config, Instant::now()),
    };
    let buffered = upstream.peer.take_buffer();
    if !buffered.is_empty() {
        upstream.session.receive(&buffered, Instant::now());
    }
    let mut capabilities = None;
    loop {
        match drive(context, &mut upstream, guard).await? {
            ClientEvent::Capabilities(ehlo) => capabilities = Some(ehlo),
            ClientEvent::NeedAuthentication => {
                let ehlo = capabilities
                    .or_else(|| upstream.session.capabilities().cloned())
                    .unwrap_or_else(|| mailgate_smtp::EhloReply::new(client_domain));
                guard.upstream_ready();
                return Ok((upstream, ehlo));
            }
            ClientEvent::Failed(error) => {
                tracing::error!("{} Upstream SMTP server: {error}", context.label());
                return Err(Interrupt::Protocol(format!("Server error: {error}")));
            }
            other => {
                return Err(Interrupt::Protocol(format!(
                    "unexpected upstream event {other:?}"
                )));
            }
        }
    }
}

/// Reads the upstream greeting (all its lines) into `server`'s buffer without consuming
/// it; returns the first line's domain and text, or the whole reply when it is a refusal.
async fn peek_greeting(
    server: &mut Peer,
    guard: &mut Guard,
) -> Result<Result<(String, String), Vec<u8>>, Interrupt> {
    let mut lines = Vec::new();
    loop {
        let line = server.line(guard, || Interrupt::ServerClosed).await?;
        let last = line.get(3) != Some(&b'-');
        lines.push(line);
        if last {
            break;
        }
    }
    let all: Vec<u8> = lines.concat();
    let first = lines.first().cloned().unwrap_or_default();
    let mut rest = all.clone();
    rest.extend(server.take_buffer());
    server.buffer = rest;
    if !first.starts_with(b"220") {
        return Ok(Err(all));
    }
    let text = String::from_utf8_lossy(first.get(4..).unwrap_or_default())
        .trim_end()
        .to_owned();
    let (domain, greeting) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    Ok(Ok((domain.to_owned(), greeting.to_owned())))
}

/// Whether `reply` is an SMTP refusal worth passing on: `4xx`/`5xx` lines of printable text.
fn is_refusal(reply: &[u8]) -> bool {
    reply.split_inclusive(|&b| b == b'\n').all(|line| {
        let code = line.get(..3).unwrap_or_default();
        matches!(code.first(), Some(b'4' | b'5'))
            && code.iter().all(u8::is_ascii_digit)
            && matches!(line.get(3), Some(b' ' | b'-' | b'\r' | b'\n'))
            && line
                .iter()
                .all(|&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    })
}

pub(crate) async fn pre_auth(
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<Handoff, Interrupt> {
    let (server, greeting) = client
        .watching(async {
            let mut server = connect_upstream(context, guard).await?;
            let greeting = peek_greeting(&mut server, guard).await?;
            guard.upstream_ready();
            Ok((server, greeting))
        })
        .await?;
    let (domain, greeting) = match greeting {
        Ok(greeting) => greeting,
        Err(refusal) if !is_refusal(&refusal) => {
            let first = refusal.split_inclusive(|&b| b == b'\n').next();
            return Err(not_a_greeting(context, first.unwrap_or_default()));
        }
        Err(refusal) => {
            trace_line(context, "<--", &refusal);
            client.send(&refusal, guard).await?;
            return Err(Interrupt::ClientClosed);
        }
    };
    // The connection waits, greeted, for the client's EHLO.
    let mut fresh = Some(server);
    let mut config = ServerConfig::new(if domain.is_empty() {
        "mailgate".to_owned()
    } else {
        domain
    });
    if !greeting.is_empty() {
        config.greeting = greeting;
    }
    config.starttls = offers_starttls(context, client);
    // Passwords never cross in clear text where TLS is on offer.
    config.require_tls_for_auth = config.starttls;
    config.tls_active = client.is_tls();
    let mut local = ServerSession::new(config, Instant::now());
    let mut upstream: Option<Upstream> = None;
    let mut client_domain = "localhost".to_owned();
    let mut account = String::new();
    let mut server_pending = Vec::new();
    loop {
        while let Some(event) = local.poll_event() {
            match event {
                ServerEvent::Send(bytes) => {
                    trace_line(context, "<--", &bytes);
                    client.send(&bytes, guard).await?;
                }
                ServerEvent::StartTls => {
                    client_starttls(context, client, guard).await?;
                    local.tls_established(Instant::now());
                }
                ServerEvent::NeedCapabilities {
                    client_domain: domain,
                } => {
                    if !domain.is_empty() {
                        client_domain = domain;
                    }
                    let ehlo = match &upstream {
                        Some(up) => up.session.capabilities().cloned(),
                        None => None,
                    };
                    let ehlo = match ehlo {
                        Some(ehlo) => ehlo,
                        None => {
                            let (up, ehlo) = client
                                .watching(async {
                                    let peer = match fresh.take() {
                                        Some(peer) => peer,
                                        None => connect_upstream(context, guard).await?,
                                    };
                                    start_session(context, peer, &client_domain, guard).await
                                })
                                .await?;
                            upstream = Some(up);
                            ehlo
                        }
                    };
                    local.set_capabilities(ehlo);
                }
                ServerEvent::Authenticate(credentials) => {
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
                        Err(rejected) if rejected.temporary => {
                            local.reject_auth(Some(Reply::new(
                                454,
                                EnhancedStatus::new(4, 7, 0),
                                format!("Temporary authentication failure. {}", rejected.message),
                            )));
                            continue;
                        }
                        Err(rejected) => {
                            local.reject_auth(Some(rejection(&rejected.message)));
                            continue;
                        }
                    };
                    let mut up = match upstream.take() {
                        Some(up) => up,
                        None => {
                            client
                                .watching(async {
                                    let peer = match fresh.take() {
                                        Some(peer) => peer,
                                        None => connect_upstream(context, guard).await?,
                                    };
                                    start_session(context, peer, &client_domain, guard).await
                                })
                                .await?
                                .0
                        }
                    };
                    let username = token.username.clone();
                    let offers = up.session.capabilities().map(|ehlo| {
                        (
                            ehlo.supports_auth("XOAUTH2"),
                            ehlo.supports_auth("OAUTHBEARER"),
                        )
                    });
                    up.session
                        .authenticate(upstream_exchange(context, token, offers), Instant::now());
                    match drive(context, &mut up, guard).await? {
                        ClientEvent::Authenticated => {
                            if let ClientEvent::HandOff { pending } =
                                drive(context, &mut up, guard).await?
                            {
                                server_pending = pending;
                            }
                            server_pending.extend(up.peer.take_buffer());
                            log_authenticated(context, &username);
                            account = username;
                            upstream = Some(up);
                            local.accept_auth();
                        }
                        ClientEvent::Failed(error) => {
                            let text = failure_text(&error);
                            log_upstream_refused(context, &username, &text);
                            if matches!(error, ClientError::AuthRejected { .. }) {
                                context
                                    .authenticator
                                    .token_rejected(&username, &credentials.password)
                                    .await;
                            }
                            local.reject_auth(Some(rejection(&text)));
                        }
                        other => {
                            return Err(Interrupt::Protocol(format!(
                                "unexpected upstream event {other:?}"
                            )));
                        }
                    }
                }
                ServerEvent::HandOff { pending } => {
                    let Some(up) = upstream.take() else {
                        return Err(Interrupt::ServerClosed);
                    };
                    let mut to_server = pending;
                    to_server.extend(client.take_buffer());
                    let client_peer = std::mem::replace(client, Peer::placeholder());
                    return Ok(Handoff {
                        client: client_peer.into_stream()?,
                        server: up.peer.into_stream()?,
                        to_server,
                        to_client: server_pending,
                        account,
                    });
                }
                ServerEvent::Close => return Err(Interrupt::ClientClosed),
                other => {
                    return Err(Interrupt::Protocol(format!(
                        "unexpected client event {other:?}"
                    )));
                }
            }
        }
        // Bytes may be buffered already (sent while the proxy waited on the server).
        if client.buffer.is_empty() && client.read_more(guard).await? == 0 {
            return Err(Interrupt::ClientClosed);
        }
        let bytes = client.take_buffer();
        local.receive(&bytes, Instant::now());
    }
}

/// `535 5.7.8 Authentication credentials invalid. <why>`
fn rejection(text: &str) -> Reply<'static> {
    Reply::new(
        535,
        EnhancedStatus::new(5, 7, 8),
        format!("Authentication credentials invalid. {text}"),
    )
}

/// The client-visible text of an upstream failure.
fn failure_text(error: &ClientError) -> String {
    match error {
        ClientError::AuthRejected {
            reply,
            provider_error: Some(provider),
        } => format!("{} ({provider})", reply.text()),
        ClientError::AuthRejected { reply, .. } => reply.text(),
        other => other.to_string(),
    }
}
