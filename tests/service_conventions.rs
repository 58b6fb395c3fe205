//! The conventions of a Unix daemon, on the real binary: no colour escapes where standard error
//! is not a terminal, exit status by cause (78 for a configuration error, 69 for an address
//! that cannot be bound), the log file reopened on SIGHUP (logrotate), systemd notifications
//! (READY=1, RELOADING=1, STOPPING=1, STATUS=) and the configuration file found without
//! `--config-file`.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{Running, free_port};

/// A configuration with one IMAP listener on `port` (the upstream is never contacted).
fn config(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("emailproxy.config");
    std::fs::write(
        &path,
        format!(
            "[IMAP-{port}]\nserver_address = imap.example.com\nserver_port = 993\n\
             local_address = 127.0.0.1\n"
        ),
    )
    .unwrap();
    path
}

fn mailgate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailgate"));
    command
        .stdin(Stdio::null())
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("MAILGATE_CONFIG")
        .env_remove("MAILGATE_LOG")
        .env_remove("NO_COLOR");
    command
}

fn signal(child: &Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}

/// Waits (bounded) until `port` accepts connections.
fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mailgate did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) until `path` contains `needle`; returns its text.
fn wait_for_text(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never contained {needle:?}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) for the child to exit; its output.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "mailgate did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn standard_error_on_a_pipe_gets_no_colour_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port);
    let child = mailgate()
        .arg("--config-file")
        .arg(&config)
        .arg("--debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port);
    // A session (its upstream does not exist): its lines keep the plain format, without the
    // structured session fields meant for the journal.
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reply = String::new();
    let _ = std::io::Read::read_to_string(&mut client, &mut reply);
    assert!(reply.starts_with("* BYE "), "{reply}");
    signal(&child, rustix::process::Signal::TERM);
    let output = finish(child);
    assert!(output.status.success(), "{output:?}");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("Initialised mailgate"), "{log}");
    assert!(log.contains(" DEBUG "), "{log}");
    assert!(log.contains("Closing connection"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour escapes on a pipe:\n{log}");
    assert!(!log.contains("session{"), "{log}");
}

#[test]
fn a_broken_configuration_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.config");
    std::fs::write(
        &broken,
        "[IMAP-notaport]\nserver_address = imap.example.com\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.config");
    for file in [&broken, &missing] {
        let serve = mailgate().arg("--config-file").arg(file).output().unwrap();
        assert_eq!(serve.status.code(), Some(78), "{serve:?}");
        let check = mailgate()
            .arg("--config-file")
            .arg(file)
            .arg("check")
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(78), "{check:?}");
    }
    let level = mailgate()
        .arg("--config-file")
        .arg(&broken)
        .args(["--log-level", "info,=nonsense["])
        .output()
        .unwrap();
    assert_eq!(level.status.code(), Some(78), "{level:?}");
    assert!(
        String::from_utf8_lossy(&level.stderr).contains("invalid log level"),
        "{level:?}"
    );
}

#[test]
fn an_address_in_use_exits_69() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = config(dir.path(), port);
    let output = mailgate()
        .arg("--config-file")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(69), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("unable to listen on 127.0.0.1:"),
        "{output:?}"
    );
}

#[test]
fn the_log_file_is_reopened_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port);
    let log = dir.path().join("mailgate.log");
    let rotated = dir.path().join("mailgate.log.1");
    let child = mailgate()
        .arg("--config-file")
        .arg(&config)
        .arg("--log-file")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for_port(port);
    wait_for_text(&log, "Initialised mailgate");
    // logrotate's default: move the file away, then signal.
    std::fs::rename(&log, &rotated).unwrap();
    signal(&running.0, rustix::process::Signal::HUP);
    let new = wait_for_text(&log, "Reloading configuration");
    assert!(new.contains("Reopened the log file"), "{new}");
    assert!(!new.contains("Initialised mailgate"), "{new}");
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("Initialised mailgate"), "{old}");
    assert!(!old.contains("Reloading configuration"), "{old}");
}

/// The datagrams mailgate sends to `socket` within the bound (until one has the line `until`);
/// fails with the proxy's output if it exits first.
fn notifications(socket: &UnixDatagram, child: &mut Child, until: &str) -> Vec<String> {
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        match socket.recv(&mut buffer) {
            Ok(n) => {
                let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let done = message.lines().any(|line| line == until);
                received.push(message);
                if done {
                    return received;
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut stderr = String::new();
                    if let Some(pipe) = child.stderr.as_mut() {
                        let _ = std::io::Read::read_to_string(pipe, &mut stderr);
                    }
                    panic!(
                        "mailgate exited ({status}) before {until}; received {received:?}:\n{stderr}"
                    );
                }
            }
            Err(error) => panic!("{error}"),
        }
    }
    panic!("no {until} within the bound; received {received:?}");
}

#[test]
fn systemd_is_told_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config(dir.path(), port);
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = mailgate()
        .arg("--config-file")
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = notifications(&socket, &mut child, "READY=1");
    let last = ready.last().unwrap();
    assert!(
        last.lines()
            .any(|line| line == "STATUS=1 listener, 0 open sessions"),
        "{ready:?}"
    );
    // READY=1 comes once the listener is bound.
    std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();

    signal(&child, rustix::process::Signal::HUP);
    let reload = notifications(&socket, &mut child, "READY=1");
    let reloading = reload
        .iter()
        .position(|message| message.lines().any(|line| line == "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 in {reload:?}"));
    assert!(
        reload[reloading]
            .lines()
            .any(|line| line.starts_with("MONOTONIC_USEC=")),
        "{reload:?}"
    );
    assert!(reloading < reload.len() - 1, "{reload:?}");

    signal(&child, rustix::process::Signal::TERM);
    notifications(&socket, &mut child, "STOPPING=1");
    let output = finish(child);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_configuration_is_found_without_config_file() {
    let work = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::create_dir(xdg.path().join("mailgate")).unwrap();
    let user_config = config(&xdg.path().join("mailgate"), port);
    let check = |extra: &[(&str, &Path)]| {
        let mut command = mailgate();
        command
            .current_dir(work.path())
            .arg("check")
            .env("XDG_CONFIG_HOME", xdg.path());
        for (name, value) in extra {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let found = check(&[]);
    assert!(
        found.contains(&format!(
            "Configuration: {} (found in the user's configuration directory)",
            user_config.display()
        )),
        "{found}"
    );
    let named_dir = tempfile::tempdir().unwrap();
    let named = config(named_dir.path(), free_port());
    let from_env = check(&[("MAILGATE_CONFIG", &named)]);
    assert!(
        from_env.contains(&format!(
            "Configuration: {} (named by MAILGATE_CONFIG)",
            named.display()
        )),
        "{from_env}"
    );
    // The working directory's file, where the Python email-oauth2-proxy looks, comes first.
    config(work.path(), free_port());
    let here = check(&[]);
    assert!(
        here.contains("Configuration: emailproxy.config (found in the working directory)"),
        "{here}"
    );
}
