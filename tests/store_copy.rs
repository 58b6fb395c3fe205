//! `mailgate store copy` between a file and Redis (a real `redis-server`, started on a free
//! loopback port; skipped, saying so, when it is not installed), and the start-up error of a
//! store this build does not support (`cargo test --no-default-features`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::{Command, Output};

fn mailgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailgate"))
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[cfg(feature = "redis")]
const CACHE: &str = "[alice@example.com]\naccess_token = gAAAAAB-alice-access\n\
access_token_expiry = 1900000000\nrefresh_token = gAAAAAB-alice-refresh\n\
token_iterations = 1200000\ntoken_salt = c2FsdHNhbHQ=\n\n\
[bob@example.com]\nrefresh_token = gAAAAAB-bob-refresh\n";

#[test]
fn an_unsupported_store_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("emailproxy.config");
    std::fs::write(
        &config,
        "[IMAP-1993]\nserver_address = 127.0.0.1\nserver_port = 1\n",
    )
    .unwrap();
    let mut stores = Vec::new();
    if cfg!(not(feature = "aws")) {
        stores.push("aws:mailgate-tokens");
    }
    if cfg!(not(feature = "redis")) {
        stores.push("redis://user:hunter2@127.0.0.1:1/0");
    }
    for store in stores {
        let output = mailgate(&[
            "--config-file",
            config.to_str().unwrap(),
            "--cache-store",
            store,
        ]);
        assert_eq!(output.status.code(), Some(78), "{}", text(&output));
        let said = text(&output);
        assert!(said.contains("built without support"), "{said}");
        assert!(!said.contains("hunter2"), "{said}");
    }
}

#[cfg(feature = "redis")]
#[test]
fn store_copy_moves_every_account_between_a_file_and_redis_unchanged() {
    use std::net::TcpListener;
    use std::process::Stdio;

    if !std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("redis-server").is_file())
    {
        eprintln!("skipped: redis-server is not installed (Debian package redis-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--requirepass", "hunter2"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/4");
    let source = dir.path().join("tokens.config");
    std::fs::write(&source, CACHE).unwrap();
    // Bounded wait until the server answers.
    let mut copied = None;
    for _ in 0..200 {
        let output = mailgate(&[
            "store",
            "copy",
            "--from",
            source.to_str().unwrap(),
            "--to",
            &url,
        ]);
        if output.status.success() {
            copied = Some(output);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let copied = copied.expect("the copy to Redis succeeded");
    let said = text(&copied);
    assert!(said.contains("Copied 2 account(s)"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");

    let back = dir.path().join("back.config");
    let output = mailgate(&[
        "store",
        "copy",
        "--from",
        &url,
        "--to",
        back.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(std::fs::read_to_string(&back).unwrap(), CACHE);

    // A wrong password is an error that does not show the password.
    let wrong = format!("redis://:wrong-pw-77@127.0.0.1:{port}/4");
    let output = mailgate(&[
        "store",
        "copy",
        "--from",
        &wrong,
        "--to",
        back.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(!text(&output).contains("wrong-pw-77"), "{}", text(&output));
    let _ = server.kill();
    let _ = server.wait();
}
