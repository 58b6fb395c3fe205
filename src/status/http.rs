//! The status listener (`[emailproxy] status_address`): `/metrics`, `/healthz`, `/status.json`
//! and `/`, the status page, on hyper.
//!
//! On loopback it is open to local programs (like the proxy's own listeners). Anywhere else a
//! `status_token` is required: requests carry it as `Authorization: Bearer <token>`, or a
//! browser signs in once through a one-time link the log prints (`/login?once=...`), which sets
//! a session cookie. Nothing secret is ever shown: no token, password or client secret is on
//! the board.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use mailgate_token::config::IniDocument;

use super::board::Board;
use super::{metrics, page};

/// The settings of the status listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusSettings {
    /// Where it listens.
    pub(crate) address: SocketAddr,
    /// The token required off loopback (and on loopback when set).
    pub(crate) token: Option<String>,
}

impl StatusSettings {
    /// Reads `status_address` and `status_token` of `[emailproxy]`: `None` when the listener is
    /// off (no address), an error naming the key when a value cannot be used.
    pub(crate) fn from_document(document: &IniDocument) -> Result<Option<Self>, String> {
        let Some(text) = document
            .get("emailproxy", "status_address")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        let address = parse_address(text).ok_or_else(|| {
            format!(
                "[emailproxy] status_address: `{text}` is not an address and port \
                 (e.g. 127.0.0.1:8025 or [::1]:8025)"
            )
        })?;
        let token = document
            .get("emailproxy", "status_token")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if !address.ip().is_loopback() && token.is_none() {
            return Err(format!(
                "[emailproxy] status_address {address} is not a loopback address: set \
                 status_token too (the page, /metrics and /healthz are then served only to \
                 requests that carry it)"
            ));
        }
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err("[emailproxy] status_token: use at least 16 characters".to_owned());
        }
        Ok(Some(StatusSettings { address, token }))
    }
}

fn parse_address(text: &str) -> Option<SocketAddr> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address);
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse::<u16>().ok()?;
    match host {
        "localhost" => Some(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)),
        _ => None,
    }
}

/// The cookie a browser signed in with.
const COOKIE: &str = "mailgate_status";

