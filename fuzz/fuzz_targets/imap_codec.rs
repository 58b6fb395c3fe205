//! Fuzzes `mailgate_imap::codec::ImapCodec` (the `tokio_util` codec) on a `BytesMut` read
//! buffer filled in arbitrary chunks: it never panics, returns the same frames as the
//! framer given the whole input at once, keeps the read buffer bounded, and, while no
//! limit was exceeded and no literal refused, never loses a byte: the messages returned
//! plus the read buffer are exactly the bytes received (what a proxy hands to its relay
//! through `FramedParts`). One mode bit refuses every synchronising literal.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use mailgate_imap::ParserConfig;
use mailgate_imap::codec::{ImapCodec, ImapFrame};
use mailgate_imap::framer::{Direction, Framer, FramerEvent};
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Message(Vec<u8>),
    Continuation(u64),
    Error(String),
}

/// The framer's events for `data` pushed at once, refusing literals when `refuse`.
fn framer_events(
    direction: Direction,
    config: &ParserConfig,
    refuse: bool,
    data: &[u8],
) -> Vec<Event> {
    let mut framer = Framer::new(direction, config.clone());
    framer.push(data);
    let mut events = Vec::new();
    while let Some(event) = framer.next_event() {
        let event = match event {
            FramerEvent::Message(m) => Event::Message(m.to_vec()),
            FramerEvent::ContinuationNeeded(h) => Event::Continuation(h.size),
            FramerEvent::Error { error, .. } => Event::Error(error.to_string()),
            _ => Event::Error("unknown event".into()),
        };
        if refuse && matches!(event, Event::Continuation(_)) {
            framer.refuse_literal();
        }
        events.push(event);
    }
    events
}

fuzz_target!(|input: &[u8]| {
    let Some((&[mode, line, literal, chunk], data)) = input.split_first_chunk::<4>() else {
        return;
    };
    let direction = if mode & 1 == 0 {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    let mut config = if mode & 2 == 0 {
        ParserConfig::strict()
    } else {
        ParserConfig::lenient()
    };
    // Small limits so that every violation path is reached.
    config.max_line_length = usize::from(line).max(1) * 4;
    config.max_literal_size = u64::from(literal) * 2;
    config.max_message_size = u64::from(literal) * 8 + 64;
    let refuse = mode & 4 != 0;
    let chunk = usize::from(chunk).max(1);

    let mut codec = ImapCodec::new(direction, config.clone());
    let mut buffer = BytesMut::new();
    let mut events = Vec::new();
    let mut returned = Vec::new();
    let mut lossless = true;
    for piece in data.chunks(chunk) {
        buffer.put_slice(piece);
        loop {
            let frame = match codec.decode(&mut buffer) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => panic!("decode failed: {error}"),
            };
            events.push(match frame {
                ImapFrame::Message(message) => {
                    returned.extend_from_slice(&message);
                    Event::Message(message.to_vec())
                }
                ImapFrame::ContinuationNeeded(header) => {
                    if refuse {
                        codec.refuse_literal();
                        lossless = false;
                    }
                    Event::Continuation(header.size)
                }
                ImapFrame::Error { error, .. } => {
                    lossless = false;
                    Event::Error(error.to_string())
                }
                _ => panic!("unknown frame"),
            });
        }
        // Bounded: one message over the limits plus one read, whatever the peer sends.
        let bound = config.max_line_length as u64 + config.max_message_size + piece.len() as u64;
        assert!((buffer.len() as u64) <= bound, "{} buffered", buffer.len());
    }
    if lossless {
        // Every byte is either in a returned message or still in the read buffer.
        let mut seen = returned.clone();
        seen.extend_from_slice(&buffer);
        assert_eq!(seen, data);
    }
    assert_eq!(events, framer_events(direction, &config, refuse, data));

    // Writing raw bytes appends them unchanged.
    let mut out = BytesMut::new();
    codec
        .encode(&returned[..], &mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&out[..], &returned[..]);
});
