//! The framer: splits a byte stream into complete messages (a line plus the literals
//! it announces) before any grammar is applied.
//!
//! Push bytes as they arrive with [`Framer::push`], then call [`Framer::next_event`]
//! until it returns `None`. Limits of the [`ParserConfig`] are enforced here: after a
//! violation the framer reports it once and discards the rest of that message, skipping
//! literal data the peer still sends, so literal bytes are never taken for commands.
//! Memory is bounded by the limits plus the bytes pushed since the last `next_event`.
//!
//! ```
//! use mailgate_imap::framer::{Direction, Framer, FramerEvent};
//! use mailgate_imap::ParserConfig;
//!
//! let mut framer = Framer::new(Direction::ClientToServer, ParserConfig::strict());
//! framer.push(b"a1 LOGIN joe {6}\r\n");
//! assert!(matches!(framer.next_event(), Some(FramerEvent::ContinuationNeeded(h)) if h.size == 6));
//! assert!(framer.next_event().is_none()); // the driver sends "+ Ready" now
//! framer.push(b"secret\r\n");
//! assert!(matches!(framer.next_event(), Some(FramerEvent::Message(m)) if m == b"a1 LOGIN joe {6}\r\nsecret\r\n"));
//! ```

use crate::config::ParserConfig;
use crate::core::chars::{TAG, span};
use crate::core::number::NUMBER64_MAX;
use crate::core::{LiteralHeader, LiteralMode, Tag};
use crate::error::{ParseError, ParseErrorKind};

