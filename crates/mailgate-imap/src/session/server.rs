//! The server side before login: what a proxy presents to a local IMAP client until the
//! client has given its credentials, then a hand-off to byte relaying.

use std::collections::VecDeque;
use std::time::Instant;

use mailgate_sasl::{Credentials, SaslError, SecretString, ServerExchange, ServerStep};

use super::{CloseReason, Framed, ServerConfig, ServerEvent, Stream, text};
use crate::command::AuthenticateData;
use crate::framer::Direction;
use crate::response::{
    Code, Continue, Data, IdParams, RespText, Response, SimpleCode, Status, StatusKind,
};
use crate::{
    AuthMechanism, Capability, CapabilityName, Command, CommandBody, Encode, ParseError,
    ParserConfig, Tag,
};

#[derive(Debug)]
enum State {
    Commands,
    AwaitTls,
    Sasl {
        tag: Tag<'static>,
        exchange: ServerExchange,
    },
    AwaitVerdict {
        tag: Tag<'static>,
    },
    AwaitForward {
        tag: Tag<'static>,
    },
    Done,
}

/// The reply to `LOGIN` or `AUTHENTICATE` before STARTTLS on a connection that offers it.
const TLS_FIRST: &str = "Use STARTTLS first: this server does not accept passwords in clear text";

/// The IMAP not-authenticated state as a proxy presents it, sans I/O.
///
/// Handles `CAPABILITY`, `NOOP`, `LOGOUT`, `STARTTLS`, `ID`, `LOGIN` (user name and
/// password as atom, quoted string or literal: synchronising literals get their `+`,
/// LITERAL+/LITERAL- literals are taken as they come) and `AUTHENTICATE PLAIN`/`LOGIN`
/// with or without SASL-IR (`*` cancels). `ENABLE` gets `BAD` before login, and so does
/// every other command unless [`ServerConfig::forward_other`] hands it to the driver.
/// Over-long lines and literals get one `BAD` and are skipped without
/// reading their data as commands.
///
/// ```
/// use std::time::Instant;
/// use mailgate_imap::session::{ServerConfig, ServerEvent, ServerSession};
///
/// let now = Instant::now();
/// let mut session = ServerSession::new(ServerConfig::default(), now);
/// let mut sent = Vec::new();
/// session.receive(b"a1 LOGIN joe {6+}\r\nsecret\r\na2 SELECT INBOX\r\n", now);
/// while let Some(event) = session.poll_event() {
///     match event {
///         ServerEvent::Send(bytes) => sent.extend(bytes),
///         ServerEvent::Login { credentials, .. } => {
///             assert_eq!((credentials.username.as_str(), credentials.password.expose().as_str()), ("joe", "secret"));
///             session.accept_login(); // e.g. after the upstream login succeeded
///         }
///         ServerEvent::Authenticated { pipelined } => assert_eq!(pipelined, b"a2 SELECT INBOX\r\n"),
///         other => unreachable!("{other:?}"),
///     }
/// }
/// assert!(sent.ends_with(b"a1 OK LOGIN completed\r\n"));
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    state: State,
    stream: Stream,
    events: VecDeque<ServerEvent>,
    errors: u32,
    auth_failures: u32,
    commands: u32,
    deadline: Option<Instant>,
    invalid_input: Option<ParseError>,
}

