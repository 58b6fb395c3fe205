//! POP3 before login: the client talks to `mailgate-pop3`'s server session (USER/PASS,
//! AUTH PLAIN/LOGIN, CAPA, STLS), the upstream to its client session (CAPA, STLS,
//! AUTH XOAUTH2/OAUTHBEARER).

use mailgate_pop3::{
    ClientConfig, ClientEvent, ClientFailure, ClientSession, ServerConfig, ServerEvent,
    ServerSession,
};

use super::{
    Guard, Handoff, Interrupt, Peer, SessionContext, client_starttls, connect_upstream,
    log_authenticated, log_upstream_refused, not_a_greeting, obtain_token, offers_starttls,
    trace_line, upstream_exchange, upstream_tls,
};

/// The upstream connection and its session machine.
struct Upstream {
    peer: Peer,
    session: ClientSession,
}

/// Drives the upstream session until it needs credentials, has logged in or failed.
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
                    upstream.session.tls_established();
                }
                other => return Ok(other),
            }
        }
        if upstream.peer.read_more(guard).await? == 0 {
            return Err(Interrupt::ServerClosed);
        }
        let bytes = upstream.peer.take_buffer();
        trace_line(context, "    <--", &bytes);
        upstream.session.receive(&bytes);
    }
}

/// Connects upstream and runs its session up to the point where it needs credentials.
#[allow(clippy::field_reassign_with_default)] // the config is non-exhaustive
async fn connect(context: &SessionContext, guard: &mut Guard) -> Result<Upstream, Interrupt> {
    let mut peer = connect_upstream(context, guard).await?;
    let greeting = peer.line(guard, || Interrupt::ServerClosed).await?;
    trace_line(context, "    <--", &greeting);
    if !(greeting.starts_with(b"+OK") || greeting.starts_with(b"-ERR")) {
        return Err(not_a_greeting(context, &greeting));
    }
    let mut config = ClientConfig::default();
    config.starttls = context.listener.spec.server_starttls;
    let mut upstream = Upstream {
        peer,
        session: ClientSession::new(config),
    };
    upstream.session.receive(&greeting);
    let rest = upstream.peer.take_buffer();
    if !rest.is_empty() {
        upstream.session.receive(&rest);
    }
    match drive(context, &mut upstream, guard).await? {
        ClientEvent::NeedCredentials => {
            guard.upstream_ready();
            Ok(upstream)
        }
        ClientEvent::Failed(failure) => {
            tracing::error!("{} Upstream POP3 server: {failure}", context.label());
            Err(Interrupt::Protocol(format!("Server error: {failure}")))
        }
        other => Err(Interrupt::Protocol(format!(
            "unexpected upstream event {other:?}"
        ))),
    }
}

#[allow(clippy::field_reassign_with_default)] // the config is non-exhaustive
pub(crate) async fn pre_auth(
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<Handoff, Interrupt> {
    let mut upstream = Some(client.watching(connect(context, guard)).await?);
    let (greeting, capabilities) = match &upstream {
        Some(up) => (
            up.session
                .greeting()
                .map(|g| g.text.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "POP3 server ready".to_owned()),
            up.session.capabilities().clone(),
        ),
        None => return Err(Interrupt::ServerClosed),
    };
    let mut config = ServerConfig::default();
    config.greeting = greeting;
    config.capabilities = capabilities;
    config.capabilities.remove("STLS");
    config.offer_stls = offers_starttls(context, client);
    // Passwords never cross in clear text where TLS is on offer.
    config.require_tls_for_auth = config.offer_stls;
    config.tls_active = client.is_tls();
    let mut local = ServerSession::new(config);
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
                    local.tls_established();
                }
                ServerEvent::Login(credentials) => {
                    tracing::debug!(
                        "{} --> [ login for account {} ]",
                        context.label(),
                        credentials.username
                    );
                    let mut up = match upstream.take() {
                        Some(up) => up,
                        None => client.watching(connect(context, guard)).await?,
                    };
                    let token = match client
                        .watching(obtain_token(context, &credentials, guard))
                        .await?
                    {
                        Ok(token) => token,
                        Err(rejected) if rejected.temporary => {
                            upstream = Some(up);
                            local.reject_login_temporarily(&format!(
                                "Temporary authentication failure. {}",
                                rejected.message
                            ));
                            continue;
                        }
                        Err(rejected) => {
                            upstream = Some(up);
                            local.reject_login(&format!(
                                "Authentication failed. {}",
                                rejected.message
                            ));
                            continue;
                        }
                    };
                    let username = token.username.clone();
                    let capabilities = up.session.capabilities();
                    let offers = Some((
                        capabilities.supports_sasl("XOAUTH2"),
                        capabilities.supports_sasl("OAUTHBEARER"),
                    ));
                    up.session
                        .authenticate(upstream_exchange(context, token, offers));
                    match drive(context, &mut up, guard).await? {
                        ClientEvent::Authenticated { buffered } => {
                            log_authenticated(context, &username);
                            account = username;
                            server_pending = buffered;
                            server_pending.extend(up.peer.take_buffer());
                            upstream = Some(up);
                            local.accept_login();
                        }
                        ClientEvent::Failed(failure) => {
                            let text = failure_text(&failure);
                            log_upstream_refused(context, &username, &text);
                            if matches!(failure, ClientFailure::AuthFailed { .. }) {
                                context
                                    .authenticator
                                    .token_rejected(&username, &credentials.password)
                                    .await;
                            }
                            local.reject_login(&format!("Authentication failed. {text}"));
                        }
                        other => {
                            return Err(Interrupt::Protocol(format!(
                                "unexpected upstream event {other:?}"
                            )));
                        }
                    }
                }
                ServerEvent::Authenticated { pipelined } => {
                    let Some(up) = upstream.take() else {
                        return Err(Interrupt::ServerClosed);
                    };
                    let mut to_server = pipelined;
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
                ServerEvent::Closed(reason) => {
                    tracing::debug!("{} Client session closed: {reason:?}", context.label());
                    return Err(Interrupt::ClientClosed);
                }
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
        local.receive(&bytes);
    }
}

/// The client-visible text of an upstream failure: the server's reply and the provider's
/// decoded error.
fn failure_text(failure: &ClientFailure) -> String {
    match failure {
        ClientFailure::AuthFailed {
            reply,
            provider_error: Some(error),
        } => format!("{} ({error})", reply.text),
        ClientFailure::AuthFailed { reply, .. } => reply.text.clone(),
        other => other.to_string(),
    }
}
