//! Interactive authorisation without a GUI.
//!
//! When an account needs the user's consent, [`InteractiveAuthorizer`] logs the line users and
//! wrappers grep for (`Please visit the following URL to authenticate account <user>: <url>`)
//! and waits for the redirect the browser is sent to. The redirect arrives one of two ways:
//!
//! * `--local-server-auth`: a small HTTP listener per distinct `redirect_listen_address` (or
//!   the `redirect_uri`'s host and port), shared by all accounts, opened on first use and kept.
//!   Requests are routed by their `state` parameter to the login waiting for them; the token
//!   store then checks path, `state` and `code`. Any path is accepted here, so a reverse proxy
//!   may forward e.g. `/email-oauth2-proxy-authorize/` unchanged. A redirect with an unknown
//!   `state`, without a `code` or with the provider's `error` (the user denied access) gets a
//!   page saying so and a log line; the login keeps waiting, so the user can open the
//!   authorisation URL again (the page links to it) and complete it.
//! * always (and the only way with `--external-auth`): [`PendingAuthorizations::complete`], which
//!   the control socket of the binary (`mailgate authorize <account>`) calls with the URL the
//!   user pasted.
//!
//! The device flow needs no redirect: the verification URI and the user code are logged and
//! the token store polls the provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailgate_token::config::ProxyConfig;
use mailgate_token::login::{
    AuthorizationError, AuthorizationFuture, AuthorizationPrompt, Authorizer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::accept::AcceptBackoff;

/// How long a login waits for the user (the Python email-oauth2-proxy's `AUTHENTICATION_TIMEOUT`).
pub const DEFAULT_AUTHORIZATION_TIMEOUT: Duration = Duration::from_secs(600);

/// Largest HTTP request head the redirect listener reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// One login waiting for its redirect.
struct Waiting {
    username: String,
    url: String,
    answer: oneshot::Sender<String>,
}

/// A device authorisation shown to the user: where to go, the code to enter, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// The login name.
    pub account: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The code the user enters there (not a secret: it is useless without the user's sign-in).
    pub user_code: String,
    /// When the code expires.
    pub expires: std::time::Instant,
}

/// The logins waiting for a redirect, by `state`, and the device codes shown to users.
#[derive(Clone, Default)]
pub struct PendingAuthorizations {
    waiting: Arc<Mutex<HashMap<String, Waiting>>>,
    devices: Arc<Mutex<HashMap<String, DeviceCode>>>,
}

impl std::fmt::Debug for PendingAuthorizations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorizations")
            .field("accounts", &self.list())
            .finish()
    }
}

/// Why a redirect could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompleteError {
    /// No login waits for this `state` or account.
    #[error("no pending authorisation matches: {0}")]
    NotPending(String),
    /// The URL carries no `state` and the account has several pending requests.
    #[error(
        "several authorisations of {0} are pending; paste the full redirect URL with its state"
    )]
    Ambiguous(String),
    /// The redirect for a pending login carries no `code`; the login keeps waiting.
    #[error(
        "the redirect for account {account} carries no authorisation code - open the authorisation URL again"
    )]
    NoCode {
        /// The account whose login waits.
        account: String,
    },
    /// The provider did not authorise the login (e.g. `access_denied`: the user declined);
    /// the login keeps waiting.
    #[error(
        "the provider did not authorise account {account}: {error}{} - open the authorisation URL again to retry",
        description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Denied {
        /// The account whose login waits.
        account: String,
        /// The redirect's `error` (escaped, bounded).
        error: String,
        /// The redirect's `error_description`, if any (escaped, bounded).
        description: Option<String>,
    },
}

/// Longest text of a redirect parameter repeated in a log line, page or control reply.
const MAX_SHOWN: usize = 200;

