//! Splitting a byte stream into CRLF-terminated lines with a length bound.

use crate::limits::LineEndings;

/// One step of [`LineFramer::next_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line, without its line ending. `consumed` octets of the input (line
    /// ending included) are used up.
    Line {
        /// The line content without CRLF.
        line: &'a [u8],
        /// Octets of the input this line used, line ending included.
        consumed: usize,
    },
    /// No complete line yet: keep the input and call again with more bytes appended.
    Incomplete,
    /// The line is longer than the limit. Reported once per over-long line; the `consumed`
    /// octets must be dropped. The framer then discards up to and including the next line
    /// ending on its own.
    TooLong {
        /// Octets of the input to drop.
        consumed: usize,
    },
    /// The tail of an over-long line was skipped; drop `consumed` octets and call again.
    Discarded {
        /// Octets of the input to drop.
        consumed: usize,
    },
}

/// Finds line boundaries in a buffer the caller owns, bounding line length.
///
/// After an over-long line the framer reports [`Frame::TooLong`] once and then discards
/// everything up to the next line ending, so a peer cannot make us buffer without bound
/// nor make the tail of a long line execute as a command.
///
/// ```
/// use mailgate_smtp::{Frame, LineFramer};
///
/// let mut framer = LineFramer::default();
/// assert_eq!(
///     framer.next_line(b"NOOP\r\nQUIT\r\n", 512),
///     Frame::Line { line: b"NOOP", consumed: 6 }
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct LineFramer {
    endings: LineEndings,
    discarding: bool,
}

impl LineFramer {
    /// A framer accepting the given line endings.
    pub fn new(endings: LineEndings) -> Self {
        LineFramer {
            endings,
            discarding: false,
        }
    }

    /// Whether the framer is skipping the tail of an over-long line.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Looks for the next line in `input`. `limit` is the longest allowed line in octets,
    /// line ending included.
    pub fn next_line<'a>(&mut self, input: &'a [u8], limit: usize) -> Frame<'a> {
        let limit = limit.max(2);
        if self.discarding {
            return match memchr::memchr(b'\n', input) {
                Some(pos) => {
                    self.discarding = false;
                    Frame::Discarded { consumed: pos + 1 }
                }
                // Keep a trailing CR: it may pair with an LF in the next read.
                None => {
                    let keep = usize::from(input.last() == Some(&b'\r'));
                    let consumed = input.len() - keep;
                    if consumed == 0 {
                        Frame::Incomplete
                    } else {
                        Frame::Discarded { consumed }
                    }
                }
            };
        }
        let window = &input[..input.len().min(limit)];
        let mut from = 0;
        while let Some(rel) = memchr::memchr(b'\n', &window[from..]) {
            let pos = from + rel;
            let has_cr = pos > 0 && window[pos - 1] == b'\r';
            if has_cr {
                return Frame::Line {
                    line: &input[..pos - 1],
                    consumed: pos + 1,
                };
            }
            if self.endings == LineEndings::Lenient {
                return Frame::Line {
                    line: &input[..pos],
                    consumed: pos + 1,
                };
            }
            from = pos + 1;
        }
        if input.len() >= limit {
            // The limit counts the CRLF: a line of exactly `limit` octets fits only if its
            // last two octets are CRLF, which the search above would have found.
            self.discarding = true;
            let consumed = if input[limit - 1] == b'\r' {
                limit - 1
            } else {
                limit
            };
            return Frame::TooLong { consumed };
        }
        Frame::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines() {
        let mut f = LineFramer::default();
        assert_eq!(
            f.next_line(b"A\r\nB", 10),
            Frame::Line {
                line: b"A",
                consumed: 3
            }
        );
        assert_eq!(f.next_line(b"B", 10), Frame::Incomplete);
        assert_eq!(f.next_line(b"", 10), Frame::Incomplete);
    }

    #[test]
    fn bare_lf_strict_and_lenient() {
        let mut f = LineFramer::default();
        assert_eq!(
            f.next_line(b"A\nB\r\n", 10),
            Frame::Line {
                line: b"A\nB",
                consumed: 5
            }
        );
        let mut f = LineFramer::new(LineEndings::Lenient);
        assert_eq!(
            f.next_line(b"A\nB\r\n", 10),
            Frame::Line {
                line: b"A",
                consumed: 2
            }
        );
    }

    #[test]
    fn exact_limit_fits() {
        let mut f = LineFramer::default();
        assert_eq!(
            f.next_line(b"ABC\r\n", 5),
            Frame::Line {
                line: b"ABC",
                consumed: 5
            }
        );
        assert_eq!(f.next_line(b"ABCD\r\n", 5), Frame::TooLong { consumed: 4 });
        assert_eq!(f.next_line(b"\r\n", 5), Frame::Discarded { consumed: 2 });
        assert!(!f.is_discarding());
    }

    #[test]
    fn too_long_then_discard_across_reads() {
        let mut f = LineFramer::default();
        assert_eq!(f.next_line(b"ABCDEFGH", 5), Frame::TooLong { consumed: 5 });
        assert_eq!(f.next_line(b"FGH\r", 5), Frame::Discarded { consumed: 3 });
        assert_eq!(f.next_line(b"\r", 5), Frame::Incomplete);
        assert_eq!(
            f.next_line(b"\r\nNOOP\r\n", 5),
            Frame::Discarded { consumed: 2 }
        );
        assert_eq!(
            f.next_line(b"NOOP\r\n", 8),
            Frame::Line {
                line: b"NOOP",
                consumed: 6
            }
        );
    }

    #[test]
    fn cr_at_limit_boundary_is_kept() {
        let mut f = LineFramer::default();
        assert_eq!(f.next_line(b"ABCD\r", 5), Frame::TooLong { consumed: 4 });
        assert_eq!(f.next_line(b"\r\nX", 5), Frame::Discarded { consumed: 2 });
    }
}
