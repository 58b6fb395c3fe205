//! `tokio_util::codec` support (cargo feature `tokio`): [`ImapCodec`] frames complete IMAP
//! messages (a line plus the literals it announces) on a `bytes::BytesMut` with the crate's
//! [`Framer`], so that `Framed<TcpStream, ImapCodec>` reads commands or responses and
//! writes anything that implements [`Encode`] (and raw bytes).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use futures_util::{SinkExt, StreamExt};
//! use mailgate_imap::codec::{ImapCodec, ImapFrame};
//! use mailgate_imap::response::{RespText, Response, Status, StatusKind, Text};
//! use mailgate_imap::{Command, ParserConfig, Tag};
//! use tokio::io::AsyncWriteExt;
//! use tokio_util::codec::Framed;
//!
//! let (mut client, server) = tokio::io::duplex(1024);
//! let mut server = Framed::new(server, ImapCodec::server(ParserConfig::strict()));
//! client.write_all(b"a1 LOGIN joe {6+}\r\nsecret\r\na2 NOOP\r\n").await?;
//! let Some(Ok(ImapFrame::Message(message))) = server.next().await else { unreachable!() };
//! let (command, _) = Command::parse(&message, &ParserConfig::strict())?;
//! assert_eq!(command.tag.as_str(), "a1");
//! let reply = Response::Status(Status::Tagged {
//!     tag: Tag::try_from("a1")?,
//!     kind: StatusKind::Ok,
//!     text: RespText::new(Text::try_from("LOGIN completed")?),
//! });
//! server.send(&reply).await?;
//! // What was not returned as a message yet stays in the read buffer.
//! assert_eq!(&server.into_parts().read_buf[..], b"a2 NOOP\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Leftover bytes
//!
//! The codec never moves bytes out of the read buffer before it returns them as a
//! message: `Framed::into_parts().read_buf` (see `tokio_util::codec::FramedParts`) holds
//! every byte received and not yet returned, e.g. what a client pipelined after its login,
//! to relay on. Keep using such a buffer with the same codec, or with a fresh one
//! ([`ImapCodec::server`]/[`ImapCodec::client`]); a codec that has framed part of one
//! buffer must not be given another.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::framer::{Direction, Framer, FramerEvent};
use crate::{Encode, LiteralHeader, ParseError, ParserConfig, Tag};

/// What [`ImapCodec`] decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImapFrame {
    /// A complete message: its lines and literal data, ending with the line end. Parse it
    /// with [`Command::parse`](crate::Command::parse) or
    /// [`response::parse_response`](crate::response::parse_response).
    Message(Bytes),
    /// (Server side.) The client announced a synchronising literal and waits for a `+`
    /// continuation request before it sends the data: send one (e.g. a
    /// [`Continue`](crate::response::Continue)), or refuse with
    /// [`ImapCodec::refuse_literal`] and answer the command with `BAD` or `NO`.
    ContinuationNeeded(LiteralHeader),
    /// A limit of the [`ParserConfig`] was exceeded. Reported once; the rest of the
    /// message is skipped (literal data included), so answer `BAD` and go on.
    Error {
        /// What was exceeded and where.
        error: ParseError,
        /// The tag of the skipped message, if its start was a valid tag.
        tag: Option<Tag<'static>>,
    },
}

/// A `tokio_util` codec for one side of an IMAP connection.
#[derive(Debug, Clone)]
pub struct ImapCodec {
    framer: Framer,
    /// Bytes at the front of the read buffer already given to the framer.
    pushed: usize,
}

impl ImapCodec {
    /// A codec for a server: it decodes the commands a client sends.
    pub fn server(config: ParserConfig) -> Self {
        Self::new(Direction::ClientToServer, config)
    }

    /// A codec for a client: it decodes the responses a server sends.
    pub fn client(config: ParserConfig) -> Self {
        Self::new(Direction::ServerToClient, config)
    }

    /// A codec decoding what the peer sends in `direction`.
    pub fn new(direction: Direction, config: ParserConfig) -> Self {
        Self {
            framer: Framer::new(direction, config),
            pushed: 0,
        }
    }

