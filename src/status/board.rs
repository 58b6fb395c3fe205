//! The live state of the accounts the running proxy has seen since it started: what
//! `mailgate status`, `/healthz`, `/metrics` and the status page show.
//!
//! Fed by the logins (through [`ObservedAuthenticator`]), the proactive refresher and the
//! pending authorisations; read as a [`StatusReport`]. Nothing secret is kept: account names,
//! flows, times, outcomes and error texts (which never hold a secret).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use mailgate_proxy::authorization::PendingAuthorizations;
use mailgate_proxy::{
    Authenticator, BoxFuture, LoginRejected, ProxyStats, SecretString, UpstreamCredentials,
};
use mailgate_token::config::ProxyConfig;
use serde::Serialize;

use super::events::{Event, EventSink, TokenEventKind};

/// How many recent errors the report keeps.
const RECENT_ERRORS: usize = 20;

/// How many accounts the board keeps (login names are the clients' input).
const MAX_ACCOUNTS: usize = 1024;

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The outcome of the last proactive refresh of an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Refresh {
    /// When it ended (Unix seconds).
    pub(crate) at: u64,
    /// Whether it succeeded.
    pub(crate) ok: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// What the proxy knows of one account.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AccountState {
    /// The account's `oauth2_flow` (as the configuration resolves it).
    pub(crate) flow: String,
    /// When its access token expires (Unix seconds), once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) access_token_expires_at: Option<u64>,
    /// Successful logins since start.
    pub(crate) logins: u64,
    /// Failed logins and refreshes since start.
    pub(crate) failures: u64,
    /// The last successful login (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_login: Option<u64>,
    /// The last proactive refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_refresh: Option<Refresh>,
    /// The last failure, as the log says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
    /// When its current access token was obtained (Unix seconds), once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token_obtained_at: Option<u64>,
    /// Set while the account needs an interactive authorisation (its refresh token was refused,
    /// say), with the reason; cleared by its next successful login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) needs_authorisation: Option<String>,
}

/// A recent error, for the status page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecentError {
    /// When (Unix seconds).
    pub(crate) at: u64,
    /// The account.
    pub(crate) account: String,
    /// What happened.
    pub(crate) message: String,
}

/// One account in a report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountReport {
    /// The login name.
    pub(crate) account: String,
    /// `ok`, `needs-authorisation` or `failing`.
    pub(crate) state: &'static str,
    /// The URL of a pending authorisation: where the user signs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authorisation_url: Option<String>,
    /// The code to enter there, for a device authorisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) device_code: Option<String>,
    /// What the proxy knows of the account.
    #[serde(flatten)]
    pub(crate) details: AccountState,
}

/// One listener in a report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListenerReport {
    pub(crate) section: String,
    pub(crate) protocol: String,
    pub(crate) address: String,
    pub(crate) server: String,
    pub(crate) tls: &'static str,
    pub(crate) open_sessions: u64,
    pub(crate) sessions: u64,
    pub(crate) logins: u64,
    pub(crate) failed_logins: u64,
}

/// Everything `mailgate status` and the status page show.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StatusReport {
    /// `ok`, or `attention` when an account needs authorising or its refresh is failing.
    pub(crate) state: &'static str,
    /// Why not `ok`, one line per account.
    pub(crate) problems: Vec<String>,
    pub(crate) version: &'static str,
    /// When the proxy started (Unix seconds).
    pub(crate) started_at: u64,
    pub(crate) listeners: Vec<ListenerReport>,
    pub(crate) accounts: Vec<AccountReport>,
    pub(crate) recent_errors: Vec<RecentError>,
}

#[derive(Debug, Default)]
struct Inner {
    accounts: BTreeMap<String, AccountState>,
    recent: VecDeque<RecentError>,
}

/// The live state, shared by the proxy's tasks; cheap to clone.
#[derive(Clone)]
pub(crate) struct Board {
    inner: Arc<Mutex<Inner>>,
    pending: PendingAuthorizations,
    proxy: Arc<Mutex<Option<ProxyStats>>>,
    events: EventSink,
    started_at: u64,
    config: Arc<Mutex<Option<Arc<ProxyConfig>>>>,
}

