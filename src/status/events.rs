//! Events of the token store that operators act on, and the commands that tell them:
//! `auth_notify_cmd` (an account needs an interactive authorisation; repeated every
//! `auth_notify_interval` until it is done), `error_notify_cmd` (a refresh or token request
//! failed) and `token_event_cmd` (a token was obtained, refreshed or invalidated).
//!
//! A command line is split into words like a shell would (single and double quotes, backslash
//! escapes) but run without a shell, with what it needs in `MAILGATE_*` environment variables
//! and nothing secret, with a time limit; its failures are logged, never fatal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use mailgate_token::config::IniDocument;

use super::board::Board;

/// How long a notification command may run before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Default `auth_notify_interval`: how often a pending authorisation is announced again.
pub(crate) const DEFAULT_AUTH_NOTIFY_INTERVAL: Duration = Duration::from_secs(900);

/// How often the notifier looks for accounts that need an authorisation.
const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// What happened to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenEventKind {
    /// A token where there was none known.
    New,
    /// A token replaced by a newer one.
    Refreshed,
    /// The server refused the token; it was dropped.
    Invalidated,
}

impl TokenEventKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenEventKind::New => "new",
            TokenEventKind::Refreshed => "refreshed",
            TokenEventKind::Invalidated => "invalidated",
        }
    }
}

/// An event for the notification commands and the metrics.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A token changed.
    Token {
        account: String,
        kind: TokenEventKind,
        expires_at: Option<u64>,
    },
    /// A refresh or token request failed.
    Error { account: String, message: String },
}

/// Counters of token events, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct TokenCounters {
    pub(crate) new: AtomicU64,
    pub(crate) refreshed: AtomicU64,
    pub(crate) invalidated: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) refresh_failures: AtomicU64,
}

/// Token requests seen, by grant and outcome.
pub(crate) type RequestCounts = std::collections::BTreeMap<(String, &'static str), u64>;

/// Where events go: counted at once, and handed to the notifier when one runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventSink {
    counters: Arc<TokenCounters>,
    requests: Arc<Mutex<RequestCounts>>,
    notifier: Arc<Mutex<Option<mpsc::UnboundedSender<Event>>>>,
}

impl EventSink {
    pub(crate) fn send(&self, event: Event) {
        let counter = match &event {
            Event::Token { kind, .. } => match kind {
                TokenEventKind::New => &self.counters.new,
                TokenEventKind::Refreshed => &self.counters.refreshed,
                TokenEventKind::Invalidated => &self.counters.invalidated,
            },
            Event::Error { .. } => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(sender) = self
            .notifier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            let _ = sender.send(event);
        }
    }

    /// A token request with `grant` (`refresh_token`, or the account's flow) ended with
    /// `outcome` (`success` or `failure`).
    pub(crate) fn token_request(&self, grant: &str, outcome: &'static str) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((grant.to_owned(), outcome))
            .or_default() += 1;
    }

    /// The token requests seen so far.
    pub(crate) fn requests(&self) -> RequestCounts {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A proactive refresh failed (counted apart from the event).
    pub(crate) fn refresh_failed(&self) {
        self.counters
            .refresh_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counters(&self) -> &TokenCounters {
        &self.counters
    }
}

/// The notification settings of `[emailproxy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NotifySettings {
    pub(crate) auth_notify_cmd: Option<Vec<String>>,
    pub(crate) auth_notify_interval: Duration,
    pub(crate) error_notify_cmd: Option<Vec<String>>,
    pub(crate) token_event_cmd: Option<Vec<String>>,
}

impl NotifySettings {
    /// Reads the keys of `[emailproxy]`; an unusable value is an error naming its key.
    pub(crate) fn from_document(document: &IniDocument) -> Result<Self, String> {
        let command = |key: &str| -> Result<Option<Vec<String>>, String> {
            match document.get("emailproxy", key).map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => split_command(text)
                    .map(Some)
                    .map_err(|error| format!("[emailproxy] {key}: {error}")),
            }
        };
        let interval = match document
            .get("emailproxy", "auth_notify_interval")
            .map(str::trim)
        {
            None | Some("") => DEFAULT_AUTH_NOTIFY_INTERVAL,
            Some(text) => match text.parse::<u64>() {
                Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
                _ => {
                    return Err(format!(
                        "[emailproxy] auth_notify_interval: `{text}` is not a number of seconds; \
                         write a whole number above 0"
                    ));
                }
            },
        };
        Ok(NotifySettings {
            auth_notify_cmd: command("auth_notify_cmd")?,
            auth_notify_interval: interval,
            error_notify_cmd: command("error_notify_cmd")?,
            token_event_cmd: command("token_event_cmd")?,
        })
    }

