//! SMTP before login: the client talks to `mailgate-smtp`'s server session (EHLO with
//! `AUTH PLAIN LOGIN`, local STARTTLS, AUTH PLAIN/LOGIN, pipelining), the upstream to its
//! client session (EHLO, STARTTLS when `server_starttls`, AUTH XOAUTH2/OAUTHBEARER); these
//! adapters put both under the driver's traits.
//!
//! The upstream EHLO names the client's own domain, which is known only once the client has
//! said EHLO: until then the upstream adapter holds the server's greeting (read with the
//! crate's reply parser, so that the client is greeted with the server's name) and starts
//! the client session when the driver introduces the client.

use std::time::{Duration, Instant};

use mailgate_smtp::{
    ClientConfig, ClientError, ClientEvent, ClientSession, EhloReply, EnhancedStatus, Limits,
    Reply, ReplyError, ReplyStatus, ServerConfig, ServerEvent, ServerSession,
};

use super::machine::{
    LocalEvent, LocalMachine, Machine, Machines, Outbox, Output, Transmit, UpstreamEvent,
    UpstreamFailure, UpstreamMachine,
};
use super::{MAX_LINE, SessionContext, upstream_exchange};
use crate::login::UpstreamCredentials;

/// SMTP for the pre-authentication driver.
pub(crate) struct Smtp;

/// The client-facing SMTP session.
pub(crate) struct Local {
    session: ServerSession,
    outbox: Outbox<LocalEvent>,
}

/// The upstream SMTP session: the greeting, then the client session.
pub(crate) struct Upstream {
    /// Bytes from the server, kept until the client session is started with them.
    input: Vec<u8>,
    /// The server's `220` greeting, once complete.
    greeting: Option<Reply<'static>>,
    session: Option<ClientSession>,
    config: ClientConfig,
    outbox: Outbox<UpstreamEvent>,
    server: String,
    authenticating: bool,
}

/// Reply limits towards the server: lines as long as the other protocols allow.
fn upstream_limits() -> Limits {
    Limits {
        reply_line: MAX_LINE,
        ..Limits::default()
    }
}

impl Machines for Smtp {
    type Local = Local;
    type Upstream = Upstream;

    fn upstream(context: &SessionContext, _now: Instant) -> Upstream {
        let mut config = ClientConfig::new("localhost");
        config.starttls = context.listener.spec.server_starttls;
        config.limits = upstream_limits();
        Upstream {
            input: Vec::new(),
            greeting: None,
            session: None,
            config,
            outbox: Outbox::default(),
            server: context.listener.spec.server_host_port(),
            authenticating: false,
        }
    }

    fn local(
        _context: &SessionContext,
        upstream: &Upstream,
        tls_active: bool,
        offer_starttls: bool,
        now: Instant,
    ) -> Local {
        // A `220` greeting's first line has the shape of an EHLO reply's: the server's
        // domain, then text.
        let named = upstream.greeting.as_ref().and_then(|greeting| {
            let mut reply = greeting.clone();
            reply.code = 250;
            EhloReply::from_reply(&reply)
        });
        let (domain, text) = named
            .map(|ehlo| (ehlo.domain, ehlo.greeting))
            .unwrap_or_default();
        let mut config = ServerConfig::new(if domain.is_empty() {
            "mailgate".to_owned()
        } else {
            domain
        });
        if !text.is_empty() {
            config.greeting = text;
        }
        config.starttls = offer_starttls;
        // Passwords never cross in clear text where TLS is on offer.
        config.require_tls_for_auth = offer_starttls;
        config.tls_active = tls_active;
        // The proxy keeps the client's idle time itself (restarted by its replies).
        config.limits.idle_timeout = Duration::MAX;
        Local {
            session: ServerSession::new(config, now),
            outbox: Outbox::default(),
        }
    }

    fn present(local: &mut Local, upstream: &Upstream) {
        let ehlo = upstream
            .session
            .as_ref()
            .and_then(ClientSession::capabilities)
            .cloned()
            .unwrap_or_else(|| EhloReply::new(upstream.config.ehlo_domain.clone()));
        local.session.set_capabilities(ehlo);
    }

