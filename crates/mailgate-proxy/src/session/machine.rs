//! What the pre-authentication driver needs of a protocol: two sans-I/O session machines
//! (the one the local client talks to, the one that logs in upstream) behind one trait, and
//! the glue between them.
//!
//! The protocol crates' machines differ in their event types and in a few verdict calls;
//! the adapters in `imap.rs`, `pop3.rs` and `smtp.rs` translate them into [`LocalEvent`] and
//! [`UpstreamEvent`], so the driver (`driver.rs`) is written once. Protocol lines are parsed
//! only by the machines: the driver moves bytes, waits and decides.

use std::collections::VecDeque;
use std::time::Instant;

use mailgate_sasl::{Credentials, SecretBytes};

use super::SessionContext;
use crate::login::UpstreamCredentials;

/// Bytes a machine asks the driver to write.
pub(crate) enum Transmit {
    /// Ordinary protocol bytes (logged at debug level).
    Plain(Vec<u8>),
    /// Bytes that carry a credential: never logged.
    Secret(SecretBytes),
}

impl Transmit {
    /// The bytes to write.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Transmit::Plain(bytes) => bytes,
            Transmit::Secret(bytes) => bytes.expose(),
        }
    }
}

/// One output of a machine, in the order the machine produced it.
pub(crate) enum Output<E> {
    Transmit(Transmit),
    Event(E),
}

/// A session machine as the driver sees it: bytes in, bytes and events out, time in, the
/// next deadline out.
pub(crate) trait Machine {
    /// What the machine asks of the driver besides writing bytes.
    type Event;

    /// Feeds bytes read from the peer.
    fn receive(&mut self, bytes: &[u8], now: Instant);

    /// Bytes to write before anything else happens; `None` when the next output is an
    /// event (or there is none).
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next event, once every byte produced before it has been taken with
    /// [`Machine::poll_transmit`].
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Machine::handle_timeout`] is due, if the machine waits for something.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The instant from [`Machine::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// The TLS handshake asked for with a `StartTls` event completed.
    fn tls_established(&mut self, now: Instant);
}

/// What the machine facing the local client asks of the driver.
#[derive(Debug)]
pub(crate) enum LocalEvent {
    /// Run the TLS handshake as server, then call [`Machine::tls_established`].
    StartTls,
    /// The client said hello (SMTP EHLO): supply the upstream capabilities with
    /// [`Machines::present`].
    NeedCapabilities {
        /// The domain the client named (empty when it named none).
        client_domain: String,
    },
    /// The client logged in with these credentials: accept or reject them.
    Login(Credentials),
    /// Relay this complete command upstream and its responses back (IMAP `ID`, say).
    Forward(Vec<u8>),
    /// Logged in: relay from here, client bytes received after the login first.
    HandOff {
        /// Client bytes the machine received after the login command.
        pipelined: Vec<u8>,
    },
    /// The machine closed the session (LOGOUT/QUIT, too many errors); the text is for the
    /// log.
    Closed(String),
    /// The client sent input the machine cannot read past (a line or literal over the
    /// limits); the session ends, telling the client what was wrong.
    Invalid(String),
}

/// What the upstream machine asks of the driver.
#[derive(Debug)]
pub(crate) enum UpstreamEvent {
    /// Run the TLS handshake as client, then call [`Machine::tls_established`].
    StartTls,
    /// Greeted (or, after [`UpstreamMachine::introduce`], ready to log in).
    Ready,
    /// A response to a command given to [`UpstreamMachine::forward`].
    Response {
        /// One complete response message.
        message: Vec<u8>,
        /// Whether it completes the command.
        done: bool,
    },
    /// The server accepted the token.
    Authenticated {
        /// What the server answered to the login, for a client that sees the server's own
        /// reply (IMAP: its tagged `OK` with post-login capabilities); empty otherwise.
        response: Vec<u8>,
        /// Server bytes received after the login reply.
        buffered: Vec<u8>,
    },
    /// The login failed.
    Rejected {
        /// The server's refusal and the provider's decoded error, for the client.
        text: String,
        /// The server refused the token itself (not a broken exchange): the token is
        /// dropped so the next login asks the provider for a fresh one.
        token_refused: bool,
        /// The connection stays usable for another login.
        reusable: bool,
    },
    /// The session failed; the connection is of no more use.
    Failed(UpstreamFailure),
}

