//! Tokens made by the Python email-oauth2-proxy decrypt byte for byte; rotation upgrades them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mailgate_token::crypto::{
    AccountCipher, DerivedKeyCache, ITERATIONS, LEGACY_ITERATIONS, token_timestamp,
};

const SALT_A: &str = "xHZvuCRYV8aFu2Tpzz58uA==";
const TOKEN_A: &str = "gAAAAABrCuQlkTkGnaH7Sa2psTHBjIisHNU_-aZgJ4bS-ooVRSZ2nSfpeE98BrLc-sXXb5eXrXsqr_4Oa8IJ8MDXH3RZDP9bAQ==";
const SALT_B: &str = "AAECAwQFBgcICQoLDA0ODw==";
const TOKEN_B: &str = "gAAAAABlU_EAAAAAAAAAAAAAAAAAAAAAANEObGvxgzJ0ScciEZwNNSJV_K4CGQz0FdDIjhDEwiG7c3PwFWCx2CKsRtY4sKokz1VGMV8ABfKiDWjFNEzydwg=";

fn cache() -> Arc<DerivedKeyCache> {
    Arc::new(DerivedKeyCache::new(64).unwrap())
}

#[test]
fn vector_a_current_iterations() {
    let mut cipher = AccountCipher::new(
        "a@example.com",
        Some(SALT_A),
        Some(1_200_000),
        b"pw1",
        cache(),
    )
    .unwrap();
    let decrypted = cipher.decrypt(TOKEN_A).unwrap();
    assert_eq!(decrypted.value.expose(), "AT-1");
    assert_eq!(decrypted.iterations.get(), ITERATIONS);
    assert!(!decrypted.needs_rotation);
    assert_eq!(cipher.derivations(), 1);

    let mut wrong = AccountCipher::new(
        "a@example.com",
        Some(SALT_A),
        Some(1_200_000),
        b"wrong",
        cache(),
    )
    .unwrap();
    assert!(wrong.decrypt(TOKEN_A).is_err());
    assert_eq!(
        wrong.derivations(),
        2,
        "1.2M and the legacy 100k are both tried"
    );
}

#[test]
fn vector_b_legacy_iterations_and_rotation() {
    let shared = cache();
    let mut cipher = AccountCipher::new(
        "b@example.com",
        Some(SALT_B),
        None,
        b"correct horse",
        shared.clone(),
    )
    .unwrap();
    let decrypted = cipher.decrypt(TOKEN_B).unwrap();
    assert_eq!(decrypted.value.expose(), "refresh-token-example");
    assert_eq!(decrypted.iterations.get(), LEGACY_ITERATIONS);
    assert!(decrypted.needs_rotation);

    let rotated = cipher
        .rotate(TOKEN_B)
        .unwrap()
        .expect("legacy entries rotate");
    assert_eq!(
        token_timestamp(&rotated),
        token_timestamp(TOKEN_B),
        "rotation keeps the timestamp"
    );
    assert_eq!(cipher.iterations().get(), ITERATIONS);

    // A new cipher (a later login) reads the rotated value with the 1.2M key, from the cache.
    let mut later = AccountCipher::new(
        "b@example.com",
        Some(SALT_B),
        Some(1_200_000),
        b"correct horse",
        shared,
    )
    .unwrap();
    let again = later.decrypt(&rotated).unwrap();
    assert_eq!(again.value.expose(), "refresh-token-example");
    assert!(!again.needs_rotation);
    assert_eq!(later.derivations(), 0, "the cached key is reused");
    assert!(later.rotate(&rotated).unwrap().is_none());

    // The Python email-oauth2-proxy reads our rotated value too: same key derivation, same Fernet framing.
    let mut fresh = AccountCipher::new(
        "b@example.com",
        Some(SALT_B),
        Some(1_200_000),
        b"correct horse",
        cache(),
    )
    .unwrap();
    assert_eq!(
        fresh.decrypt(&rotated).unwrap().value.expose(),
        "refresh-token-example"
    );
    let mut wrong = AccountCipher::new(
        "b@example.com",
        Some(SALT_B),
        None,
        b"Correct horse",
        cache(),
    )
    .unwrap();
    assert!(wrong.decrypt(TOKEN_B).is_err());
}

#[test]
fn encrypt_then_decrypt_with_a_new_login() {
    let mut cipher = AccountCipher::new("c@example.com", None, None, b"pw", cache()).unwrap();
    let token = cipher.encrypt("AT-2", 1_700_000_000).unwrap();
    assert_eq!(token_timestamp(&token), Some(1_700_000_000));
    let salt = cipher.salt();
    let mut login = AccountCipher::new(
        "c@example.com",
        Some(&salt),
        Some(i64::from(cipher.iterations().get())),
        b"pw",
        cache(),
    )
    .unwrap();
    assert_eq!(login.decrypt(&token).unwrap().value.expose(), "AT-2");
}
