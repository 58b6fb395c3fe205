//! The client side before login: what a proxy does upstream until it is logged in with an
//! OAuth 2.0 token, then a hand-off to byte relaying.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mailgate_sasl::{ClientExchange, ClientStep, SaslError, SecretBytes};

use super::client_error::status_line;
use super::{AuthFailure, ClientError, Framed, Stream};
use crate::command::AuthenticateData;
use crate::framer::Direction;
use crate::response::{
    Code, Data, Greeting, GreetingKind, Response, Status, StatusKind, parse_greeting,
};
use crate::{
    AuthMechanism, Capability, CapabilityName, Command, CommandBody, Encode, ParserConfig, Tag,
};

/// Settings of a [`ClientSession`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Upgrade the connection with STARTTLS before authenticating; fail if the server does
    /// not offer it (no silent downgrade).
    pub starttls: bool,
    /// Send the SASL initial response on the `AUTHENTICATE` line when the server
    /// announces `SASL-IR` (RFC 4959); otherwise it follows the server's empty `+`.
    pub use_sasl_ir: bool,
    /// Limits and leniency of the response grammar: lenient by default (real servers),
    /// with limits sized for the login phase (lines of 64 KiB, literals of 1 MiB,
    /// messages of 2 MiB), so a hostile server cannot make the session buffer more.
    pub parser: ParserConfig,
    /// How long to wait for each server reply.
    pub reply_timeout: Duration,
    /// Prefix of the tags of the session's own commands (`mg1`, `mg2`, ...).
    pub tag_prefix: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            starttls: false,
            use_sasl_ir: true,
            parser: pre_auth_server_config(),
            reply_timeout: Duration::from_secs(60),
            tag_prefix: "mg".to_owned(),
        }
    }
}

/// What the driver must do next, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Write these bytes to the server.
    Send(Vec<u8>),
    /// Write these bytes to the server; they carry a credential, never log them.
    SendSecret(SecretBytes),
    /// After writing everything sent before, run the TLS handshake as client, then call
    /// [`ClientSession::tls_established`].
    StartTls,
    /// Ready to log in: inspect [`ClientSession::capabilities`], then call
    /// [`ClientSession::authenticate`] (or [`ClientSession::forward`],
    /// [`ClientSession::logout`]).
    NeedCredentials,
    /// A response to the command given to [`ClientSession::forward`]; `done` on the tagged
    /// completion, after which the session is ready again.
    Response {
        /// One complete response message.
        message: Vec<u8>,
        /// Whether this is the tagged completion.
        done: bool,
    },
    /// Logged in: relay bytes from here.
    Authenticated {
        /// The untagged responses received during the login and the tagged `OK`, with
        /// the tag given to [`ClientSession::authenticate`]: what a proxy forwards to its
        /// client.
        response: Vec<u8>,
        /// Server bytes received after the tagged `OK` (relay them first).
        buffered: Vec<u8>,
    },
    /// The server refused the credentials. The connection stays usable: call
    /// [`ClientSession::authenticate`] again (e.g. with a refreshed token) or
    /// [`ClientSession::logout`].
    Rejected(Box<AuthFailure>),
    /// The server confirmed `LOGOUT`; close the connection.
    LoggedOut,
    /// The session failed; close the connection and report the error.
    Failed(ClientError),
}

/// The lenient grammar with limits for what a server sends before login.
fn pre_auth_server_config() -> ParserConfig {
    let mut config = ParserConfig::lenient();
    config.max_line_length = 64 * 1024;
    config.max_literal_size = 1024 * 1024;
    config.max_message_size = 2 * 1024 * 1024;
    config
}

