//! The token store behind the proxy's logins: `mailgate-token`'s login manager over the
//! encrypted configuration file (or `--cache-store`), the interactive authoriser and the
//! control socket of `mailgate authorize`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailgate_proxy::TokenAuthenticator;
use mailgate_proxy::authorization::{
    DEFAULT_AUTHORIZATION_TIMEOUT, InteractiveAuthorizer, RedirectMode,
};
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::{LoginError, LoginManager, LoginSuccess};
use mailgate_token::store::{CacheStoreLocation, IniFileStorage, TokenStorage};
use mailgate_token::transport::{HttpClient, HttpClientConfig, ProxySettings};

use crate::cli::Cli;
use crate::status::board::{Board, ObservedAuthenticator};
use crate::status::events::{self, EventSink, NotifySettings};

/// The HTTP client of token requests: the proxies of the environment (an unusable proxy
/// variable stops start-up, naming it, rather than connecting directly) and
/// `token_request_timeout`.
fn token_http_client(config: &ProxyConfig) -> Result<HttpClient, String> {
    let proxy = ProxySettings::from_env()
        .map_err(|error| format!("Unable to start the token requests' HTTP client: {error}"))?;
    let mut http = HttpClientConfig::default();
    http.proxy = proxy;
    http.request_timeout = config.global().token_request_timeout();
    HttpClient::new(http)
        .map_err(|error| format!("Unable to start the token requests' HTTP client: {error}"))
}

/// How often due tokens are refreshed ahead of their expiry.
const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Everything the running proxy keeps for its logins.
pub(crate) struct TokenRuntime {
    pub(crate) authenticator: Arc<TokenAuthenticator>,
    /// The live state of accounts and listeners (status, metrics, notifications).
    pub(crate) board: Board,
    notifier: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    authorizer: InteractiveAuthorizer,
    #[cfg(unix)]
    _control: Option<crate::control::ControlSocket>,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for TokenRuntime {
    fn drop(&mut self) {
        self.refresher.abort();
        let notifier = self
            .notifier
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(notifier) = notifier {
            notifier.abort();
        }
    }
}

impl TokenRuntime {
    /// Builds the login manager for `config`.
    pub(crate) fn start(
        cli: &Cli,
        config_file: &Path,
        config: ProxyConfig,
        notify: NotifySettings,
    ) -> Result<Self, String> {
        let config = Arc::new(config);
        let storage: Arc<dyn TokenStorage> = match &cli.cache_store {
            Some(CacheStoreLocation::File(cache)) if cache == config_file => {
                Arc::new(IniFileStorage::config_file(config_file))
            }
            Some(location) => {
                let storage = location.open().map_err(|error| error.to_string())?;
                if location.is_shared() {
                    tracing::info!("Tokens are kept in {}", location.describe());
                }
                storage
            }
            None => Arc::new(IniFileStorage::config_file(config_file)),
        };
        let http = token_http_client(&config)?;
        let mode = if cli.local_server_auth {
            RedirectMode::LocalServer
        } else {
            RedirectMode::External
        };
        let authorizer = InteractiveAuthorizer::new(mode, DEFAULT_AUTHORIZATION_TIMEOUT);
        authorizer.set_config(config.clone());
        let manager = Arc::new(
            LoginManager::new(config.clone(), storage, http)
                .map_err(|error| format!("Unable to start the token store: {error}"))?
                .with_authorizer(Arc::new(authorizer.clone())),
        );
        let authenticator = Arc::new(TokenAuthenticator::new(manager.clone(), config.clone()));
        let board = Board::new(authorizer.pending(), EventSink::default());
        board.set_config(config);
        let notifier = events::start(&board, notify);
        #[cfg(unix)]
        let control = {
            let path = crate::control::socket_path(config_file);
            match crate::control::serve(&path, authorizer.pending(), board.clone()) {
                Ok(socket) => Some(socket),
                Err(error) => {
                    tracing::warn!(
                        "Unable to open the control socket {} for `mailgate authorize`: {error}",
                        path.display()
                    );
                    None
                }
            }
        };
        let refresher = tokio::spawn(refresh_due(manager, board.clone()));
        Ok(TokenRuntime {
            authenticator,
            board,
            notifier: std::sync::Mutex::new(notifier),
            authorizer,
            #[cfg(unix)]
            _control: control,
            refresher,
        })
    }