/// Which peer sends the stream being framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Commands from a client: synchronising literals wait for a `+` continuation.
    ClientToServer,
    /// Responses from a server: literal data always follows at once.
    ServerToClient,
}

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramerEvent<'a> {
    /// A complete message: its lines and literal data, ending with the line end.
    Message(&'a [u8]),
    /// The client announced a synchronising literal and waits for a `+` continuation
    /// request before sending its data. Send one, or refuse with
    /// [`Framer::refuse_literal`] (and answer the command with `BAD` or `NO`).
    ContinuationNeeded(LiteralHeader),
    /// A limit was exceeded. Reported once; the rest of the message is discarded.
    Error {
        /// What was exceeded and where, relative to the start of the message.
        error: ParseError,
        /// The tag of the discarded message, if its start was a valid tag.
        tag: Option<Tag<'static>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Looking for the end of the current line.
    Line,
    /// Taking `left` literal bytes into the message.
    Literal { left: u64 },
    /// Dropping a message after a violation: `left` literal bytes, then lines.
    Discard { left: u64 },
}

const TAIL: usize = 32;

/// A push-style, sans-I/O message framer for one direction of an IMAP connection.
#[derive(Debug, Clone)]
pub struct Framer {
    direction: Direction,
    config: ParserConfig,
    buf: Vec<u8>,
    /// Start of the current message in `buf` (everything before is consumed).
    start: usize,
    /// Start of the current line in `buf`.
    line_start: usize,
    /// Everything in `buf[start..pos]` is accounted for.
    pos: usize,
    mode: Mode,
    /// The last bytes of the line being discarded, to spot a literal announcement.
    tail: Vec<u8>,
    /// Where the data of the literal being taken starts.
    literal_start: usize,
}

impl Framer {
    /// A framer for the given direction with the given limits.
    pub fn new(direction: Direction, config: ParserConfig) -> Self {
        Self {
            direction,
            config,
            buf: Vec::new(),
            start: 0,
            line_start: 0,
            pos: 0,
            mode: Mode::Line,
            tail: Vec::new(),
            literal_start: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.line_start -= self.start;
            self.pos -= self.start;
            self.literal_start = self.literal_start.saturating_sub(self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered that do not yet form a complete message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether the framer is in the middle of a message (or of discarding one).
    pub fn in_message(&self) -> bool {
        self.buf.len() > self.start || self.mode != Mode::Line
    }

    /// After [`FramerEvent::ContinuationNeeded`]: the driver refused the literal, so
    /// the client will not send its data. The partial message is dropped.
    pub fn refuse_literal(&mut self) {
        if let Mode::Literal { .. } = self.mode {
            self.pos = self.literal_start;
            self.start = self.pos;
            self.line_start = self.pos;
            self.mode = Mode::Line;
        }
    }

    /// Returns the next event, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<FramerEvent<'_>> {
        loop {
            match self.mode {
                Mode::Literal { left } => {
                    let avail = (self.buf.len() - self.pos) as u64;
                    if avail < left {
                        self.pos = self.buf.len();
                        self.mode = Mode::Literal { left: left - avail };
                        return None;
                    }
                    self.pos += left as usize;
                    self.line_start = self.pos;
                    self.mode = Mode::Line;
                }
                Mode::Discard { left } => {
                    if !self.discard(left) {
                        return None;
                    }
                }
                Mode::Line => {
                    let Some(k) = memchr::memchr(b'\n', &self.buf[self.pos..]) else {
                        let line_len = self.buf.len() - self.line_start;
                        if line_len > self.config.max_line_length {
                            let offset = self.line_start - self.start + self.config.max_line_length;
                            return Some(self.violation(
                                ParseErrorKind::LineTooLong {
                                    limit: self.config.max_line_length,
                                },
                                offset,
                                self.buf.len(),
                            ));
                        }
                        self.pos = self.buf.len();
                        return None;
                    };
                    let lf = self.pos + k;
                    let end = lf + 1;
                    if end - self.line_start > self.config.max_line_length {
                        let offset = self.line_start - self.start + self.config.max_line_length;
                        // Re-scan the line in discard mode so a literal it announces is skipped.
                        return Some(self.violation(
                            ParseErrorKind::LineTooLong {
                                limit: self.config.max_line_length,
                            },
                            offset,
                            self.line_start,
                        ));
                    }
                    let message_len = (end - self.start) as u64;
                    if message_len > self.config.max_message_size {
                        return Some(self.violation(
                            ParseErrorKind::MessageTooLarge {
                                limit: self.config.max_message_size,
                            },
                            self.line_start - self.start,
                            self.line_start,
                        ));
                    }
                    let line = &self.buf[self.line_start..lf];
                    match trailing_literal(line, self.config.allow_bare_lf) {
                        None => {
                            let msg_start = self.start;
                            self.start = end;
                            self.line_start = end;
                            self.pos = end;
                            return Some(FramerEvent::Message(&self.buf[msg_start..end]));
                        }
                        Some(header) => {
                            let literal_at = lf - self.start;
                            if header.size > self.config.max_literal_size {
                                let kind = ParseErrorKind::LiteralTooLarge {
                                    size: header.size,
                                    limit: self.config.max_literal_size,
                                };
                                return Some(self.literal_violation(kind, literal_at, header, end));
                            }
                            if message_len.saturating_add(header.size)
                                > self.config.max_message_size
                            {
                                let kind = ParseErrorKind::MessageTooLarge {
                                    limit: self.config.max_message_size,
                                };
                                return Some(self.literal_violation(kind, literal_at, header, end));
                            }
                            self.pos = end;
                            self.literal_start = end;
                            self.mode = Mode::Literal { left: header.size };
                            if self.waits_for_continuation(&header) {
                                return Some(FramerEvent::ContinuationNeeded(header));
                            }
                        }
                    }
                }
            }
        }
    }

    fn waits_for_continuation(&self, header: &LiteralHeader) -> bool {
        self.direction == Direction::ClientToServer && header.mode == LiteralMode::Sync
    }

    /// Reports a violation and starts discarding from `resume` (a line start or the end).
    fn violation(
        &mut self,
        kind: ParseErrorKind,
        offset: usize,
        resume: usize,
    ) -> FramerEvent<'static> {
        // Only the bytes up to the violation are looked at, so that the result does
        // not depend on how the input was chunked.
        let tag = self.tag(offset.saturating_add(1));
        self.tail.clear();
        if resume == self.buf.len() {
            let line = &self.buf[self.line_start..];
            self.tail
                .extend_from_slice(&line[line.len().saturating_sub(TAIL)..]);
        }
        self.pos = resume;
        self.start = resume;
        self.line_start = resume;
        self.mode = Mode::Discard { left: 0 };
        FramerEvent::Error {
            error: ParseError::new(kind, offset),
            tag,
        }
    }

    /// Reports a refused literal; its data is skipped unless the client waits for `+`.
    fn literal_violation(
        &mut self,
        kind: ParseErrorKind,
        offset: usize,
        header: LiteralHeader,
        end: usize,
    ) -> FramerEvent<'static> {
        let tag = self.tag(usize::MAX);
        self.tail.clear();
        self.pos = end;
        self.start = end;
        self.line_start = end;
        self.mode = if self.waits_for_continuation(&header) {
            Mode::Line
        } else {
            Mode::Discard { left: header.size }
        };
        FramerEvent::Error {
            error: ParseError::new(kind, offset),
            tag,
        }
    }

    /// Discards input; returns true when the discarded message has ended.
    fn discard(&mut self, mut left: u64) -> bool {
        loop {
            if left > 0 {
                let avail = (self.buf.len() - self.pos) as u64;
                let skip = avail.min(left);
                self.pos += skip as usize;
                left -= skip;
                self.start = self.pos;
                self.line_start = self.pos;
                if left > 0 {
                    self.mode = Mode::Discard { left };
                    return false;
                }
            }
            let rest = &self.buf[self.pos..];
            let Some(k) = memchr::memchr(b'\n', rest) else {
                let keep = rest.len().min(TAIL);
                let drop = self.tail.len().saturating_add(keep).saturating_sub(TAIL);
                self.tail.drain(..drop.min(self.tail.len()));
                self.tail.extend_from_slice(&rest[rest.len() - keep..]);
                self.pos = self.buf.len();
                self.start = self.pos;
                self.line_start = self.pos;
                self.mode = Mode::Discard { left: 0 };
                return false;
            };
            let lf = self.pos + k;
            let mut line = std::mem::take(&mut self.tail);
            let piece = &self.buf[self.pos..lf];
            line.extend_from_slice(&piece[piece.len().saturating_sub(TAIL)..]);
            // Look at exactly the last TAIL bytes of the line, however it was chunked.
            line.drain(..line.len().saturating_sub(TAIL));
            self.pos = lf + 1;
            self.start = self.pos;
            self.line_start = self.pos;
            match trailing_literal(&line, self.config.allow_bare_lf) {
                Some(h) if !self.waits_for_continuation(&h) => left = h.size,
                _ => {
                    self.mode = Mode::Line;
                    return true;
                }
            }
        }
    }

    /// The tag at the start of the current message, if valid, looking at no more than
    /// `visible` bytes.
    fn tag(&self, visible: usize) -> Option<Tag<'static>> {
        let msg = &self.buf[self.start..];
        let msg = &msg[..msg.len().min(visible)];
        let n = span(&msg[..msg.len().min(64)], TAG);
        if n == 0 || !matches!(msg.get(n), Some(b' ' | b'\r' | b'\n')) {
            return None;
        }
        let s = std::str::from_utf8(&msg[..n]).ok()?;
        Tag::try_new(s.to_owned()).ok()
    }
}