impl Board {
    /// A board reading pending authorisations from `pending` and sending events to `events`.
    pub(crate) fn new(pending: PendingAuthorizations, events: EventSink) -> Self {
        Board {
            inner: Arc::default(),
            pending,
            proxy: Arc::default(),
            events,
            started_at: now(),
            config: Arc::default(),
        }
    }

    /// The listeners' statistics, once the proxy runs.
    pub(crate) fn set_proxy(&self, stats: ProxyStats) {
        *lock(&self.proxy) = Some(stats);
    }

    /// The listeners' statistics, if the proxy runs.
    pub(crate) fn proxy(&self) -> Option<ProxyStats> {
        lock(&self.proxy).clone()
    }

    /// The events (for the metrics' token request counters).
    pub(crate) fn events(&self) -> &EventSink {
        &self.events
    }

    /// The configuration accounts' flows are read from (again after a reload).
    pub(crate) fn set_config(&self, config: Arc<ProxyConfig>) {
        *lock(&self.config) = Some(config);
        for state in lock(&self.inner).accounts.values_mut() {
            state.flow.clear();
        }
    }

    /// The `oauth2_flow` the configuration resolves for `account`, if any.
    fn flow(&self, account: &str) -> Option<String> {
        let config = lock(&self.config).clone()?;
        let resolved = config.resolve_account(account).ok()?;
        Some(resolved.flow.as_str().to_owned())
    }

    fn with_account<T>(&self, account: &str, f: impl FnOnce(&mut AccountState) -> T) -> T {
        // The flow is resolved once per account (and again after a reload), not on every login.
        let known = lock(&self.inner)
            .accounts
            .get(account)
            .is_some_and(|state| !state.flow.is_empty());
        let flow = if known { None } else { self.flow(account) };
        let mut inner = lock(&self.inner);
        if !inner.accounts.contains_key(account) && inner.accounts.len() >= MAX_ACCOUNTS {
            // Bounded: past the limit a new account's state is not kept.
            return f(&mut AccountState::default());
        }
        let state = inner.accounts.entry(account.to_owned()).or_default();
        if let Some(flow) = flow {
            state.flow = flow;
        }
        f(state)
    }

    fn record_error(&self, account: &str, message: &str) {
        let mut inner = lock(&self.inner);
        if inner.recent.len() == RECENT_ERRORS {
            inner.recent.pop_front();
        }
        inner.recent.push_back(RecentError {
            at: now(),
            account: account.to_owned(),
            message: message.to_owned(),
        });
    }

    /// A login of `account` succeeded with a token expiring at `expires_at`.
    pub(crate) fn login_succeeded(&self, account: &str, expires_at: Option<u64>) {
        self.pending.device_done(account);
        let previous = self.with_account(account, |state| {
            state.logins += 1;
            state.last_login = Some(now());
            state.needs_authorisation = None;
            let previous = state.access_token_expires_at;
            if expires_at.is_some() {
                if expires_at != previous {
                    state.token_obtained_at = Some(now());
                }
                state.access_token_expires_at = expires_at;
            }
            previous
        });
        if expires_at.is_some() && expires_at != previous {
            let kind = if previous.is_none() {
                TokenEventKind::New
            } else {
                TokenEventKind::Refreshed
            };
            let grant = match kind {
                TokenEventKind::Refreshed => "refresh_token".to_owned(),
                _ => self.flow(account).unwrap_or_else(|| "unknown".to_owned()),
            };
            self.events.token_request(&grant, "success");
            self.events.send(Event::Token {
                account: account.to_owned(),
                kind,
                expires_at,
            });
        }
    }

    /// A login of `account` failed with `message`; `authorisation` when it failed because the
    /// account needs an interactive authorisation.
    pub(crate) fn login_failed(&self, account: &str, message: &str, token_request: bool) {
        // A login name the configuration does not know gets no account entry (only a recent
        // error): clients choose login names.
        let tracked =
            lock(&self.inner).accounts.contains_key(account) || self.flow(account).is_some();
        if tracked {
            self.with_account(account, |state| {
                state.failures += 1;
                state.last_error = Some(message.to_owned());
            });
        }
        self.record_error(account, message);
        if token_request {
            let grant = self.flow(account).unwrap_or_else(|| "unknown".to_owned());
            self.events.token_request(&grant, "failure");
            self.events.send(Event::Error {
                account: account.to_owned(),
                message: message.to_owned(),
            });
        }
    }

