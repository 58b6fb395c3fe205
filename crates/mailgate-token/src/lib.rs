//! The `emailproxy.config` model, the encrypted OAuth 2.0 token store and the OAuth 2.0
//! flows for mail accounts, compatible with the Python email-oauth2-proxy's files.
//!
//! Load a configuration, resolve the account a user logs in as, and let the
//! [`login::LoginManager`] turn the login into an access token: it reuses, refreshes or
//! obtains tokens with the account's OAuth 2.0 flow and keeps them encrypted with the login
//! password in a [`store::TokenStorage`] (the configuration file, a cache store file, memory,
//! or a store of your own).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use mailgate_token::config::{OAuthFlow, ProxyConfig};
//! use mailgate_token::login::LoginManager;
//! use mailgate_token::store::{MemoryStorage, TokenStorage};
//! use mailgate_token::transport::HttpClient;
//! # let provider = mailgate_test_support::MockOAuthServer::start().await?;
//! # let token_url = provider.token_url();
//!
//! let config = ProxyConfig::parse(&format!(
//!     "[emailproxy]\n\
//!      allow_catch_all_accounts = True\n\
//!      [@example.com]\n\
//!      ; one entry for every user of the domain\n\
//!      oauth2_flow = client_credentials\n\
//!      token_url = {token_url}\n\
//!      oauth2_scope = https://mail.example.com/.default\n\
//!      client_id = mailgate\n\
//!      client_secret = app-secret\n",
//! ))?;
//! let account = config.resolve_account("alice@example.com")?;
//! assert_eq!((account.section.as_str(), account.flow), ("@example.com", OAuthFlow::ClientCredentials));
//!
//! let storage = Arc::new(MemoryStorage::new());
//! let http = HttpClient::new(Default::default())?;
//! let manager = LoginManager::new(Arc::new(config), storage.clone(), http)?;
//! let login = manager.login("alice@example.com", &"local password".into()).await?;
//! assert_eq!(login.access_token.expose(), "mock-access-1");
//!
//! // Alice's own section holds her tokens, encrypted with her password (Fernet, PBKDF2).
//! let stored = &storage.load().await?.accounts["alice@example.com"];
//! assert!(stored["access_token"].starts_with("gAAAAA"));
//! # Ok(()) }
//! ```
//!
//! Times are Unix seconds as `u64` throughout: the manager's clock
//! ([`login::LoginManager::with_clock`]), token expiries
//! ([`login::LoginSuccess::expires_at`], [`config::AccountCache::access_token_expiry`]) and
//! the timestamps of encrypted values; a negative or unreadable stored time is no time.
//!
//! See the README for the configuration reference, the storage guarantees and the
//! encryption format.
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
mod fault;
pub mod store;

pub use fault::Fault;

/// The redacting, zeroizing wrapper for passwords, tokens, client secrets and keys, shared
/// with the protocol crates.
pub use mailgate_sasl::{REDACTED, Secret, SecretBytes, SecretString};
mod keyed;
pub mod login;
pub mod oauth;
pub mod tls;
pub mod transport;