/// Why an upstream machine failed.
#[derive(Debug)]
pub(crate) enum UpstreamFailure {
    /// The server sent something the machine's grammar does not allow (before the greeting
    /// was accepted: no greeting of the protocol); the text says what.
    Malformed(String),
    /// The server refused the connection with this reply, which the client is shown as
    /// it is (an SMTP `421`/`554` greeting).
    PassOn(Vec<u8>),
    /// The server did not answer within the machine's deadline.
    Timeout,
    /// Anything else: the text for the client and the log.
    Other(String),
}

/// The machine facing the local client.
pub(crate) trait LocalMachine: Machine<Event = LocalEvent> {
    /// Accepts the last [`LocalEvent::Login`]; `upstream_response` is what the server
    /// answered (see [`UpstreamEvent::Authenticated`]).
    fn accept_login(&mut self, upstream_response: Vec<u8>);

    /// Rejects the last [`LocalEvent::Login`] with `text`; `temporary` when the failure is
    /// not the credentials' (the token endpoint is down, say).
    fn reject_login(&mut self, text: &str, temporary: bool, now: Instant);

    /// One response to the last [`LocalEvent::Forward`].
    fn forward_response(&mut self, message: &[u8], now: Instant) {
        let _ = (message, now);
    }
}

/// The machine that logs in upstream.
pub(crate) trait UpstreamMachine: Machine<Event = UpstreamEvent> {
    /// Tells the machine the client's hello (SMTP: the EHLO domain); `true` when the
    /// machine now talks to the server and reports [`UpstreamEvent::Ready`] again.
    fn introduce(&mut self, hello: &str, now: Instant) -> bool {
        let _ = (hello, now);
        false
    }

    /// Sends a complete command of the client and reports its responses.
    fn forward(&mut self, message: &[u8], now: Instant) {
        let _ = (message, now);
    }
}

/// A protocol as the driver sees it: its two machines and the glue between them.
pub(crate) trait Machines {
    /// The machine facing the local client.
    type Local: LocalMachine;
    /// The machine that logs in upstream.
    type Upstream: UpstreamMachine;

    /// A machine for a fresh upstream connection.
    fn upstream(context: &SessionContext, now: Instant) -> Self::Upstream;

    /// The local machine, greeting the client as the (greeted) upstream suggests.
    fn local(
        context: &SessionContext,
        upstream: &Self::Upstream,
        tls_active: bool,
        offer_starttls: bool,
        now: Instant,
    ) -> Self::Local;

    /// Hands the upstream capabilities to the local machine after
    /// [`LocalEvent::NeedCapabilities`].
    fn present(local: &mut Self::Local, upstream: &Self::Upstream) {
        let _ = (local, upstream);
    }

    /// Starts the upstream login of the client's last [`LocalEvent::Login`] with `token`.
    fn authenticate(
        context: &SessionContext,
        local: &Self::Local,
        upstream: &mut Self::Upstream,
        token: UpstreamCredentials,
        now: Instant,
    );
}

/// A machine's outputs, translated, with one of lookahead so that bytes and events can be
/// polled apart and still in order.
pub(crate) struct Outbox<E> {
    queue: VecDeque<Output<E>>,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Outbox {
            queue: VecDeque::new(),
        }
    }
}

impl<E> Outbox<E> {
    /// Queues an output produced by the adapter itself.
    pub(crate) fn push(&mut self, output: Output<E>) {
        self.queue.push_back(output);
    }

    /// The next output, pulling from the machine when the queue is empty.
    fn front(&mut self, mut pull: impl FnMut() -> Option<Output<E>>) -> Option<&Output<E>> {
        if self.queue.is_empty()
            && let Some(output) = pull()
        {
            self.queue.push_back(output);
        }
        self.queue.front()
    }

    /// Bytes to write, if they come next.
    pub(crate) fn transmit(&mut self, pull: impl FnMut() -> Option<Output<E>>) -> Option<Transmit> {
        if !matches!(self.front(pull), Some(Output::Transmit(_))) {
            return None;
        }
        match self.queue.pop_front() {
            Some(Output::Transmit(transmit)) => Some(transmit),
            _ => None,
        }
    }

    /// The event, if it comes next.
    pub(crate) fn event(&mut self, pull: impl FnMut() -> Option<Output<E>>) -> Option<E> {
        if !matches!(self.front(pull), Some(Output::Event(_))) {
            return None;
        }
        match self.queue.pop_front() {
            Some(Output::Event(event)) => Some(event),
            _ => None,
        }
    }
}
