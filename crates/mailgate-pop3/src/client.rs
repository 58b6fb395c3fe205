//! The client-side session: what a proxy does upstream until it has logged in.

use std::collections::VecDeque;

use mailgate_sasl::{CANCEL, ClientExchange, ClientStep, ProviderError, SaslError, SecretBytes};
use thiserror::Error;

use crate::{
    Capabilities, Command, Limits, LineBuffer, MultilineDecoder, Pop3Error, ServerLine, StatusLine,
};

/// How the client session logs in.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Upgrade the connection with `STLS` (RFC 2595) before authenticating.
    pub starttls: bool,
    /// Send the SASL initial response on the `AUTH` line (RFC 5034 section 4).
    /// Even when set, it is left off if the line would exceed
    /// [`Limits::command_line`] (255 octets), as RFC 5034 requires; the response is
    /// then sent after the server's empty `+ ` challenge.
    pub use_initial_response: bool,
    /// Length limits for server lines.
    pub limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            starttls: false,
            use_initial_response: true,
            limits: Limits::UPSTREAM,
        }
    }
}

/// Why the upstream login failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClientFailure {
    /// The server greeted with `-ERR`.
    #[error("server refused the connection: {0}")]
    Greeting(StatusLine),
    /// The server refused `STLS`, which the configuration requires.
    #[error("server refused STLS: {0}")]
    StlsRefused(StatusLine),
    /// The server sent plaintext after its `+OK` to `STLS` (possible injection).
    #[error("server sent data after accepting STLS, before the TLS handshake")]
    PlaintextAfterStls,
    /// Authentication failed; `provider_error` holds the decoded error challenge,
    /// if the server sent one.
    #[error("authentication failed: {reply}{}", provider_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    AuthFailed {
        /// The server's `-ERR` line.
        reply: StatusLine,
        /// The provider's decoded error (XOAUTH2/OAUTHBEARER error challenge).
        provider_error: Option<ProviderError>,
    },
    /// The SASL exchange broke on this side (an undecodable or unexpected challenge), so it
    /// was cancelled; the server's `-ERR` to the cancel says nothing about the credentials.
    #[error("SASL exchange failed: {0}")]
    Sasl(SaslError),
    /// The server sent something that is not POP3 or not valid at this point.
    #[error("protocol error from server: {0}")]
    Protocol(#[from] Pop3Error),
    /// The server sent a continuation where none belongs.
    #[error("unexpected continuation from server")]
    UnexpectedContinuation,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Write these bytes to the server.
    Send(Vec<u8>),
    /// Write these bytes to the server; they carry credentials (never log them).
    SendSecret(SecretBytes),
    /// Start the TLS handshake now, then call [`ClientSession::tls_established`].
    StartTls,
    /// Ready to authenticate: inspect [`ClientSession::capabilities`], then call
    /// [`ClientSession::authenticate`] with a SASL exchange (e.g. XOAUTH2 with a
    /// fresh access token).
    NeedCredentials,
    /// Logged in: relay bytes from here. `buffered` holds server bytes already
    /// received after the `+OK` (relay them first).
    Authenticated {
        /// Server bytes received after the login reply.
        buffered: Vec<u8>,
    },
    /// The login failed; close or `QUIT`.
    Failed(ClientFailure),
}

#[derive(Debug)]
enum State {
    Greeting,
    CapaStatus,
    CapaBody(MultilineDecoder, Vec<u8>),
    Stls,
    AwaitTls,
    AwaitCredentials,
    /// The exchange, and why this side cancelled it, once it has.
    Authenticating(Box<ClientExchange>, Option<SaslError>),
    Done,
}

