//! POP3 before login: the client talks to `mailgate-pop3`'s server session (USER/PASS,
//! AUTH PLAIN/LOGIN, CAPA, STLS), the upstream to its client session (CAPA, STLS,
//! AUTH XOAUTH2/OAUTHBEARER); these adapters put both under the driver's traits.

use std::time::Instant;

use mailgate_pop3::{
    ClientConfig, ClientEvent, ClientFailure, ClientSession, Limits, Pop3Error, ServerConfig,
    ServerEvent, ServerSession,
};

use super::machine::{
    LocalEvent, LocalMachine, Machine, Machines, Outbox, Output, Transmit, UpstreamEvent,
    UpstreamFailure, UpstreamMachine,
};
use super::{MAX_LINE, SessionContext, upstream_exchange};
use crate::login::UpstreamCredentials;

/// POP3 for the pre-authentication driver.
pub(crate) struct Pop3;

/// The client-facing POP3 session.
pub(crate) struct Local {
    session: ServerSession,
    outbox: Outbox<LocalEvent>,
}

/// The upstream POP3 session.
pub(crate) struct Upstream {
    session: ClientSession,
    outbox: Outbox<UpstreamEvent>,
    /// `host:port` of the server, for messages.
    server: String,
    /// A login is under way: a failure now refuses the login rather than the connection.
    authenticating: bool,
}

impl Machines for Pop3 {
    type Local = Local;
    type Upstream = Upstream;

    fn upstream(context: &SessionContext, _now: Instant) -> Upstream {
        let config = ClientConfig {
            starttls: context.listener.spec.server_starttls,
            // SASL continuations carry tokens and error JSON; any line is bounded as the
            // other protocols bound theirs.
            limits: Limits {
                auth_line: MAX_LINE,
                ..Limits::UPSTREAM
            },
            ..ClientConfig::default()
        };
        Upstream {
            session: ClientSession::new(config),
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
        _now: Instant,
    ) -> Local {
        let mut capabilities = upstream.session.capabilities().clone();
        capabilities.remove("STLS");
        let config = ServerConfig {
            greeting: upstream
                .session
                .greeting()
                .map(|greeting| greeting.text.clone())
                .filter(|text| !text.is_empty())
                .unwrap_or_else(|| "POP3 server ready".to_owned()),
            capabilities,
            offer_stls: offer_starttls,
            tls_active,
            // Passwords never cross in clear text where TLS is on offer.
            require_tls_for_auth: offer_starttls,
            ..ServerConfig::default()
        };
        Local {
            session: ServerSession::new(config),
            outbox: Outbox::default(),
        }
    }

    fn authenticate(
        context: &SessionContext,
        _local: &Local,
        upstream: &mut Upstream,
        token: UpstreamCredentials,
        _now: Instant,
    ) {
        let capabilities = upstream.session.capabilities();
        let offers = Some((
            capabilities.supports_sasl("XOAUTH2"),
            capabilities.supports_sasl("OAUTHBEARER"),
        ));
        upstream.authenticating = true;
        upstream
            .session
            .authenticate(upstream_exchange(context, token, offers));
    }
}

impl Local {
    fn pull(session: &mut ServerSession) -> Option<Output<LocalEvent>> {
        let event = match session.poll_event()? {
            ServerEvent::Send(bytes) => return Some(Output::Transmit(Transmit::Plain(bytes))),
            ServerEvent::StartTls => LocalEvent::StartTls,
            ServerEvent::Login(credentials) => LocalEvent::Login(credentials),
            ServerEvent::Authenticated { pipelined } => LocalEvent::HandOff { pipelined },
            ServerEvent::Closed(reason) => LocalEvent::Closed(format!("{reason:?}")),
            other => LocalEvent::Closed(format!("unexpected event {other:?}")),
        };
        Some(Output::Event(event))
    }
}

impl Machine for Local {
    type Event = LocalEvent;

    fn receive(&mut self, bytes: &[u8], _now: Instant) {
        self.session.receive(bytes);
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
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn tls_established(&mut self, _now: Instant) {
        self.session.tls_established();
    }
}

impl LocalMachine for Local {
    fn accept_login(&mut self, _upstream_response: Vec<u8>) {
        self.session.accept_login();
    }

    fn reject_login(&mut self, text: &str, temporary: bool, _now: Instant) {
        if temporary {
            self.session
                .reject_login_temporarily(&format!("Temporary authentication failure. {text}"));
        } else {
            self.session
                .reject_login(&format!("Authentication failed. {text}"));
        }
    }
}

impl Upstream {
    fn pull(
        session: &mut ClientSession,
        server: &str,
        authenticating: bool,
    ) -> Option<Output<UpstreamEvent>> {
        let event = match session.poll_event()? {
            ClientEvent::Send(bytes) => return Some(Output::Transmit(Transmit::Plain(bytes))),
            ClientEvent::SendSecret(bytes) => {
                return Some(Output::Transmit(Transmit::Secret(bytes)));
            }
            ClientEvent::StartTls => UpstreamEvent::StartTls,
            ClientEvent::NeedCredentials => UpstreamEvent::Ready,
            ClientEvent::Authenticated { buffered } => UpstreamEvent::Authenticated {
                response: Vec::new(),
                buffered,
            },
            ClientEvent::Failed(failure) => failure_event(failure, server, authenticating),
            other => UpstreamEvent::Failed(UpstreamFailure::Other(format!(
                "unexpected upstream event {other:?}"
            ))),
        };
        Some(Output::Event(event))
    }
}

/// What a failure of the upstream session means for the driver.
fn failure_event(failure: ClientFailure, server: &str, authenticating: bool) -> UpstreamEvent {
    match failure {
        ClientFailure::AuthFailed {
            reply,
            provider_error,
        } => UpstreamEvent::Rejected {
            text: match provider_error {
                Some(error) => format!("{} ({error})", reply.text),
                None => reply.text,
            },
            token_refused: true,
            reusable: false,
        },
        ClientFailure::Protocol(Pop3Error::LineTooLong { max }) => {
            UpstreamEvent::Failed(UpstreamFailure::Other(format!(
                "the server {server} sent a line longer than {max} bytes"
            )))
        }
        other if authenticating => UpstreamEvent::Rejected {
            text: other.to_string(),
            token_refused: false,
            reusable: false,
        },
        ClientFailure::Protocol(error) => {
            UpstreamEvent::Failed(UpstreamFailure::Malformed(error.to_string()))
        }
        other => UpstreamEvent::Failed(UpstreamFailure::Other(format!("Server error: {other}"))),
    }
}

impl Machine for Upstream {
    type Event = UpstreamEvent;

    fn receive(&mut self, bytes: &[u8], _now: Instant) {
        self.session.receive(bytes);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (session, server, authenticating) =
            (&mut self.session, &self.server, self.authenticating);
        self.outbox
            .transmit(|| Upstream::pull(session, server, authenticating))
    }

    fn poll_event(&mut self) -> Option<UpstreamEvent> {
        let (session, server, authenticating) =
            (&mut self.session, &self.server, self.authenticating);
        self.outbox
            .event(|| Upstream::pull(session, server, authenticating))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn tls_established(&mut self, _now: Instant) {
        self.session.tls_established();
    }
}

impl UpstreamMachine for Upstream {}
