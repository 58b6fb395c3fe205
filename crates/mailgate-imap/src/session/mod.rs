//! Session machines for the phase before login, in the shape of quinn-proto: bytes in,
//! events and bytes out, time passed in, the next deadline out.
//!
//! * [`ServerSession`] is what a proxy presents to a local client: greeting,
//!   `CAPABILITY`, `STARTTLS`, `ID`, `NOOP`, `LOGOUT`, `LOGIN` in every string form and
//!   `AUTHENTICATE PLAIN`/`LOGIN`, ending in [`ServerEvent::Login`] and, once the driver
//!   accepts, a hand-off of the bytes the client pipelined after its login.
//! * [`ClientSession`] is what a proxy does upstream: greeting (`OK`, `PREAUTH`, `BYE`),
//!   capabilities, `STARTTLS`, `AUTHENTICATE XOAUTH2`/`OAUTHBEARER` with SASL-IR or a
//!   continuation, the provider's error challenge, tagged results with their response
//!   codes, `LOGOUT`, and a hand-off of the server bytes received after the login.
//!
//! Both are driven the same way: call `receive` with bytes read from the peer, then
//! `poll_event` until it returns `None`, acting on each event in order; call
//! `handle_timeout` when the instant from `poll_timeout` has passed. Messages are split by
//! the crate's [`Framer`] and read with its command and response
//! parsers; limits come from a [`ParserConfig`] plus
//! [`SessionLimits`].
//!
//! ```
//! use std::time::Instant;
//! use mailgate_imap::session::{
//!     ClientConfig, ClientEvent, ClientSession, ServerConfig, ServerEvent, ServerSession,
//! };
//! use mailgate_sasl::{ClientExchange, SecretString};
//!
//! let now = Instant::now();
//! // Upstream: the greeting names the capabilities, so the session is ready at once.
//! let mut upstream = ClientSession::new(ClientConfig::default(), now);
//! upstream.receive(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n", now);
//! assert!(matches!(upstream.poll_event(), Some(ClientEvent::NeedCredentials)));
//!
//! // Towards the local client: greet with the upstream capabilities, rewritten.
//! let mut config = ServerConfig::default();
//! config.capabilities = upstream.capabilities().to_vec();
//! let mut local = ServerSession::new(config, now);
//! let Some(ServerEvent::Send(greeting)) = local.poll_event() else { unreachable!() };
//! assert_eq!(greeting, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN SASL-IR] mailgate ready\r\n");
//!
//! local.receive(b"a1 LOGIN user@example.com \"app password\"\r\n", now);
//! let Some(ServerEvent::Login { tag, credentials }) = local.poll_event() else { unreachable!() };
//! assert_eq!(credentials.username, "user@example.com");
//!
//! // Log in upstream with the client's tag and an access token for these credentials.
//! let token = SecretString::from("ya29.token");
//! upstream.authenticate(ClientExchange::xoauth2(&credentials.username, token), Some(tag), now);
//! let Some(ClientEvent::SendSecret(line)) = upstream.poll_event() else { unreachable!() };
//! assert!(line.expose().starts_with(b"a1 AUTHENTICATE XOAUTH2 dXNlcj11c2Vy"));
//! upstream.receive(b"a1 OK [CAPABILITY IMAP4rev1 IDLE] Success\r\n", now);
//! let Some(ClientEvent::Authenticated { response, buffered }) = upstream.poll_event() else {
//!     unreachable!()
//! };
//! assert!(buffered.is_empty());
//!
//! // The client sees the server's own tagged OK; both sides hand off to relaying.
//! local.accept_login_with(response);
//! assert_eq!(
//!     local.poll_event(),
//!     Some(ServerEvent::Send(b"a1 OK [CAPABILITY IMAP4rev1 IDLE] Success\r\n".to_vec()))
//! );
//! assert_eq!(local.poll_event(), Some(ServerEvent::Authenticated { pipelined: Vec::new() }));
//! ```

mod client;
mod client_error;
mod server;
mod server_config;
mod server_event;