    fn authenticate(
        context: &SessionContext,
        _local: &Local,
        upstream: &mut Upstream,
        token: UpstreamCredentials,
        now: Instant,
    ) {
        upstream.authenticating = true;
        let Some(session) = upstream.session.as_mut() else {
            upstream.outbox.push(Output::Event(UpstreamEvent::Failed(
                UpstreamFailure::Other("the upstream session was not started".to_owned()),
            )));
            return;
        };
        let offers = session.capabilities().map(|ehlo| {
            (
                ehlo.supports_auth("XOAUTH2"),
                ehlo.supports_auth("OAUTHBEARER"),
            )
        });
        session.authenticate(upstream_exchange(context, token, offers), now);
    }
}

impl Local {
    fn pull(session: &mut ServerSession) -> Option<Output<LocalEvent>> {
        let event = match session.poll_event()? {
            ServerEvent::Send(bytes) => return Some(Output::Transmit(Transmit::Plain(bytes))),
            ServerEvent::StartTls => LocalEvent::StartTls,
            ServerEvent::NeedCapabilities { client_domain } => {
                LocalEvent::NeedCapabilities { client_domain }
            }
            ServerEvent::Authenticate(credentials) => LocalEvent::Login(credentials),
            ServerEvent::HandOff { pending } => LocalEvent::HandOff { pipelined: pending },
            ServerEvent::Close => LocalEvent::Closed("QUIT or too many errors".to_owned()),
            other => LocalEvent::Closed(format!("unexpected event {other:?}")),
        };
        Some(Output::Event(event))
    }
}

impl Machine for Local {
    type Event = LocalEvent;

    fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.session.receive(bytes, now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let session = &mut self.session;
        self.outbox.transmit(|| Local::pull(session))
    }

    fn poll_event(&mut self) -> Option<LocalEvent> {
        let session = &mut self.session;
        self.outbox.event(|| Local::pull(session))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    fn tls_established(&mut self, now: Instant) {
        self.session.tls_established(now);
    }
}

impl LocalMachine for Local {
    fn accept_login(&mut self, _upstream_response: Vec<u8>) {
        self.session.accept_auth();
    }

