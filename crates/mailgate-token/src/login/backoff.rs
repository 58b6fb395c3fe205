//! Per-account failure back-off: wrong passwords can neither burn the CPU on key
//! derivation nor start new authorisations over and over.

use std::collections::HashMap;

/// How many accounts the back-off remembers by default.
pub(crate) const DEFAULT_BACKOFF_CAPACITY: usize = 4096;

/// The longest wait imposed after repeated failures, in seconds.
pub(crate) const MAX_BACKOFF_SECS: u64 = 300;

/// After this long without a failure an account's count starts afresh, in seconds.
pub(crate) const FAILURE_MEMORY_SECS: u64 = 3600;

/// The least time between two new authorisations started by wrong passwords for one account,
/// in seconds (the Python email-oauth2-proxy's authentication timeout: long enough for the first to finish).
pub(crate) const RESET_COOLDOWN_SECS: u64 = 600;

#[derive(Debug, Clone, Copy, Default)]
struct FailureState {
    failures: u32,
    last_failure: u64,
    blocked_until: u64,
    last_reset: Option<u64>,
}

/// Failure counts by account. Time is passed in (Unix seconds); nothing here reads a
/// clock. The first wrong password costs nothing extra; from the second on, the
/// account is refused without key derivation for 1, 2, 4 … up to
/// [`MAX_BACKOFF_SECS`] seconds. A wrong password starts a new authorisation at most once
/// per [`RESET_COOLDOWN_SECS`].
#[derive(Debug)]
pub(crate) struct FailureBackoff {
    capacity: usize,
    accounts: HashMap<String, FailureState>,
}

impl FailureBackoff {
    /// Remembers at most `capacity` accounts (the least recently failed are forgotten).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            accounts: HashMap::new(),
        }
    }

    /// Seconds until `account` may try again, or `None` if it may try now.
    pub(crate) fn retry_after(&self, account: &str, now: u64) -> Option<u64> {
        let state = self.accounts.get(account)?;
        (state.blocked_until > now).then(|| state.blocked_until - now)
    }

    /// Records a wrong password.
    pub(crate) fn record_failure(&mut self, account: &str, now: u64) {
        if !self.accounts.contains_key(account) && self.accounts.len() >= self.capacity {
            let oldest = self
                .accounts
                .iter()
                .min_by_key(|(_, s)| s.last_failure)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.accounts.remove(&oldest);
            }
        }
        let state = self.accounts.entry(account.to_owned()).or_default();
        if now.saturating_sub(state.last_failure) > FAILURE_MEMORY_SECS {
            state.failures = 0;
        }
        state.failures = state.failures.saturating_add(1);
        state.last_failure = now;
        let delay = match state.failures {
            0 | 1 => 0,
            n => 1u64
                .checked_shl(n - 2)
                .unwrap_or(MAX_BACKOFF_SECS)
                .min(MAX_BACKOFF_SECS),
        };
        state.blocked_until = now.saturating_add(delay);
    }

    /// Records a correct password: the failure count is cleared (a recent reset is
    /// still remembered).
    pub(crate) fn record_success(&mut self, account: &str) {
        if let Some(state) = self.accounts.get_mut(account) {
            state.failures = 0;
            state.blocked_until = 0;
            if state.last_reset.is_none() {
                self.accounts.remove(account);
            }
        }
    }

    /// Whether the account's tokens may be reset now.
    #[cfg(test)]
    pub(crate) fn may_reset(&self, account: &str, now: u64) -> bool {
        self.reset_retry_after(account, now).is_none()
    }

    /// Seconds until a wrong password may start a new authorisation again, or `None` if now.
    pub(crate) fn reset_retry_after(&self, account: &str, now: u64) -> Option<u64> {
        let at = self.accounts.get(account)?.last_reset?;
        let elapsed = now.saturating_sub(at);
        (elapsed < RESET_COOLDOWN_SECS).then(|| RESET_COOLDOWN_SECS - elapsed)
    }

    /// Records that a wrong password started a new authorisation of the account.
    pub(crate) fn record_reset(&mut self, account: &str, now: u64) {
        self.accounts
            .entry(account.to_owned())
            .or_default()
            .last_reset = Some(now);
    }
}

impl Default for FailureBackoff {
    fn default() -> Self {
        Self::new(DEFAULT_BACKOFF_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        let mut backoff = FailureBackoff::default();
        let a = "a@x";
        assert_eq!(backoff.retry_after(a, 0), None);
        backoff.record_failure(a, 100);
        assert_eq!(
            backoff.retry_after(a, 100),
            None,
            "the first failure costs nothing"
        );
        let mut now = 100;
        let mut delays = Vec::new();
        for _ in 0..12 {
            backoff.record_failure(a, now);
            let delay = backoff.retry_after(a, now).unwrap_or(0);
            delays.push(delay);
            now += delay;
        }
        assert_eq!(delays[..6], [1, 2, 4, 8, 16, 32]);
        assert_eq!(*delays.last().unwrap(), MAX_BACKOFF_SECS);
        backoff.record_success(a);
        assert_eq!(backoff.retry_after(a, now), None);
    }

    #[test]
    fn failures_are_forgotten_after_a_while() {
        let mut backoff = FailureBackoff::default();
        backoff.record_failure("a@x", 0);
        backoff.record_failure("a@x", 1);
        assert_eq!(backoff.retry_after("a@x", 1), Some(1));
        backoff.record_failure("a@x", 1 + FAILURE_MEMORY_SECS + 1);
        assert_eq!(backoff.retry_after("a@x", 2 + FAILURE_MEMORY_SECS), None);
    }

    #[test]
    fn resets_are_rate_limited() {
        let mut backoff = FailureBackoff::default();
        assert!(backoff.may_reset("a@x", 1000));
        backoff.record_reset("a@x", 1000);
        backoff.record_success("a@x");
        assert!(!backoff.may_reset("a@x", 1000 + RESET_COOLDOWN_SECS - 1));
        assert!(backoff.may_reset("a@x", 1000 + RESET_COOLDOWN_SECS));
        assert!(backoff.may_reset("b@x", 1000));
    }

    #[test]
    fn capacity_is_bounded() {
        let mut backoff = FailureBackoff::new(3);
        for i in 0..10 {
            backoff.record_failure(&format!("u{i}@x"), i);
        }
        assert_eq!(backoff.accounts.len(), 3);
        assert!(backoff.accounts.contains_key("u9@x"));
    }
}
