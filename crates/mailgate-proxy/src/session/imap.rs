//! IMAP before login.
//!
//! The upstream is asked for its capabilities (after STARTTLS when `server_starttls`); the
//! client gets a greeting of its own with those capabilities rewritten (`AUTH=PLAIN
//! AUTH=LOGIN SASL-IR`, no `LOGINDISABLED`; on a listener offering STARTTLS, `STARTTLS
//! LOGINDISABLED` and no `AUTH=` until the client has started TLS: `LOGIN` and
//! `AUTHENTICATE` are refused before, so passwords never cross in clear text).
//! Client commands are framed and parsed with `mailgate-imap`: `LOGIN` in every string form
//! (synchronising literals get their `+`), `AUTHENTICATE PLAIN`/`LOGIN` with or without
//! SASL-IR, `CAPABILITY`, `NOOP`, `LOGOUT`, `STARTTLS`, and `ID` (forwarded) are handled;
//! other commands are forwarded when they carry no literal. The upstream login runs with the
//! client's tag, so the server's tagged `OK` (with its post-login capabilities) reaches the
//! client unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mailgate_imap::framer::{Direction, Framer, FramerEvent};
use mailgate_imap::{Command, CommandBody, ParserConfig};
use mailgate_sasl::{ClientStep, Credentials, ServerExchange, ServerStep};

use super::{
    Guard, Handoff, Interrupt, Peer, SessionContext, client_starttls, connect_upstream,
    log_authenticated, log_upstream_refused, not_a_greeting, obtain_token, offers_starttls,
    trace_line, upstream_exchange, upstream_tls,
};

/// Largest literal a client may send before login (a user name or password).
const MAX_PRE_AUTH_LITERAL: u64 = 64 * 1024;

/// A framer plus the bytes it has not consumed yet, so that they can be handed to the relay.
struct Framed {
    framer: Framer,
    tail: Vec<u8>,
}

/// An owned framer event.
enum Event {
    Message(Vec<u8>),
    Continuation,
    Error { tag: Option<String>, text: String },
}

impl Framed {
    fn new(direction: Direction, config: ParserConfig) -> Self {
        Framed {
            framer: Framer::new(direction, config),
            tail: Vec::new(),
        }
    }

    fn push(&mut self, data: &[u8]) {
        self.framer.push(data);
        self.tail.extend_from_slice(data);
    }

    fn next(&mut self) -> Option<Event> {
        let event = match self.framer.next_event()? {
            FramerEvent::Message(message) => Event::Message(message.to_vec()),
            FramerEvent::ContinuationNeeded(_) => Event::Continuation,
            FramerEvent::Error { error, tag } => Event::Error {
                tag: tag.map(|t| t.as_str().to_owned()),
                text: error.to_string(),
            },
            _ => Event::Error {
                tag: None,
                text: "unexpected framing event".to_owned(),
            },
        };
        self.trim_tail();
        Some(event)
    }

    /// Forgets the bytes the framer has consumed.
    fn trim_tail(&mut self) {
        let keep = self.framer.buffered().min(self.tail.len());
        let cut = self.tail.len() - keep;
        self.tail.drain(..cut);
    }

    /// After [`Event::Continuation`]: drops the message whose synchronising literal the peer
    /// waits to send (see `Framer::refuse_literal`) and returns that message's tag.
    fn refuse_literal(&mut self) -> String {
        let tag = tag_of(&self.tail);
        self.framer.refuse_literal();
        self.trim_tail();
        tag
    }

    /// Bytes received that do not belong to a message returned yet.
    fn remaining(&self) -> Vec<u8> {
        let keep = self.framer.buffered().min(self.tail.len());
        self.tail
            .get(self.tail.len() - keep..)
            .unwrap_or_default()
            .to_vec()
    }
}

/// The upstream connection before login.
struct Upstream {
    peer: Peer,
    framed: Framed,
    capabilities: Vec<String>,
    greeting: String,
    next_tag: u32,
}

