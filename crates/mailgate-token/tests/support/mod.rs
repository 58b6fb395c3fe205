//! Seeding a store with an account's tokens and reading them back, through the public
//! Fernet/PBKDF2 codec: what the Python email-oauth2-proxy would have written; and finding
//! the servers (`redis-server`, `moto_server`) the shared-store tests start.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};

use mailgate_token::config::{CacheChanges, CacheKey};
use mailgate_token::crypto::{AccountCipher, DerivedKeyCache};
use mailgate_token::store::{CacheSnapshot, TokenStorage};

/// An account's tokens in plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plain {
    /// The access token and its expiry (Unix seconds).
    pub(crate) access: Option<(String, u64)>,
    /// The refresh token.
    pub refresh: Option<String>,
}

impl Plain {
    pub(crate) fn new(access: Option<(&str, u64)>, refresh: Option<&str>) -> Self {
        Plain {
            access: access.map(|(token, expiry)| (token.to_owned(), expiry)),
            refresh: refresh.map(str::to_owned),
        }
    }

    pub(crate) fn access_token(&self) -> Option<&str> {
        self.access.as_ref().map(|(token, _)| token.as_str())
    }

    pub(crate) fn access_token_expiry(&self) -> Option<u64> {
        self.access.as_ref().map(|(_, expiry)| *expiry)
    }
}

/// One key cache for every helper call of a test binary: each password's key is derived once.
fn keys() -> Arc<DerivedKeyCache> {
    static KEYS: OnceLock<Arc<DerivedKeyCache>> = OnceLock::new();
    Arc::clone(KEYS.get_or_init(|| Arc::new(DerivedKeyCache::new(64).unwrap())))
}

/// The changes that store `tokens` for `username`, encrypted with `password` under a new salt
/// at the current iteration count; every other token key is removed.
pub(crate) fn encrypted(username: &str, password: &str, tokens: &Plain) -> CacheChanges {
    let mut cipher = AccountCipher::new(username, None, None, password.as_bytes(), keys()).unwrap();
    let mut changes = CacheChanges::new();
    changes
        .set(CacheKey::TokenSalt, cipher.salt())
        .set(CacheKey::TokenIterations, cipher.iterations().to_string());
    match &tokens.access {
        Some((token, expiry)) => {
            changes
                .set(CacheKey::AccessToken, cipher.encrypt(token, 0).unwrap())
                .set(CacheKey::AccessTokenExpiry, expiry.to_string());
        }
        None => {
            changes
                .remove(CacheKey::AccessToken)
                .remove(CacheKey::AccessTokenExpiry);
        }
    }
    match &tokens.refresh {
        Some(token) => changes.set(CacheKey::RefreshToken, cipher.encrypt(token, 0).unwrap()),
        None => changes.remove(CacheKey::RefreshToken),
    };
    changes
}

/// Stores `tokens` for `username` encrypted with `password`.
pub(crate) async fn seed(
    storage: &dyn TokenStorage,
    username: &str,
    password: &str,
    tokens: &Plain,
) {
    storage
        .apply(username, &encrypted(username, password, tokens))
        .await
        .unwrap();
}

/// The tokens of `username` in `snapshot`, decrypted with `password`; `None` when none are
/// stored. A value the password does not decrypt panics.
pub(crate) fn decrypted(snapshot: &CacheSnapshot, username: &str, password: &str) -> Option<Plain> {
    let values = snapshot.accounts.get(username)?;
    if !values.contains_key("access_token") && !values.contains_key("refresh_token") {
        return None;
    }
    let mut cipher = AccountCipher::new(
        username,
        values.get("token_salt").map(String::as_str),
        values.get("token_iterations").and_then(|v| v.parse().ok()),
        password.as_bytes(),
        keys(),
    )
    .unwrap();
    let mut open = |key: &str| {
        values
            .get(key)
            .map(|v| cipher.decrypt(v).unwrap().value.expose().clone())
    };
    let access = open("access_token");
    let refresh = open("refresh_token");
    let expiry = values
        .get("access_token_expiry")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(Plain {
        access: access.map(|token| (token, expiry)),
        refresh,
    })
}

/// The stored tokens of `username`, decrypted with `password`.
pub(crate) async fn peek(
    storage: &dyn TokenStorage,
    username: &str,
    password: &str,
) -> Option<Plain> {
    decrypted(&storage.load().await.unwrap(), username, password)
}

/// Whether `program` is on `PATH`. A test whose server is missing is skipped, saying how to
/// install it (`install`), unless `MAILGATE_REQUIRE_TEST_SERVERS` is set: then the absence is
/// a failure.
pub(crate) fn test_server_installed(program: &str, install: &str) -> bool {
    let installed = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join(program).is_file());
    if !installed {
        assert!(
            std::env::var_os("MAILGATE_REQUIRE_TEST_SERVERS").is_none(),
            "{program} is not installed ({install}) and MAILGATE_REQUIRE_TEST_SERVERS is set"
        );
        eprintln!("skipped: {program} is not installed ({install})");
    }
    installed
}

/// A loopback TCP port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