/// `text` bounded to [`MAX_SHOWN`] characters with control characters escaped, so that a
/// parameter from the network cannot forge log lines or break the control socket's lines.
fn shown(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX_SHOWN {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl PendingAuthorizations {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a login waiting for `state`.
    fn register(&self, state: &str, username: &str, url: &str) -> oneshot::Receiver<String> {
        let (answer, receiver) = oneshot::channel();
        self.lock().insert(
            state.to_owned(),
            Waiting {
                username: username.to_owned(),
                url: url.to_owned(),
                answer,
            },
        );
        receiver
    }

    fn forget(&self, state: &str) {
        self.lock().remove(state);
    }

    /// Records a device authorisation shown for `account` (replacing an older one).
    pub fn register_device(&self, code: DeviceCode) {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(code.account.clone(), code);
    }

    /// The device authorisations still waiting (not expired, not done).
    pub fn devices(&self) -> Vec<DeviceCode> {
        let now = std::time::Instant::now();
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        devices.retain(|_, code| code.expires > now);
        let mut list: Vec<DeviceCode> = devices.values().cloned().collect();
        list.sort_by(|a, b| a.account.cmp(&b.account));
        list
    }

    /// `account` logged in: its device authorisation, if any, is done.
    pub fn device_done(&self, account: &str) {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
    }

    /// The accounts waiting and the URL each must visit.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut list: Vec<_> = self
            .lock()
            .values()
            .map(|w| (w.username.clone(), w.url.clone()))
            .collect();
        list.sort();
        list
    }

    /// Delivers a redirect (request target `/path?query` or full URL) to the login waiting for
    /// its `state`; without a `state`, to the only pending login of `account`.
    pub fn complete(&self, account: Option<&str>, redirect: &str) -> Result<String, CompleteError> {
        let mut waiting = self.lock();
        let state = query_param(redirect, "state");
        let key = match state {
            Some(state) if waiting.contains_key(&state) => state,
            Some(state) => {
                return Err(CompleteError::NotPending(format!(
                    "state {}",
                    shown(&state)
                )));
            }
            None => {
                let account = account.unwrap_or_default();
                let mut matching = waiting
                    .iter()
                    .filter(|(_, w)| w.username == account)
                    .map(|(state, _)| state.clone());
                match (matching.next(), matching.next()) {
                    (Some(state), None) => state,
                    (None, _) => {
                        return Err(CompleteError::NotPending(format!("account {account}")));
                    }
                    (Some(_), Some(_)) => return Err(CompleteError::Ambiguous(account.to_owned())),
                }
            }
        };
        let Some(account) = waiting.get(&key).map(|entry| entry.username.clone()) else {
            return Err(CompleteError::NotPending(key));
        };
        if let Some(error) = form_param(redirect, "error") {
            return Err(CompleteError::Denied {
                account,
                error: shown(&error),
                description: form_param(redirect, "error_description").map(|d| shown(&d)),
            });
        }
        if query_param(redirect, "code").is_none_or(|code| code.is_empty()) {
            return Err(CompleteError::NoCode { account });
        }
        let Some(entry) = waiting.remove(&key) else {
            return Err(CompleteError::NotPending(key));
        };
        let username = entry.username.clone();
        let _ = entry.answer.send(redirect.to_owned());
        Ok(username)
    }
}

/// Percent-decodes `text` (`+` stays as is; invalid escapes stay as they are).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The value of query parameter `name` in a URL or request target.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

/// The value of query parameter `name` with form decoding (`+` is a space), for text meant
/// to be read such as `error_description`.
fn form_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(&key.replace('+', " ")) == name)
            .then(|| percent_decode(&value.replace('+', " ")))
    })
}

/// `host:port` of an `http://host:port/path` address (port 80 when absent).
pub fn listen_address(uri: &str) -> Option<String> {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rfind(':') {
        Some(colon) => authority.rfind(']').is_none_or(|bracket| colon > bracket),
        None => false,
    };
    Some(if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    })
}

/// How redirects reach the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectMode {
    /// Only through [`PendingAuthorizations::complete`] (`--external-auth`, the default).
    External,
    /// Also through local HTTP listeners (`--local-server-auth`).
    LocalServer,
}