    /// The server refused `account`'s access token; it was dropped from the store.
    pub(crate) fn token_invalidated(&self, account: &str) {
        self.with_account(account, |state| state.access_token_expires_at = None);
        self.events.send(Event::Token {
            account: account.to_owned(),
            kind: TokenEventKind::Invalidated,
            expires_at: None,
        });
    }

    /// A proactive refresh of `account` ended.
    pub(crate) fn refreshed(&self, account: &str, outcome: Result<u64, (String, bool)>) {
        match outcome {
            Ok(expires_at) => {
                self.events.token_request("refresh_token", "success");
                let previous = self.with_account(account, |state| {
                    state.last_refresh = Some(Refresh {
                        at: now(),
                        ok: true,
                        error: None,
                    });
                    state.needs_authorisation = None;
                    state.token_obtained_at = Some(now());
                    state.access_token_expires_at.replace(expires_at)
                });
                if previous != Some(expires_at) {
                    self.events.send(Event::Token {
                        account: account.to_owned(),
                        kind: TokenEventKind::Refreshed,
                        expires_at: Some(expires_at),
                    });
                }
            }
            Err((message, needs_authorisation)) => {
                self.events.token_request("refresh_token", "failure");
                self.with_account(account, |state| {
                    state.failures += 1;
                    state.last_error = Some(message.clone());
                    state.last_refresh = Some(Refresh {
                        at: now(),
                        ok: false,
                        error: Some(message.clone()),
                    });
                    if needs_authorisation {
                        state.needs_authorisation = Some(message.clone());
                    }
                });
                self.record_error(account, &message);
                self.events.send(Event::Error {
                    account: account.to_owned(),
                    message,
                });
            }
        }
    }

    /// The pending authorisations: account, URL and, for the device flow, the code.
    fn pending(&self) -> BTreeMap<String, (String, Option<String>)> {
        let mut pending: BTreeMap<String, (String, Option<String>)> = self
            .pending
            .list()
            .into_iter()
            .map(|(account, url)| (account, (url, None)))
            .collect();
        for device in self.pending.devices() {
            pending.insert(
                device.account,
                (device.verification_uri, Some(device.user_code)),
            );
        }
        pending
    }

    /// The accounts that need an interactive authorisation now, with the URL where one is
    /// pending.
    pub(crate) fn needing_authorisation(&self) -> Vec<(String, Option<String>)> {
        let mut out: BTreeMap<String, Option<String>> = self
            .pending()
            .into_iter()
            .map(|(account, (url, _))| (account, Some(url)))
            .collect();
        for (account, state) in &lock(&self.inner).accounts {
            if state.needs_authorisation.is_some() {
                out.entry(account.clone()).or_insert(None);
            }
        }
        out.into_iter().collect()
    }

