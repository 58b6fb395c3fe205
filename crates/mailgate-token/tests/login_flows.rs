//! Login orchestration end to end against the mock provider: reuse, refresh, rotation, the
//! two-strike reset, wrong passwords, interactive authorisation and single flight.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::{
    AuthorizationFuture, AuthorizationPrompt, Authorizer, LoginError, LoginManager,
};
use mailgate_token::store::MemoryStorage;
use mailgate_token::transport::{HttpClient, HttpClientConfig};

mod support;
use support::Plain;

const USER: &str = "user@example.com";
const NOW: u64 = 1_800_000_000;

struct Harness {
    server: MockOAuthServer,
    storage: Arc<MemoryStorage>,
    manager: Arc<LoginManager>,
    clock: Arc<AtomicU64>,
}

async fn harness(account_lines: &str, global_lines: &str) -> Harness {
    let server = MockOAuthServer::start().await.unwrap();
    let text = format!(
        "[emailproxy]\n{global_lines}\n[{USER}]\ntoken_url = {}\nclient_id = cid\noauth2_scope = scope-a\n{account_lines}\n",
        server.token_url()
    );
    let config = Arc::new(ProxyConfig::parse(&text).unwrap());
    let storage = Arc::new(MemoryStorage::new());
    let clock = Arc::new(AtomicU64::new(NOW));
    let tick = Arc::clone(&clock);
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let manager = LoginManager::new(config, storage.clone(), http)
        .unwrap()
        .with_clock(move || tick.load(Ordering::SeqCst));
    Harness {
        server,
        storage,
        manager: Arc::new(manager),
        clock,
    }
}

fn pw(p: &str) -> SecretString {
    SecretString::from(p)
}

fn tokens(access: Option<(&str, u64)>, refresh: Option<&str>) -> Plain {
    Plain::new(access, refresh)
}

impl Harness {
    /// Stores `tokens` encrypted with `password`, as an earlier login would have.
    async fn insert(&self, password: &str, tokens: Plain) {
        support::seed(self.storage.as_ref(), USER, password, &tokens).await;
    }

    /// The stored tokens, decrypted with `pw`.
    async fn peek(&self) -> Option<Plain> {
        support::peek(self.storage.as_ref(), USER, "pw").await
    }
}

const CCG: &str = "oauth2_flow = client_credentials\nclient_secret = s";
const AUTH_CODE: &str = "permission_url = https://login.invalid/authorize\nredirect_uri = http://localhost:8080\nclient_secret = s";

#[tokio::test]
async fn first_login_then_reuse_then_refresh_after_expiry() {
    let h = harness(CCG, "").await;
    let first = h.manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(first.access_token.expose(), "mock-access-1");
    assert_eq!(first.expires_at, NOW + 3600);
    assert_eq!(
        h.manager.next_deadline(),
        Some((USER.to_owned(), NOW + 3000))
    );
    let again = h.manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(again.access_token.expose(), "mock-access-1");
    assert_eq!(h.server.token_requests(), 1);
    // 599 s before expiry: inside the margin, so the refresh token is used.
    h.clock.store(NOW + 3001, Ordering::SeqCst);
    assert_eq!(h.manager.due(NOW + 3001), vec![USER.to_owned()]);
    let refreshed = h.manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(refreshed.access_token.expose(), "mock-access-2");
    let r = &h.server.requests()[1];
    assert_eq!(r.param("grant_type"), Some("refresh_token"));
    assert_eq!(r.param("refresh_token"), Some("mock-refresh-1"));
    // Rotation: the new refresh token replaced the old one.
    let stored = h.peek().await.unwrap();
    assert_eq!(stored.refresh.as_deref().unwrap(), "mock-refresh-2");
}

#[tokio::test]
async fn refresh_without_rotation_keeps_old_refresh_token() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("old", NOW + 10)), Some("RT-old")))
        .await;
    h.server
        .push_token_reply(MockReply::token_without_refresh());
    let login = h.manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-1");
    let stored = h.peek().await.unwrap();
    assert_eq!(stored.refresh.as_deref().unwrap(), "RT-old");
    assert_eq!(stored.access_token_expiry(), Some(NOW + 3600));
}

