//! No secret reaches a log or the configuration file.
//!
//! Every login form of the three protocols, relayed traffic, a wrong password, the client
//! credentials grant (with a client secret and with an RS256 client assertion), the
//! authorization code flow with PKCE through the redirect listener, the refresh of an expired
//! token, a token the server revoked and the token writes run through the production token path
//! (`TokenAuthenticator` over the login manager, an encrypted config file and the mock OAuth 2.0
//! provider) with every log event at trace level captured by the formatters a log file gets, in
//! text and in JSON. The captured logs and every file the proxy wrote are then searched for each
//! secret in plain text and in base64 (at every alignment, so a secret inside a longer SASL
//! string is found too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use common::*;
use mailgate_proxy::authorization::{InteractiveAuthorizer, RedirectMode};
use mailgate_proxy::logging::{LogFormat, file_layer};
use mailgate_proxy::{Protocol, Proxy, TokenAuthenticator};
use mailgate_token::config::ProxyConfig;
use mailgate_token::http::{HttpClient, HttpClientConfig};
use mailgate_token::login::{EncryptedLoginStore, LoginManager, LoginStore};
use mailgate_token::oauth::mock_server::{MockOAuthServer, MockReply};
use mailgate_token::store::{IniFileStorage, TokenVault};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

// Distinctive values: each occurs nowhere else, so any occurrence in the output is a leak.
/// Client credentials account (client secret encrypted on first use).
const CC_USER: &str = "cc-account@example.com";
const CC_PASSWORD: &str = "PW-ZQX-cc-login-password-7f3a";
const CC_SECRET: &str = "CS-ZQX-cc-client-secret-2b8d";
/// Authorization code account with PKCE.
const CODE_USER: &str = "code-account@example.com";
const CODE_PASSWORD: &str = "PW-ZQX-code-login-password-91be";
const CODE_SECRET: &str = "CS-ZQX-code-client-secret-44a1";
const AUTH_CODE: &str = "AC-ZQX-authorization-code-e9f2";
const FORGED_CODE: &str = "AC-ZQX-forged-request-code-13c7";
const WRONG_PATH_CODE: &str = "AC-ZQX-wrong-path-code-5b9e";
/// Client credentials with an RS256 client assertion, OAUTHBEARER upstream.
const JWT_USER: &str = "jwt-account@example.com";
const JWT_PASSWORD: &str = "PW-ZQX-jwt-login-password-c0d4";
/// Resource owner password credentials: the login password goes to the token endpoint.
const ROPC_USER: &str = "ropc-account@example.com";
const ROPC_PASSWORD: &str = "PW-ZQX-ropc-login-password-3d5e";
/// Device authorization grant.
const DEVICE_USER: &str = "device-account@example.com";
const DEVICE_PASSWORD: &str = "PW-ZQX-device-login-password-6a0c";
const DEVICE_CODE: &str = "DC-ZQX-device-code-77aa-b4c2";
/// Google service account (JWT bearer grant) with its key in a file.
const SA_USER: &str = "sa-account@example.com";
const SA_PASSWORD: &str = "PW-ZQX-sa-login-password-e1f0";
/// A wrong password for the client credentials account.
const WRONG_PASSWORD: &str = "PW-ZQX-wrong-login-password-5e6f";
/// Mail content relayed after login, in each direction.
const CLIENT_CONTENT: &str = "MAIL-ZQX-client-content-0a9b";
const SERVER_CONTENT: &str = "MAIL-ZQX-server-content-8c7d";

/// The access and refresh tokens of the mock provider's `n`th token response.
fn access_token(n: usize) -> String {
    format!("AT-ZQX-access-token-{n}-a1b2")
}
fn refresh_token(n: usize) -> String {
    format!("RT-ZQX-refresh-token-{n}-c3d4")
}

fn token_reply(expires_in: u64) -> MockReply {
    MockReply::Token {
        access_token: Some(access_token(0).replace("-0-", "-{n}-")),
        expires_in: Some(expires_in),
        refresh_token: Some(refresh_token(0).replace("-0-", "-{n}-")),
    }
}

fn test_data(name: &str) -> String {
    format!(
        "{}/../mailgate-token/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

// ---------------------------------------------------------------------------------------------
// Log capture through the formatters of a log file.

/// A growing buffer that log lines are written to.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

/// The text and JSON captures of the process-wide subscriber (trace level, both formats).
fn captures() -> &'static (Capture, Capture) {
    static CAPTURES: OnceLock<(Capture, Capture)> = OnceLock::new();
    CAPTURES.get_or_init(|| {
        let text = Capture::default();
        let json = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::TRACE)
            .with(file_layer(LogFormat::Text, text.clone()))
            .with(file_layer(LogFormat::Json, json.clone()));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        (text, json)
    })
}

