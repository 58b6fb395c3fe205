//! `tokio_util::codec` support (cargo feature `tokio`): line and multi-line framing on
//! `bytes::BytesMut`, so that `Framed<TcpStream, _>` speaks POP3.
//!
//! * [`Pop3ServerCodec`] decodes the lines a client sends (commands and SASL responses;
//!   an over-long line is one `Err` item, then skipped) and encodes [`Pop3Reply`]s.
//! * [`Pop3ClientCodec`] encodes [`Command`]s and remembers which ones are answered
//!   with a multi-line response (`CAPA`, `LIST`, `UIDL` without argument, `RETR`, `TOP`,
//!   `AUTH` without argument), so that it decodes each answer as one [`Pop3Reply`], body
//!   dot-unstuffed, even when commands are pipelined.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use futures_util::{SinkExt, StreamExt};
//! use mailgate_pop3::codec::{Pop3ClientCodec, Pop3Reply, Pop3ServerCodec};
//! use mailgate_pop3::{Command, Limits, StatusLine};
//! use tokio_util::codec::Framed;
//!
//! let (a, b) = tokio::io::duplex(1024);
//! let mut client = Framed::new(a, Pop3ClientCodec::new(Limits::UPSTREAM));
//! let mut server = Framed::new(b, Pop3ServerCodec::new(Limits::DEFAULT));
//! server.send(Pop3Reply::Status(StatusLine::ok("ready"))).await?;
//! client.send(Command::Capa).await?;
//! assert_eq!(server.next().await.unwrap()?, Ok(b"CAPA".to_vec()));
//! server
//!     .send(Pop3Reply::Multiline { status: StatusLine::ok(""), body: b"TOP\r\nUIDL\r\n".to_vec() })
//!     .await?;
//! assert_eq!(client.next().await.unwrap()?, Pop3Reply::Status(StatusLine::ok("ready")));
//! let Some(Ok(Pop3Reply::Multiline { body, .. })) = client.next().await else { unreachable!() };
//! assert_eq!(body, b"TOP\r\nUIDL\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Leftover bytes
//!
//! Bytes are taken out of the read buffer only as complete lines (or, for a multi-line
//! body, as the decoder consumes them into the item under construction), so
//! `Framed::into_parts().read_buf` (`tokio_util::codec::FramedParts`) holds what was
//! received after the last decoded item, e.g. what a client pipelined after `PASS`.

use std::collections::VecDeque;

use bytes::{Buf, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use crate::{Command, Limits, MultilineDecoder, Pop3Error, ServerLine, StatusLine, dot_stuff};

/// A server's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pop3Reply {
    /// A single `+OK` or `-ERR` line.
    Status(StatusLine),
    /// A `+OK` line and its body (without dot-stuffing and terminator; both are added
    /// when encoding and removed when decoding).
    Multiline {
        /// The `+OK` line.
        status: StatusLine,
        /// The body lines, each ending with CRLF.
        body: Vec<u8>,
    },
    /// A SASL continuation `+ <base64>`.
    Continuation(String),
}

/// Why a [`Pop3ClientCodec`] stopped: the server's bytes are not POP3, or I/O failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Pop3CodecError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not POP3 or is above the limits.
    #[error("protocol error from server: {0}")]
    Protocol(#[from] Pop3Error),
}

/// Takes the next line (without its line end) out of `src`, bounding its length like
/// [`LineBuffer`](crate::LineBuffer): an over-long line is reported once and the rest of
/// it skipped.
fn next_line(
    src: &mut BytesMut,
    max: usize,
    discarding: &mut bool,
) -> Option<Result<Vec<u8>, Pop3Error>> {
    if *discarding {
        match src.iter().position(|&b| b == b'\n') {
            Some(i) => {
                src.advance(i + 1);
                *discarding = false;
            }
            None => {
                src.clear();
                return None;
            }
        }
    }
    let window = &src[..src.len().min(max.saturating_add(1))];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) if i < max => {
            let line = src.split_to(i + 1);
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Some(Ok(line.to_vec()))
        }
        Some(i) => {
            src.advance(i + 1);
            Some(Err(Pop3Error::LineTooLong { max }))
        }
        None if src.len() > max => {
            src.clear();
            *discarding = true;
            Some(Err(Pop3Error::LineTooLong { max }))
        }
        None => None,
    }
}

/// The server side: decodes client lines, encodes replies.
#[derive(Debug, Clone)]
pub struct Pop3ServerCodec {
    max_line: usize,
    discarding: bool,
}

impl Pop3ServerCodec {
    /// A codec bounding lines by the longer of [`Limits::command_line`] and
    /// [`Limits::auth_line`] (`AUTH` lines and SASL responses carry long tokens); check
    /// `command_line` yourself for other commands, as
    /// [`ServerSession`](crate::ServerSession) does.
    pub fn new(limits: Limits) -> Self {
        Self {
            max_line: limits.command_line.max(limits.auth_line),
            discarding: false,
        }
    }
}

impl Decoder for Pop3ServerCodec {
    /// One line without CRLF (parse it with [`Command::parse`], or as a SASL response),
    /// or the report of an over-long line (answer `-ERR` and go on).
    type Item = Result<Vec<u8>, Pop3Error>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, std::io::Error> {
        Ok(next_line(src, self.max_line, &mut self.discarding))
    }
}

