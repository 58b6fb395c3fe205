//! The server side of the pre-authentication phase: what the proxy presents to a local
//! client until it has the client's credentials, then a hand-off to byte relaying.

use std::collections::VecDeque;
use std::time::Instant;

use mailgate_sasl::{Credentials, Mechanism, SaslError, ServerExchange, ServerStep};

use crate::command::Command;
use crate::ehlo::EhloReply;
use crate::error::CommandError;
use crate::limits::{Limits, LineEndings};
use crate::line::{Frame, LineFramer};
use crate::reply::Reply;
use crate::status::EnhancedStatus;

/// Settings of a [`ServerSession`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The domain the session names itself with (greeting, EHLO, HELO).
    pub hostname: String,
    /// Text after the domain in the `220` greeting.
    pub greeting: String,
    /// Offer STARTTLS (the driver holds a certificate for the local side).
    pub starttls: bool,
    /// The connection is already encrypted (implicit TLS, port 465).
    pub tls_active: bool,
    /// Refuse AUTH with `538` until TLS is active.
    pub require_tls_for_auth: bool,
    /// Mechanisms offered to clients (those with a server side in `mailgate-sasl`).
    pub mechanisms: Vec<Mechanism>,
    /// EHLO capabilities to present (usually the upstream server's, rewritten by the
    /// session); when `None` the session asks with [`ServerEvent::NeedCapabilities`].
    pub capabilities: Option<EhloReply>,
    /// Bounds on lines, commands and time.
    pub limits: Limits,
    /// Line endings accepted from the client.
    pub line_endings: LineEndings,
}

impl ServerConfig {
    /// Defaults: no STARTTLS, PLAIN and LOGIN offered, RFC limits.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            greeting: "ESMTP ready".to_owned(),
            starttls: false,
            tls_active: false,
            require_tls_for_auth: false,
            mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            capabilities: None,
            limits: Limits::default(),
            line_endings: LineEndings::Strict,
        }
    }
}

/// What the driver must do next, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Write these bytes to the client.
    Send(Vec<u8>),
    /// After writing everything sent before, run the TLS handshake as server, then call
    /// [`ServerSession::tls_established`]. Plaintext received after STARTTLS is dropped.
    StartTls,
    /// Supply the EHLO capabilities with [`ServerSession::set_capabilities`] (typically
    /// after reading the upstream server's EHLO reply). The session waits meanwhile.
    NeedCapabilities {
        /// The domain the client sent in EHLO.
        client_domain: String,
    },
    /// The client presented these credentials. Verify them (log in upstream), then call
    /// [`ServerSession::accept_auth`] or [`ServerSession::reject_auth`].
    Authenticate(Credentials),
    /// Authentication succeeded and `235` is queued: from here on relay bytes between
    /// client and upstream. `pending` holds client bytes received after the AUTH
    /// exchange; forward them upstream first.
    HandOff {
        /// Client bytes already received that belong to the relayed session.
        pending: Vec<u8>,
    },
    /// Close the connection after writing everything sent before.
    Close,
}

#[derive(Debug)]
enum Mode {
    Commands,
    AwaitCapabilities,
    AwaitTls,
    Sasl(ServerExchange),
    AwaitVerdict,
    Done,
}

/// The server-side SMTP session up to authentication.
///
/// Feed client bytes to [`receive`](ServerSession::receive) and execute the events from
/// [`poll_event`](ServerSession::poll_event) in order. Pipelined commands received in one
/// read are answered in order, coalesced into one `Send`.
///
/// ```
/// use std::time::Instant;
/// use mailgate_smtp::{EhloReply, ServerConfig, ServerEvent, ServerSession};
///
/// let now = Instant::now();
/// let mut config = ServerConfig::new("proxy.local");
/// config.capabilities = Some(EhloReply::new("upstream"));
/// let mut server = ServerSession::new(config, now);
/// let Some(ServerEvent::Send(greeting)) = server.poll_event() else { unreachable!() };
/// assert_eq!(greeting, b"220 proxy.local ESMTP ready\r\n");
/// server.receive(b"EHLO client\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\n", now);
/// let Some(ServerEvent::Send(ehlo)) = server.poll_event() else { unreachable!() };
/// assert_eq!(ehlo, b"250-proxy.local\r\n250 AUTH PLAIN LOGIN\r\n");
/// let Some(ServerEvent::Authenticate(creds)) = server.poll_event() else { unreachable!() };
/// assert_eq!(creds.username, "user");
/// server.accept_auth();
/// let Some(ServerEvent::Send(ok)) = server.poll_event() else { unreachable!() };
/// assert_eq!(ok, b"235 2.7.0 Authentication successful\r\n");
/// assert!(matches!(server.poll_event(), Some(ServerEvent::HandOff { .. })));
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    framer: LineFramer,
    input: Vec<u8>,
    events: VecDeque<ServerEvent>,
    mode: Mode,
    ehlo_done: bool,
    tls: bool,
    commands: usize,
    auth_failures: usize,
    deadline: Option<Instant>,
}

