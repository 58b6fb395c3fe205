//! The HTTP client of token requests: reqwest over the workspace's rustls configuration.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use rustls::pki_types::CertificateDer;
use zeroize::Zeroizing;

use super::error::HttpError;
use super::proxy::ProxySettings;
use crate::config::DEFAULT_TOKEN_REQUEST_TIMEOUT;

/// Time allowed to open a connection (to the server or to the proxy).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response body read: token responses are a few kilobytes.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Settings of an [`HttpClient`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpClientConfig {
    /// Time allowed to open a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for the whole exchange, connection included
    /// (`token_request_timeout` of the configuration,
    /// [`DEFAULT_TOKEN_REQUEST_TIMEOUT`] unless set).
    pub request_timeout: Duration,
    /// Largest response body accepted (default 1 MiB).
    pub max_response_bytes: usize,
    /// Proxies to use (default: none; see [`ProxySettings::from_env`]).
    pub proxy: ProxySettings,
    /// A PEM file of extra trusted CA certificates, e.g. a corporate TLS-inspecting proxy's.
    pub extra_ca_file: Option<PathBuf>,
    /// Extra trusted roots given in memory (tests use this for a loopback HTTPS server).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// `User-Agent` header value.
    pub user_agent: String,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_TOKEN_REQUEST_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            proxy: ProxySettings::none(),
            extra_ca_file: None,
            extra_roots: Vec::new(),
            user_agent: concat!("mailgate/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The HTTP client of token requests: reqwest with the workspace's TLS (aws-lc-rs and the
/// [`PinningVerifier`](crate::tls::PinningVerifier)), the proxies of [`ProxySettings`], a
/// connect and a total timeout, a response size limit, and redirects returned to the caller,
/// never followed. Cheap to clone. It implements the `oauth2` crate's [`AsyncHttpClient`].
///
/// ```
/// use std::time::Duration;
/// use mailgate_token::transport::{HttpClient, HttpClientConfig, ProxySettings};
///
/// let mut config = HttpClientConfig::default();
/// config.proxy = ProxySettings::from_lookup(|name| {
///     (name == "HTTPS_PROXY").then(|| "http://proxy.internal:3128".to_owned())
/// })?;
/// config.request_timeout = Duration::from_secs(20);
/// let client = HttpClient::new(config)?;
/// assert_eq!(client.config().request_timeout, Duration::from_secs(20));
/// # Ok::<(), mailgate_token::transport::HttpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpClientConfig>,
}

impl HttpClient {
    /// A client with `config`; fails if the extra CA file or a proxy cannot be used.
    pub fn new(config: HttpClientConfig) -> Result<Self, HttpError> {
        let tls = crate::tls::client_config(config.extra_ca_file.as_deref(), &config.extra_roots)?;
        let tls = Arc::unwrap_or_clone(tls);
        let builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.as_str());
        let client = config
            .proxy
            .apply(builder)?
            .build()
            .map_err(|error| HttpError::Client(Box::new(error)))?;
        Ok(HttpClient {
            client,
            config: Arc::new(config),
        })
    }

    /// A client with default settings and the proxies of the environment; fails, naming the
    /// variable, if a proxy variable cannot be used.
    pub fn from_env() -> Result<Self, HttpError> {
        Self::new(HttpClientConfig {
            proxy: ProxySettings::from_env()?,
            ..HttpClientConfig::default()
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &HttpClientConfig {
        &self.config
    }

    /// Sends `request` and reads the whole response (any status), within the request timeout
    /// and the size limit.
    pub(crate) async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let host = request.uri().host().unwrap_or_default().to_owned();
        if !matches!(request.uri().scheme_str(), Some("http" | "https")) || host.is_empty() {
            return Err(HttpError::InvalidUrl {
                url,
                reason: "only absolute http:// and https:// URLs are supported",
            });
        }
        let port =
            request
                .uri()
                .port_u16()
                .unwrap_or(if request.uri().scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
        let authority = format!("{host}:{port}");
        let request = reqwest::Request::try_from(request).map_err(|_| HttpError::InvalidUrl {
            url,
            reason: "not a valid request URL",
        })?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|error| self.classify(&host, &authority, error))?;
        let limit = self.config.max_response_bytes;
        let too_large = || HttpError::ResponseTooLarge {
            host: host.clone(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Zeroizing::new(Vec::new());
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.classify(&host, &authority, error))?
        {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut http = HttpResponse::new(body.to_vec());
        *http.status_mut() = response.status();
        *http.headers_mut() = std::mem::take(response.headers_mut());
        Ok(http)
    }

    /// Says whose fault a reqwest error with the server `host` (`authority` with the port) is.
    fn classify(&self, host: &str, authority: &str, error: reqwest::Error) -> HttpError {
        let host = host.to_owned();
        if error.is_timeout() {
            let timeout = if error.is_connect() {
                self.config.connect_timeout
            } else {
                self.config.request_timeout
            };
            return HttpError::Timeout { host, timeout };
        }
        let connect = error.is_connect();
        let source: super::error::BoxError = Box::new(error.without_url());
        if is_tls(source.as_ref()) {
            return HttpError::Tls { host, source };
        }
        if connect {
            HttpError::Connect {
                host: authority.to_owned(),
                source,
            }
        } else {
            HttpError::Transfer { host, source }
        }
    }
}

/// Whether a TLS failure is behind `error`: a rustls error somewhere in its sources, also
/// inside the I/O errors that carry it (whose `source` skips the error they wrap).
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && is_tls(inner)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = super::HttpFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.execute(request))
    }
}