// ---------------------------------------------------------------------------------------------
// The scan.

/// One searchable form of a secret.
struct Needle {
    secret: String,
    form: String,
    needle: String,
}

/// The substrings of the base64 (standard and URL-safe) encodings of `secret` that appear
/// whatever bytes surround it, for each of the three alignments.
fn base64_fragments(secret: &[u8]) -> Vec<(String, String)> {
    let mut fragments = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        let skip = (offset * 8).div_ceil(6);
        let end = bytes.len() * 8 / 6;
        for (alphabet, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
            let encoded = engine.encode(&bytes);
            let fragment = encoded.get(skip..end).unwrap_or_default().to_owned();
            fragments.push((format!("{alphabet} at offset {offset}"), fragment));
        }
    }
    fragments
}

/// Plain text and base64 forms of each named secret, plus whole encoded SASL strings.
fn search_forms(secrets: &[(String, String)], encoded: &[(String, String)]) -> Vec<Needle> {
    let mut forms = Vec::new();
    for (name, secret) in secrets {
        assert!(secret.len() >= 16, "{name} is too short to search for");
        let name = format!("{name} {secret:?}");
        forms.push(Needle {
            secret: name.clone(),
            form: "plain text".to_owned(),
            needle: secret.clone(),
        });
        for (form, needle) in base64_fragments(secret.as_bytes()) {
            forms.push(Needle {
                secret: name.clone(),
                form,
                needle,
            });
        }
    }
    for (name, string) in encoded {
        forms.push(Needle {
            secret: format!("{name} {string:?}"),
            form: "encoded SASL string".to_owned(),
            needle: string.clone(),
        });
    }
    forms
}

/// Every occurrence of a form in a named output, described with the line it is on.
fn scan(outputs: &[(String, String)], forms: &[Needle]) -> Vec<String> {
    let mut leaks = Vec::new();
    for (output, content) in outputs {
        for form in forms {
            for line in content.lines().filter(|line| line.contains(&form.needle)) {
                leaks.push(format!(
                    "{} ({}) in {output}: {line}",
                    form.secret, form.form
                ));
            }
        }
    }
    leaks
}

// ---------------------------------------------------------------------------------------------
// Fake upstream servers accepting `AT-ZQX-…` tokens unless revoked.

#[derive(Default)]
struct UpstreamState {
    revoked: Mutex<HashSet<String>>,
    /// Every SASL initial response received, as sent.
    responses: Mutex<Vec<String>>,
}

impl UpstreamState {
    fn accepts(&self, response: &str) -> bool {
        self.responses.lock().unwrap().push(response.to_owned());
        let Ok(decoded) = STANDARD.decode(response.trim()) else {
            return false;
        };
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        let Some(token) = decoded
            .split('\u{1}')
            .find_map(|part| part.strip_prefix("auth=Bearer "))
        else {
            return false;
        };
        token.starts_with("AT-ZQX-") && !self.revoked.lock().unwrap().contains(token)
    }
}

/// The next line from the proxy; empty at the end of the stream or on an error.
async fn next_line<S: AsyncRead + AsyncWrite + Unpin>(lines: &mut Lines<S>) -> String {
    let mut line = String::new();
    match lines.inner.read_line(&mut line).await {
        Ok(_) => line,
        Err(_) => String::new(),
    }
}

async fn imap_upstream(pki: &Pki, state: Arc<UpstreamState>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let state = state.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send("* OK Fake IMAP ready\r\n").await;
            loop {
                let line = next_line(&mut lines).await;
                if line.is_empty() {
                    return;
                }
                let mut words = line.trim_end().splitn(3, ' ');
                let tag = words.next().unwrap_or_default().to_owned();
                let command = words.next().unwrap_or_default().to_ascii_uppercase();
                let rest = words.next().unwrap_or_default().to_owned();
                let reply = match command.as_str() {
                    "CAPABILITY" => format!(
                        "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n{tag} OK done\r\n"
                    ),
                    "AUTHENTICATE" => {
                        let ir = match rest.split(' ').nth(1) {
                            Some(ir) => ir.to_owned(),
                            None => {
                                lines.send("+ \r\n").await;
                                next_line(&mut lines).await
                            }
                        };
                        if state.accepts(&ir) {
                            format!("{tag} OK Logged in\r\n")
                        } else {
                            lines.send(&format!("+ {ERROR_CHALLENGE}\r\n")).await;
                            let _ = next_line(&mut lines).await;
                            format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                        }
                    }
                    "FETCH" => format!("* 1 FETCH (BODY[TEXT] \"{SERVER_CONTENT}\")\r\n{tag} OK\r\n"),
                    "LOGOUT" => {
                        lines.send(&format!("* BYE bye\r\n{tag} OK\r\n")).await;
                        let _ = lines.inner.get_mut().shutdown().await;
                        return;
                    }
                    _ => format!("{tag} OK done\r\n"),
                };
                lines.send(&reply).await;
            }
        }
    })
    .await
}

