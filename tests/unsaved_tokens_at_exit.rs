//! Tokens the disk refused to store (the login went on with them in memory) get one last write
//! when `mailgate` stops on SIGTERM; if the disk still refuses them, the log names the accounts
//! whose new tokens are lost. The disk here is a `--cache-store` in a directory that does not
//! exist yet: every write fails with "no such file or directory" until the test creates it.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../crates/mailgate-proxy/tests/common/mod.rs"]
mod common;
#[path = "../crates/mailgate-proxy/tests/secret_scan/mod.rs"]
mod secret_scan;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::Pki;
use mailgate_test_support::MockOAuthServer;
use secret_scan::{Form, UpstreamState, imap, imap_upstream, token_reply};
use support::{Running, free_port, wait_for};

const USER: &str = "notify@example.com";
const PASSWORD: &str = "local password";
const LOST: &str = "Unable to save the new tokens of account(s) notify@example.com before stopping";

/// Starts the proxy with its tokens in `cache`, logs in once and stops it with SIGTERM after
/// `before_stop` has run; returns the log.
async fn login_then_stop(cache: &Path, before_stop: impl FnOnce()) -> String {
    let pki = Pki::new();
    let oauth = MockOAuthServer::start().await.unwrap();
    oauth.set_default_token_reply(token_reply(3600));
    let upstream = imap_upstream(&pki, Arc::new(UpstreamState::default())).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("emailproxy.config");
    let log = dir.path().join("mailgate.log");
    std::fs::write(
        &config,
        format!(
            "[IMAP-{port}]\nserver_address = localhost\nserver_port = {}\nlocal_address = 127.0.0.1\n\
             server_ca_file = {}\n\n\
             [{USER}]\ntoken_url = {}\noauth2_scope = mail\noauth2_flow = client_credentials\n\
             client_id = app\nclient_secret = app-secret\n",
            upstream.port(),
            pki.ca_file.display(),
            oauth.token_url(),
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailgate"));
    command
        .arg("--config-file")
        .arg(&config)
        .arg("--cache-store")
        .arg(cache)
        .arg("--log-file")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for proxy in ["http_proxy", "https_proxy", "all_proxy"] {
        command.env_remove(proxy).env_remove(proxy.to_uppercase());
    }
    let mut running = Running(command.spawn().unwrap());
    wait_for(port).await;

    let reply = imap(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Form::Password,
        USER,
        PASSWORD,
    )
    .await;
    assert!(reply.starts_with("a1 OK"), "{reply}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("unable to save the account's new tokens"),
        "the refused write is not logged:\n{logged}"
    );
    assert!(!cache.exists());

    before_stop();
    let pid = rustix::process::Pid::from_raw(i32::try_from(running.0.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let mut status = None;
    for _ in 0..1000 {
        status = running.0.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(status.is_some_and(|status| status.success()), "{status:?}");
    std::fs::read_to_string(&log).unwrap()
}

fn missing_directory() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("not-yet").join("tokens.cache");
    (dir, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_disk_accepts_by_then_are_saved_at_exit() {
    let (_dir, cache) = missing_directory();
    let parent = cache.parent().unwrap().to_owned();
    let log = login_then_stop(&cache, || std::fs::create_dir(&parent).unwrap()).await;
    assert!(!log.contains(LOST), "{log}");
    let stored = std::fs::read_to_string(&cache).unwrap();
    assert!(stored.contains(&format!("[{USER}]")), "{stored}");
    assert!(stored.contains("access_token = "), "{stored}");
    assert!(
        !stored.contains("AT-ZQX-"),
        "tokens are stored encrypted: {stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_disk_still_refuses_at_exit_are_reported_lost() {
    let (_dir, cache) = missing_directory();
    let log = login_then_stop(&cache, || {}).await;
    assert!(log.contains(LOST), "{log}");
    assert!(!cache.exists());
}
