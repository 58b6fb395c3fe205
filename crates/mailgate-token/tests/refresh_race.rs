//! Two mailgate processes on one configuration file never lose a refresh token to a provider
//! that rotates them: every refresh returns a new refresh token and invalidates the old one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::config::CacheChanges;
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::LoginManager;
use mailgate_token::store::{
    AccountLock, CacheSnapshot, IniFileStorage, MemoryStorage, StoreFuture, TokenStorage,
};
use mailgate_token::transport::HttpClient;

mod support;
use support::Plain;

const USER: &str = "notify@example.com";
const PASSWORD: &str = "local password";
const CHILD_ENV: &str = "MAILGATE_REFRESH_RACE_CHILD";
/// Logins per process after the first; each one refreshes. `MAILGATE_REFRESH_RACE_ROUNDS`
/// sets another number for a longer run.
const ROUNDS: usize = 250;
const PROCESSES: usize = 2;

fn rounds() -> usize {
    std::env::var("MAILGATE_REFRESH_RACE_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUNDS)
}

fn manager(path: &Path) -> LoginManager {
    let config = Arc::new(ProxyConfig::load(path).unwrap());
    LoginManager::new(
        config,
        Arc::new(IniFileStorage::config_file(path)),
        HttpClient::new(Default::default()).unwrap(),
    )
    .unwrap()
}

/// Child process body for the test below (run only when it spawns it): one login, then
/// [`rounds`] more once told to go, reporting every failure.
#[test]
#[ignore = "spawned by two_processes_never_lose_a_rotated_refresh_token"]
fn refreshing_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let manager = manager(Path::new(&path));
        let password = SecretString::from(PASSWORD);
        // The first login derives the key, so that the rounds race at full speed.
        let first = manager.login(USER, &password).await;
        println!("@@ ready {}", first.is_ok());
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        let mut failures = 0;
        let mut issued = Vec::new();
        for _ in 0..rounds() {
            match manager.login(USER, &password).await {
                Ok(login) => issued.push(
                    login
                        .access_token
                        .expose()
                        .trim_start_matches("mock-access-")
                        .parse::<usize>()
                        .unwrap(),
                ),
                Err(error) => {
                    failures += 1;
                    println!("@@ failed {error}");
                }
            }
        }
        let first = issued.iter().min().copied().unwrap_or(0);
        let last = issued.iter().max().copied().unwrap_or(0);
        println!("@@ done {failures} {first} {last}");
    });
}