    fn any(&self) -> bool {
        self.auth_notify_cmd.is_some()
            || self.error_notify_cmd.is_some()
            || self.token_event_cmd.is_some()
    }
}

/// Splits a command line into words: blanks separate words, single quotes keep everything,
/// double quotes keep everything but `\"` and `\\`, a backslash outside quotes escapes the next
/// character. No variables, globs or other shell syntax.
pub(crate) fn split_command(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote is not closed".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("the line ends with a backslash".to_owned()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("no command".to_owned());
    }
    Ok(words)
}

/// Runs `command` with `environment` (and `PATH`, `HOME`, `LANG`, `LC_ALL`, `TZ`, `USER` and
/// `LOGNAME` of the proxy's own, nothing else) and waits at most [`COMMAND_TIMEOUT`].
async fn run(key: &'static str, command: &[String], environment: Vec<(&'static str, String)>) {
    let Some((program, args)) = command.split_first() else {
        return;
    };
    let mut child = tokio::process::Command::new(program);
    // A fresh environment: the proxy's may hold credentials (a proxy URL with a password).
    child.env_clear();
    for name in ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"] {
        if let Some(value) = std::env::var_os(name) {
            child.env(name, value);
        }
    }
    child
        .args(args)
        .envs(environment)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let output = match child.spawn() {
        Ok(child) => tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await,
        Err(error) => {
            tracing::warn!("Unable to run {key} `{program}`: {error}");
            return;
        }
    };
    match output {
        Ok(Ok(output)) if output.status.success() => {
            tracing::debug!("{key} `{program}` ran")
        }
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let shown: String = stderr.trim().chars().take(300).collect();
            tracing::warn!(
                "{key} `{program}` failed ({}){}{shown}",
                output.status,
                if shown.is_empty() { "" } else { ": " }
            );
        }
        Ok(Err(error)) => tracing::warn!("{key} `{program}` failed: {error}"),
        Err(_) => tracing::warn!(
            "{key} `{program}` did not finish within {} s and was stopped",
            COMMAND_TIMEOUT.as_secs()
        ),
    }
}

