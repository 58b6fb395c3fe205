//! The `mailgate` binary with `--debug` and a log file, in text and in JSON (the JSON run keeps
//! its tokens in a `--cache-store` file): logins of every protocol, relayed traffic, a wrong
//! password, the client credentials grant, the authorization code flow completed through the
//! redirect listener with the URL the log shows, the refresh of an expired token and a token the
//! server revoked. Afterwards the log file, the program's standard output and error and every
//! file the proxy wrote next to the configuration are searched for each secret (see
//! `secret_scan`); the token file must be mode 0600 and the redirect listener bound to 127.0.0.1
//! only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../crates/mailgate-proxy/tests/common/mod.rs"]
mod common;
#[path = "../crates/mailgate-proxy/tests/secret_scan/mod.rs"]
mod secret_scan;
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::Pki;
use mailgate_test_support::MockOAuthServer;
use secret_scan::*;
use support::{Running, free_port, wait_for};

const CC_USER: &str = "cc-account@example.com";
const CC_PASSWORD: &str = "PW-ZQX-cc-login-password-7f3a";
const CC_SECRET: &str = "CS-ZQX-cc-client-secret-2b8d";
const CODE_USER: &str = "code-account@example.com";
const CODE_PASSWORD: &str = "PW-ZQX-code-login-password-91be";
const CODE_SECRET: &str = "CS-ZQX-code-client-secret-44a1";
const AUTH_CODE: &str = "AC-ZQX-authorization-code-e9f2";
const WRONG_PASSWORD: &str = "PW-ZQX-wrong-login-password-5e6f";
/// Logged on purpose (as a user name) to show that the scan finds what the binary logs.
const CANARY: &str = "canary-ZQX-user-name-4f4f@example.com";

