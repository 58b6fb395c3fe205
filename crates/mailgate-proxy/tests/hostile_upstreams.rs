//! Hostile or failing upstream servers: refused connections, resets, garbage and over-long
//! lines (bad certificates: `upstream_certificates.rs`). Each case checks what the client is told and that the next login
//! through the same listener works once the server behaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;
mod logs;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use hostile::*;
use mailgate_proxy::Protocol;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// What a misbehaving server does on its first connection.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Accepts TCP and closes at once with a reset.
    ResetBeforeTls,
    /// Completes TLS, sends half a greeting, then resets.
    ResetMidGreeting,
    /// Completes TLS, sends half a greeting, then closes cleanly (TLS close_notify, FIN).
    CloseMidGreeting,
    /// Sends binary garbage as the greeting.
    Garbage,
    /// Sends a greeting line far over the proxy's line limit.
    OverLongLine,
}

async fn reset(tcp: TcpStream) {
    let _ = tcp.set_zero_linger();
    drop(tcp);
}

/// A POP3 or SMTP server after TLS that greets, answers `CAPA`/`EHLO` and waits for the end.
async fn greeting_session<S: AsyncRead + AsyncWrite + Unpin>(
    mut lines: Lines<S>,
    protocol: Protocol,
) {
    let greeting = match protocol {
        Protocol::Smtp => "220 fake.upstream ESMTP ready\r\n",
        _ => "+OK fake POP3 ready\r\n",
    };
    lines.send(greeting).await;
    loop {
        let mut line = String::new();
        if !matches!(
            tokio::io::AsyncBufReadExt::read_line(&mut lines.inner, &mut line).await,
            Ok(1..)
        ) {
            return;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("CAPA") {
            lines.send("+OK\r\nSASL XOAUTH2\r\n.\r\n").await;
        } else if upper.starts_with("EHLO") {
            lines
                .send("250-fake.upstream\r\n250 AUTH XOAUTH2\r\n")
                .await;
        } else {
            lines.send("-ERR unexpected\r\n").await;
        }
    }
}

/// A server of `protocol` that misbehaves with `fault` on the first connection and is
/// well-behaved after.
async fn flaky_upstream_of(pki: &Pki, protocol: Protocol, fault: Fault) -> SocketAddr {
    let count = Arc::new(AtomicUsize::new(0));
    fake_upstream(pki, move |tcp: TcpStream, acceptor: TlsAcceptor| {
        let first = count.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if !first {
                if let Ok(stream) = acceptor.accept(tcp).await {
                    match protocol {
                        Protocol::Imap => imap_session(Lines::new(stream)).await,
                        _ => greeting_session(Lines::new(stream), protocol).await,
                    }
                }
                return;
            }
            if let Fault::ResetBeforeTls = fault {
                return reset(tcp).await;
            }
            let Ok(mut stream) = acceptor.accept(tcp).await else {
                return;
            };
            match fault {
                Fault::ResetBeforeTls => {}
                Fault::ResetMidGreeting => {
                    let half: &[u8] = match protocol {
                        Protocol::Imap => b"* OK Fake IM",
                        Protocol::Pop => b"+OK fake PO",
                        Protocol::Smtp => b"220 fake.ups",
                    };
                    let _ = stream.write_all(half).await;
                    let _ = stream.flush().await;
                    let (tcp, _) = stream.into_inner();
                    reset(tcp).await;
                }
                Fault::CloseMidGreeting => {
                    let _ = stream.write_all(b"* OK Fake IM").await;
                    let _ = stream.shutdown().await;
                }
                Fault::Garbage => {
                    let _ = stream.write_all(b"\x00\xff\x16\x03garbage{}\r\n").await;
                    let _ = stream.flush().await;
                    let mut sink = [0u8; 1024];
                    let _ = stream.read(&mut sink).await;
                }
                Fault::OverLongLine => {
                    let chunk = vec![b'x'; 64 * 1024];
                    let start: &[u8] = match protocol {
                        Protocol::Imap => b"* OK ",
                        Protocol::Pop => b"+OK ",
                        Protocol::Smtp => b"220 ",
                    };
                    let _ = stream.write_all(start).await;
                    for _ in 0..64 {
                        if stream.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    })
    .await
}

/// A server that misbehaves with `fault` on the first connection and is well-behaved after.
async fn flaky_upstream(pki: &Pki, fault: Fault) -> SocketAddr {
    flaky_upstream_of(pki, Protocol::Imap, fault).await
}

async fn fault_case(fault: Fault) -> Vec<String> {
    fault_case_with_port(fault).await.0
}

/// The client's first reply with `fault`, and the server's port.
async fn fault_case_with_port(fault: Fault) -> (Vec<String>, u16) {
    let pki = Pki::new();
    let server = flaky_upstream(&pki, fault).await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    let reply = first_reply(address).await;
    good_login(address).await;
    (reply, server.port())
}

/// The POP3 or SMTP client's first reply with `fault`, and the server's port; the next
/// connection gets the server's greeting.
async fn fault_case_of(protocol: Protocol, fault: Fault) -> (Vec<String>, u16) {
    let pki = Pki::new();
    let server = flaky_upstream_of(&pki, protocol, fault).await;
    let (_proxy, address) = start_proxy(
        pki.spec(protocol, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    let reply = first_reply(address).await;
    let mut next = Raw::connect(address).await;
    let greeting = next.expect_line().await;
    let expected = match protocol {
        Protocol::Smtp => "220 ",
        _ => "+OK ",
    };
    assert!(greeting.starts_with(expected), "{greeting}");
    (reply, server.port())
}

#[tokio::test]
async fn upstream_refuses_the_connection() {
    let pki = Pki::new();
    // A port that was bound and released: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, closed),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    assert_eq!(
        first_reply(address).await,
        [format!(
            "* BYE Unable to connect to the server localhost:{}\r\n",
            closed.port()
        )]
    );
    // The server comes up on that port: the next login works.
    serve_on(
        TcpListener::bind(closed).await.unwrap(),
        pki.server_config.clone(),
    );
    good_login(address).await;
}

#[tokio::test]
async fn upstream_resets_before_tls() {
    let reply = fault_case(Fault::ResetBeforeTls).await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    assert!(
        reply[0].starts_with("* BYE Secure connection to the server localhost:")
            && reply[0].contains(" failed: "),
        "{reply:?}"
    );
}

#[tokio::test]
async fn upstream_resets_mid_greeting_closes_the_client() {
    // The client is closed and the next login works.
    fault_case(Fault::ResetMidGreeting).await;
}

/// The cause the proxy gives for the server's reset mid-greeting.
const RESET: &str = "connection reset by the server";

#[tokio::test]
async fn upstream_resets_mid_greeting_is_explained() {
    logs::capture();
    let (reply, port) = fault_case_with_port(Fault::ResetMidGreeting).await;
    assert_eq!(
        reply,
        [format!(
            "* BYE Lost the connection to the server localhost:{port}: {RESET}\r\n"
        )]
    );
    let logged = logs::line_with(&[&format!("localhost:{port} before login: {RESET}")]).await;
    assert!(
        logged.contains("IMAP (") && logged.contains("Lost the connection"),
        "{logged}"
    );
}

#[tokio::test]
async fn pop3_upstream_resets_mid_greeting_is_explained() {
    logs::capture();
    let (reply, port) = fault_case_of(Protocol::Pop, Fault::ResetMidGreeting).await;
    assert_eq!(
        reply,
        [format!(
            "-ERR Lost the connection to the server localhost:{port}: {RESET}\r\n"
        )]
    );
    let logged = logs::line_with(&[&format!("localhost:{port} before login: {RESET}")]).await;
    assert!(logged.contains("POP ("), "{logged}");
}

#[tokio::test]
async fn smtp_upstream_resets_mid_greeting_is_explained() {
    logs::capture();
    let (reply, port) = fault_case_of(Protocol::Smtp, Fault::ResetMidGreeting).await;
    assert_eq!(
        reply,
        [format!(
            "421 4.7.0 Lost the connection to the server localhost:{port}: {RESET}\r\n"
        )]
    );
    let logged = logs::line_with(&[&format!("localhost:{port} before login: {RESET}")]).await;
    assert!(logged.contains("SMTP ("), "{logged}");
}

#[tokio::test]
async fn upstream_closes_mid_greeting_is_explained() {
    logs::capture();
    let (reply, port) = fault_case_with_port(Fault::CloseMidGreeting).await;
    assert_eq!(
        reply,
        [format!(
            "* BYE The server localhost:{port} closed the connection\r\n"
        )]
    );
    let logged = logs::line_with(&[&format!(
        "The server localhost:{port} closed the connection before login"
    )])
    .await;
    assert!(logged.contains("IMAP ("), "{logged}");
}

/// What the proxy quotes of the garbage greeting.
const GARBAGE: &str = "\\x00\\xff\\x16\\x03garbage{}";

#[tokio::test]
async fn upstream_sends_garbage() {
    logs::capture();
    let (reply, port) = fault_case_with_port(Fault::Garbage).await;
    let cause =
        format!("the server localhost:{port} sent a greeting that is not IMAP: \"{GARBAGE}\"");
    assert_eq!(reply, [format!("* BYE {cause}\r\n")]);
    let logged = logs::line_with(&[&cause]).await;
    assert!(logged.contains("IMAP ("), "{logged}");
}

#[tokio::test]
async fn pop3_upstream_sends_garbage() {
    logs::capture();
    let (reply, port) = fault_case_of(Protocol::Pop, Fault::Garbage).await;
    let cause =
        format!("the server localhost:{port} sent a greeting that is not POP3: \"{GARBAGE}\"");
    assert_eq!(reply, [format!("-ERR {cause}\r\n")]);
    let logged = logs::line_with(&[&cause]).await;
    assert!(logged.contains("POP ("), "{logged}");
}

#[tokio::test]
async fn smtp_upstream_sends_garbage() {
    logs::capture();
    let (reply, port) = fault_case_of(Protocol::Smtp, Fault::Garbage).await;
    let cause =
        format!("the server localhost:{port} sent a greeting that is not SMTP: \"{GARBAGE}\"");
    assert_eq!(reply, [format!("421 4.7.0 {cause}\r\n")]);
    let logged = logs::line_with(&[&cause]).await;
    assert!(logged.contains("SMTP ("), "{logged}");
}

#[tokio::test]
async fn upstream_sends_an_over_long_line() {
    logs::capture();
    let (reply, port) = fault_case_with_port(Fault::OverLongLine).await;
    let cause = format!(
        "the server localhost:{port} sent an invalid response: line longer than 1048576 bytes at byte 1048576"
    );
    assert_eq!(reply, [format!("* BYE {cause}\r\n")]);
    let logged = logs::line_with(&[&cause]).await;
    assert!(logged.contains("IMAP ("), "{logged}");
}

/// An IMAP upstream accepting any `mock-access-N` token of the mock provider for `USER`.
async fn mock_token_upstream(pki: &Pki) -> SocketAddr {
    fake_upstream(pki, |tcp: TcpStream, acceptor: TlsAcceptor| async move {
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
                        .await
                }
                "AUTHENTICATE" => {
                    let ir = words.nth(1).unwrap_or_default();
                    let ok = (1..20).any(|n| token_ok(ir, USER, &format!("mock-access-{n}")));
                    let status = if ok { "OK" } else { "NO" };
                    lines.send(&format!("{tag} {status} done\r\n")).await;
                }
                _ => lines.send(&format!("{tag} OK done\r\n")).await,
            }
        }
    })
    .await
}

mod provider {
    use super::*;
    use mailgate_proxy::TokenAuthenticator;
    use mailgate_test_support::{MockOAuthServer, MockReply};
    use mailgate_token::config::ProxyConfig;
    use mailgate_token::login::LoginManager;
    use mailgate_token::store::IniFileStorage;
    use mailgate_token::transport::{HttpClient, HttpClientConfig};

    /// The proxy with the production token path against the mock provider.
    async fn setup(
        pki: &Pki,
        oauth: &MockOAuthServer,
        dir: &tempfile::TempDir,
    ) -> (mailgate_proxy::Proxy, SocketAddr) {
        let config_path = dir.path().join("emailproxy.config");
        std::fs::write(
            &config_path,
            format!(
                "[emailproxy]\n\n[{USER}]\ntoken_url = {}\noauth2_scope = mail\noauth2_flow = client_credentials\nclient_id = app\nclient_secret = s3cret\n",
                oauth.token_url()
            ),
        )
        .unwrap();
        let config = Arc::new(ProxyConfig::load(&config_path).unwrap());
        let storage = Arc::new(IniFileStorage::config_file(&config_path));
        let http = HttpClient::new(HttpClientConfig::default()).unwrap();
        let manager = Arc::new(LoginManager::new(config.clone(), storage, http).unwrap());
        let authenticator = Arc::new(TokenAuthenticator::new(manager, config));
        let server = mock_token_upstream(pki).await;
        start_proxy(pki.spec(Protocol::Imap, server), authenticator).await
    }

    async fn login(address: SocketAddr, tag: &str) -> String {
        let mut client = Raw::connect(address).await;
        client.expect_line().await;
        client
            .send(format!("{tag} LOGIN {USER} \"{PASSWORD}\"\r\n").as_bytes())
            .await;
        client.expect_line().await
    }

    /// The provider answers the first token request with `reply`: the client gets a NO, and
    /// the next login (the provider behaving again) works.
    async fn provider_case(reply: MockReply) -> String {
        let pki = Pki::new();
        let oauth = MockOAuthServer::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_proxy, address) = setup(&pki, &oauth, &dir).await;
        oauth.push_token_reply(reply);
        let refused = login(address, "a1").await;
        assert!(
            refused.starts_with("a1 NO [AUTHENTICATIONFAILED] ")
                || refused.starts_with("a1 NO [UNAVAILABLE] "),
            "{refused}"
        );
        let next = login(address, "a2").await;
        assert_eq!(next, "a2 OK done\r\n");
        refused
    }

    /// A loopback port in front of the mock provider that can be closed (connections refused)
    /// and opened again.
    struct Gate {
        port: u16,
        target: SocketAddr,
        task: Option<tokio::task::JoinHandle<()>>,
    }

    impl Gate {
        /// A closed gate on a free port towards `target`.
        async fn new(target: SocketAddr) -> Gate {
            let port = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            Gate {
                port,
                target,
                task: None,
            }
        }

        /// The token URL through the gate.
        fn token_url(&self) -> String {
            format!("http://127.0.0.1:{}/token", self.port)
        }

        /// Accepts connections and forwards each to the provider.
        async fn open(&mut self) {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
            let target = self.target;
            self.task = Some(tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            }));
        }

        /// Stops listening: new connections are refused.
        async fn close(&mut self) {
            if let Some(task) = self.task.take() {
                task.abort();
                let _ = task.await;
            }
        }
    }

    /// The proxy with the production token path, a settable clock and `request_timeout`
    /// for token requests to `token_url`; returns the config file's path too.
    async fn setup_with(
        pki: &Pki,
        token_url: &str,
        dir: &tempfile::TempDir,
        clock: Arc<std::sync::atomic::AtomicU64>,
        request_timeout: std::time::Duration,
    ) -> (mailgate_proxy::Proxy, SocketAddr, std::path::PathBuf) {
        let config_path = dir.path().join("emailproxy.config");
        std::fs::write(
            &config_path,
            format!(
                "[emailproxy]\n\n[{USER}]\ntoken_url = {token_url}\noauth2_scope = mail\noauth2_flow = client_credentials\nclient_id = app\nclient_secret = s3cret\n"
            ),
        )
        .unwrap();
        let config = Arc::new(ProxyConfig::load(&config_path).unwrap());
        let storage = Arc::new(IniFileStorage::config_file(&config_path));
        let mut http_config = HttpClientConfig::default();
        http_config.connect_timeout = request_timeout;
        http_config.request_timeout = request_timeout;
        let http = HttpClient::new(http_config).unwrap();
        let manager = Arc::new(
            LoginManager::new(config.clone(), storage, http)
                .unwrap()
                .with_clock(move || clock.load(Ordering::SeqCst)),
        );
        let authenticator = Arc::new(TokenAuthenticator::new(manager, config));
        let server = mock_token_upstream(pki).await;
        let (proxy, address) = start_proxy(pki.spec(Protocol::Imap, server), authenticator).await;
        (proxy, address, config_path)
    }

    /// Long enough for token requests on a busy machine, short enough to wait for once.
    const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

    /// The start of the test clock (seconds since the epoch).
    const T0: u64 = 1_800_000_000;

    /// A login that stores tokens, then the access token expires and the token request for
    /// the refresh fails through `fault`: the client gets a NO naming the account and the
    /// cause (returned), the log says the same, the stored tokens stay as they were, and once
    /// `repair` has run the next login refreshes with the stored refresh token.
    async fn refresh_fault_case(
        oauth: &MockOAuthServer,
        address: SocketAddr,
        config_path: &std::path::Path,
        clock: &std::sync::atomic::AtomicU64,
        fault: impl AsyncFnOnce(),
        repair: impl AsyncFnOnce(),
    ) -> String {
        logs::capture();
        assert_eq!(login(address, "a1").await, "a1 OK done\r\n");
        let stored = std::fs::read_to_string(config_path).unwrap();
        assert!(stored.contains("refresh_token"), "{stored}");
        clock.store(T0 + 3600, Ordering::SeqCst);
        fault().await;
        let refused = login(address, "a2").await;
        assert!(
            // A network failure or timeout is temporary (RFC 5530 UNAVAILABLE).
            refused.starts_with(&format!(
                "a2 NO [UNAVAILABLE] mailgate: token request for account {USER} failed: "
            )),
            "{refused}"
        );
        let cause = refused
            .trim_end()
            .strip_prefix("a2 NO [UNAVAILABLE] mailgate: ")
            .unwrap()
            .to_owned();
        let logged = logs::line_with(&[&cause]).await;
        assert!(logged.contains("IMAP ("), "{logged}");
        assert_eq!(std::fs::read_to_string(config_path).unwrap(), stored);
        repair().await;
        assert_eq!(login(address, "a3").await, "a3 OK done\r\n");
        let last = oauth.requests().pop().unwrap();
        assert_eq!(last.param("grant_type"), Some("refresh_token"));
        assert_eq!(last.param("refresh_token"), Some("mock-refresh-1"));
        refused
    }

    #[tokio::test]
    async fn token_endpoint_down() {
        let pki = Pki::new();
        let oauth = MockOAuthServer::start().await.unwrap();
        let mut gate = Gate::new(oauth.addr()).await;
        gate.open().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(std::sync::atomic::AtomicU64::new(T0));
        let (_proxy, address, config_path) = setup_with(
            &pki,
            &gate.token_url(),
            &dir,
            clock.clone(),
            REQUEST_TIMEOUT,
        )
        .await;
        let port = gate.port;
        let gate = tokio::sync::Mutex::new(gate);
        let reply = refresh_fault_case(
            &oauth,
            address,
            &config_path,
            &clock,
            async || gate.lock().await.close().await,
            async || gate.lock().await.open().await,
        )
        .await;
        assert_eq!(
            reply,
            format!(
                "a2 NO [UNAVAILABLE] mailgate: token request for account {USER} failed: could not reach the token endpoint: cannot connect to 127.0.0.1:{port}: Connection refused (os error 111) - check the network connection and retry\r\n"
            )
        );
    }

    #[tokio::test]
    async fn token_endpoint_slow() {
        let pki = Pki::new();
        let oauth = MockOAuthServer::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(std::sync::atomic::AtomicU64::new(T0));
        let (_proxy, address, config_path) = setup_with(
            &pki,
            &oauth.token_url(),
            &dir,
            clock.clone(),
            REQUEST_TIMEOUT,
        )
        .await;
        let reply = refresh_fault_case(
            &oauth,
            address,
            &config_path,
            &clock,
            // The provider answers long after the request timeout.
            async || oauth.push_token_reply(MockReply::token().delayed(BOUND)),
            async || {},
        )
        .await;
        assert_eq!(
            reply,
            format!(
                "a2 NO [UNAVAILABLE] mailgate: token request for account {USER} failed: could not reach the token endpoint: HTTP request to 127.0.0.1 timed out after 2 s - check the network connection and retry\r\n"
            )
        );
    }

    #[tokio::test]
    async fn token_endpoint_5xx() {
        let reply = provider_case(MockReply::Raw {
            status: 503,
            body: "<html>down for maintenance</html>".to_owned(),
        })
        .await;
        assert_eq!(
            reply,
            "a1 NO [UNAVAILABLE] mailgate: token request for account alice@example.com failed: the provider answered HTTP 503 without a usable OAuth 2.0 error - retry later\r\n"
        );
    }

    #[tokio::test]
    async fn token_endpoint_non_json() {
        let reply = provider_case(MockReply::Raw {
            status: 200,
            body: "this is not json".to_owned(),
        })
        .await;
        assert_eq!(
            reply,
            "a1 NO [AUTHENTICATIONFAILED] mailgate: token request for account alice@example.com failed: invalid token response (HTTP 200): body is not a JSON object\r\n"
        );
    }

    #[tokio::test]
    async fn token_endpoint_json_without_access_token() {
        let reply = provider_case(MockReply::Token {
            access_token: None,
            expires_in: Some(3600),
            refresh_token: None,
        })
        .await;
        assert_eq!(
            reply,
            "a1 NO [AUTHENTICATIONFAILED] mailgate: token request for account alice@example.com failed: invalid token response (HTTP 200): no access_token\r\n"
        );
    }

    #[tokio::test]
    async fn token_endpoint_invalid_grant() {
        let reply = provider_case(MockReply::error(400, "invalid_grant")).await;
        assert_eq!(
            reply,
            "a1 NO [AUTHENTICATIONFAILED] mailgate: token request for account alice@example.com failed: the provider refused the token request: invalid_grant (HTTP 400): mock invalid_grant [codes 70000] - the grant is no longer valid: the account must be authorised again\r\n"
        );
    }
}

