//! Token writes: lossless, atomic under SIGKILL, locked and merged between writers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mailgate_token::config::{CacheChanges, CacheKey, IniDocument, ProxyConfig};
use mailgate_token::store::{CacheSnapshot, IniFileStorage, StoreError, TokenStorage};

/// The store's methods run to completion on a runtime of their own: these tests drive the
/// store from plain threads and child processes.
trait Blocking {
    fn load_now(&self) -> Result<CacheSnapshot, StoreError>;
    fn apply_now(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError>;
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

impl Blocking for IniFileStorage {
    fn load_now(&self) -> Result<CacheSnapshot, StoreError> {
        run(self.load())
    }

    fn apply_now(&self, account: &str, changes: &CacheChanges) -> Result<(), StoreError> {
        run(self.apply(account, changes))
    }
}

const SAMPLE: &str = include_str!("data/reference-sample.config");
const ACCOUNT: &str = "your.office365.or.outlook.address@example.com";
const CHILD_ENV: &str = "MAILGATE_TOKEN_STORE_CHILD";
const WRITES: usize = 12;

fn copy_sample(dir: &Path) -> PathBuf {
    let path = dir.join("emailproxy.config");
    std::fs::write(&path, SAMPLE).unwrap();
    path
}

fn token_changes(value: &str) -> CacheChanges {
    let mut changes = CacheChanges::new();
    changes
        .set(CacheKey::TokenSalt, "AAECAwQFBgcICQoLDA0ODw==")
        .set(CacheKey::TokenIterations, "1200000")
        .set(CacheKey::AccessToken, value)
        .set(CacheKey::AccessTokenExpiry, "1700000000")
        .set(CacheKey::RefreshToken, format!("refresh-{value}"));
    changes
}

fn remove_tokens() -> CacheChanges {
    let mut changes = CacheChanges::new();
    for key in [
        CacheKey::TokenSalt,
        CacheKey::TokenIterations,
        CacheKey::AccessToken,
        CacheKey::AccessTokenExpiry,
        CacheKey::RefreshToken,
    ] {
        changes.remove(key);
    }
    changes
}

#[test]
fn token_write_keeps_every_line_of_the_reference_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_sample(dir.path());
    let storage = IniFileStorage::config_file(&path);
    storage
        .apply_now(ACCOUNT, &token_changes("gAAAA-token"))
        .unwrap();

    let written = std::fs::read_to_string(&path).unwrap();
    let original: Vec<&str> = SAMPLE.lines().collect();
    let mut new_lines = written.lines();
    let mut added = Vec::new();
    for line in &original {
        loop {
            let next = new_lines
                .next()
                .expect("every original line survives, in order");
            if next == *line {
                break;
            }
            added.push(next.to_owned());
        }
    }
    added.extend(new_lines.map(str::to_owned));
    assert_eq!(
        added.len(),
        5,
        "only the five token keys are added: {added:#?}"
    );
    assert!(added.iter().all(|l| l.contains(" = ")));
    let config = ProxyConfig::load(&path).unwrap();
    assert_eq!(
        config.account_cache(ACCOUNT).access_token.as_deref(),
        Some("gAAAA-token")
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Updating changes values in place; removing restores the original bytes exactly.
    storage
        .apply_now(ACCOUNT, &token_changes("second"))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().len(),
        written.len() - "gAAAA-token".len() * 2 + 12
    );
    storage.apply_now(ACCOUNT, &remove_tokens()).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), SAMPLE);
}

