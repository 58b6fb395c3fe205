//! The client side of the pre-authentication phase: what the proxy does upstream until
//! it is logged in with an OAuth 2.0 token, then a hand-off to byte relaying.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use mailgate_sasl::{ClientExchange, ClientStep, ProviderError, SaslError, SecretBytes};
use thiserror::Error;

use crate::command::Command;
use crate::ehlo::{Capability, EhloReply};
use crate::error::ReplyError;
use crate::limits::Limits;
use crate::reply::{Reply, ReplyStatus};

/// Settings of a [`ClientSession`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The domain sent in EHLO.
    pub ehlo_domain: String,
    /// Upgrade the connection with STARTTLS before authenticating; fail if the server
    /// does not offer it (no silent downgrade).
    pub starttls: bool,
    /// Bounds on replies and time.
    pub limits: Limits,
}

impl ClientConfig {
    /// Defaults: no STARTTLS (implicit TLS or a trusted path), RFC limits.
    pub fn new(ehlo_domain: impl Into<String>) -> Self {
        ClientConfig {
            ehlo_domain: ehlo_domain.into(),
            starttls: false,
            limits: Limits::default(),
        }
    }
}

/// What the driver must do next, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Write these bytes to the server.
    Send(Vec<u8>),
    /// Write these bytes to the server; they carry a credential, never log them.
    SendSecret(SecretBytes),
    /// After writing everything sent before, run the TLS handshake as client, then call
    /// [`ClientSession::tls_established`].
    StartTls,
    /// The server's final EHLO reply (after TLS, if used), for the local side to present.
    Capabilities(EhloReply),
    /// Call [`ClientSession::authenticate`] with the SASL exchange to run (typically
    /// XOAUTH2 or OAUTHBEARER with a fresh access token).
    NeedAuthentication,
    /// The server accepted the credentials.
    Authenticated,
    /// Relay bytes from here on. `pending` holds server bytes received after the `235`.
    HandOff {
        /// Server bytes already received that belong to the relayed session.
        pending: Vec<u8>,
    },
    /// The session failed; close the connection and report the error to the user.
    Failed(ClientError),
}

/// The step of the session a server reply refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The `220` greeting.
    Greeting,
    /// EHLO.
    Ehlo,
    /// STARTTLS.
    StartTls,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::StartTls => "STARTTLS",
        })
    }
}

fn provider_suffix(e: &Option<ProviderError>) -> String {
    e.as_ref()
        .map(|e| format!(" (provider said: {e})"))
        .unwrap_or_default()
}

/// Why a [`ClientSession`] failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused a step with an error reply.
    #[error("server refused {stage}: {reply}")]
    Rejected {
        /// Which step.
        stage: Stage,
        /// The server's reply.
        reply: Reply<'static>,
    },
    /// STARTTLS is required by the configuration but the server does not offer it
    /// (the server is incompatible, or someone strips STARTTLS on the path).
    #[error("server does not offer STARTTLS; refusing to log in without TLS")]
    StartTlsUnavailable,
    /// The server rejected the authentication. `provider_error` is the decoded error
    /// challenge (status, scope…), which usually says why (expired token, wrong scope).
    #[error("authentication rejected: {reply}{}", provider_suffix(.provider_error))]
    AuthRejected {
        /// The final failure reply, e.g. `535 5.7.8`.
        reply: Reply<'static>,
        /// The provider's decoded error, if it sent an error challenge.
        provider_error: Option<ProviderError>,
    },
    /// The SASL exchange went wrong on our side or the server sent a challenge the
    /// mechanism does not allow.
    #[error("SASL exchange failed: {0}")]
    Sasl(SaslError),
    /// The server sent a malformed reply.
    #[error("malformed server reply: {0}")]
    Protocol(ReplyError),
    /// The server sent data where none may come (e.g. after its STARTTLS reply, the
    /// response-injection attack of RFC 3207 section 6).
    #[error("server sent unexpected data before our next command")]
    UnexpectedData,
    /// The server did not answer in time.
    #[error("server did not answer in time")]
    Timeout,
    /// The caller used the API out of order.
    #[error("client session used out of order")]
    Misuse,
}

