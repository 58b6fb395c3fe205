//! DATA framing: finding `CRLF.CRLF` across chunk boundaries, refusing the ambiguous
//! bare-CR/bare-LF end-of-data forms used for SMTP smuggling, and dot-stuffing.

use crate::error::DataError;

/// Where the scanner stands relative to line structure after the last octet seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside a line.
    Text,
    /// After a CR that may start CRLF.
    Cr,
    /// At the start of a line. `bare` if the line ending before it was not CRLF.
    LineStart { bare: bool },
    /// After `.` at the start of a line.
    Dot { bare: bool },
    /// After CRLF, `.` and CR: only LF may follow.
    DotCr,
    /// The end-of-data line was seen.
    Done,
}

/// How the scanner treats a CR or LF that is not part of CRLF inside the message.
///
/// The ambiguous end-of-data forms (`LF.LF`, `CR.CR`, `LF.CRLF`, `CRLF.LF`, `CRLF.CR`…)
/// are refused in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BareLineEndings {
    /// Pass them through (after checking they do not form an end-of-data look-alike).
    #[default]
    Allow,
    /// Refuse the message with [`DataError::BareLineEnding`].
    Reject,
}

/// Outcome of [`DataScanner::scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStatus {
    /// The whole chunk belongs to the message; feed the next one.
    Partial,
    /// The message ended inside this chunk.
    Complete {
        /// Offset just past the terminating `.CRLF` within the chunk: octets from here on
        /// are the next command(s), e.g. a pipelined `QUIT`.
        end: usize,
        /// Whether the message (dot-stuffed, without the terminating `.CRLF`) was larger
        /// than the size limit. RFC 5321 wants the whole message read, then `552`.
        too_large: bool,
    },
}

/// Streaming end-of-message detector for the DATA command.
///
/// Feed it the octets after the `354` reply in chunks of any size; it keeps no buffer
/// (a few bytes of state) and uses `memchr` to skip over line content.
///
/// ```
/// use mailgate_smtp::{DataScanner, DataStatus};
/// let mut scanner = DataScanner::new(1024);
/// assert_eq!(scanner.scan(b"Subject: hi\r\n\r\nbody\r"), Ok(DataStatus::Partial));
/// assert_eq!(
///     scanner.scan(b"\n.\r\nQUIT\r\n"),
///     Ok(DataStatus::Complete { end: 4, too_large: false })
/// );
/// // A smuggling attempt: a bare-LF end-of-data look-alike.
/// let mut scanner = DataScanner::new(1024);
/// assert!(scanner.scan(b"x\n.\nMAIL FROM:<evil@example.com>\r\n").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct DataScanner {
    state: State,
    size: u64,
    limit: u64,
    bare: BareLineEndings,
}

impl DataScanner {
    /// A scanner for one message of at most `limit` octets (dot-stuffed, as transmitted).
    pub fn new(limit: u64) -> Self {
        DataScanner {
            state: State::LineStart { bare: false },
            size: 0,
            limit,
            bare: BareLineEndings::Allow,
        }
    }

    /// Sets how bare CR and LF inside the message are treated.
    pub fn with_bare_line_endings(mut self, bare: BareLineEndings) -> Self {
        self.bare = bare;
        self
    }