fn status(class: u8, subject: u16, detail: u16) -> Option<EnhancedStatus> {
    EnhancedStatus::new(class, subject, detail)
}

impl ServerSession {
    /// Starts a session and queues the `220` greeting.
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let tls = config.tls_active;
        let mut s = ServerSession {
            framer: LineFramer::new(config.line_endings),
            config,
            input: Vec::new(),
            events: VecDeque::new(),
            mode: Mode::Commands,
            ehlo_done: false,
            tls,
            commands: 0,
            auth_failures: 0,
            deadline: None,
        };
        let text = format!("{} {}", s.config.hostname, s.config.greeting);
        s.reply(220, None, text.trim_end());
        s.touch(now);
        s
    }

    /// The next thing to do, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Whether TLS is active on the client connection.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the session has handed off or closed.
    pub fn is_done(&self) -> bool {
        matches!(self.mode, Mode::Done)
    }

    /// When [`handle_timeout`](ServerSession::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Closes an idle session with `421` once its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.deadline
            && now >= deadline
        {
            let text = format!("{} Error: timeout exceeded", self.config.hostname);
            self.close(421, status(4, 4, 2), &text);
        }
    }

    /// Feeds bytes read from the client.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        match self.mode {
            Mode::Done => return,
            // Plaintext after STARTTLS and before the handshake is an injection attempt
            // (CVE-2011-0411 class): drop it.
            Mode::AwaitTls => return,
            _ => {}
        }
        self.touch(now);
        self.input.extend_from_slice(bytes);
        let cap = self
            .config
            .limits
            .auth_line
            .max(self.config.limits.command_line)
            * 4;
        if self.input.len() > cap && !matches!(self.mode, Mode::Commands | Mode::Sasl(_)) {
            self.close(421, status(4, 7, 0), "Too much pipelined input");
            return;
        }
        self.process();
    }

    /// Supplies the EHLO capabilities (see [`ServerEvent::NeedCapabilities`]). They are
    /// kept for later EHLOs too.
    pub fn set_capabilities(&mut self, capabilities: EhloReply) {
        self.config.capabilities = Some(capabilities);
        if let Mode::AwaitCapabilities = self.mode {
            self.mode = Mode::Commands;
            self.send_ehlo();
            self.process();
        }
    }

    /// Reports that the TLS handshake after STARTTLS completed. The client must now
    /// send EHLO again (RFC 3207).
    pub fn tls_established(&mut self, now: Instant) {
        if let Mode::AwaitTls = self.mode {
            self.tls = true;
            self.ehlo_done = false;
            self.mode = Mode::Commands;
            self.input.clear();
            self.touch(now);
        }
    }

    /// Accepts the credentials of the last [`ServerEvent::Authenticate`]: queues `235`
    /// and hands off.
    pub fn accept_auth(&mut self) {
        if let Mode::AwaitVerdict = self.mode {
            self.reply(235, status(2, 7, 0), "Authentication successful");
            let pending = std::mem::take(&mut self.input);
            self.events.push_back(ServerEvent::HandOff { pending });
            self.mode = Mode::Done;
            self.deadline = None;
        }
    }

    /// Rejects the credentials of the last [`ServerEvent::Authenticate`] with `reply`
    /// (default `535 5.7.8 Authentication credentials invalid`; use `454 4.7.0` for a
    /// temporary upstream failure). Closes after too many failures; a temporary (4xx) reply
    /// says nothing about the credentials and does not count towards them.
    pub fn reject_auth(&mut self, reply: Option<Reply<'static>>) {
        if let Mode::AwaitVerdict = self.mode {
            let reply = reply.unwrap_or_else(|| {
                Reply::new(535, status(5, 7, 8), "Authentication credentials invalid")
            });
            let permanent = reply.code >= 500;
            self.push_send(reply.to_bytes());
            self.mode = Mode::Commands;
            if permanent {
                self.auth_failed();
            }
            self.process();
        }
    }

    fn auth_failed(&mut self) {
        self.auth_failures += 1;
        if self.auth_failures >= self.config.limits.auth_failures {
            self.close(421, status(4, 7, 0), "Too many authentication failures");
        }
    }

    fn touch(&mut self, now: Instant) {
        if !matches!(self.mode, Mode::Done) {
            self.deadline = now.checked_add(self.config.limits.idle_timeout);
        }
    }

    fn push_send(&mut self, bytes: Vec<u8>) {
        if let Some(ServerEvent::Send(last)) = self.events.back_mut() {
            last.extend_from_slice(&bytes);
        } else {
            self.events.push_back(ServerEvent::Send(bytes));
        }
    }

    fn reply(&mut self, code: u16, st: Option<EnhancedStatus>, text: &str) {
        self.push_send(Reply::new(code, st, text).to_bytes());
    }

    fn close(&mut self, code: u16, st: Option<EnhancedStatus>, text: &str) {
        if matches!(self.mode, Mode::Done) {
            return;
        }
        self.reply(code, st, text);
        self.events.push_back(ServerEvent::Close);
        self.mode = Mode::Done;
        self.input.clear();
        self.deadline = None;
    }

    fn line_limit(&self) -> usize {
        let limits = &self.config.limits;
        let is_auth = self.input.len() >= 5 && self.input[..5].eq_ignore_ascii_case(b"AUTH ");
        if matches!(self.mode, Mode::Sasl(_)) || is_auth {
            limits.auth_line.max(limits.command_line)
        } else {
            limits.command_line
        }
    }

    /// Handles complete lines until input runs out or the session must wait.
    fn process(&mut self) {
        while matches!(self.mode, Mode::Commands | Mode::Sasl(_)) {
            let limit = self.line_limit();
            let (consumed, line) = match self.framer.next_line(&self.input, limit) {
                Frame::Incomplete => return,
                Frame::Line { line, consumed } => (consumed, Some(line.to_vec())),
                Frame::TooLong { consumed } => {
                    self.commands += 1;
                    if let Mode::Sasl(_) = self.mode {
                        self.mode = Mode::Commands;
                        self.reply(
                            500,
                            status(5, 5, 6),
                            "Authentication exchange line too long",
                        );
                        self.auth_failed();
                    } else {
                        self.reply(500, status(5, 5, 6), "Line too long");
                    }
                    (consumed, None)
                }
                Frame::Discarded { consumed } => (consumed, None),
            };
            // A refusal above may have ended the session (too many failed logins), which
            // clears the input.
            if matches!(self.mode, Mode::Done) {
                return;
            }
            self.input.drain(..consumed.min(self.input.len()));
            if let Some(line) = line {
                if let Mode::Sasl(_) = self.mode {
                    self.sasl_line(&line);
                } else {
                    self.commands += 1;
                    if self.commands > self.config.limits.commands {
                        self.close(421, status(4, 7, 0), "Too many commands");
                        return;
                    }
                    self.command_line(&line);
                }
            }
        }
    }

    fn command_line(&mut self, line: &[u8]) {
        let cmd = match Command::parse(line) {
            Ok(cmd) => cmd,
            Err(e) => {
                let (st, text) = match &e {
                    CommandError::Empty | CommandError::UnknownVerb => (
                        status(5, 5, 2),
                        "Syntax error, command unrecognized".to_owned(),
                    ),
                    CommandError::Parameter { .. } => (status(5, 5, 4), e.to_string()),
                    _ => (status(5, 5, 4), format!("Syntax error: {e}")),
                };
                self.reply(e.reply_code(), st, &text);
                return;
            }
        };
        match cmd {
            Command::Ehlo { domain } => {
                self.ehlo_done = true;
                if self.config.capabilities.is_some() {
                    self.send_ehlo();
                } else {
                    let client_domain = domain.to_owned();
                    self.events
                        .push_back(ServerEvent::NeedCapabilities { client_domain });
                    self.mode = Mode::AwaitCapabilities;
                }
            }
            Command::Helo { .. } => {
                self.ehlo_done = true;
                let text = self.config.hostname.clone();
                self.reply(250, None, &text);
            }
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                self.auth(mechanism, initial_response.map(str::as_bytes));
            }
            Command::Noop { .. } | Command::Rset => self.reply(250, status(2, 0, 0), "OK"),
            Command::Help { .. } => {
                self.reply(214, status(2, 0, 0), "See RFC 5321; log in with AUTH first")
            }
            Command::Quit => {
                let text = format!("{} closing connection", self.config.hostname);
                self.close(221, status(2, 0, 0), &text);
            }
            Command::Mail { .. }
            | Command::Rcpt { .. }
            | Command::Data
            | Command::Bdat { .. }
            | Command::Vrfy { .. }
            | Command::Expn { .. } => {
                self.reply(530, status(5, 7, 0), "Authentication required");
            }
        }
    }

    fn offered_mechanisms(&self) -> Vec<&'static str> {
        let tls_ok = self.tls || !self.config.require_tls_for_auth;
        if !tls_ok {
            return Vec::new();
        }
        self.config
            .mechanisms
            .iter()
            .filter(|m| m.has_server())
            .map(|m| m.as_str())
            .collect()
    }

    fn send_ehlo(&mut self) {
        let mut ehlo = self
            .config
            .capabilities
            .clone()
            .unwrap_or_else(|| EhloReply::new(""));
        ehlo.domain = self.config.hostname.clone();
        ehlo.set_auth_mechanisms(&self.offered_mechanisms());
        ehlo.set_starttls(self.config.starttls && !self.tls);
        self.push_send(ehlo.to_reply().to_bytes());
    }

    fn starttls(&mut self) {
        if self.tls {
            self.reply(503, status(5, 5, 1), "TLS already active");
        } else if !self.config.starttls {
            self.reply(502, status(5, 5, 1), "STARTTLS not available");
        } else if !self.ehlo_done {
            self.reply(503, status(5, 5, 1), "Send EHLO first");
        } else {
            self.reply(220, status(2, 0, 0), "Ready to start TLS");
            self.events.push_back(ServerEvent::StartTls);
            self.mode = Mode::AwaitTls;
            // Anything pipelined behind STARTTLS was sent in plaintext: drop it.
            self.input.clear();
        }
    }

    fn auth(&mut self, mechanism: &str, initial_response: Option<&[u8]>) {
        if !self.ehlo_done {
            self.reply(503, status(5, 5, 1), "Send EHLO first");
            return;
        }
        let offered = self
            .config
            .mechanisms
            .iter()
            .copied()
            .find(|m| m.has_server() && m.as_str().eq_ignore_ascii_case(mechanism));
        let Some(mechanism) = offered else {
            self.reply(504, status(5, 5, 4), "Unrecognized authentication type");
            return;
        };
        if self.config.require_tls_for_auth && !self.tls {
            self.reply(
                538,
                status(5, 7, 11),
                "Encryption required for requested authentication mechanism",
            );
            return;
        }
        let mut exchange = match ServerExchange::new(mechanism) {
            Ok(x) => x.with_max_response_len(self.config.limits.auth_line),
            Err(_) => {
                self.reply(504, status(5, 5, 4), "Unrecognized authentication type");
                return;
            }
        };
        let step = exchange.start(initial_response);
        self.sasl_step(exchange, step);
    }

    fn sasl_line(&mut self, line: &[u8]) {
        let Mode::Sasl(mut exchange) = std::mem::replace(&mut self.mode, Mode::Commands) else {
            return;
        };
        let step = exchange.step(line);
        self.sasl_step(exchange, step);
    }

    fn sasl_step(&mut self, exchange: ServerExchange, step: Result<ServerStep, SaslError>) {
        match step {
            Ok(ServerStep::Challenge(c)) => {
                // "334 " with the space even for an empty challenge: some clients need it.
                let mut line = b"334 ".to_vec();
                line.extend_from_slice(c.base64().as_bytes());
                line.extend_from_slice(b"\r\n");
                self.push_send(line);
                self.mode = Mode::Sasl(exchange);
            }
            Ok(ServerStep::Done(credentials)) => {
                self.events
                    .push_back(ServerEvent::Authenticate(credentials));
                self.mode = Mode::AwaitVerdict;
            }
            Ok(_) => {
                self.reply(454, status(4, 7, 0), "Temporary authentication failure");
            }
            Err(SaslError::Cancelled) => {
                self.reply(501, status(5, 0, 0), "Authentication cancelled");
                self.auth_failed();
            }
            Err(SaslError::Base64 { .. }) => {
                self.reply(501, status(5, 5, 2), "Cannot decode response");
                self.auth_failed();
            }
            Err(e) => {
                let text = format!("Invalid authentication exchange: {e}");
                self.reply(501, status(5, 5, 4), &text);
                self.auth_failed();
            }
        }
    }
}