#[derive(Debug)]
enum Mode {
    AwaitGreeting,
    AwaitEhlo,
    AwaitStartTlsReply,
    AwaitTls,
    AwaitExchange,
    AwaitAuthReply(ClientExchange),
    AwaitAuthFinal {
        exchange: ClientExchange,
        error: Option<SaslError>,
    },
    Done,
}

/// The client-side SMTP session up to authentication.
///
/// It never pipelines (RFC 2920: EHLO, STARTTLS and AUTH must end a group): each
/// command is sent after the previous reply.
///
/// ```
/// use std::time::Instant;
/// use mailgate_sasl::{ClientExchange, SecretString};
/// use mailgate_smtp::{ClientConfig, ClientEvent, ClientSession};
///
/// let now = Instant::now();
/// let mut client = ClientSession::new(ClientConfig::new("proxy.local"), now);
/// client.receive(b"220 smtp.example.com ESMTP\r\n", now);
/// let Some(ClientEvent::Send(ehlo)) = client.poll_event() else { unreachable!() };
/// assert_eq!(ehlo, b"EHLO proxy.local\r\n");
/// client.receive(b"250-smtp.example.com\r\n250 AUTH XOAUTH2\r\n", now);
/// assert!(matches!(client.poll_event(), Some(ClientEvent::Capabilities(_))));
/// assert!(matches!(client.poll_event(), Some(ClientEvent::NeedAuthentication)));
/// client.authenticate(ClientExchange::xoauth2("a@example.com", SecretString::from("tok")), now);
/// assert!(matches!(client.poll_event(), Some(ClientEvent::SendSecret(_))));
/// client.receive(b"235 2.7.0 Accepted\r\n", now);
/// assert!(matches!(client.poll_event(), Some(ClientEvent::Authenticated)));
/// assert!(matches!(client.poll_event(), Some(ClientEvent::HandOff { .. })));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    input: Vec<u8>,
    events: VecDeque<ClientEvent>,
    mode: Mode,
    tls: bool,
    capabilities: Option<EhloReply>,
    deadline: Option<Instant>,
}