    fn reject_login(&mut self, text: &str, temporary: bool, _now: Instant) {
        let reply = if temporary {
            Reply::new(
                454,
                EnhancedStatus::new(4, 7, 0),
                format!("Temporary authentication failure. {text}"),
            )
        } else {
            Reply::new(
                535,
                EnhancedStatus::new(5, 7, 8),
                format!("Authentication credentials invalid. {text}"),
            )
        };
        self.session.reject_auth(Some(reply));
    }
}

impl Upstream {
    /// Reads the greeting from the bytes received so far.
    fn read_greeting(&mut self) {
        let failure = match Reply::parse(&self.input, &self.config.limits) {
            Ok(ReplyStatus::Partial) => return,
            Ok(ReplyStatus::Complete(reply, _)) if reply.code == 220 => {
                self.greeting = Some(reply.into_owned());
                self.outbox.push(Output::Event(UpstreamEvent::Ready));
                return;
            }
            Ok(ReplyStatus::Complete(reply, _)) if reply.is_transient() || reply.is_permanent() => {
                let bytes = reply.to_bytes();
                if bytes
                    .iter()
                    .all(|&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n'))
                {
                    UpstreamFailure::PassOn(bytes)
                } else {
                    UpstreamFailure::Malformed("a refusal in 8-bit text".to_owned())
                }
            }
            Ok(ReplyStatus::Complete(reply, _)) => {
                UpstreamFailure::Malformed(format!("reply {} to the greeting", reply.code))
            }
            Err(error) => reply_failure(error, &self.server),
        };
        self.input.clear();
        self.outbox
            .push(Output::Event(UpstreamEvent::Failed(failure)));
    }

    fn pull(
        session: Option<&mut ClientSession>,
        server: &str,
        authenticating: bool,
    ) -> Option<Output<UpstreamEvent>> {
        let session = session?;
        loop {
            let event = match session.poll_event()? {
                ClientEvent::Send(bytes) => {
                    return Some(Output::Transmit(Transmit::Plain(bytes)));
                }
                ClientEvent::SendSecret(bytes) => {
                    return Some(Output::Transmit(Transmit::Secret(bytes)));
                }
                // Kept by the session itself (see `Smtp::present`); the hand-off follows
                // the acceptance.
                ClientEvent::Capabilities(_) | ClientEvent::Authenticated => continue,
                ClientEvent::StartTls => UpstreamEvent::StartTls,
                ClientEvent::NeedAuthentication => UpstreamEvent::Ready,
                ClientEvent::HandOff { pending } => UpstreamEvent::Authenticated {
                    response: Vec::new(),
                    buffered: pending,
                },
                ClientEvent::Failed(error) => failure_event(error, server, authenticating),
                other => UpstreamEvent::Failed(UpstreamFailure::Other(format!(
                    "unexpected upstream event {other:?}"
                ))),
            };
            return Some(Output::Event(event));
        }
    }
}

/// The failure for a reply the parser refused.
fn reply_failure(error: ReplyError, server: &str) -> UpstreamFailure {
    match error {
        ReplyError::LineTooLong { limit, .. } => UpstreamFailure::Other(format!(
            "the server {server} sent a line longer than {limit} bytes"
        )),
        other => UpstreamFailure::Malformed(other.to_string()),
    }
}

/// What a failure of the upstream session means for the driver.
fn failure_event(error: ClientError, server: &str, authenticating: bool) -> UpstreamEvent {
    match error {
        ClientError::AuthRejected {
            reply,
            provider_error,
        } => UpstreamEvent::Rejected {
            text: match provider_error {
                Some(provider) => format!("{} ({provider})", reply.text()),
                None => reply.text(),
            },
            token_refused: true,
            reusable: false,
        },
        ClientError::Protocol(error) => UpstreamEvent::Failed(reply_failure(error, server)),
        ClientError::Timeout => UpstreamEvent::Failed(UpstreamFailure::Timeout),
        other if authenticating => UpstreamEvent::Rejected {
            text: other.to_string(),
            token_refused: false,
            reusable: false,
        },
        other => UpstreamEvent::Failed(UpstreamFailure::Other(format!("Server error: {other}"))),
    }
}

impl Machine for Upstream {
    type Event = UpstreamEvent;

    fn receive(&mut self, bytes: &[u8], now: Instant) {
        match self.session.as_mut() {
            Some(session) => session.receive(bytes, now),
            None => {
                let waiting = self.greeting.is_none() && self.input.len() <= MAX_LINE * 2;
                self.input.extend_from_slice(bytes);
                if waiting {
                    self.read_greeting();
                }
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (mut session, server, authenticating) =
            (self.session.as_mut(), &self.server, self.authenticating);
        self.outbox
            .transmit(|| Upstream::pull(session.as_deref_mut(), server, authenticating))
    }

    fn poll_event(&mut self) -> Option<UpstreamEvent> {
        let (mut session, server, authenticating) =
            (self.session.as_mut(), &self.server, self.authenticating);
        self.outbox
            .event(|| Upstream::pull(session.as_deref_mut(), server, authenticating))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.session.as_ref().and_then(ClientSession::poll_timeout)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(session) = self.session.as_mut() {
            session.handle_timeout(now);
        }
    }

    fn tls_established(&mut self, now: Instant) {
        if let Some(session) = self.session.as_mut() {
            session.tls_established(now);
        }
    }
}

impl UpstreamMachine for Upstream {
    fn introduce(&mut self, hello: &str, now: Instant) -> bool {
        if self.session.is_some() {
            return false;
        }
        let mut config = self.config.clone();
        config.ehlo_domain = hello.to_owned();
        self.config.ehlo_domain = hello.to_owned();
        let mut session = ClientSession::new(config, now);
        session.receive(&std::mem::take(&mut self.input), now);
        self.session = Some(session);
        true
    }
}
