//! `tokio_util::codec` support (cargo feature `tokio`): line and reply framing on
//! `bytes::BytesMut`, so that `Framed<TcpStream, _>` speaks SMTP.
//!
//! * [`SmtpServerCodec`] decodes the lines a client sends with the bounded [`LineFramer`]
//!   (an over-long line is one [`CommandLine::TooLong`] item, its tail skipped) and
//!   encodes [`Reply`]s.
//! * [`SmtpClientCodec`] encodes [`Command`]s (and raw lines such as SASL responses)
//!   and decodes complete, possibly multi-line, [`Reply`]s.
//!
//! Message content after `DATA` is not lines: take the read buffer with
//! `Framed::into_parts` and run a [`DataScanner`](crate::DataScanner) over it (and the
//! bytes that follow) to find the end of the message safely.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use futures_util::{SinkExt, StreamExt};
//! use mailgate_smtp::codec::{CommandLine, SmtpClientCodec, SmtpServerCodec};
//! use mailgate_smtp::{Command, EnhancedStatus, Limits, Reply};
//! use tokio_util::codec::Framed;
//!
//! let (a, b) = tokio::io::duplex(1024);
//! let mut client = Framed::new(a, SmtpClientCodec::new(Limits::default()));
//! let mut server = Framed::new(b, SmtpServerCodec::new(Limits::default()));
//! server
//!     .send(Reply::multiline(250, None, ["mx.example.org", "PIPELINING", "AUTH PLAIN"]))
//!     .await?;
//! let reply = client.next().await.unwrap()?;
//! assert_eq!((reply.code, reply.lines.len()), (250, 3));
//! client.send(Command::Noop { argument: None }).await?;
//! let Some(Ok(CommandLine::Line(line))) = server.next().await else { unreachable!() };
//! assert_eq!(&line[..], b"NOOP");
//! server.send(Reply::new(250, EnhancedStatus::new(2, 0, 0), "OK")).await?;
//! assert_eq!(client.next().await.unwrap()?.to_string(), "250 2.0.0 OK");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Leftover bytes
//!
//! Bytes leave the read buffer only as complete lines or replies (or as the skipped tail
//! of an over-long line), so `Framed::into_parts().read_buf`
//! (`tokio_util::codec::FramedParts`) holds exactly what was received after the last
//! item: the start of a message after `DATA`, or what a client pipelined after `AUTH`.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use crate::command::Command;
use crate::error::ReplyError;
use crate::limits::{Limits, LineEndings};
use crate::line::{Frame, LineFramer};
use crate::reply::{Reply, ReplyStatus};

/// A line a client sent, as [`SmtpServerCodec`] decodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandLine {
    /// A line without its line end: parse it with [`Command::parse`], or take it as a
    /// SASL response.
    Line(Bytes),
    /// A line longer than the limit (reported once, its tail skipped): answer
    /// `500 5.5.6` and go on.
    TooLong,
}

/// Why a [`SmtpClientCodec`] stopped: the server's bytes are not SMTP replies, or I/O
/// failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SmtpCodecError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent a malformed reply or one above the limits.
    #[error("malformed server reply: {0}")]
    Reply(#[from] ReplyError),
}

/// The server side: decodes client lines, encodes replies.
#[derive(Debug, Clone)]
pub struct SmtpServerCodec {
    framer: LineFramer,
    max_line: usize,
}

impl SmtpServerCodec {
    /// A codec accepting CRLF line ends only (as towards local clients), bounding lines by
    /// the longer of [`Limits::command_line`] and [`Limits::auth_line`] (`AUTH` lines and
    /// SASL responses carry long tokens); check `command_line` yourself for other
    /// commands, as [`ServerSession`](crate::ServerSession) does.
    pub fn new(limits: Limits) -> Self {
        Self::with_line_endings(limits, LineEndings::Strict)
    }