impl ClientSession {
    /// Starts a session on a freshly opened connection; it waits for the greeting.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let deadline = now.checked_add(config.limits.idle_timeout);
        ClientSession {
            config,
            input: Vec::new(),
            events: VecDeque::new(),
            mode: Mode::AwaitGreeting,
            tls: false,
            capabilities: None,
            deadline,
        }
    }

    /// Marks the connection as already encrypted (implicit TLS): no STARTTLS is done.
    pub fn with_tls_active(mut self) -> Self {
        self.tls = true;
        self
    }

    /// The next thing to do, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The server's latest EHLO capabilities.
    pub fn capabilities(&self) -> Option<&EhloReply> {
        self.capabilities.as_ref()
    }

    /// Whether the session has handed off or failed.
    pub fn is_done(&self) -> bool {
        matches!(self.mode, Mode::Done)
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

    /// Reports that the TLS handshake after STARTTLS completed; EHLO is sent again.
    pub fn tls_established(&mut self, now: Instant) {
        if let Mode::AwaitTls = self.mode {
            self.tls = true;
            self.capabilities = None;
            self.send_command(&Command::Ehlo {
                domain: &self.config.ehlo_domain.clone(),
            });
            self.mode = Mode::AwaitEhlo;
            self.wait_reply(now);
        } else {
            self.fail(ClientError::Misuse);
        }
    }

    /// Starts authentication with `exchange` after [`ClientEvent::NeedAuthentication`].
    /// The initial response goes on the AUTH line (RFC 4954 allows it).
    pub fn authenticate(&mut self, mut exchange: ClientExchange, now: Instant) {
        if !matches!(self.mode, Mode::AwaitExchange) {
            self.fail(ClientError::Misuse);
            return;
        }
        let ir = match exchange.start(true) {
            Ok(ir) => ir,
            Err(e) => {
                self.fail(ClientError::Sasl(e));
                return;
            }
        };
        let mut line = Vec::with_capacity(32);
        line.extend_from_slice(b"AUTH ");
        line.extend_from_slice(exchange.mechanism().as_str().as_bytes());
        if let Some(ir) = ir {
            line.push(b' ');
            line.extend_from_slice(ir.expose().as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        self.events
            .push_back(ClientEvent::SendSecret(SecretBytes::new(line)));
        self.mode = Mode::AwaitAuthReply(exchange);
        self.wait_reply(now);
    }

    /// Feeds bytes read from the server.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        if matches!(self.mode, Mode::Done) {
            return;
        }
        self.input.extend_from_slice(bytes);
        while !self.input.is_empty() {
            if !self.awaits_reply() {
                // Nothing is outstanding: the server must stay silent.
                self.fail(ClientError::UnexpectedData);
                return;
            }
            let reply = match Reply::parse(&self.input, &self.config.limits) {
                Ok(ReplyStatus::Complete(reply, used)) => {
                    let reply = reply.into_owned();
                    self.input.drain(..used);
                    reply
                }
                Ok(ReplyStatus::Partial) => return,
                Err(e) => {
                    self.fail(ClientError::Protocol(e));
                    return;
                }
            };
            self.handle(reply, now);
            // We never pipeline, so a reply is followed by silence until our next
            // command: more data now is an injection attempt or a confused server.
            if !self.input.is_empty() && !matches!(self.mode, Mode::Done) {
                self.fail(ClientError::UnexpectedData);
            }
        }
    }

    fn awaits_reply(&self) -> bool {
        matches!(
            self.mode,
            Mode::AwaitGreeting
                | Mode::AwaitEhlo
                | Mode::AwaitStartTlsReply
                | Mode::AwaitAuthReply(_)
                | Mode::AwaitAuthFinal { .. }
        )
    }

    fn wait_reply(&mut self, now: Instant) {
        self.deadline = now.checked_add(self.config.limits.idle_timeout);
    }

    fn send_command(&mut self, cmd: &Command<'_>) {
        self.events.push_back(ClientEvent::Send(cmd.to_bytes()));
    }

    fn fail(&mut self, error: ClientError) {
        if matches!(self.mode, Mode::Done) {
            return;
        }
        self.events.push_back(ClientEvent::Failed(error));
        self.mode = Mode::Done;
        self.input.clear();
        self.deadline = None;
    }

    fn handle(&mut self, reply: Reply<'static>, now: Instant) {
        self.deadline = None;
        match std::mem::replace(&mut self.mode, Mode::Done) {
            Mode::AwaitGreeting => {
                if reply.code != 220 {
                    self.mode = Mode::AwaitGreeting;
                    return self.fail(ClientError::Rejected {
                        stage: Stage::Greeting,
                        reply,
                    });
                }
                self.send_command(&Command::Ehlo {
                    domain: &self.config.ehlo_domain.clone(),
                });
                self.mode = Mode::AwaitEhlo;
                self.wait_reply(now);
            }
            Mode::AwaitEhlo => {
                self.mode = Mode::AwaitEhlo;
                let Some(ehlo) = EhloReply::from_reply(&reply) else {
                    return self.fail(ClientError::Rejected {
                        stage: Stage::Ehlo,
                        reply,
                    });
                };
                if self.config.starttls && !self.tls {
                    if !ehlo.has(&Capability::StartTls) {
                        return self.fail(ClientError::StartTlsUnavailable);
                    }
                    self.capabilities = Some(ehlo);
                    self.send_command(&Command::StartTls);
                    self.mode = Mode::AwaitStartTlsReply;
                    self.wait_reply(now);
                } else {
                    self.capabilities = Some(ehlo.clone());
                    self.events.push_back(ClientEvent::Capabilities(ehlo));
                    self.events.push_back(ClientEvent::NeedAuthentication);
                    self.mode = Mode::AwaitExchange;
                }
            }
            Mode::AwaitStartTlsReply => {
                self.mode = Mode::AwaitStartTlsReply;
                if reply.code != 220 {
                    return self.fail(ClientError::Rejected {
                        stage: Stage::StartTls,
                        reply,
                    });
                }
                if !self.input.is_empty() {
                    return self.fail(ClientError::UnexpectedData);
                }
                self.events.push_back(ClientEvent::StartTls);
                self.mode = Mode::AwaitTls;
            }
            Mode::AwaitAuthReply(mut exchange) => {
                if reply.code == 235 {
                    return self.authenticated();
                }
                if reply.code != 334 {
                    let provider_error = exchange.provider_error().cloned();
                    self.mode = Mode::AwaitAuthReply(exchange);
                    return self.fail(ClientError::AuthRejected {
                        reply,
                        provider_error,
                    });
                }
                let challenge = reply.lines.first().map_or("", |l| l.as_ref()).trim();
                match exchange.step(challenge.as_bytes()) {
                    Ok(ClientStep::Respond(line)) => {
                        let mut bytes = line.expose().as_bytes().to_vec();
                        bytes.extend_from_slice(b"\r\n");
                        self.events
                            .push_back(ClientEvent::SendSecret(SecretBytes::new(bytes)));
                        self.mode = Mode::AwaitAuthReply(exchange);
                    }
                    Ok(ClientStep::ErrorChallenge { response, .. }) => {
                        let mut bytes = response.into_bytes();
                        bytes.extend_from_slice(b"\r\n");
                        self.events.push_back(ClientEvent::Send(bytes));
                        self.mode = Mode::AwaitAuthFinal {
                            exchange,
                            error: None,
                        };
                    }
                    Ok(_) => {
                        self.events.push_back(ClientEvent::Send(b"*\r\n".to_vec()));
                        let mechanism = exchange.mechanism().as_str();
                        self.mode = Mode::AwaitAuthFinal {
                            exchange,
                            error: Some(SaslError::UnexpectedChallenge { mechanism }),
                        };
                    }
                    Err(e) => {
                        self.events.push_back(ClientEvent::Send(b"*\r\n".to_vec()));
                        self.mode = Mode::AwaitAuthFinal {
                            exchange,
                            error: Some(e),
                        };
                    }
                }
                self.wait_reply(now);
            }
            Mode::AwaitAuthFinal { exchange, error } => {
                if reply.code == 235 && error.is_none() && exchange.provider_error().is_none() {
                    return self.authenticated();
                }
                if reply.code == 334 && error.is_none() {
                    // Another challenge where the final reply belongs (after the answer to
                    // an error challenge): the exchange is broken, not the credentials.
                    // Cancel it and wait for the final reply.
                    self.events.push_back(ClientEvent::Send(b"*\r\n".to_vec()));
                    let mechanism = exchange.mechanism().as_str();
                    self.mode = Mode::AwaitAuthFinal {
                        exchange,
                        error: Some(SaslError::UnexpectedChallenge { mechanism }),
                    };
                    return self.wait_reply(now);
                }
                self.mode = Mode::AwaitExchange;
                match error {
                    Some(e) => self.fail(ClientError::Sasl(e)),
                    None => self.fail(ClientError::AuthRejected {
                        reply,
                        provider_error: exchange.provider_error().cloned(),
                    }),
                }
            }
            Mode::AwaitTls | Mode::AwaitExchange | Mode::Done => {
                // Not reached: `receive` only parses replies while one is awaited.
                self.mode = Mode::AwaitExchange;
                self.fail(ClientError::UnexpectedData);
            }
        }
    }

    fn authenticated(&mut self) {
        self.events.push_back(ClientEvent::Authenticated);
        let pending = std::mem::take(&mut self.input);
        self.events.push_back(ClientEvent::HandOff { pending });
        self.mode = Mode::Done;
        self.deadline = None;
    }
}
