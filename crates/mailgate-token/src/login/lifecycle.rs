//! The token lifecycle decisions of the Python email-oauth2-proxy, as pure functions of the stored tokens and
//! the time.

use super::tokens::StoredTokens;

/// A cached access token is reused only with at least this many seconds left (the Python email-oauth2-proxy's
/// `TOKEN_EXPIRY_MARGIN`: it refreshes when fewer remain).
pub(crate) const TOKEN_EXPIRY_MARGIN_SECS: u64 = 600;

/// What a login does with the stored tokens at time `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum NextStep {
    /// The access token has at least [`TOKEN_EXPIRY_MARGIN_SECS`] left: use it.
    Reuse,
    /// Refresh with the refresh token.
    Refresh,
    /// Obtain new tokens with the account's flow.
    Authorise,
}

/// Decides the next step, as the Python email-oauth2-proxy: an access token without an expiry counts as
/// expiring now (the specification is the test `next_step_is_the_reference_rule` below).
pub(crate) fn next_step(tokens: &StoredTokens, now: u64) -> NextStep {
    let fresh = tokens.access_token.is_some()
        && tokens
            .access_token_expiry
            .is_some_and(|expiry| expiry.saturating_sub(now) >= TOKEN_EXPIRY_MARGIN_SECS);
    if fresh {
        NextStep::Reuse
    } else if tokens.refresh_token.is_some() {
        NextStep::Refresh
    } else {
        NextStep::Authorise
    }
}

/// What to do after the provider refused a refresh (HTTP 400 / `invalid_grant`): the Python email-oauth2-proxy's
/// two-strike reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum RefusedRefresh {
    /// First strike: drop the access token and retry the refresh once.
    DropAccessTokenAndRetry,
    /// Second strike: drop every token and authorise anew.
    DropAllAndReauthorise,
}

/// The Python email-oauth2-proxy's rule: a stored access token means this is the first strike.
pub(crate) fn on_refused_refresh(tokens: &StoredTokens) -> RefusedRefresh {
    if tokens.access_token.is_some() {
        RefusedRefresh::DropAccessTokenAndRetry
    } else {
        RefusedRefresh::DropAllAndReauthorise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_step_is_the_reference_rule() {
        let mut tokens = StoredTokens::default();
        assert_eq!(next_step(&tokens, 1000), NextStep::Authorise);
        tokens.access_token = Some("AT".into());
        tokens.access_token_expiry = Some(1600);
        assert_eq!(next_step(&tokens, 1000), NextStep::Reuse);
        tokens.access_token_expiry = Some(1599);
        assert_eq!(next_step(&tokens, 1000), NextStep::Authorise); // no refresh token
        tokens.refresh_token = Some("RT".into());
        assert_eq!(next_step(&tokens, 1000), NextStep::Refresh);
        tokens.access_token_expiry = None; // no expiry: expiring now
        assert_eq!(next_step(&tokens, 1000), NextStep::Refresh);
    }

    #[test]
    fn a_stored_access_token_makes_a_refused_refresh_the_first_strike() {
        let mut tokens = StoredTokens {
            refresh_token: Some("RT".into()),
            ..StoredTokens::default()
        };
        assert_eq!(
            on_refused_refresh(&tokens),
            RefusedRefresh::DropAllAndReauthorise
        );
        tokens.access_token = Some("AT".into());
        assert_eq!(
            on_refused_refresh(&tokens),
            RefusedRefresh::DropAccessTokenAndRetry
        );
    }
}