async fn pop3_upstream(pki: &Pki, state: Arc<UpstreamState>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let state = state.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send("+OK Fake POP3 ready\r\n").await;
            loop {
                let line = next_line(&mut lines).await;
                if line.is_empty() {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let reply = if upper.starts_with("CAPA") {
                    "+OK\r\nUIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n".to_owned()
                } else if upper.starts_with("AUTH ") {
                    let ir = match line.split_whitespace().nth(2) {
                        Some(ir) => ir.to_owned(),
                        None => {
                            lines.send("+ \r\n").await;
                            next_line(&mut lines).await
                        }
                    };
                    if state.accepts(&ir) {
                        "+OK Logged in.\r\n".to_owned()
                    } else {
                        lines.send(&format!("+ {ERROR_CHALLENGE}\r\n")).await;
                        let _ = next_line(&mut lines).await;
                        "-ERR [AUTH] Authentication failed.\r\n".to_owned()
                    }
                } else if upper.starts_with("RETR") {
                    format!("+OK\r\nSubject: x\r\n\r\n{SERVER_CONTENT}\r\n.\r\n")
                } else if upper.starts_with("QUIT") {
                    lines.send("+OK bye\r\n").await;
                    let _ = lines.inner.get_mut().shutdown().await;
                    return;
                } else {
                    "+OK\r\n".to_owned()
                };
                lines.send(&reply).await;
            }
        }
    })
    .await
}

async fn smtp_upstream(pki: &Pki, state: Arc<UpstreamState>) -> SocketAddr {
    fake_upstream(pki, move |tcp: TcpStream, acceptor| {
        let state = state.clone();
        async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let mut lines = Lines::new(stream);
            lines.send("220 fake.upstream ESMTP ready\r\n").await;
            loop {
                let line = next_line(&mut lines).await;
                if line.is_empty() {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let reply = if upper.starts_with("EHLO") {
                    "250-fake.upstream\r\n250-8BITMIME\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n"
                        .to_owned()
                } else if upper.starts_with("AUTH ") {
                    let ir = match line.split_whitespace().nth(2) {
                        Some(ir) => ir.to_owned(),
                        None => {
                            lines.send("334 \r\n").await;
                            next_line(&mut lines).await
                        }
                    };
                    if state.accepts(&ir) {
                        "235 2.7.0 Authentication successful\r\n".to_owned()
                    } else {
                        lines.send(&format!("334 {ERROR_CHALLENGE}\r\n")).await;
                        let _ = next_line(&mut lines).await;
                        "535 5.7.8 Username and Password not accepted\r\n".to_owned()
                    }
                } else if upper.starts_with("DATA") {
                    lines.send("354 go ahead\r\n").await;
                    while !matches!(next_line(&mut lines).await.as_str(), ".\r\n" | "") {}
                    format!("250 2.0.0 queued as {SERVER_CONTENT}\r\n")
                } else if upper.starts_with("QUIT") {
                    lines.send("221 2.0.0 bye\r\n").await;
                    let _ = lines.inner.get_mut().shutdown().await;
                    return;
                } else {
                    "250 2.1.0 OK\r\n".to_owned()
                };
                lines.send(&reply).await;
            }
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Clients. Each returns the reply to its login and, when it succeeded, relays some traffic.

fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

async fn connect(address: SocketAddr) -> Lines<TcpStream> {
    let mut client = Lines::new(TcpStream::connect(address).await.unwrap());
    let greeting = client.line().await;
    assert!(!greeting.is_empty(), "no greeting from {address}");
    client
}

/// Reads lines up to and including the one starting with `prefix`.
async fn until<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Lines<S>, prefix: &str) -> String {
    loop {
        let line = client.line().await;
        if line.is_empty() || line.starts_with(prefix) {
            return line;
        }
    }
}

/// Reads an SMTP reply, returning its last line.
async fn smtp_reply<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Lines<S>) -> String {
    loop {
        let line = client.line().await;
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    }
}

/// Answers a `+`/`334` prompt with `text` in base64.
async fn answer_prompt<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Lines<S>,
    prompt: &str,
    text: &str,
) {
    let line = client.line().await;
    assert!(line.starts_with(prompt), "{line}");
    client.send(&format!("{}\r\n", STANDARD.encode(text))).await;
}

/// How a client logs in (every protocol offers PLAIN and LOGIN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// IMAP LOGIN with quoted strings, POP3 USER/PASS.
    Password,
    /// IMAP LOGIN with the password as a synchronising literal.
    PasswordLiteral,
    /// AUTHENTICATE/AUTH PLAIN with an initial response.
    PlainInitial,
    /// AUTHENTICATE/AUTH PLAIN, the response after the prompt.
    Plain,
    /// AUTHENTICATE/AUTH LOGIN, user name and password after prompts.
    Login,
    /// AUTH LOGIN with the user name as initial response.
    LoginInitial,
}

