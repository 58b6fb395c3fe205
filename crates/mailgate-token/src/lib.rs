//! The `emailproxy.config` model, the encrypted OAuth 2.0 token store and the OAuth 2.0
//! flows for mail accounts, compatible with the Python email-oauth2-proxy's files.
//!
//! Load a configuration, resolve the account a user logs in as, unlock its cached tokens
//! with the login password, and persist new tokens without touching anything else:
//!
//! ```
//! use mailgate_token::config::{OAuthFlow, ProxyConfig};
//! use mailgate_token::store::{MemoryStorage, TokenStorage, TokenVault, Unlock};
//!
//! let mut config = ProxyConfig::parse(
//!     "[emailproxy]\n\
//!      allow_catch_all_accounts = True\n\
//!      [@example.com]\n\
//!      ; one entry for every user of the domain\n\
//!      permission_url = https://login.example.com/authorize\n\
//!      token_url = https://login.example.com/token\n\
//!      oauth2_scope = https://mail.example.com/.default offline_access\n\
//!      client_id = mailgate\n",
//! )?;
//! let account = config.resolve_account("alice@example.com")?;
//! assert_eq!((account.section.as_str(), account.flow), ("@example.com", OAuthFlow::AuthorizationCode));
//!
//! // First login: nothing is cached yet, so the account is unlocked without tokens.
//! let vault = TokenVault::new(*config.global())?;
//! let now = 1_800_000_000; // Unix seconds: time is always passed in.
//! let cache = config.account_cache("alice@example.com");
//! let Unlock::Unlocked(mut alice) = vault.unlock(&account, &cache, b"local password", now) else {
//!     unreachable!("nothing to decrypt yet")
//! };
//! assert!(alice.access_token().is_none());
//!
//! // After the authorization flow, encrypt the tokens and persist them in Alice's own section.
//! let changes = alice.store_tokens("access-token", Some(3600), Some("refresh-token"), now)?;
//! let storage = MemoryStorage::new();
//! storage.apply("alice@example.com", &changes)?;
//! config.apply_cache_changes("alice@example.com", &changes);
//!
//! // Next login: the derived key is cached, so no key derivation runs.
//! let cache = config.account_cache("alice@example.com");
//! let Unlock::Unlocked(again) = vault.unlock(&account, &cache, b"local password", now + 60) else {
//!     unreachable!("the same password")
//! };
//! assert_eq!(again.usable_access_token(now + 60).map(|t| t.expose().as_str()), Some("access-token"));
//! assert_eq!(again.cipher().derivations(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See the README for the configuration reference, the storage guarantees and the
//! encryption format; [`login`] drives the whole login including the OAuth 2.0 flows.
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
pub mod store;

/// The redacting, zeroizing wrapper for passwords, tokens, client secrets and keys, shared
/// with the protocol crates.
pub use mailgate_sasl::{REDACTED, Secret, SecretBytes, SecretString};
mod keyed;
pub mod login;
pub mod oauth;
pub mod tls;
pub mod transport;
