//! Sans-I/O SMTP: a command and reply codec, an EHLO capability model, DATA/BDAT
//! framing and the two session machines an authenticating SMTP proxy needs.
//!
//! Nothing here touches a socket or a clock: bytes go in, events and bytes come out, and
//! time is passed in as [`std::time::Instant`] (each machine returns its next deadline).
//!
//! * [`Command`] and [`Reply`] parse and encode RFC 5321 commands (with the SIZE, BODY,
//!   SMTPUTF8, DSN, REQUIRETLS and AUTH parameters) and single- or multi-line replies with
//!   RFC 3463 [`EnhancedStatus`] codes. Parsed values borrow from the input.
//! * [`EhloReply`] reads and rewrites a server's capability list: replace `AUTH`, hide or
//!   offer `STARTTLS`, keep the rest.
//! * [`DataScanner`] finds the end of a DATA message across arbitrary read boundaries and
//!   refuses the bare-CR/LF end-of-data look-alikes behind SMTP smuggling;
//!   [`BdatTracker`] counts CHUNKING data; [`dot_stuff`] and [`dot_unstuff`] convert.
//! * [`LineFramer`] bounds line length and, after an over-long line, reports once and
//!   discards to the next line end.
//! * [`ServerSession`] is what a proxy presents to a local client up to authentication
//!   (greeting, EHLO, STARTTLS, AUTH PLAIN/LOGIN); [`ClientSession`] is what it does
//!   upstream (greeting, EHLO, STARTTLS, AUTH XOAUTH2/OAUTHBEARER with the error
//!   challenge). Both end in a hand-off, after which the driver relays bytes.
//!
//! SASL itself (PLAIN/LOGIN decoding, XOAUTH2/OAUTHBEARER encoding, provider errors) lives
//! in `mailgate-sasl`. See [`manual`] for the security choices.
//!
//! ```
//! use mailgate_smtp::{Command, DataScanner, DataStatus, EhloReply, EnhancedStatus, Reply};
//!
//! // Commands borrow from the line they were parsed from.
//! let cmd = Command::parse(b"RCPT TO:<bob@example.org> NOTIFY=FAILURE").unwrap();
//! assert_eq!(cmd.to_bytes(), b"RCPT TO:<bob@example.org> NOTIFY=FAILURE\r\n");
//!
//! // Rewrite an upstream EHLO reply for a local client.
//! let mut ehlo = EhloReply::parse(b"250-mx.example.org\r\n250-STARTTLS\r\n250 AUTH XOAUTH2\r\n").unwrap();
//! ehlo.set_starttls(false);
//! ehlo.set_auth_mechanisms(&["PLAIN", "LOGIN"]);
//! assert_eq!(ehlo.to_reply().to_bytes(), b"250-mx.example.org\r\n250 AUTH PLAIN LOGIN\r\n");
//!
//! // Replies with enhanced status codes.
//! let reply = Reply::new(550, EnhancedStatus::new(5, 7, 1), "Relaying denied");
//! assert_eq!(reply.to_bytes(), b"550 5.7.1 Relaying denied\r\n");
//!
//! // Find the end of a message split across reads; what follows is the next command.
//! let mut scanner = DataScanner::new(10 * 1024 * 1024);
//! assert_eq!(scanner.scan(b"Subject: test\r\n\r\nHello\r\n.").unwrap(), DataStatus::Partial);
//! assert_eq!(
//!     scanner.scan(b"\r\nQUIT\r\n").unwrap(),
//!     DataStatus::Complete { end: 2, too_large: false }
//! );
//! ```
#![forbid(unsafe_code)]

mod bdat;
mod client;
#[cfg(feature = "tokio")]
pub mod codec;
mod command;
mod data;
mod ehlo;
mod error;
mod limits;
mod line;
pub mod manual;
mod parameters;
mod reply;
mod server;
mod status;

pub use bdat::BdatTracker;
pub use client::{ClientConfig, ClientError, ClientEvent, ClientSession, Stage};
pub use command::{Command, Path, Verb};
pub use data::{BareLineEndings, DataScanner, DataStatus, dot_stuff, dot_unstuff};
pub use ehlo::{Capability, EhloReply};
pub use error::{CommandError, DataError, ReplyError};
pub use limits::{Limits, LineEndings};
pub use line::{Frame, LineFramer};
pub use parameters::{Body, MailParameters, Notify, Orcpt, Parameter, RcptParameters, Ret};
pub use reply::{Reply, ReplyStatus};
pub use server::{ServerConfig, ServerEvent, ServerSession};
pub use status::EnhancedStatus;

/// Runs the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