#[tokio::test]
async fn upstream_resets_mid_fetch() {
    let pki = Pki::new();
    let server = fake_upstream(&pki, |tcp: TcpStream, acceptor: TlsAcceptor| async move {
        let Ok(stream) = acceptor.accept(tcp).await else {
            return;
        };
        let mut lines = Lines::new(stream);
        lines.send("* OK Fake IMAP ready.\r\n").await;
        loop {
            let mut line = String::new();
            if !matches!(
                tokio::io::AsyncBufReadExt::read_line(&mut lines.inner, &mut line).await,
                Ok(1..)
            ) {
                return;
            }
            let mut words = line.trim_end().splitn(4, ' ');
            let tag = words.next().unwrap_or("*").to_owned();
            match words.next().unwrap_or_default() {
                "CAPABILITY" => {
                    lines
                        .send(&format!(
                            "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n{tag} OK done\r\n"
                        ))
                        .await
                }
                "FETCH" => {
                    // Half a literal, then a reset.
                    lines.send("* 1 FETCH (BODY[] {1000}\r\npartial").await;
                    let (tcp, _) = lines.inner.into_inner().into_inner();
                    reset(tcp).await;
                    return;
                }
                _ => lines.send(&format!("{tag} OK Logged in\r\n")).await,
            }
        }
    })
    .await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, server),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    let mut client = Raw::connect(address).await;
    client.expect_line().await;
    client
        .send(format!("a1 LOGIN {USER} \"{PASSWORD}\"\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "a1 OK Logged in\r\n");
    client.send(b"f1 FETCH 1 BODY[]\r\n").await;
    assert_eq!(client.expect_line().await, "* 1 FETCH (BODY[] {1000}\r\n");
    // The partial literal arrives, then the connection ends (no line ending follows).
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        BOUND,
        tokio::io::AsyncReadExt::read_to_end(&mut client.inner, &mut rest),
    )
    .await
    .expect("the client connection was not closed");
    assert!(rest.starts_with(b"partial") || rest.is_empty(), "{rest:?}");
    // The next session works.
    let mut client = Raw::connect(address).await;
    client.expect_line().await;
    client
        .send(format!("a2 LOGIN {USER} \"{PASSWORD}\"\r\n").as_bytes())
        .await;
    assert_eq!(client.expect_line().await, "a2 OK Logged in\r\n");
}

#[tokio::test]
async fn pop3_upstream_sends_an_over_long_line() {
    let (reply, port) = fault_case_of(Protocol::Pop, Fault::OverLongLine).await;
    assert_eq!(
        reply,
        [format!(
            "-ERR the server localhost:{port} sent a line longer than 65536 bytes\r\n"
        )]
    );
}

#[tokio::test]
async fn smtp_upstream_sends_an_over_long_line() {
    let (reply, port) = fault_case_of(Protocol::Smtp, Fault::OverLongLine).await;
    assert_eq!(
        reply,
        [format!(
            "421 4.7.0 the server localhost:{port} sent a line longer than 65536 bytes\r\n"
        )]
    );
}