    /// Applies a reloaded configuration to new logins, and its notification commands from now
    /// on (pending authorisations are announced again with the new `auth_notify_cmd`).
    pub(crate) fn reload(&self, config: ProxyConfig, notify: NotifySettings) {
        let config = Arc::new(config);
        self.board.set_config(config.clone());
        self.authorizer.set_config(config.clone());
        self.authenticator.set_config(config);
        let mut notifier = self
            .notifier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = notifier.take() {
            old.abort();
        }
        *notifier = events::start(&self.board, notify);
    }

    /// The authenticator the proxy's sessions use: the token store's, with every login's
    /// outcome recorded on the board.
    pub(crate) fn session_authenticator(&self) -> Arc<dyn mailgate_proxy::Authenticator> {
        Arc::new(ObservedAuthenticator::new(
            self.authenticator.clone(),
            self.board.clone(),
        ))
    }

    /// At shutdown, once the sessions are gone: stops the proactive refreshes and tries one
    /// last time to write the tokens the disk refused (full, read-only); names the accounts
    /// whose new tokens are lost if it still refuses them. A provider that rotates refresh
    /// tokens may have invalidated the stored one, so those accounts may need authorising
    /// again.
    pub(crate) async fn save_unsaved(&self) {
        self.refresher.abort();
        let manager = self.authenticator.manager();
        if manager.retry_unsaved().await == 0 {
            return;
        }
        tracing::error!(
            "Unable to save the new tokens of account(s) {} before stopping (see the errors above); \
             they are lost, and the account(s) may need to be authorised again",
            manager.unsaved_accounts().await.join(", ")
        );
    }
}

/// Refreshes tokens shortly before they expire, for accounts whose key is cached, and retries
/// token writes the disk refused (full or read-only).
///
/// Each due account is refreshed in a task of its own, so a slow or unreachable token endpoint
/// of one account never delays another's refresh or the retry of unsaved tokens; an account
/// whose refresh is still running is not started twice. A refresh never starts an interactive
/// authorisation (see [`LoginManager::refresh`]); a failure is a warning that names the account
/// and what happens next.
async fn refresh_due(manager: Arc<LoginManager>, board: Board) {
    let mut ticker = tokio::time::interval(REFRESH_INTERVAL);
    // Dropped with this task (at shutdown), which aborts the refreshes still running.
    let mut refreshing = tokio::task::JoinSet::new();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    loop {
        ticker.tick().await;
        while refreshing.try_join_next().is_some() {}
        manager.retry_unsaved().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for account in manager.due(now) {
            if !lock(&running).insert(account.clone()) {
                continue;
            }
            let manager = Arc::clone(&manager);
            let running = Arc::clone(&running);
            let board = board.clone();
            refreshing.spawn(async move {
                let result = manager.refresh(&account).await;
                record_refresh(&board, &account, &result);
                log_refresh(&account, result);
                lock(&running).remove(&account);
            });
        }
    }
}

fn lock(running: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Puts a refresh's outcome on the board (status, metrics, notifications).
fn record_refresh(board: &Board, account: &str, result: &Result<LoginSuccess, LoginError>) {
    match result {
        Ok(success) => board.refreshed(account, Ok(success.expires_at)),
        Err(LoginError::NotLoggedIn { .. }) => {}
        Err(error) => {
            board.events().refresh_failed();
            let needs_authorisation =
                matches!(error, LoginError::AuthorizationNeededAtNextLogin { .. });
            board.refreshed(account, Err((error.to_string(), needs_authorisation)));
        }
    }
}

fn log_refresh(account: &str, result: Result<LoginSuccess, LoginError>) {
    match result {
        Ok(_) => {
            tracing::debug!("Refreshed the access token of account {account} ahead of its expiry")
        }
        Err(LoginError::NotLoggedIn { .. }) => {}
        Err(error @ LoginError::TokenRequest { .. }) => tracing::warn!(
            "Unable to refresh the access token of account {account} ahead of its expiry: {error}; \
             trying again in {} s (the current access token is used until then)",
            REFRESH_INTERVAL.as_secs()
        ),
        Err(error) => tracing::warn!(
            "Unable to refresh the access token of account {account} ahead of its expiry: {error}"
        ),
    }
}