struct ChildProcess {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl ChildProcess {
    fn spawn(path: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "refreshing_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, path)
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

    /// The child's next message (the timeout only catches a hung child).
    fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(600))
            .expect("the child answers")
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_lose_a_rotated_refresh_token() {
    let server = MockOAuthServer::start().await.unwrap();
    server.enable_refresh_token_rotation();
    // Access tokens that are never fresh enough to reuse: every login refreshes.
    server.set_default_token_reply(MockReply::Token {
        access_token: Some("mock-access-{n}".into()),
        expires_in: Some(1),
        refresh_token: Some("mock-refresh-{n}".into()),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emailproxy.config");
    let original = format!(
        "; shared by {PROCESSES} processes\n[{USER}]\noauth2_flow = client_credentials\n\
         token_url = {}\nclient_id = app\nclient_secret = app-secret\n\
         oauth2_scope = https://mail.example.com/.default\n",
        server.token_url()
    );
    std::fs::write(&path, &original).unwrap();
    // The first tokens, from the client credentials grant.
    let seed = manager(&path);
    seed.login(USER, &SecretString::from(PASSWORD))
        .await
        .unwrap();
    assert_eq!(server.token_requests(), 1);

    let child_path = path.clone();
    let reports = tokio::task::spawn_blocking(move || {
        let mut children: Vec<ChildProcess> = (0..PROCESSES)
            .map(|_| ChildProcess::spawn(&child_path))
            .collect();
        let ready: Vec<String> = children.iter().map(ChildProcess::next).collect();
        for child in &mut children {
            let stdin = child.child.stdin.as_mut().unwrap();
            writeln!(stdin, "go").unwrap();
            stdin.flush().unwrap();
        }
        let mut reports = Vec::new();
        for child in &mut children {
            loop {
                let message = child.next();
                let done = message.starts_with("done");
                reports.push(message);
                if done {
                    break;
                }
            }
            assert!(child.child.wait().unwrap().success());
        }
        (ready, reports)
    });
    let (ready, reports) = reports.await.unwrap();
    assert_eq!(ready, vec!["ready true"; PROCESSES]);
    let failures: Vec<&str> = reports.iter().filter_map(|r| r.split(' ').nth(1)).collect();
    assert_eq!(
        failures,
        vec!["0"; PROCESSES],
        "every login succeeded: {reports:?}"
    );
    // The processes really raced: the token numbers each one got overlap.
    let ranges: Vec<(usize, usize)> = reports
        .iter()
        .map(|r| {
            let fields: Vec<usize> = r.split(' ').skip(2).map(|n| n.parse().unwrap()).collect();
            (fields[0], fields[1])
        })
        .collect();
    assert!(
        ranges[0].0 < ranges[1].1 && ranges[1].0 < ranges[0].1,
        "the processes refreshed at the same time: {ranges:?}"
    );
    assert_eq!(
        server.rejected_refresh_tokens(),
        0,
        "no process presented a replaced refresh token"
    );
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1 + PROCESSES * (rounds() + 1),
        "one refresh per login"
    );
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.param("grant_type") == Some("refresh_token")),
        "no login fell back to a new grant"
    );

    // The file holds the last refresh token issued, and every line it had.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&original), "{text}");
    let tokens = support::peek(&IniFileStorage::config_file(&path), USER, PASSWORD)
        .await
        .unwrap();
    assert_eq!(tokens.refresh, server.current_refresh_token());
    println!(
        "{} refreshes by {PROCESSES} processes on one file, none refused (token numbers per process: {ranges:?})",
        requests.len() - 1
    );
}

#[tokio::test]
async fn refresh_locks_are_per_account_private_and_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emailproxy.config");
    std::fs::write(&path, "[a@example.com]\n").unwrap();
    let first = IniFileStorage::config_file(&path);
    let second = IniFileStorage::config_file(&path);
    let held = first.lock_account("a@example.com").await.unwrap();
    // Another account's lock is another file: taken at once, whatever its name holds.
    let other = second.lock_account("../../b/@example.com").await.unwrap();
    let locks = dir.path().join("emailproxy.config.locks");
    let mut names: Vec<String> = std::fs::read_dir(&locks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        let hash = name.strip_suffix(".lock").unwrap();
        assert!(hash.len() == 24 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 2, "nothing escaped the lock directory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&locks), 0o700);
        for name in &names {
            assert_eq!(mode(&locks.join(name)), 0o600);
        }
    }
    // The held account's file is locked for every other open file (another process's
    // included) until the lock is dropped.
    let try_each = || {
        names
            .iter()
            .filter(|name| {
                let file = std::fs::File::open(locks.join(name)).unwrap();
                fs4::FileExt::try_lock(&file).is_err()
            })
            .count()
    };
    assert_eq!(try_each(), 2, "both locks are held");
    drop(other);
    assert_eq!(try_each(), 1, "only a@example.com's lock is held");
    drop(held);
    assert_eq!(try_each(), 0);
    let again = second.lock_account("a@example.com").await.unwrap();
    assert_eq!(try_each(), 1);
    drop(again);
}

/// A store on which "another process" refreshes the account while this one waits for the
/// refresh lock: taking the lock installs that process's tokens.
#[derive(Debug)]
struct RefreshedMeanwhile {
    inner: MemoryStorage,
    other: std::sync::Mutex<Option<CacheChanges>>,
}

impl TokenStorage for RefreshedMeanwhile {
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        self.inner.load()
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        self.inner.apply(account, changes)
    }

