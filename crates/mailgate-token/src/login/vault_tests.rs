//! Unlocking cached tokens at login: rotation, the wrong-password policy of the Python
//! email-oauth2-proxy, client secret handling and the failure back-off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use super::backoff::RESET_COOLDOWN_SECS;
use super::vault::{
    ClientSecretSource, Denied, TokenVault, Unlock, UnlockedAccount, refresh_rejected_changes,
};
use crate::config::{AccountCache, AccountConfig, CacheKey, ProxyConfig};
use crate::crypto::{AccountCipher, DerivedKeyCache};

const NOW: u64 = 1_800_000_000;
const SALT_B: &str = "AAECAwQFBgcICQoLDA0ODw==";
const TOKEN_B: &str = "gAAAAABlU_EAAAAAAAAAAAAAAAAAAAAAANEObGvxgzJ0ScciEZwNNSJV_K4CGQz0FdDIjhDEwiG7c3PwFWCx2CKsRtY4sKokz1VGMV8ABfKiDWjFNEzydwg=";

fn config(global: &str, account: &str) -> ProxyConfig {
    ProxyConfig::parse(&format!(
        "[emailproxy]\n{global}\n[user@example.com]\ntoken_url = https://t.example/token\nclient_id = id\noauth2_scope = s\n{account}"
    ))
    .unwrap()
}

fn vault(config: &ProxyConfig) -> TokenVault {
    TokenVault::new(*config.global()).unwrap()
}

fn account(config: &ProxyConfig) -> AccountConfig {
    config.resolve_account("user@example.com").unwrap()
}

/// Encrypts an access token (valid for an hour) and a refresh token with `password`.
fn cache_with_tokens(password: &[u8]) -> AccountCache {
    let mut cipher = AccountCipher::new(
        "user@example.com",
        None,
        None,
        password,
        Arc::new(DerivedKeyCache::new(4).unwrap()),
    )
    .unwrap();
    AccountCache {
        access_token: Some(cipher.encrypt("AT", NOW).unwrap()),
        access_token_expiry: Some(NOW + 3600),
        refresh_token: Some(cipher.encrypt("RT", NOW).unwrap()),
        token_salt: Some(cipher.salt()),
        token_iterations: Some(i64::from(cipher.iterations().get())),
        ..AccountCache::default()
    }
}

fn unlocked(outcome: Unlock) -> UnlockedAccount {
    match outcome {
        Unlock::Unlocked(account) => account,
        other => panic!("expected Unlocked, got {other:?}"),
    }
}

#[test]
fn legacy_entries_are_rotated_and_later_logins_skip_the_kdf() {
    let mut config = config("", "permission_url = https://p.example/auth\n");
    let mut changes = crate::config::CacheChanges::new();
    changes
        .set(CacheKey::TokenSalt, SALT_B)
        .set(CacheKey::RefreshToken, TOKEN_B);
    config.apply_cache_changes("user@example.com", &changes);
    let vault = vault(&config);
    let mut first = unlocked(vault.unlock(
        &account(&config),
        &config.account_cache("user@example.com"),
        b"correct horse",
        NOW,
    ));
    assert_eq!(
        first.refresh_token().unwrap().expose(),
        "refresh-token-example"
    );
    assert!(first.usable_access_token(NOW).is_none());
    let rotation = first.take_pending_changes();
    let keys: Vec<_> = rotation.iter().map(|c| c.key()).collect();
    assert_eq!(
        keys,
        vec![CacheKey::RefreshToken, CacheKey::TokenIterations]
    );
    config.apply_cache_changes("user@example.com", &rotation);
    assert_eq!(
        config.account_cache("user@example.com").token_iterations,
        Some(1_200_000)
    );

    let mut second = unlocked(vault.unlock(
        &account(&config),
        &config.account_cache("user@example.com"),
        b"correct horse",
        NOW + 5,
    ));
    assert!(
        second.take_pending_changes().is_empty(),
        "nothing left to rotate"
    );
    assert_eq!(
        second.refresh_token().unwrap().expose(),
        "refresh-token-example"
    );
    assert_eq!(
        second.cipher().derivations(),
        0,
        "the derived key is cached"
    );
}

