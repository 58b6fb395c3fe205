//! A bounded line framer: bytes in, CRLF-terminated lines out.

use crate::Pop3Error;

/// Splits a byte stream into lines, bounding memory.
///
/// Lines end at LF; a CR before it is removed too (bare-LF line ends are accepted,
/// as most POP3 peers do). A line longer than `max_len` octets (including its
/// CRLF) is reported once as [`Pop3Error::LineTooLong`] and the rest of it is
/// discarded up to the next LF, like `tokio_util`'s `LinesCodec`.
///
/// The buffer holds at most what was pushed since the last complete line plus
/// `max_len` octets, so memory stays bounded whatever the peer sends. Bytes that
/// were buffered but not yet returned as lines can be taken back with
/// [`LineBuffer::take_buffered`] (e.g. at a hand-off to relaying).
///
/// ```
/// use mailgate_pop3::LineBuffer;
/// let mut lines = LineBuffer::new(255);
/// lines.push(b"US");
/// assert!(lines.next_line().is_none());
/// lines.push(b"ER tim\r\nPA");
/// assert_eq!(lines.next_line().unwrap().unwrap(), b"USER tim");
/// assert!(lines.next_line().is_none());
/// assert_eq!(lines.take_buffered(), b"PA");
/// ```
#[derive(Debug, Clone, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Start of the unread part of `buf` (lines before it were returned already;
    /// they are dropped lazily so that many short lines cost linear time).
    start: usize,
    /// How far `buf[start..]` has been searched for LF without finding one.
    scanned: usize,
    max_len: usize,
    /// Discarding the tail of an over-long line until the next LF.
    discarding: bool,
    /// An over-long line was cut and has not been reported yet.
    overflow_pending: bool,
}