#[tokio::test]
async fn two_strike_reset_on_invalid_grant() {
    let h = harness(CCG, "").await;
    h.insert("pw", tokens(Some(("old", NOW - 1)), Some("RT-old")))
        .await;
    h.server
        .push_token_reply(MockReply::error(400, "invalid_grant"));
    h.server
        .push_token_reply(MockReply::error(400, "invalid_grant"));
    let login = h.manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-3");
    let grants: Vec<String> = h
        .server
        .requests()
        .iter()
        .map(|r| r.param("grant_type").unwrap().to_owned())
        .collect();
    assert_eq!(
        grants,
        ["refresh_token", "refresh_token", "client_credentials"]
    );
}

#[tokio::test]
async fn refused_refresh_without_access_token_resets_at_once() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(None, Some("RT-old"))).await;
    h.server
        .push_token_reply(MockReply::error(400, "invalid_grant"));
    let e = h.manager.login(USER, &pw("pw")).await.unwrap_err();
    // The tokens are gone and the account needs interactive authorisation again.
    assert!(
        matches!(e, LoginError::AuthorizationRequired { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("https://login.invalid/authorize?client_id=cid"),
        "{e}"
    );
    assert!(h.peek().await.is_none());
    assert_eq!(h.server.token_requests(), 1);
}

#[tokio::test]
async fn other_errors_keep_tokens_and_are_retryable() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("old", NOW - 1)), Some("RT-old")))
        .await;
    h.server.push_token_reply(MockReply::Raw {
        status: 503,
        body: "down".into(),
    });
    let e = h.manager.login(USER, &pw("pw")).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains(USER), "{e}");
    let stored = h.peek().await.unwrap();
    assert_eq!(stored.refresh.as_deref().unwrap(), "RT-old");
    assert!(stored.access.is_some());
}

#[tokio::test]
async fn wrong_password_authorises_anew_and_keeps_the_tokens() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("AT", NOW + 3600)), Some("RT")))
        .await;
    let e = h.manager.login(USER, &pw("wrong")).await.unwrap_err();
    assert!(
        matches!(e, LoginError::AuthorizationRequired { .. }),
        "{e:?}"
    );
    // Nothing is deleted: the right password still logs in.
    assert!(h.peek().await.is_some());
    assert_eq!(
        h.manager
            .login(USER, &pw("pw"))
            .await
            .unwrap()
            .access_token
            .expose(),
        "AT"
    );
    assert_eq!(h.server.token_requests(), 0);
}

/// Never completes: a new authorisation nobody finishes.
struct AbandonedBrowser;

impl Authorizer for AbandonedBrowser {
    fn authorize(&self, _prompt: AuthorizationPrompt) -> AuthorizationFuture {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_pending_authorisation_of_a_wrong_password_never_holds_up_the_right_one() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("AT", NOW + 3600)), Some("RT")))
        .await;
    let manager = Arc::new(
        Arc::into_inner(h.manager)
            .unwrap()
            .with_authorizer(Arc::new(AbandonedBrowser)),
    );
    let waiting = {
        let manager = Arc::clone(&manager);
        tokio::spawn(async move { manager.login(USER, &pw("wrong")).await })
    };
    // Let the wrong password's login reach its authorisation.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let login = tokio::time::timeout(Duration::from_secs(10), manager.login(USER, &pw("pw")))
        .await
        .expect("the right password waited for the wrong one's authorisation")
        .unwrap();
    assert_eq!(login.access_token.expose(), "AT");
    assert!(!waiting.is_finished());
    assert_eq!(h.server.token_requests(), 0);
    waiting.abort();
}

#[tokio::test]
async fn wrong_password_keeps_tokens_when_policy_says_so() {
    let h = harness(AUTH_CODE, "delete_account_token_on_password_error = False").await;
    h.insert("pw", tokens(Some(("AT", NOW + 3600)), Some("RT")))
        .await;
    let e = h.manager.login(USER, &pw("wrong")).await.unwrap_err();
    assert!(matches!(e, LoginError::WrongPassword { .. }), "{e:?}");
    assert!(h.peek().await.is_some());
    assert_eq!(
        h.manager
            .login(USER, &pw("pw"))
            .await
            .unwrap()
            .access_token
            .expose(),
        "AT"
    );
}