/// A random value for sessions and one-time links (24 bytes, hex); empty only if the system
/// has no randomness, which then matches nothing.
fn random_token() -> String {
    let mut bytes = [0u8; 24];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        tracing::error!("Unable to read random bytes: the status page sign-in is disabled");
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Server {
    board: Board,
    registry: Registry,
    token: Option<String>,
    /// The session cookie's value (set by a one-time link).
    session: String,
    /// The current one-time sign-in code.
    once: Mutex<String>,
    address: SocketAddr,
}

impl Server {
    fn log_sign_in_link(&self) {
        let code = random_token();
        tracing::info!(
            "Status page sign-in link (works once): http://{}/login?once={code}",
            self.address
        );
        *self.once.lock().unwrap_or_else(PoisonError::into_inner) = code;
    }

    /// Whether `request` may see the status.
    fn authorised(&self, request: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let headers = request.headers();
        if let Some(bearer) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            && mailgate_sasl::constant_time_eq(bearer.trim().as_bytes(), token.as_bytes())
        {
            return true;
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| {
                name == COOKIE
                    && !self.session.is_empty()
                    && mailgate_sasl::constant_time_eq(value.as_bytes(), self.session.as_bytes())
            })
    }

    fn handle(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        }
        let path = request.uri().path();
        if path == "/login" && self.token.is_some() {
            let given = request
                .uri()
                .query()
                .and_then(|q| mailgate_proxy::authorization::query_param(&format!("?{q}"), "once"));
            let valid = {
                let once = self.once.lock().unwrap_or_else(PoisonError::into_inner);
                !once.is_empty()
                    && given.is_some_and(|g| {
                        mailgate_sasl::constant_time_eq(g.as_bytes(), once.as_bytes())
                    })
            };
            if !valid {
                return text(
                    StatusCode::FORBIDDEN,
                    "this sign-in link is not valid (any more)\n",
                );
            }
            self.log_sign_in_link();
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::SEE_OTHER;
            let headers = response.headers_mut();
            headers.insert(header::LOCATION, HeaderValue::from_static("/"));
            if let Ok(cookie) = HeaderValue::from_str(&format!(
                "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                self.session
            )) {
                headers.insert(header::SET_COOKIE, cookie);
            }
            return secure(response);
        }
        if !self.authorised(request) {
            let mut response = text(
                StatusCode::UNAUTHORIZED,
                "send the status_token as a bearer token, or sign in with the one-time link in \
                 the log\n",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        match path {
            "/metrics" => match metrics::render(&self.registry) {
                Ok(body) => with_type(
                    StatusCode::OK,
                    body,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "unable to encode\n"),
            },
            "/healthz" => {
                let report = self.board.report();
                let mut reasons = report.problems.clone();
                if report.listeners.is_empty() {
                    reasons.push("no listener is bound".to_owned());
                }
                if reasons.is_empty() {
                    text(StatusCode::OK, "ok\n")
                } else {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("{}\n", reasons.join("\n")),
                    )
                }
            }
            "/status.json" => match serde_json::to_string_pretty(&self.board.report()) {
                Ok(body) => with_type(StatusCode::OK, body + "\n", "application/json"),
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "unable to encode\n"),
            },
            "/" => with_type(
                StatusCode::OK,
                page::render(&self.board.report(), super::board::now()),
                "text/html; charset=utf-8",
            ),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(response)
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    with_type(status, body.to_owned(), "text/plain; charset=utf-8")
}

/// Headers every answer carries: no caching, no framing, no scripts, no referrer (sign-in
/// links carry a `state`).
fn secure(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A running status listener; stops when dropped.
pub(crate) struct StatusListener {
    task: tokio::task::JoinHandle<()>,
}

impl StatusListener {
    /// Stops listening and waits until the address is free again.
    pub(crate) async fn stop(mut self) {
        self.task.abort();
        // The task ends as cancelled; its listener is closed when it has.
        let _ = (&mut self.task).await;
    }
}

impl Drop for StatusListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `settings.address` and serves `board`.
pub(crate) async fn start(
    settings: &StatusSettings,
    board: Board,
) -> std::io::Result<StatusListener> {
    let listener = TcpListener::bind(settings.address).await?;
    let address = listener.local_addr()?;
    let server = Arc::new(Server {
        registry: metrics::registry(&board),
        board,
        token: settings.token.clone(),
        session: random_token(),
        once: Mutex::new(String::new()),
        address,
    });
    tracing::info!("Status page, /metrics and /healthz on http://{address}/");
    if server.token.is_some() {
        server.log_sign_in_link();
    }
    let task = tokio::spawn(async move {
        let mut backoff = mailgate_proxy::AcceptBackoff::default();
        let described = format!("the status listener {address}");
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    backoff.failed(&described, &error).await;
                    continue;
                }
            };
            backoff.accepted(|| described.clone());
            let server = server.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let response = server.handle(&request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(60), connection).await;
            });
        }
    });
    Ok(StatusListener { task })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(text: &str) -> Result<Option<StatusSettings>, String> {
        StatusSettings::from_document(&IniDocument::parse(text).unwrap())
    }

    #[test]
    fn status_settings() {
        assert_eq!(settings("[emailproxy]\n").unwrap(), None);
        assert_eq!(
            settings("[emailproxy]\nstatus_address = localhost:8025\n")
                .unwrap()
                .unwrap()
                .address,
            "127.0.0.1:8025".parse().unwrap()
        );
        assert!(
            settings("[emailproxy]\nstatus_address = 0.0.0.0:8025\n")
                .unwrap_err()
                .contains("status_token")
        );
        assert!(
            settings("[emailproxy]\nstatus_address = 0.0.0.0:8025\nstatus_token = short\n")
                .unwrap_err()
                .contains("16 characters")
        );
        let open = settings(
            "[emailproxy]\nstatus_address = [::]:8025\nstatus_token = 0123456789abcdef0123\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(open.token.as_deref(), Some("0123456789abcdef0123"));
        assert!(
            settings("[emailproxy]\nstatus_address = somewhere\n")
                .unwrap_err()
                .contains("status_address")
        );
    }
}