    /// The report of this moment.
    pub(crate) fn report(&self) -> StatusReport {
        let pending = self.pending();
        let inner = lock(&self.inner);
        let mut accounts: BTreeMap<String, AccountState> = inner.accounts.clone();
        for account in pending.keys() {
            accounts.entry(account.clone()).or_default();
        }
        let mut problems = Vec::new();
        let accounts: Vec<AccountReport> = accounts
            .into_iter()
            .map(|(account, mut details)| {
                if details.flow.is_empty()
                    && let Some(flow) = self.flow(&account)
                {
                    details.flow = flow;
                }
                let (url, device_code) = match pending.get(&account).cloned() {
                    Some((url, code)) => (Some(url), code),
                    None => (None, None),
                };
                let state = if url.is_some() || details.needs_authorisation.is_some() {
                    problems.push(match &url {
                        Some(_) => format!("account {account} waits for an authorisation"),
                        None => format!(
                            "account {account} needs authorising: {}",
                            details.needs_authorisation.as_deref().unwrap_or_default()
                        ),
                    });
                    "needs-authorisation"
                } else if details.last_refresh.as_ref().is_some_and(|r| {
                    // A failed refresh counts until a newer token was obtained.
                    !r.ok && details.token_obtained_at.is_none_or(|at| at < r.at)
                }) {
                    problems.push(format!(
                        "the refresh of account {account} is failing: {}",
                        details
                            .last_refresh
                            .as_ref()
                            .and_then(|r| r.error.as_deref())
                            .unwrap_or_default()
                    ));
                    "failing"
                } else {
                    "ok"
                };
                AccountReport {
                    account,
                    state,
                    authorisation_url: url,
                    device_code,
                    details,
                }
            })
            .collect();
        let listeners = lock(&self.proxy)
            .as_ref()
            .map(|stats| {
                stats
                    .snapshot()
                    .into_iter()
                    .map(|l| ListenerReport {
                        section: l.section,
                        protocol: l.protocol.to_string(),
                        address: l.address.to_string(),
                        server: l.server,
                        tls: l.local_tls.as_str(),
                        open_sessions: l.open_sessions,
                        sessions: l.sessions,
                        logins: l.logins_success,
                        failed_logins: l.logins_rejected
                            + l.logins_unavailable
                            + l.logins_upstream_refused,
                    })
                    .collect()
            })
            .unwrap_or_default();
        StatusReport {
            state: if problems.is_empty() {
                "ok"
            } else {
                "attention"
            },
            problems,
            version: env!("CARGO_PKG_VERSION"),
            started_at: self.started_at,
            listeners,
            accounts,
            recent_errors: inner.recent.iter().rev().cloned().collect(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The proxy's authenticator, with every login's outcome recorded on the board.
pub(crate) struct ObservedAuthenticator {
    inner: Arc<dyn Authenticator>,
    board: Board,
}

impl ObservedAuthenticator {
    pub(crate) fn new(inner: Arc<dyn Authenticator>, board: Board) -> Self {
        ObservedAuthenticator { inner, board }
    }
}

impl Authenticator for ObservedAuthenticator {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, Result<UpstreamCredentials, LoginRejected>> {
        Box::pin(async move {
            let result = self.inner.authenticate(username, password).await;
            match &result {
                Ok(credentials) => self.board.login_succeeded(username, credentials.expires_at),
                Err(rejected) => self.board.login_failed(
                    username,
                    &rejected.message,
                    rejected.temporary || rejected.message.contains(" token request "),
                ),
            }
            result
        })
    }

    fn token_rejected<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.inner.token_rejected(username, password).await;
            self.board.token_invalidated(username);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailgate_proxy::authorization::DeviceCode;

    #[test]
    fn pending_device_codes_and_refusals_show_in_the_report() {
        let pending = PendingAuthorizations::new();
        let board = Board::new(pending.clone(), EventSink::default());
        assert_eq!(board.report().state, "ok");
        pending.register_device(DeviceCode {
            account: "dev@example.com".to_owned(),
            verification_uri: "https://example.com/device".to_owned(),
            user_code: "ABCD-EFGH".to_owned(),
            expires: std::time::Instant::now() + std::time::Duration::from_secs(60),
        });
        let report = board.report();
        assert_eq!(report.state, "attention");
        let account = &report.accounts[0];
        assert_eq!(account.state, "needs-authorisation");
        assert_eq!(
            account.authorisation_url.as_deref(),
            Some("https://example.com/device")
        );
        assert_eq!(account.device_code.as_deref(), Some("ABCD-EFGH"));
        let page = super::super::page::render(&report, now());
        assert!(page.contains("ABCD-EFGH"), "{page}");
        board.login_succeeded("dev@example.com", Some(now() + 3600));
        assert_eq!(board.report().state, "ok");

        board.refreshed("dev@example.com", Err(("refused".to_owned(), true)));
        let report = board.report();
        assert_eq!(report.accounts[0].state, "needs-authorisation");
        assert_eq!(
            board.needing_authorisation(),
            [("dev@example.com".to_owned(), None)]
        );
        assert_eq!(report.recent_errors.len(), 1);
        board.login_succeeded("dev@example.com", Some(now() + 7200));
        assert_eq!(board.report().state, "ok");
        let counters = board.events().counters();
        assert_eq!(counters.new.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(
            counters
                .refreshed
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // Login names the configuration does not know (no configuration here) get no entry.
        for n in 0..2000 {
            board.login_failed(&format!("guess{n}@example.com"), "no such account", false);
        }
        assert_eq!(board.report().accounts.len(), 1);
        assert_eq!(board.report().recent_errors.len(), RECENT_ERRORS);
        for n in 0..2000 {
            board.login_succeeded(&format!("user{n}@example.com"), None);
        }
        assert_eq!(board.report().accounts.len(), MAX_ACCOUNTS);
    }
}