/// Recognises a literal announcement at the end of `line` (the line end excluded):
/// `{n}`, `{n+}`, `~{n}`, `~{n+}`. A size too large for `number64` is reported as
/// `u64::MAX` so that it fails every limit.
pub(crate) fn trailing_literal(line: &[u8], allow_bare_lf: bool) -> Option<LiteralHeader> {
    let line = match line {
        [rest @ .., b'\r'] => rest,
        _ if allow_bare_lf => line,
        _ => return None,
    };
    let [rest @ .., b'}'] = line else {
        return None;
    };
    let (rest, mode) = match rest {
        [r @ .., b'+'] => (r, LiteralMode::NonSync),
        _ => (rest, LiteralMode::Sync),
    };
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (rest, num) = rest.split_at(rest.len() - digits);
    let [rest @ .., b'{'] = rest else {
        return None;
    };
    let binary = rest.last() == Some(&b'~');
    let mut size: u64 = 0;
    for &d in num {
        size = match size
            .checked_mul(10)
            .and_then(|s| s.checked_add(u64::from(d - b'0')))
        {
            Some(s) if s <= NUMBER64_MAX => s,
            _ => u64::MAX,
        };
        if size == u64::MAX {
            break;
        }
    }
    Some(LiteralHeader { size, mode, binary })
}

#[cfg(test)]
mod tests;