    /// Like [`new`](SmtpServerCodec::new) with the given line endings.
    pub fn with_line_endings(limits: Limits, endings: LineEndings) -> Self {
        Self {
            framer: LineFramer::new(endings),
            max_line: limits.command_line.max(limits.auth_line),
        }
    }
}

impl Decoder for SmtpServerCodec {
    type Item = CommandLine;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<CommandLine>, std::io::Error> {
        loop {
            match self.framer.next_line(src, self.max_line) {
                Frame::Incomplete => return Ok(None),
                Frame::Line { line, consumed } => {
                    let len = line.len();
                    let mut bytes = src.split_to(consumed);
                    bytes.truncate(len);
                    return Ok(Some(CommandLine::Line(bytes.freeze())));
                }
                Frame::TooLong { consumed } => {
                    src.advance(consumed);
                    return Ok(Some(CommandLine::TooLong));
                }
                Frame::Discarded { consumed } => src.advance(consumed),
            }
        }
    }
}

impl Encoder<Reply<'_>> for SmtpServerCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Reply<'_>, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        dst.extend_from_slice(&item.to_bytes());
        Ok(())
    }
}

/// The client side: encodes commands, decodes replies.
#[derive(Debug, Clone)]
pub struct SmtpClientCodec {
    limits: Limits,
}

impl SmtpClientCodec {
    /// A codec bounding replies by `limits` ([`Limits::reply_line`],
    /// [`Limits::reply_lines`]).
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl Decoder for SmtpClientCodec {
    type Item = Reply<'static>;
    type Error = SmtpCodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Reply<'static>>, SmtpCodecError> {
        match Reply::parse(src, &self.limits)? {
            ReplyStatus::Partial => Ok(None),
            ReplyStatus::Complete(reply, used) => {
                let reply = reply.into_owned();
                src.advance(used);
                Ok(Some(reply))
            }
        }
    }
}

impl Encoder<Command<'_>> for SmtpClientCodec {
    type Error = SmtpCodecError;

    fn encode(&mut self, item: Command<'_>, dst: &mut BytesMut) -> Result<(), SmtpCodecError> {
        dst.extend_from_slice(&item.to_bytes());
        Ok(())
    }
}

impl Encoder<&[u8]> for SmtpClientCodec {
    type Error = SmtpCodecError;

    /// Writes raw bytes: a SASL response line (CRLF included) or dot-stuffed message data.
    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), SmtpCodecError> {
        dst.extend_from_slice(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_overlong_lines() {
        let limits = Limits {
            command_line: 10,
            auth_line: 10,
            ..Limits::default()
        };
        let mut codec = SmtpServerCodec::new(limits);
        let mut src = BytesMut::from(&b"NOOP\r\n0123456789abc"[..]);
        assert_eq!(
            codec.decode(&mut src).unwrap(),
            Some(CommandLine::Line(Bytes::from_static(b"NOOP")))
        );
        assert_eq!(codec.decode(&mut src).unwrap(), Some(CommandLine::TooLong));
        src.extend_from_slice(b"def\r\nQUIT\r\nDA");
        assert_eq!(
            codec.decode(&mut src).unwrap(),
            Some(CommandLine::Line(Bytes::from_static(b"QUIT")))
        );
        assert_eq!(codec.decode(&mut src).unwrap(), None);
        assert_eq!(&src[..], b"DA");
    }

    #[test]
    fn replies() {
        let mut codec = SmtpClientCodec::new(Limits::default());
        let mut src = BytesMut::from(&b"250-a\r\n250 b\r\n354 go"[..]);
        let reply = codec.decode(&mut src).unwrap().unwrap();
        assert_eq!(reply.lines, ["a", "b"]);
        assert!(codec.decode(&mut src).unwrap().is_none());
        src.extend_from_slice(b"\r\nxx\r\n");
        assert_eq!(codec.decode(&mut src).unwrap().unwrap().code, 354);
        assert!(codec.decode(&mut src).is_err());
    }
}
