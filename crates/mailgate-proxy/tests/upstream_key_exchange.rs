//! Key exchange towards the upstream: the X25519MLKEM768 post-quantum hybrid is negotiated
//! with a server that offers it (here: a server that offers nothing else), and a server with
//! classical groups only still gets a connection (X25519).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hostile::*;
use mailgate_proxy::{Protocol, probe_upstream};
use rustls::NamedGroup;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

/// A server configuration for the test PKI's certificate whose provider offers only `groups`.
fn server_config(pki: &Pki, groups: &[NamedGroup]) -> Arc<rustls::ServerConfig> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .kx_groups
        .retain(|group| groups.contains(&group.name()));
    assert_eq!(provider.kx_groups.len(), groups.len(), "{groups:?}");
    let certificates = CertificateDer::pem_file_iter(&pki.cert_file)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key_file).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
    Arc::new(config)
}

/// An IMAP upstream presenting `config`.
async fn upstream(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    serve_on(listener, config);
    address
}

/// What `mailgate check --connect` reports for the server, and a login through the proxy.
async fn negotiated(groups: &[NamedGroup]) -> mailgate_proxy::TlsSummary {
    let pki = Pki::new();
    let server = upstream(server_config(&pki, groups)).await;
    let spec = pki.spec(Protocol::Imap, server);
    let summary = probe_upstream(&spec.prepare().unwrap(), Duration::from_secs(10))
        .await
        .unwrap();
    let (_proxy, address) = start_proxy(spec, FixedTokens::one(USER, PASSWORD, TOKEN)).await;
    good_login(address).await;
    summary
}

#[tokio::test]
async fn the_post_quantum_hybrid_is_negotiated_when_offered() {
    let summary = negotiated(&[NamedGroup::X25519MLKEM768]).await;
    assert_eq!(summary.key_exchange, Some(NamedGroup::X25519MLKEM768));
    assert_eq!(summary.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert!(
        summary.to_string().starts_with("TLS 1.3, TLS13_")
            && summary.to_string().ends_with(", X25519MLKEM768"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_classical_server_gets_x25519() {
    let summary = negotiated(&[NamedGroup::X25519, NamedGroup::secp256r1]).await;
    assert_eq!(summary.key_exchange, Some(NamedGroup::X25519));
}

#[tokio::test]
async fn a_server_with_only_nist_curves_still_connects() {
    let summary = negotiated(&[NamedGroup::secp384r1]).await;
    assert_eq!(summary.key_exchange, Some(NamedGroup::secp384r1));
}

#[tokio::test]
async fn the_hybrid_is_offered_first() {
    let provider = mailgate_proxy::tls::crypto_provider();
    let groups: Vec<NamedGroup> = provider.kx_groups.iter().map(|g| g.name()).collect();
    assert_eq!(
        groups.first(),
        Some(&NamedGroup::X25519MLKEM768),
        "{groups:?}"
    );
    assert!(groups.contains(&NamedGroup::X25519), "{groups:?}");
}
