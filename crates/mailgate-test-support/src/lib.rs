//! Test support of the mailgate workspace (never published): [`MockOAuthServer`], an in-process
//! mock OAuth 2.0 provider for the tests of `mailgate-token`, `mailgate-proxy` and the binary: a
//! token endpoint that answers every grant type and a device authorization endpoint, on
//! loopback over plain HTTP, with scripted replies and request counting.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mailgate_token::transport::{HttpClient, HttpClientConfig};
//! use mailgate_token::oauth::{ClientAuth, Grant, TokenEndpoint};
//! use mailgate_test_support::{MockOAuthServer, MockReply};
//!
//! let server = MockOAuthServer::start().await.unwrap();
//! server.push_token_reply(MockReply::error(400, "invalid_grant"));
//! let http = HttpClient::new(HttpClientConfig::default()).unwrap();
//! let endpoint = TokenEndpoint::new(&server.token_url(), "app", ClientAuth::None).unwrap();
//! let grant = Grant::ClientCredentials { scope: Some("s"), redirect_uri: None };
//! assert!(endpoint.exchange(&http, &grant).await.unwrap_err().is_invalid_grant());
//! let token = endpoint.exchange(&http, &grant).await.unwrap(); // default reply: success
//! assert!(token.access_token.expose().starts_with("mock-access-"));
//! assert_eq!(server.token_requests(), 2);
//! assert_eq!(server.requests()[0].param("grant_type"), Some("client_credentials"));
//! # }
//! ```
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A scripted answer of the mock provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MockReply {
    /// `200` with a token response; `{n}` in the tokens is replaced by the request number.
    Token {
        /// `access_token` (`None` leaves it out: a response missing its token).
        access_token: Option<String>,
        /// `expires_in`.
        expires_in: Option<u64>,
        /// `refresh_token`.
        refresh_token: Option<String>,
    },
    /// An OAuth 2.0 error JSON with this status.
    Error {
        /// HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// A raw status and body (e.g. `503` with HTML, or `200` with non-JSON).
    Raw {
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
    },
    /// A device authorization response.
    DeviceCode {
        /// `device_code`.
        device_code: String,
        /// `user_code`.
        user_code: String,
        /// `expires_in`.
        expires_in: u64,
        /// `interval`.
        interval: u64,
    },
    /// Waits, then sends the inner reply (use a long delay to test timeouts).
    Delayed(Duration, Box<MockReply>),
}

impl MockReply {
    /// The default success: `mock-access-{n}`, 3600 s, `mock-refresh-{n}`.
    pub fn token() -> Self {
        MockReply::Token {
            access_token: Some("mock-access-{n}".into()),
            expires_in: Some(3600),
            refresh_token: Some("mock-refresh-{n}".into()),
        }
    }

    /// Success without a refresh token.
    pub fn token_without_refresh() -> Self {
        MockReply::Token {
            access_token: Some("mock-access-{n}".into()),
            expires_in: Some(3600),
            refresh_token: None,
        }
    }

    /// An OAuth error JSON.
    pub fn error(status: u16, error: &str) -> Self {
        MockReply::Error {
            status,
            error: error.into(),
            description: Some(format!("mock {error}")),
        }
    }

    /// This reply after `delay`.
    pub fn delayed(self, delay: Duration) -> Self {
        MockReply::Delayed(delay, Box::new(self))
    }
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Query and form parameters, in order.
    pub params: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct State {
    token_replies: VecDeque<MockReply>,
    default_token_reply: MockReply,
    device_replies: VecDeque<MockReply>,
    requests: Vec<RecordedRequest>,
    token_requests: usize,
    rotation: bool,
    current_refresh_token: Option<String>,
    rejected_refresh_tokens: usize,
}

/// The mock provider; stops when dropped.
#[derive(Debug)]
pub struct MockOAuthServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for MockOAuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MockOAuthServer {
    /// Starts the mock on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            token_replies: VecDeque::new(),
            default_token_reply: MockReply::token(),
            device_replies: VecDeque::new(),
            requests: Vec::new(),
            token_requests: 0,
            rotation: false,
            current_refresh_token: None,
            rejected_refresh_tokens: 0,
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(MockOAuthServer { addr, state, task })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/token`.
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// `http://127.0.0.1:PORT/device` (device authorization endpoint).
    pub fn device_url(&self) -> String {
        format!("http://{}/device", self.addr)
    }

    /// `http://127.0.0.1:PORT/authorize` (never requested by the library; a permission URL base).
    pub fn authorize_url(&self) -> String {
        format!("http://{}/authorize", self.addr)
    }

    /// Queues a reply for the next token request.
    pub fn push_token_reply(&self, reply: MockReply) {
        lock(&self.state).token_replies.push_back(reply);
    }

    /// Sets the reply used when the queue is empty (initially [`MockReply::token`]).
    pub fn set_default_token_reply(&self, reply: MockReply) {
        lock(&self.state).default_token_reply = reply;
    }

    /// Queues a reply for the next device authorization request (default: a device code with
    /// `expires_in` 60 and `interval` 1).
    pub fn push_device_reply(&self, reply: MockReply) {
        lock(&self.state).device_replies.push_back(reply);
    }

    /// Number of token endpoint requests so far.
    pub fn token_requests(&self) -> usize {
        lock(&self.state).token_requests
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Rotates refresh tokens as Microsoft and others may: only the refresh token of the
    /// latest token response that carried one is valid, and a `refresh_token` grant
    /// presenting any other gets `400 invalid_grant` (counted by
    /// [`MockOAuthServer::rejected_refresh_tokens`]) instead of the scripted reply.
    pub fn enable_refresh_token_rotation(&self) {
        lock(&self.state).rotation = true;
    }

    /// The refresh token of the latest token response that carried one.
    pub fn current_refresh_token(&self) -> Option<String> {
        lock(&self.state).current_refresh_token.clone()
    }

    /// How many refresh requests presented a replaced refresh token (with rotation).
    pub fn rejected_refresh_tokens(&self) -> usize {
        lock(&self.state).rejected_refresh_tokens
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    const LIMIT: usize = 256 * 1024;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > LIMIT {
            return Ok(());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).to_string();
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length.min(LIMIT));
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).to_string();
    let body = buf.get(head_end..head_end + length).unwrap_or_default();
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params: Vec<(String, String)> = oauth2::url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    params.extend(oauth2::url::form_urlencoded::parse(body).into_owned());
    let record = RecordedRequest {
        method,
        path: path.to_owned(),
        params,
    };
    let (reply, n) = {
        let mut state = lock(&state);
        state.requests.push(record);
        if path == "/device" {
            let reply = state
                .device_replies
                .pop_front()
                .unwrap_or(MockReply::DeviceCode {
                    device_code: "mock-device-code".into(),
                    user_code: "MOCK-CODE".into(),
                    expires_in: 60,
                    interval: 1,
                });
            (reply, state.requests.len())
        } else {
            state.token_requests += 1;
            let n = state.token_requests;
            let stale = {
                let record = state.requests.last();
                let grant = record.and_then(|r| r.param("grant_type"));
                let presented = record.and_then(|r| r.param("refresh_token"));
                state.rotation
                    && grant == Some("refresh_token")
                    && presented != state.current_refresh_token.as_deref()
            };
            let reply = if stale {
                state.rejected_refresh_tokens += 1;
                MockReply::error(400, "invalid_grant")
            } else {
                match state.token_replies.pop_front() {
                    Some(reply) => reply,
                    None => state.default_token_reply.clone(),
                }
            };
            if let Some(refresh) = issued_refresh_token(&reply, n) {
                state.current_refresh_token = Some(refresh);
            }
            (reply, n)
        }
    };
    let mut reply = reply;
    while let MockReply::Delayed(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    let (status, body) = render(&reply, n);
    let response = format!(
        "HTTP/1.1 {status} Mock\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The refresh token `reply` issues as request number `n`.
fn issued_refresh_token(reply: &MockReply, n: usize) -> Option<String> {
    match reply {
        MockReply::Token {
            access_token: Some(_),
            refresh_token: Some(token),
            ..
        } => Some(token.replace("{n}", &n.to_string())),
        MockReply::Delayed(_, inner) => issued_refresh_token(inner, n),
        _ => None,
    }
}

fn render(reply: &MockReply, n: usize) -> (u16, String) {
    let fill = |s: &str| s.replace("{n}", &n.to_string());
    match reply {
        MockReply::Token {
            access_token,
            expires_in,
            refresh_token,
        } => {
            let mut map = serde_json::Map::new();
            if let Some(token) = access_token {
                map.insert("access_token".into(), fill(token).into());
            }
            map.insert("token_type".into(), "Bearer".into());
            if let Some(expires_in) = expires_in {
                map.insert("expires_in".into(), (*expires_in).into());
            }
            if let Some(token) = refresh_token {
                map.insert("refresh_token".into(), fill(token).into());
            }
            (200, serde_json::to_string(&map).unwrap_or_default())
        }
        MockReply::Error {
            status,
            error,
            description,
        } => (
            *status,
            serde_json::json!({
                "error": error,
                "error_description": description,
                "error_codes": [70000],
            })
            .to_string(),
        ),
        MockReply::Raw { status, body } => (*status, body.clone()),
        MockReply::DeviceCode {
            device_code,
            user_code,
            expires_in,
            interval,
        } => (
            200,
            serde_json::json!({
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": "https://mock.invalid/device",
                "expires_in": expires_in,
                "interval": interval,
            })
            .to_string(),
        ),
        MockReply::Delayed(_, inner) => render(inner, n),
    }
}
