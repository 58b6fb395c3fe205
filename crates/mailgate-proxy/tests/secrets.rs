//! No secret reaches a log or the configuration file.
//!
//! Every login form of the three protocols (IMAP LOGIN with strings and literals, an unparsable
//! LOGIN, AUTHENTICATE PLAIN and LOGIN, malformed SASL responses carrying the password; POP3 USER/PASS, AUTH PLAIN and LOGIN; SMTP AUTH PLAIN and
//! LOGIN with and without initial responses), relayed traffic, wrong passwords, and every grant:
//! client credentials with a client secret and with an RS256 client assertion, the
//! authorization code flow with PKCE through the redirect listener (a forged `state` and a
//! redirect to the wrong path included), the refresh of an expired token, a token the server
//! revoked, the password grant (with a response lacking its access token), the device grant and
//! a service account. They run through the production token path (`TokenAuthenticator` over
//! the login manager, an encrypted config file and the mock OAuth 2.0 provider) with every log
//! event at trace level captured by the formatters a log file gets, in text and in JSON. The
//! captured logs and every file the proxy wrote are then searched for each secret in plain text
//! and in base64 (at every alignment, so a secret inside a longer SASL string is found too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod secret_scan;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use mailgate_proxy::authorization::{InteractiveAuthorizer, RedirectMode};
use mailgate_proxy::{Protocol, Proxy, TokenAuthenticator};
use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::LoginManager;
use mailgate_token::store::IniFileStorage;
use mailgate_token::transport::{HttpClient, HttpClientConfig};
use secret_scan::*;
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
        // As the mailgate binary writes a log file: text or JSON lines, no colour.
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::TRACE)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(text.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_target(false)
                    .with_writer(json.clone()),
            );
        tracing::subscriber::set_global_default(subscriber).unwrap();
        (text, json)
    })
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

/// Malformed SASL responses and out-of-order commands carrying the password: each is refused,
/// and neither the refusal nor its log line may repeat what the client sent.
async fn refused_logins(imap_at: SocketAddr, pop3_at: SocketAddr, smtp_at: SocketAddr) {
    let not_base64 = CC_PASSWORD;
    let no_separators = STANDARD.encode(format!("{CC_USER}{CC_PASSWORD}"));
    let mut client = connect(imap_at).await;
    for (n, response) in [not_base64, no_separators.as_str()].into_iter().enumerate() {
        client
            .send(&format!("x{n} AUTHENTICATE PLAIN {response}\r\n"))
            .await;
        let reply = until(&mut client, &format!("x{n} ")).await;
        assert!(!reply.starts_with(&format!("x{n} OK")), "{reply}");
    }
    let mut client = connect(pop3_at).await;
    for command in [
        format!("PASS {CC_PASSWORD}"),
        format!("AUTH PLAIN {not_base64}"),
        format!("AUTH PLAIN {no_separators}"),
    ] {
        client.send(&format!("{command}\r\n")).await;
        let reply = client.line().await;
        assert!(reply.starts_with("-ERR"), "{command}: {reply}");
    }
    let mut client = connect(smtp_at).await;
    client.send("EHLO client.example\r\n").await;
    smtp_reply(&mut client).await;
    for command in [
        format!("AUTH PLAIN {not_base64}"),
        format!("AUTH PLAIN {no_separators}"),
        format!("AUTH LOGIN {not_base64}"),
    ] {
        client.send(&format!("{command}\r\n")).await;
        let reply = smtp_reply(&mut client).await;
        assert!(reply.starts_with('5'), "{command}: {reply}");
    }
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
    let storage = Arc::new(IniFileStorage::config_file(config_path));
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let authorizer = InteractiveAuthorizer::new(RedirectMode::LocalServer, Duration::from_secs(60));
    authorizer.set_config(config.clone());
    let manager = Arc::new(
        LoginManager::new(config.clone(), storage, http)
            .unwrap()
            .with_authorizer(Arc::new(authorizer.clone())),
    );
    let authenticator = Arc::new(TokenAuthenticator::new(manager, config));
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
    refused_logins(imap_at, pop3_at, smtp_at).await;
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

    // The secrets, including those only the token requests and the upstream servers show.
    let mut secrets = SecretList::default();
    secrets.add_logins(
        &[
            CC_USER,
            CODE_USER,
            JWT_USER,
            ROPC_USER,
            DEVICE_USER,
            SA_USER,
        ],
        &[
            CC_PASSWORD,
            CODE_PASSWORD,
            JWT_PASSWORD,
            ROPC_PASSWORD,
            DEVICE_PASSWORD,
            SA_PASSWORD,
            WRONG_PASSWORD,
        ],
    );
    for (name, value) in [
        ("client secret", CC_SECRET),
        ("client secret", CODE_SECRET),
        ("authorization code", AUTH_CODE),
        ("forged authorization code", FORGED_CODE),
        ("misdirected authorization code", WRONG_PATH_CODE),
        ("device code", DEVICE_CODE),
        ("relayed client content", CLIENT_CONTENT),
        ("relayed server content", SERVER_CONTENT),
    ] {
        secrets.add(name, value);
    }
    secrets.add_token_requests(&oauth);
    for param in [
        "code_verifier",
        "client_assertion",
        "assertion",
        "refresh_token",
    ] {
        assert!(
            requests
                .iter()
                .any(|request| request.param(param).is_some()),
            "no {param} was sent"
        );
    }
    let received = upstream.responses.lock().unwrap().len();
    assert!(received >= 10, "{received} upstream logins");
    secrets.add_upstream(&upstream);
    secrets.add_key_file(
        "JWT private key",
        Path::new(&test_data("test-rsa-key.pem")),
        3,
    );
    secrets.add_key_file("TLS private key", &pki.key_file, 1);
    let needles = secrets.needles();

    // What the proxy wrote: the log in both formats and every file next to the config.
    let mut outputs = vec![
        ("text log".to_owned(), text_log.text()),
        ("JSON log".to_owned(), json_log.text()),
    ];
    outputs.extend(files_under(dir.path()));
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
    assert_eq!(mode(&config_path), 0o600, "config file mode");
    // The logs hold the traffic at debug level and the flows' messages.
    for (name, content) in &outputs[..2] {
        for expected in ["[ credentials ]", "Please visit the following URL", "DEBUG"] {
            assert!(content.contains(expected), "{name} lacks {expected:?}");
        }
    }

    assert_no_leaks(&outputs, &needles);

    // The scan finds a secret that is logged (here outside the proxy), in both formats.
    let canary = "PW-ZQX-canary-password-d00d";
    tracing::info!("deliberate leak {canary}");
    for prefix in ["", "x", "xy"] {
        tracing::trace!(
            "deliberate leak {}",
            STANDARD.encode(format!("{prefix}{canary}"))
        );
    }
    let hex: String = canary.bytes().map(|b| format!("{b:02X}")).collect();
    tracing::debug!("deliberate leak {hex} {:?}", canary.as_bytes());
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
            "HEX",
            "byte list",
        ] {
            let needle = format!("({form}) in {output}:");
            assert!(
                found.iter().any(|leak| leak.contains(&needle)),
                "the scan missed the canary's {form} in the {output}: {found:?}"
            );
        }
    }
}
