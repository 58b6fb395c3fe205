//! The one HTTP client of the workspace: HTTP/1.1 over tokio, HTTPS by rustls (ring), proxies
//! from `https_proxy` / `http_proxy` / `no_proxy`, timeouts, bounded responses, and no redirect
//! following. It also implements the `oauth2` crate's [`oauth2::AsyncHttpClient`] trait.
//!
//! The response parser is sans-I/O ([`ResponseParser`]) so it can be tested and fuzzed alone.

mod client;
mod error;
mod oauth2_client;
mod pinning;
mod proxy;
mod request;
mod response;
mod tls;

pub use client::{HttpClient, HttpClientConfig};
pub use error::HttpError;
pub use pinning::{PinningVerifier, is_ca_used_as_end_entity, user_named_certificates};
pub use proxy::{Proxy, ProxySettings};
pub use request::{Method, Request};
pub use response::{HttpParseError, Response, ResponseHead, ResponseLimits, ResponseParser};
pub use tls::{client_config, crypto_provider};