#[test]
fn wrong_password_resets_tokens_once_then_backs_off() {
    let config = config("", "permission_url = https://p.example/auth\n");
    let vault = vault(&config);
    let cache = cache_with_tokens(b"right");
    let account = account(&config);
    assert_eq!(
        unlocked(vault.unlock(&account, &cache, b"right", NOW))
            .usable_access_token(NOW)
            .unwrap()
            .expose(),
        "AT"
    );

    let Unlock::Reset(mut reset) = vault.unlock(&account, &cache, b"typo", NOW) else {
        panic!("reset expected")
    };
    // Nothing is deleted at unlock: the stored tokens stay until new ones replace them.
    assert!(reset.take_pending_changes().is_empty());
    assert!(reset.access_token().is_none() && reset.refresh_token().is_none());
    // Storing the new authorisation's tokens is not a failed login (no throttling), and
    // they are encrypted with the new password (trust on first use).
    let Unlock::Reset(mut reset) = vault.unlock_for_new_tokens(&account, &cache, b"typo", NOW)
    else {
        panic!("reset expected")
    };
    let stored = reset
        .store_tokens("AT-new", Some(3599), Some("RT-new"), NOW)
        .unwrap();
    let mut config2 = config.clone();
    config2.apply_cache_changes("user@example.com", &stored);
    let fresh_cache = config2.account_cache("user@example.com");
    assert_eq!(fresh_cache.access_token_expiry, Some(NOW + 3599));

    // A second wrong password within the cool-down keeps the (old) tokens.
    assert!(matches!(
        vault.unlock(&account, &cache, b"typo2", NOW),
        Unlock::Denied(Denied::ResetCoolingDown {
            retry_after_secs: RESET_COOLDOWN_SECS
        })
    ));
    // The flood is now refused without key derivation.
    assert!(matches!(
        vault.unlock(&account, &cache, b"typo3", NOW),
        Unlock::Throttled {
            retry_after_secs: 1
        }
    ));
    // After the cool-down the new password works and the back-off clears.
    let later = NOW + RESET_COOLDOWN_SECS;
    let account_now = unlocked(vault.unlock(&account, &fresh_cache, b"typo", later));
    assert_eq!(account_now.access_token().unwrap().expose(), "AT-new");
    assert_eq!(account_now.refresh_token().unwrap().expose(), "RT-new");
}

#[test]
fn tokens_are_kept_when_the_policy_is_off_or_the_flow_is_unattended() {
    let cache = cache_with_tokens(b"right");
    let cases = [
        (
            "delete_account_token_on_password_error = False",
            "permission_url = https://p.example/auth\n",
        ),
        ("", "oauth2_flow = client_credentials\n"),
        ("", "oauth2_flow = service_account\n"),
    ];
    for (global, extra) in cases {
        let config = config(global, extra);
        let outcome = vault(&config).unlock(&account(&config), &cache, b"wrong", NOW);
        assert!(
            matches!(outcome, Unlock::Denied(Denied::WrongPassword)),
            "{global} {extra}: {outcome:?}"
        );
    }
    // The password grant has no permission_url but is not exempt.
    let config = config("", "oauth2_flow = password\n");
    assert!(matches!(
        vault(&config).unlock(&account(&config), &cache, b"wrong", NOW),
        Unlock::Reset(_)
    ));
}

