//! `RedisStorage` against a real `redis-server` (the Debian package), started by each test on
//! a free loopback port in a temporary directory without persistence. Skipped, saying so,
//! when `redis-server` is not installed.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mailgate_token::config::{CacheChanges, CacheKey};
use mailgate_token::store::{RedisStorage, StoreError, TokenStorage};

mod support;

/// A `redis-server` of one test; killed when dropped.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server, or `None` (with a message) when `redis-server` is not installed.
    fn start() -> Option<Server> {
        if !support::test_server_installed("redis-server", "Debian package redis-server") {
            return None;
        }
        let port = support::free_port();
        let mut server = Server {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Bounded wait until it answers.
        for _ in 0..500 {
            if self.cli(&["PING"]).trim() == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Stops the server (its data is lost: no persistence) and starts a new one on the port.
    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A raw command through a plain TCP connection (RESP inline commands).
    fn cli(&self, args: &[&str]) -> String {
        use std::io::{Read as _, Write as _};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut reply = [0u8; 4096];
        let n = stream.read(&mut reply).unwrap_or(0);
        let text = String::from_utf8_lossy(&reply[..n]).into_owned();
        // "+PONG\r\n", "$5\r\nvalue\r\n", "$-1\r\n", ":1\r\n"
        match text.split_once("\r\n") {
            Some((head, rest)) if head.starts_with('$') => rest.trim_end().to_owned(),
            Some((head, _)) => head.get(1..).unwrap_or_default().to_owned(),
            None => text,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The store through the interface the login manager uses.
fn open(url: &str) -> Arc<dyn TokenStorage> {
    Arc::new(RedisStorage::open(url).unwrap())
}

fn tokens(access: &str, expiry: i64) -> CacheChanges {
    let mut changes = CacheChanges::new();
    changes
        .set(CacheKey::AccessToken, access)
        .set(CacheKey::AccessTokenExpiry, expiry.to_string())
        .set(CacheKey::RefreshToken, format!("refresh-{access}"))
        .set(CacheKey::TokenSalt, "c2FsdA==")
        .set(CacheKey::TokenIterations, "1200000");
    changes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn values_are_stored_exactly_one_hash_per_account() {
    let Some(server) = Server::start() else {
        return;
    };
    let store = open(&server.url());
    store
        .apply("alice@example.com", &tokens("gAAAAA-alice", 100))
        .await
        .unwrap();
    store
        .apply("bob@example.com", &tokens("gAAAAA-bob", 200))
        .await
        .unwrap();
    let mut plain = CacheChanges::new();
    plain.set(CacheKey::ClientSecret, "not-cached");
    store.apply("alice@example.com", &plain).await.unwrap();
    let mut removal = CacheChanges::new();
    removal.remove(CacheKey::RefreshToken);
    store.apply("bob@example.com", &removal).await.unwrap();

    // Another instance reads what the first wrote.
    let other = open(&server.url());
    let snapshot = other.load().await.unwrap();
    let alice = &snapshot.accounts["alice@example.com"];
    assert_eq!(alice["access_token"], "gAAAAA-alice");
    assert_eq!(alice["access_token_expiry"], "100");
    assert_eq!(alice["refresh_token"], "refresh-gAAAAA-alice");
    assert!(!alice.contains_key("client_secret"), "only cached keys");
    let bob = &snapshot.accounts["bob@example.com"];
    assert_eq!(bob["access_token"], "gAAAAA-bob");
    assert!(!bob.contains_key("refresh_token"));
    assert_eq!(snapshot.accounts.len(), 2);

    // The documented layout.
    assert_eq!(
        server.cli(&["HGET", "mailgate:account:alice@example.com", "access_token"]),
        "gAAAAA-alice"
    );
    assert_eq!(
        server.cli(&["SISMEMBER", "mailgate:accounts", "bob@example.com"]),
        "1"
    );

    assert!(matches!(
        store.apply("not-an-account", &tokens("x", 1)).await,
        Err(StoreError::NotAnAccount { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_of_different_accounts_lose_nothing() {
    let Some(server) = Server::start() else {
        return;
    };
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let url = server.url();
            tokio::spawn(async move {
                let store = open(&url);
                for round in 0..10 {
                    store
                        .apply(
                            &format!("user{i}@example.com"),
                            &tokens(&format!("t{round}"), round),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let snapshot = open(&server.url()).load().await.unwrap();
    assert_eq!(snapshot.accounts.len(), 8);
    for values in snapshot.accounts.values() {
        assert_eq!(values["access_token"], "t9");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_refresh_lock_excludes_other_instances_until_released() {
    let Some(server) = Server::start() else {
        return;
    };
    let holders = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let url = server.url();
            let holders = Arc::clone(&holders);
            let most = Arc::clone(&most);
            tokio::spawn(async move {
                let store = open(&url);
                for _ in 0..5 {
                    let lock = store.lock_account("alice@example.com").await.unwrap();
                    let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    holders.fetch_sub(1, Ordering::SeqCst);
                    drop(lock);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 1, "one holder at a time");
    // Another account's lock never waits for this one.
    let store = open(&server.url());
    let _alice = store.lock_account("alice@example.com").await.unwrap();
    let _bob = store.lock_account("bob@example.com").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_holders_lock_ends_with_its_lease_and_is_released_only_by_its_owner() {
    let Some(server) = Server::start() else {
        return;
    };
    let key = "mailgate:lock:alice@example.com";
    // An instance that died holding the lock (`kill -9`): only its lease ends it.
    assert_eq!(
        server.cli(&["SET", key, "dead-owner", "NX", "PX", "300"]),
        "OK"
    );
    let store = open(&format!("{}?lock_lease=2", server.url()));
    let lock = store.lock_account("alice@example.com").await.unwrap();
    let owner = server.cli(&["GET", key]);
    assert_ne!(owner, "dead-owner");
    assert_eq!(owner.len(), 32, "a random owner token: {owner:?}");

    // Held past several leases: the renewal keeps it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(server.cli(&["GET", key]), owner, "renewed while held");

    // Someone else's lock (ours expired meanwhile) is not released by our drop.
    assert_eq!(server.cli(&["SET", key, "other-owner"]), "OK");
    drop(lock);
    // The release runs in a task of its own: give it time to run (it must not delete).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.cli(&["GET", key]), "other-owner");

    // Our own lock is released on drop (bounded wait for the release task).
    server.cli(&["DEL", key]);
    drop(store.lock_account("alice@example.com").await.unwrap());
    let mut released = false;
    for _ in 0..500 {
        if server.cli(&["EXISTS", key]) == "0" {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(released, "the lock was released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_store_answers_from_what_was_read_and_refuses_writes_temporarily() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let store = open(&server.url());
    store
        .apply("alice@example.com", &tokens("gAAAAA-alice", 100))
        .await
        .unwrap();
    let before = store.load().await.unwrap();
    server.stop();
    assert_eq!(
        store.load().await.unwrap(),
        before,
        "the last snapshot read"
    );
    match store
        .apply("alice@example.com", &tokens("gAAAAA-new", 200))
        .await
    {
        Err(StoreError::Backend {
            temporary: true,
            store: described,
            ..
        }) => assert_eq!(described, server.url()),
        other => panic!("expected a temporary backend error, got {other:?}"),
    }
    // A store that was never read has nothing to answer from.
    let fresh = open(&server.url());
    assert!(matches!(
        fresh.load().await,
        Err(StoreError::Backend {
            temporary: true,
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_lost_its_data_gets_back_the_newest_tokens_each_instance_holds() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let first = open(&server.url());
    let second = open(&server.url());
    first
        .apply("alice@example.com", &tokens("old-alice", 100))
        .await
        .unwrap();
    first
        .apply("bob@example.com", &tokens("bob", 100))
        .await
        .unwrap();
    second.load().await.unwrap();
    // The first instance refreshes alice after the second read the store.
    first
        .apply("alice@example.com", &tokens("new-alice", 200))
        .await
        .unwrap();

    server.restart();
    assert_eq!(
        server.cli(&["EXISTS", "mailgate:accounts"]),
        "0",
        "data lost"
    );

    // The second instance, holding the older alice, reconnects first; the first one's newer
    // tokens still win.
    second.load().await.unwrap();
    let snapshot = first.load().await.unwrap();
    assert_eq!(
        snapshot.accounts["alice@example.com"]["access_token"],
        "new-alice"
    );
    assert_eq!(snapshot.accounts["bob@example.com"]["access_token"], "bob");
    let fresh = open(&server.url()).load().await.unwrap();
    assert_eq!(fresh, snapshot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_password_never_shows() {
    let store = RedisStorage::open("redis://mailgate:hunter2@127.0.0.1:1/0").unwrap();
    assert!(!store.describe().contains("hunter2"));
    assert!(!TokenStorage::describe(&store).contains("hunter2"));
    assert!(!format!("{store:?}").contains("hunter2"));
    let error = TokenStorage::load(&store).await.unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    match RedisStorage::open("redis://user:hunter2@[bad/0") {
        Ok(_) => {}
        Err(error) => assert!(!error.to_string().contains("hunter2"), "{error}"),
    }
}

/// Three instances (each its own login manager and connection) share one store: 60 concurrent
/// logins of an account whose access token expired make one token request, and the provider,
/// which rotates refresh tokens, never sees a replaced one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_refresh_an_expired_token_once() {
    use mailgate_test_support::{MockOAuthServer, MockReply};
    use mailgate_token::SecretString;
    use mailgate_token::config::ProxyConfig;
    use mailgate_token::login::LoginManager;
    use mailgate_token::transport::HttpClient;

    let Some(server) = Server::start() else {
        return;
    };
    let provider = MockOAuthServer::start().await.unwrap();
    provider.enable_refresh_token_rotation();
    // The first access token is already inside the expiry margin: the next login refreshes.
    provider.set_default_token_reply(MockReply::Token {
        access_token: Some("mock-access-{n}".into()),
        expires_in: Some(1),
        refresh_token: Some("mock-refresh-{n}".into()),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emailproxy.config");
    std::fs::write(
        &path,
        format!(
            "[alice@example.com]\noauth2_flow = client_credentials\ntoken_url = {}\n\
             client_id = app\nclient_secret = app-secret\noauth2_scope = mail\n",
            provider.token_url()
        ),
    )
    .unwrap();
    let manager = |url: String| {
        let config = Arc::new(ProxyConfig::load(&path).unwrap());
        let storage = Arc::new(RedisStorage::open(&url).unwrap());
        Arc::new(
            LoginManager::new(
                config,
                storage,
                HttpClient::new(Default::default()).unwrap(),
            )
            .unwrap(),
        )
    };
    let password = SecretString::from("local password");
    let instances: Vec<Arc<LoginManager>> = (0..3).map(|_| manager(server.url())).collect();
    instances[0]
        .login("alice@example.com", &password)
        .await
        .unwrap();
    assert_eq!(provider.token_requests(), 1, "the first grant");
    // A slow provider: every instance reads the expired token while the refresh runs.
    provider.set_default_token_reply(
        MockReply::Token {
            access_token: Some("mock-access-{n}".into()),
            expires_in: Some(3600),
            refresh_token: Some("mock-refresh-{n}".into()),
        }
        .delayed(Duration::from_millis(500)),
    );
    let logins: Vec<_> = (0..60)
        .map(|i| {
            let instance = Arc::clone(&instances[i % 3]);
            let password = password.clone();
            tokio::spawn(async move { instance.login("alice@example.com", &password).await })
        })
        .collect();
    let mut tokens = std::collections::BTreeSet::new();
    for login in logins {
        tokens.insert(login.await.unwrap().unwrap().access_token.expose().clone());
    }
    assert_eq!(provider.token_requests(), 2, "one refresh for 60 logins");
    assert_eq!(
        tokens.len(),
        1,
        "every login got the refreshed token: {tokens:?}"
    );
    assert_eq!(provider.rejected_refresh_tokens(), 0);
}
