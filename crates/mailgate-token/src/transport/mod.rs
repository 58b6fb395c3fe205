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

use std::future::Future;
use std::pin::Pin;

use oauth2::HttpResponse;

/// The future of one HTTP exchange of a token request, as [`HttpClient`]'s
/// [`AsyncHttpClient`](oauth2::AsyncHttpClient) returns it. The token requests of
/// [`crate::oauth`] run over any `oauth2` HTTP client with this future and [`HttpError`]: the
/// [`HttpClient`] in production, a scripted one in tests and fuzz targets.
pub type HttpFuture<'c> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;