#[tokio::test]
async fn wrong_password_never_resets_client_credentials_accounts() {
    let h = harness(CCG, "").await;
    h.insert("pw", tokens(Some(("AT", NOW + 3600)), None)).await;
    let e = h.manager.login(USER, &pw("wrong")).await.unwrap_err();
    assert!(matches!(e, LoginError::WrongPassword { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("password for account user@example.com is incorrect")
    );
    assert_eq!(h.server.token_requests(), 0);
    let e = h.manager.login(USER, &pw("")).await.unwrap_err();
    assert!(matches!(e, LoginError::NoPassword { .. }), "{e:?}");
}

#[tokio::test]
async fn unknown_account_is_a_config_error() {
    let h = harness(CCG, "").await;
    let e = h
        .manager
        .login("other@example.com", &pw("pw"))
        .await
        .unwrap_err();
    assert!(matches!(e, LoginError::Config(_)), "{e:?}");
}

struct Browser;

impl Authorizer for Browser {
    fn authorize(&self, prompt: AuthorizationPrompt) -> AuthorizationFuture {
        Box::pin(async move {
            match prompt {
                AuthorizationPrompt::Visit { request, .. } => {
                    assert!(request.url.contains("code_challenge_method=S256"));
                    Ok(format!("/?code=granted&state={}", request.state))
                }
                _ => Err("unexpected prompt".into()),
            }
        })
    }
}

#[tokio::test]
async fn interactive_authorization_code_with_pkce() {
    let h = harness(&format!("{AUTH_CODE}\nuse_pkce = True"), "").await;
    let manager = Arc::into_inner(h.manager)
        .unwrap()
        .with_authorizer(Arc::new(Browser));
    let login = manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-1");
    let r = &h.server.requests()[0];
    assert_eq!(r.param("code"), Some("granted"));
    assert_eq!(r.param("code_verifier").map(str::len), Some(86));
    assert_eq!(r.param("client_secret"), Some("s"));
}

#[tokio::test]
async fn password_grant_uses_login_password() {
    let h = harness("oauth2_flow = password\noauth2_resource = res", "").await;
    h.manager.login(USER, &pw("hunter2")).await.unwrap();
    let r = &h.server.requests()[0];
    assert_eq!(r.param("password"), Some("hunter2"));
    assert_eq!(r.param("username"), Some(USER));
    assert_eq!(r.param("resource"), Some("res"));
}

#[tokio::test]
async fn login_password_as_client_secret_when_enabled() {
    let h = harness(
        "oauth2_flow = client_credentials",
        "use_login_password_as_client_credentials_secret = True",
    )
    .await;
    h.manager.login(USER, &pw("login-pw")).await.unwrap();
    assert_eq!(
        h.server.requests()[0].param("client_secret"),
        Some("login-pw")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_100_concurrent_logins_one_token_request() {
    let h = harness(CCG, "").await;
    h.server
        .set_default_token_reply(MockReply::token().delayed(Duration::from_millis(200)));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let manager = Arc::clone(&h.manager);
        tasks.push(tokio::spawn(async move {
            manager
                .login(USER, &pw("pw"))
                .await
                .map(|s| s.access_token.expose().clone())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "mock-access-1");
    }
    assert_eq!(h.server.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_account_does_not_block_another() {
    let server = MockOAuthServer::start().await.unwrap();
    let slow = MockOAuthServer::start().await.unwrap();
    slow.set_default_token_reply(MockReply::token().delayed(Duration::from_secs(3)));
    let text = format!(
        "[slow@example.com]\ntoken_url = {}\nclient_id = c\noauth2_scope = s\n{CCG}\n\n[fast@example.com]\ntoken_url = {}\nclient_id = c\noauth2_scope = s\n{CCG}\n",
        slow.token_url(),
        server.token_url()
    );
    let config = Arc::new(ProxyConfig::parse(&text).unwrap());
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let manager =
        Arc::new(LoginManager::new(config, Arc::new(MemoryStorage::new()), http).unwrap());
    let m = Arc::clone(&manager);
    let slow_login = tokio::spawn(async move { m.login("slow@example.com", &pw("p")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    manager.login("fast@example.com", &pw("p")).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    slow_login.await.unwrap().unwrap();
}

struct DeviceScreen(Arc<std::sync::Mutex<Vec<String>>>);

impl Authorizer for DeviceScreen {
    fn authorize(&self, prompt: AuthorizationPrompt) -> AuthorizationFuture {
        let shown = Arc::clone(&self.0);
        Box::pin(async move {
            match prompt {
                AuthorizationPrompt::Device {
                    username,
                    authorization,
                } => {
                    shown.lock().unwrap().push(authorization.prompt(&username));
                    Ok(String::new())
                }
                _ => Err("unexpected prompt".into()),
            }
        })
    }
}

#[tokio::test]
async fn device_flow_through_the_manager() {
    let server = MockOAuthServer::start().await.unwrap();
    let text = format!(
        "[{USER}]\npermission_url = {}\noauth2_flow = device\ntoken_url = {}\nclient_id = cid\noauth2_scope = scope-a\n",
        server.device_url(),
        server.token_url()
    );
    let config = Arc::new(ProxyConfig::parse(&text).unwrap());
    let shown = Arc::new(std::sync::Mutex::new(Vec::new()));
    let manager = LoginManager::new(
        config,
        Arc::new(MemoryStorage::new()),
        HttpClient::new(HttpClientConfig::default()).unwrap(),
    )
    .unwrap()
    .with_authorizer(Arc::new(DeviceScreen(Arc::clone(&shown))));
    server.push_token_reply(MockReply::error(400, "authorization_pending"));
    let login = manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-2");
    assert_eq!(
        shown.lock().unwrap().as_slice(),
        [format!(
            "Please visit the following URL to authenticate account {USER}: https://mock.invalid/device and enter code MOCK-CODE"
        )]
    );
    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].param("client_id"), Some("cid"));
    assert!(requests[0].param("state").is_some());
    assert_eq!(requests[0].param("redirect_uri"), None);
}

#[tokio::test]
async fn service_account_through_the_manager() {
    let server = MockOAuthServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.json");
    let key = serde_json::json!({
        "type": "service_account",
        "private_key_id": "k1",
        "private_key": include_str!("data/test-rsa-key.pem"),
        "client_email": "svc@p.iam.gserviceaccount.com",
        "token_uri": server.token_url(),
    });
    std::fs::write(&key_path, key.to_string()).unwrap();
    let text = format!(
        "[{USER}]\noauth2_flow = service_account\ntoken_url = https://unused.invalid/token\nclient_id = file\nclient_secret = {}\noauth2_scope = https://mail.google.com/\n",
        key_path.display()
    );
    let config = Arc::new(ProxyConfig::parse(&text).unwrap());
    let manager = LoginManager::new(
        config,
        Arc::new(MemoryStorage::new()),
        HttpClient::new(HttpClientConfig::default()).unwrap(),
    )
    .unwrap();
    let login = manager.login(USER, &pw("pw")).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-1");
    let r = &server.requests()[0];
    assert_eq!(
        r.param("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    // A missing key file is a clear error naming the account.
    std::fs::remove_file(&key_path).unwrap();
    let manager_error = {
        let text = text.clone();
        let config = Arc::new(ProxyConfig::parse(&text).unwrap());
        LoginManager::new(
            config,
            Arc::new(MemoryStorage::new()),
            HttpClient::new(HttpClientConfig::default()).unwrap(),
        )
        .unwrap()
        .login(USER, &pw("pw"))
        .await
        .unwrap_err()
    };
    assert!(
        matches!(manager_error, LoginError::ServiceAccount { .. }),
        "{manager_error:?}"
    );
    assert!(manager_error.to_string().contains(USER));
}

#[tokio::test]
async fn certificate_credentials_through_the_manager() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let h = harness(
        &format!(
            "oauth2_flow = client_credentials\njwt_certificate_path = {data}/test-rsa-cert.pem\njwt_key_path = {data}/test-rsa-key.pem"
        ),
        "",
    )
    .await;
    h.manager.login(USER, &pw("pw")).await.unwrap();
    let r = &h.server.requests()[0];
    assert_eq!(r.param("client_secret"), None);
    assert!(r.param("client_assertion").is_some());
    // Unreadable key files name the account and the options to check.
    let h = harness(
        "oauth2_flow = client_credentials\njwt_certificate_path = /nonexistent/c.pem\njwt_key_path = /nonexistent/k.pem",
        "",
    )
    .await;
    let e = h.manager.login(USER, &pw("pw")).await.unwrap_err();
    assert!(matches!(e, LoginError::ClientAssertion { .. }), "{e:?}");
    assert!(e.to_string().contains("jwt_certificate_path"), "{e}");
}

#[tokio::test]
async fn refresh_refused_for_another_reason_keeps_tokens() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("old", NOW - 1)), Some("RT-old")))
        .await;
    h.server
        .push_token_reply(MockReply::error(400, "invalid_client"));
    let e = h.manager.login(USER, &pw("pw")).await.unwrap_err();
    assert!(matches!(e, LoginError::TokenRequest { .. }), "{e:?}");
    assert!(e.to_string().contains("check client_id"), "{e}");
    assert_eq!(h.server.token_requests(), 1);
    let stored = h.peek().await.unwrap();
    assert_eq!(stored.refresh.as_deref().unwrap(), "RT-old");
}

/// Counts the authorisations it is asked for and never completes one.
#[derive(Default, Clone)]
struct CountingBrowser(Arc<std::sync::atomic::AtomicUsize>);

impl Authorizer for CountingBrowser {
    fn authorize(&self, _prompt: AuthorizationPrompt) -> AuthorizationFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::pending())
    }
}

/// A proactive refresh whose refresh token the provider refuses starts no authorisation,
/// keeps the stored tokens (the access token is still good until it expires), and takes the
/// account off the deadlines; the next client login then follows the usual two strikes.
#[tokio::test]
async fn a_proactive_refresh_never_starts_an_authorisation() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("AT", NOW + 3600)), Some("RT")))
        .await;
    let browser = CountingBrowser::default();
    let manager = Arc::new(
        Arc::into_inner(h.manager)
            .unwrap()
            .with_authorizer(Arc::new(browser.clone())),
    );
    manager.login(USER, &pw("pw")).await.unwrap();
    h.clock.store(NOW + 3001, Ordering::SeqCst);
    assert_eq!(manager.due(NOW + 3001), vec![USER.to_owned()]);
    h.server
        .push_token_reply(MockReply::error(400, "invalid_grant"));
    let refresh = tokio::time::timeout(Duration::from_secs(10), manager.refresh(USER))
        .await
        .expect("a refresh never waits for a person");
    let error = refresh.unwrap_err();
    assert!(
        matches!(error, LoginError::AuthorizationNeededAtNextLogin { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(USER) && text.contains("its next login will log the authorisation URL"),
        "{text}"
    );
    assert_eq!(browser.0.load(Ordering::SeqCst), 0);
    assert_eq!(h.server.token_requests(), 1);
    let stored = support::peek(h.storage.as_ref(), USER, "pw").await.unwrap();
    assert_eq!(stored.access_token(), Some("AT"));
    assert_eq!(stored.refresh.as_deref().unwrap(), "RT");
    assert!(manager.due(NOW + 3001).is_empty());
    // The next client login decides (here the provider accepts the refresh token again), and
    // the account is back on the deadlines.
    let login = manager.login(USER, &pw("pw")).await.unwrap();
    assert!(login.access_token.expose().starts_with("mock-access-"));
    assert_eq!(
        manager.next_deadline().map(|(account, _)| account),
        Some(USER.to_owned())
    );
}

/// A refresh that fails for a reason a retry may fix (the provider answers 500) keeps the
/// account due, so the next tick tries again.
#[tokio::test]
async fn a_proactive_refresh_that_fails_transiently_stays_due() {
    let h = harness(AUTH_CODE, "").await;
    h.insert("pw", tokens(Some(("AT", NOW + 3600)), Some("RT")))
        .await;
    h.manager.login(USER, &pw("pw")).await.unwrap();
    h.clock.store(NOW + 3001, Ordering::SeqCst);
    h.server
        .push_token_reply(MockReply::error(500, "server_error"));
    let error = h.manager.refresh(USER).await.unwrap_err();
    assert!(
        matches!(error, LoginError::TokenRequest { .. }),
        "{error:?}"
    );
    assert_eq!(h.manager.due(NOW + 3001), vec![USER.to_owned()]);
    let refreshed = h.manager.refresh(USER).await.unwrap();
    assert!(refreshed.access_token.expose().starts_with("mock-access-"));
    assert_eq!(h.server.token_requests(), 2);
}
