//! IMAP before login: the client talks to `mailgate-imap`'s server session, the upstream to
//! its client session; these adapters put both under the driver's traits.
//!
//! The upstream is asked for its capabilities (after STARTTLS when `server_starttls`); the
//! client gets a greeting of its own with those capabilities rewritten by the server
//! session (`AUTH=PLAIN AUTH=LOGIN SASL-IR`, no `LOGINDISABLED`; on a listener offering
//! STARTTLS, `STARTTLS LOGINDISABLED` and no `AUTH=` until the client has started TLS:
//! `LOGIN` and `AUTHENTICATE` are refused before, so passwords never cross in clear text).
//! `ID` and other commands without a literal are forwarded to the server. The upstream
//! login runs with the client's tag, so the server's tagged `OK` (with its post-login
//! capabilities) reaches the client unchanged.

use std::time::{Duration, Instant};

use mailgate_imap::response::{Status, StatusKind};
use mailgate_imap::session::{
    AuthFailure, ClientConfig, ClientError, ClientEvent, ClientSession, CloseReason, ServerConfig,
    ServerEvent, ServerSession, SessionLimits,
};
use mailgate_imap::{AuthMechanism, Capability, Tag};

use super::machine::{
    LocalEvent, LocalMachine, Machine, Machines, Outbox, Output, Transmit, UpstreamEvent,
    UpstreamFailure, UpstreamMachine,
};
use super::{SessionContext, upstream_exchange};
use crate::login::UpstreamCredentials;

/// IMAP for the pre-authentication driver.
pub(crate) struct Imap;

/// The client-facing IMAP session.
pub(crate) struct Local {
    session: ServerSession,
    outbox: Outbox<LocalEvent>,
    /// The tag of the client's last login, for the upstream login.
    login_tag: Option<Tag<'static>>,
}

/// The upstream IMAP session.
pub(crate) struct Upstream {
    session: ClientSession,
    outbox: Outbox<UpstreamEvent>,
    server: String,
    authenticating: bool,
}

impl Machines for Imap {
    type Local = Local;
    type Upstream = Upstream;

    fn upstream(context: &SessionContext, now: Instant) -> Upstream {
        let mut config = ClientConfig::default();
        config.starttls = context.listener.spec.server_starttls;
        let mut session = ClientSession::new(config, now);
        if !context.listener.spec.server_starttls {
            session = session.with_tls_active();
        }
        Upstream {
            session,
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
        let mut config = ServerConfig::default();
        if let Some(greeting) = upstream.session.greeting()
            && !greeting.text.text.as_str().is_empty()
        {
            config.greeting = greeting.text.text.as_str().to_owned();
        }
        config.capabilities = upstream.session.capabilities().to_vec();
        config.offer_starttls = offer_starttls;
        config.tls_active = tls_active;
        // The server answers ID and the other commands a client may send before login.
        config.forward_id = true;
        config.forward_other = true;
        // A line or literal over the limits before login ends the session: the proxy stops
        // reading such a client at once.
        config.close_on_framing_error = true;
        let mut limits = SessionLimits::default();
        // The proxy keeps the client's idle time itself (restarted by its replies), and a
        // client may try logins until the pre-authentication timeout, as before.
        limits.idle_timeout = Duration::MAX;
        limits.max_auth_failures = u32::MAX;
        config.limits = limits;
        Local {
            session: ServerSession::new(config, now),
            outbox: Outbox::default(),
            login_tag: None,
        }
    }

    fn authenticate(
        context: &SessionContext,
        local: &Local,
        upstream: &mut Upstream,
        token: UpstreamCredentials,
        now: Instant,
    ) {
        let offers = Some((
            upstream
                .session
                .has_capability(&Capability::Auth(AuthMechanism::XOAuth2)),
            upstream
                .session
                .has_capability(&Capability::Auth(AuthMechanism::OAuthBearer)),
        ));
        upstream.authenticating = true;
        let exchange = upstream_exchange(context, token, offers);
        upstream
            .session
            .authenticate(exchange, local.login_tag.clone(), now);
    }
}

impl Machine for Local {
    type Event = LocalEvent;

    fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.session.receive(bytes, now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (session, login_tag) = (&mut self.session, &mut self.login_tag);
        self.outbox.transmit(|| pull_local(session, login_tag))
    }