    fn lock_account<'a>(&'a self, account: &'a str) -> StoreFuture<'a, AccountLock> {
        Box::pin(async move {
            let other = self.other.lock().unwrap().take();
            if let Some(changes) = other {
                self.inner.apply(account, &changes).await?;
            }
            Ok(AccountLock::unshared())
        })
    }

    fn describe(&self) -> String {
        "refreshed meanwhile".to_owned()
    }
}

fn tokens(access: &str, expiry: u64, refresh: &str) -> Plain {
    Plain::new(Some((access, expiry)), Some(refresh))
}

#[tokio::test]
async fn a_refresh_reads_the_stored_tokens_again_under_the_lock() {
    const NOW: u64 = 1_800_000_000;
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(NOW));
    let server = MockOAuthServer::start().await.unwrap();
    server.enable_refresh_token_rotation();
    let config = Arc::new(
        ProxyConfig::parse(&format!(
            "[{USER}]\noauth2_flow = client_credentials\ntoken_url = {}\nclient_id = app\n\
             client_secret = s\noauth2_scope = x\n",
            server.token_url()
        ))
        .unwrap(),
    );
    let store = Arc::new(RefreshedMeanwhile {
        inner: MemoryStorage::new(),
        other: std::sync::Mutex::new(None),
    });
    let manager = LoginManager::new(
        Arc::clone(&config),
        Arc::clone(&store) as Arc<dyn TokenStorage>,
        HttpClient::new(Default::default()).unwrap(),
    )
    .unwrap()
    .with_clock({
        let clock = Arc::clone(&clock);
        move || clock.load(std::sync::atomic::Ordering::Relaxed)
    });
    let password = SecretString::from(PASSWORD);

    // The other process's access token is fresh: it is used, with no token request.
    support::seed(
        &store.inner,
        USER,
        PASSWORD,
        &tokens("AT-old", NOW, "RT-old"),
    )
    .await;
    *store.other.lock().unwrap() = Some(support::encrypted(
        USER,
        PASSWORD,
        &tokens("AT-other", NOW + 3600, "RT-other"),
    ));
    let login = manager.login(USER, &password).await.unwrap();
    assert_eq!(login.access_token.expose(), "AT-other");
    assert_eq!(server.token_requests(), 0);

    // A minute later (the manager reads the store again), its access token is about to
    // expire too: its refresh token is the one refreshed.
    clock.store(NOW + 61, std::sync::atomic::Ordering::Relaxed);
    support::seed(
        &store.inner,
        USER,
        PASSWORD,
        &tokens("AT-old", NOW, "RT-old"),
    )
    .await;
    // The other process refreshed at the provider, which now accepts only its refresh token.
    let endpoint = mailgate_token::oauth::TokenEndpoint::new(
        &server.token_url(),
        "app",
        mailgate_token::oauth::ClientAuth::None,
    )
    .unwrap();
    let issued = endpoint
        .exchange(
            &HttpClient::new(Default::default()).unwrap(),
            &mailgate_token::oauth::Grant::ClientCredentials {
                scope: Some("x"),
                redirect_uri: None,
            },
        )
        .await
        .unwrap();
    let other_refresh = issued.refresh_token.unwrap().expose().clone();
    assert_eq!(
        server.current_refresh_token().as_deref(),
        Some(other_refresh.as_str())
    );
    *store.other.lock().unwrap() = Some(support::encrypted(
        USER,
        PASSWORD,
        &tokens("AT-other", NOW + 10, &other_refresh),
    ));
    let login = manager.login(USER, &password).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-2");
    let requests = server.requests();
    assert_eq!(
        requests.last().unwrap().param("refresh_token"),
        Some(other_refresh.as_str())
    );
    assert_eq!(server.rejected_refresh_tokens(), 0);
}