#[test]
fn client_secret_handling() {
    // encrypt_client_secret_on_first_use moves the secret to client_secret_encrypted.
    let config = config(
        "encrypt_client_secret_on_first_use = True",
        "oauth2_flow = client_credentials\nclient_secret = s3cret\n",
    );
    let vault = vault(&config);
    let mut account_state =
        unlocked(vault.unlock(&account(&config), &AccountCache::default(), b"pw", NOW));
    assert_eq!(
        account_state.client_secret_source(),
        ClientSecretSource::Config
    );
    let changes = account_state.store_tokens("AT", None, None, NOW).unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.key() == CacheKey::ClientSecretEncrypted)
    );
    assert!(changes.iter().any(|c| matches!(
        c,
        crate::config::CacheChange::Remove(CacheKey::ClientSecret)
    )));
    let mut config2 = config.clone();
    config2.apply_cache_changes("user@example.com", &changes);
    let text_without_plain = config2.account_cache("user@example.com");
    let mut stripped = account(&config2);
    stripped.client_secret = None;
    let again = unlocked(vault.unlock(&stripped, &text_without_plain, b"pw", NOW + 1));
    assert_eq!(again.client_secret().unwrap().expose(), "s3cret");
    assert_eq!(again.client_secret_source(), ClientSecretSource::Encrypted);
    // A wrong password never resets an encrypted secret.
    let outcome = vault.unlock(&stripped, &text_without_plain, b"nope", NOW + 2);
    assert!(
        matches!(outcome, Unlock::Denied(Denied::ClientSecretUndecryptable)),
        "{outcome:?}"
    );

    // use_login_password_as_client_credentials_secret: the password is the secret, and never stored.
    let config = self::config(
        "use_login_password_as_client_credentials_secret = True\nencrypt_client_secret_on_first_use = True",
        "oauth2_flow = client_credentials\n",
    );
    let vault = self::vault(&config);
    let mut state = unlocked(vault.unlock(
        &account(&config),
        &AccountCache::default(),
        b"app-secret",
        NOW,
    ));
    assert_eq!(state.client_secret().unwrap().expose(), "app-secret");
    assert_eq!(
        state.client_secret_source(),
        ClientSecretSource::LoginPassword
    );
    let changes = state.store_tokens("AT", Some(60), None, NOW).unwrap();
    assert!(
        changes
            .iter()
            .all(|c| c.key() != CacheKey::ClientSecretEncrypted)
    );
    // Not for other flows.
    let config = self::config(
        "use_login_password_as_client_credentials_secret = True",
        "oauth2_flow = password\n",
    );
    let state = unlocked(self::vault(&config).unlock(
        &account(&config),
        &AccountCache::default(),
        b"pw",
        NOW,
    ));
    assert!(state.client_secret().is_none());
}

#[test]
fn refresh_rejection_two_strikes() {
    let first: Vec<_> = refresh_rejected_changes(true)
        .iter()
        .map(|c| c.key())
        .collect();
    assert_eq!(
        first,
        vec![CacheKey::AccessToken, CacheKey::AccessTokenExpiry]
    );
    let second: Vec<_> = refresh_rejected_changes(false)
        .iter()
        .map(|c| c.key())
        .collect();
    assert_eq!(second.len(), 5);
    assert!(second.contains(&CacheKey::RefreshToken) && second.contains(&CacheKey::TokenSalt));
}

#[test]
fn expiry_margin() {
    let config = config("", "permission_url = https://p.example/auth\n");
    let vault = vault(&config);
    let cache = cache_with_tokens(b"pw");
    let state = unlocked(vault.unlock(&account(&config), &cache, b"pw", NOW));
    assert!(state.usable_access_token(NOW + 3000).is_some());
    assert!(
        state.usable_access_token(NOW + 3001).is_none(),
        "less than 600 s left"
    );
    // Near expiry the refresh token is what the password is checked against.
    let state = unlocked(vault.unlock(&account(&config), &cache, b"pw", NOW + 3500));
    assert_eq!(state.refresh_token().unwrap().expose(), "RT");
}

/// A parallel burst of different wrong passwords for one account meets the back-off that its
/// first attempts record: at most two are tried (the first failure costs nothing extra, the
/// second blocks the account), the rest are refused without key derivation.
#[test]
fn a_parallel_burst_of_wrong_passwords_meets_the_back_off() {
    let config = config("", "oauth2_flow = client_credentials\n");
    let vault = Arc::new(vault(&config));
    let account = Arc::new(account(&config));
    let cache = Arc::new(cache_with_tokens(b"right"));
    let start = Arc::new(std::sync::Barrier::new(12));
    let attempts: Vec<_> = (0..12)
        .map(|n| {
            let (vault, account, cache, start) = (
                Arc::clone(&vault),
                Arc::clone(&account),
                Arc::clone(&cache),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                start.wait();
                vault.unlock(&account, &cache, format!("wrong-{n}").as_bytes(), NOW)
            })
        })
        .collect();
    let outcomes: Vec<Unlock> = attempts.into_iter().map(|t| t.join().unwrap()).collect();
    let tried = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Unlock::Denied(Denied::WrongPassword)))
        .count();
    let throttled = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Unlock::Throttled { .. }))
        .count();
    assert_eq!((tried, throttled), (2, 10), "{outcomes:?}");
    // The right password waits out the back-off like any other.
    assert!(matches!(
        vault.unlock(&account, &cache, b"right", NOW),
        Unlock::Throttled { .. }
    ));
    assert!(matches!(
        vault.unlock(&account, &cache, b"right", NOW + 2),
        Unlock::Unlocked(_)
    ));
}
