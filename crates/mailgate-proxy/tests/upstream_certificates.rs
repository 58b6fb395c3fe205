//! Upstream certificates: what is accepted, what is refused, and what the client is told.
//!
//! A self-signed certificate made the way `openssl req -x509` makes it is marked `CA:TRUE`;
//! WebPKI alone refuses it as a server certificate. Trusted by name (`server_ca_file`), it is
//! pinned: accepted when the server presents exactly it, with its dates and host name still
//! checked. Every refusal reads as a sentence that says what to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;
mod logs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use hostile::*;
use mailgate_proxy::Protocol;
use tokio::net::TcpListener;

/// How the test server's certificate is made.
#[derive(Clone, Copy)]
enum Issuer {
    /// Signed by a new CA; the CA's certificate is the file to trust.
    Ca,
    /// Self-signed and marked as a CA, as `openssl req -x509` makes it; the certificate
    /// itself is the file to trust.
    SelfSignedCa,
}

/// A server configuration with a certificate for `names` (valid in 2000 only when
/// `expired`), and the PEM file that trusts it.
fn issued(
    issuer: Issuer,
    names: &[&str],
    expired: bool,
) -> (Arc<rustls::ServerConfig>, tempfile::TempDir, PathBuf) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2000, 12, 31);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert_pem, trusted_pem) = match issuer {
        Issuer::Ca => {
            let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem(), ca.pem())
        }
        Issuer::SelfSignedCa => {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let cert = params.self_signed(&key).unwrap();
            (cert.pem(), cert.pem())
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    let trusted_file = dir.path().join("trusted.pem");
    std::fs::write(&cert_file, cert_pem).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    std::fs::write(&trusted_file, trusted_pem).unwrap();
    let config = mailgate_proxy::tls::local_server_config(&cert_file, &key_file).unwrap();
    (config, dir, trusted_file)
}

/// A TLS IMAP upstream presenting `config` on every connection.
async fn upstream(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    serve_on(listener, config);
    address
}

/// The proxy (section `IMAP-test`, upstream `localhost`) in front of a server presenting
/// `config`, trusting only `ca_file`.
async fn proxy_for(
    config: Arc<rustls::ServerConfig>,
    ca_file: PathBuf,
) -> (mailgate_proxy::Proxy, SocketAddr) {
    let server = upstream(config).await;
    let mut spec = Pki::new().spec(Protocol::Imap, server);
    spec.server_ca_file = Some(ca_file);
    start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await
}

/// The client's first reply (every connection gets the same) and the proxy's log line.
async fn refusal(config: Arc<rustls::ServerConfig>, ca_file: PathBuf) -> String {
    let (_proxy, address) = proxy_for(config, ca_file).await;
    let reply = first_reply(address).await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    for _ in 0..2 {
        assert_eq!(first_reply(address).await, reply);
    }
    let reply = reply.into_iter().next().unwrap();
    assert!(
        reply.starts_with("* BYE ") && reply.contains("Secure connection to the server localhost:"),
        "{reply}"
    );
    // No enum names in what the user reads.
    for debug in [
        "Other(",
        "OtherError",
        "CaUsedAsEndEntity",
        "UnknownIssuer",
        "DnsName(",
    ] {
        assert!(!reply.contains(debug), "{reply}");
    }
    reply
}

#[tokio::test]
async fn a_certificate_signed_by_a_trusted_ca_is_accepted() {
    let (config, _dir, ca_file) = issued(Issuer::Ca, &["localhost"], false);
    let (_proxy, address) = proxy_for(config, ca_file).await;
    good_login(address).await;
}

#[tokio::test]
async fn a_self_signed_ca_certificate_in_server_ca_file_is_pinned() {
    let (config, _dir, certificate) = issued(Issuer::SelfSignedCa, &["localhost"], false);
    let (_proxy, address) = proxy_for(config, certificate).await;
    good_login(address).await;
    good_login(address).await;
}

#[tokio::test]
async fn a_self_signed_ca_certificate_nobody_trusted_is_refused() {
    logs::capture();
    let (config, _dir, _certificate) = issued(Issuer::SelfSignedCa, &["localhost"], false);
    let other = Pki::new();
    let reply = refusal(config, other.ca_file.clone()).await;
    assert!(
        reply.contains("presents a certificate authority's certificate as its own")
            && reply.contains("server_ca_file of [IMAP-test]"),
        "{reply}"
    );
    let logged = logs::line_with(&["presents a certificate authority's certificate"]).await;
    assert!(logged.contains("TLS connection to localhost:"), "{logged}");
}

#[tokio::test]
async fn a_pinned_certificate_for_another_host_is_refused() {
    let (config, _dir, certificate) = issued(Issuer::SelfSignedCa, &["mail.example.org"], false);
    let reply = refusal(config, certificate).await;
    assert!(
        reply.contains(
            "is for mail.example.org, not for localhost: set server_address in [IMAP-test]"
        ),
        "{reply}"
    );
}

#[tokio::test]
async fn an_expired_pinned_certificate_is_refused() {
    let (config, _dir, certificate) = issued(Issuer::SelfSignedCa, &["localhost"], true);
    let reply = refusal(config, certificate).await;
    assert!(
        reply.contains(" expired ")
            && reply.contains(" days ago: the server needs a new certificate"),
        "{reply}"
    );
}

#[tokio::test]
async fn upstream_certificate_from_an_unknown_ca() {
    let (config, _dir, _ca_file) = issued(Issuer::Ca, &["localhost"], false);
    let other = Pki::new();
    let reply = refusal(config, other.ca_file.clone()).await;
    assert!(
        reply.contains("is not signed by a certificate authority mailgate trusts")
            && reply.contains(&format!("add it to {}", other.ca_file.display())),
        "{reply}"
    );
}

#[tokio::test]
async fn upstream_certificate_expired() {
    let (config, _dir, ca_file) = issued(Issuer::Ca, &["localhost"], true);
    let reply = refusal(config, ca_file).await;
    assert!(
        reply.contains(" expired ")
            && reply.contains(" days ago: the server needs a new certificate"),
        "{reply}"
    );
}

#[tokio::test]
async fn upstream_certificate_for_another_host() {
    let (config, _dir, ca_file) = issued(Issuer::Ca, &["mail.example.org"], false);
    let reply = refusal(config, ca_file).await;
    assert!(
        reply.contains("is for mail.example.org, not for localhost"),
        "{reply}"
    );
}
