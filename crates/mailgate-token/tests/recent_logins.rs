//! A login's result is reused for the same password for a short while without reading the
//! store; any other password, a dropped token, a reload or the passing minute reads it again.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::config::{CacheChanges, ProxyConfig};
use mailgate_token::login::{LoginError, LoginManager};
use mailgate_token::store::{AccountLock, CacheSnapshot, MemoryStorage, StoreFuture, TokenStorage};
use mailgate_token::transport::HttpClient;

const USER: &str = "user@example.com";
const NOW: u64 = 1_800_000_000;

/// A memory store that counts its reads.
#[derive(Debug, Default)]
struct CountingStorage {
    inner: MemoryStorage,
    loads: AtomicUsize,
}

impl TokenStorage for CountingStorage {
    fn load(&self) -> StoreFuture<'_, CacheSnapshot> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load()
    }

    fn apply<'a>(&'a self, account: &'a str, changes: &'a CacheChanges) -> StoreFuture<'a, ()> {
        self.inner.apply(account, changes)
    }

    fn lock_account<'a>(&'a self, account: &'a str) -> StoreFuture<'a, AccountLock> {
        self.inner.lock_account(account)
    }

    fn describe(&self) -> String {
        "counting memory store".to_owned()
    }
}

struct Setup {
    server: MockOAuthServer,
    config: Arc<ProxyConfig>,
    storage: Arc<CountingStorage>,
    clock: Arc<AtomicU64>,
    manager: LoginManager,
}

impl Setup {
    async fn new() -> Self {
        let server = MockOAuthServer::start().await.unwrap();
        let config = Arc::new(
            ProxyConfig::parse(&format!(
                "[emailproxy]\ndelete_account_token_on_password_error = False\n\n\
                 [{USER}]\noauth2_flow = client_credentials\ntoken_url = {}\nclient_id = app\n\
                 client_secret = s\noauth2_scope = x\n",
                server.token_url()
            ))
            .unwrap(),
        );
        let storage = Arc::new(CountingStorage::default());
        let clock = Arc::new(AtomicU64::new(NOW));
        let manager = LoginManager::new(
            Arc::clone(&config),
            Arc::clone(&storage) as Arc<dyn TokenStorage>,
            HttpClient::new(Default::default()).unwrap(),
        )
        .unwrap()
        .with_clock({
            let clock = Arc::clone(&clock);
            move || clock.load(Ordering::SeqCst)
        });
        Setup {
            server,
            config,
            storage,
            clock,
            manager,
        }
    }

    fn loads(&self) -> usize {
        self.storage.loads.load(Ordering::SeqCst)
    }

    async fn login(&self, password: &str) -> Result<String, LoginError> {
        let password = SecretString::from(password);
        let login = self.manager.login(USER, &password).await?;
        Ok(login.access_token.expose().clone())
    }
}

#[tokio::test]
async fn the_same_password_within_a_minute_reads_nothing() {
    let setup = Setup::new().await;
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-1");
    let after_first = setup.loads();
    assert!(after_first >= 1);
    for _ in 0..5 {
        assert_eq!(setup.login("secret").await.unwrap(), "mock-access-1");
    }
    assert_eq!(
        setup.loads(),
        after_first,
        "logins within a minute read the store"
    );
    assert_eq!(setup.server.token_requests(), 1);

    // A minute on, the store is read again (and still holds the same token).
    setup.clock.fetch_add(60, Ordering::SeqCst);
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-1");
    assert!(setup.loads() > after_first);
    assert_eq!(setup.server.token_requests(), 1);
}

#[tokio::test]
async fn another_password_is_checked_against_the_store() {
    let setup = Setup::new().await;
    setup.login("secret").await.unwrap();
    let error = setup.login("wrong").await.unwrap_err();
    assert!(
        matches!(error, LoginError::WrongPassword { .. }),
        "{error:?}"
    );
    // The right password still logs in.
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-1");
}

#[tokio::test]
async fn wrong_passwords_keep_the_back_off_in_force_for_the_right_one() {
    let setup = Setup::new().await;
    setup.login("secret").await.unwrap();
    for _ in 0..2 {
        assert!(setup.login("wrong").await.is_err());
    }
    // The second wrong password in a row holds the account back for a while: the right
    // password is refused too, not answered from the kept result.
    let error = setup.login("secret").await.unwrap_err();
    assert!(matches!(error, LoginError::Backoff { .. }), "{error:?}");
    setup.clock.fetch_add(2, Ordering::SeqCst);
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-1");
}

#[tokio::test]
async fn a_dropped_token_or_a_reload_reads_the_store_again() {
    let setup = Setup::new().await;
    setup.login("secret").await.unwrap();

    // The server refused the token: the next login must not reuse it.
    setup
        .manager
        .drop_access_token(USER, &SecretString::from("secret"))
        .await
        .unwrap();
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-2");
    assert_eq!(setup.server.token_requests(), 2);

    // A reload forgets the kept results.
    let before = setup.loads();
    setup.manager.set_config(Arc::clone(&setup.config));
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-2");
    assert!(setup.loads() > before);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_not_reused() {
    let setup = Setup::new().await;
    // A token that lasts a little longer than the margin kept before expiry (600 s) ...
    setup.server.push_token_reply(MockReply::Token {
        access_token: Some("short-lived".into()),
        expires_in: Some(620),
        refresh_token: Some("refresh".into()),
    });
    assert_eq!(setup.login("secret").await.unwrap(), "short-lived");
    setup.clock.fetch_add(10, Ordering::SeqCst);
    assert_eq!(setup.login("secret").await.unwrap(), "short-lived");
    // ... is refreshed once inside the margin, even within the minute.
    setup.clock.fetch_add(20, Ordering::SeqCst);
    assert_eq!(setup.login("secret").await.unwrap(), "mock-access-2");
    assert_eq!(setup.server.token_requests(), 2);
}