impl Encoder<Pop3Reply> for Pop3ServerCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Pop3Reply, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        let mut out = Vec::new();
        match item {
            Pop3Reply::Status(status) => status.encode(&mut out),
            Pop3Reply::Multiline { status, body } => {
                status.encode(&mut out);
                dot_stuff(&body, &mut out);
            }
            Pop3Reply::Continuation(text) => ServerLine::Continuation(text).encode(&mut out),
        }
        dst.extend_from_slice(&out);
        Ok(())
    }
}

/// The client side: encodes commands, decodes replies (multi-line bodies included).
#[derive(Debug, Clone)]
pub struct Pop3ClientCodec {
    limits: Limits,
    greeting_pending: bool,
    /// For each command sent and not yet answered: whether its `+OK` starts a body.
    expect_body: VecDeque<bool>,
    body: Option<(StatusLine, MultilineDecoder, Vec<u8>)>,
    discarding: bool,
}

impl Pop3ClientCodec {
    /// A codec for a fresh connection: the first status line is the greeting.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            greeting_pending: true,
            expect_body: VecDeque::new(),
            body: None,
            discarding: false,
        }
    }

    /// A codec for a connection whose greeting was read already (e.g. after `STLS`).
    pub fn after_greeting(limits: Limits) -> Self {
        Self {
            greeting_pending: false,
            ..Self::new(limits)
        }
    }
}

impl Decoder for Pop3ClientCodec {
    type Item = Pop3Reply;
    type Error = Pop3CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Pop3Reply>, Pop3CodecError> {
        if let Some((_, decoder, body)) = &mut self.body {
            let progress = decoder.decode(src, body)?;
            src.advance(progress.consumed);
            if !progress.done {
                return Ok(None);
            }
            return Ok(self
                .body
                .take()
                .map(|(status, _, body)| Pop3Reply::Multiline { status, body }));
        }
        let max = self.limits.response_line.max(self.limits.auth_line);
        let line = match next_line(src, max, &mut self.discarding) {
            None => return Ok(None),
            Some(line) => line?,
        };
        // Continuations carry tokens and error JSON: `auth_line` bounds them; every other
        // line is bounded by `response_line`.
        if line.len() + 2 > self.limits.response_line && !line.starts_with(b"+ ") {
            return Err(Pop3Error::LineTooLong {
                max: self.limits.response_line,
            }
            .into());
        }
        let status = match ServerLine::parse(&line)? {
            ServerLine::Continuation(text) => return Ok(Some(Pop3Reply::Continuation(text))),
            ServerLine::Status(status) => status,
        };
        let body_follows = if self.greeting_pending {
            self.greeting_pending = false;
            false
        } else {
            self.expect_body.pop_front().unwrap_or(false)
        };
        if body_follows && status.is_ok() {
            let decoder =
                MultilineDecoder::new(self.limits.response_line, self.limits.multiline_total);
            self.body = Some((status, decoder, Vec::new()));
            return self.decode(src);
        }
        Ok(Some(Pop3Reply::Status(status)))
    }
}

impl Encoder<Command> for Pop3ClientCodec {
    type Error = Pop3CodecError;

    fn encode(&mut self, item: Command, dst: &mut BytesMut) -> Result<(), Pop3CodecError> {
        self.expect_body.push_back(item.has_multiline_response());
        dst.extend_from_slice(&item.to_bytes());
        Ok(())
    }
}

impl Encoder<&[u8]> for Pop3ClientCodec {
    type Error = Pop3CodecError;

    /// Writes a raw line (a SASL response, CRLF included): no reply is expected for it
    /// beyond the exchange's own.
    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), Pop3CodecError> {
        dst.extend_from_slice(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lines_are_bounded() {
        let mut codec = Pop3ServerCodec::new(Limits {
            command_line: 8,
            auth_line: 8,
            ..Limits::DEFAULT
        });
        let mut src = BytesMut::from(&b"USER a\r\n0123456789"[..]);
        assert_eq!(
            codec.decode(&mut src).unwrap(),
            Some(Ok(b"USER a".to_vec()))
        );
        assert_eq!(
            codec.decode(&mut src).unwrap(),
            Some(Err(Pop3Error::LineTooLong { max: 8 }))
        );
        src.extend_from_slice(b"xyz\r\nQUIT\r\n");
        assert_eq!(codec.decode(&mut src).unwrap(), Some(Ok(b"QUIT".to_vec())));
        assert_eq!(codec.decode(&mut src).unwrap(), None);
    }

    #[test]
    fn pipelined_replies_pair_with_their_commands() {
        let mut codec = Pop3ClientCodec::new(Limits::UPSTREAM);
        let mut dst = BytesMut::new();
        for command in [Command::Capa, Command::Stat, Command::Retr(1)] {
            codec.encode(command, &mut dst).unwrap();
        }
        assert_eq!(&dst[..], b"CAPA\r\nSTAT\r\nRETR 1\r\n");
        let mut src = BytesMut::from(
            &b"+OK hi\r\n+OK\r\nTOP\r\n.\r\n+OK 1 10\r\n+OK\r\n..x\r\n.\r\n-ERR no"[..],
        );
        let mut got = Vec::new();
        while let Some(reply) = codec.decode(&mut src).unwrap() {
            got.push(reply);
        }
        assert_eq!(
            got,
            [
                Pop3Reply::Status(StatusLine::ok("hi")),
                Pop3Reply::Multiline {
                    status: StatusLine::ok(""),
                    body: b"TOP\r\n".to_vec()
                },
                Pop3Reply::Status(StatusLine::ok("1 10")),
                Pop3Reply::Multiline {
                    status: StatusLine::ok(""),
                    body: b".x\r\n".to_vec()
                },
            ]
        );
        assert_eq!(&src[..], b"-ERR no");
    }
}
