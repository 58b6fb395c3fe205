//! Login orchestration: what the proxy calls for each client login.
//!
//! [`LoginManager::login`] turns `(username, password)` into an access token: it resolves the
//! account (catch-all sections included), decrypts the cached tokens through a [`LoginStore`]
//! ([`EncryptedLoginStore`] over the token store in production), reuses, refreshes or obtains
//! tokens as the Python email-oauth2-proxy does ([`next_step`], [`on_refused_refresh`]), and persists new ones.
//! Concurrent logins of one account share one token request.

mod acquire;
mod encrypted_store;
mod error;
mod lifecycle;
mod login_store;
mod manager;

pub use acquire::{AuthorizationFuture, AuthorizationPrompt, Authorizer, NoAuthorizer};
pub use encrypted_store::EncryptedLoginStore;
pub use error::LoginError;
pub use lifecycle::{
    NextStep, RefusedRefresh, TOKEN_EXPIRY_MARGIN_SECS, next_step, on_refused_refresh,
};
pub use login_store::{LoginStore, LoginStoreError, MemoryLoginStore, StoredTokens, TokenUpdate};
pub use manager::{LoginManager, LoginSuccess};
