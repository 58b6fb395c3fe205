//! The redirect listener of `--local-server-auth` (authorization code flow) receiving bad
//! redirects while a login waits: a wrong `state`, no `code`, and the provider's `error`.
//! Each gets a clear page and a log line, stores nothing and leaves the login waiting; the
//! right redirect then completes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod logs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mailgate_proxy::authorization::{InteractiveAuthorizer, RedirectMode, query_param};
use mailgate_proxy::{Protocol, TokenAuthenticator};
use mailgate_token::config::ProxyConfig;
use mailgate_token::http::{HttpClient, HttpClientConfig};
use mailgate_token::login::{EncryptedLoginStore, LoginManager};
use mailgate_token::oauth::mock_server::MockOAuthServer;
use mailgate_token::store::{IniFileStorage, TokenVault};
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
    let vault = TokenVault::new(*config.global()).unwrap();
    let storage = Arc::new(IniFileStorage::config_file(&config_path));
    let store = Arc::new(EncryptedLoginStore::new(config.clone(), vault, storage));
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let authorizer = InteractiveAuthorizer::new(RedirectMode::LocalServer, Duration::from_secs(60));
    authorizer.set_config(config.clone());
    let manager = Arc::new(
        LoginManager::new(config.clone(), store, http)
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
async fn completes_afterwards(waiting: Waiting, before: &str) {
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
    let reply = tokio::time::timeout(BOUND, waiting.login)
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
    let waiting = waiting_login().await;
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
    completes_afterwards(waiting, &before).await;
}

#[tokio::test]
async fn redirect_without_code_is_refused_and_the_login_still_completes() {
    let waiting = waiting_login().await;
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
    completes_afterwards(waiting, &before).await;
}

#[tokio::test]
async fn provider_error_is_shown_and_the_login_still_completes() {
    let waiting = waiting_login().await;
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
    completes_afterwards(waiting, &before).await;
}