/// The proxy's [`Authorizer`]: log line, shared redirect listeners, pending registry.
/// Clones share everything.
#[derive(Clone)]
pub struct InteractiveAuthorizer {
    mode: RedirectMode,
    timeout: Duration,
    pending: PendingAuthorizations,
    /// The configuration, for each account's `redirect_listen_address`.
    config: Arc<Mutex<Option<Arc<ProxyConfig>>>>,
    listeners: Arc<tokio::sync::Mutex<HashMap<String, tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for InteractiveAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractiveAuthorizer")
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl InteractiveAuthorizer {
    /// An authoriser waiting at most `timeout` for each user.
    pub fn new(mode: RedirectMode, timeout: Duration) -> Self {
        InteractiveAuthorizer {
            mode,
            timeout,
            pending: PendingAuthorizations::new(),
            config: Arc::default(),
            listeners: Arc::default(),
        }
    }

    /// The registry the control socket completes.
    pub fn pending(&self) -> PendingAuthorizations {
        self.pending.clone()
    }

    /// Uses `config` for the accounts' `redirect_listen_address` (at start and after a reload).
    pub fn set_config(&self, config: Arc<ProxyConfig>) {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
    }

    /// `redirect_listen_address` of `username`, if configured.
    fn configured_listen_address(&self, username: &str) -> Option<String> {
        let config = self
            .config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        config
            .lookup(username, "redirect_listen_address")
            .filter(|value| !value.trim().is_empty())
            .map(str::to_owned)
    }

    /// Makes sure an HTTP listener runs on `address` (`host:port`).
    async fn ensure_listener(&self, address: &str) -> std::io::Result<()> {
        let mut listeners = self.listeners.lock().await;
        if listeners
            .get(address)
            .is_some_and(|task| !task.is_finished())
        {
            return Ok(());
        }
        let listener = TcpListener::bind(address).await?;
        tracing::info!(
            "Local server auth mode: listening for authorisation redirects on {address}"
        );
        let pending = self.pending.clone();
        let described = format!("the redirect listener on {address}");
        let task = tokio::spawn(async move {
            let mut backoff = AcceptBackoff::default();
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        backoff.failed(&described, &error).await;
                        continue;
                    }
                };
                backoff.accepted(|| described.clone());
                let pending = pending.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(30),
                        serve_redirect(stream, peer, pending),
                    )
                    .await;
                });
            }
        });
        listeners.insert(address.to_owned(), task);
        Ok(())
    }
}