#[test]
fn edits_made_while_running_are_merged_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_sample(dir.path());
    let storage = IniFileStorage::config_file(&path);
    // The user edits the file after the proxy loaded it.
    let edited = SAMPLE.replace("server_port = 993\n", "server_port = 993\n# my note\n");
    std::fs::write(&path, &edited).unwrap();
    storage.apply_now(ACCOUNT, &token_changes("t")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# my note"));
    // A broken file is never overwritten.
    std::fs::write(&path, "[broken\n").unwrap();
    assert!(storage.apply_now(ACCOUNT, &token_changes("t2")).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[broken\n");
}

#[test]
fn separate_cache_store() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = copy_sample(dir.path());
    let cache_path = dir.path().join("tokens.cache");
    let storage = IniFileStorage::cache_store(&cache_path);
    assert!(
        storage.load_now().unwrap().accounts.is_empty(),
        "a missing cache store is empty"
    );

    let mut changes = token_changes("cached");
    changes
        .remove(CacheKey::ClientSecret)
        .set(CacheKey::ClientSecretEncrypted, "gAAAA-secret");
    storage.apply_now(ACCOUNT, &changes).unwrap();
    assert_eq!(
        std::fs::read_to_string(&config_path).unwrap(),
        SAMPLE,
        "the configuration is untouched"
    );
    let cache_text = std::fs::read_to_string(&cache_path).unwrap();
    let cache_document = IniDocument::parse(&cache_text).unwrap();
    assert_eq!(cache_document.sections().collect::<Vec<_>>(), vec![ACCOUNT]);
    assert!(!cache_text.contains("client_secret ="));

    let snapshot = storage.load_now().unwrap();
    let mut config = ProxyConfig::load(&config_path).unwrap();
    config.merge_cache_snapshot(&snapshot);
    let cache = config.account_cache(ACCOUNT);
    assert_eq!(cache.access_token.as_deref(), Some("cached"));
    assert_eq!(
        cache.client_secret_encrypted.as_deref(),
        Some("gAAAA-secret")
    );

    // Without catch-all accounts, cached sections unknown to the configuration are ignored.
    storage
        .apply_now("stranger@example.com", &token_changes("x"))
        .unwrap();
    let mut config = ProxyConfig::load(&config_path).unwrap();
    config.merge_cache_snapshot(&storage.load_now().unwrap());
    assert!(!config.accounts().any(|a| a == "stranger@example.com"));
    assert!(
        config
            .warnings()
            .iter()
            .any(|w| w.section == "stranger@example.com")
    );
}

#[test]
fn symlinked_config_keeps_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = copy_sample(dir.path());
    let link = dir.path().join("link.config");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&real, &link).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(&real, &link).unwrap();
    IniFileStorage::config_file(&link)
        .apply_now(ACCOUNT, &token_changes("via-link"))
        .unwrap();
    #[cfg(unix)]
    {
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(std::fs::read_to_string(&real).unwrap().contains("via-link"));
    }
}

/// A symbolic link planted where a lock file or the lock directory goes (by someone who can
/// write to the configuration's directory) is refused: nothing is created or locked at the
/// link's target, the error names the path, and the configuration is unchanged.
#[cfg(unix)]
#[test]
fn planted_symlinks_for_lock_files_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let path = copy_sample(dir.path());
    let elsewhere = tempfile::tempdir().unwrap();

    // The write lock `<file>.lock`, pointing at a file that does not exist yet.
    let victim = elsewhere.path().join("victim");
    symlink(&victim, dir.path().join("emailproxy.config.lock")).unwrap();
    let storage = IniFileStorage::config_file(&path);
    let error = storage
        .apply_now(ACCOUNT, &token_changes("never-written"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("emailproxy.config.lock"), "{error}");
    assert!(!victim.exists());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), SAMPLE);
    std::fs::remove_file(dir.path().join("emailproxy.config.lock")).unwrap();

    // The refresh-lock directory `<file>.locks`, pointing at another directory.
    symlink(elsewhere.path(), dir.path().join("emailproxy.config.locks")).unwrap();
    let error = run(storage.lock_account(ACCOUNT)).unwrap_err().to_string();
    assert!(error.contains("emailproxy.config.locks"), "{error}");
    assert!(error.contains("not a directory"), "{error}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    std::fs::remove_file(dir.path().join("emailproxy.config.locks")).unwrap();

    // Without the links, both work.
    storage
        .apply_now(ACCOUNT, &token_changes("written"))
        .unwrap();
    drop(run(storage.lock_account(ACCOUNT)).unwrap());
    assert!(std::fs::read_to_string(&path).unwrap().contains("written"));
}

/// Child process body for the tests below (run only when they spawn it).
#[test]
#[ignore = "spawned by crash_safety_under_sigkill and writers_never_lose_updates"]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, path) = spec.split_once(':').unwrap();
    let storage = IniFileStorage::config_file(path);
    match mode {
        "loop" => {
            for i in 0u64.. {
                storage
                    .apply_now(ACCOUNT, &token_changes(&format!("value-{i}")))
                    .unwrap();
            }
        }
        sections => {
            for i in 0..WRITES {
                let account = format!("{sections}-{i}@example.com");
                storage
                    .apply_now(&account, &token_changes(&format!("{sections}-{i}")))
                    .unwrap();
            }
        }
    }
}

