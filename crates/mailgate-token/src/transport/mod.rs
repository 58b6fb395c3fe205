//! The HTTP transport of token requests: [`HttpClient`] (reqwest, no redirects, a connect and a
//! total timeout, bounded responses) over the workspace's TLS configuration, with the proxies of
//! [`ProxySettings`] (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` with address ranges; `http://`,
//! `https://` and `socks5://` proxies). It implements the `oauth2` crate's
//! [`AsyncHttpClient`](oauth2::AsyncHttpClient), which the token requests of [`crate::oauth`]
//! run over.

mod client;
mod error;
mod proxy;

pub use client::{HttpClient, HttpClientConfig};
pub use error::HttpError;
pub use proxy::{ProxySettings, ProxyUrl};
