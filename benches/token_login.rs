//! The store's share of a login: decrypting a cached account's access token, with the
//! derived key cached (every login after the first) and without (the first login, or
//! every login of the Python email-oauth2-proxy).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mailgate_token::config::ProxyConfig;
use mailgate_token::store::{TokenVault, Unlock};

const NOW: u64 = 1_800_000_000;

fn login(c: &mut Criterion) {
    let mut config = ProxyConfig::parse(
        "[user@example.com]\npermission_url = https://p.example/auth\ntoken_url = https://p.example/token\n\
         client_id = id\noauth2_scope = https://mail.example/.default offline_access\n",
    )
    .unwrap();
    let account = config.resolve_account("user@example.com").unwrap();
    // Obtain tokens once, as a first login does, and keep them in the configuration.
    let vault = TokenVault::new(*config.global()).unwrap();
    let Unlock::Unlocked(mut first) = vault.unlock(
        &account,
        &config.account_cache("user@example.com"),
        b"pw",
        NOW,
    ) else {
        panic!("first login")
    };
    let access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.".repeat(40);
    let changes = first
        .store_tokens(&access, Some(3600), Some("refresh-token"), NOW)
        .unwrap();
    config.apply_cache_changes("user@example.com", &changes);
    let cache = config.account_cache("user@example.com");

    let mut group = c.benchmark_group("token_login");
    group.bench_function("cached_key", |b| {
        b.iter(
            || match vault.unlock(&account, &cache, black_box(b"pw"), NOW + 10) {
                Unlock::Unlocked(state) => black_box(state.usable_access_token(NOW + 10).is_some()),
                other => panic!("{other:?}"),
            },
        );
    });
    group.sample_size(10);
    group.bench_function("no_cached_key", |b| {
        b.iter_batched(
            || TokenVault::new(*config.global()).unwrap(),
            |fresh| match fresh.unlock(&account, &cache, black_box(b"pw"), NOW + 10) {
                Unlock::Unlocked(state) => black_box(state.usable_access_token(NOW + 10).is_some()),
                other => panic!("{other:?}"),
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, login);
criterion_main!(benches);
