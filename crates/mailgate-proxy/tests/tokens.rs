//! The production token path: `TokenAuthenticator` over `mailgate-token`'s login manager, an
//! encrypted config file and the in-process mock OAuth 2.0 provider, behind real IMAP
//! sessions: single flight under 100 concurrent logins, and the authorization code flow
//! completed through the shared redirect listener.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use common::*;
use mailgate_proxy::authorization::{InteractiveAuthorizer, RedirectMode};
use mailgate_proxy::{Protocol, TokenAuthenticator};
use mailgate_test_support::MockOAuthServer;
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::LoginManager;
use mailgate_token::store::IniFileStorage;
use mailgate_token::transport::{HttpClient, HttpClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USER: &str = "bob@example.com";
const PASSWORD: &str = "bob's password";

/// An IMAP upstream accepting the `mock-access-N` tokens of `accepted` for `USER`.
async fn upstream(pki: &Pki, accepted: &'static [u32]) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| async move {
        let Ok(stream) = acceptor.accept(tcp).await else {
            return;
        };
        let mut lines = Lines::new(stream);
        lines.send("* OK ready\r\n").await;
        loop {
            let line = lines.line().await;
            if line.is_empty() {
                return;
            }
            let mut words = line.trim_end().split(' ');
            let tag = words.next().unwrap().to_owned();
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
                    let ok = accepted
                        .iter()
                        .any(|n| token_ok(ir, USER, &format!("mock-access-{n}")));
                    let status = if ok { "OK" } else { "NO" };
                    lines.send(&format!("{tag} {status} done\r\n")).await;
                }
                _ => lines.send(&format!("{tag} OK done\r\n")).await,
            }
        }
    })
    .await
}

/// The authenticator, its authoriser, and the proxy listening for IMAP.
async fn setup(
    pki: &Pki,
    config_path: &Path,
    mode: RedirectMode,
    accepted: &'static [u32],
) -> (mailgate_proxy::Proxy, SocketAddr, InteractiveAuthorizer) {
    let config = Arc::new(ProxyConfig::load(config_path).unwrap());
    let storage = Arc::new(IniFileStorage::config_file(config_path));
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let authorizer = InteractiveAuthorizer::new(mode, std::time::Duration::from_secs(60));
    authorizer.set_config(config.clone());
    let manager = Arc::new(
        LoginManager::new(config.clone(), storage, http)
            .unwrap()
            .with_authorizer(Arc::new(authorizer.clone())),
    );
    let authenticator = Arc::new(TokenAuthenticator::new(manager, config));
    let server = upstream(pki, accepted).await;
    let (proxy, address) = start_proxy(pki.spec(Protocol::Imap, server), authenticator).await;
    (proxy, address, authorizer)
}

async fn login(address: SocketAddr, tag: String) -> String {
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    client.line().await;
    client
        .send(&format!("{tag} LOGIN {USER} \"{PASSWORD}\"\r\n"))
        .await;
    client.line().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_logins_make_one_token_request() {
    let pki = Pki::new();
    let oauth = MockOAuthServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("emailproxy.config");
    std::fs::write(
        &config_path,
        format!(
            "# comment kept\n[emailproxy]\n\n[{USER}]\ntoken_url = {}\noauth2_scope = mail\noauth2_flow = client_credentials\nclient_id = app\nclient_secret = s3cret\n",
            oauth.token_url()
        ),
    )
    .unwrap();
    let (_proxy, address, _) = setup(&pki, &config_path, RedirectMode::External, &[1]).await;
    let logins: Vec<_> = (0..100)
        .map(|n| tokio::spawn(login(address, format!("a{n}"))))
        .collect();
    for (n, login) in logins.into_iter().enumerate() {
        let reply = login.await.unwrap();
        assert!(reply.starts_with(&format!("a{n} OK")), "{reply}");
    }
    assert_eq!(oauth.token_requests(), 1);
    let written = std::fs::read_to_string(&config_path).unwrap();
    assert!(written.starts_with("# comment kept\n"), "{written}");
    assert!(written.contains("access_token = "), "{written}");
    assert!(
        !written.contains("mock-access-1"),
        "tokens are stored encrypted: {written}"
    );
}

#[tokio::test]
async fn authorization_code_through_the_shared_redirect_listener() {
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
    let (_proxy, address, authorizer) =
        setup(&pki, &config_path, RedirectMode::LocalServer, &[1]).await;
    let waiting = tokio::spawn(login(address, "z1".to_owned()));
    // The login now waits for the user; find the URL it asks them to visit.
    let mut url = None;
    for _ in 0..500 {
        if let Some((account, pending)) = authorizer.pending().list().into_iter().next() {
            assert_eq!(account, USER);
            url = Some(pending);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let url = url.expect("the login asked for authorisation");
    let state = mailgate_proxy::authorization::query_param(&url, "state").unwrap();
    // A forged state is refused; the right one completes the login.
    let answer = http_get(
        redirect_port,
        "/email-oauth2-proxy-authorize/?code=C0DE&state=forged",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let answer = http_get(
        redirect_port,
        &format!("/email-oauth2-proxy-authorize/?code=C0DE&state={state}"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let reply = waiting.await.unwrap();
    assert!(reply.starts_with("z1 OK"), "{reply}");
    assert_eq!(oauth.token_requests(), 1);
    assert_eq!(
        oauth.requests()[0].param("grant_type"),
        Some("authorization_code")
    );
    assert_eq!(oauth.requests()[0].param("code"), Some("C0DE"));
    // The next login reuses the stored token.
    assert!(login(address, "z2".to_owned()).await.starts_with("z2 OK"));
    assert_eq!(oauth.token_requests(), 1);
}

async fn http_get(port: u16, target: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: vault.example\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_refused_token_is_dropped_and_the_next_login_gets_a_new_one() {
    let pki = Pki::new();
    let oauth = MockOAuthServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("emailproxy.config");
    std::fs::write(
        &config_path,
        format!(
            "[{USER}]\ntoken_url = {}\noauth2_scope = mail\noauth2_flow = client_credentials\nclient_id = app\nclient_secret = s3cret\n",
            oauth.token_url()
        ),
    )
    .unwrap();
    // The server has revoked the first token.
    let (_proxy, address, _) = setup(&pki, &config_path, RedirectMode::External, &[2]).await;
    let reply = login(address, "r1".to_owned()).await;
    assert!(reply.starts_with("r1 NO"), "{reply}");
    let reply = login(address, "r2".to_owned()).await;
    assert!(reply.starts_with("r2 OK"), "{reply}");
    assert_eq!(oauth.token_requests(), 2);
}