/// The upstream side of a proxy's POP3 login, sans I/O.
///
/// Reads the greeting, sends `CAPA`, upgrades with `STLS` when configured (and
/// re-reads `CAPA` afterwards), asks for credentials, runs the SASL exchange
/// including the provider's error challenge, and hands off.
///
/// ```
/// use mailgate_pop3::{ClientConfig, ClientEvent, ClientSession};
/// use mailgate_sasl::{ClientExchange, SecretString};
///
/// let mut session = ClientSession::new(ClientConfig::default());
/// let mut to_server = Vec::new();
/// let mut outcome = None;
/// let mut server = [
///     &b"+OK ready\r\n"[..],
///     b"+OK\r\nSASL XOAUTH2\r\n.\r\n",
///     b"+OK Logged in.\r\n",
/// ].into_iter();
/// loop {
///     while let Some(event) = session.poll_event() {
///         match event {
///             ClientEvent::Send(bytes) => to_server.extend(bytes),
///             ClientEvent::SendSecret(bytes) => to_server.extend(bytes.expose()),
///             ClientEvent::NeedCredentials => {
///                 assert!(session.capabilities().supports_sasl("XOAUTH2"));
///                 let token = SecretString::from("ya29.token");
///                 session.authenticate(ClientExchange::xoauth2("user@example.com", token));
///             }
///             other => outcome = Some(other),
///         }
///     }
///     match server.next() {
///         Some(bytes) => session.receive(bytes),
///         None => break,
///     }
/// }
/// assert_eq!(outcome, Some(ClientEvent::Authenticated { buffered: Vec::new() }));
/// assert!(to_server.starts_with(b"CAPA\r\nAUTH XOAUTH2 dXNlcj11c2VyQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ==\r\n"));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: State,
    lines: LineBuffer,
    events: VecDeque<ClientEvent>,
    greeting: Option<StatusLine>,
    capabilities: Capabilities,
    tls_active: bool,
}

impl ClientSession {
    /// A new session, waiting for the server greeting.
    pub fn new(config: ClientConfig) -> Self {
        let lines = LineBuffer::new(config.limits.auth_line.max(config.limits.response_line));
        Self {
            config,
            state: State::Greeting,
            lines,
            events: VecDeque::new(),
            greeting: None,
            capabilities: Capabilities::new(),
            tls_active: false,
        }
    }

    /// Feeds bytes received from the server.
    pub fn receive(&mut self, data: &[u8]) {
        match self.state {
            State::Done => {}
            State::AwaitTls => {
                if !data.is_empty() {
                    self.fail(ClientFailure::PlaintextAfterStls);
                }
            }
            _ => self.lines.push(data),
        }
    }

    /// The server greeting, once received.
    pub fn greeting(&self) -> Option<&StatusLine> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last `CAPA` (empty if the server has none).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether the session has handed off or failed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The TLS handshake after `STLS` completed: the session re-issues `CAPA`.
    pub fn tls_established(&mut self) {
        if matches!(self.state, State::AwaitTls) {
            self.tls_active = true;
            self.send_command(&Command::Capa);
            self.state = State::CapaStatus;
        }
    }

    /// Starts authentication with `exchange` (after [`ClientEvent::NeedCredentials`]).
    pub fn authenticate(&mut self, mut exchange: ClientExchange) {
        if !matches!(self.state, State::AwaitCredentials) {
            return;
        }
        let mechanism = exchange.mechanism().as_str().to_owned();
        let mut initial_response = None;
        if self.config.use_initial_response
            && let Some(ir) = exchange.initial_response_base64()
            && "AUTH ".len() + mechanism.len() + 1 + ir.expose().len() + 2
                <= self.config.limits.command_line
        {
            initial_response = Some(ir);
        }
        // `start` only fails when called twice; a fresh exchange is expected here.
        let started = exchange.start(initial_response.is_some());
        if started.is_err() {
            self.fail(ClientFailure::Protocol(Pop3Error::InvalidStatus));
            return;
        }
        let command = Command::Auth {
            mechanism,
            initial_response,
        };
        self.events
            .push_back(ClientEvent::SendSecret(SecretBytes::new(
                command.to_bytes(),
            )));
        self.state = State::Authenticating(Box::new(exchange), None);
    }

