//! Whose fault an error is, so that each gets its remedy.

/// Whose fault an error is: who has to act for the next attempt to succeed.
///
/// [`StoreError::fault`](crate::store::StoreError::fault) and
/// [`LoginError::fault`](crate::login::LoginError::fault) say it; a proxy answers a
/// [`User`](Fault::User) fault with a plain refusal and logs the others for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The user: a wrong or missing password, an authorisation not completed, too many
    /// failed logins.
    User,
    /// The configuration: an unknown account, an unusable client certificate or service
    /// account key, a store refusing the configured credentials.
    Configuration,
    /// The token storage: the disk, the file or a shared store failed; the tokens are kept in
    /// memory and the write is retried.
    Storage,
    /// The OAuth 2.0 provider: unreachable, failing, or refusing the request.
    Provider,
    /// This system: no randomness, a worker thread lost, a bug.
    System,
}
