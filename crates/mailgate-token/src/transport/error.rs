//! Errors of the HTTP transport of token requests.

use crate::tls::TlsConfigError;

/// An error underneath an [`HttpError`], as the HTTP stack reported it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an HTTP exchange with a token (or device authorization) endpoint failed.
///
/// Variants say whose fault it is: the configuration (a URL, a proxy variable, a CA file), the
/// network (connecting, TLS, timeouts, a proxy on the way), or the server (an oversized
/// response).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL cannot be used for a request (configuration fault).
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A proxy environment variable cannot be used (configuration fault): mailgate refuses to
    /// start rather than connect directly behind the user's back.
    #[error(
        "invalid proxy setting {name}={value:?}: {reason} - fix or unset the environment variable"
    )]
    InvalidProxy {
        /// Name of the environment variable, e.g. `HTTPS_PROXY`.
        name: String,
        /// Its value, with any password replaced by `***`.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The TLS configuration could not be built, e.g. an unreadable extra CA file
    /// (configuration fault).
    #[error(transparent)]
    TlsConfig(#[from] TlsConfigError),
    /// The HTTP client could not be built (a build fault of mailgate; report it).
    #[error("cannot start the HTTP client: {0}")]
    Client(#[source] BoxError),
    /// Connecting to the server or to the proxy failed, or the proxy refused the tunnel
    /// (network fault; retry later, or check the proxy variables).
    #[error("cannot connect to {host}: {}", root_cause(.source.as_ref()))]
    Connect {
        /// Host and port of the request.
        host: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed, e.g. an untrusted certificate (network or configuration fault:
    /// check `SSL_CERT_FILE` or the extra CA file).
    #[error("TLS handshake with {host} failed: {}", root_cause(.source.as_ref()))]
    Tls {
        /// Host of the request.
        host: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The exchange took longer than allowed: connecting (the connect timeout) or the whole
    /// request (`token_request_timeout`) (network or server fault; retry later).
    #[error("HTTP request to {host} timed out after {}", human_duration(*.timeout))]
    Timeout {
        /// Host of the request.
        host: String,
        /// The timeout that elapsed.
        timeout: std::time::Duration,
    },
    /// Sending the request or reading the response failed (network fault; retry later).
    #[error("HTTP exchange with {host} failed: {}", root_cause(.source.as_ref()))]
    Transfer {
        /// Host of the request.
        host: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The response body is larger than a token response can be (server fault).
    #[error("the response from {host} exceeds {limit} bytes")]
    ResponseTooLarge {
        /// Host of the request.
        host: String,
        /// The limit.
        limit: usize,
    },
}

/// The message of the innermost source of `error`: what actually went wrong (the HTTP stack
/// wraps it in errors that say little, such as "error sending request"). I/O errors carrying
/// another error show that error's message.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
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

    #[test]
    fn source_chains_are_flattened_without_repeats() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = HttpError::Connect {
            host: "login.example".into(),
            source: Box::new(inner),
        };
        assert_eq!(
            error.to_string(),
            "cannot connect to login.example: refused"
        );
    }
}
