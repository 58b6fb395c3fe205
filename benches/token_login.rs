//! The token store's share of a login through the public API: a login whose access token is
//! cached and fresh (no token request), with the derived key cached (every login after the
//! first) and without (the first login, or every login of the Python email-oauth2-proxy).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mailgate_token::SecretString;
use mailgate_token::config::{CacheChanges, CacheKey, ProxyConfig};
use mailgate_token::crypto::{AccountCipher, DerivedKeyCache};
use mailgate_token::login::LoginManager;
use mailgate_token::store::{MemoryStorage, TokenStorage};
use mailgate_token::transport::HttpClient;

const NOW: u64 = 1_800_000_000;
const USER: &str = "user@example.com";

fn login(c: &mut Criterion) {
    let config = Arc::new(
        ProxyConfig::parse(
            "[user@example.com]\npermission_url = https://p.example/auth\ntoken_url = https://p.example/token\n\
             client_id = id\noauth2_scope = https://mail.example/.default offline_access\n",
        )
        .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Tokens as a first login leaves them: encrypted with the password, valid for an hour.
    let storage = Arc::new(MemoryStorage::new());
    let mut cipher = AccountCipher::new(
        USER,
        None,
        None,
        b"pw",
        Arc::new(DerivedKeyCache::new(1).unwrap()),
    )
    .unwrap();
    let access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.".repeat(40);
    let mut changes = CacheChanges::new();
    changes
        .set(CacheKey::TokenSalt, cipher.salt())
        .set(CacheKey::TokenIterations, cipher.iterations().to_string())
        .set(CacheKey::AccessToken, cipher.encrypt(&access, NOW).unwrap())
        .set(CacheKey::AccessTokenExpiry, (NOW + 3600).to_string())
        .set(
            CacheKey::RefreshToken,
            cipher.encrypt("refresh-token", NOW).unwrap(),
        );
    runtime.block_on(storage.apply(USER, &changes)).unwrap();
    let manager = || {
        LoginManager::new(
            Arc::clone(&config),
            Arc::clone(&storage) as Arc<dyn TokenStorage>,
            HttpClient::new(Default::default()).unwrap(),
        )
        .unwrap()
        .with_clock(|| NOW + 10)
    };
    let password = SecretString::from("pw");

    let mut group = c.benchmark_group("token_login");
    let warm = manager();
    runtime.block_on(warm.login(USER, &password)).unwrap();
    group.bench_function("cached_key", |b| {
        b.iter(|| {
            let login = runtime.block_on(warm.login(USER, black_box(&password)));
            black_box(login.unwrap().expires_at)
        });
    });
    group.sample_size(10);
    group.bench_function("no_cached_key", |b| {
        b.iter_batched(
            manager,
            |fresh| {
                let login = runtime.block_on(fresh.login(USER, black_box(&password)));
                black_box(login.unwrap().expires_at)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, login);
criterion_main!(benches);