async fn imap(address: SocketAddr, form: Form, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client.send("c1 CAPABILITY\r\n").await;
    until(&mut client, "c1 ").await;
    match form {
        Form::Password => {
            client
                .send(&format!("a1 LOGIN \"{user}\" \"{password}\"\r\n"))
                .await;
        }
        Form::PasswordLiteral => {
            client
                .send(&format!("a1 LOGIN \"{user}\" {{{}}}\r\n", password.len()))
                .await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with('+'), "{go_ahead}");
            client.send(&format!("{password}\r\n")).await;
        }
        Form::PlainInitial => {
            client
                .send(&format!(
                    "a1 AUTHENTICATE PLAIN {}\r\n",
                    plain(user, password)
                ))
                .await;
        }
        Form::Plain => {
            client.send("a1 AUTHENTICATE PLAIN\r\n").await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with('+'), "{go_ahead}");
            client.send(&format!("{}\r\n", plain(user, password))).await;
        }
        Form::Login | Form::LoginInitial => {
            client.send("a1 AUTHENTICATE LOGIN\r\n").await;
            answer_prompt(&mut client, "+", user).await;
            answer_prompt(&mut client, "+", password).await;
        }
    }
    let reply = until(&mut client, "a1 ").await;
    if reply.starts_with("a1 OK") {
        client
            .send(&format!("s1 SEARCH TEXT \"{CLIENT_CONTENT}\"\r\n"))
            .await;
        until(&mut client, "s1 ").await;
        client.send("f1 FETCH 1 BODY[TEXT]\r\n").await;
        let fetched = client.line().await;
        assert!(fetched.contains(SERVER_CONTENT), "{fetched}");
        until(&mut client, "f1 ").await;
        client.send("z1 LOGOUT\r\n").await;
        until(&mut client, "z1 ").await;
    }
    reply
}

/// An IMAP LOGIN the parser refuses (unterminated password string), then LOGOUT.
async fn imap_malformed(address: SocketAddr, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client
        .send(&format!("m1 LOGIN \"{user}\" \"{password}\r\n"))
        .await;
    let reply = until(&mut client, "m1 ").await;
    client.send("z1 LOGOUT\r\n").await;
    until(&mut client, "z1 ").await;
    reply
}

async fn pop3(address: SocketAddr, form: Form, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client.send("CAPA\r\n").await;
    until(&mut client, ".").await;
    match form {
        Form::Password | Form::PasswordLiteral => {
            client.send(&format!("USER {user}\r\n")).await;
            let ok = client.line().await;
            assert!(ok.starts_with("+OK"), "{ok}");
            client.send(&format!("PASS {password}\r\n")).await;
        }
        Form::PlainInitial => {
            client
                .send(&format!("AUTH PLAIN {}\r\n", plain(user, password)))
                .await;
        }
        Form::Plain => {
            client.send("AUTH PLAIN\r\n").await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with('+'), "{go_ahead}");
            client.send(&format!("{}\r\n", plain(user, password))).await;
        }
        Form::Login | Form::LoginInitial => {
            client.send("AUTH LOGIN\r\n").await;
            answer_prompt(&mut client, "+", user).await;
            answer_prompt(&mut client, "+", password).await;
        }
    }
    let reply = client.line().await;
    if reply.starts_with("+OK") {
        client.send(&format!("NOOP {CLIENT_CONTENT}\r\n")).await;
        client.line().await;
        client.send("RETR 1\r\n").await;
        let retrieved = until(&mut client, ".").await;
        assert_eq!(retrieved, ".\r\n");
        client.send("QUIT\r\n").await;
        client.line().await;
    }
    reply
}

