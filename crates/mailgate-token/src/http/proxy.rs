//! Proxy selection from `https_proxy` / `http_proxy` / `no_proxy`.

use std::net::IpAddr;

use base64::Engine as _;
use oauth2::url::{Host, Url};

use super::error::HttpError;

/// An HTTP proxy: requests to `http` URLs are sent to it in absolute form; `https` URLs are
/// tunnelled through it with `CONNECT`.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Proxy host name or address.
    pub host: String,
    /// Proxy port (80 when the URL has none).
    pub port: u16,
    /// `Proxy-Authorization` value from `user:password@` in the proxy URL, if any.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL such as `http://user:pw@proxy.example:3128` or `proxy.example:3128`.
    /// `name` names the setting in errors.
    pub fn parse(name: &str, value: &str) -> Result<Proxy, HttpError> {
        let invalid = |reason| HttpError::InvalidProxy {
            name: name.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let with_scheme = if value.contains("://") {
            value.to_owned()
        } else {
            format!("http://{value}")
        };
        let url = Url::parse(&with_scheme).map_err(|_| invalid("not a URL"))?;
        if url.scheme() != "http" {
            return Err(invalid("only http:// proxies are supported"));
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_owned(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            None => return Err(invalid("no host")),
        };
        let authorization = if url.username().is_empty() {
            None
        } else {
            let user = percent_decode(url.username());
            let password = percent_decode(url.password().unwrap_or(""));
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Some(format!("Basic {encoded}"))
        };
        Ok(Proxy {
            host,
            port: url.port().unwrap_or(80),
            authorization,
        })
    }

    /// The `Proxy-Authorization` header value, if credentials were given.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }
}

/// Which proxy, if any, each request goes through.
///
/// Loopback destinations (`localhost`, `127.0.0.0/8`, `::1`) are never proxied.
///
/// ```
/// use mailgate_token::http::ProxySettings;
/// use oauth2::url::Url;
///
/// let env = |name: &str| match name {
///     "https_proxy" => Some("http://proxy.internal:3128".to_owned()),
///     "no_proxy" => Some(".corp.example,10.1.2.3".to_owned()),
///     _ => None,
/// };
/// let settings = ProxySettings::from_lookup(env).unwrap();
/// let via = |u: &str| settings.proxy_for(&Url::parse(u).unwrap()).map(|p| p.host.clone());
/// assert_eq!(via("https://login.example.com/token"), Some("proxy.internal".into()));
/// assert_eq!(via("https://login.corp.example/token"), None);
/// assert_eq!(via("http://login.example.com/token"), None); // no http_proxy set
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// Proxy for `http` URLs.
    pub http: Option<Proxy>,
    /// Proxy for `https` URLs.
    pub https: Option<Proxy>,
    /// `no_proxy` entries: `*`, host names (matching the name and its subdomains), or addresses.
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    /// No proxy at all.
    pub fn none() -> Self {
        ProxySettings::default()
    }

    /// Reads `https_proxy`/`HTTPS_PROXY`, `http_proxy` and `no_proxy`/`NO_PROXY` from the process
    /// environment (lower case first). Upper-case `HTTP_PROXY` is ignored, as curl does, because
    /// CGI environments let a request header set it.
    pub fn from_env() -> Result<Self, HttpError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`ProxySettings::from_env`] with the variables looked up by `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, HttpError> {
        let get = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
        };
        let https = get(&["https_proxy", "HTTPS_PROXY"])
            .map(|(n, v)| Proxy::parse(n, v.trim()))
            .transpose()?;
        let http = get(&["http_proxy"])
            .map(|(n, v)| Proxy::parse(n, v.trim()))
            .transpose()?;
        let no_proxy = get(&["no_proxy", "NO_PROXY"])
            .map(|(_, v)| {
                v.split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ProxySettings {
            http,
            https,
            no_proxy,
        })
    }

    /// The proxy to use for `url`, or `None` to connect directly.
    pub fn proxy_for(&self, url: &Url) -> Option<&Proxy> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref()?,
            "http" => self.http.as_ref()?,
            _ => return None,
        };
        let host = match url.host()? {
            Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(a) => a.to_string(),
            Host::Ipv6(a) => a.to_string(),
        };
        if is_loopback(&host) || self.bypassed(&host) {
            return None;
        }
        Some(proxy)
    }

    fn bypassed(&self, host: &str) -> bool {
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.trim_start_matches("*.").trim_start_matches('.');
            // Strip a port (`host:port`, `[v6]:port`), but not from a bare IPv6 address.
            let entry = if let Some(bracketed) = entry.strip_prefix('[') {
                bracketed.split(']').next().unwrap_or_default()
            } else {
                match entry.rsplit_once(':') {
                    Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
                    _ => entry,
                }
            };
            host == entry
                || (host.len() > entry.len()
                    && host.ends_with(entry)
                    && host.as_bytes().get(host.len() - entry.len() - 1) == Some(&b'.'))
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

fn percent_decode(text: &str) -> String {
    oauth2::url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> ProxySettings {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        ProxySettings::from_lookup(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
            .unwrap()
    }

    #[test]
    fn selection_table() {
        let s = settings(&[
            ("https_proxy", "proxy:3128"),
            ("HTTP_PROXY", "http://evil:1"),
            ("NO_PROXY", "example.org, 10.0.0.1,*.internal,[fd00::1]:443"),
        ]);
        let cases = [
            ("https://login.microsoftonline.com/x", Some("proxy")),
            ("http://login.microsoftonline.com/x", None),
            ("https://example.org/", None),
            ("https://mail.example.org/", None),
            ("https://notexample.org/", Some("proxy")),
            ("https://10.0.0.1/", None),
            ("https://a.internal/", None),
            ("https://[fd00::1]/", None),
            ("https://127.0.0.1:9/", None),
            ("https://localhost/", None),
            ("https://[::1]/", None),
        ];
        for (url, expected) in cases {
            let got = s
                .proxy_for(&Url::parse(url).unwrap())
                .map(|p| p.host.as_str());
            assert_eq!(got, expected, "{url}");
        }
        assert_eq!(s.https.as_ref().unwrap().port, 3128);
    }

    #[test]
    fn star_bypasses_all_and_credentials_are_basic() {
        let s = settings(&[
            ("https_proxy", "http://u%40x:p%3Aw@p:8080"),
            ("no_proxy", "*"),
        ]);
        assert!(
            s.proxy_for(&Url::parse("https://example.com").unwrap())
                .is_none()
        );
        let p = s.https.unwrap();
        assert_eq!(p.authorization(), Some("Basic dUB4OnA6dw=="));
        assert!(!format!("{p:?}").contains("dUB4"));
    }

    #[test]
    fn https_proxy_scheme_rejected() {
        assert!(Proxy::parse("https_proxy", "https://p:1").is_err());
        assert!(Proxy::parse("https_proxy", "http://").is_err());
    }
}