use std::time::Duration;

pub use client::{ClientConfig, ClientEvent, ClientSession};
pub use client_error::{AuthFailure, ClientError};
pub use server::ServerSession;
pub use server_config::ServerConfig;
pub use server_event::{CloseReason, ServerEvent};

use crate::ParserConfig;
use crate::framer::{Direction, Framer, FramerEvent};
use crate::response::Text;
use crate::{ParseError, Tag};

/// Bounds on what a session tolerates besides message sizes (those are in the
/// [`ParserConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionLimits {
    /// Protocol errors (`BAD` answers) a server session tolerates before it closes.
    pub max_errors: u32,
    /// Failed logins a server session tolerates before it closes.
    pub max_auth_failures: u32,
    /// Commands a server session accepts before login (a client that never logs in
    /// cannot keep it busy for ever).
    pub max_commands: u32,
    /// How long a session waits for the peer before it gives up (RFC 9051 section 5.4:
    /// at least 30 minutes for an authenticated client; a login should be much quicker).
    pub idle_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_errors: 10,
            max_auth_failures: 3,
            max_commands: 100,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// The parser settings for what a local client sends before login: the strict grammar,
/// with lines and literals sized for user names, passwords and SASL responses (a user name
/// or password literal of at most 64 KiB).
pub fn pre_auth_client_config() -> ParserConfig {
    let mut config = ParserConfig::strict();
    config.max_literal_size = 64 * 1024;
    config.max_message_size = 2 * 64 * 1024 + 4096;
    config.max_line_length = 16 * 1024;
    config
}

/// An owned framer event.
#[derive(Debug)]
enum Framed {
    Message(Vec<u8>),
    ContinuationNeeded,
    Error {
        error: ParseError,
        tag: Option<Tag<'static>>,
    },
}

/// The framer plus a copy of the bytes it has not consumed yet, so that they can be handed
/// to the relay and the start of a message can be looked at.
#[derive(Debug)]
struct Stream {
    direction: Direction,
    framer: Framer,
    unconsumed: Vec<u8>,
}

impl Stream {
    fn new(direction: Direction, config: ParserConfig) -> Self {
        Self {
            direction,
            framer: Framer::new(direction, config),
            unconsumed: Vec::new(),
        }
    }

    fn push(&mut self, data: &[u8]) {
        self.framer.push(data);
        self.unconsumed.extend_from_slice(data);
    }

    fn next(&mut self) -> Option<Framed> {
        let event = match self.framer.next_event()? {
            FramerEvent::Message(message) => Framed::Message(message.to_vec()),
            FramerEvent::ContinuationNeeded(_) => Framed::ContinuationNeeded,
            FramerEvent::Error { error, tag } => Framed::Error { error, tag },
        };
        self.trim();
        Some(event)
    }

    /// Forgets the bytes the framer has consumed.
    fn trim(&mut self) {
        let keep = self.framer.buffered().min(self.unconsumed.len());
        let cut = self.unconsumed.len() - keep;
        self.unconsumed.drain(..cut);
    }

    /// The bytes of the message being framed (after `ContinuationNeeded`: its first line).
    fn current(&self) -> &[u8] {
        &self.unconsumed
    }

    /// After `ContinuationNeeded`: the literal is refused, the message dropped.
    fn refuse_literal(&mut self) {
        self.framer.refuse_literal();
        self.trim();
    }

    /// Takes the bytes that do not belong to a message returned yet, leaving a fresh
    /// framer.
    fn take(&mut self) -> Vec<u8> {
        self.framer = Framer::new(self.direction, self.framer.config().clone());
        std::mem::take(&mut self.unconsumed)
    }
}

/// `s` as response text: CR, LF and NUL become spaces so that no configured or peer text
/// can end a line early.
fn text(s: &str) -> Text<'static> {
    let clean: String = s
        .chars()
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\0') {
                ' '
            } else {
                c
            }
        })
        .collect();
    Text::try_new(clean).unwrap_or_default()
}