/// Answers one HTTP request on a redirect listener.
async fn serve_redirect(
    mut stream: TcpStream,
    peer: std::net::SocketAddr,
    pending: PendingAuthorizations,
) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let (status, body) = if query_param(&target, "state").is_none() {
        ("404 Not Found", "No authorisation request here.".to_owned())
    } else {
        match pending.complete(None, &target) {
            Ok(username) => (
                "200 OK",
                format!(
                    "mailgate received the authorisation for account {}. You can close this window.",
                    html_escape(&username)
                ),
            ),
            Err(CompleteError::NoCode { account }) => {
                let error = CompleteError::NoCode { account };
                tracing::info!("Local server auth mode: {error}");
                (
                    "400 Bad Request",
                    format!(
                        "This redirect carries no authorisation code. {}",
                        try_again(&pending, &target)
                    ),
                )
            }
            Err(CompleteError::Denied {
                account,
                error,
                description,
            }) => {
                let page = format!(
                    "The provider did not authorise mailgate: {}{}. {}",
                    html_escape(&error),
                    description
                        .as_ref()
                        .map(|d| format!(" ({})", html_escape(d)))
                        .unwrap_or_default(),
                    try_again(&pending, &target)
                );
                let error = CompleteError::Denied {
                    account,
                    error,
                    description,
                };
                tracing::info!("Local server auth mode: {error}");
                ("400 Bad Request", page)
            }
            Err(error) => {
                tracing::info!("Local server auth mode: refused a redirect from {peer}: {error}");
                (
                    "400 Bad Request",
                    "This authorisation request is unknown or has expired.".to_owned(),
                )
            }
        }
    };
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>mailgate</title></head><body><p>{body}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The advice after a redirect that did not complete a pending login: which account still
/// waits and a link to its authorisation URL.
fn try_again(pending: &PendingAuthorizations, target: &str) -> String {
    let waiting = query_param(target, "state").and_then(|state| {
        pending
            .lock()
            .get(&state)
            .map(|w| (w.username.clone(), w.url.clone()))
    });
    match waiting {
        Some((account, url)) => format!(
            "The login of account {} is still waiting: <a href=\"{}\">authorise it again</a>.",
            html_escape(&account),
            html_escape(&url)
        ),
        None => {
            "The login is no longer waiting; log in again to start a new authorisation.".to_owned()
        }
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Authorizer for InteractiveAuthorizer {
    fn authorize(&self, prompt: AuthorizationPrompt) -> AuthorizationFuture {
        match prompt {
            AuthorizationPrompt::Device {
                username,
                authorization,
            } => {
                tracing::info!(
                    "Please visit the following URL to authenticate account {username}: {} and enter the code {}",
                    authorization.verification_uri,
                    authorization.user_code
                );
                self.pending.register_device(DeviceCode {
                    account: username.clone(),
                    verification_uri: authorization.verification_uri.clone(),
                    user_code: authorization.user_code.clone(),
                    expires: std::time::Instant::now() + authorization.expires_in,
                });
                Box::pin(async { Ok(String::new()) })
            }
            AuthorizationPrompt::Visit {
                request,
                redirect_listen_address,
            } => {
                let receiver =
                    self.pending
                        .register(&request.state, &request.username, &request.url);
                tracing::info!("{}", request.prompt());
                let listen = match self.mode {
                    RedirectMode::External => None,
                    RedirectMode::LocalServer => redirect_listen_address
                        .filter(|address| !address.trim().is_empty())
                        .or_else(|| self.configured_listen_address(&request.username))
                        .or_else(|| request.redirect_uri.clone())
                        .and_then(|uri| listen_address(&uri)),
                };
                if self.mode == RedirectMode::LocalServer && listen.is_none() {
                    tracing::warn!(
                        "Local server auth mode: account {} has no redirect_uri or redirect_listen_address, so no listener can receive the browser's redirect; add redirect_uri (e.g. http://localhost:8080/, registered with the provider) to its section, or complete this authorisation with `mailgate authorize {}`",
                        request.username,
                        request.username
                    );
                }
                let pending = self.pending.clone();
                let timeout = self.timeout;
                let this = self.clone();
                Box::pin(async move {
                    if let Some(address) = listen
                        && let Err(error) = this.ensure_listener(&address).await
                    {
                        tracing::error!(
                            "Local server auth mode ({address}): unable to start the redirect listener: {error}. Check that `redirect_listen_address` (or `redirect_uri`) of {} names a free port",
                            request.username
                        );
                    }
                    let outcome = tokio::time::timeout(timeout, receiver).await;
                    pending.forget(&request.state);
                    match outcome {
                        Ok(Ok(redirect)) => Ok(redirect),
                        Ok(Err(_)) => Err(AuthorizationError::Aborted(
                            "the authorisation request was cancelled".to_owned(),
                        )),
                        Err(_) => Err(AuthorizationError::Aborted(format!(
                            "Authorisation request timed out for account {}",
                            request.username
                        ))),
                    }
                })
            }
            _ => Box::pin(async {
                Err(AuthorizationError::Aborted(
                    "unsupported authorisation prompt".to_owned(),
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen_address("http://127.0.0.1:8801/").as_deref(),
            Some("127.0.0.1:8801")
        );
        assert_eq!(
            listen_address("http://localhost/email-oauth2-proxy-authorize/").as_deref(),
            Some("localhost:80")
        );
        assert_eq!(
            listen_address("http://[::1]:81/x").as_deref(),
            Some("[::1]:81")
        );
        assert_eq!(listen_address("http:///x"), None);
    }

    #[test]
    fn query_params() {
        let url = "/email-oauth2-proxy-authorize/?code=a%2Fb&state=xyz#frag";
        assert_eq!(query_param(url, "code").as_deref(), Some("a/b"));
        assert_eq!(query_param(url, "state").as_deref(), Some("xyz"));
        assert_eq!(query_param(url, "error"), None);
        assert_eq!(query_param("/no-query", "state"), None);
    }

    /// Every byte outside the unreserved set percent-encoded, as a browser or provider may.
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn redirect_targets_never_panic(target in ".{0,200}", name in "[a-z_]{0,12}") {
            let _ = query_param(&target, &name);
            let _ = form_param(&target, &name);
            let _ = listen_address(&target);
            let _ = shown(&target);
        }

        #[test]
        fn encoded_parameters_round_trip(code in ".{0,100}", state in "[A-Za-z0-9_-]{1,43}") {
            let target = format!(
                "/email-oauth2-proxy-authorize/?state={state}&code={}&x=1#frag",
                encode(&code)
            );
            proptest::prop_assert_eq!(query_param(&target, "code"), Some(code.clone()));
            proptest::prop_assert_eq!(query_param(&target, "state"), Some(state));
        }
    }

    #[tokio::test]
    async fn completion_routes_by_state_and_account() {
        let pending = PendingAuthorizations::new();
        let first = pending.register("s1", "a@example.com", "https://p/1");
        let second = pending.register("s2", "b@example.com", "https://p/2");
        assert_eq!(pending.list().len(), 2);
        assert!(matches!(
            pending.complete(None, "/?code=c&state=forged"),
            Err(CompleteError::NotPending(_))
        ));
        assert_eq!(
            pending.complete(None, "/?code=c&state=s2").unwrap(),
            "b@example.com"
        );
        assert_eq!(second.await.unwrap(), "/?code=c&state=s2");
        assert_eq!(
            pending
                .complete(Some("a@example.com"), "http://x/?code=c")
                .unwrap(),
            "a@example.com"
        );
        assert_eq!(first.await.unwrap(), "http://x/?code=c");
        assert!(pending.list().is_empty());
    }

    #[tokio::test]
    async fn redirects_without_code_or_with_an_error_keep_the_login_waiting() {
        let pending = PendingAuthorizations::new();
        let mut waiting = pending.register("s1", "a@example.com", "https://p/1");
        assert_eq!(
            pending.complete(None, "/?state=s1"),
            Err(CompleteError::NoCode {
                account: "a@example.com".to_owned()
            })
        );
        assert_eq!(
            pending.complete(None, "/?code=&state=s1"),
            Err(CompleteError::NoCode {
                account: "a@example.com".to_owned()
            })
        );
        let denied = pending
            .complete(
                Some("a@example.com"),
                "/?error=access_denied&error_description=said+no%0D%0Aforged&code=c",
            )
            .unwrap_err();
        assert_eq!(
            denied.to_string(),
            "the provider did not authorise account a@example.com: access_denied (said no\\r\\nforged) - open the authorisation URL again to retry"
        );
        assert_eq!(pending.list().len(), 1);
        assert!(waiting.try_recv().is_err());
        assert_eq!(
            pending.complete(None, "/?code=c&state=s1").unwrap(),
            "a@example.com"
        );
        assert_eq!(waiting.await.unwrap(), "/?code=c&state=s1");
    }

    #[test]
    fn shown_text_is_escaped_and_bounded() {
        assert_eq!(shown("a\nb\u{1b}c"), "a\\nb\\u{1b}c");
        let long = "x".repeat(MAX_SHOWN + 10);
        assert_eq!(shown(&long), format!("{}...", "x".repeat(MAX_SHOWN)));
        let pending = PendingAuthorizations::new();
        assert_eq!(
            pending
                .complete(None, "/?code=c&state=%0Aforged")
                .unwrap_err()
                .to_string(),
            "no pending authorisation matches: state \\nforged"
        );
    }
}