async fn smtp(address: SocketAddr, form: Form, user: &str, password: &str) -> String {
    let mut client = connect(address).await;
    client.send("EHLO client.example\r\n").await;
    smtp_reply(&mut client).await;
    match form {
        Form::Password | Form::PasswordLiteral | Form::PlainInitial => {
            client
                .send(&format!("AUTH PLAIN {}\r\n", plain(user, password)))
                .await;
        }
        Form::Plain => {
            client.send("AUTH PLAIN\r\n").await;
            let go_ahead = client.line().await;
            assert!(go_ahead.starts_with("334"), "{go_ahead}");
            client.send(&format!("{}\r\n", plain(user, password))).await;
        }
        Form::Login => {
            client.send("AUTH LOGIN\r\n").await;
            answer_prompt(&mut client, "334 ", user).await;
            answer_prompt(&mut client, "334 ", password).await;
        }
        Form::LoginInitial => {
            client
                .send(&format!("AUTH LOGIN {}\r\n", STANDARD.encode(user)))
                .await;
            answer_prompt(&mut client, "334 ", password).await;
        }
    }
    let reply = smtp_reply(&mut client).await;
    if reply.starts_with("235") {
        client.send(&format!("MAIL FROM:<{user}>\r\n")).await;
        smtp_reply(&mut client).await;
        client.send("RCPT TO:<rcpt@example.com>\r\n").await;
        smtp_reply(&mut client).await;
        client.send("DATA\r\n").await;
        smtp_reply(&mut client).await;
        client
            .send(&format!("Subject: test\r\n\r\n{CLIENT_CONTENT}\r\n.\r\n"))
            .await;
        let queued = smtp_reply(&mut client).await;
        assert!(queued.contains(SERVER_CONTENT), "{queued}");
        client.send("QUIT\r\n").await;
        smtp_reply(&mut client).await;
    }
    reply
}

