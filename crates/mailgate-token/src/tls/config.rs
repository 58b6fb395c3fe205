//! The crypto provider and the rustls client configuration of token requests.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// Why the TLS client configuration of token requests could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The extra CA certificate file could not be read, holds no certificate, or holds an
    /// unusable one (configuration fault: fix or remove the file setting).
    #[error("cannot use CA certificate file {path}: {reason}")]
    CaFile {
        /// Path of the file (`(extra root)` for a certificate given in memory).
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the provider or the verifier (a build fault of mailgate; report it).
    #[error("cannot configure TLS: {0}")]
    Provider(String),
}

/// The rustls crypto provider of every TLS connection mailgate makes or accepts: token
/// requests, upstream IMAP/POP3/SMTP and local TLS listeners (`mailgate-proxy` uses it too).
///
/// It is aws-lc-rs with rustls' `prefer-post-quantum` ordering: the X25519MLKEM768 hybrid key
/// exchange (ML-KEM-768 with X25519, so a connection is as strong as the better of the two)
/// is offered first, then X25519, secp256r1 and secp384r1 for servers without it; cipher
/// suites are rustls' defaults (TLS 1.3 AES-GCM and ChaCha20-Poly1305, TLS 1.2 ECDHE with
/// AEAD only). Chosen here, explicitly, so the process-wide default provider never matters.
///
/// ```
/// let provider = mailgate_token::tls::crypto_provider();
/// let first = provider.kx_groups[0].name();
/// assert_eq!(first, rustls::NamedGroup::X25519MLKEM768);
/// ```
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// Builds the rustls client configuration used for every HTTPS request.
///
/// Roots come from the platform store via `rustls-native-certs` (which honours `SSL_CERT_FILE`
/// and `SSL_CERT_DIR`), plus every certificate in `extra_ca_file` and `extra_roots`. A server
/// presenting exactly one of the certificates trusted by name (`extra_ca_file`,
/// `extra_roots`, `SSL_CERT_FILE`/`SSL_CERT_DIR` outside the system's directories) is accepted
/// even when it is marked as a CA, as self-signed certificates made by `openssl req -x509` are
/// ([`PinningVerifier`](super::PinningVerifier)).
///
/// ```
/// use mailgate_token::tls::{TlsConfigError, client_config};
///
/// let config = client_config(None, &[])?;
/// assert!(config.alpn_protocols.is_empty());
/// let missing = client_config(Some(std::path::Path::new("/nonexistent/ca.pem")), &[]);
/// assert!(matches!(missing, Err(TlsConfigError::CaFile { .. })));
/// # Ok::<(), TlsConfigError>(())
/// ```
pub fn client_config(
    extra_ca_file: Option<&Path>,
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    let mut pinned = super::user_named_certificates();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "skipping unreadable platform root certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::debug!(ignored, "ignored unparsable platform root certificates");
    }
    if let Some(path) = extra_ca_file {
        let ca_error = |reason: String| TlsConfigError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("no PEM certificate in the file".into()));
        }
        for cert in certs {
            roots
                .add(cert.clone())
                .map_err(|e| ca_error(format!("unusable certificate: {e}")))?;
            pinned.push(cert);
        }
    }
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| TlsConfigError::CaFile {
                path: "(extra root)".into(),
                reason: e.to_string(),
            })?;
        pinned.push(cert.clone());
    }
    if roots.is_empty() {
        tracing::warn!(
            "no trusted root certificates found (platform store had {added}); HTTPS requests will fail - set SSL_CERT_FILE"
        );
    }
    let tls_error = TlsConfigError::Provider;
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    if roots.is_empty() {
        // Every HTTPS request fails, with the warning above to explain it.
        return Ok(Arc::new(
            builder.with_root_certificates(roots).with_no_client_auth(),
        ));
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        crypto_provider(),
    )
    .build()
    .map_err(|e| tls_error(e.to_string()))?;
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(super::PinningVerifier::new(webpki, pinned)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}
