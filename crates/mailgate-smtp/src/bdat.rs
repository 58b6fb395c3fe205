//! BDAT (RFC 3030 CHUNKING) chunk accounting.

use crate::error::DataError;

/// Tracks the chunks of one BDAT message: how many octets of the current chunk are still
/// to come, the running message size and the chunk count, both bounded.
///
/// ```
/// use mailgate_smtp::BdatTracker;
/// let mut bdat = BdatTracker::new(1000, 10);
/// bdat.begin_chunk(5, true).unwrap();
/// // The chunk data may arrive with the next command behind it.
/// assert_eq!(bdat.consume(b"HelloQUIT\r\n"), 5);
/// assert!(bdat.is_finished());
/// ```
#[derive(Debug, Clone)]
pub struct BdatTracker {
    remaining: u64,
    size: u64,
    chunks: u64,
    last: bool,
    max_size: u64,
    max_chunks: u64,
}

impl BdatTracker {
    /// A tracker for a message of at most `max_size` octets in at most `max_chunks` chunks.
    pub fn new(max_size: u64, max_chunks: u64) -> Self {
        BdatTracker {
            remaining: 0,
            size: 0,
            chunks: 0,
            last: false,
            max_size,
            max_chunks,
        }
    }

    /// Registers `BDAT size [LAST]`. Errors if a LAST chunk was already seen or the chunk
    /// limit is exceeded. The data of an over-sized message must still be read (and
    /// dropped); check [`BdatTracker::too_large`] before accepting it.
    pub fn begin_chunk(&mut self, size: u64, last: bool) -> Result<(), DataError> {
        if self.last {
            return Err(DataError::AfterLast);
        }
        if self.chunks >= self.max_chunks {
            return Err(DataError::TooManyChunks {
                limit: self.max_chunks,
            });
        }
        self.chunks += 1;
        self.remaining = size;
        self.size = self.size.saturating_add(size);
        self.last = last;
        Ok(())
    }

    /// Takes the current chunk's data from the front of `input`; returns how many octets
    /// belong to it. Octets after that are the next command.
    pub fn consume(&mut self, input: &[u8]) -> usize {
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        self.remaining -= n as u64;
        n
    }

    /// Octets of the current chunk still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether the current chunk has been read completely.
    pub fn chunk_complete(&self) -> bool {
        self.remaining == 0
    }

    /// Whether the LAST chunk has been read completely.
    pub fn is_finished(&self) -> bool {
        self.last && self.remaining == 0
    }

    /// Total octets declared so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Chunks seen so far.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Whether the declared size exceeds the limit (reply `552 5.3.4`).
    pub fn too_large(&self) -> bool {
        self.size > self.max_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_across_reads() {
        let mut b = BdatTracker::new(10, 3);
        b.begin_chunk(4, false).unwrap();
        assert_eq!(b.consume(b"ab"), 2);
        assert_eq!(b.remaining(), 2);
        assert_eq!(b.consume(b"cdBDAT"), 2);
        assert!(b.chunk_complete() && !b.is_finished());
        b.begin_chunk(7, true).unwrap();
        assert!(b.too_large());
        assert_eq!(b.consume(b"1234567"), 7);
        assert!(b.is_finished());
        assert_eq!(b.begin_chunk(1, true), Err(DataError::AfterLast));
        assert_eq!((b.size(), b.chunks()), (11, 2));
    }

    #[test]
    fn chunk_limit() {
        let mut b = BdatTracker::new(10, 1);
        b.begin_chunk(0, false).unwrap();
        assert_eq!(
            b.begin_chunk(0, true),
            Err(DataError::TooManyChunks { limit: 1 })
        );
    }
}
