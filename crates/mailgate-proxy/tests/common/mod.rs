//! Test fixtures: a private CA, in-process upstream servers that accept XOAUTH2 and
//! OAUTHBEARER, an authenticator with fixed tokens, and line helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    dead_code,
    unreachable_pub
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mailgate_proxy::{
    Authenticator, BoxFuture, ListenerSpec, LoginRejected, Protocol, Proxy, SecretString,
    UpstreamCredentials, UpstreamMechanism,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A CA and a certificate for `localhost` / 127.0.0.1, written as PEM files.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
    pub client_config: Arc<rustls::ClientConfig>,
}

impl Pki {
    pub fn new() -> Pki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mailgate test CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        let cert_file = dir.path().join("cert.pem");
        let key_file = dir.path().join("key.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        std::fs::write(&cert_file, cert.pem() + &ca.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let server_config =
            mailgate_proxy::tls::local_server_config(&cert_file, &key_file).unwrap();
        let client_config = mailgate_proxy::tls::upstream_client_config(
            &mailgate_proxy::tls::UpstreamTrust::only_ca_file(ca_file.clone()),
        )
        .unwrap();
        Pki {
            dir,
            ca_file,
            cert_file,
            key_file,
            server_config,
            client_config,
        }
    }

    /// A listener spec for `protocol` towards `upstream`, trusting only this CA.
    pub fn spec(&self, protocol: Protocol, upstream: SocketAddr) -> ListenerSpec {
        let mut spec = ListenerSpec::new(protocol, 0, "localhost", upstream.port());
        spec.section = format!("{}-test", protocol.section_prefix());
        spec.server_ca_file = Some(self.ca_file.clone());
        spec.system_roots = false;
        spec
    }

    /// [`Pki::spec`] for a listener offering STARTTLS (STLS) with this CA's certificate.
    pub fn starttls_spec(&self, protocol: Protocol, upstream: SocketAddr) -> ListenerSpec {
        let mut spec = self.spec(protocol, upstream);
        spec.local_certificate_path = Some(self.cert_file.clone());
        spec.local_key_path = Some(self.key_file.clone());
        spec.local_starttls = true;
        spec
    }

    /// Connects to `address` with TLS, trusting this CA.
    pub async fn connect_tls(
        &self,
        address: SocketAddr,
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(address).await.unwrap();
        self.upgrade(tcp).await
    }

    pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> tokio_rustls::client::TlsStream<S> {
        TlsConnector::from(self.client_config.clone())
            .connect("localhost".try_into().unwrap(), stream)
            .await
            .unwrap()
    }
}

/// Logins: username -> (password, token); counts calls.
#[derive(Default)]
pub struct FixedTokens {
    pub accounts: HashMap<String, (String, String)>,
    pub mechanism: UpstreamMechanism,
    pub calls: AtomicUsize,
    pub rejected: AtomicUsize,
}

impl FixedTokens {
    pub fn one(user: &str, password: &str, token: &str) -> Arc<FixedTokens> {
        let mut accounts = HashMap::new();
        accounts.insert(user.to_owned(), (password.to_owned(), token.to_owned()));
        Arc::new(FixedTokens {
            accounts,
            ..FixedTokens::default()
        })
    }
}

impl Authenticator for FixedTokens {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a SecretString,
    ) -> BoxFuture<'a, Result<UpstreamCredentials, LoginRejected>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.accounts.get(username) {
                Some((expected, token)) if expected == password.expose() => {
                    Ok(UpstreamCredentials {
                        username: username.to_owned(),
                        access_token: SecretString::from(token.as_str()),
                        mechanism: self.mechanism,
                        expires_at: None,
                    })
                }
                Some(_) => Err(LoginRejected::new(format!(
                    "Login failed - the password for account {username} is incorrect"
                ))),
                None => Err(LoginRejected::new(format!(
                    "No config file entry found for account {username}"
                ))),
            }
        })
    }

    fn token_rejected<'a>(
        &'a self,
        _username: &'a str,
        _password: &'a SecretString,
    ) -> BoxFuture<'a, ()> {
        self.rejected.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

/// Starts a proxy with one listener and returns it with the listener's address.
pub async fn start_proxy(
    spec: ListenerSpec,
    authenticator: Arc<dyn Authenticator>,
) -> (Proxy, SocketAddr) {
    let section = spec.section.clone();
    let mut proxy = Proxy::new(authenticator);
    let errors = proxy.apply(vec![spec]).await;
    assert!(errors.is_empty(), "{errors:?}");
    let address = proxy.local_addr(&section).unwrap();
    (proxy, address)
}

/// The decoded credentials of a SASL initial response, if it carries `token` for `user`.
pub fn token_ok(b64: &str, user: &str, token: &str) -> bool {
    let Ok(decoded) = STANDARD.decode(b64.trim()) else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    let bearer = format!("auth=Bearer {token}\u{1}");
    (text.starts_with(&format!("user={user}\u{1}")) || text.starts_with(&format!("n,a={user},")))
        && text.contains(&bearer)
}

/// The base64 error challenge upstream servers send for a bad token.
pub const ERROR_CHALLENGE: &str = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";

/// A line-based stream for test clients and fake servers.
pub struct Lines<S> {
    pub inner: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    pub fn new(stream: S) -> Self {
        Lines {
            inner: BufReader::new(stream),
        }
    }

    pub async fn line(&mut self) -> String {
        let mut line = String::new();
        self.inner.read_line(&mut line).await.unwrap();
        line
    }

    pub async fn send(&mut self, text: &str) {
        self.inner
            .get_mut()
            .write_all(text.as_bytes())
            .await
            .unwrap();
        self.inner.get_mut().flush().await.unwrap();
    }

    pub fn into_inner(self) -> S {
        assert!(self.inner.buffer().is_empty(), "unread bytes at upgrade");
        self.inner.into_inner()
    }
}

/// How a fake upstream offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamTls {
    Implicit,
    StartTls,
}

/// Starts a fake upstream: `serve` runs for each connection over the (TLS) stream.
pub async fn fake_upstream<F, Fut>(pki: &Pki, serve: F) -> SocketAddr
where
    F: Fn(TcpStream, TlsAcceptor) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(pki.server_config.clone());
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let serve = serve.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move { serve(tcp, acceptor).await });
        }
    });
    address
}
