//! Login orchestration: what the proxy calls for each client login.
//!
//! [`LoginManager::login`] turns `(username, password)` into an access token: it resolves the
//! account (catch-all sections included), decrypts the cached tokens it reads from a
//! [`TokenStorage`](crate::store::TokenStorage), reuses, refreshes or obtains tokens as the
//! Python email-oauth2-proxy does, and persists new ones. Concurrent logins of one account
//! share one token request.
//!
//! Everything between the storage and the manager is private: the vault (key derivation and
//! its cache, rotation, the wrong-password policy and back-off), the token lifecycle (reuse,
//! refresh, the two strikes of a refused refresh) and the memory of writes the store refused.

mod acquire;
mod backoff;
mod error;
mod lifecycle;
mod manager;
mod tokens;
mod unsaved;
mod vault;
#[cfg(test)]
mod vault_tests;

pub use acquire::{AuthorizationFuture, AuthorizationPrompt, Authorizer, NoAuthorizer};
pub use error::LoginError;
pub use manager::{LoginManager, LoginSuccess};