fn spawn_child(spec: String) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writer",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD_ENV, spec)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The file as it must be with `value` written.
fn expected_with(value: &str) -> String {
    let mut document = IniDocument::parse(SAMPLE).unwrap();
    document.apply(ACCOUNT, &token_changes(value)).unwrap();
    document.to_string()
}

#[test]
fn crash_safety_under_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_sample(dir.path());
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut checked_new = 0;
    for _round in 0..30 {
        let before = std::fs::read_to_string(&path).unwrap();
        let mut child = spawn_child(format!("loop:{}", path.display()));
        // Wait until the child is writing (process start-up is slow on a busy machine),
        // then kill it at a random point of its write loop.
        let started = std::time::Instant::now();
        while std::fs::read_to_string(&path).unwrap() == before
            && started.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 40));
        child.kill().unwrap();
        child.wait().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.is_empty());
        let document = IniDocument::parse(&text).expect("never torn");
        match document.get(ACCOUNT, "access_token") {
            None => assert_eq!(text, SAMPLE),
            Some(value) => {
                assert_eq!(
                    text,
                    expected_with(value),
                    "exactly the content of one complete write"
                );
                checked_new += 1;
            }
        }
    }
    assert!(checked_new > 0, "the child wrote at least once");
    // The next write clears the temporary files the killed writers left behind.
    IniFileStorage::config_file(&path)
        .apply_now(ACCOUNT, &token_changes("final"))
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    #[cfg(target_os = "linux")]
    assert_eq!(names, vec!["emailproxy.config", "emailproxy.config.lock"]);
}

#[test]
fn writers_never_lose_updates() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_sample(dir.path());
    let children: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| spawn_child(format!("{n}:{}", path.display())))
        .collect();
    // And threads of this process at the same time.
    let threads: Vec<_> = ["t", "u"]
        .iter()
        .map(|n| {
            let storage = IniFileStorage::config_file(&path);
            let n = n.to_string();
            std::thread::spawn(move || {
                for i in 0..WRITES {
                    storage
                        .apply_now(
                            &format!("{n}-{i}@example.com"),
                            &token_changes(&format!("{n}-{i}")),
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let config = ProxyConfig::load(&path).unwrap();
    for n in ["a", "b", "c", "t", "u"] {
        for i in 0..WRITES {
            let account = format!("{n}-{i}@example.com");
            assert_eq!(
                config.account_cache(&account).access_token,
                Some(format!("{n}-{i}")),
                "{account}"
            );
        }
    }
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with(SAMPLE.trim_end())
    );
}

#[test]
fn catch_all_login_of_the_user_guide_config_adds_the_users_section() {
    const GUIDE: &str = include_str!("data/user-guide.config");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emailproxy.config");
    std::fs::write(&path, GUIDE).unwrap();
    let user = "notify@customer.example";
    IniFileStorage::config_file(&path)
        .apply_now(user, &token_changes("guide-token"))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(GUIDE), "the guide's lines are untouched");
    assert!(text[GUIDE.len()..].starts_with(&format!("\n[{user}]\n")));
    let config = ProxyConfig::load(&path).unwrap();
    assert_eq!(
        config.account_cache(user).access_token.as_deref(),
        Some("guide-token")
    );
    let account = config.resolve_account(user).unwrap();
    assert_eq!(account.section, user);
    assert_eq!(
        account.client_id, "CLIENT_ID",
        "the rest still comes from [@]"
    );
}

#[test]
fn loads_are_cached_until_the_file_changes_by_any_means() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_sample(dir.path());
    let storage = IniFileStorage::config_file(&path);
    let first = storage.load_now().unwrap();
    assert_eq!(storage.load_now().unwrap(), first);

    // A write through another storage on the same file (another process, in effect).
    IniFileStorage::config_file(&path)
        .apply_now(ACCOUNT, &token_changes("one"))
        .unwrap();
    let after_write = storage.load_now().unwrap();
    assert_eq!(after_write.accounts[ACCOUNT]["access_token"], "one");

    // An edit in place that keeps the length: the change time still differs.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("access_token = one", "access_token = two"),
    )
    .unwrap();
    assert_eq!(
        storage.load_now().unwrap().accounts[ACCOUNT]["access_token"],
        "two"
    );

    // The file replaced by another one (a new inode), as editors and the Python email-oauth2-proxy do.
    let replacement = dir.path().join("replacement");
    std::fs::write(&replacement, SAMPLE).unwrap();
    std::fs::rename(&replacement, &path).unwrap();
    assert_eq!(storage.load_now().unwrap(), first);
}
