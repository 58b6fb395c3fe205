//! Sans-I/O IMAP4rev1/IMAP4rev2 framer, command and response codec with strict and lenient modes.
//!
//! Bytes go in, values and bytes come out: no sockets, no clock. A [`Framer`] splits
//! the stream of one direction into complete messages (a line plus the literals it
//! announces) and enforces the limits of a [`ParserConfig`]; [`Command::parse`] and
//! [`response::parse_response`] apply the grammar to one framed message; [`Encode`]
//! writes the canonical wire form back.
//!
//! ```
//! use mailgate_imap::framer::{Direction, Framer, FramerEvent};
//! use mailgate_imap::response::{RespText, Response, Status, StatusKind, Text};
//! use mailgate_imap::{Command, CommandBody, Encode, ParserConfig};
//!
//! // Frame and parse what a local client sends (strict grammar).
//! let config = ParserConfig::strict();
//! let mut framer = Framer::new(Direction::ClientToServer, config.clone());
//! framer.push(b"a1 LOGIN joe {6+}\r\nsecret\r\n");
//! let Some(FramerEvent::Message(message)) = framer.next_event() else { panic!() };
//! let (command, _) = Command::parse(message, &config)?;
//! let CommandBody::Login { username, password } = &command.body else { panic!() };
//! assert_eq!(username.as_bytes(), b"joe");
//! assert_eq!(format!("{password:?}"), "Secret([redacted])");
//!
//! // Answer it.
//! let reply = Response::Status(Status::Tagged {
//!     tag: command.tag.clone(),
//!     kind: StatusKind::Ok,
//!     text: RespText::new(Text::try_from("LOGIN completed")?),
//! });
//! assert_eq!(reply.to_vec(), b"a1 OK LOGIN completed\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`session`] holds the two machines a proxy runs before login: [`session::ServerSession`]
//! towards a local client (`LOGIN`/`AUTHENTICATE PLAIN`/`LOGIN` in) and
//! [`session::ClientSession`] towards the server (XOAUTH2/OAUTHBEARER out). With the `tokio`
//! cargo feature, `codec::ImapCodec` frames a `tokio_util::codec::Framed` stream.
//!
//! Leniency is chosen per side at run time: [`ParserConfig::strict`] for clients,
//! [`ParserConfig::lenient`] for upstream servers (the accepted quirks are listed in
//! [`response::quirks`]). Errors are [`ParseError`]s with a kind and a byte offset,
//! readable enough for the text of a `BAD` response.
#![forbid(unsafe_code)]

mod canonical;
#[cfg(feature = "tokio")]
pub mod codec;
pub mod command;
pub mod config;
pub mod core;
pub mod encode;
pub mod error;
pub mod framer;
pub mod response;
pub mod secret;
pub mod session;

pub use canonical::{canonicalize_command, canonicalize_response};
pub use command::{Command, CommandBody};
pub use config::ParserConfig;
pub use core::*;
pub use encode::Encode;
pub use error::{Fault, ParseError, ParseErrorKind, ValidationError};
pub use framer::Framer;
pub use secret::Secret;

/// Runs the README examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
