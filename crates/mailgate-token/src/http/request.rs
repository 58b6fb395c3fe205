//! HTTP requests: method, URL, headers and a zeroized body.

use std::fmt;

use oauth2::url::Url;
use zeroize::Zeroizing;

use super::error::HttpError;

/// The request methods this client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method as it appears on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One HTTP request. The body may hold secrets (client secrets, refresh tokens, passwords), so it
/// is zeroized on drop and never printed by `Debug`.
#[derive(Clone)]
pub struct Request {
    /// Request method.
    pub method: Method,
    /// Absolute `http` or `https` URL.
    pub url: Url,
    /// Extra header fields (`Host`, `Content-Length`, `Connection` and `User-Agent` are added by
    /// the client).
    pub headers: Vec<(String, String)>,
    /// Request body (empty for `GET`).
    pub body: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Request {
    /// A `GET` request for `url`, asking for JSON.
    pub fn get(url: Url) -> Self {
        Request {
            method: Method::Get,
            url,
            headers: vec![("Accept".into(), "application/json".into())],
            body: Zeroizing::new(Vec::new()),
        }
    }

    /// A `POST` of an `application/x-www-form-urlencoded` body built from `params`, in order,
    /// asking for JSON.
    pub fn post_form<'a>(url: Url, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut body = Zeroizing::new(String::new());
        {
            let mut serializer = oauth2::url::form_urlencoded::Serializer::new(&mut *body);
            for (name, value) in params {
                serializer.append_pair(name, value);
            }
            // `finish` only returns the target; nothing to keep.
            let _ = serializer.finish();
        }
        Request {
            method: Method::Post,
            url,
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("Accept".into(), "application/json".into()),
            ],
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }

    /// Encodes the request head for `target` (origin form `/path?query`, or the absolute URL when
    /// sent to a plain HTTP proxy) plus the body.
    pub(crate) fn encode(
        &self,
        target: &str,
        user_agent: &str,
        extra: &[(String, String)],
    ) -> Result<Zeroizing<Vec<u8>>, HttpError> {
        let host = host_header(&self.url)?;
        let mut out = Zeroizing::new(Vec::with_capacity(256 + self.body.len()));
        let mut line = |name: &str, value: &str| -> Result<(), HttpError> {
            check_header(name, value)?;
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
            Ok(())
        };
        if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(HttpError::InvalidRequest(
                "request target contains a space or control character",
            ));
        }
        let request_line = format!("{} {} HTTP/1.1\r\n", self.method.as_str(), target);
        line("Host", &host)?;
        line("User-Agent", user_agent)?;
        for (name, value) in self.headers.iter().chain(extra) {
            line(name, value)?;
        }
        if self.method == Method::Post || !self.body.is_empty() {
            line("Content-Length", &self.body.len().to_string())?;
        }
        line("Connection", "close")?;
        let mut head = Zeroizing::new(request_line.into_bytes());
        head.extend_from_slice(&out);
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(&self.body);
        Ok(head)
    }
}

/// The origin-form request target: path plus query.
pub(crate) fn origin_form(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{}", url.path(), query),
        None => url.path().to_owned(),
    }
}

/// The `Host` header value: host, plus the port when it is not the scheme's default.
pub(crate) fn host_header(url: &Url) -> Result<String, HttpError> {
    let host = url.host_str().ok_or_else(|| HttpError::InvalidUrl {
        url: url.as_str().to_owned(),
        reason: "no host",
    })?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn check_header(name: &str, value: &str) -> Result<(), HttpError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(HttpError::InvalidRequest(
            "header name is not an HTTP token",
        ));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(HttpError::InvalidRequest(
            "header value contains CR, LF or NUL",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_encodes_head_and_body() {
        let url = Url::parse("http://127.0.0.1:8080/token?x=1").unwrap();
        let request = Request::post_form(url.clone(), [("a", "b c"), ("d", "&=")]);
        let bytes = request.encode(&origin_form(&url), "ua", &[]).unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.starts_with("POST /token?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(text.contains("Content-Length: 14\r\n"));
        assert!(text.ends_with("\r\n\r\na=b+c&d=%26%3D"));
    }

    #[test]
    fn header_injection_is_rejected() {
        let url = Url::parse("http://localhost/").unwrap();
        let mut request = Request::get(url);
        request.headers.push(("X".into(), "a\r\nEvil: 1".into()));
        assert!(request.encode("/", "ua", &[]).is_err());
        let mut request = Request::get(Url::parse("http://localhost/").unwrap());
        request.headers.push(("Bad Name".into(), "v".into()));
        assert!(request.encode("/", "ua", &[]).is_err());
    }

    #[test]
    fn debug_hides_body() {
        let url = Url::parse("http://localhost/").unwrap();
        let request = Request::post_form(url, [("client_secret", "hunter2")]);
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
