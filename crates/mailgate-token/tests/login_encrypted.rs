//! Logins through the encrypted token store: tokens written by the Python email-oauth2-proxy are used as they
//! are, new tokens are stored encrypted, and wrong passwords follow the policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::{
    AuthorizationFuture, AuthorizationPrompt, Authorizer, LoginError, LoginManager,
};
use mailgate_token::store::{CacheSnapshot, MemoryStorage, TokenStorage};
use mailgate_token::transport::HttpClient;

const NOW: u64 = 1_800_000_000;

fn manager(config: &str, storage: Arc<MemoryStorage>) -> LoginManager {
    let config = Arc::new(ProxyConfig::parse(config).unwrap());
    LoginManager::new(
        config,
        storage,
        HttpClient::new(Default::default()).unwrap(),
    )
    .unwrap()
    .with_clock(|| NOW)
}

async fn snapshot(storage: &MemoryStorage) -> CacheSnapshot {
    storage.load().await.unwrap()
}

#[tokio::test]
async fn reference_tokens_are_used_without_a_request() {
    let server = MockOAuthServer::start().await.unwrap();
    // Vector (a) of the Python email-oauth2-proxy: salt, 1,200,000 iterations, password `pw1`, token `AT-1`.
    let config = format!(
        "[user@example.com]\npermission_url = https://login.invalid/auth\ntoken_url = {}\n\
         client_id = c\noauth2_scope = s\n",
        server.token_url()
    );
    let storage = Arc::new(MemoryStorage::new());
    let mut changes = mailgate_token::config::CacheChanges::new();
    changes
        .set(mailgate_token::config::CacheKey::TokenSalt, "xHZvuCRYV8aFu2Tpzz58uA==")
        .set(mailgate_token::config::CacheKey::TokenIterations, "1200000")
        .set(
            mailgate_token::config::CacheKey::AccessToken,
            "gAAAAABrCuQlkTkGnaH7Sa2psTHBjIisHNU_-aZgJ4bS-ooVRSZ2nSfpeE98BrLc-sXXb5eXrXsqr_4Oa8IJ8MDXH3RZDP9bAQ==",
        )
        .set(
            mailgate_token::config::CacheKey::AccessTokenExpiry,
            (NOW + 3600).to_string(),
        );
    storage.apply("user@example.com", &changes).await.unwrap();
    let manager = manager(&config, Arc::clone(&storage));
    let login = manager
        .login("user@example.com", &SecretString::from("pw1"))
        .await
        .unwrap();
    assert_eq!(login.access_token.expose(), "AT-1");
    assert_eq!(server.token_requests(), 0);
    // A wrong password on an interactive account starts a new authorisation (trust on first
    // use; without an authoriser the login asks for one), but deletes nothing: the stored
    // tokens stay, and the right password keeps working without a request.
    let before = snapshot(&storage).await.accounts["user@example.com"].clone();
    let e = manager
        .login("user@example.com", &SecretString::from("wrong"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, LoginError::AuthorizationRequired { .. }),
        "{e:?}"
    );
    assert_eq!(
        snapshot(&storage).await.accounts["user@example.com"],
        before
    );
    let login = manager
        .login("user@example.com", &SecretString::from("pw1"))
        .await
        .unwrap();
    assert_eq!(login.access_token.expose(), "AT-1");
    assert_eq!(server.token_requests(), 0);
}

