//! HTTPS through the workspace client against a loopback TLS server whose certificate is
//! trusted through `extra_roots` or an extra CA file, and refused otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use mailgate_token::tls::TlsConfigError;
use mailgate_token::transport::{HttpClient, HttpClientConfig, HttpError};
use oauth2::url::Url;
use oauth2::{AsyncHttpClient as _, HttpResponse};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn get(client: &HttpClient, url: &Url) -> Result<HttpResponse, HttpError> {
    let request = oauth2::http::Request::get(url.as_str())
        .body(Vec::new())
        .unwrap();
    client.call(request).await
}

struct TlsServer {
    url: Url,
    cert: CertificateDer<'static>,
    cert_pem: String,
}

async fn tls_server(requests: usize) -> TlsServer {
    tls_server_with(requests, false).await
}

/// A loopback HTTPS token endpoint with a self-signed certificate for `localhost`, marked as
/// a CA when `is_ca` (as `openssl req -x509` makes them).
async fn tls_server_with(requests: usize, is_ca: bool) -> TlsServer {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    if is_ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let cert = params.self_signed(&key).unwrap();
    let cert_der = cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der.clone()], key_der)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..requests {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tls.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            let body = r#"{"access_token":"tls-token","expires_in":60}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            tls.write_all(reply.as_bytes()).await.unwrap();
            tls.shutdown().await.ok();
        }
    });
    TlsServer {
        url: Url::parse(&format!("https://localhost:{port}/token")).unwrap(),
        cert: cert_der,
        cert_pem: cert.pem(),
    }
}

#[tokio::test]
async fn https_with_extra_root_succeeds_and_untrusted_fails() {
    let server = tls_server(2).await;
    let mut config = HttpClientConfig::default();
    config.extra_roots = vec![server.cert.clone()];
    let client = HttpClient::new(config).unwrap();
    let response = get(&client, &server.url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(String::from_utf8_lossy(response.body()).contains("tls-token"));

    let untrusted = HttpClient::new(HttpClientConfig::default()).unwrap();
    let e = get(&untrusted, &server.url).await.unwrap_err();
    assert!(matches!(e, HttpError::Tls { .. }), "{e:?}");
}

#[tokio::test]
async fn https_with_extra_ca_file() {
    let server = tls_server(1).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &server.cert_pem).unwrap();
    let mut config = HttpClientConfig::default();
    config.extra_ca_file = Some(path);
    let client = HttpClient::new(config).unwrap();
    let response = get(&client, &server.url).await.unwrap();
    assert_eq!(response.status(), 200);

    let mut config = HttpClientConfig::default();
    config.extra_ca_file = Some(dir.path().join("missing.pem"));
    assert!(matches!(
        HttpClient::new(config).unwrap_err(),
        HttpError::TlsConfig(TlsConfigError::CaFile { .. })
    ));
}

/// An on-premises provider whose self-signed certificate says `CA:TRUE` is accepted when that
/// exact certificate is trusted by name, and refused otherwise.
#[tokio::test]
async fn a_self_signed_ca_certificate_trusted_by_name_is_pinned() {
    let server = tls_server_with(2, true).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.pem");
    std::fs::write(&path, &server.cert_pem).unwrap();
    let mut config = HttpClientConfig::default();
    config.extra_ca_file = Some(path);
    let client = HttpClient::new(config).unwrap();
    let response = get(&client, &server.url).await.unwrap();
    assert_eq!(response.status(), 200);

    let other = tls_server_with(1, true).await;
    let mut config = HttpClientConfig::default();
    config.extra_roots = vec![server.cert.clone()];
    let e = get(&HttpClient::new(config).unwrap(), &other.url)
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Tls { .. }), "{e:?}");
}