impl ServerSession {
    /// A new session; the first event is the greeting with the capabilities.
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let stream = Stream::new(Direction::ClientToServer, config.parser.clone());
        let mut session = Self {
            config,
            state: State::Commands,
            stream,
            events: VecDeque::new(),
            errors: 0,
            auth_failures: 0,
            commands: 0,
            deadline: None,
            invalid_input: None,
        };
        let greeting = crate::response::Greeting {
            kind: crate::response::GreetingKind::Ok,
            text: RespText::with_code(
                Code::Capability(session.capabilities()),
                text(&session.config.greeting),
            ),
        };
        session.send(greeting.to_vec());
        session.touch(now);
        session
    }

    /// The capabilities as presented now: the configured ones without `AUTH=`, `SASL-IR`,
    /// `STARTTLS` and `LOGINDISABLED`, then `AUTH=PLAIN AUTH=LOGIN SASL-IR` when logins are
    /// allowed, or `STARTTLS LOGINDISABLED` while STARTTLS is on offer.
    pub fn capabilities(&self) -> Vec<Capability<'static>> {
        let mut out: Vec<Capability<'static>> = self
            .config
            .capabilities
            .iter()
            .filter(|c| {
                !matches!(
                    c,
                    Capability::Auth(_)
                        | Capability::Name(
                            CapabilityName::LoginDisabled
                                | CapabilityName::StartTls
                                | CapabilityName::SaslIr
                        )
                )
            })
            .cloned()
            .collect();
        if out.is_empty() {
            out.push(Capability::Name(CapabilityName::Imap4Rev1));
        }
        if self.auth_allowed() {
            out.extend([
                Capability::Auth(AuthMechanism::Plain),
                Capability::Auth(AuthMechanism::Login),
                Capability::Name(CapabilityName::SaslIr),
            ]);
        } else {
            out.extend([
                Capability::Name(CapabilityName::StartTls),
                Capability::Name(CapabilityName::LoginDisabled),
            ]);
        }
        out
    }

    /// Replaces the capabilities to present (e.g. the upstream's after its STARTTLS).
    pub fn set_capabilities(&mut self, capabilities: Vec<Capability<'static>>) {
        self.config.capabilities = capabilities;
    }

    /// Whether TLS protects the client connection.
    pub fn is_tls(&self) -> bool {
        self.config.tls_active
    }

    /// The framing error that ended the session with [`CloseReason::InvalidInput`].
    pub fn invalid_input(&self) -> Option<&ParseError> {
        self.invalid_input.as_ref()
    }

    /// Whether the session has handed off or closed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The next thing to do, or `None` when the session needs more input or a call to
    /// `tls_established`, `accept_login`/`reject_login` or `forward_response`.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](ServerSession::handle_timeout) should be called next: the
    /// client's idle deadline, or `None` while the session waits for the driver (a
    /// verdict on credentials, a forwarded command) or has ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Closes an idle session with `* BYE` once its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.deadline
            && now >= deadline
        {
            self.bye("Autologout; idle for too long");
            self.close(CloseReason::Timeout);
        }
    }

    /// Feeds bytes received from the client. Bytes received while waiting for the TLS
    /// handshake are dropped (clear-text injection), as are bytes after the end.
    pub fn receive(&mut self, data: &[u8], now: Instant) {
        if matches!(self.state, State::AwaitTls | State::Done) {
            return;
        }
        self.touch(now);
        self.stream.push(data);
        if !self.processing() {
            let cap = usize::try_from(self.config.parser.max_message_size)
                .unwrap_or(usize::MAX)
                .max(self.config.parser.max_line_length);
            if self.stream.current().len() > cap {
                self.bye("Too much input before the login completed");
                self.close(CloseReason::TooMuchInput);
            }
            return;
        }
        self.process();
    }

    /// The TLS handshake after `STARTTLS` completed; the client may log in now.
    pub fn tls_established(&mut self, now: Instant) {
        if matches!(self.state, State::AwaitTls) {
            self.config.tls_active = true;
            self.stream.take();
            self.state = State::Commands;
            self.touch(now);
        }
    }

    /// Accepts the credentials of the last [`ServerEvent::Login`]: sends `tag OK LOGIN
    /// completed` and hands off.
    pub fn accept_login(&mut self) {
        if let State::AwaitVerdict { tag } = &self.state {
            let reply = tagged(tag.clone(), StatusKind::Ok, None, "LOGIN completed");
            self.hand_off(reply);
        }
    }

    /// Like [`accept_login`](ServerSession::accept_login), sending `response` instead:
    /// typically the upstream server's untagged responses and tagged `OK` to a login that
    /// used the client's tag ([`ClientEvent::Authenticated`](super::ClientEvent)).
    pub fn accept_login_with(&mut self, response: Vec<u8>) {
        if matches!(self.state, State::AwaitVerdict { .. }) {
            self.hand_off(response);
        }
    }

    /// Rejects the credentials of the last [`ServerEvent::Login`] with `tag NO
    /// [AUTHENTICATIONFAILED] text`; closes after [`SessionLimits::max_auth_failures`](super::SessionLimits::max_auth_failures).
    /// The idle deadline, suspended while the driver verified, starts again at `now`.
    pub fn reject_login(&mut self, reason: &str, now: Instant) {
        let State::AwaitVerdict { tag } = &self.state else {
            return;
        };
        let code = Code::Simple(SimpleCode::AuthenticationFailed);
        let reply = tagged(tag.clone(), StatusKind::No, Some(code), reason);
        self.send(reply);
        self.state = State::Commands;
        self.touch(now);
        self.auth_failures += 1;
        if self.auth_failures >= self.config.limits.max_auth_failures {
            self.bye("Too many failed logins");
            self.close(CloseReason::TooManyAuthFailures);
            return;
        }
        self.process();
    }

    /// Rejects the credentials of the last [`ServerEvent::Login`] for a reason that is not
    /// theirs (the service that checks them is down, say) with `tag NO [UNAVAILABLE] text`
    /// (RFC 5530). It does not count towards
    /// [`SessionLimits::max_auth_failures`](super::SessionLimits::max_auth_failures); the
    /// idle deadline starts again at `now`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use mailgate_imap::session::{ServerConfig, ServerEvent, ServerSession};
    ///
    /// let now = Instant::now();
    /// let mut session = ServerSession::new(ServerConfig::default(), now);
    /// session.poll_event(); // the greeting
    /// session.receive(b"a1 LOGIN joe secret\r\n", now);
    /// assert!(matches!(session.poll_event(), Some(ServerEvent::Login { .. })));
    /// session.reject_login_temporarily("The token endpoint is unreachable", now);
    /// assert_eq!(
    ///     session.poll_event(),
    ///     Some(ServerEvent::Send(b"a1 NO [UNAVAILABLE] The token endpoint is unreachable\r\n".to_vec()))
    /// );
    /// ```
    pub fn reject_login_temporarily(&mut self, reason: &str, now: Instant) {
        let State::AwaitVerdict { tag } = &self.state else {
            return;
        };
        let code = Code::Simple(SimpleCode::Unavailable);
        let reply = tagged(tag.clone(), StatusKind::No, Some(code), reason);
        self.send(reply);
        self.state = State::Commands;
        self.touch(now);
        self.process();
    }

    /// Relays one upstream response message (as framed, e.g. from
    /// [`ClientEvent::Response`](super::ClientEvent::Response)) to the command of the last
    /// [`ServerEvent::Forward`]; what does not parse as a response is dropped. `* CAPABILITY` data is rewritten as in the greeting; the
    /// tagged completion ends the forwarding and the session goes on (its idle deadline,
    /// suspended while waiting for the server, starts again at `now`).
    pub fn forward_response(&mut self, message: &[u8], now: Instant) {
        let State::AwaitForward { tag } = &self.state else {
            return;
        };
        let tag = tag.clone();
        // One complete response is relayed, in the canonical form (CRLF line ends, whatever
        // the server's quirks); anything else is not for the client.
        let Ok((response, _)) = Response::parse(message, &ParserConfig::lenient()) else {
            return;
        };
        let done = match &response {
            Response::Data(Data::Capability(_)) => {
                let rewritten = Response::Data(Data::Capability(self.capabilities()));
                self.send(rewritten.to_vec());
                false
            }
            Response::Status(Status::Tagged { tag: t, .. }) => {
                self.send(response.to_vec());
                *t == tag
            }
            _ => {
                self.send(response.to_vec());
                false
            }
        };
        if done {
            self.state = State::Commands;
            self.touch(now);
            self.process();
        }
    }

    fn auth_allowed(&self) -> bool {
        self.config.tls_active || !self.config.offer_starttls
    }

    fn processing(&self) -> bool {
        matches!(self.state, State::Commands | State::Sasl { .. })
    }

    fn touch(&mut self, now: Instant) {
        if !matches!(
            self.state,
            State::Done | State::AwaitVerdict { .. } | State::AwaitForward { .. }
        ) {
            self.deadline = now.checked_add(self.config.limits.idle_timeout);
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        if let Some(ServerEvent::Send(last)) = self.events.back_mut() {
            last.extend_from_slice(&bytes);
        } else {
            self.events.push_back(ServerEvent::Send(bytes));
        }
    }

    fn bye(&mut self, reason: &str) {
        self.send(Status::Bye(RespText::new(text(reason))).to_vec());
    }

    fn close(&mut self, reason: CloseReason) {
        if matches!(self.state, State::Done) {
            return;
        }
        self.state = State::Done;
        self.stream.take();
        self.deadline = None;
        self.events.push_back(ServerEvent::Closed(reason));
    }

    fn hand_off(&mut self, response: Vec<u8>) {
        self.send(response);
        let pipelined = self.stream.take();
        self.events
            .push_back(ServerEvent::Authenticated { pipelined });
        self.state = State::Done;
        self.deadline = None;
    }

    /// Answers `BAD` (tagged when the tag is known) and closes after too many errors.
    fn protocol_error(&mut self, tag: Option<Tag<'static>>, reason: &str) {
        self.errors += 1;
        if self.errors > self.config.limits.max_errors {
            self.bye("Too many invalid commands");
            self.close(CloseReason::TooManyErrors);
            return;
        }
        let reply = match tag {
            Some(tag) => tagged(tag, StatusKind::Bad, None, reason),
            None => Status::Untagged {
                kind: StatusKind::Bad,
                text: RespText::new(text(reason)),
            }
            .to_vec(),
        };
        self.send(reply);
    }

    /// Handles framed input until it runs out or the session must wait.
    fn process(&mut self) {
        while self.processing() {
            let Some(framed) = self.stream.next() else {
                return;
            };
            if let State::Sasl { .. } = self.state {
                self.sasl_input(framed);
                continue;
            }
            match framed {
                Framed::Message(message) => self.command_message(&message),
                Framed::ContinuationNeeded => {
                    if self.auth_allowed() {
                        let ready = Continue::text(RespText::new(text("Ready for literal data")));
                        if let Ok(ready) = ready {
                            self.send(ready.to_vec());
                        }
                    } else {
                        // Before STARTTLS a literal can only carry a LOGIN's user name or
                        // password: refuse it rather than invite it in clear text.
                        let tag = tag_of(self.stream.current());
                        self.stream.refuse_literal();
                        self.refuse_without_tls(tag);
                    }
                }
                Framed::Error { error, tag } => self.framing_error(tag, error),
            }
        }
    }

    /// A line or literal over the limits: `BAD`, then the session goes on (the framer
    /// skipped the message) or, with [`ServerConfig::close_on_framing_error`], ends.
    fn framing_error(&mut self, tag: Option<Tag<'static>>, error: ParseError) {
        self.protocol_error(tag, &error.to_string());
        if self.config.close_on_framing_error {
            self.invalid_input = Some(error);
            self.close(CloseReason::InvalidInput);
        }
    }

    fn refuse_without_tls(&mut self, tag: Option<Tag<'static>>) {
        let code = Some(Code::Simple(SimpleCode::PrivacyRequired));
        match tag {
            Some(tag) => self.send(tagged(tag, StatusKind::No, code, TLS_FIRST)),
            None => self.protocol_error(None, TLS_FIRST),
        }
    }

    fn command_message(&mut self, message: &[u8]) {
        self.commands += 1;
        if self.commands > self.config.limits.max_commands {
            self.bye("Too many commands before login");
            self.close(CloseReason::TooManyCommands);
            return;
        }
        let config = self.config.parser.clone();
        match Command::parse(message, &config) {
            Ok((command, used)) if used == message.len() => self.command(command, message),
            Ok((command, _)) => {
                let tag = Some(command.tag.into_owned());
                self.protocol_error(tag, "Invalid command: trailing data")
            }
            Err(e) => self.protocol_error(tag_of(message), &format!("Invalid command: {e}")),
        }
    }

    fn command(&mut self, command: Command<'_>, message: &[u8]) {
        let tag = command.tag.into_owned();
        match command.body {
            CommandBody::Capability => {
                let data = Response::Data(Data::Capability(self.capabilities()));
                self.send(data.to_vec());
                self.send(tagged(tag, StatusKind::Ok, None, "CAPABILITY completed"));
            }
            CommandBody::Noop => self.send(tagged(tag, StatusKind::Ok, None, "NOOP completed")),
            CommandBody::Logout => {
                self.bye("Logging out");
                self.send(tagged(tag, StatusKind::Ok, None, "LOGOUT completed"));
                self.close(CloseReason::Logout);
            }
            CommandBody::StartTls => {
                if self.config.offer_starttls && !self.config.tls_active {
                    let reply = tagged(tag, StatusKind::Ok, None, "Begin TLS negotiation now");
                    self.send(reply);
                    self.events.push_back(ServerEvent::StartTls);
                    // Anything pipelined behind STARTTLS was sent in clear text: drop it.
                    self.stream.take();
                    self.state = State::AwaitTls;
                } else if self.config.tls_active {
                    self.protocol_error(Some(tag), "TLS is already active");
                } else {
                    self.protocol_error(Some(tag), "STARTTLS is not available");
                }
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. }
                if !self.auth_allowed() =>
            {
                self.errors += 1;
                self.refuse_without_tls(Some(tag));
            }
            CommandBody::Login { username, password } => {
                let (Some(username), Some(password)) =
                    (username.as_str(), password.expose().as_str())
                else {
                    self.protocol_error(Some(tag), "User name and password must be UTF-8");
                    return;
                };
                let credentials = Credentials {
                    authzid: None,
                    username: username.to_owned(),
                    password: SecretString::from(password),
                };
                self.events.push_back(ServerEvent::Login {
                    tag: tag.clone(),
                    credentials,
                });
                self.state = State::AwaitVerdict { tag };
                self.deadline = None;
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                let Ok(exchange) = ServerExchange::from_name(mechanism.as_str().as_bytes()) else {
                    let reason = format!(
                        "Unsupported authentication mechanism {}; use PLAIN or LOGIN",
                        mechanism.as_str()
                    );
                    self.send(tagged(tag, StatusKind::No, None, &reason));
                    return;
                };
                let mut exchange =
                    exchange.with_max_response_len(self.config.parser.max_line_length);
                let encoded = initial_response.map(|ir| {
                    SecretString::new(mailgate_sasl::encode_initial_response(ir.expose()))
                });
                let step = exchange.start(encoded.as_ref().map(|e| e.expose().as_bytes()));
                self.sasl_step(tag, exchange, step);
            }
            CommandBody::Id { .. } if self.config.forward_id => {
                self.events.push_back(ServerEvent::Forward {
                    tag: tag.clone(),
                    message: message.to_vec(),
                });
                self.state = State::AwaitForward { tag };
                self.deadline = None;
            }
            CommandBody::Id { .. } => {
                self.send(Response::Data(Data::Id(IdParams(None))).to_vec());
                self.send(tagged(tag, StatusKind::Ok, None, "ID completed"));
            }
            CommandBody::Enable { .. } => {
                self.protocol_error(Some(tag), "ENABLE is only valid after login")
            }
            _ if self.config.forward_other
                && message.iter().filter(|&&b| b == b'\n').count() == 1 =>
            {
                self.events.push_back(ServerEvent::Forward {
                    tag: tag.clone(),
                    message: message.to_vec(),
                });
                self.state = State::AwaitForward { tag };
                self.deadline = None;
            }
            _ => self.protocol_error(Some(tag), "Command not available before login"),
        }
    }

    fn sasl_input(&mut self, framed: Framed) {
        let State::Sasl { tag, mut exchange } = std::mem::replace(&mut self.state, State::Commands)
        else {
            return;
        };
        let line = match framed {
            Framed::Message(line) => line,
            Framed::ContinuationNeeded => {
                self.stream.refuse_literal();
                return self.protocol_error(Some(tag), "Invalid SASL response");
            }
            Framed::Error { error, .. } => {
                return self.protocol_error(Some(tag), &format!("Invalid SASL response: {error}"));
            }
        };
        let config = self.config.parser.clone();
        let step = match AuthenticateData::parse(&line, &config) {
            Ok((_, used)) if used != line.len() => {
                return self.protocol_error(Some(tag), "Invalid SASL response: trailing data");
            }
            Ok((AuthenticateData::Cancel, _)) => exchange.step(mailgate_sasl::CANCEL.as_bytes()),
            Ok((AuthenticateData::Response(data), _)) => {
                let encoded = SecretString::new(mailgate_sasl::encode_base64(data.expose()));
                exchange.step(encoded.expose().as_bytes())
            }
            Err(e) => {
                return self.protocol_error(Some(tag), &format!("Invalid SASL response: {e}"));
            }
        };
        self.sasl_step(tag, exchange, step);
    }

    fn sasl_step(
        &mut self,
        tag: Tag<'static>,
        exchange: ServerExchange,
        step: Result<ServerStep, SaslError>,
    ) {
        match step {
            Ok(ServerStep::Challenge(challenge)) => {
                self.send(Continue::base64(challenge.raw().to_vec()).to_vec());
                self.state = State::Sasl { tag, exchange };
            }
            Ok(ServerStep::Done(credentials)) => {
                self.events.push_back(ServerEvent::Login {
                    tag: tag.clone(),
                    credentials,
                });
                self.state = State::AwaitVerdict { tag };
                self.deadline = None;
            }
            Err(SaslError::Cancelled) => {
                self.send(tagged(tag, StatusKind::Bad, None, "AUTHENTICATE cancelled"));
            }
            Err(e) => self.protocol_error(Some(tag), &format!("Invalid SASL response: {e}")),
            Ok(_) => self.send(tagged(tag, StatusKind::No, None, "Authentication failed")),
        }
    }
}

/// A tagged status line.
fn tagged(
    tag: Tag<'static>,
    kind: StatusKind,
    code: Option<Code<'static>>,
    reason: &str,
) -> Vec<u8> {
    Status::Tagged {
        tag,
        kind,
        text: RespText {
            code,
            text: text(reason),
        },
    }
    .to_vec()
}

/// The tag a message starts with, if it is a valid one (so that it may be echoed).
fn tag_of(message: &[u8]) -> Option<Tag<'static>> {
    crate::core::atom::tag(message)
        .ok()
        .filter(|(rest, _)| rest.first() == Some(&b' '))
        .map(|(_, tag)| tag.into_owned())
}