    /// Octets of message data seen so far (the terminating `.CRLF` excluded).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the end of the message was found.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Scans the next chunk of the DATA stream.
    ///
    /// After `Complete` or an error the scanner is finished; make a new one for the next
    /// message. An error means the stream cannot be trusted any more: reply `554` and
    /// close the connection.
    pub fn scan(&mut self, chunk: &[u8]) -> Result<DataStatus, DataError> {
        if self.state == State::Done {
            return Ok(DataStatus::Complete {
                end: 0,
                too_large: self.size > self.limit,
            });
        }
        let reject_bare = self.bare == BareLineEndings::Reject;
        let mut i = 0;
        let mut state = self.state;
        // Next `CR .` in the chunk (bare CR before a dot), searched lazily and cached.
        let mut cr_dot: Option<Option<usize>> = None;
        while i < chunk.len() {
            if state == State::Text {
                if reject_bare {
                    // Every CR and LF needs a look.
                    match memchr::memchr2(b'\r', b'\n', &chunk[i..]) {
                        Some(rel) => i += rel,
                        None => break,
                    }
                } else {
                    // Only a CR or LF directly followed by `.` can end the message or form
                    // an ambiguous end; every other octet leaves the outcome unchanged.
                    // Jump to the first such pair, or to the last two octets, and rebuild
                    // the exact state from the octet before the landing point (in Text
                    // state the previous octet is never CR or LF, so no pair straddles i).
                    let rest = &chunk[i..];
                    let lf = memchr::memmem::find(rest, b"\n.").map(|p| p + i);
                    let cr = match cr_dot {
                        Some(Some(p)) if p >= i => Some(p),
                        Some(None) => None,
                        _ => {
                            let found = memchr::memmem::find(rest, b"\r.").map(|p| p + i);
                            cr_dot = Some(found);
                            found
                        }
                    };
                    let target = match (lf, cr) {
                        (Some(a), Some(b)) => a.min(b),
                        (Some(a), None) | (None, Some(a)) => a,
                        (None, None) => chunk.len().saturating_sub(2).max(i),
                    };
                    if target > i {
                        state = if chunk[target - 1] == b'\r' {
                            State::Cr
                        } else {
                            State::Text
                        };
                        i = target;
                    }
                }
            }
            let b = chunk[i];
            state = match (state, b) {
                (State::Text, b'\r') => State::Cr,
                (State::Text, b'\n') => {
                    // LF without CR before it.
                    if reject_bare {
                        return Err(DataError::BareLineEnding { at: i });
                    }
                    State::LineStart { bare: true }
                }
                (State::Cr, b'\n') => State::LineStart { bare: false },
                (State::Cr, b'.') => {
                    if reject_bare {
                        return Err(DataError::BareLineEnding { at: i });
                    }
                    State::Dot { bare: true }
                }
                (State::Cr, b'\r') => {
                    if reject_bare {
                        return Err(DataError::BareLineEnding { at: i });
                    }
                    State::Cr
                }
                (State::Cr, _) => {
                    if reject_bare {
                        return Err(DataError::BareLineEnding { at: i });
                    }
                    State::Text
                }
                (State::LineStart { bare }, b'.') => State::Dot { bare },
                (State::LineStart { .. }, b'\r') => State::Cr,
                (State::LineStart { .. }, b'\n') => {
                    if reject_bare {
                        return Err(DataError::BareLineEnding { at: i });
                    }
                    State::LineStart { bare: true }
                }
                (State::LineStart { .. } | State::Text, _) => State::Text,
                (State::Dot { bare: false }, b'\r') => State::DotCr,
                (State::Dot { bare: true }, b'\r') => {
                    return Err(DataError::AmbiguousEnd { at: i });
                }
                (State::Dot { .. }, b'\n') => return Err(DataError::AmbiguousEnd { at: i }),
                // A dot-stuffed or ordinary line starting with `.`.
                (State::Dot { .. }, _) => State::Text,
                (State::DotCr, b'\n') => State::Done,
                (State::DotCr, _) => return Err(DataError::AmbiguousEnd { at: i }),
                (State::Done, _) => State::Done,
            };
            i += 1;
            if state == State::Done {
                // The terminator is `.CRLF` (3 octets) preceded by the CRLF that ended the
                // last line, which belongs to the message.
                let before = self.size + i as u64;
                self.size = before.saturating_sub(3);
                self.state = State::Done;
                return Ok(DataStatus::Complete {
                    end: i,
                    too_large: self.size > self.limit,
                });
            }
        }
        self.size = self.size.saturating_add(chunk.len() as u64);
        self.state = state;
        Ok(DataStatus::Partial)
    }
}

/// Removes dot-stuffing from a complete DATA stream (as found by [`DataScanner`]) and
/// strips the terminating `.CRLF`. Lines starting with `..` lose one dot.
pub fn dot_unstuff(data: &[u8]) -> Vec<u8> {
    let body = data.strip_suffix(b".\r\n").unwrap_or(data);
    let mut out = Vec::with_capacity(body.len());
    let mut line_start = true;
    let mut rest = body;
    while !rest.is_empty() {
        if line_start && rest[0] == b'.' {
            rest = &rest[1..];
        }
        match memchr::memchr(b'\n', rest) {
            Some(pos) => {
                out.extend_from_slice(&rest[..=pos]);
                rest = &rest[pos + 1..];
                line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
            }
        }
    }
    out
}

/// Appends `message` to `out` dot-stuffed for DATA (a `.` starting any line is doubled),
/// adds a CRLF if the message does not end with one, and the terminating `.CRLF`.
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + 5);
    let mut rest = message;
    let mut line_start = true;
    while !rest.is_empty() {
        if line_start && rest[0] == b'.' {
            out.push(b'.');
        }
        match memchr::memchr(b'\n', rest) {
            Some(pos) => {
                out.extend_from_slice(&rest[..=pos]);
                rest = &rest[pos + 1..];
                line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
                line_start = false;
            }
        }
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}
