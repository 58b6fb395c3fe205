//! The server-side session: what a proxy presents to a local POP3 client until the
//! client has logged in.

use std::collections::VecDeque;

use mailgate_sasl::{Credentials, SaslError, ServerExchange, ServerStep};

use crate::{Capabilities, Command, Limits, LineBuffer, Pop3Error, ResponseCode, StatusLine};

/// How the server session presents itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The greeting text after `+OK`.
    pub greeting: String,
    /// The capabilities to advertise. The session rewrites them: `SASL PLAIN LOGIN`
    /// and `USER` are set, and `STLS` is shown only while STLS is on offer.
    pub capabilities: Capabilities,
    /// Whether to offer STLS (RFC 2595) on this plaintext connection.
    pub offer_stls: bool,
    /// Whether the connection is already protected by TLS (POP3S); then no STLS.
    pub tls_active: bool,
    /// Refuse `USER`, `PASS` and `AUTH` with `-ERR [AUTH]` until TLS is active, and leave
    /// `USER` and `SASL` out of `CAPA` until then (passwords never cross in clear text).
    pub require_tls_for_auth: bool,
    /// Length and error limits.
    pub limits: Limits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            greeting: "POP3 server ready".to_owned(),
            capabilities: Capabilities::parse(
                b"TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n",
            ),
            offer_stls: false,
            tls_active: false,
            require_tls_for_auth: false,
            limits: Limits::DEFAULT,
        }
    }
}

/// Why a server session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent `QUIT`.
    Quit,
    /// The client made more protocol errors than [`Limits::max_errors`].
    TooManyErrors,
    /// More failed logins than [`Limits::max_auth_failures`].
    TooManyAuthFailures,
    /// More commands before login than [`Limits::max_commands`].
    TooManyCommands,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Write these bytes to the client.
    Send(Vec<u8>),
    /// Start the TLS handshake now (the `+OK` to `STLS` was already sent), then call
    /// [`ServerSession::tls_established`].
    StartTls,
    /// The client presented credentials: verify them (e.g. log in upstream), then
    /// call [`ServerSession::accept_login`] or [`ServerSession::reject_login`].
    Login(Credentials),
    /// Logged in: stop using the session and relay bytes from here. `pipelined`
    /// holds bytes the client already sent after its login (relay them first).
    Authenticated {
        /// Client bytes received after the login command.
        pipelined: Vec<u8>,
    },
    /// Close the connection (after writing any `Send` before this event).
    Closed(CloseReason),
}

#[derive(Debug)]
enum State {
    Authorization,
    AwaitTls,
    Sasl(ServerExchange),
    AwaitVerdict,
    Authenticated,
    Closed,
}

/// The POP3 AUTHORIZATION state as a proxy presents it, sans I/O: feed bytes with
/// [`receive`](ServerSession::receive), act on [`poll_event`](ServerSession::poll_event).
///
/// Accepts `CAPA`, `STLS`, `USER`/`PASS`, `AUTH PLAIN` and `AUTH LOGIN` (with or
/// without initial response, `*` cancels) and `QUIT`; answers everything else with
/// `-ERR`. Over-long lines get one `-ERR` and are discarded to the next line.
/// Plaintext pipelined after `STLS` is discarded (no command injection).
///
/// ```
/// use mailgate_pop3::{ServerConfig, ServerEvent, ServerSession};
///
/// let mut session = ServerSession::new(ServerConfig::default());
/// let mut sent = Vec::new();
/// session.receive(b"USER tim\r\nPASS secret\r\n");
/// while let Some(event) = session.poll_event() {
///     match event {
///         ServerEvent::Send(bytes) => sent.extend(bytes),
///         ServerEvent::Login(creds) => {
///             assert_eq!(creds.username, "tim");
///             session.accept_login(); // e.g. after the upstream login succeeded
///         }
///         ServerEvent::Authenticated { pipelined } => assert!(pipelined.is_empty()),
///         other => unreachable!("{other:?}"),
///     }
/// }
/// assert_eq!(sent, b"+OK POP3 server ready\r\n+OK\r\n+OK Logged in.\r\n");
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    state: State,
    lines: LineBuffer,
    events: VecDeque<ServerEvent>,
    username: Option<String>,
    errors: u32,
    auth_failures: u32,
    commands: u32,
}

impl ServerSession {
    /// A new session; the first event is the greeting.
    pub fn new(config: ServerConfig) -> Self {
        let mut events = VecDeque::new();
        events.push_back(ServerEvent::Send(
            StatusLine::ok(config.greeting.clone()).to_bytes(),
        ));
        let lines = LineBuffer::new(config.limits.auth_line.max(config.limits.command_line));
        Self {
            config,
            state: State::Authorization,
            lines,
            events,
            username: None,
            errors: 0,
            auth_failures: 0,
            commands: 0,
        }
    }

