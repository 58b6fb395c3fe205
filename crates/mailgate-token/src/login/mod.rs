//! Login orchestration: what the proxy calls for each client login.
//!
//! [`LoginManager::login`] turns `(username, password)` into an access token: it resolves the
//! account (catch-all sections included), decrypts the cached tokens through a [`TokenVault`],
//! reuses, refreshes or obtains tokens as the reference does ([`next_step`],
//! [`on_refused_refresh`]), and persists new ones. Concurrent logins of one account share one
//! token request.

mod error;
mod lifecycle;
mod manager;
mod vault;

pub use error::LoginError;
pub use lifecycle::{
    NextStep, RefusedRefresh, TOKEN_EXPIRY_MARGIN_SECS, next_step, on_refused_refresh,
};
pub use manager::{
    AuthorizationFuture, AuthorizationPrompt, Authorizer, LoginManager, LoginSuccess, NoAuthorizer,
};
pub use vault::{Credential, MemoryVault, StoredTokens, TokenUpdate, TokenVault, VaultError};
