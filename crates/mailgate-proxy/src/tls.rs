//! TLS configuration for both sides of the proxy.
//!
//! The local side (what mail clients connect to) uses a certificate and key read from PEM files
//! (`local_certificate_path` / `local_key_path`). The upstream side (the provider) is always
//! verified: the system roots (via `rustls-native-certs`, so `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! work) plus an optional per-server `server_ca_file`; a server presenting exactly a certificate
//! the user trusted by name is accepted even when it is marked as a CA
//! ([`mailgate_token::tls::PinningVerifier`]).
//! There is no option to disable verification and no fallback to plain text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use mailgate_token::tls::PinningVerifier;

use crate::error::ConfigError;

/// The crypto provider of every TLS connection mailgate makes or accepts (aws-lc-rs with the
/// X25519MLKEM768 post-quantum hybrid preferred): [`mailgate_token::tls::crypto_provider`].
pub fn crypto_provider() -> Arc<CryptoProvider> {
    mailgate_token::tls::crypto_provider()
}

/// Reads every certificate of a PEM file.
fn read_certificates(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| ConfigError::Pem {
            key,
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(ConfigError::Pem {
            key,
            path: path.to_path_buf(),
            reason: "no certificate found in the file".to_owned(),
        });
    }
    Ok(certificates)
}

/// Builds the TLS configuration the proxy presents to local clients, from PEM files holding the
/// certificate chain and the private key (PKCS#8, PKCS#1 or SEC1).
///
/// Used for implicit TLS listeners and for local STARTTLS / STLS.
pub fn local_server_config(
    certificate_path: &Path,
    key_path: &Path,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let certificates = read_certificates(certificate_path, "local_certificate_path")?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|error| ConfigError::Pem {
        key: "local_key_path",
        path: key_path.to_path_buf(),
        reason: error.to_string(),
    })?;
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| ConfigError::Tls(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|error| ConfigError::Pem {
            key: "local_key_path",
            path: key_path.to_path_buf(),
            reason: format!("the key does not match the certificate or is unusable: {error}"),
        })?;
    Ok(Arc::new(config))
}

/// The system's trusted roots, loaded once per process.
#[derive(Debug)]
struct SystemRoots {
    store: RootCertStore,
    /// The certificates of `SSL_CERT_FILE` / `SSL_CERT_DIR` outside the operating system's
    /// certificate directories: trusted by name, so a server presenting one of them exactly is
    /// accepted (see [`PinningVerifier`]). Empty when the roots are the system's own.
    named: Vec<CertificateDer<'static>>,
}

/// The system's trusted roots (honours `SSL_CERT_FILE`/`SSL_CERT_DIR`).
fn system_roots() -> Arc<SystemRoots> {
    static ROOTS: OnceLock<Arc<SystemRoots>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for error in &loaded.errors {
                tracing::warn!("Unable to load a system root certificate: {error}");
            }
            let named = mailgate_token::tls::user_named_certificates();
            let mut store = RootCertStore::empty();
            let (added, ignored) = store.add_parsable_certificates(loaded.certs);
            tracing::debug!("Loaded {added} system root certificates ({ignored} unusable)");
            Arc::new(SystemRoots { store, named })
        })
        .clone()
}

/// Where the upstream side finds its trust anchors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamTrust {
    /// Trust the operating system's roots (the default).
    pub system_roots: bool,
    /// An additional PEM file of trusted CA certificates (`server_ca_file`).
    pub ca_file: Option<PathBuf>,
}

impl UpstreamTrust {
    /// System roots only.
    pub fn system() -> Self {
        UpstreamTrust {
            system_roots: true,
            ca_file: None,
        }
    }

    /// System roots plus the CA certificates of `ca_file` when given.
    pub fn with_ca_file(ca_file: Option<PathBuf>) -> Self {
        UpstreamTrust {
            system_roots: true,
            ca_file,
        }
    }

    /// Only the CA certificates of `ca_file` (used by tests and private deployments).
    pub fn only_ca_file(ca_file: PathBuf) -> Self {
        UpstreamTrust {
            system_roots: false,
            ca_file: Some(ca_file),
        }
    }
}

/// Builds the verified TLS client configuration for connections to an upstream server.
///
/// Certificates are verified by WebPKI against the trust anchors; a server presenting exactly
/// a certificate of `server_ca_file` or of the bundle `SSL_CERT_FILE`/`SSL_CERT_DIR` name is
/// accepted even when that certificate is marked as a CA, as self-signed certificates made with
/// `openssl req -x509` are (its dates, host name and handshake signature are still checked;
/// see [`PinningVerifier`]).
///
/// Fails when no trust anchor at all is available: the proxy never connects unverified.
pub fn upstream_client_config(trust: &UpstreamTrust) -> Result<Arc<ClientConfig>, ConfigError> {
    let mut pinned = Vec::new();
    let mut roots = if trust.system_roots {
        let system = system_roots();
        pinned.extend(system.named.iter().cloned());
        system.store.clone()
    } else {
        RootCertStore::empty()
    };
    if let Some(path) = &trust.ca_file {
        for certificate in read_certificates(path, "server_ca_file")? {
            roots
                .add(certificate.clone())
                .map_err(|error| ConfigError::Pem {
                    key: "server_ca_file",
                    path: path.clone(),
                    reason: error.to_string(),
                })?;
            pinned.push(certificate);
        }
    }
    if roots.is_empty() {
        return Err(ConfigError::Tls(
            "no trusted root certificates: install the system CA bundle, set SSL_CERT_FILE or \
             add `server_ca_file` to the server section"
                .to_owned(),
        ));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
        .build()
        .map_err(|error| ConfigError::Tls(error.to_string()))?;
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| ConfigError::Tls(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier::new(webpki, pinned)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the upstream certificate must match, from the configured `server_address`.
pub fn server_name(server_address: &str) -> Result<ServerName<'static>, ConfigError> {
    let trimmed = server_address.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(trimmed.to_owned()).map_err(|_| ConfigError::InvalidValue {
        key: "server_address",
        value: server_address.to_owned(),
        reason: "not a valid host name or IP address for TLS".to_owned(),
    })
}
