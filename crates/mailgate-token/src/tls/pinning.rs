//! Certificates trusted by name are pinned, even when they say `CA:TRUE`.
//!
//! Certificates are verified by rustls' WebPKI verifier. One case is added on top: a server
//! that presents, as its own certificate, exactly a certificate the user trusted by name (an
//! extra CA file such as `server_ca_file`, or the bundle `SSL_CERT_FILE` / `SSL_CERT_DIR` point
//! to) is accepted even when that certificate is marked as a certificate authority.
//! `openssl req -x509` marks the self-signed certificates it makes that way (OpenSSL 3), and
//! WebPKI refuses a CA certificate as an end entity, so without this a self-signed on-premises
//! mail server or OAuth provider that the Python email-oauth2-proxy accepts would be refused.
//!
//! Such a pinned certificate is still checked for everything but its basic constraints: its
//! validity period (WebPKI checks every certificate's dates before its basic constraints, so a
//! `CaUsedAsEndEntity` refusal means the dates were good), the host name, and the handshake
//! signature, made with its key. The system's own root store never pins: a certificate
//! authority the operating system trusts is not a server certificate, so `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` pin only files outside the system's certificate directories (`/etc/ssl`,
//! `/etc/pki`, ...), where container images often point them at the system bundle.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

/// A server certificate verifier: WebPKI, plus the certificates the user pinned.
#[derive(Debug)]
pub struct PinningVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl PinningVerifier {
    /// WebPKI's verdict, except that a server presenting exactly one of `pinned` is accepted
    /// when WebPKI's only objection is that the certificate is a CA's.
    pub fn new(webpki: Arc<WebPkiServerVerifier>, pinned: Vec<CertificateDer<'static>>) -> Self {
        PinningVerifier { webpki, pinned }
    }

    fn is_pinned(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
    }
}

/// Whether WebPKI refused a certificate only because it is a certificate authority's
/// (`CA:TRUE`) presented as a server's own.
pub fn is_ca_used_as_end_entity(error: &CertificateError) -> bool {
    match error {
        CertificateError::Other(other) => matches!(
            other.0.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(error))
                if is_ca_used_as_end_entity(&error) && self.is_pinned(end_entity) =>
            {
                // The dates were checked before the basic constraints refused it; the name is
                // checked here, the handshake signature by the methods below.
                let certificate = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&certificate, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            result => result,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The certificates of the files `SSL_CERT_FILE` and `SSL_CERT_DIR` name outside the operating
/// system's certificate directories (`/etc/ssl`, `/etc/pki`, ...): those the user trusted by
/// name. A bundle inside those directories is the system's root store, which never pins.
/// Read once per process, like the roots `rustls-native-certs` loads from the same variables.
pub fn user_named_certificates() -> Vec<CertificateDer<'static>> {
    static NAMED: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    NAMED.get_or_init(read_user_named_certificates).clone()
}

fn read_user_named_certificates() -> Vec<CertificateDer<'static>> {
    let system: Vec<PathBuf> = openssl_probe::candidate_cert_dirs()
        .filter_map(|dir| dir.canonicalize().ok())
        .collect();
    let outside_system = |path: &Path| {
        path.canonicalize()
            .is_ok_and(|path| !system.iter().any(|dir| path.starts_with(dir)))
    };
    let mut files = Vec::new();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|value| !value.is_empty()) {
        files.push(PathBuf::from(file));
    }
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for dir in std::env::split_paths(&dirs).filter(|dir| outside_system(dir)) {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                files.extend(entries.flatten().map(|entry| entry.path()));
            }
        }
    }
    files
        .iter()
        .filter(|file| file.is_file() && outside_system(file))
        .filter_map(|file| CertificateDer::pem_file_iter(file).ok())
        .flat_map(|certificates| certificates.flatten())
        .collect()
}