#[derive(Debug)]
enum State {
    AwaitGreeting,
    AwaitStartTls {
        tag: Tag<'static>,
    },
    AwaitTls,
    AwaitCapability {
        tag: Tag<'static>,
        found: Option<Vec<Capability<'static>>>,
    },
    Ready,
    Forwarding {
        tag: Tag<'static>,
    },
    Authenticating {
        tag: Tag<'static>,
        exchange: Box<ClientExchange>,
        collected: Vec<u8>,
        error: Option<SaslError>,
    },
    LoggingOut {
        tag: Tag<'static>,
    },
    Done,
}

/// The upstream side of a proxy's IMAP login, sans I/O.
///
/// Reads the greeting (capabilities from its response code when present), upgrades with
/// STARTTLS when configured (and asks for the capabilities again afterwards), asks
/// `CAPABILITY` when it does not know them, waits for [`ClientSession::authenticate`], runs
/// the SASL exchange including the provider's error challenge (answered with the empty
/// response for XOAUTH2, `AQ==` for OAUTHBEARER) and hands off after the tagged `OK`.
///
/// ```
/// use std::time::Instant;
/// use mailgate_imap::session::{ClientConfig, ClientEvent, ClientSession};
/// use mailgate_sasl::{ClientExchange, SecretString};
///
/// let now = Instant::now();
/// let mut session = ClientSession::new(ClientConfig::default(), now);
/// session.receive(b"* OK Dovecot ready.\r\n", now);
/// assert_eq!(session.poll_event(), Some(ClientEvent::Send(b"mg1 CAPABILITY\r\n".to_vec())));
/// session.receive(b"* CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER\r\nmg1 OK done\r\n", now);
/// assert_eq!(session.poll_event(), Some(ClientEvent::NeedCredentials));
/// let token = SecretString::from("ya29.token");
/// session.authenticate(ClientExchange::oauthbearer("u@example.com", None, None, token), None, now);
/// // No SASL-IR announced: the initial response follows the server's empty challenge.
/// let Some(ClientEvent::SendSecret(line)) = session.poll_event() else { unreachable!() };
/// assert_eq!(line.expose(), b"mg2 AUTHENTICATE OAUTHBEARER\r\n");
/// session.receive(b"+ \r\n", now);
/// assert!(matches!(session.poll_event(), Some(ClientEvent::SendSecret(_))));
/// session.receive(b"mg2 OK Logged in\r\n", now);
/// assert!(matches!(session.poll_event(), Some(ClientEvent::Authenticated { .. })));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    stream: Stream,
    events: VecDeque<ClientEvent>,
    tls: bool,
    capabilities: Option<Vec<Capability<'static>>>,
    greeting: Option<Greeting<'static>>,
    next_tag: u32,
    deadline: Option<Instant>,
}

