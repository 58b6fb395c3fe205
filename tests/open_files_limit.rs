//! `mailgate` raises its soft limit on open files to the hard limit when it starts serving:
//! run under `prlimit --nofile=256:4096`, it serves with 4096.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Running, free_port};

/// The soft and hard "Max open files" of process `pid`.
fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let mut values = line["Max open files".len()..].split_whitespace();
    (
        values.next().unwrap().to_owned(),
        values.next().unwrap().to_owned(),
    )
}

#[test]
fn serving_raises_the_soft_open_files_limit_to_the_hard_limit() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("emailproxy.config");
    std::fs::write(
        &config,
        format!("[IMAP-{port}]\nserver_address = localhost\nserver_port = 993\nlocal_address = 127.0.0.1\n"),
    )
    .unwrap();
    // `prlimit` sets the limits and then executes mailgate in the same process.
    let mut running = Running(
        Command::new("prlimit")
            .arg("--nofile=256:4096")
            .arg(env!("CARGO_BIN_EXE_mailgate"))
            .arg("--config-file")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prlimit (util-linux) runs"),
    );
    let pid = running.0.id();
    // Serving: the listener accepts connections.
    let mut listening = false;
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            listening = true;
            break;
        }
        assert!(
            running.0.try_wait().unwrap().is_none(),
            "mailgate exited before serving"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(listening, "mailgate did not start listening on port {port}");
    assert_eq!(
        open_files_limits(pid),
        ("4096".to_owned(), "4096".to_owned())
    );
}
