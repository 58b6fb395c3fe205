//! A disk that refuses token writes (full, read-only, file being edited) loses no token: the new
//! tokens are kept in memory and used, an error names the account and the cause, and the write
//! is retried until it succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::config::{CacheChanges, ProxyConfig};
use mailgate_token::login::LoginManager;
use mailgate_token::store::{
    CacheSnapshot, IniFileStorage, MemoryStorage, StoreError, StoreFuture, TokenStorage,
};
use mailgate_token::transport::HttpClient;

mod support;

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
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        self.inner.load()
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Box::pin(std::future::ready(Err(StoreError::Io {
                path: "/mnt/full/emailproxy.config".into(),
                source: std::io::Error::from_raw_os_error(28), // ENOSPC
            })));
        }
        self.inner.apply(account, changes)
    }

    fn describe(&self) -> String {
        "/mnt/full/emailproxy.config".to_owned()
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
) -> LoginManager {
    let config = Arc::new(ProxyConfig::parse(&config_text(token_url)).unwrap());
    LoginManager::new(
        config,
        storage,
        HttpClient::new(Default::default()).unwrap(),
    )
    .unwrap()
    .with_clock(move || clock.load(Ordering::SeqCst) as u64)
}

/// The tokens `storage` holds, decrypted with the password.
async fn saved_tokens(storage: Arc<dyn TokenStorage>) -> (String, String) {
    let tokens = support::peek(storage.as_ref(), USER, PASSWORD)
        .await
        .unwrap_or_default();
    (
        tokens.access_token().unwrap_or_default().to_owned(),
        tokens.refresh.unwrap_or_default(),
    )
}

#[tokio::test]
async fn failed_write_keeps_the_token_in_memory_until_a_retry_saves_it() {
    let server = MockOAuthServer::start().await.unwrap();
    let disk = FullDisk::failing(2);
    let clock = Arc::new(AtomicUsize::new(NOW as usize));
    let manager = login_setup(&server.token_url(), disk.clone(), Arc::clone(&clock));
    let password = SecretString::from(PASSWORD);

    // The write fails: the login still succeeds with the new token, which stays in memory.
    let login = manager.login(USER, &password).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-1");
    assert_eq!(disk.attempts(), 1);
    assert_eq!(manager.unsaved_accounts().await, vec![USER.to_owned()]);
    assert!(
        disk.inner.load().await.unwrap().accounts.is_empty(),
        "nothing reached the disk"
    );

    // A login within the minute reuses the result without touching the store.
    manager.login(USER, &password).await.unwrap();
    assert_eq!(disk.attempts(), 1);

    // The next login that reads the store (a minute on) retries the write (it fails again)
    // and reuses the token from memory.
    clock.fetch_add(60, Ordering::SeqCst);
    let again = manager.login(USER, &password).await.unwrap();
    assert_eq!(again.access_token.expose(), "mock-access-1");
    assert_eq!(server.token_requests(), 1, "no new token was needed");
    assert_eq!(disk.attempts(), 2);
    assert_eq!(manager.unsaved_accounts().await, vec![USER.to_owned()]);

    // The timer's retry succeeds: the disk holds the token, nothing is left unsaved.
    assert_eq!(manager.retry_unsaved().await, 0);
    assert_eq!(disk.attempts(), 3);
    assert!(manager.unsaved_accounts().await.is_empty());
    assert_eq!(manager.retry_unsaved().await, 0);
    assert_eq!(disk.attempts(), 3, "nothing left to write");
    assert_eq!(
        saved_tokens(disk).await,
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
    let manager = login_setup(&server.token_url(), disk.clone(), Arc::clone(&clock));
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
    assert!(manager.unsaved_accounts().await.is_empty());
    assert_eq!(
        saved_tokens(disk).await.1,
        server.current_refresh_token().unwrap()
    );
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
        let manager = LoginManager::new(
            config,
            Arc::new(IniFileStorage::config_file(&path)),
            HttpClient::new(Default::default()).unwrap(),
        )
        .unwrap();
        println!("@@ ready");
        for line in std::io::stdin().lines() {
            match line.unwrap().as_str() {
                "login" => match manager.login(USER, &SecretString::from(PASSWORD)).await {
                    Ok(login) => println!(
                        "@@ login {} {}",
                        login.access_token.expose(),
                        manager.unsaved_accounts().await.len()
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
        saved_tokens(storage).await,
        ("mock-access-1".to_owned(), "mock-refresh-1".to_owned())
    );
}