impl ClientSession {
    /// A session on a freshly opened connection; it waits for the greeting.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let stream = Stream::new(Direction::ServerToClient, config.parser.clone());
        let deadline = now.checked_add(config.reply_timeout);
        Self {
            config,
            state: State::AwaitGreeting,
            stream,
            events: VecDeque::new(),
            tls: false,
            capabilities: None,
            greeting: None,
            next_tag: 0,
            deadline,
        }
    }

    /// Marks the connection as already encrypted (port 993): no STARTTLS is done.
    pub fn with_tls_active(mut self) -> Self {
        self.tls = true;
        self
    }

    /// The next thing to do, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The server's capabilities as last announced (empty before they are known).
    pub fn capabilities(&self) -> &[Capability<'static>] {
        self.capabilities.as_deref().unwrap_or_default()
    }

    /// Whether the server announced `capability`.
    pub fn has_capability(&self, capability: &Capability<'_>) -> bool {
        self.capabilities().iter().any(|c| c == capability)
    }

    /// The server greeting, once received.
    pub fn greeting(&self) -> Option<&Greeting<'static>> {
        self.greeting.as_ref()
    }

    /// Whether the session has handed off, logged out or failed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// When [`handle_timeout`](ClientSession::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Fails the session with [`ClientError::Timeout`] once its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.deadline
            && now >= deadline
        {
            self.fail(ClientError::Timeout);
        }
    }

    /// Feeds bytes read from the server.
    pub fn receive(&mut self, data: &[u8], now: Instant) {
        match self.state {
            State::Done => {}
            State::AwaitTls => {
                if !data.is_empty() {
                    self.fail(ClientError::UnexpectedData);
                }
            }
            _ => {
                self.stream.push(data);
                self.process(now);
            }
        }
    }

    /// The TLS handshake after STARTTLS completed: the capabilities are asked again
    /// (RFC 9051 section 6.2.1: those from before TLS are discarded).
    pub fn tls_established(&mut self, now: Instant) {
        if matches!(self.state, State::AwaitTls) {
            self.tls = true;
            self.capabilities = None;
            self.stream.take();
            self.next_step(now);
        } else {
            self.fail(ClientError::Misuse);
        }
    }

    /// Logs in with `exchange` after [`ClientEvent::NeedCredentials`] or
    /// [`ClientEvent::Rejected`]. `tag` is the tag to use, e.g. the local client's so that
    /// the server's tagged `OK` can be forwarded unchanged; `None` for one of the session's
    /// own.
    pub fn authenticate(
        &mut self,
        mut exchange: ClientExchange,
        tag: Option<Tag<'static>>,
        now: Instant,
    ) {
        if !matches!(self.state, State::Ready) {
            return self.fail(ClientError::Misuse);
        }
        let Ok(mechanism) = AuthMechanism::try_from(exchange.mechanism().as_str()) else {
            return self.fail(ClientError::Misuse);
        };
        let sasl_ir = self.config.use_sasl_ir
            && self.has_capability(&Capability::Name(CapabilityName::SaslIr));
        let initial_response = match exchange.start(sasl_ir) {
            Ok(Some(_)) => exchange.initial_response(),
            Ok(None) => None,
            Err(e) => return self.fail(ClientError::Sasl(e)),
        };
        let Some(tag) = tag.or_else(|| self.own_tag()) else {
            return self.fail(ClientError::Misuse);
        };
        let command = Command {
            tag: tag.clone(),
            body: CommandBody::Authenticate {
                mechanism: mechanism.into_owned(),
                initial_response,
            },
        };
        self.events
            .push_back(ClientEvent::SendSecret(SecretBytes::new(command.to_vec())));
        self.state = State::Authenticating {
            tag,
            exchange: Box::new(exchange),
            collected: Vec::new(),
            error: None,
        };
        self.wait_reply(now);
        self.process(now);
    }

    /// Sends `message`, a complete command from the local client (e.g. `ID`), and reports
    /// the server's responses as [`ClientEvent::Response`] until its tagged completion.
    pub fn forward(&mut self, message: &[u8], now: Instant) {
        if !matches!(self.state, State::Ready) {
            return self.fail(ClientError::Misuse);
        }
        let config = ParserConfig::lenient();
        let Ok((command, _)) = Command::parse(message, &config) else {
            return self.fail(ClientError::Misuse);
        };
        let tag = command.tag.into_owned();
        self.events.push_back(ClientEvent::Send(message.to_vec()));
        self.state = State::Forwarding { tag };
        self.wait_reply(now);
        self.process(now);
    }

    /// Sends `LOGOUT`; [`ClientEvent::LoggedOut`] follows the server's confirmation.
    pub fn logout(&mut self, now: Instant) {
        if !matches!(self.state, State::Ready) {
            return self.fail(ClientError::Misuse);
        }
        let Some(tag) = self.own_tag() else {
            return self.fail(ClientError::Misuse);
        };
        self.send_command(tag.clone(), CommandBody::Logout);
        self.state = State::LoggingOut { tag };
        self.wait_reply(now);
        self.process(now);
    }

    /// A fresh tag for a command of the session's own: the configured prefix (letters and
    /// digits only) and a number.
    fn own_tag(&mut self) -> Option<Tag<'static>> {
        self.next_tag += 1;
        let prefix: String = self
            .config
            .tag_prefix
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        Tag::try_new(format!("{prefix}{}", self.next_tag)).ok()
    }

    fn send_command(&mut self, tag: Tag<'static>, body: CommandBody<'static>) {
        let command = Command { tag, body };
        self.events.push_back(ClientEvent::Send(command.to_vec()));
    }

    fn wait_reply(&mut self, now: Instant) {
        self.deadline = now.checked_add(self.config.reply_timeout);
    }

    fn fail(&mut self, error: ClientError) {
        if matches!(self.state, State::Done) {
            return;
        }
        self.state = State::Done;
        self.stream.take();
        self.deadline = None;
        self.events.push_back(ClientEvent::Failed(error));
    }

    /// After the greeting or the TLS handshake: STARTTLS, CAPABILITY or ready.
    fn next_step(&mut self, now: Instant) {
        let starttls = Capability::Name(CapabilityName::StartTls);
        if self.config.starttls && !self.tls {
            if self.capabilities.is_some() && !self.has_capability(&starttls) {
                return self.fail(ClientError::StartTlsUnavailable);
            }
            let Some(tag) = self.own_tag() else {
                return self.fail(ClientError::Misuse);
            };
            self.send_command(tag.clone(), CommandBody::StartTls);
            self.state = State::AwaitStartTls { tag };
            self.wait_reply(now);
        } else if self.capabilities.is_none() {
            let Some(tag) = self.own_tag() else {
                return self.fail(ClientError::Misuse);
            };
            self.send_command(tag.clone(), CommandBody::Capability);
            self.state = State::AwaitCapability { tag, found: None };
            self.wait_reply(now);
        } else {
            self.state = State::Ready;
            self.deadline = None;
            self.events.push_back(ClientEvent::NeedCredentials);
        }
    }

    fn process(&mut self, now: Instant) {
        loop {
            if matches!(self.state, State::Done | State::AwaitTls) {
                return;
            }
            let Some(framed) = self.stream.next() else {
                return;
            };
            match framed {
                Framed::Message(message) => self.message(&message, now),
                Framed::Error { error, .. } => return self.fail(ClientError::Oversized(error)),
                // Servers' literals never wait for a continuation.
                Framed::ContinuationNeeded => {
                    return self.fail(ClientError::UnexpectedContinuation);
                }
            }
        }
    }

    fn message(&mut self, message: &[u8], now: Instant) {
        let config = self.config.parser.clone();
        if let State::AwaitGreeting = self.state {
            return match parse_greeting(message, &config) {
                Ok((greeting, _)) => self.greeting_received(greeting.into_owned(), now),
                Err(e) => self.fail(ClientError::Malformed(e)),
            };
        }
        let response = match Response::parse(message, &config) {
            Ok((response, _)) => response.into_owned(),
            Err(e) => return self.fail(ClientError::Malformed(e)),
        };
        if let Some(capabilities) = announced_capabilities(&response) {
            self.capabilities = Some(capabilities);
        }
        if let Response::Status(Status::Bye(text)) = &response
            && !matches!(self.state, State::LoggingOut { .. })
        {
            let text = String::from_utf8_lossy(&text.to_vec()).into_owned();
            return self.fail(ClientError::Bye(text));
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitStartTls { tag } => self.starttls_reply(tag, response),
            State::AwaitCapability { tag, found } => {
                self.capability_reply(tag, found, response, now)
            }
            State::Ready => {
                self.state = State::Ready;
                match response {
                    Response::Status(Status::Tagged { tag, .. }) => {
                        self.fail(ClientError::UnexpectedTag(tag.as_str().to_owned()));
                    }
                    Response::Continue(_) => self.fail(ClientError::UnexpectedContinuation),
                    // Untagged information (e.g. `* OK` keep-alives): nothing to do.
                    _ => {}
                }
            }
            State::Forwarding { tag } => {
                let done = matches!(&response, Response::Status(s) if s.tag() == Some(&tag));
                if let Response::Status(Status::Tagged { tag: other, .. }) = &response
                    && !done
                {
                    return self.fail(ClientError::UnexpectedTag(other.as_str().to_owned()));
                }
                // A continuation answers a synchronising literal already sent with the
                // command: nothing to relay.
                if !matches!(response, Response::Continue(_)) {
                    self.events.push_back(ClientEvent::Response {
                        message: message.to_vec(),
                        done,
                    });
                }
                if done {
                    self.state = State::Ready;
                    self.deadline = None;
                } else {
                    self.state = State::Forwarding { tag };
                }
            }
            State::Authenticating {
                tag,
                exchange,
                collected,
                error,
            } => self.auth_reply(tag, exchange, collected, error, response, message, now),
            State::LoggingOut { tag } => {
                if matches!(&response, Response::Status(s) if s.tag() == Some(&tag)) {
                    self.deadline = None;
                    self.stream.take();
                    self.events.push_back(ClientEvent::LoggedOut);
                } else {
                    self.state = State::LoggingOut { tag };
                }
            }
            state @ (State::AwaitGreeting | State::AwaitTls | State::Done) => self.state = state,
        }
    }

    fn greeting_received(&mut self, greeting: Greeting<'static>, now: Instant) {
        match greeting.kind {
            GreetingKind::Ok => {
                if let Some(Code::Capability(capabilities)) = &greeting.text.code {
                    self.capabilities = Some(capabilities.clone());
                }
                self.greeting = Some(greeting);
                self.next_step(now);
            }
            GreetingKind::PreAuth => {
                self.greeting = Some(greeting);
                self.fail(ClientError::Preauthenticated);
            }
            GreetingKind::Bye => {
                let text = String::from_utf8_lossy(&greeting.text.to_vec()).into_owned();
                self.greeting = Some(greeting);
                self.fail(ClientError::Refused(text));
            }
        }
    }

    fn starttls_reply(&mut self, tag: Tag<'static>, response: Response<'static>) {
        self.state = State::AwaitStartTls { tag: tag.clone() };
        match response {
            Response::Status(status @ Status::Tagged { .. }) if status.tag() == Some(&tag) => {
                if !matches!(
                    status,
                    Status::Tagged {
                        kind: StatusKind::Ok,
                        ..
                    }
                ) {
                    return self.fail(ClientError::StartTlsRefused(status_line(&status)));
                }
                if !self.stream.current().is_empty() {
                    return self.fail(ClientError::UnexpectedData);
                }
                self.deadline = None;
                self.state = State::AwaitTls;
                self.events.push_back(ClientEvent::StartTls);
            }
            Response::Status(Status::Tagged { tag: other, .. }) => {
                self.fail(ClientError::UnexpectedTag(other.as_str().to_owned()));
            }
            Response::Continue(_) => self.fail(ClientError::UnexpectedContinuation),
            _ => {}
        }
    }

    fn capability_reply(
        &mut self,
        tag: Tag<'static>,
        mut found: Option<Vec<Capability<'static>>>,
        response: Response<'static>,
        now: Instant,
    ) {
        match response {
            Response::Status(status @ Status::Tagged { .. }) if status.tag() == Some(&tag) => {
                if !matches!(
                    status,
                    Status::Tagged {
                        kind: StatusKind::Ok,
                        ..
                    }
                ) {
                    self.state = State::AwaitCapability { tag, found };
                    return self.fail(ClientError::CapabilityRefused(status_line(&status)));
                }
                // `announced_capabilities` already took a CAPABILITY code of the OK.
                if let Some(capabilities) = found.take() {
                    self.capabilities = Some(capabilities);
                }
                if self.capabilities.is_none() {
                    self.capabilities = Some(Vec::new());
                }
                self.next_step(now);
            }
            Response::Status(Status::Tagged { tag: other, .. }) => {
                self.state = State::AwaitCapability { tag, found };
                self.fail(ClientError::UnexpectedTag(other.as_str().to_owned()));
            }
            Response::Continue(_) => {
                self.state = State::AwaitCapability { tag, found };
                self.fail(ClientError::UnexpectedContinuation);
            }
            Response::Data(Data::Capability(capabilities)) => {
                self.state = State::AwaitCapability {
                    tag,
                    found: Some(capabilities),
                };
            }
            _ => self.state = State::AwaitCapability { tag, found },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn auth_reply(
        &mut self,
        tag: Tag<'static>,
        mut exchange: Box<ClientExchange>,
        mut collected: Vec<u8>,
        mut error: Option<SaslError>,
        response: Response<'static>,
        message: &[u8],
        now: Instant,
    ) {
        match response {
            Response::Continue(challenge) => {
                let text = match (challenge.as_base64(), challenge.as_text()) {
                    (Some(decoded), _) => mailgate_sasl::encode_base64(decoded).into_bytes(),
                    (None, Some(text)) => text.text.as_str().as_bytes().to_vec(),
                    (None, None) => Vec::new(),
                };
                match exchange.step(&text) {
                    Ok(ClientStep::Respond(line)) => {
                        let mut bytes = line.expose().as_bytes().to_vec();
                        bytes.extend_from_slice(b"\r\n");
                        self.events
                            .push_back(ClientEvent::SendSecret(SecretBytes::new(bytes)));
                    }
                    Ok(ClientStep::ErrorChallenge { response, .. }) => {
                        let mut bytes = response.into_bytes();
                        bytes.extend_from_slice(b"\r\n");
                        self.events.push_back(ClientEvent::Send(bytes));
                    }
                    other => {
                        self.events
                            .push_back(ClientEvent::Send(AuthenticateData::Cancel.to_vec()));
                        error = Some(match other {
                            Err(e) => e,
                            Ok(_) => SaslError::UnexpectedChallenge {
                                mechanism: exchange.mechanism().as_str(),
                            },
                        });
                    }
                }
                self.wait_reply(now);
            }
            Response::Status(status @ Status::Tagged { .. }) if status.tag() == Some(&tag) => {
                let ok = matches!(
                    status,
                    Status::Tagged {
                        kind: StatusKind::Ok,
                        ..
                    }
                );
                if ok && error.is_none() {
                    collected.extend_from_slice(message);
                    self.deadline = None;
                    let buffered = self.stream.take();
                    self.events.push_back(ClientEvent::Authenticated {
                        response: collected,
                        buffered,
                    });
                    return;
                }
                if let Some(e) = error {
                    self.state = State::Ready;
                    return self.fail(ClientError::Sasl(e));
                }
                self.state = State::Ready;
                self.deadline = None;
                self.events
                    .push_back(ClientEvent::Rejected(Box::new(AuthFailure {
                        status,
                        provider_error: exchange.provider_error().cloned(),
                    })));
                return;
            }
            Response::Status(Status::Tagged { tag: other, .. }) => {
                self.state = State::Ready;
                return self.fail(ClientError::UnexpectedTag(other.as_str().to_owned()));
            }
            _ => collected.extend_from_slice(message),
        }
        self.state = State::Authenticating {
            tag,
            exchange,
            collected,
            error,
        };
    }
}

/// Capabilities announced by a response: `* CAPABILITY` data or a `[CAPABILITY]` code.
fn announced_capabilities(response: &Response<'static>) -> Option<Vec<Capability<'static>>> {
    match response {
        Response::Data(Data::Capability(capabilities)) => Some(capabilities.clone()),
        Response::Status(status) => match status.code() {
            Some(Code::Capability(capabilities)) => Some(capabilities.clone()),
            _ => None,
        },
        _ => None,
    }
}
