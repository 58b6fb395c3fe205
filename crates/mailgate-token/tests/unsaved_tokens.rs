//! A disk that refuses token writes (full, read-only, file being edited) loses no token: the new
//! tokens are kept in memory and used, an error names the account and the cause, and the write
//! is retried until it succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::config::{CacheChanges, CacheKey, ProxyConfig};
use mailgate_token::login::{EncryptedLoginStore, LoginManager, LoginStore as _};
use mailgate_token::store::{
    CacheSnapshot, IniFileStorage, MemoryStorage, RetryingStorage, StoreError, TokenStorage,
    TokenVault,
};
use mailgate_token::transport::HttpClient;

const USER: &str = "notify@example.com";
const PASSWORD: &str = "local password";
const NOW: u64 = 1_800_000_000;
const CHILD_ENV: &str = "MAILGATE_UNSAVED_TOKENS_CHILD";

/// A store whose writes fail with "no space left on device" a number of times, then succeed.
#[derive(Debug)]
struct FullDisk {
    inner: MemoryStorage,
    failures_left: AtomicUsize,
    attempts: AtomicUsize,
}

impl FullDisk {
    fn failing(times: usize) -> Arc<Self> {
        Arc::new(FullDisk {
            inner: MemoryStorage::new(),
            failures_left: AtomicUsize::new(times),
            attempts: AtomicUsize::new(0),
        })
    }

    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

impl TokenStorage for FullDisk {
    fn load(&self) -> Result<CacheSnapshot, StoreError> {
        self.inner.load()
    }

    fn apply(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(StoreError::Io {
                path: "/mnt/full/emailproxy.config".into(),
                source: std::io::Error::from_raw_os_error(28), // ENOSPC
            });
        }
        self.inner.apply(account, changes)
    }
}

fn config_text(token_url: &str) -> String {
    format!(
        "[{USER}]\noauth2_flow = client_credentials\ntoken_url = {token_url}\nclient_id = app\n\
         client_secret = app-secret\noauth2_scope = https://mail.example.com/.default\n"
    )
}

fn login_setup(
    token_url: &str,
    storage: Arc<dyn TokenStorage>,
    clock: Arc<AtomicUsize>,
) -> (LoginManager, Arc<EncryptedLoginStore>) {
    let config = Arc::new(ProxyConfig::parse(&config_text(token_url)).unwrap());
    let vault = TokenVault::new(*config.global()).unwrap();
    let store = Arc::new(EncryptedLoginStore::new(
        Arc::clone(&config),
        vault,
        storage,
    ));
    let manager = LoginManager::new(
        config,
        Arc::clone(&store) as Arc<dyn mailgate_token::login::LoginStore>,
        HttpClient::new(Default::default()).unwrap(),
    )
    .with_clock(move || clock.load(Ordering::SeqCst) as u64);
    (manager, store)
}