impl Upstream {
    /// Reads the next upstream message (a line with any literals).
    async fn message(
        &mut self,
        context: &SessionContext,
        guard: &mut Guard,
    ) -> Result<Vec<u8>, Interrupt> {
        loop {
            match self.framed.next() {
                Some(Event::Message(message)) => {
                    trace_line(context, "    <--", &message);
                    return Ok(message);
                }
                Some(Event::Error { text, .. }) => {
                    return Err(Interrupt::Protocol(format!(
                        "the server {} sent an invalid response: {text}",
                        context.listener.spec.server_host_port()
                    )));
                }
                Some(Event::Continuation) => {}
                None => {
                    if self.peer.read_more(guard).await? == 0 {
                        return Err(Interrupt::ServerClosed);
                    }
                    let bytes = self.peer.take_buffer();
                    self.framed.push(&bytes);
                }
            }
        }
    }

    /// Sends a command with a fresh internal tag and returns the untagged lines and the
    /// tagged completion.
    async fn command(
        &mut self,
        context: &SessionContext,
        text: &str,
        guard: &mut Guard,
    ) -> Result<(Vec<Vec<u8>>, Vec<u8>), Interrupt> {
        self.next_tag += 1;
        let tag = format!("mg{}", self.next_tag);
        let line = format!("{tag} {text}\r\n");
        trace_line(context, "    -->", line.as_bytes());
        self.peer.send(line.as_bytes(), guard).await?;
        let mut untagged = Vec::new();
        loop {
            let message = self.message(context, guard).await?;
            if message.starts_with(format!("{tag} ").as_bytes()) {
                return Ok((untagged, message));
            }
            untagged.push(message);
        }
    }
}

/// `text` after the status word (and response code) of a status line.
fn status_text(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    let mut words = text.splitn(3, ' ');
    let _tag = words.next();
    let _status = words.next();
    let rest = words.next().unwrap_or_default();
    match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((_, after)) => after.trim().to_owned(),
        None => rest.to_owned(),
    }
}

/// The status word of a status line (`OK`, `NO`, `BAD`, `PREAUTH`, `BYE`).
fn status_word(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .trim_end()
        .to_ascii_uppercase()
}

/// The capabilities in a `* CAPABILITY ...` line or a `[CAPABILITY ...]` code.
fn capabilities_in(line: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(line);
    let upper = text.to_ascii_uppercase();
    let list = if let Some(rest) = upper.strip_prefix("* CAPABILITY ") {
        text.get(text.len() - rest.len()..)?.trim_end().to_owned()
    } else {
        let start = upper.find("[CAPABILITY ")? + "[CAPABILITY ".len();
        let end = text.get(start..)?.find(']')? + start;
        text.get(start..end)?.to_owned()
    };
    Some(list.split_whitespace().map(str::to_owned).collect())
}

/// What the client is shown: the upstream's capabilities with authentication rewritten.
/// While STARTTLS is on offer, logins wait for it (`LOGINDISABLED`, no `AUTH=`).
pub(crate) fn rewrite_capabilities(upstream: &[String], offer_starttls: bool) -> Vec<String> {
    let mut out: Vec<String> = upstream
        .iter()
        .filter(|c| {
            let upper = c.to_ascii_uppercase();
            !(upper.starts_with("AUTH=")
                || upper == "LOGINDISABLED"
                || upper == "STARTTLS"
                || upper == "SASL-IR")
        })
        .cloned()
        .collect();
    if out.is_empty() {
        out.push("IMAP4rev1".to_owned());
    }
    if offer_starttls {
        out.extend(["STARTTLS", "LOGINDISABLED"].map(str::to_owned));
    } else {
        out.extend(["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"].map(str::to_owned));
    }
    out
}

/// The reply to `LOGIN` or `AUTHENTICATE` before STARTTLS on a listener that offers it.
const TLS_FIRST: &str =
    "[PRIVACYREQUIRED] Use STARTTLS first: this server does not accept passwords in clear text";