    /// After [`ImapFrame::ContinuationNeeded`]: the literal is refused, so the client will
    /// not send its data; the partial message is dropped from the read buffer at the next
    /// decode.
    pub fn refuse_literal(&mut self) {
        self.framer.refuse_literal();
    }

    /// The limits in use.
    pub fn config(&self) -> &ParserConfig {
        self.framer.config()
    }

    /// Drops from `src` what the framer has consumed without returning it.
    fn sync(&mut self, src: &mut BytesMut) -> BytesMut {
        let consumed = self
            .pushed
            .saturating_sub(self.framer.buffered())
            .min(src.len());
        self.pushed -= consumed;
        src.split_to(consumed)
    }
}

impl Decoder for ImapCodec {
    type Item = ImapFrame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ImapFrame>, std::io::Error> {
        self.sync(src);
        if let Some(new) = src.get(self.pushed..)
            && !new.is_empty()
        {
            self.framer.push(new);
            self.pushed = src.len();
        }
        let frame = match self.framer.next_event() {
            None => None,
            Some(FramerEvent::Message(message)) => {
                let len = message.len();
                let mut consumed = self.sync(src);
                // Skipped bytes of an earlier violation may come first.
                consumed.advance(consumed.len().saturating_sub(len));
                return Ok(Some(ImapFrame::Message(consumed.freeze())));
            }
            Some(FramerEvent::ContinuationNeeded(header)) => {
                Some(ImapFrame::ContinuationNeeded(header))
            }
            Some(FramerEvent::Error { error, tag }) => Some(ImapFrame::Error { error, tag }),
        };
        self.sync(src);
        Ok(frame)
    }
}

impl<T: Encode> Encoder<T> for ImapCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        let mut out = Vec::new();
        item.encode(&mut out);
        dst.extend_from_slice(&out);
        Ok(())
    }
}

impl Encoder<&[u8]> for ImapCodec {
    type Error = std::io::Error;

    /// Writes raw bytes, e.g. an AUTHENTICATE response line (CRLF included) or literal
    /// data after a continuation request.
    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), std::io::Error> {
        dst.extend_from_slice(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut ImapCodec, src: &mut BytesMut) -> Vec<ImapFrame> {
        std::iter::from_fn(|| codec.decode(src).ok().flatten()).collect()
    }

    #[test]
    fn messages_errors_and_leftovers() {
        let mut config = ParserConfig::strict();
        config.max_literal_size = 8;
        let mut codec = ImapCodec::server(config);
        let mut src = BytesMut::from(&b"a1 LOGIN {3}\r\n"[..]);
        let frames = decode_all(&mut codec, &mut src);
        assert!(matches!(frames[..], [ImapFrame::ContinuationNeeded(h)] if h.size == 3));
        src.extend_from_slice(b"joe x\r\na2 LOGIN {20+}\r\n01234567890123456789\r\na3 NO");
        let frames = decode_all(&mut codec, &mut src);
        let [ImapFrame::Message(m), ImapFrame::Error { tag, .. }] = &frames[..] else {
            panic!("{frames:?}")
        };
        assert_eq!(&m[..], b"a1 LOGIN {3}\r\njoe x\r\n");
        assert_eq!(tag.as_ref().map(Tag::as_str), Some("a2"));
        src.extend_from_slice(b"OP\r\n");
        let frames = decode_all(&mut codec, &mut src);
        assert!(matches!(&frames[..], [ImapFrame::Message(m)] if &m[..] == b"a3 NOOP\r\n"));
        assert!(src.is_empty());
        // A refused literal is dropped from the buffer.
        src.extend_from_slice(b"a4 LOGIN {3}\r\n");
        assert!(matches!(
            decode_all(&mut codec, &mut src)[..],
            [ImapFrame::ContinuationNeeded(_)]
        ));
        codec.refuse_literal();
        src.extend_from_slice(b"a5 NO");
        assert!(decode_all(&mut codec, &mut src).is_empty());
        assert_eq!(&src[..], b"a5 NO");
    }
}