    /// Feeds bytes received from the client. Bytes received while waiting for the
    /// TLS handshake are discarded, as are bytes after the session closed.
    pub fn receive(&mut self, data: &[u8]) {
        match self.state {
            State::AwaitTls | State::Closed => {}
            _ => self.lines.push(data),
        }
    }

    /// The capabilities as currently advertised to the client.
    pub fn capabilities(&self) -> Capabilities {
        let mut capa = self.config.capabilities.clone();
        if self.auth_allowed() {
            capa.set_sasl(&["PLAIN", "LOGIN"]);
            capa.set("USER", &[]);
        } else {
            capa.remove("SASL");
            capa.remove("USER");
        }
        if self.config.offer_stls && !self.config.tls_active {
            capa.set("STLS", &[]);
        } else {
            capa.remove("STLS");
        }
        capa
    }

    /// Whether credentials may be sent now (`require_tls_for_auth`).
    fn auth_allowed(&self) -> bool {
        self.config.tls_active || !self.config.require_tls_for_auth
    }

    /// Refuses a login command sent before TLS (`require_tls_for_auth`).
    fn refuse_without_tls(&mut self) {
        self.protocol_error(
            "[AUTH] Use STLS first: this server does not accept passwords in clear text.",
        );
    }

    /// Whether the session has handed off or closed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Authenticated | State::Closed)
    }

    /// The next thing to do, or `None` when the session needs more input (or a
    /// call to `tls_established`/`accept_login`/`reject_login`).
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            match self.state {
                State::Authorization | State::Sasl(_) => {}
                State::AwaitTls | State::AwaitVerdict | State::Authenticated | State::Closed => {
                    return None;
                }
            }
            let line = self.lines.next_line()?;
            self.handle_line(line);
        }
    }

    /// The TLS handshake after `STLS` completed. The session forgets the `USER`
    /// name and any input received before (RFC 2595 section 4).
    pub fn tls_established(&mut self) {
        if matches!(self.state, State::AwaitTls) {
            self.config.tls_active = true;
            self.username = None;
            self.lines.take_buffered();
            self.state = State::Authorization;
        }
    }

    /// The credentials from the last [`ServerEvent::Login`] were accepted: sends
    /// `+OK Logged in.` and hands off.
    pub fn accept_login(&mut self) {
        self.accept_login_with(&StatusLine::ok("Logged in."));
    }

    /// Like [`accept_login`](ServerSession::accept_login) with a custom `+OK` line
    /// (e.g. the upstream server's).
    pub fn accept_login_with(&mut self, reply: &StatusLine) {
        if !matches!(self.state, State::AwaitVerdict) {
            return;
        }
        let mut line = reply.clone();
        line.status = crate::Status::Ok;
        self.events.push_back(ServerEvent::Send(line.to_bytes()));
        self.events.push_back(ServerEvent::Authenticated {
            pipelined: self.lines.take_buffered(),
        });
        self.state = State::Authenticated;
    }

    /// The credentials were rejected: sends `-ERR [AUTH] <text>` and lets the client
    /// try again, or closes after [`Limits::max_auth_failures`] failures.
    pub fn reject_login(&mut self, text: &str) {
        if !matches!(self.state, State::AwaitVerdict) {
            return;
        }
        self.state = State::Authorization;
        self.username = None;
        self.auth_failures += 1;
        self.send(StatusLine::err(text).with_code(ResponseCode::Auth));
        if self.auth_failures >= self.config.limits.max_auth_failures {
            self.close(CloseReason::TooManyAuthFailures);
        }
    }

    /// Refuses the pending login for a temporary reason (`-ERR [SYS/TEMP] text`, RFC 3206):
    /// the credentials may be right, the client should retry later. It does not count towards
    /// `max_auth_failures`.
    pub fn reject_login_temporarily(&mut self, text: &str) {
        if !matches!(self.state, State::AwaitVerdict) {
            return;
        }
        self.state = State::Authorization;
        self.username = None;
        self.send(StatusLine::err(text).with_code(ResponseCode::SysTemp));
    }

    fn send(&mut self, line: StatusLine) {
        self.events.push_back(ServerEvent::Send(line.to_bytes()));
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.lines.take_buffered();
        self.events.push_back(ServerEvent::Closed(reason));
    }

    fn protocol_error(&mut self, text: &str) {
        self.errors += 1;
        if self.errors > self.config.limits.max_errors {
            self.send(StatusLine::err("Too many errors, closing connection."));
            self.close(CloseReason::TooManyErrors);
        } else {
            self.send(StatusLine::err(text));
        }
    }

    fn handle_line(&mut self, line: Result<Vec<u8>, Pop3Error>) {
        if let State::Sasl(exchange) = &mut self.state {
            let result = match &line {
                Ok(text) => exchange.step(text),
                // An over-long continuation ends the exchange; its true length is unknown
                // (the rest of it is discarded), so say what the framer saw.
                Err(e) => {
                    self.state = State::Authorization;
                    return self.protocol_error(&e.to_string());
                }
            };
            self.sasl_result(result);
            return;
        }
        self.commands += 1;
        if self.commands > self.config.limits.max_commands {
            self.send(StatusLine::err("Too many commands, closing connection."));
            return self.close(CloseReason::TooManyCommands);
        }
        let line = match line {
            Ok(line) => line,
            Err(e) => return self.protocol_error(&e.to_string()),
        };
        let is_auth = line
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "));
        if !is_auth && line.len() + 2 > self.config.limits.command_line {
            let e = Pop3Error::LineTooLong {
                max: self.config.limits.command_line,
            };
            return self.protocol_error(&e.to_string());
        }
        match Command::parse(&line) {
            Ok(command) => self.handle_command(command),
            Err(e) => self.protocol_error(&e.to_string()),
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Capa => {
                let response = self.capabilities().to_response();
                self.events.push_back(ServerEvent::Send(response));
            }
            Command::Stls => {
                if self.config.offer_stls && !self.config.tls_active {
                    self.send(StatusLine::ok("Begin TLS negotiation now."));
                    self.events.push_back(ServerEvent::StartTls);
                    // Anything pipelined after STLS is plaintext injection: drop it.
                    self.lines.take_buffered();
                    self.state = State::AwaitTls;
                } else if self.config.tls_active {
                    self.protocol_error("TLS is already active.");
                } else {
                    self.protocol_error("STLS is not available.");
                }
            }
            Command::AuthList if !self.auth_allowed() => {
                self.events
                    .push_back(ServerEvent::Send(b"+OK\r\n.\r\n".to_vec()));
            }
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } if !self.auth_allowed() => {
                self.refuse_without_tls();
            }
            Command::User(name) => {
                self.username = Some(name);
                self.send(StatusLine::ok(""));
            }
            Command::Pass(password) => match self.username.take() {
                Some(username) => {
                    self.state = State::AwaitVerdict;
                    self.events.push_back(ServerEvent::Login(Credentials {
                        authzid: None,
                        username,
                        password,
                    }));
                }
                None => self.protocol_error("No USER given."),
            },
            Command::AuthList => {
                self.events.push_back(ServerEvent::Send(
                    b"+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n".to_vec(),
                ));
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                let mut exchange = match ServerExchange::from_name(mechanism.as_bytes()) {
                    Ok(exchange) => exchange,
                    Err(_) => return self.protocol_error("Unsupported authentication mechanism."),
                };
                exchange = exchange.with_max_response_len(self.config.limits.auth_line);
                let result =
                    exchange.start(initial_response.as_ref().map(|ir| ir.expose().as_bytes()));
                self.state = State::Sasl(exchange);
                self.sasl_result(result);
            }
            Command::Quit => {
                self.send(StatusLine::ok("Logging out."));
                self.close(CloseReason::Quit);
            }
            Command::Apop { .. } => self.protocol_error("APOP is not supported."),
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Top { .. }
            | Command::Uidl(_) => self.protocol_error("Not logged in."),
        }
    }

    fn sasl_result(&mut self, result: Result<ServerStep, SaslError>) {
        match result {
            Ok(ServerStep::Challenge(c)) => {
                let mut line = b"+ ".to_vec();
                line.extend_from_slice(c.base64().as_bytes());
                line.extend_from_slice(b"\r\n");
                self.events.push_back(ServerEvent::Send(line));
            }
            Ok(ServerStep::Done(credentials)) => {
                self.state = State::AwaitVerdict;
                self.events.push_back(ServerEvent::Login(credentials));
            }
            Err(SaslError::Cancelled) => {
                self.state = State::Authorization;
                self.send(StatusLine::err("Authentication cancelled."));
            }
            Ok(_) => {
                self.state = State::Authorization;
                self.protocol_error("Authentication failed.");
            }
            Err(e) => {
                self.state = State::Authorization;
                self.protocol_error(&e.to_string());
            }
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