/// Connects upstream, upgrades with STARTTLS when configured, learns the capabilities.
async fn connect(context: &SessionContext, guard: &mut Guard) -> Result<Upstream, Interrupt> {
    let peer = connect_upstream(context, guard).await?;
    let mut upstream = Upstream {
        peer,
        framed: Framed::new(Direction::ServerToClient, ParserConfig::lenient()),
        capabilities: Vec::new(),
        greeting: String::new(),
        next_tag: 0,
    };
    let greeting = upstream.message(context, guard).await?;
    if !greeting.starts_with(b"* ") {
        return Err(not_a_greeting(context, &greeting));
    }
    match status_word(&greeting).as_str() {
        "OK" => {}
        "PREAUTH" => {
            return Err(Interrupt::Protocol(
                "the server logged the connection in without authentication".to_owned(),
            ));
        }
        "BYE" | "NO" | "BAD" => {
            return Err(Interrupt::Protocol(format!(
                "the server refused the connection: {}",
                status_text(&greeting)
            )));
        }
        _ => return Err(not_a_greeting(context, &greeting)),
    }
    upstream.greeting = status_text(&greeting);
    if context.listener.spec.server_starttls {
        let (_, done) = upstream.command(context, "STARTTLS", guard).await?;
        if status_word(&done) != "OK" {
            tracing::error!(
                "{} The server refused STARTTLS: {}",
                context.label(),
                String::from_utf8_lossy(&done).trim_end()
            );
            return Err(Interrupt::Protocol("Server refused STARTTLS".to_owned()));
        }
        if upstream.framed.framer.buffered() > 0 || !upstream.peer.buffer.is_empty() {
            return Err(Interrupt::Protocol(
                "server sent data after accepting STARTTLS, before the TLS handshake".to_owned(),
            ));
        }
        upstream.framed = Framed::new(Direction::ServerToClient, ParserConfig::lenient());
        upstream_tls(context, &mut upstream.peer, guard).await?;
    }
    let (untagged, done) = upstream.command(context, "CAPABILITY", guard).await?;
    if status_word(&done) != "OK" {
        return Err(Interrupt::Protocol("Server refused CAPABILITY".to_owned()));
    }
    upstream.capabilities = untagged
        .iter()
        .find_map(|line| capabilities_in(line))
        .unwrap_or_default();
    guard.upstream_ready();
    Ok(upstream)
}

/// The tag a message starts with, or `*` when it has no valid one.
fn tag_of(message: &[u8]) -> String {
    let word = message.split(|&b| b == b' ').next().unwrap_or_default();
    if !word.is_empty() && word.iter().all(|&b| is_tag_byte(b)) {
        String::from_utf8_lossy(word).into_owned()
    } else {
        "*".to_owned()
    }
}