impl LineBuffer {
    /// A framer for lines of at most `max_len` octets including CRLF.
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len: max_len.max(2),
            ..Self::default()
        }
    }

    /// The current line limit.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Changes the line limit (e.g. while a SASL exchange expects long lines).
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len.max(2);
    }

    /// Appends received bytes.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.discarding {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.discarding = false;
                    data = data.get(i + 1..).unwrap_or_default();
                }
                None => return,
            }
        }
        self.compact();
        let old_len = self.buf.len();
        self.buf.extend_from_slice(data);
        // Bound the trailing partial line.
        let tail_start = match data.iter().rposition(|&b| b == b'\n') {
            Some(i) => old_len + i + 1,
            None => self
                .buf
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1),
        };
        if self.buf.len() - tail_start > self.max_len {
            self.buf.truncate(tail_start);
            self.scanned = self.scanned.min(tail_start);
            self.discarding = true;
            self.overflow_pending = true;
        }
    }

    /// Returns the next complete line without its line ending, an error for an
    /// over-long line, or `None` if no complete line is buffered.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, Pop3Error>> {
        let from = self.start + self.scanned;
        let found = self
            .buf
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'));
        let Some(end) = found.map(|p| p + from + 1) else {
            self.scanned = self.buf.len() - self.start;
            if self.overflow_pending {
                self.overflow_pending = false;
                return Some(Err(Pop3Error::LineTooLong { max: self.max_len }));
            }
            return None;
        };
        let line = self.buf.get(self.start..end).unwrap_or_default();
        self.start = end;
        self.scanned = 0;
        if line.len() > self.max_len {
            return Some(Err(Pop3Error::LineTooLong { max: self.max_len }));
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some(Ok(line.to_vec()))
    }

    /// The buffered bytes not yet returned as lines.
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Drops the first `n` buffered bytes (after the caller consumed them directly,
    /// e.g. with a multi-line decoder).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        self.scanned = 0;
    }

    /// Takes all buffered bytes, leaving the framer empty.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.compact();
        self.scanned = 0;
        self.overflow_pending = false;
        self.discarding = false;
        core::mem::take(&mut self.buf)
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buffered().is_empty() && !self.overflow_pending
    }

    /// Drops the bytes before `start`.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(lb: &mut LineBuffer) -> Vec<Result<Vec<u8>, Pop3Error>> {
        core::iter::from_fn(|| lb.next_line()).collect()
    }

    #[test]
    fn splits_on_crlf_and_lf() {
        let mut lb = LineBuffer::new(100);
        lb.push(b"a\r\nb\nc\r");
        assert_eq!(drain(&mut lb), vec![Ok(b"a".to_vec()), Ok(b"b".to_vec())]);
        lb.push(b"\n");
        assert_eq!(drain(&mut lb), vec![Ok(b"c".to_vec())]);
        assert!(lb.is_empty());
    }

    #[test]
    fn every_chunking_gives_the_same_lines() {
        let input = b"USER tim\r\nPASS x y\r\n\r\nQUIT\r\n";
        for split in 0..input.len() {
            let mut lb = LineBuffer::new(100);
            let (a, b) = input.split_at(split);
            lb.push(a);
            let mut got = drain(&mut lb);
            lb.push(b);
            got.extend(drain(&mut lb));
            assert_eq!(got.len(), 4, "{split}");
            assert_eq!(got[1], Ok(b"PASS x y".to_vec()));
        }
    }

    #[test]
    fn overlong_line_reported_once_then_discarded() {
        let mut lb = LineBuffer::new(10);
        lb.push(b"ok\r\n0123456789ABC");
        assert_eq!(
            drain(&mut lb),
            vec![Ok(b"ok".to_vec()), Err(Pop3Error::LineTooLong { max: 10 })]
        );
        lb.push(b"DEFGHIJ");
        assert!(drain(&mut lb).is_empty());
        lb.push(b"KLM\r\nnext\r\n");
        assert_eq!(drain(&mut lb), vec![Ok(b"next".to_vec())]);
    }

    #[test]
    fn overlong_complete_line_in_one_push() {
        let mut lb = LineBuffer::new(10);
        lb.push(b"0123456789\r\nok\r\n");
        assert_eq!(
            drain(&mut lb),
            vec![Err(Pop3Error::LineTooLong { max: 10 }), Ok(b"ok".to_vec())]
        );
        // Exactly at the limit (8 + CRLF = 10) is fine.
        lb.push(b"01234567\r\n");
        assert_eq!(drain(&mut lb), vec![Ok(b"01234567".to_vec())]);
    }

    #[test]
    fn memory_is_bounded() {
        let mut lb = LineBuffer::new(64);
        for _ in 0..1000 {
            lb.push(&[b'x'; 1000]);
            assert!(lb.buffered().len() <= 64);
        }
        assert_eq!(
            drain(&mut lb),
            vec![Err(Pop3Error::LineTooLong { max: 64 })]
        );
    }

    #[test]
    fn many_short_lines() {
        let mut lb = LineBuffer::new(64);
        lb.push(&b"NOOP\r\n".repeat(100_000));
        assert_eq!(drain(&mut lb).len(), 100_000);
        assert!(lb.is_empty());
    }

    #[test]
    fn consume_and_take() {
        let mut lb = LineBuffer::new(64);
        lb.push(b"abc\r\ndef");
        lb.consume(2);
        assert_eq!(lb.buffered(), b"c\r\ndef");
        assert_eq!(drain(&mut lb), vec![Ok(b"c".to_vec())]);
        assert_eq!(lb.take_buffered(), b"def");
        assert!(lb.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Chunking never changes which lines (and errors) come out.
        #[test]
        fn chunking_is_invisible(
            input in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b'\r'),
                    proptest::strategy::Just(b'x'),
                ],
                0..200,
            ),
            chunk in 1usize..20,
            max in 2usize..16,
        ) {
            let mut whole = LineBuffer::new(max);
            whole.push(&input);
            let expected = drain(&mut whole);
            let mut chunked = LineBuffer::new(max);
            let mut got = Vec::new();
            for c in input.chunks(chunk) {
                chunked.push(c);
                got.extend(drain(&mut chunked));
            }
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
