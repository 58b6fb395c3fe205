//! The `emailproxy.config` model: a lossless INI document with Python `ConfigParser`
//! semantics, and the typed global, server and account options read from it.
//!
//! See the crate README for the Python email-oauth2-proxy of every key.

mod account;
mod cache;
mod document;
mod edit;
mod error;
mod global;
mod lint;
mod proxy;
mod server;
mod values;

pub use account::{AccountConfig, OAuthFlow, UpstreamSasl};
pub use cache::{AccountCache, CacheChange, CacheChanges, CacheKey};
pub use document::{DEFAULT_SECTION, IniDocument, MAX_DOCUMENT_BYTES, MAX_LINE_BYTES};
pub use edit::EditError;
pub use error::{AccountError, ConfigError, ConfigWarning, ParseError, ParseErrorKind};
pub use global::{DEFAULT_TOKEN_REQUEST_TIMEOUT, GLOBAL_SECTION, GlobalOptions};
pub use proxy::{ProxyConfig, is_account_section};
pub use server::{Protocol, ServerConfig};
pub(crate) use values::parse_unix_time;
pub use values::{parse_bool, parse_int};
