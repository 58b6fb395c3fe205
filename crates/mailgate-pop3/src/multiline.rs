//! Multi-line response bodies (RFC 1939 section 3): the `CRLF.CRLF` terminator
//! and dot-stuffing.

use crate::Pop3Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// Inside a line.
    InLine,
    /// Inside a line, just after a CR.
    InLineCr,
    /// A line started with `.`.
    Dot,
    /// A line started with `.` and a CR followed.
    DotCr,
    /// The terminator was seen.
    Done,
}

/// How far a [`MultilineDecoder::decode`] call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input that belong to the body (including the terminator when
    /// `done`). Bytes after that belong to the next response.
    pub consumed: usize,
    /// Whether the terminating `.CRLF` line was seen.
    pub done: bool,
}

/// A streaming decoder for the body of a multi-line response, after its `+OK`
/// line: finds the terminating `CRLF.CRLF`, removes dot-stuffing, and works across
/// arbitrary chunk boundaries without buffering (state is a few bytes).
///
/// Lines end with CRLF; a bare LF does not start a new line, so a `.` after a
/// bare LF is data, not a terminator. A line that starts with `.` followed by
/// anything but CRLF loses its first `.` (RFC 1939 section 3).
///
/// Bounds: each body line (including CRLF) may be at most `max_line` octets and
/// the whole body at most `max_total` octets; exceeding them is an error.
///
/// ```
/// use mailgate_pop3::MultilineDecoder;
/// let mut dec = MultilineDecoder::new(1000, 1_000_000);
/// let mut body = Vec::new();
/// let p = dec.decode(b"TOP\r\n..hidden\r\n", &mut body).unwrap();
/// assert!(!p.done);
/// let p = dec.decode(b".\r\n+OK next", &mut body).unwrap();
/// assert!(p.done);
/// assert_eq!(p.consumed, 3);
/// assert_eq!(body, b"TOP\r\n.hidden\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct MultilineDecoder {
    state: State,
    line_len: usize,
    total: usize,
    max_line: usize,
    max_total: usize,
}

impl MultilineDecoder {
    /// A decoder bounding each line (including CRLF) to `max_line` and the body to
    /// `max_total` octets (counted on the wire, before unstuffing).
    pub fn new(max_line: usize, max_total: usize) -> Self {
        Self {
            state: State::LineStart,
            line_len: 0,
            total: 0,
            max_line,
            max_total,
        }
    }

    /// Whether the terminator has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as belongs to the body, appending the unstuffed
    /// body (lines with their CRLF, without the terminator) to `out`.
    ///
    /// # Errors
    ///
    /// [`Pop3Error::LineTooLong`] or [`Pop3Error::MultilineTooLong`]; the decoder is
    /// then unusable (the stream is out of sync).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, Pop3Error> {
        let mut consumed = 0;
        for &b in input {
            if self.state == State::Done {
                break;
            }
            consumed += 1;
            self.total += 1;
            self.line_len += 1;
            if self.total > self.max_total {
                return Err(Pop3Error::MultilineTooLong {
                    max: self.max_total,
                });
            }
            if self.line_len > self.max_line {
                return Err(Pop3Error::LineTooLong { max: self.max_line });
            }
            self.state = match (self.state, b) {
                (State::LineStart, b'.') => State::Dot,
                (State::Dot, b'\r') => State::DotCr,
                (State::DotCr, b'\n') => State::Done,
                (State::DotCr, _) => {
                    // ".\rX": the dot is stuffing, the CR is data.
                    out.push(b'\r');
                    self.data(b, out)
                }
                (State::LineStart | State::Dot, _) => self.data(b, out),
                (State::InLine, _) => self.data(b, out),
                (State::InLineCr, b'\n') => {
                    out.push(b'\n');
                    self.line_len = 0;
                    State::LineStart
                }
                (State::InLineCr, _) => self.data(b, out),
                (State::Done, _) => State::Done,
            };
        }
        Ok(Progress {
            consumed,
            done: self.state == State::Done,
        })
    }

    fn data(&mut self, b: u8, out: &mut Vec<u8>) -> State {
        out.push(b);
        if b == b'\r' {
            State::InLineCr
        } else {
            State::InLine
        }
    }
}

/// Dot-stuffs a body and appends the terminator: the encoder matching
/// [`MultilineDecoder`]. A body that does not end with CRLF gets one.
///
/// ```
/// let mut out = Vec::new();
/// mailgate_pop3::dot_stuff(b"SASL PLAIN\r\n.dot\r\n", &mut out);
/// assert_eq!(out, b"SASL PLAIN\r\n..dot\r\n.\r\n");
/// ```
pub fn dot_stuff(body: &[u8], out: &mut Vec<u8>) {
    let mut stuffer = DotStuffer::new();
    stuffer.encode(body, out);
    stuffer.finish(out);
}

/// A streaming dot-stuffing encoder, for bodies that arrive in chunks.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    at_line_start: bool,
    last: Option<u8>,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A fresh encoder, at the start of the first line.
    pub fn new() -> Self {
        Self {
            at_line_start: true,
            last: None,
        }
    }

    /// Appends `chunk` to `out`, doubling every `.` that starts a line.
    pub fn encode(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if self.at_line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            self.at_line_start = b == b'\n' && self.last == Some(b'\r');
            self.last = Some(b);
        }
    }

    /// Ends the body: adds a CRLF if the last line lacks one, then `.CRLF`.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !(self.at_line_start || self.last.is_none()) {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
#[path = "multiline_tests.rs"]
mod tests;