/// The `state` of the one login waiting for authorisation.
async fn pending_state(authorizer: &InteractiveAuthorizer) -> String {
    for _ in 0..500 {
        if let Some((_, url)) = authorizer.pending().list().into_iter().next() {
            return mailgate_proxy::authorization::query_param(&url, "state").unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the login did not ask for authorisation");
}

/// One HTTP GET to the redirect listener on 127.0.0.1:`port` (retried while it starts).
async fn http_get(port: u16, target: &str) -> String {
    let mut stream = None;
    for _ in 0..500 {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let mut stream = stream.expect("the redirect listener accepts connections");
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: vault.example\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// The local addresses listening on TCP `port` (from `/proc/net/tcp` and `tcp6`).
#[cfg(target_os = "linux")]
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(content) = std::fs::read_to_string(table) else {
            continue;
        };
        for row in content.lines().skip(1) {
            let columns: Vec<&str> = row.split_whitespace().collect();
            let (Some(local), Some(state)) = (columns.get(1), columns.get(3)) else {
                continue;
            };
            let Some((address, hex_port)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push(address.to_owned());
            }
        }
    }
    found
}

fn config_text(oauth: &MockOAuthServer, redirect_port: u16, service_account_key: &Path) -> String {
    format!(
        "# Secrets test configuration\n\
         [emailproxy]\n\
         encrypt_client_secret_on_first_use = True\n\
         \n\
         [{CC_USER}]\n\
         token_url = {token}\n\
         oauth2_scope = mail\n\
         oauth2_flow = client_credentials\n\
         client_id = cc-app\n\
         client_secret = {CC_SECRET}\n\
         \n\
         [{CODE_USER}]\n\
         permission_url = {authorize}\n\
         token_url = {token}\n\
         oauth2_scope = mail offline_access\n\
         redirect_uri = https://vault.example/email-oauth2-proxy-authorize/\n\
         redirect_listen_address = http://127.0.0.1:{redirect_port}/\n\
         use_pkce = True\n\
         client_id = code-app\n\
         client_secret = {CODE_SECRET}\n\
         \n\
         [{JWT_USER}]\n\
         token_url = {token}\n\
         oauth2_scope = mail\n\
         oauth2_flow = client_credentials\n\
         client_id = jwt-app\n\
         jwt_certificate_path = {certificate}\n\
         jwt_key_path = {key}\n\
         upstream_sasl = oauthbearer\n\
         \n\
         [{ROPC_USER}]\n\
         token_url = {token}\n\
         oauth2_scope = mail\n\
         oauth2_flow = password\n\
         client_id = ropc-app\n\
         \n\
         [{DEVICE_USER}]\n\
         permission_url = {device}\n\
         token_url = {token}\n\
         oauth2_scope = mail\n\
         oauth2_flow = device\n\
         client_id = device-app\n\
         \n\
         [{SA_USER}]\n\
         token_url = {token}\n\
         oauth2_scope = mail\n\
         oauth2_flow = service_account\n\
         client_id = file\n\
         client_secret = {service_account_key}\n",
        token = oauth.token_url(),
        device = oauth.device_url(),
        service_account_key = service_account_key.display(),
        authorize = oauth.authorize_url(),
        certificate = test_data("test-rsa-cert.pem"),
        key = test_data("test-rsa-key.pem"),
    )
}

/// The proxy with IMAP, POP3 and SMTP listeners over the production token path.
async fn start(
    pki: &Pki,
    config_path: &Path,
    upstream: &Arc<UpstreamState>,
) -> (Proxy, [SocketAddr; 3], InteractiveAuthorizer) {
    let config = Arc::new(ProxyConfig::load(config_path).unwrap());
    let vault = TokenVault::new(*config.global()).unwrap();
    let storage = Arc::new(IniFileStorage::config_file(config_path));
    let store = Arc::new(EncryptedLoginStore::new(config.clone(), vault, storage));
    let login_store: Arc<dyn LoginStore> = store.clone();
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let authorizer = InteractiveAuthorizer::new(RedirectMode::LocalServer, Duration::from_secs(60));
    authorizer.set_config(config.clone());
    let manager = Arc::new(
        LoginManager::new(config.clone(), store, http)
            .with_authorizer(Arc::new(authorizer.clone())),
    );
    let authenticator = Arc::new(TokenAuthenticator::new(manager, config).with_store(login_store));
    let specs = vec![
        pki.spec(Protocol::Imap, imap_upstream(pki, upstream.clone()).await),
        pki.spec(Protocol::Pop, pop3_upstream(pki, upstream.clone()).await),
        pki.spec(Protocol::Smtp, smtp_upstream(pki, upstream.clone()).await),
    ];
    let sections: Vec<String> = specs.iter().map(|spec| spec.section.clone()).collect();
    let mut proxy = Proxy::new(authenticator);
    let errors = proxy.apply(specs).await;
    assert!(errors.is_empty(), "{errors:?}");
    let addresses = [0, 1, 2].map(|i| proxy.local_addr(&sections[i]).unwrap());
    (proxy, addresses, authorizer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_the_config_file() {
    let (text_log, json_log) = captures();
    let pki = Pki::new();
    let oauth = MockOAuthServer::start().await.unwrap();
    oauth.set_default_token_reply(token_reply(3600));
    let redirect_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("emailproxy.config");
    let key_dir = tempfile::tempdir().unwrap();
    let service_account_key = key_dir.path().join("service-account.json");
    let key_pem = std::fs::read_to_string(test_data("test-rsa-key.pem")).unwrap();
    std::fs::write(
        &service_account_key,
        format!(
            "{{\"type\": \"service_account\", \"client_email\": \"mailgate@project.iam.example\", \"private_key_id\": \"key-1\", \"private_key\": \"{}\", \"token_uri\": \"{}\"}}",
            key_pem.replace('\n', "\\n"),
            oauth.token_url()
        ),
    )
    .unwrap();
    std::fs::write(
        &config_path,
        config_text(&oauth, redirect_port, &service_account_key),
    )
    .unwrap();
    let upstream = Arc::new(UpstreamState::default());
    let (_proxy, [imap_at, pop3_at, smtp_at], authorizer) =
        start(&pki, &config_path, &upstream).await;

    // Client credentials: the first login obtains token 1; every other form reuses it.
    for form in [
        Form::Password,
        Form::PasswordLiteral,
        Form::PlainInitial,
        Form::Plain,
        Form::Login,
    ] {
        let reply = imap(imap_at, form, CC_USER, CC_PASSWORD).await;
        assert!(reply.starts_with("a1 OK"), "IMAP {form:?}: {reply}");
    }
    let reply = imap_malformed(imap_at, CC_USER, CC_PASSWORD).await;
    assert!(reply.starts_with("m1 BAD"), "{reply}");
    for form in [Form::Password, Form::PlainInitial, Form::Plain, Form::Login] {
        let reply = pop3(pop3_at, form, CC_USER, CC_PASSWORD).await;
        assert!(reply.starts_with("+OK"), "POP3 {form:?}: {reply}");
    }
    for form in [
        Form::PlainInitial,
        Form::Plain,
        Form::Login,
        Form::LoginInitial,
    ] {
        let reply = smtp(smtp_at, form, CC_USER, CC_PASSWORD).await;
        assert!(reply.starts_with("235"), "SMTP {form:?}: {reply}");
    }

    // Authorization code with PKCE through the redirect listener. A redirect to the wrong path
    // fails the first login; the next one succeeds (token 2, short-lived).
    let waiting = tokio::spawn(imap(imap_at, Form::Password, CODE_USER, CODE_PASSWORD));
    let state = pending_state(&authorizer).await;
    let answer = http_get(
        redirect_port,
        &format!("/wrong-path/?code={WRONG_PATH_CODE}&state={state}"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let reply = waiting.await.unwrap();
    assert!(reply.starts_with("a1 NO"), "{reply}");
    oauth.push_token_reply(token_reply(60));
    let waiting = tokio::spawn(imap(imap_at, Form::Password, CODE_USER, CODE_PASSWORD));
    let state = pending_state(&authorizer).await;
    let forged = http_get(
        redirect_port,
        &format!("/email-oauth2-proxy-authorize/?code={FORGED_CODE}&state=forged-state"),
    )
    .await;
    assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
    // The listener is bound where configured only: 127.0.0.1, not the wildcard address.
    #[cfg(target_os = "linux")]
    assert_eq!(listening_addresses(redirect_port), ["0100007F"]);
    assert!(
        TcpStream::connect(("127.0.0.2", redirect_port))
            .await
            .is_err(),
        "the redirect listener answers on 127.0.0.2"
    );
    let answer = http_get(
        redirect_port,
        &format!("/email-oauth2-proxy-authorize/?code={AUTH_CODE}&state={state}"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let reply = waiting.await.unwrap();
    assert!(reply.starts_with("a1 OK"), "{reply}");

    // Token 2 expires within the reuse margin: the next login refreshes it (token 3).
    let reply = pop3(pop3_at, Form::Password, CODE_USER, CODE_PASSWORD).await;
    assert!(reply.starts_with("+OK"), "{reply}");

    // The server revokes token 3: that login fails, the next one refreshes (token 4).
    upstream.revoked.lock().unwrap().insert(access_token(3));
    let reply = smtp(smtp_at, Form::PlainInitial, CODE_USER, CODE_PASSWORD).await;
    assert!(reply.starts_with("535"), "{reply}");
    let reply = smtp(smtp_at, Form::Login, CODE_USER, CODE_PASSWORD).await;
    assert!(reply.starts_with("235"), "{reply}");

    // Client credentials with an RS256 client assertion, OAUTHBEARER upstream (token 5).
    let reply = imap(imap_at, Form::Password, JWT_USER, JWT_PASSWORD).await;
    assert!(reply.starts_with("a1 OK"), "{reply}");

    // Password grant: a response without an access token (but with a refresh token) fails the
    // login (token 6); the next one succeeds (token 7).
    oauth.push_token_reply(MockReply::Token {
        access_token: None,
        expires_in: Some(3600),
        refresh_token: Some(refresh_token(0).replace("-0-", "-{n}-")),
    });
    let reply = pop3(pop3_at, Form::Plain, ROPC_USER, ROPC_PASSWORD).await;
    assert!(reply.starts_with("-ERR"), "{reply}");
    let reply = pop3(pop3_at, Form::Plain, ROPC_USER, ROPC_PASSWORD).await;
    assert!(reply.starts_with("+OK"), "{reply}");

    // Device authorization grant (token 8).
    oauth.push_device_reply(MockReply::DeviceCode {
        device_code: DEVICE_CODE.to_owned(),
        user_code: "WDJB-MJHT".to_owned(),
        expires_in: 60,
        interval: 1,
    });
    let reply = smtp(smtp_at, Form::PlainInitial, DEVICE_USER, DEVICE_PASSWORD).await;
    assert!(reply.starts_with("235"), "{reply}");

    // Service account (token 9).
    let reply = imap(imap_at, Form::PlainInitial, SA_USER, SA_PASSWORD).await;
    assert!(reply.starts_with("a1 OK"), "{reply}");

    // A wrong password in each protocol.
    let reply = imap(imap_at, Form::Password, CC_USER, WRONG_PASSWORD).await;
    assert!(reply.starts_with("a1 NO"), "{reply}");
    let reply = pop3(pop3_at, Form::Password, CC_USER, WRONG_PASSWORD).await;
    assert!(reply.starts_with("-ERR"), "{reply}");
    let reply = smtp(smtp_at, Form::Login, CC_USER, WRONG_PASSWORD).await;
    assert!(reply.starts_with("535"), "{reply}");

    // The flows ran as intended.
    let requests = oauth.requests();
    let grants: Vec<_> = requests
        .iter()
        .filter(|request| request.path == "/token")
        .map(|request| request.param("grant_type").unwrap_or_default())
        .collect();
    assert_eq!(
        grants,
        [
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "refresh_token",
            "client_credentials",
            "password",
            "password",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ]
    );
    assert_eq!(requests[1].param("code"), Some(AUTH_CODE));
    assert_eq!(requests[0].param("client_secret"), Some(CC_SECRET));

    // The secrets, including those only the token requests show.
    let mut secrets: Vec<(String, String)> = vec![
        ("client password".into(), CC_PASSWORD.into()),
        ("client password".into(), CODE_PASSWORD.into()),
        ("client password".into(), JWT_PASSWORD.into()),
        ("client password".into(), ROPC_PASSWORD.into()),
        ("client password".into(), DEVICE_PASSWORD.into()),
        ("client password".into(), SA_PASSWORD.into()),
        ("device code".into(), DEVICE_CODE.into()),
        ("wrong client password".into(), WRONG_PASSWORD.into()),
        ("client secret".into(), CC_SECRET.into()),
        ("client secret".into(), CODE_SECRET.into()),
        ("authorization code".into(), AUTH_CODE.into()),
        ("forged authorization code".into(), FORGED_CODE.into()),
        (
            "misdirected authorization code".into(),
            WRONG_PATH_CODE.into(),
        ),
        ("relayed client content".into(), CLIENT_CONTENT.into()),
        ("relayed server content".into(), SERVER_CONTENT.into()),
    ];
    for n in 1..=oauth.token_requests() {
        secrets.push((format!("access token {n}"), access_token(n)));
        secrets.push((format!("refresh token {n}"), refresh_token(n)));
    }
    for (param, name) in [
        ("code_verifier", "PKCE verifier"),
        ("client_assertion", "JWT client assertion"),
        ("assertion", "service account assertion"),
        ("refresh_token", "refresh token sent"),
    ] {
        let values: Vec<&str> = requests.iter().filter_map(|r| r.param(param)).collect();
        assert!(!values.is_empty(), "no {param} was sent");
        for value in values {
            secrets.push((name.to_owned(), value.to_owned()));
        }
    }
    let key = std::fs::read_to_string(test_data("test-rsa-key.pem")).unwrap();
    for line in key
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .take(3)
    {
        secrets.push(("JWT private key".into(), line.to_owned()));
    }
    let local_key = std::fs::read_to_string(&pki.key_file).unwrap();
    for line in local_key
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .take(1)
    {
        secrets.push(("TLS private key".into(), line.to_owned()));
    }
    // Whole encoded SASL strings: PLAIN and LOGIN as the clients sent them, and the
    // XOAUTH2/OAUTHBEARER initial responses the upstream servers received.
    let mut encoded: Vec<(String, String)> = Vec::new();
    let users = [
        CC_USER,
        CODE_USER,
        JWT_USER,
        ROPC_USER,
        DEVICE_USER,
        SA_USER,
    ];
    for password in [
        CC_PASSWORD,
        CODE_PASSWORD,
        JWT_PASSWORD,
        ROPC_PASSWORD,
        DEVICE_PASSWORD,
        SA_PASSWORD,
        WRONG_PASSWORD,
    ] {
        for user in users {
            encoded.push(("PLAIN response".into(), plain(user, password)));
        }
        encoded.push(("LOGIN password".into(), STANDARD.encode(password)));
    }
    let received = upstream.responses.lock().unwrap().clone();
    assert!(received.len() >= 10, "{received:?}");
    for response in received {
        encoded.push(("upstream SASL response".into(), response.trim().to_owned()));
    }
    let mut forms = search_forms(&secrets, &encoded);
    for marker in ["PRIVATE KEY-----", "BEGIN RSA", "BEGIN EC"] {
        forms.push(Needle {
            secret: "private key PEM marker".into(),
            form: "plain text".into(),
            needle: marker.into(),
        });
    }

    // What the proxy wrote: the log in both formats and every file next to the config.
    let mut outputs = vec![
        ("text log".to_owned(), text_log.text()),
        ("JSON log".to_owned(), json_log.text()),
    ];
    let mut directories = vec![dir.path().to_path_buf()];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
                continue;
            }
            let content = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            outputs.push((path.display().to_string(), content));
        }
    }
    assert!(outputs.len() > 2, "no file was written");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        config.starts_with("# Secrets test configuration\n"),
        "{config}"
    );
    // Encrypted on first use: both client secrets and the service account key path.
    assert_eq!(
        config.matches("client_secret_encrypted = ").count(),
        3,
        "{config}"
    );
    assert!(!config.contains("client_secret = "), "{config}");
    assert!(config.contains("access_token = "), "{config}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&config_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "config file mode {mode:o}");
    }
    // The logs hold the traffic at debug level and the flows' messages.
    for (name, content) in &outputs[..2] {
        for expected in ["[ credentials ]", "Please visit the following URL", "DEBUG"] {
            assert!(content.contains(expected), "{name} lacks {expected:?}");
        }
    }

    let leaks = scan(&outputs, &forms);
    assert!(
        leaks.is_empty(),
        "{} secret occurrence(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    // The scan finds a secret that is logged (here outside the proxy), in both formats.
    let canary = "PW-ZQX-canary-password-d00d";
    tracing::info!("deliberate leak {canary}");
    for prefix in ["", "x", "xy"] {
        tracing::trace!(
            "deliberate leak {}",
            STANDARD.encode(format!("{prefix}{canary}"))
        );
    }
    let outputs = [
        ("text log".to_owned(), text_log.text()),
        ("JSON log".to_owned(), json_log.text()),
    ];
    let canaries = search_forms(&[("canary password".into(), canary.into())], &[]);
    let found = scan(&outputs, &canaries);
    for (output, _) in &outputs {
        for form in [
            "plain text",
            "base64 at offset 0",
            "base64 at offset 1",
            "base64 at offset 2",
        ] {
            let needle = format!("({form}) in {output}:");
            assert!(
                found.iter().any(|leak| leak.contains(&needle)),
                "the scan missed the canary's {form} in the {output}: {found:?}"
            );
        }
    }
    let _ = std::io::stderr().flush();
}
