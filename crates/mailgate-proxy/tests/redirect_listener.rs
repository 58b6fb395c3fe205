//! The redirect listener of `--local-server-auth` (authorization code flow) receiving bad
//! redirects while a login waits: a wrong `state`, no `code`, and the provider's `error`.
//! Each gets a clear page and a log line, stores nothing and leaves the login waiting; the
//! right redirect then completes it. Out of file descriptors, the redirect listener and the
//! proxy's listener wait instead of spinning, and serve their backlog once descriptors are free.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod logs;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mailgate_proxy::authorization::{InteractiveAuthorizer, RedirectMode, query_param};
use mailgate_proxy::{Protocol, TokenAuthenticator};
use mailgate_test_support::MockOAuthServer;
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::LoginManager;
use mailgate_token::store::IniFileStorage;
use mailgate_token::transport::{HttpClient, HttpClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USER: &str = "carol@example.com";
const PASSWORD: &str = "carol's password";

/// Bound on any single wait, so that a broken listener fails the test instead of hanging it.
const BOUND: Duration = Duration::from_secs(15);

/// An IMAP upstream accepting the mock provider's first access token for `USER`.
async fn upstream(pki: &Pki) -> SocketAddr {
    fake_upstream(pki, |tcp: TcpStream, acceptor| async move {
        let Ok(stream) = acceptor.accept(tcp).await else {
            return;
        };
        let mut lines = Lines::new(stream);
        lines.send("* OK ready\r\n").await;
        loop {
            let mut line = String::new();
            if !matches!(
                tokio::io::AsyncBufReadExt::read_line(&mut lines.inner, &mut line).await,
                Ok(1..)
            ) {
                return;
            }
            let mut words = line.trim_end().split(' ');
            let tag = words.next().unwrap_or("*").to_owned();
            match words.next().unwrap_or_default() {
                "CAPABILITY" => {
                    lines
                        .send(&format!(
                            "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n{tag} OK done\r\n"
                        ))
                        .await;
                }
                "AUTHENTICATE" => {
                    let ir = words.nth(1).unwrap_or_default();
                    let status = if token_ok(ir, USER, "mock-access-1") {
                        "OK"
                    } else {
                        "NO"
                    };
                    lines.send(&format!("{tag} {status} done\r\n")).await;
                }
                _ => lines.send(&format!("{tag} OK done\r\n")).await,
            }
        }
    })
    .await
}

/// A proxy whose account uses the authorization code flow with the redirect listener on a
/// free loopback port, a client login waiting for the user, and that login's `state`.
struct Waiting {
    _proxy: mailgate_proxy::Proxy,
    proxy_address: SocketAddr,
    _dir: tempfile::TempDir,
    oauth: MockOAuthServer,
    config_path: PathBuf,
    redirect_port: u16,
    state: String,
    login: tokio::task::JoinHandle<String>,
}

async fn waiting_login() -> Waiting {
    logs::capture();
    let pki = Pki::new();
    let oauth = MockOAuthServer::start().await.unwrap();
    let redirect_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("emailproxy.config");
    std::fs::write(
        &config_path,
        format!(
            "[{USER}]\npermission_url = {}\ntoken_url = {}\noauth2_scope = mail offline_access\nredirect_uri = https://vault.example/email-oauth2-proxy-authorize/\nredirect_listen_address = http://127.0.0.1:{redirect_port}/\nclient_id = app\nclient_secret = s3cret\n",
            oauth.authorize_url(),
            oauth.token_url()
        ),
    )
    .unwrap();
    let config = Arc::new(ProxyConfig::load(&config_path).unwrap());
    let storage = Arc::new(IniFileStorage::config_file(&config_path));
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let authorizer = InteractiveAuthorizer::new(RedirectMode::LocalServer, Duration::from_secs(60));
    authorizer.set_config(config.clone());
    let manager = Arc::new(
        LoginManager::new(config.clone(), storage, http)
            .unwrap()
            .with_authorizer(Arc::new(authorizer.clone())),
    );
    let authenticator = Arc::new(TokenAuthenticator::new(manager, config));
    let server = upstream(&pki).await;
    let (proxy, address) = start_proxy(pki.spec(Protocol::Imap, server), authenticator).await;
    let login = tokio::spawn(async move {
        let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
        client.line().await;
        client
            .send(&format!("a1 LOGIN {USER} \"{PASSWORD}\"\r\n"))
            .await;
        client.line().await
    });
    let mut url = None;
    for _ in 0..(BOUND.as_millis() / 20) {
        if let Some((account, pending)) = authorizer.pending().list().into_iter().next() {
            assert_eq!(account, USER);
            url = Some(pending);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = url.expect("the login asked for authorisation");
    let state = query_param(&url, "state").unwrap();
    // The listener starts just after the prompt is registered: wait until it answers.
    for _ in 0..(BOUND.as_millis() / 20) {
        if TcpStream::connect(("127.0.0.1", redirect_port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Waiting {
        _proxy: proxy,
        proxy_address: address,
        _dir: dir,
        oauth,
        config_path,
        redirect_port,
        state,
        login,
    }
}

/// The listener's whole answer to `GET target`.
async fn http_get(port: u16, target: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: vault.example\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut answer))
        .await
        .expect("the redirect listener did not answer")
        .unwrap();
    answer
}

/// The page's text inside `<p>...</p>`.
fn page_text(answer: &str) -> &str {
    let start = answer.find("<p>").expect("a page") + 3;
    let end = answer.rfind("</p>").expect("a page");
    &answer[start..end]
}

fn stored(config_path: &Path) -> String {
    std::fs::read_to_string(config_path).unwrap()
}

/// After a bad redirect: nothing was requested or stored, and the login still waits; the
/// right redirect then completes it and stores the tokens.
async fn completes_afterwards(waiting: &mut Waiting, before: &str) {
    assert_eq!(waiting.oauth.token_requests(), 0);
    assert_eq!(stored(&waiting.config_path), before);
    assert!(!before.contains("access_token"), "{before}");
    assert!(!waiting.login.is_finished(), "the login stopped waiting");
    let answer = http_get(
        waiting.redirect_port,
        &format!(
            "/email-oauth2-proxy-authorize/?code=C0DE&state={}",
            waiting.state
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(
        page_text(&answer),
        format!(
            "mailgate received the authorisation for account {USER}. You can close this window."
        )
    );
    let reply = tokio::time::timeout(BOUND, &mut waiting.login)
        .await
        .expect("the login did not complete")
        .unwrap();
    assert_eq!(reply, "a1 OK done\r\n");
    let requests = waiting.oauth.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].param("grant_type"), Some("authorization_code"));
    assert_eq!(requests[0].param("code"), Some("C0DE"));
    assert!(stored(&waiting.config_path).contains("access_token = "));
}

#[tokio::test]
async fn wrong_state_is_refused_and_the_login_still_completes() {
    let mut waiting = waiting_login().await;
    let before = stored(&waiting.config_path);
    let answer = http_get(
        waiting.redirect_port,
        "/email-oauth2-proxy-authorize/?code=F0RGED&state=forged-state-1",
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert_eq!(
        page_text(&answer),
        "This authorisation request is unknown or has expired."
    );
    let logged = logs::line_with(&[
        "Local server auth mode: refused a redirect from 127.0.0.1:",
        "no pending authorisation matches: state forged-state-1",
    ])
    .await;
    assert!(!logged.contains("F0RGED"), "{logged}");
    completes_afterwards(&mut waiting, &before).await;
}

#[tokio::test]
async fn redirect_without_code_is_refused_and_the_login_still_completes() {
    let mut waiting = waiting_login().await;
    let before = stored(&waiting.config_path);
    let answer = http_get(
        waiting.redirect_port,
        &format!("/email-oauth2-proxy-authorize/?state={}", waiting.state),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let text = page_text(&answer);
    assert!(
        text.starts_with(&format!(
            "This redirect carries no authorisation code. The login of account {USER} is still waiting: <a href=\""
        )),
        "{text}"
    );
    assert!(text.ends_with("\">authorise it again</a>."), "{text}");
    assert!(text.contains(&format!("state={}", waiting.state)), "{text}");
    logs::line_with(&[&format!(
        "Local server auth mode: the redirect for account {USER} carries no authorisation code - open the authorisation URL again"
    )])
    .await;
    completes_afterwards(&mut waiting, &before).await;
}

#[tokio::test]
async fn provider_error_is_shown_and_the_login_still_completes() {
    let mut waiting = waiting_login().await;
    let before = stored(&waiting.config_path);
    let answer = http_get(
        waiting.redirect_port,
        &format!(
            "/email-oauth2-proxy-authorize/?error=access_denied&error_description=The+user+declined%3Cb%3E%0Aforged+log+line&state={}",
            waiting.state
        ),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let text = page_text(&answer);
    assert!(
        text.starts_with(&format!(
            "The provider did not authorise mailgate: access_denied (The user declined&lt;b&gt;\\nforged log line). The login of account {USER} is still waiting: <a href=\""
        )),
        "{text}"
    );
    // The description is escaped in the log: no line break, no forged line.
    logs::line_with(&[&format!(
        "Local server auth mode: the provider did not authorise account {USER}: access_denied (The user declined<b>\\nforged log line) - open the authorisation URL again to retry"
    )])
    .await;
    assert!(
        logs::lines_with(&["forged log line"])
            .iter()
            .all(|line| line.contains("access_denied"))
    );
    completes_afterwards(&mut waiting, &before).await;
}

/// Unlike the Python email-oauth2-proxy, a wrong password deletes nothing: it starts a new authorisation (and
/// waits for it), while the right password keeps logging in with the stored tokens.
#[tokio::test]
async fn a_wrong_password_waits_for_a_new_authorisation_and_the_right_one_still_works() {
    let mut waiting = waiting_login().await;
    let address = waiting.proxy_address;
    let config_path = waiting.config_path.clone();
    let before = stored(&config_path);
    completes_afterwards(&mut waiting, &before).await;
    let authorised = stored(&config_path);

    let mut intruder = Lines::new(TcpStream::connect(address).await.unwrap());
    intruder.line().await;
    intruder
        .send(&format!("b1 LOGIN {USER} \"not carol's password\"\r\n"))
        .await;
    logs::line_with(&[
        USER,
        "the password does not decrypt the stored tokens: authorising anew with it",
        "the stored tokens are kept until that succeeds",
    ])
    .await;
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!("c1 LOGIN {USER} \"{PASSWORD}\"\r\n"))
        .await;
    assert_eq!(client.line().await, "c1 OK done\r\n");
    assert_eq!(stored(&config_path), authorised);
    assert_eq!(waiting.oauth.token_requests(), 1);
}

// Out of file descriptors. A failed `accept` leaves the connection in the backlog, so an
// accept loop that retries at once spins on a core until descriptors are free. The test
// lowers the soft RLIMIT_NOFILE of a child process running the proxy (with `prlimit`) to the
// descriptors it holds, connects to both listeners, and measures the child's CPU time.

const CHILD_ENV: &str = "MAILGATE_TEST_OUT_OF_DESCRIPTORS_CHILD";

/// Child process body for the test below (run only when it spawns it): a waiting login;
/// once told on stdin, completes it and reports the accept log lines.
#[test]
#[ignore = "spawned by out_of_descriptors_the_listeners_wait_then_serve_their_backlog"]
fn out_of_descriptors_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut waiting = waiting_login().await;
        let before = stored(&waiting.config_path);
        println!(
            "@@ ready {} {}",
            waiting.proxy_address.port(),
            waiting.redirect_port
        );
        let _ =
            tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
        completes_afterwards(&mut waiting, &before).await;
        let failed =
            logs::lines_with(&["Unable to accept a connection on ", "Too many open files"]);
        let recovered = logs::lines_with(&["Accepting connections on ", " again after "]);
        println!("@@ done {} {}", failed.len(), recovered.len());
    });
}

/// User and system CPU time of process `pid` so far, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // After the command name: state is field 3 of the line, utime 14 and stime 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn set_soft_nofile(pid: u32, limit: &str) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:"))
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success());
}

#[test]
fn out_of_descriptors_the_listeners_wait_then_serve_their_backlog() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "out_of_descriptors_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness may print the test's name on the same line.
    let mut message = || loop {
        let line = lines.next().expect("the child answers").unwrap();
        if let Some((_, message)) = line.split_once("@@ ") {
            break message.to_owned();
        }
    };
    let ready = message();
    let ports: Vec<u16> = ready
        .strip_prefix("ready ")
        .unwrap()
        .split(' ')
        .map(|port| port.parse().unwrap())
        .collect();
    let (proxy_port, redirect_port) = (ports[0], ports[1]);

    // The lowest free descriptor number is the one the next `accept` would get: as the limit,
    // it leaves none. (Let the connections of the readiness probe close first, and check that
    // no descriptor was freed meanwhile.)
    std::thread::sleep(Duration::from_millis(500));
    let lowest_free = || {
        let held: std::collections::BTreeSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|entry| {
                entry
                    .unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        (0..).find(|fd| !held.contains(fd)).unwrap()
    };
    let mut limit = lowest_free();
    set_soft_nofile(pid, &limit.to_string());
    while lowest_free() < limit {
        limit = lowest_free();
        set_soft_nofile(pid, &limit.to_string());
    }
    let mut waiting = Vec::new();
    for port in [proxy_port, redirect_port] {
        for _ in 0..3 {
            waiting.push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid) - before;
    // A spinning accept loop takes a whole core: about 200 ticks in these 2 s.
    assert!(
        spent < 50,
        "the child used {spent}/100 s of CPU in 2 s without descriptors"
    );

    set_soft_nofile(pid, "4096");
    // The backlog is served: the proxy's waiting clients get the server's greeting.
    let client = &mut waiting[0];
    client.set_read_timeout(Some(BOUND)).unwrap();
    let mut greeting = [0; 4];
    client.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"* OK");
    drop(waiting);

    // The login that waited all along completes with the right redirect.
    let stdin = child.stdin.as_mut().unwrap();
    writeln!(stdin, "go").unwrap();
    stdin.flush().unwrap();
    let done = message();
    let counts: Vec<usize> = done
        .strip_prefix("done ")
        .unwrap_or_else(|| panic!("{done}"))
        .split(' ')
        .map(|count| count.parse().unwrap())
        .collect();
    // One line when each listener's run of failures starts (the run lasts under 10 s), and
    // one when it ends.
    assert!((2..=4).contains(&counts[0]), "{done}");
    assert!((2..=4).contains(&counts[1]), "{done}");
    assert!(child.wait().unwrap().success());
}
