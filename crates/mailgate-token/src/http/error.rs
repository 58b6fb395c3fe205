//! Errors of the HTTP client.

use std::io;

use super::response::HttpParseError;

/// Why an HTTP exchange failed.
///
/// Variants say whose fault it is: the caller (an invalid URL or request), the network
/// (connecting, TLS, timeouts), the proxy, or the server (a malformed or oversized response).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL cannot be used for a request (caller or configuration fault).
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The request itself is invalid, e.g. a header value with a line break (caller fault).
    #[error("invalid HTTP request: {0}")]
    InvalidRequest(&'static str),
    /// The configured proxy URL cannot be used (configuration fault).
    #[error(
        "invalid proxy setting {name}={value:?}: {reason} - fix or unset the environment variable"
    )]
    InvalidProxy {
        /// Name of the environment variable or setting.
        name: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The extra CA certificate file could not be read or holds no certificate (configuration fault).
    #[error("cannot use CA certificate file {path}: {reason}")]
    CaFile {
        /// Path of the file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Connecting to the server (or proxy) failed (network fault; retry later).
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// Host connected to.
        host: String,
        /// Port connected to.
        port: u16,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Connecting took longer than the connect timeout (network fault; retry later).
    #[error("timed out connecting to {host}:{port}")]
    ConnectTimeout {
        /// Host connected to.
        host: String,
        /// Port connected to.
        port: u16,
    },
    /// The whole exchange took longer than the request timeout (network or server fault).
    #[error("HTTP request to {host} timed out after {}", human_duration(*.timeout))]
    Timeout {
        /// Host of the request.
        host: String,
        /// The timeout that elapsed.
        timeout: std::time::Duration,
    },
    /// The TLS handshake failed, e.g. an untrusted certificate (network or configuration fault:
    /// check `SSL_CERT_FILE` or the extra CA file).
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        /// Host of the request.
        host: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The proxy refused to open a tunnel (proxy fault or configuration fault).
    #[error("proxy {proxy} refused CONNECT to {target} with status {status}")]
    ProxyRefused {
        /// The proxy host and port.
        proxy: String,
        /// The tunnel target `host:port`.
        target: String,
        /// The status code the proxy answered with.
        status: u16,
    },
    /// Reading or writing the connection failed (network fault; retry later).
    #[error("HTTP connection to {host} failed: {source}")]
    Io {
        /// Host of the request.
        host: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server sent something that is not a valid HTTP/1.x response (server fault).
    #[error("malformed HTTP response from {host}: {source}")]
    MalformedResponse {
        /// Host of the request.
        host: String,
        /// What was wrong.
        #[source]
        source: HttpParseError,
    },
}

/// `2 s`, `1.5 s` or `250 ms`: a timeout as a person would write it.
fn human_duration(duration: std::time::Duration) -> String {
    if duration < std::time::Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timeouts_read_as_a_person_would_write_them() {
        let text = |timeout| {
            HttpError::Timeout {
                host: "login.example".into(),
                timeout,
            }
            .to_string()
        };
        assert_eq!(
            text(Duration::from_secs(60)),
            "HTTP request to login.example timed out after 60 s"
        );
        assert_eq!(
            text(Duration::from_millis(250)),
            "HTTP request to login.example timed out after 250 ms"
        );
        assert_eq!(
            text(Duration::from_millis(1500)),
            "HTTP request to login.example timed out after 1.5 s"
        );
    }
}
