//! Catch-all accounts (`[@]`, `[@domain]`) in one process, as deployed: the first login of a
//! user creates the user's own section in the store (tokens, salt, iterations); every later
//! login in the same process must find that section there, whatever the configuration loaded
//! at start says. The configuration is never re-read between logins here, exactly as in a
//! running proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mailgate_test_support::MockOAuthServer;
use mailgate_token::SecretString;
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::LoginManager;
use mailgate_token::store::{IniFileStorage, MemoryStorage, TokenStorage};
use mailgate_token::transport::HttpClient;

const USER: &str = "notify@example.com";
const PASSWORD: &str = "appliance password";
const NOW: u64 = 1_800_000_000;

fn config_text(section: &str, token_url: &str, delete_on_error: bool) -> String {
    let delete = if delete_on_error { "True" } else { "False" };
    format!(
        "[emailproxy]\nallow_catch_all_accounts = True\n\
         delete_account_token_on_password_error = {delete}\n\
         [{section}]\noauth2_flow = client_credentials\ntoken_url = {token_url}\nclient_id = app\n\
         client_secret = app-secret\noauth2_scope = https://mail.example.com/.default\n"
    )
}

fn manager(config: &str, storage: Arc<dyn TokenStorage>) -> LoginManager {
    let config = Arc::new(ProxyConfig::parse(config).unwrap());
    LoginManager::new(
        config,
        storage,
        HttpClient::new(Default::default()).unwrap(),
    )
    .unwrap()
    .with_clock(|| NOW)
}

/// Three logins of a user the configuration has no section for, then a wrong password and the
/// right one again: one token request in all.
async fn logins_share_one_token(section: &str, delete_on_error: bool, file: bool) {
    let server = MockOAuthServer::start().await.unwrap();
    let text = config_text(section, &server.token_url(), delete_on_error);
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn TokenStorage> = if file {
        let path = dir.path().join("emailproxy.config");
        std::fs::write(&path, &text).unwrap();
        Arc::new(IniFileStorage::config_file(path))
    } else {
        Arc::new(MemoryStorage::new())
    };
    let manager = manager(&text, Arc::clone(&storage));
    let password = SecretString::from(PASSWORD);
    for attempt in 1..=3 {
        let login = manager.login(USER, &password).await.unwrap_or_else(|e| {
            panic!("login {attempt} of {USER} under [{section}] (delete_account_token_on_password_error = {delete_on_error}, file = {file}): {e}")
        });
        assert_eq!(login.access_token.expose(), "mock-access-1");
    }
    let stored = storage.load().await.unwrap();
    let own = &stored.accounts[USER];
    assert!(own.contains_key("token_salt"), "{own:?}");
    assert!(own["access_token"].starts_with("gAAAAA"), "{own:?}");
    // A wrong password is refused (client credentials are never reset by one) and leaves the
    // stored tokens as they were; the right password still works.
    manager
        .login(USER, &SecretString::from("not the password"))
        .await
        .unwrap_err();
    assert_eq!(&storage.load().await.unwrap().accounts[USER], own);
    let login = manager.login(USER, &password).await.unwrap();
    assert_eq!(login.access_token.expose(), "mock-access-1");
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test]
async fn a_catch_all_user_logs_in_again_in_the_same_process() {
    for section in ["@", "@example.com"] {
        for delete_on_error in [false, true] {
            for file in [false, true] {
                logins_share_one_token(section, delete_on_error, file).await;
            }
        }
    }
}

/// The file a catch-all login wrote is read by a new process (a restart) with the same
/// password and no token request.
#[tokio::test]
async fn a_catch_all_users_tokens_survive_a_restart() {
    let server = MockOAuthServer::start().await.unwrap();
    let text = config_text("@", &server.token_url(), true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emailproxy.config");
    std::fs::write(&path, &text).unwrap();
    let password = SecretString::from(PASSWORD);
    let first = manager(&text, Arc::new(IniFileStorage::config_file(&path)));
    first.login(USER, &password).await.unwrap();
    drop(first);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains(&format!("[{USER}]")), "{written}");
    let restarted = manager(&written, Arc::new(IniFileStorage::config_file(&path)));
    for _ in 0..2 {
        restarted.login(USER, &password).await.unwrap();
    }
    assert_eq!(server.token_requests(), 1);
}
