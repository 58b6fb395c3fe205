//! Sans-I/O POP3 codec and client/server session machines (RFC 1939, 2449, 2595, 5034).
//!
//! No sockets, no clock, no async: bytes go in, events and bytes come out, and the
//! caller does the I/O. The pieces:
//!
//! * Codec: [`Command`] (parse/encode every RFC 1939 command plus `CAPA`, `STLS`,
//!   `AUTH`), [`ServerLine`]/[`StatusLine`] (`+OK`/`-ERR` with RFC 2449
//!   [`ResponseCode`]s, `+ ` continuations), [`MultilineDecoder`] and [`dot_stuff`]
//!   for multi-line bodies, [`LineBuffer`] to frame a byte stream into bounded lines.
//! * [`Capabilities`]: the `CAPA` list, read and rewritten (e.g. replace the `SASL`
//!   line with `SASL PLAIN LOGIN`, add `USER`, hide `STLS`).
//! * [`ServerSession`]: the AUTHORIZATION state a proxy presents to local clients
//!   (`CAPA`, `STLS`, `USER`/`PASS`, `AUTH PLAIN`/`LOGIN`), yielding
//!   [`Credentials`](mailgate_sasl::Credentials) and then a hand-off point.
//! * [`ClientSession`]: the upstream login (greeting, `CAPA`, `STLS`, `AUTH` with
//!   XOAUTH2/OAUTHBEARER via [`mailgate_sasl::ClientExchange`], the provider's error
//!   challenge), yielding success or the decoded provider error, then a hand-off.
//!
//! Both sessions follow the same driving pattern: call `receive` with bytes read
//! from the peer, then `poll_event` until it returns `None`, acting on each event.
//!
//! # Security choices
//!
//! * **Bounded everything.** Command lines are limited to 255 octets (RFC 2449),
//!   `AUTH` lines and SASL continuations to [`Limits::auth_line`], response lines
//!   and multi-line bodies too; an over-long line gets one `-ERR` and is discarded
//!   up to the next line end, so memory stays bounded whatever a peer sends. A
//!   server session closes after [`Limits::max_errors`] protocol errors,
//!   [`Limits::max_auth_failures`] failed logins or [`Limits::max_commands`]
//!   commands without logging in.
//! * **No STLS command injection.** Bytes a client pipelines after `STLS` arrived in
//!   plaintext and are discarded; the `USER` name is forgotten after the handshake
//!   (RFC 2595 section 4). Upstream, a server that sends anything after its `+OK` to
//!   `STLS` before the handshake is treated as an attack
//!   ([`ClientFailure::PlaintextAfterStls`]).
//! * **No secrets in logs.** Passwords and initial responses are kept in
//!   [`mailgate_sasl::Secret`]: `Debug` of a [`Command`] or an event redacts them, and
//!   bytes carrying a token are sent through [`ClientEvent::SendSecret`] so a
//!   driver can log every other line verbatim.
//!
//! ```
//! use mailgate_pop3::{
//!     ClientConfig, ClientEvent, ClientSession, ServerConfig, ServerEvent, ServerSession,
//! };
//! use mailgate_sasl::{ClientExchange, SecretString};
//!
//! // Towards the local client: it logs in with USER/PASS.
//! let mut local = ServerSession::new(ServerConfig::default());
//! local.receive(b"USER user@example.com\r\nPASS app-password\r\n");
//! let mut creds = None;
//! while let Some(event) = local.poll_event() {
//!     match event {
//!         ServerEvent::Send(bytes) => { /* write to the local client */ }
//!         ServerEvent::Login(c) => creds = Some(c),
//!         other => unreachable!("{other:?}"),
//!     }
//! }
//! let creds = creds.expect("USER/PASS yields credentials");
//!
//! // Upstream: log in with XOAUTH2 and the token that belongs to these credentials.
//! let mut upstream = ClientSession::new(ClientConfig::default());
//! upstream.receive(b"+OK ready\r\n+OK\r\nSASL XOAUTH2\r\n.\r\n");
//! let mut to_server = Vec::new();
//! while let Some(event) = upstream.poll_event() {
//!     match event {
//!         ClientEvent::Send(bytes) => to_server.extend(bytes),
//!         ClientEvent::SendSecret(bytes) => to_server.extend(bytes.expose()),
//!         ClientEvent::NeedCredentials => upstream.authenticate(ClientExchange::xoauth2(
//!             &creds.username,
//!             SecretString::from("ya29.access-token"),
//!         )),
//!         other => unreachable!("{other:?}"),
//!     }
//! }
//! assert!(to_server.starts_with(b"CAPA\r\nAUTH XOAUTH2 "));
//!
//! // The server accepts: both sides hand off to byte relaying.
//! upstream.receive(b"+OK Welcome.\r\n");
//! assert_eq!(upstream.poll_event(), Some(ClientEvent::Authenticated { buffered: Vec::new() }));
//! local.accept_login();
//! assert_eq!(local.poll_event(), Some(ServerEvent::Send(b"+OK Logged in.\r\n".to_vec())));
//! assert_eq!(local.poll_event(), Some(ServerEvent::Authenticated { pipelined: Vec::new() }));
//! ```
#![forbid(unsafe_code)]

mod capa;
mod client;
#[cfg(feature = "tokio")]
pub mod codec;
mod command;
mod error;
mod limits;
mod line;
mod multiline;
mod response;
mod server;

pub use capa::{Capabilities, Capability};
pub use client::{ClientConfig, ClientEvent, ClientFailure, ClientSession};
pub use command::Command;
pub use error::Pop3Error;
pub use limits::Limits;
pub use line::LineBuffer;
pub use multiline::{DotStuffer, MultilineDecoder, Progress, dot_stuff};
pub use response::{ResponseCode, ServerLine, Status, StatusLine};
pub use server::{CloseReason, ServerConfig, ServerEvent, ServerSession};