    fn poll_event(&mut self) -> Option<LocalEvent> {
        let (session, login_tag) = (&mut self.session, &mut self.login_tag);
        self.outbox.event(|| pull_local(session, login_tag))
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

/// The next output of the client-facing session, translated.
fn pull_local(
    session: &mut ServerSession,
    login_tag: &mut Option<Tag<'static>>,
) -> Option<Output<LocalEvent>> {
    let event = match session.poll_event()? {
        ServerEvent::Send(bytes) => return Some(Output::Transmit(Transmit::Plain(bytes))),
        ServerEvent::StartTls => LocalEvent::StartTls,
        ServerEvent::Login { tag, credentials } => {
            *login_tag = Some(tag);
            LocalEvent::Login(credentials)
        }
        ServerEvent::Forward { message, .. } => LocalEvent::Forward(message),
        ServerEvent::Authenticated { pipelined } => LocalEvent::HandOff { pipelined },
        ServerEvent::Closed(CloseReason::InvalidInput) => LocalEvent::Invalid(
            session
                .invalid_input()
                .map_or_else(|| "invalid input".to_owned(), ToString::to_string),
        ),
        ServerEvent::Closed(reason) => LocalEvent::Closed(format!("{reason:?}")),
        other => LocalEvent::Closed(format!("unexpected event {other:?}")),
    };
    Some(Output::Event(event))
}

impl LocalMachine for Local {
    fn accept_login(&mut self, upstream_response: Vec<u8>) {
        if upstream_response.is_empty() {
            self.session.accept_login();
        } else {
            self.session.accept_login_with(upstream_response);
        }
    }

    fn reject_login(&mut self, text: &str, temporary: bool, now: Instant) {
        // RFC 5530: UNAVAILABLE for a subsystem that is down (the token endpoint),
        // AUTHENTICATIONFAILED for credentials.
        if temporary {
            self.session.reject_login_temporarily(text, now);
        } else {
            self.session.reject_login(text, now);
        }
    }

    fn forward_response(&mut self, message: &[u8], now: Instant) {
        self.session.forward_response(message, now);
    }
}

/// The next output of the upstream session, translated.
fn pull_upstream(
    session: &mut ClientSession,
    server: &str,
    authenticating: &mut bool,
) -> Option<Output<UpstreamEvent>> {
    let event = match session.poll_event()? {
        ClientEvent::Send(bytes) => return Some(Output::Transmit(Transmit::Plain(bytes))),
        ClientEvent::SendSecret(bytes) => return Some(Output::Transmit(Transmit::Secret(bytes))),
        ClientEvent::StartTls => UpstreamEvent::StartTls,
        ClientEvent::NeedCredentials => UpstreamEvent::Ready,
        ClientEvent::Response { message, done } => UpstreamEvent::Response { message, done },
        ClientEvent::Authenticated { response, buffered } => {
            UpstreamEvent::Authenticated { response, buffered }
        }
        ClientEvent::Rejected(failure) => UpstreamEvent::Rejected {
            text: refusal_text(&failure),
            token_refused: true,
            // The server's NO leaves the connection in the not-authenticated state.
            reusable: true,
        },
        ClientEvent::Failed(error) => failure_event(error, server, *authenticating),
        other => UpstreamEvent::Failed(UpstreamFailure::Other(format!(
            "unexpected upstream event {other:?}"
        ))),
    };
    if matches!(
        event,
        UpstreamEvent::Rejected { .. } | UpstreamEvent::Authenticated { .. }
    ) {
        // The login is over; the connection may serve other commands again.
        *authenticating = false;
    }
    Some(Output::Event(event))
}

/// The client-visible text of a refused login: the server's text (without its response
/// code) and the provider's decoded error.
fn refusal_text(failure: &AuthFailure) -> String {
    let text = match &failure.status {
        Status::Tagged { text, .. } | Status::Untagged { text, .. } => text.text.as_str(),
        Status::Bye(text) | Status::PreAuth(text) => text.text.as_str(),
    };
    let text = if text.is_empty() && is_kind(&failure.status, StatusKind::Bad) {
        "the server refused the command"
    } else {
        text
    };
    match &failure.provider_error {
        Some(error) => format!("{text} ({error})"),
        None => text.to_owned(),
    }
}

/// Whether `status` is a tagged or untagged status of `kind`.
fn is_kind(status: &Status<'_>, kind: StatusKind) -> bool {
    matches!(status, Status::Tagged { kind: k, .. } | Status::Untagged { kind: k, .. } if *k == kind)
}

/// What a failure of the upstream session means for the driver.
fn failure_event(error: ClientError, server: &str, authenticating: bool) -> UpstreamEvent {
    let failure = match error {
        ClientError::Refused(text) => {
            UpstreamFailure::Other(format!("the server refused the connection: {text}"))
        }
        ClientError::Preauthenticated => UpstreamFailure::Other(
            "the server logged the connection in without authentication".to_owned(),
        ),
        ClientError::StartTlsRefused(line) => {
            UpstreamFailure::Other(format!("Server refused STARTTLS: {line}"))
        }
        ClientError::CapabilityRefused(line) => {
            UpstreamFailure::Other(format!("Server refused CAPABILITY: {line}"))
        }
        ClientError::Malformed(error) => UpstreamFailure::Malformed(error.to_string()),
        ClientError::Oversized(error) => UpstreamFailure::Other(format!(
            "the server {server} sent an invalid response: {error}"
        )),
        ClientError::Timeout => UpstreamFailure::Timeout,
        other if authenticating => {
            return UpstreamEvent::Rejected {
                text: other.to_string(),
                token_refused: false,
                reusable: false,
            };
        }
        other => UpstreamFailure::Other(format!("Server error: {other}")),
    };
    UpstreamEvent::Failed(failure)
}

impl Machine for Upstream {
    type Event = UpstreamEvent;

    fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.session.receive(bytes, now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (session, server, authenticating) =
            (&mut self.session, &self.server, &mut self.authenticating);
        self.outbox
            .transmit(|| pull_upstream(session, server, authenticating))
    }

    fn poll_event(&mut self) -> Option<UpstreamEvent> {
        let (session, server, authenticating) =
            (&mut self.session, &self.server, &mut self.authenticating);
        self.outbox
            .event(|| pull_upstream(session, server, authenticating))
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

impl UpstreamMachine for Upstream {
    fn forward(&mut self, message: &[u8], now: Instant) {
        self.session.forward(message, now);
    }
}
