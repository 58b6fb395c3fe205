//! Proxy settings of token requests, from the process environment.
//!
//! The variables are read and checked once, at start-up: a proxy variable that cannot be used
//! is an [`HttpError::InvalidProxy`] naming it, never a silent direct connection. The proxying
//! itself (HTTP `CONNECT` tunnels, `https://` proxies, SOCKS5) is reqwest's.

use oauth2::url::Url;

use super::error::HttpError;

/// A proxy to send requests through: `http://`, `https://` (TLS to the proxy), `socks5://`
/// (names resolved locally) or `socks5h://` (names resolved by the proxy). Credentials may
/// be given as `user:password@` in the URL; `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    variable: String,
    url: Url,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("variable", &self.variable)
            .field("url", &redacted(&self.url))
            .finish()
    }
}

impl ProxyUrl {
    /// Parses the value of the proxy variable `variable`, e.g. `http://proxy.example:3128`,
    /// `socks5h://127.0.0.1:1080` or `proxy.example:3128` (`http://` assumed).
    ///
    /// ```
    /// use mailgate_token::transport::ProxyUrl;
    ///
    /// let proxy = ProxyUrl::parse("HTTPS_PROXY", "proxy.internal:3128").unwrap();
    /// assert_eq!(proxy.url().as_str(), "http://proxy.internal:3128/");
    /// let error = ProxyUrl::parse("HTTPS_PROXY", "ftp://u:hunter2@proxy").unwrap_err();
    /// let text = error.to_string();
    /// assert!(text.contains("HTTPS_PROXY") && !text.contains("hunter2"), "{text}");
    /// ```
    pub fn parse(variable: &str, value: &str) -> Result<ProxyUrl, HttpError> {
        let value = value.trim();
        let invalid = |reason| HttpError::InvalidProxy {
            name: variable.to_owned(),
            value: Url::parse(value).map_or_else(|_| hide_userinfo(value), |url| redacted(&url)),
            reason,
        };
        let with_scheme = if value.contains("://") {
            value.to_owned()
        } else {
            format!("http://{value}")
        };
        let url = Url::parse(&with_scheme).map_err(|_| invalid("not a URL"))?;
        if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
            return Err(invalid(
                "the scheme must be http://, https://, socks5:// or socks5h://",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(invalid("a proxy URL has no path or query"));
        }
        Ok(ProxyUrl {
            variable: variable.to_owned(),
            url,
        })
    }

    /// The proxy URL, credentials included.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The variable the URL was read from.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    fn to_reqwest(
        &self,
        make: fn(Url) -> reqwest::Result<reqwest::Proxy>,
        no_proxy: &str,
    ) -> Result<reqwest::Proxy, HttpError> {
        let proxy = make(self.url.clone()).map_err(|_| HttpError::InvalidProxy {
            name: self.variable.clone(),
            value: redacted(&self.url),
            reason: "not a usable proxy URL",
        })?;
        Ok(proxy.no_proxy(reqwest::NoProxy::from_string(no_proxy)))
    }
}

/// Which proxies token requests go through, read from the environment as curl reads it:
/// `https_proxy`/`HTTPS_PROXY` for `https` URLs, `http_proxy` for `http` URLs (upper-case
/// `HTTP_PROXY` is ignored, as curl does, because CGI environments let a request header set
/// it), `all_proxy`/`ALL_PROXY` for both when the specific one is unset, and
/// `no_proxy`/`NO_PROXY`: `*`, host names (matching subdomains too; a leading `.` or `*.` is
/// allowed), addresses and address ranges such as `10.0.0.0/8` or `fd00::/8`. Lower-case names
/// are looked up first. Loopback destinations (`localhost`, `127.0.0.0/8`, `::1`) are never
/// proxied.
///
/// ```
/// use mailgate_token::transport::ProxySettings;
///
/// let env = |name: &str| match name {
///     "HTTPS_PROXY" => Some("socks5h://127.0.0.1:1080".to_owned()),
///     "no_proxy" => Some(".corp.example, 10.0.0.0/8".to_owned()),
///     _ => None,
/// };
/// let settings = ProxySettings::from_lookup(env).unwrap();
/// assert_eq!(settings.https().unwrap().variable(), "HTTPS_PROXY");
/// assert!(settings.http().is_none());
/// assert_eq!(settings.no_proxy(), ".corp.example,10.0.0.0/8,localhost,127.0.0.0/8,::1");
///
/// let bad = |name: &str| (name == "https_proxy").then(|| "socks4://proxy:1080".to_owned());
/// let error = ProxySettings::from_lookup(bad).unwrap_err();
/// assert!(error.to_string().contains("https_proxy"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: String,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings::none()
    }
}