    /// The next thing to do, or `None` when more input (or a call to
    /// `tls_established`/`authenticate`) is needed.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            match &mut self.state {
                State::Done | State::AwaitTls | State::AwaitCredentials => return None,
                State::CapaBody(decoder, body) => {
                    let progress = decoder.decode(self.lines.buffered(), body);
                    match progress {
                        Ok(p) => {
                            self.lines.consume(p.consumed);
                            if !p.done {
                                return None;
                            }
                            self.capabilities = Capabilities::parse(body);
                            self.after_capa();
                        }
                        Err(e) => self.fail(e.into()),
                    }
                }
                _ => {
                    let line = self.lines.next_line()?;
                    let max = self.config.limits.response_line;
                    let line = line.and_then(|l| {
                        // Continuations carry tokens and error JSON: `auth_line` bounds
                        // them; every other line is bounded by `response_line`.
                        if l.len() + 2 > max && !l.starts_with(b"+ ") {
                            Err(Pop3Error::LineTooLong { max })
                        } else {
                            Ok(l)
                        }
                    });
                    match line.and_then(|l| ServerLine::parse(&l)) {
                        Ok(line) => self.handle_line(line),
                        Err(e) => self.fail(e.into()),
                    }
                }
            }
        }
    }

    fn send_command(&mut self, command: &Command) {
        self.events.push_back(ClientEvent::Send(command.to_bytes()));
    }

    fn fail(&mut self, failure: ClientFailure) {
        self.state = State::Done;
        self.lines.take_buffered();
        self.events.push_back(ClientEvent::Failed(failure));
    }

    fn after_capa(&mut self) {
        if self.config.starttls && !self.tls_active {
            self.send_command(&Command::Stls);
            self.state = State::Stls;
        } else {
            self.state = State::AwaitCredentials;
            self.events.push_back(ClientEvent::NeedCredentials);
        }
    }

    fn handle_line(&mut self, line: ServerLine) {
        let status = match line {
            ServerLine::Status(status) => status,
            ServerLine::Continuation(text) => return self.continuation(&text),
        };
        match &self.state {
            State::Greeting => {
                if status.is_ok() {
                    self.greeting = Some(status);
                    self.send_command(&Command::Capa);
                    self.state = State::CapaStatus;
                } else {
                    self.fail(ClientFailure::Greeting(status));
                }
            }
            State::CapaStatus => {
                if status.is_ok() {
                    let limits = &self.config.limits;
                    self.state = State::CapaBody(
                        MultilineDecoder::new(limits.response_line, limits.multiline_total),
                        Vec::new(),
                    );
                } else {
                    // A server without CAPA (RFC 1939 only).
                    self.capabilities = Capabilities::new();
                    self.after_capa();
                }
            }
            State::Stls => {
                if !status.is_ok() {
                    return self.fail(ClientFailure::StlsRefused(status));
                }
                if !self.lines.buffered().is_empty() {
                    return self.fail(ClientFailure::PlaintextAfterStls);
                }
                self.state = State::AwaitTls;
                self.events.push_back(ClientEvent::StartTls);
            }
            State::Authenticating(exchange, cancelled) => {
                if status.is_ok() {
                    self.state = State::Done;
                    self.events.push_back(ClientEvent::Authenticated {
                        buffered: self.lines.take_buffered(),
                    });
                } else if let Some(error) = cancelled {
                    let error = error.clone();
                    self.fail(ClientFailure::Sasl(error));
                } else {
                    let provider_error = exchange.provider_error().cloned();
                    self.fail(ClientFailure::AuthFailed {
                        reply: status,
                        provider_error,
                    });
                }
            }
            State::CapaBody(..) | State::AwaitTls | State::AwaitCredentials | State::Done => {}
        }
    }

    fn continuation(&mut self, text: &str) {
        let State::Authenticating(exchange, cancelled) = &mut self.state else {
            return self.fail(ClientFailure::UnexpectedContinuation);
        };
        if cancelled.is_some() {
            // Already cancelled: the server must answer with -ERR now.
            return self.fail(ClientFailure::UnexpectedContinuation);
        }
        let line = |s: &str| {
            let mut out = s.as_bytes().to_vec();
            out.extend_from_slice(b"\r\n");
            out
        };
        match exchange.step(text.as_bytes()) {
            Ok(ClientStep::Respond(response)) => {
                self.events
                    .push_back(ClientEvent::SendSecret(SecretBytes::new(line(
                        response.expose(),
                    ))));
            }
            Ok(ClientStep::ErrorChallenge { response, .. }) => {
                self.events.push_back(ClientEvent::Send(line(&response)));
            }
            other => {
                // Abort the exchange; the server answers with -ERR.
                *cancelled = Some(match other {
                    Err(error) => error,
                    Ok(_) => SaslError::UnexpectedChallenge {
                        mechanism: exchange.mechanism().as_str(),
                    },
                });
                self.events.push_back(ClientEvent::Send(line(CANCEL)));
            }
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