/// Waits for the log line asking the user to visit the authorization URL; returns its `state`.
async fn logged_state(log: &Path) -> String {
    for _ in 0..1000 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text
            .lines()
            .find(|line| line.contains("Please visit the following URL"))
        {
            let state = line.split("state=").nth(1).unwrap();
            return state.split(['&', '"', ' ']).next().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no authorization prompt in {}", log.display());
}

/// Runs the proxy with a `format` log file; with `cache_store`, tokens go to a separate file.
async fn run(format: &str, cache_store: bool) {
    let pki = Pki::new();
    let oauth = MockOAuthServer::start().await.unwrap();
    oauth.set_default_token_reply(token_reply(3600));
    let upstream = Arc::new(UpstreamState::default());
    let imap_upstream = imap_upstream(&pki, upstream.clone()).await;
    let pop3_upstream = pop3_upstream(&pki, upstream.clone()).await;
    let smtp_upstream = smtp_upstream(&pki, upstream.clone()).await;
    let [imap_port, pop3_port, smtp_port, redirect_port] = [0; 4].map(|_| free_port());
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("emailproxy.config");
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("mailgate.log");
    let cache_path = dir.path().join("tokens.cache");
    let ca = pki.ca_file.display();
    let token = oauth.token_url();
    let config = format!(
        "[emailproxy]\n\
         encrypt_client_secret_on_first_use = True\n\n\
         [IMAP-{imap_port}]\nserver_address = localhost\nserver_port = {}\nlocal_address = 127.0.0.1\nserver_ca_file = {ca}\n\n\
         [POP-{pop3_port}]\nserver_address = localhost\nserver_port = {}\nlocal_address = 127.0.0.1\nserver_ca_file = {ca}\n\n\
         [SMTP-{smtp_port}]\nserver_address = localhost\nserver_port = {}\nlocal_address = 127.0.0.1\nserver_ca_file = {ca}\n\n\
         [{CC_USER}]\ntoken_url = {token}\noauth2_scope = mail\noauth2_flow = client_credentials\nclient_id = cc-app\nclient_secret = {CC_SECRET}\n\n\
         [{CODE_USER}]\npermission_url = {}\ntoken_url = {token}\noauth2_scope = mail offline_access\n\
         redirect_uri = https://vault.example/email-oauth2-proxy-authorize/\n\
         redirect_listen_address = http://127.0.0.1:{redirect_port}/\nuse_pkce = True\nclient_id = code-app\nclient_secret = {CODE_SECRET}\n",
        imap_upstream.port(),
        pop3_upstream.port(),
        smtp_upstream.port(),
        oauth.authorize_url(),
    );
    std::fs::write(&config_path, &config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailgate"));
    command
        .arg("--config-file")
        .arg(&config_path)
        .arg("--log-file")
        .arg(&log_path)
        .args(["--log-format", format, "--debug", "--local-server-auth"])
        .args(
            cache_store
                .then(|| ["--cache-store".into(), cache_path.clone().into_os_string()])
                .into_iter()
                .flatten(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for proxy in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        command.env_remove(proxy);
    }
    let mut running = Running(command.spawn().unwrap());
    for port in [imap_port, pop3_port, smtp_port] {
        wait_for(port).await;
    }
    let address = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let (imap_at, pop3_at, smtp_at) = (address(imap_port), address(pop3_port), address(smtp_port));

    // Client credentials (token 1), each protocol.
    for form in [Form::Password, Form::PlainInitial, Form::Login] {
        let reply = imap(imap_at, form, CC_USER, CC_PASSWORD).await;
        assert!(reply.starts_with("a1 OK"), "IMAP {form:?}: {reply}");
    }
    for form in [Form::Password, Form::Plain] {
        let reply = pop3(pop3_at, form, CC_USER, CC_PASSWORD).await;
        assert!(reply.starts_with("+OK"), "POP3 {form:?}: {reply}");
    }
    for form in [Form::PlainInitial, Form::Login] {
        let reply = smtp(smtp_at, form, CC_USER, CC_PASSWORD).await;
        assert!(reply.starts_with("235"), "SMTP {form:?}: {reply}");
    }

    // Authorization code through the redirect listener, using the URL from the log (token 2,
    // short-lived); a refresh (token 3); token 3 revoked, so another refresh (token 4).
    oauth.push_token_reply(token_reply(60));
    let waiting = tokio::spawn(imap(imap_at, Form::Password, CODE_USER, CODE_PASSWORD));
    let state = logged_state(&log_path).await;
    let answer = http_get(
        redirect_port,
        &format!("/email-oauth2-proxy-authorize/?code={AUTH_CODE}&state={state}"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    #[cfg(target_os = "linux")]
    assert_eq!(listening_addresses(redirect_port), ["0100007F"]);
    let reply = waiting.await.unwrap();
    assert!(reply.starts_with("a1 OK"), "{reply}");
    let reply = pop3(pop3_at, Form::PlainInitial, CODE_USER, CODE_PASSWORD).await;
    assert!(reply.starts_with("+OK"), "{reply}");
    upstream.revoked.lock().unwrap().insert(access_token(3));
    let reply = smtp(smtp_at, Form::Plain, CODE_USER, CODE_PASSWORD).await;
    assert!(reply.starts_with("535"), "{reply}");
    let reply = smtp(smtp_at, Form::LoginInitial, CODE_USER, CODE_PASSWORD).await;
    assert!(reply.starts_with("235"), "{reply}");

    // A wrong password, and a user name the configuration does not know (the canary).
    let reply = imap(imap_at, Form::Plain, CC_USER, WRONG_PASSWORD).await;
    assert!(reply.starts_with("a1 NO"), "{reply}");
    let reply = imap(imap_at, Form::Password, CANARY, CC_PASSWORD).await;
    assert!(reply.starts_with("a1 NO"), "{reply}");

    let grants: Vec<String> = oauth
        .requests()
        .iter()
        .map(|request| request.param("grant_type").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        grants,
        [
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "refresh_token"
        ]
    );

    let Running(child) = &mut running;
    let _ = child.kill();
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read as _;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();

    let mut secrets = SecretList::default();
    secrets.add_logins(
        &[CC_USER, CODE_USER, CANARY],
        &[CC_PASSWORD, CODE_PASSWORD, WRONG_PASSWORD],
    );
    secrets.add("client secret", CC_SECRET);
    secrets.add("client secret", CODE_SECRET);
    secrets.add("authorization code", AUTH_CODE);
    secrets.add("relayed client content", CLIENT_CONTENT);
    secrets.add("relayed server content", SERVER_CONTENT);
    secrets.add_token_requests(&oauth);
    secrets.add_upstream(&upstream);
    secrets.add_key_file("TLS private key", &pki.key_file, 1);
    let needles = secrets.needles();

    let log = std::fs::read_to_string(&log_path).unwrap();
    let mut outputs = vec![
        (format!("{format} log file"), log.clone()),
        ("standard output".to_owned(), stdout),
        ("standard error".to_owned(), stderr),
    ];
    // With a cache store the configuration is the user's file, left as it was (its client
    // secrets included); everything else the proxy wrote is searched.
    let config_name = config_path.display().to_string();
    outputs.extend(
        files_under(dir.path())
            .into_iter()
            .filter(|(path, _)| !(cache_store && *path == config_name)),
    );
    if cache_store {
        assert_eq!(std::fs::read_to_string(&config_path).unwrap(), config);
    }
    // The log is the debug log of the requested format.
    assert!(log.contains("[ credentials ]"), "{log}");
    assert!(log.contains("DEBUG"), "{log}");
    assert_eq!(
        log.lines().all(|line| line.starts_with('{')),
        format == "json",
        "{log}"
    );
    let token_file = if cache_store {
        &cache_path
    } else {
        &config_path
    };
    let tokens = std::fs::read_to_string(token_file).unwrap();
    assert_eq!(tokens.matches("access_token = ").count(), 2, "{tokens}");
    #[cfg(unix)]
    assert_eq!(mode(token_file), 0o600, "{} mode", token_file.display());
    #[cfg(unix)]
    assert_eq!(mode(&log_path), 0o600, "a new log file is its owner's only");
    assert_no_leaks(&outputs, &needles);
    // The scan finds what the binary logged on purpose.
    let canary = search_forms(&[("canary".to_owned(), CANARY.to_owned())], &[]);
    assert!(
        !scan(&outputs[..1], &canary).is_empty(),
        "the scan missed the canary user name in the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_debug_log_holds_no_secret() {
    run("text", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_debug_log_and_cache_store_hold_no_secret() {
    run("json", true).await;
}

/// `mailgate register` writes the client secret to a private file (also when it replaces a
/// readable one) and prints no secret, warnings included.
#[cfg(unix)]
#[test]
fn register_writes_a_private_file_and_prints_no_secret() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("emailproxy.config");
    std::fs::write(&config_path, "old").unwrap();
    std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mailgate"))
        .arg("--config-file")
        .arg(&config_path)
        .args([
            "register",
            "--force",
            "--smtp-server-address=smtp.example.com",
            "--oauth2-token-url=https://auth.example.com/token",
            // A known typo, so that a warning is printed too.
            "--oauth2-scope=https://outlook.office.com/SMPT.Send offline_access",
            "--oauth2-client-id=app",
        ])
        .arg(format!("--oauth2-client-secret={CC_SECRET}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("warning"), "{stderr}");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(config.contains(CC_SECRET), "{config}");
    assert_eq!(mode(&config_path), 0o600, "config file mode");
    let mut secrets = SecretList::default();
    secrets.add("client secret", CC_SECRET);
    assert_no_leaks(
        &[
            ("standard output".to_owned(), stdout),
            ("standard error".to_owned(), stderr),
        ],
        &secrets.needles(),
    );
}