/// Whether `byte` may appear in a tag (RFC 3501 `tag`: ASTRING-CHAR except `+`); a tag that
/// fails this is not echoed back to the client.
fn is_tag_byte(byte: u8) -> bool {
    byte.is_ascii_graphic()
        && !matches!(byte, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

/// Client-side state of the pre-authentication dialogue.
struct Local {
    framed: Framed,
}

impl Local {
    fn new() -> Self {
        let mut config = ParserConfig::strict();
        config.max_literal_size = MAX_PRE_AUTH_LITERAL;
        config.max_message_size = 2 * MAX_PRE_AUTH_LITERAL + 4096;
        config.max_line_length = 16 * 1024;
        Local {
            framed: Framed::new(Direction::ClientToServer, config),
        }
    }

    /// The next complete client message, answering `+` to synchronising literals.
    async fn message(
        &mut self,
        context: &SessionContext,
        client: &mut Peer,
        guard: &mut Guard,
    ) -> Result<Result<Vec<u8>, (Option<String>, String)>, Interrupt> {
        loop {
            match self.framed.next() {
                Some(Event::Message(message)) => return Ok(Ok(message)),
                Some(Event::Continuation) if offers_starttls(context, client) => {
                    // Before STARTTLS a literal can only carry a LOGIN's user name or
                    // password: refuse it rather than invite it in clear text.
                    let tag = self.framed.refuse_literal();
                    client.send(&tagged(&tag, "NO", TLS_FIRST), guard).await?;
                }
                Some(Event::Continuation) => {
                    client.send(b"+ Ready for literal data\r\n", guard).await?;
                }
                Some(Event::Error { tag, text }) => return Ok(Err((tag, text))),
                None => {
                    // Bytes may be buffered already (sent while the proxy waited on the server).
                    if client.buffer.is_empty() && client.read_more(guard).await? == 0 {
                        return Err(Interrupt::ClientClosed);
                    }
                    let bytes = client.take_buffer();
                    self.framed.push(&bytes);
                }
            }
        }
    }
}

/// Reads one AUTHENTICATE continuation line from the client (without CRLF).
async fn sasl_line(
    local: &mut Local,
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<Option<Vec<u8>>, Interrupt> {
    match local.message(context, client, guard).await? {
        Ok(mut line) => {
            while matches!(line.last(), Some(b'\r' | b'\n')) {
                line.pop();
            }
            Ok(Some(line))
        }
        Err(_) => Ok(None),
    }
}

/// Runs the server side of AUTHENTICATE PLAIN/LOGIN with the client.
async fn client_sasl(
    mut exchange: ServerExchange,
    initial_response: Option<Vec<u8>>,
    local: &mut Local,
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<Result<Credentials, String>, Interrupt> {
    let encoded = initial_response.map(|ir| {
        if ir.is_empty() {
            b"=".to_vec()
        } else {
            STANDARD.encode(&ir).into_bytes()
        }
    });
    let mut step = exchange.start(encoded.as_deref());
    loop {
        match step {
            Ok(ServerStep::Done(credentials)) => return Ok(Ok(credentials)),
            Ok(ServerStep::Challenge(challenge)) => {
                let line = format!("+ {}\r\n", challenge.base64());
                client.send(line.as_bytes(), guard).await?;
                let Some(response) = sasl_line(local, context, client, guard).await? else {
                    return Ok(Err("Invalid SASL response".to_owned()));
                };
                if response == b"*" {
                    return Ok(Err("AUTHENTICATE cancelled".to_owned()));
                }
                step = exchange.step(&response);
            }
            Ok(_) => return Ok(Err("Unexpected SASL step".to_owned())),
            Err(error) => return Ok(Err(error.to_string())),
        }
    }
}

/// Logs in upstream with the client's tag; `Ok(final line)` on success (the tagged `OK`,
/// after any untagged lines, all to forward), `Err(text)` for the client's `NO`.
async fn upstream_login(
    context: &SessionContext,
    upstream: &mut Upstream,
    tag: &str,
    token: crate::login::UpstreamCredentials,
    guard: &mut Guard,
) -> Result<Result<Vec<u8>, String>, Interrupt> {
    let has = |name: &str| {
        upstream
            .capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    };
    let offers = Some((has("AUTH=XOAUTH2"), has("AUTH=OAUTHBEARER")));
    let sasl_ir = has("SASL-IR");
    let mut exchange = upstream_exchange(context, token, offers);
    let mechanism = exchange.mechanism();
    let initial = match exchange.start(sasl_ir) {
        Ok(initial) => initial,
        Err(error) => return Ok(Err(error.to_string())),
    };
    match &initial {
        Some(ir) => {
            tracing::debug!(
                "{}     --> {tag} AUTHENTICATE {mechanism} [ credentials ]",
                context.label()
            );
            let line = format!("{tag} AUTHENTICATE {mechanism} {}\r\n", ir.expose());
            upstream.peer.send(line.as_bytes(), guard).await?;
        }
        None => {
            let line = format!("{tag} AUTHENTICATE {mechanism}\r\n");
            trace_line(context, "    -->", line.as_bytes());
            upstream.peer.send(line.as_bytes(), guard).await?;
        }
    }
    let prefix = format!("{tag} ");
    let mut forward = Vec::new();
    loop {
        let message = upstream.message(context, guard).await?;
        if let Some(challenge) = message.strip_prefix(b"+") {
            let challenge = challenge.trim_ascii();
            match exchange.step(challenge) {
                Ok(ClientStep::Respond(response)) => {
                    tracing::debug!("{}     --> [ credentials ]", context.label());
                    let mut line = response.expose().as_bytes().to_vec();
                    line.extend_from_slice(b"\r\n");
                    upstream.peer.send(&line, guard).await?;
                }
                Ok(ClientStep::ErrorChallenge { response, .. }) => {
                    let line = format!("{response}\r\n");
                    trace_line(context, "    -->", line.as_bytes());
                    upstream.peer.send(line.as_bytes(), guard).await?;
                }
                Ok(_) | Err(_) => {
                    upstream.peer.send(b"*\r\n", guard).await?;
                }
            }
            continue;
        }
        if message.starts_with(prefix.as_bytes()) {
            if status_word(&message) == "OK" {
                forward.extend_from_slice(&message);
                return Ok(Ok(forward));
            }
            let mut text = status_text(&message);
            if let Some(error) = exchange.provider_error() {
                text = format!("{text} ({error})");
            }
            return Ok(Err(text));
        }
        forward.extend_from_slice(&message);
    }
}

/// A tagged reply line.
fn tagged(tag: &str, status: &str, text: &str) -> Vec<u8> {
    format!("{tag} {status} {}\r\n", text.replace(['\r', '\n'], " ")).into_bytes()
}

pub(crate) async fn pre_auth(
    context: &SessionContext,
    client: &mut Peer,
    guard: &mut Guard,
) -> Result<Handoff, Interrupt> {
    let mut upstream = Some(client.watching(connect(context, guard)).await?);
    let (capabilities, greeting) = match &upstream {
        Some(up) => (up.capabilities.clone(), up.greeting.clone()),
        None => return Err(Interrupt::ServerClosed),
    };
    let capability_line = |client: &Peer| {
        rewrite_capabilities(&capabilities, offers_starttls(context, client)).join(" ")
    };
    let greeting_line = format!(
        "* OK [CAPABILITY {}] {}\r\n",
        capability_line(client),
        if greeting.is_empty() {
            "mailgate ready"
        } else {
            greeting.as_str()
        }
    );
    trace_line(context, "<--", greeting_line.as_bytes());
    client.send(greeting_line.as_bytes(), guard).await?;
    let mut local = Local::new();
    loop {
        let message = match local.message(context, client, guard).await? {
            Ok(message) => message,
            Err((tag, text)) => {
                let reply = tagged(tag.as_deref().unwrap_or("*"), "BAD", &text);
                client.send(&reply, guard).await?;
                return Err(Interrupt::Protocol(format!(
                    "client sent an invalid command: {text}"
                )));
            }
        };
        let command = match Command::parse(&message, local.framed.framer.config()) {
            Ok((command, _)) => command,
            Err(error) => {
                let tag = tag_of(&message);
                tracing::debug!("{} --> [ unparsable command: {error} ]", context.label());
                client
                    .send(
                        &tagged(&tag, "BAD", &format!("Invalid command: {error}")),
                        guard,
                    )
                    .await?;
                continue;
            }
        };
        let tag = command.tag.as_str().to_owned();
        let credentials = match command.body {
            CommandBody::Capability => {
                tracing::debug!("{} --> {tag} CAPABILITY", context.label());
                let reply = format!(
                    "* CAPABILITY {}\r\n{tag} OK CAPABILITY completed\r\n",
                    capability_line(client)
                );
                trace_line(context, "<--", reply.as_bytes());
                client.send(reply.as_bytes(), guard).await?;
                continue;
            }
            CommandBody::Noop => {
                client
                    .send(&tagged(&tag, "OK", "NOOP completed"), guard)
                    .await?;
                continue;
            }
            CommandBody::Logout => {
                let mut reply = b"* BYE Logging out\r\n".to_vec();
                reply.extend(tagged(&tag, "OK", "LOGOUT completed"));
                client.send(&reply, guard).await?;
                return Err(Interrupt::ClientClosed);
            }
            CommandBody::StartTls => {
                if offers_starttls(context, client) {
                    client
                        .send(&tagged(&tag, "OK", "Begin TLS negotiation now"), guard)
                        .await?;
                    if local.framed.framer.buffered() > 0 {
                        return Err(Interrupt::Protocol(
                            "data sent after STARTTLS before the TLS handshake".to_owned(),
                        ));
                    }
                    client_starttls(context, client, guard).await?;
                    local = Local::new();
                } else {
                    client
                        .send(&tagged(&tag, "BAD", "STARTTLS is not available"), guard)
                        .await?;
                }
                continue;
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. }
                if offers_starttls(context, client) =>
            {
                tracing::debug!(
                    "{} --> {tag} [ login before STARTTLS: refused ]",
                    context.label()
                );
                client.send(&tagged(&tag, "NO", TLS_FIRST), guard).await?;
                continue;
            }
            CommandBody::Login { username, password } => {
                let username = String::from_utf8_lossy(username.as_bytes()).into_owned();
                let password = String::from_utf8_lossy(password.expose().as_bytes()).into_owned();
                tracing::debug!(
                    "{} --> {tag} LOGIN {username} [ password ]",
                    context.label()
                );
                Ok(Credentials {
                    authzid: None,
                    username,
                    password: mailgate_sasl::SecretString::from(password),
                })
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                tracing::debug!(
                    "{} --> {tag} AUTHENTICATE {} [ credentials ]",
                    context.label(),
                    mechanism.as_str()
                );
                match ServerExchange::from_name(mechanism.as_str().as_bytes()) {
                    Ok(exchange) => {
                        let ir = initial_response.map(|ir| ir.expose().clone());
                        client_sasl(exchange, ir, &mut local, context, client, guard).await?
                    }
                    Err(_) => Err(format!(
                        "Unsupported authentication mechanism {}; use PLAIN or LOGIN",
                        mechanism.as_str()
                    )),
                }
            }
            _ => {
                // Another command before login: forward it when it carries no literal.
                let up = match upstream.as_mut() {
                    Some(up) => up,
                    None => {
                        upstream = Some(client.watching(connect(context, guard)).await?);
                        upstream.as_mut().ok_or(Interrupt::ServerClosed)?
                    }
                };
                if message.iter().filter(|&&b| b == b'\n').count() > 1 {
                    client
                        .send(
                            &tagged(&tag, "BAD", "Command not available before login"),
                            guard,
                        )
                        .await?;
                    continue;
                }
                trace_line(context, "-->", &message);
                up.peer.send(&message, guard).await?;
                let prefix = format!("{tag} ");
                loop {
                    let reply = up.message(context, guard).await?;
                    let reply = match capabilities_in(&reply) {
                        Some(caps) if reply.starts_with(b"* CAPABILITY") => format!(
                            "* CAPABILITY {}\r\n",
                            rewrite_capabilities(&caps, offers_starttls(context, client)).join(" ")
                        )
                        .into_bytes(),
                        _ => reply,
                    };
                    trace_line(context, "<--", &reply);
                    client.send(&reply, guard).await?;
                    if reply.starts_with(prefix.as_bytes()) {
                        break;
                    }
                }
                continue;
            }
        };
        let credentials = match credentials {
            Ok(credentials) => credentials,
            Err(text) => {
                client.send(&tagged(&tag, "BAD", &text), guard).await?;
                continue;
            }
        };
        let token = match client
            .watching(obtain_token(context, &credentials, guard))
            .await?
        {
            Ok(token) => token,
            Err(rejected) => {
                // RFC 5530: UNAVAILABLE for a subsystem that is down (the token endpoint),
                // AUTHENTICATIONFAILED for credentials.
                let code = if rejected.temporary {
                    "UNAVAILABLE"
                } else {
                    "AUTHENTICATIONFAILED"
                };
                let text = format!("[{code}] {}", rejected.message);
                client.send(&tagged(&tag, "NO", &text), guard).await?;
                continue;
            }
        };
        let mut up = match upstream.take() {
            Some(up) => up,
            None => client.watching(connect(context, guard)).await?,
        };
        let username = token.username.clone();
        let outcome = match upstream_login(context, &mut up, &tag, token.clone(), guard).await {
            // The server may have dropped the idle connection while the user was authorising
            // in a browser: connect again once and log in with the same token.
            Err(Interrupt::ServerIo(_) | Interrupt::ServerClosed) => {
                tracing::info!(
                    "{} The server closed the connection while the login waited; reconnecting",
                    context.label()
                );
                up = client.watching(connect(context, guard)).await?;
                upstream_login(context, &mut up, &tag, token, guard).await?
            }
            other => other?,
        };
        match outcome {
            Ok(forward) => {
                log_authenticated(context, &username);
                let mut to_client = forward;
                to_client.extend(up.framed.remaining());
                to_client.extend(up.peer.take_buffer());
                let to_server = local.framed.remaining();
                let client_peer = std::mem::replace(client, Peer::placeholder());
                return Ok(Handoff {
                    client: client_peer.into_stream()?,
                    server: up.peer.into_stream()?,
                    to_server,
                    to_client,
                    account: username,
                });
            }
            Err(text) => {
                log_upstream_refused(context, &username, &text);
                context
                    .authenticator
                    .token_rejected(&username, &credentials.password)
                    .await;
                client
                    .send(
                        &tagged(&tag, "NO", &format!("[AUTHENTICATIONFAILED] {text}")),
                        guard,
                    )
                    .await?;
                // The upstream connection stays usable for another attempt.
                upstream = Some(up);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &str) -> Vec<String> {
        list.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn capabilities_are_rewritten() {
        let upstream = caps(
            "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=XOAUTH2 AUTH=OAUTHBEARER LOGINDISABLED STARTTLS",
        );
        assert_eq!(
            rewrite_capabilities(&upstream, false).join(" "),
            "IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN AUTH=LOGIN SASL-IR"
        );
        assert_eq!(
            rewrite_capabilities(&upstream, true).join(" "),
            "IMAP4rev1 LITERAL+ LOGIN-REFERRALS ID ENABLE IDLE STARTTLS LOGINDISABLED"
        );
        assert_eq!(
            rewrite_capabilities(&[], false).join(" "),
            "IMAP4rev1 AUTH=PLAIN AUTH=LOGIN SASL-IR"
        );
    }

    #[test]
    fn capabilities_are_found_in_lines_and_codes() {
        assert_eq!(
            capabilities_in(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"),
            Some(caps("IMAP4rev1 AUTH=PLAIN"))
        );
        assert_eq!(
            capabilities_in(b"* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready.\r\n"),
            Some(caps("IMAP4rev1 SASL-IR"))
        );
        assert_eq!(capabilities_in(b"* OK ready\r\n"), None);
        assert_eq!(
            status_text(b"* OK [CAPABILITY X] Dovecot ready.\r\n"),
            "Dovecot ready."
        );
        assert_eq!(status_text(b"a1 NO bad token\r\n"), "bad token");
        assert_eq!(status_word(b"a1 no bad\r\n"), "NO");
    }

    #[test]
    fn framed_keeps_the_unconsumed_tail() {
        let mut framed = Framed::new(Direction::ClientToServer, ParserConfig::strict());
        framed.push(b"a1 LOGIN joe sec");
        assert!(framed.next().is_none());
        framed.push(b"ret\r\na2 SELECT INBOX\r\na3 NO");
        let Some(Event::Message(message)) = framed.next() else {
            panic!("no message")
        };
        assert_eq!(message, b"a1 LOGIN joe secret\r\n");
        assert_eq!(framed.remaining(), b"a2 SELECT INBOX\r\na3 NO");
    }
}
