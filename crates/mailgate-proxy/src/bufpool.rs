//! Per-thread pool of fixed-size I/O buffers, so that idle sessions hold none.
//!
//! A session borrows a buffer only while bytes are in flight: the relay and the read-ahead of
//! TLS streams take one when data arrives and give it back as soon as it is drained and the
//! next read would block. Ten thousand idle sessions then cost no buffer memory at all, while
//! a busy session keeps reusing the same warm buffer (the pool hands back the most recently
//! returned one) without allocating or zeroing memory on every read.
//!
//! Tasks move between worker threads, so a buffer may be returned to another thread's pool;
//! each pool keeps at most [`MAX_POOLED`] buffers and frees the rest.

use std::cell::RefCell;

/// Size of every pooled buffer (bytes).
pub(crate) const BUFFER_SIZE: usize = 64 * 1024;

/// The most buffers one thread keeps for reuse.
const MAX_POOLED: usize = 32;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of [`BUFFER_SIZE`] bytes: a pooled one when there is one, else a new one.
pub(crate) fn take() -> Box<[u8]> {
    POOL.try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; BUFFER_SIZE].into_boxed_slice())
}

/// Returns a buffer to this thread's pool (or frees it when the pool is full).
pub(crate) fn give(buffer: Box<[u8]>) {
    if buffer.len() != BUFFER_SIZE {
        return;
    }
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut()
            && pool.len() < MAX_POOLED
        {
            pool.push(buffer);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_most_recent_first() {
        let mut first = take();
        first[0] = 7;
        let pointer = first.as_ptr();
        give(first);
        let again = take();
        assert_eq!(again.as_ptr(), pointer);
        assert_eq!(again.len(), BUFFER_SIZE);
        give(again);
    }

    #[test]
    fn the_pool_is_bounded() {
        let buffers: Vec<_> = (0..MAX_POOLED + 5).map(|_| take()).collect();
        for buffer in buffers {
            give(buffer);
        }
        let pooled = POOL.with(|pool| pool.borrow().len());
        assert_eq!(pooled, MAX_POOLED);
    }

    #[test]
    fn foreign_sizes_are_not_pooled() {
        let before = POOL.with(|pool| pool.borrow().len());
        give(vec![0; 10].into_boxed_slice());
        assert_eq!(POOL.with(|pool| pool.borrow().len()), before);
    }
}