/// The tokens a fresh store decrypts from `storage` with the password.
fn saved_tokens(token_url: &str, storage: Arc<dyn TokenStorage>) -> (String, String) {
    let config = Arc::new(ProxyConfig::parse(&config_text(token_url)).unwrap());
    let vault = TokenVault::new(*config.global()).unwrap();
    let store = EncryptedLoginStore::new(Arc::clone(&config), vault, storage);
    let account = config.resolve_account(USER).unwrap();
    let tokens = store
        .load(&account, &SecretString::from(PASSWORD), NOW)
        .unwrap();
    (
        tokens
            .access_token
            .map(|t| t.expose().clone())
            .unwrap_or_default(),
        tokens
            .refresh_token
            .map(|t| t.expose().clone())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn failed_write_keeps_the_token_in_memory_until_a_retry_saves_it() {
    let server = MockOAuthServer::start().await.unwrap();
    let disk = FullDisk::failing(2);
    let clock = Arc::new(AtomicUsize::new(NOW as usize));
    let (manager, store) = login_setup(&server.token_url(), disk.clone(), Arc::clone(&clock));
    let password = SecretString::from(PASSWORD);

    // The write fails: the login still succeeds with the new token, which stays in memory.
    let login = manager.login(USER, &password).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-1");
    assert_eq!(disk.attempts(), 1);
    assert_eq!(store.unsaved_accounts(), vec![USER.to_owned()]);
    assert!(
        disk.inner.load().unwrap().accounts.is_empty(),
        "nothing reached the disk"
    );

    // The next login retries the write (it fails again) and reuses the token from memory.
    let again = manager.login(USER, &password).await.unwrap();
    assert_eq!(again.access_token.expose(), "mock-access-1");
    assert_eq!(server.token_requests(), 1, "no new token was needed");
    assert_eq!(disk.attempts(), 2);
    assert_eq!(store.unsaved_accounts(), vec![USER.to_owned()]);

    // The timer's retry succeeds: the disk holds the token, nothing is left unsaved.
    assert_eq!(manager.retry_unsaved().await, 0);
    assert_eq!(disk.attempts(), 3);
    assert!(store.unsaved_accounts().is_empty());
    assert_eq!(manager.retry_unsaved().await, 0);
    assert_eq!(disk.attempts(), 3, "nothing left to write");
    assert_eq!(
        saved_tokens(&server.token_url(), disk),
        ("mock-access-1".to_owned(), "mock-refresh-1".to_owned())
    );
}

#[tokio::test]
async fn rotated_refresh_tokens_are_used_from_memory_while_the_disk_is_full() {
    let server = MockOAuthServer::start().await.unwrap();
    server.enable_refresh_token_rotation();
    server.set_default_token_reply(MockReply::Token {
        access_token: Some("mock-access-{n}".into()),
        expires_in: Some(1),
        refresh_token: Some("mock-refresh-{n}".into()),
    });
    // Each login tries the write up to four times (three reads and the save): the disk
    // accepts one only in the fourth login.
    let disk = FullDisk::failing(10);
    let clock = Arc::new(AtomicUsize::new(NOW as usize));
    let (manager, store) = login_setup(&server.token_url(), disk.clone(), Arc::clone(&clock));
    let password = SecretString::from(PASSWORD);
    for round in 1..=6 {
        clock.fetch_add(5, Ordering::SeqCst);
        let login = manager.login(USER, &password).await.unwrap();
        assert_eq!(*login.access_token.expose(), format!("mock-access-{round}"));
    }
    // Every login after the first refreshed with the latest refresh token, unsaved or not.
    let grants: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.param("grant_type").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(grants[0], "client_credentials");
    assert!(
        grants[1..].iter().all(|g| g == "refresh_token"),
        "{grants:?}"
    );
    assert_eq!(grants.len(), 6);
    assert_eq!(server.rejected_refresh_tokens(), 0);
    assert!(disk.attempts() > 10, "the disk accepted a write in the end");
    assert!(store.unsaved_accounts().is_empty());
    assert_eq!(
        saved_tokens(&server.token_url(), disk).1,
        server.current_refresh_token().unwrap()
    );
}

/// A `tracing` subscriber that keeps every event's level and fields as text.
#[derive(Default)]
struct Capture {
    events: Mutex<Vec<String>>,
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = event.metadata().level().to_string();
        event.record(&mut Fields(&mut text));
        self.events.lock().unwrap().push(text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn the_error_names_the_account_and_the_cause_and_no_secret() {
    let disk = FullDisk::failing(1);
    let storage = RetryingStorage::new(disk.clone());
    let mut changes = CacheChanges::new();
    changes
        .set(CacheKey::AccessToken, "gAAAA-encrypted-access")
        .set(CacheKey::RefreshToken, "gAAAA-encrypted-refresh");
    let capture = Arc::new(Capture::default());
    tracing::subscriber::with_default(Arc::clone(&capture), || {
        storage.apply(USER, &changes).unwrap();
        let snapshot = storage.load().unwrap();
        assert_eq!(
            snapshot.accounts[USER]["access_token"], "gAAAA-encrypted-access",
            "the retry in load saved it"
        );
    });
    assert!(storage.unsaved_accounts().is_empty());
    assert_eq!(disk.inner.load().unwrap().accounts[USER].len(), 2);
    let events = capture.events.lock().unwrap();
    let error = events
        .iter()
        .find(|e| e.starts_with("ERROR"))
        .expect("an error is logged");
    assert!(error.contains(USER), "{error}");
    assert!(error.contains("No space left on device"), "{error}");
    assert!(error.contains("/mnt/full/emailproxy.config"), "{error}");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("INFO") && e.contains(USER)),
        "the later save is logged: {events:?}"
    );
    assert!(
        events.iter().all(|e| !e.contains("gAAAA")),
        "no token value in any log line: {events:?}"
    );
}

#[test]
fn later_writes_merge_into_the_unsaved_one_and_bugs_are_not_retried() {
    let disk = FullDisk::failing(2);
    let storage = RetryingStorage::new(disk.clone());
    let mut first = CacheChanges::new();
    first
        .set(CacheKey::AccessToken, "a1")
        .set(CacheKey::RefreshToken, "r1");
    storage.apply(USER, &first).unwrap();
    let mut second = CacheChanges::new();
    second.set(CacheKey::AccessToken, "a2");
    storage.apply(USER, &second).unwrap();
    let values = &storage.load().unwrap().accounts[USER];
    assert_eq!(
        (
            values["access_token"].as_str(),
            values["refresh_token"].as_str()
        ),
        ("a2", "r1")
    );
    assert!(storage.unsaved_accounts().is_empty());
    assert_eq!(disk.attempts(), 3);
    assert_eq!(&disk.inner.load().unwrap().accounts[USER], values);

    // A write that can never succeed is an error, not kept for retrying.
    assert!(matches!(
        storage.apply("not-an-account", &second),
        Err(StoreError::NotAnAccount { .. })
    ));
    assert!(storage.unsaved_accounts().is_empty());
}

// A real file on a "full disk": the child's file size limit (RLIMIT_FSIZE, set by `prlimit`,
// with SIGXFSZ ignored) makes every write of the new file fail with EFBIG, even as root.

/// Child process body for the test below (run only when it spawns it): logs in on command.
#[test]
#[ignore = "spawned by full_disk_on_a_real_file_keeps_the_old_file_and_saves_later"]
fn full_disk_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = Arc::new(ProxyConfig::load(Path::new(&path)).unwrap());
        let vault = TokenVault::new(*config.global()).unwrap();
        let store = Arc::new(EncryptedLoginStore::new(
            Arc::clone(&config),
            vault,
            Arc::new(IniFileStorage::config_file(&path)),
        ));
        let manager = LoginManager::new(
            config,
            Arc::clone(&store) as Arc<dyn mailgate_token::login::LoginStore>,
            HttpClient::new(Default::default()).unwrap(),
        );
        println!("@@ ready");
        for line in std::io::stdin().lines() {
            match line.unwrap().as_str() {
                "login" => match manager.login(USER, &SecretString::from(PASSWORD)).await {
                    Ok(login) => println!(
                        "@@ login {} {}",
                        login.access_token.expose(),
                        store.unsaved_accounts().len()
                    ),
                    Err(error) => println!("@@ error {error}"),
                },
                "retry" => println!("@@ retry {}", manager.retry_unsaved().await),
                _ => break,
            }
        }
    });
}