/// Destinations never proxied.
const LOOPBACK: &str = "localhost,127.0.0.0/8,::1";

impl ProxySettings {
    /// No proxy at all.
    pub fn none() -> Self {
        ProxySettings {
            http: None,
            https: None,
            no_proxy: LOOPBACK.to_owned(),
        }
    }

    /// Reads the proxy variables of the process environment (see the type's documentation).
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
        let parse = |found: Option<(&str, String)>| {
            found
                .map(|(name, value)| ProxyUrl::parse(name, &value))
                .transpose()
        };
        let all = parse(get(&["all_proxy", "ALL_PROXY"]))?;
        let https = parse(get(&["https_proxy", "HTTPS_PROXY"]))?.or_else(|| all.clone());
        let http = parse(get(&["http_proxy"]))?.or(all);
        let mut no_proxy: Vec<String> = get(&["no_proxy", "NO_PROXY"])
            .map(|(_, list)| list.split(',').filter_map(no_proxy_entry).collect())
            .unwrap_or_default();
        no_proxy.push(LOOPBACK.to_owned());
        Ok(ProxySettings {
            http,
            https,
            no_proxy: no_proxy.join(","),
        })
    }

    /// The proxy of `http` URLs.
    pub fn http(&self) -> Option<&ProxyUrl> {
        self.http.as_ref()
    }

    /// The proxy of `https` URLs.
    pub fn https(&self) -> Option<&ProxyUrl> {
        self.https.as_ref()
    }

    /// The destinations that bypass the proxies, normalised (comma-separated).
    pub fn no_proxy(&self) -> &str {
        &self.no_proxy
    }

    /// Sets the proxies of `builder`; the environment is not consulted again.
    pub(crate) fn apply(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, HttpError> {
        let mut builder = builder.no_proxy();
        if let Some(proxy) = &self.https {
            builder = builder.proxy(proxy.to_reqwest(reqwest::Proxy::https, &self.no_proxy)?);
        }
        if let Some(proxy) = &self.http {
            builder = builder.proxy(proxy.to_reqwest(reqwest::Proxy::http, &self.no_proxy)?);
        }
        Ok(builder)
    }
}

/// One `no_proxy` entry as the matcher takes it: `*.x` and `.x` stand for `x` and its
/// subdomains, ports and IPv6 brackets are dropped.
fn no_proxy_entry(entry: &str) -> Option<String> {
    let entry = entry.trim().to_ascii_lowercase();
    let entry = entry.strip_prefix("*.").unwrap_or(&entry);
    let host = if let Some(bracketed) = entry.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        match entry.rsplit_once(':') {
            Some((host, port))
                if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                host
            }
            _ => entry,
        }
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// `url` with its password replaced by `***`.
fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// `value` with anything before an `@` replaced by `***` (for values that are not URLs).
fn hide_userinfo(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<ProxySettings, HttpError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        ProxySettings::from_lookup(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn selection_table() {
        let s = settings(&[
            ("https_proxy", "proxy:3128"),
            ("HTTPS_PROXY", "http://ignored:1"),
            ("HTTP_PROXY", "http://evil:1"),
            ("ALL_PROXY", "socks5h://socks:1080"),
            (
                "NO_PROXY",
                "example.org, 10.0.0.0/8,*.internal,[fd00::1]:443, ,host:80",
            ),
        ])
        .unwrap();
        assert_eq!(s.https().unwrap().url().as_str(), "http://proxy:3128/");
        assert_eq!(s.https().unwrap().variable(), "https_proxy");
        // HTTP_PROXY is ignored; ALL_PROXY covers http URLs.
        assert_eq!(s.http().unwrap().url().as_str(), "socks5h://socks:1080");
        assert_eq!(
            s.no_proxy(),
            "example.org,10.0.0.0/8,internal,fd00::1,host,localhost,127.0.0.0/8,::1"
        );
        let none = settings(&[]).unwrap();
        assert_eq!(none, ProxySettings::none());
    }

    #[test]
    fn unusable_values_name_the_variable_and_hide_passwords() {
        let cases = [
            ("HTTPS_PROXY", "socks4://p:1080", "scheme"),
            ("https_proxy", "http://", "URL"),
            ("ALL_PROXY", "http://u:secret@p:1/path", "path"),
            ("http_proxy", "http://u:secret@[::1", "URL"),
        ];
        for (name, value, reason) in cases {
            let error = settings(&[(name, value)]).unwrap_err();
            let text = error.to_string();
            assert!(text.contains(name), "{text}");
            assert!(text.contains(reason), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let proxy = ProxyUrl::parse("HTTPS_PROXY", "http://u%40x:p%3Aw@p:8080").unwrap();
        assert!(!format!("{proxy:?}").contains("p%3Aw"));
    }
}