#[tokio::test]
async fn new_tokens_are_stored_encrypted_and_reused() {
    let server = MockOAuthServer::start().await.unwrap();
    let config = format!(
        "[ccg@example.com]\noauth2_flow = client_credentials\ntoken_url = {}\nclient_id = c\n\
         client_secret = s\noauth2_scope = s\n",
        server.token_url()
    );
    let storage = Arc::new(MemoryStorage::new());
    let manager = manager(&config, Arc::clone(&storage));
    let password = SecretString::from("login-pw");
    let first = manager.login("ccg@example.com", &password).await.unwrap();
    assert_eq!(first.access_token.expose(), "mock-access-1");
    let values = snapshot(&storage).await.accounts["ccg@example.com"].clone();
    assert!(values["access_token"].starts_with("gAAAAA"), "{values:?}");
    assert_eq!(values["token_iterations"], "1200000");
    assert_eq!(values["access_token_expiry"], (NOW + 3600).to_string());
    let again = manager.login("ccg@example.com", &password).await.unwrap();
    assert_eq!(again.access_token.expose(), "mock-access-1");
    assert_eq!(server.token_requests(), 1);
    // Client-credentials accounts are never reset by a wrong password.
    let e = manager
        .login("ccg@example.com", &SecretString::from("wrong"))
        .await
        .unwrap_err();
    assert!(matches!(e, LoginError::WrongPassword { .. }), "{e:?}");
    assert!(snapshot(&storage).await.accounts["ccg@example.com"].contains_key("access_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_logins_share_one_request_and_one_key() {
    let server = MockOAuthServer::start().await.unwrap();
    server.set_default_token_reply(
        mailgate_test_support::MockReply::token().delayed(std::time::Duration::from_millis(100)),
    );
    let config = format!(
        "[ccg@example.com]\noauth2_flow = client_credentials\ntoken_url = {0}\nclient_id = c\n\
         client_secret = s\noauth2_scope = s\n\n[solo@example.com]\noauth2_flow = client_credentials\n\
         token_url = {0}\nclient_id = c\nclient_secret = s\noauth2_scope = s\n",
        server.token_url()
    );
    let storage = Arc::new(MemoryStorage::new());
    let manager = Arc::new(manager(&config, Arc::clone(&storage)));
    // The cost of one first login (one key derivation plus the token request).
    let started = std::time::Instant::now();
    manager
        .login("solo@example.com", &SecretString::from("pw"))
        .await
        .unwrap();
    let one = started.elapsed();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let manager = Arc::clone(&manager);
        tasks.push(tokio::spawn(async move {
            manager
                .login("ccg@example.com", &SecretString::from("pw"))
                .await
                .map(|s| s.access_token.expose().clone())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "mock-access-2");
    }
    assert_eq!(server.token_requests(), 2);
    // One key derivation, not 100: the whole burst costs about one first login.
    let burst = started.elapsed();
    assert!(
        burst < one * 5 + std::time::Duration::from_secs(1),
        "100 concurrent logins took {burst:?}, one login {one:?}"
    );
}

/// Completes every authorisation at once, as a user would in the browser.
struct Browser;

impl Authorizer for Browser {
    fn authorize(&self, prompt: AuthorizationPrompt) -> AuthorizationFuture {
        Box::pin(async move {
            match prompt {
                AuthorizationPrompt::Visit { request, .. } => {
                    Ok(format!("/?code=granted&state={}", request.state))
                }
                _ => Err("unexpected prompt".into()),
            }
        })
    }
}

/// Trust on first use without deletion: a login with another password authorises anew, and
/// only when that succeeds do its tokens (encrypted with the new password) replace the old
/// ones whole, the old refresh token included when the provider sends none.
#[tokio::test]
async fn a_completed_authorisation_with_another_password_replaces_the_tokens() {
    let server = MockOAuthServer::start().await.unwrap();
    let config = format!(
        "[user@example.com]
permission_url = https://login.invalid/auth
token_url = {}
         redirect_uri = http://localhost:8080
client_id = c
client_secret = s
oauth2_scope = s
",
        server.token_url()
    );
    let storage = Arc::new(MemoryStorage::new());
    let manager = manager(&config, Arc::clone(&storage)).with_authorizer(Arc::new(Browser));
    let first = manager
        .login("user@example.com", &SecretString::from("old-pw"))
        .await
        .unwrap();
    assert_eq!(first.access_token.expose(), "mock-access-1");
    let old = snapshot(&storage).await.accounts["user@example.com"].clone();
    assert!(old.contains_key("refresh_token"), "{old:?}");

    server.push_token_reply(MockReply::token_without_refresh());
    let second = manager
        .login("user@example.com", &SecretString::from("new-pw"))
        .await
        .unwrap();
    assert_eq!(second.access_token.expose(), "mock-access-2");
    assert_eq!(server.token_requests(), 2);
    assert_eq!(
        server.requests()[1].param("grant_type"),
        Some("authorization_code")
    );
    let new = snapshot(&storage).await.accounts["user@example.com"].clone();
    assert_ne!(new["access_token"], old["access_token"]);
    assert!(!new.contains_key("refresh_token"), "{new:?}");
    // The new password now unlocks them without a request.
    let again = manager
        .login("user@example.com", &SecretString::from("new-pw"))
        .await
        .unwrap();
    assert_eq!(again.access_token.expose(), "mock-access-2");
    assert_eq!(server.token_requests(), 2);
}