/// Starts the notifier: runs the commands of `settings` for the board's events and announces
/// pending authorisations every `auth_notify_interval` until they are done. Returns `None` when
/// no command is configured. A notifier started before for `board` no longer gets events.
pub(crate) fn start(
    board: &Board,
    settings: NotifySettings,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut notifier = board
        .events()
        .notifier
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // A notifier started before (a reload) stops when its channel closes.
    *notifier = None;
    if !settings.any() {
        return None;
    }
    let (sender, mut receiver) = mpsc::unbounded_channel();
    *notifier = Some(sender);
    drop(notifier);
    let board = board.clone();
    Some(tokio::spawn(async move {
        let settings = Arc::new(settings);
        // When each account was last announced, and with which URL.
        let mut announced: HashMap<String, (tokio::time::Instant, Option<String>)> = HashMap::new();
        let mut ticker = tokio::time::interval(WATCH_INTERVAL);
        loop {
            tokio::select! {
                event = receiver.recv() => {
                    let Some(event) = event else { return };
                    let settings = settings.clone();
                    tokio::spawn(async move { on_event(&settings, event).await });
                }
                _ = ticker.tick() => {
                    let Some(command) = settings.auth_notify_cmd.clone() else { continue };
                    let needing = board.needing_authorisation();
                    announced.retain(|account, _| needing.iter().any(|(a, _)| a == account));
                    for (account, url) in needing {
                        let due = match announced.get(&account) {
                            None => true,
                            Some((at, last_url)) => {
                                at.elapsed() >= settings.auth_notify_interval || *last_url != url
                            }
                        };
                        if !due {
                            continue;
                        }
                        announced.insert(account.clone(), (tokio::time::Instant::now(), url.clone()));
                        let command = command.clone();
                        tokio::spawn(async move {
                            let mut environment = vec![
                                ("MAILGATE_EVENT", "authorisation-needed".to_owned()),
                                ("MAILGATE_ACCOUNT", account),
                            ];
                            if let Some(url) = url {
                                environment.push(("MAILGATE_URL", url));
                            }
                            run("auth_notify_cmd", &command, environment).await;
                        });
                    }
                }
            }
        }
    }))
}

async fn on_event(settings: &NotifySettings, event: Event) {
    match event {
        Event::Token {
            account,
            kind,
            expires_at,
        } => {
            if let Some(command) = &settings.token_event_cmd {
                let mut environment = vec![
                    ("MAILGATE_EVENT", kind.as_str().to_owned()),
                    ("MAILGATE_ACCOUNT", account),
                ];
                if let Some(expires_at) = expires_at {
                    environment.push(("MAILGATE_EXPIRES_AT", expires_at.to_string()));
                }
                run("token_event_cmd", command, environment).await;
            }
        }
        Event::Error { account, message } => {
            if let Some(command) = &settings.error_notify_cmd {
                let environment = vec![
                    ("MAILGATE_EVENT", "error".to_owned()),
                    ("MAILGATE_ACCOUNT", account),
                    ("MAILGATE_ERROR", message),
                ];
                run("error_notify_cmd", command, environment).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn command_lines_split_like_a_shell_without_one() {
        assert_eq!(
            split_command(
                r#"/usr/bin/notify-send -u critical "mailgate: sign in" 'it''s $HOME' a\ b"#
            )
            .unwrap(),
            [
                "/usr/bin/notify-send",
                "-u",
                "critical",
                "mailgate: sign in",
                "its $HOME",
                "a b"
            ]
        );
        assert_eq!(
            split_command(r#""a \"q\" \\ \n""#).unwrap(),
            [r#"a "q" \ \n"#]
        );
        assert_eq!(split_command("''").unwrap(), [""]);
        assert!(split_command("  ").is_err());
        assert!(split_command("'open").is_err());
        assert!(split_command("\"open").is_err());
        assert!(split_command("end\\").is_err());
    }

    #[test]
    fn settings_are_read_and_checked() {
        let document = IniDocument::parse(
            "[emailproxy]\nauth_notify_cmd = /bin/echo \"sign in\"\nauth_notify_interval = 60\n",
        )
        .unwrap();
        let settings = NotifySettings::from_document(&document).unwrap();
        assert_eq!(
            settings.auth_notify_cmd,
            Some(vec!["/bin/echo".to_owned(), "sign in".to_owned()])
        );
        assert_eq!(settings.auth_notify_interval, Duration::from_secs(60));
        assert_eq!(settings.error_notify_cmd, None);
        let bad = IniDocument::parse("[emailproxy]\nauth_notify_interval = soon\n").unwrap();
        assert!(
            NotifySettings::from_document(&bad)
                .unwrap_err()
                .contains("auth_notify_interval")
        );
        let bad = IniDocument::parse("[emailproxy]\ntoken_event_cmd = 'x\n").unwrap();
        assert!(
            NotifySettings::from_document(&bad)
                .unwrap_err()
                .contains("token_event_cmd")
        );
    }
}