struct ChildProcess {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl ChildProcess {
    fn spawn(test: &str, env: &str, value: &str) -> Self {
        // The shell ignores SIGXFSZ and executes the test binary, which inherits that.
        let mut child = Command::new("sh")
            .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                test,
                "--nocapture",
                "--test-threads=1",
            ])
            .env(env, value)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness may print the test's name on the same line.
                if let Some((_, message)) = line.split_once("@@ ")
                    && sender.send(message.to_owned()).is_err()
                {
                    break;
                }
            }
        });
        ChildProcess { child, lines }
    }

    fn send(&mut self, command: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    /// The child's next message (the timeout only catches a hung child).
    fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(300))
            .expect("the child answers")
    }

    fn file_size_limit(&self, limit: &str) {
        let status = Command::new("prlimit")
            .arg(format!("--pid={}", self.child.id()))
            .arg(format!("--fsize={limit}"))
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(status.success());
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_on_a_real_file_keeps_the_old_file_and_saves_later() {
    let server = MockOAuthServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emailproxy.config");
    // Comments make the file larger than the limit: no complete new file fits.
    let padding: String = (0..80)
        .map(|i| format!("; comment line {i:02} that must survive every write of this file\n"))
        .collect();
    let original = format!("{padding}\n{}", config_text(&server.token_url()));
    assert!(original.len() > 4096);
    std::fs::write(&path, &original).unwrap();

    let path_text = path.display().to_string();
    let exchange = tokio::task::spawn_blocking(move || {
        let mut child = ChildProcess::spawn("full_disk_child", CHILD_ENV, &path_text);
        assert_eq!(child.next(), "ready");
        child.file_size_limit("4096:unlimited");
        let mut messages = Vec::new();
        let mut files = Vec::new();
        for command in ["login", "login"] {
            child.send(command);
            messages.push(child.next());
            files.push(std::fs::read_to_string(&path_text).unwrap());
        }
        child.file_size_limit("unlimited:unlimited");
        child.send("retry");
        messages.push(child.next());
        files.push(std::fs::read_to_string(&path_text).unwrap());
        child.send("quit");
        assert!(child.child.wait().unwrap().success());
        (messages, files)
    });
    let (messages, files) = exchange.await.unwrap();
    assert_eq!(
        messages,
        ["login mock-access-1 1", "login mock-access-1 1", "retry 0"],
        "logins succeed from memory while the writes fail, then the retry saves"
    );
    assert_eq!(files[0], original, "the failed write left the old file");
    assert_eq!(files[1], original, "the failed retry left the old file");
    assert!(
        files[2].starts_with(&original),
        "every line kept: {}",
        files[2]
    );
    assert_eq!(server.token_requests(), 1);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "no temporary file left: {names:?}");
    let storage: Arc<dyn TokenStorage> = Arc::new(IniFileStorage::config_file(&path));
    assert_eq!(
        saved_tokens(&server.token_url(), storage),
        ("mock-access-1".to_owned(), "mock-refresh-1".to_owned())
    );
}
