//! The HTTP/1.1 client: direct, through an HTTP proxy, or tunnelled with `CONNECT`; TLS by rustls.
//!
//! Why hand-written rather than hyper: token requests are one small form post and one small JSON
//! answer per exchange. A `Connection: close` HTTP/1.1 exchange over tokio (+ tokio-rustls) plus
//! the bounded sans-I/O [`ResponseParser`](super::ResponseParser) covers that in a few hundred
//! lines, with proxy tunnelling, size limits and no redirect following under our control, and
//! keeps hyper, hyper-util, http-body-util and tower out of the dependency tree.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oauth2::url::{Host, Url};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::error::HttpError;
use super::proxy::{Proxy, ProxySettings};
use super::request::{Request, host_header, origin_form};
use super::response::{Response, ResponseLimits, ResponseParser, parse_head};
use super::tls;

/// Settings of an [`HttpClient`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpClientConfig {
    /// Time allowed to open the TCP connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for the whole exchange, connection included (default 60 s).
    pub request_timeout: Duration,
    /// Response size limits (default: 32 KiB head, 1 MiB body).
    pub limits: ResponseLimits,
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
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            limits: ResponseLimits::default(),
            proxy: ProxySettings::none(),
            extra_ca_file: None,
            extra_roots: Vec::new(),
            user_agent: concat!("mailgate/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The workspace's HTTP client. Cheap to clone; every request uses a fresh connection
/// (`Connection: close`), and redirects are returned to the caller, never followed.
///
/// ```no_run
/// # async fn demo() -> Result<(), mailgate_token::http::HttpError> {
/// use mailgate_token::http::{HttpClient, HttpClientConfig, ProxySettings, Request};
/// use oauth2::url::Url;
///
/// let mut config = HttpClientConfig::default();
/// config.proxy = ProxySettings::from_env()?;
/// let client = HttpClient::new(config)?;
/// let url = Url::parse("https://oauth2.googleapis.com/token").unwrap();
/// let response = client.send(Request::post_form(url, [("grant_type", "refresh_token")])).await?;
/// println!("status {}", response.status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpClientConfig,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl HttpClient {
    /// A client with `config`; fails only if the extra CA file cannot be used.
    pub fn new(config: HttpClientConfig) -> Result<Self, HttpError> {
        let tls = tls::client_config(config.extra_ca_file.as_deref(), &config.extra_roots)?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                config,
                tls: tokio_rustls::TlsConnector::from(tls),
            }),
        })
    }

    /// A client with default settings and proxies from the environment.
    pub fn from_env() -> Result<Self, HttpError> {
        Self::new(HttpClientConfig {
            proxy: ProxySettings::from_env()?,
            ..HttpClientConfig::default()
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &HttpClientConfig {
        &self.inner.config
    }

    /// Sends `request` and reads the whole response (any status), within the request timeout.
    pub async fn send(&self, request: Request) -> Result<Response, HttpError> {
        let timeout = self.inner.config.request_timeout;
        match tokio::time::timeout(timeout, self.exchange(&request)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                host: request.url.host_str().unwrap_or_default().to_owned(),
                timeout,
            }),
        }
    }

    async fn exchange(&self, request: &Request) -> Result<Response, HttpError> {
        let url = &request.url;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => {
                return Err(HttpError::InvalidUrl {
                    url: url.as_str().to_owned(),
                    reason: "only http:// and https:// URLs are supported",
                });
            }
        };
        let (host, port) = endpoint(url)?;
        let config = &self.inner.config;
        let mut extra = Vec::new();
        let (stream, target) = match config.proxy.proxy_for(url) {
            None => (self.connect(&host, port).await?, origin_form(url)),
            Some(proxy) if !https => {
                if let Some(auth) = proxy.authorization() {
                    extra.push(("Proxy-Authorization".to_owned(), auth.to_owned()));
                }
                let mut absolute = url.clone();
                absolute.set_fragment(None);
                (
                    self.connect(&proxy.host, proxy.port).await?,
                    absolute.as_str().to_owned(),
                )
            }
            Some(proxy) => (
                self.tunnel(proxy, url, &host, port).await?,
                origin_form(url),
            ),
        };
        let mut stream: Box<dyn Io> = if https {
            let name = ServerName::try_from(host.clone()).map_err(|_| HttpError::InvalidUrl {
                url: url.as_str().to_owned(),
                reason: "host is not a valid TLS server name",
            })?;
            let tls = self
                .inner
                .tls
                .connect(name, stream)
                .await
                .map_err(|source| HttpError::Tls {
                    host: host.clone(),
                    source,
                })?;
            Box::new(tls)
        } else {
            Box::new(stream)
        };
        let bytes = request.encode(&target, &config.user_agent, &extra)?;
        let io_error = |source| HttpError::Io {
            host: host.clone(),
            source,
        };
        stream.write_all(&bytes).await.map_err(io_error)?;
        stream.flush().await.map_err(io_error)?;
        let mut parser = ResponseParser::new(config.limits);
        let mut buf = zeroize::Zeroizing::new(vec![0u8; 8192]);
        loop {
            let read = match stream.read(&mut buf).await {
                Ok(n) => n,
                // A peer that closes without TLS close_notify after a complete body is common.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(io_error(e)),
            };
            let malformed = |source| HttpError::MalformedResponse {
                host: host.clone(),
                source,
            };
            if read == 0 {
                return parser.finish().map_err(malformed);
            }
            let chunk = buf.get(..read).unwrap_or_default();
            if let Some(response) = parser.push(chunk).map_err(malformed)? {
                return Ok(response);
            }
        }
    }

    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, HttpError> {
        let connect = TcpStream::connect((host, port));
        let stream = tokio::time::timeout(self.inner.config.connect_timeout, connect)
            .await
            .map_err(|_| HttpError::ConnectTimeout {
                host: host.to_owned(),
                port,
            })?
            .map_err(|source| HttpError::Connect {
                host: host.to_owned(),
                port,
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Opens a `CONNECT` tunnel through `proxy` to `host:port`.
    async fn tunnel(
        &self,
        proxy: &Proxy,
        url: &Url,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, HttpError> {
        let mut stream = self.connect(&proxy.host, proxy.port).await?;
        let authority = match url.host() {
            Some(Host::Ipv6(addr)) => format!("[{addr}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(auth) = proxy.authorization() {
            head.push_str("Proxy-Authorization: ");
            head.push_str(auth);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let head = zeroize::Zeroizing::new(head);
        let proxy_name = format!("{}:{}", proxy.host, proxy.port);
        let io_error = |source| HttpError::Io {
            host: proxy_name.clone(),
            source,
        };
        stream.write_all(head.as_bytes()).await.map_err(io_error)?;
        let limits = self.inner.config.limits;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let read = stream.read(&mut chunk).await.map_err(io_error)?;
            let malformed = |source| HttpError::MalformedResponse {
                host: proxy_name.clone(),
                source,
            };
            if read == 0 {
                return Err(malformed(super::HttpParseError::Truncated));
            }
            buf.extend_from_slice(chunk.get(..read).unwrap_or_default());
            if let Some((head, _)) = parse_head(&buf, &limits).map_err(malformed)? {
                if !(200..300).contains(&head.status) {
                    return Err(HttpError::ProxyRefused {
                        proxy: proxy_name,
                        target: authority,
                        status: head.status,
                    });
                }
                return Ok(stream);
            }
        }
    }
}

/// Host (without IPv6 brackets) and port of `url`.
fn endpoint(url: &Url) -> Result<(String, u16), HttpError> {
    let invalid = |reason| HttpError::InvalidUrl {
        url: url.as_str().to_owned(),
        reason,
    };
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_owned(),
        Some(Host::Ipv4(a)) => a.to_string(),
        Some(Host::Ipv6(a)) => a.to_string(),
        None => return Err(invalid("no host")),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| invalid("no port"))?;
    // Validates the Host header early.
    host_header(url)?;
    Ok((host, port))
}
