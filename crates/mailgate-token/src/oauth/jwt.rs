//! RS256 JSON Web Tokens signed with ring: client assertions (RFC 7523 §2.2) from
//! `jwt_certificate_path` / `jwt_key_path`, and Google service account grants.

use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use super::random;
use crate::SecretString;

/// Lifetime of a client assertion, in seconds (as the Python email-oauth2-proxy's `JWT_LIFETIME`).
pub(crate) const CLIENT_ASSERTION_LIFETIME_SECS: u64 = 300;

/// Why a JWT could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The private key is not a PEM RSA key ring can use.
    #[error(
        "the private key is not a usable PEM RSA key ({0}) - check jwt_key_path or the service account key"
    )]
    Key(String),
    /// The certificate is not a PEM X.509 certificate.
    #[error("the certificate is not a PEM certificate - check jwt_certificate_path")]
    Certificate,
    /// Signing failed (or the random generator did).
    #[error("signing the JWT failed")]
    Signing,
}

/// An RSA private key for RS256 signatures.
pub(crate) struct RsaSigningKey(RsaKeyPair);

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSigningKey([redacted])")
    }
}

impl RsaSigningKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Self, JwtError> {
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| JwtError::Key(e.to_string()))?;
        let pair = match &key {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err(JwtError::Key("not an RSA key".into())),
        }
        .map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(RsaSigningKey(pair))
    }

    /// Signs `header.claims` (both serialised as JSON objects) as a compact JWS with RS256.
    pub(crate) fn sign(
        &self,
        header: &impl Serialize,
        claims: &impl Serialize,
    ) -> Result<SecretString, JwtError> {
        let header = serde_json::to_vec(header).map_err(|_| JwtError::Signing)?;
        let claims = serde_json::to_vec(claims).map_err(|_| JwtError::Signing)?;
        let mut input = URL_SAFE_NO_PAD.encode(header);
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let mut signature = vec![0u8; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| JwtError::Signing)?;
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(SecretString::from(input))
    }
}

/// The `x5t#S256` thumbprint of a PEM certificate: base64url (padded, as the Python email-oauth2-proxy) of the
/// SHA-256 of its DER encoding.
pub(crate) fn certificate_thumbprint(certificate_pem: &[u8]) -> Result<String, JwtError> {
    let der = CertificateDer::from_pem_slice(certificate_pem).map_err(|_| JwtError::Certificate)?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    Ok(URL_SAFE.encode(digest.as_ref()))
}

/// The JOSE header of a client assertion (members in the order the Python email-oauth2-proxy
/// writes them).
#[derive(Serialize)]
struct AssertionHeader {
    alg: &'static str,
    typ: &'static str,
    #[serde(rename = "x5t#S256")]
    thumbprint: String,
}

/// The claims of a client assertion (RFC 7523 §3).
#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    exp: u64,
    iss: &'a str,
    jti: String,
    nbf: u64,
    sub: &'a str,
}

/// Builds the client assertion the Python email-oauth2-proxy sends for certificate credentials: header
/// `{"alg":"RS256","typ":"JWT","x5t#S256":…}`, claims `aud` = token URL, `iss` = `sub` =
/// client id, a random `jti`, `nbf` = `now`, `exp` = `now` + 300 s.
pub fn client_assertion(
    certificate_pem: &[u8],
    key_pem: &[u8],
    client_id: &str,
    token_url: &str,
    now: u64,
) -> Result<SecretString, JwtError> {
    let key = RsaSigningKey::from_pem(key_pem)?;
    let header = AssertionHeader {
        alg: "RS256",
        typ: "JWT",
        thumbprint: certificate_thumbprint(certificate_pem)?,
    };
    let claims = AssertionClaims {
        aud: token_url,
        exp: now.saturating_add(CLIENT_ASSERTION_LIFETIME_SECS),
        iss: client_id,
        jti: random::uuid_v4().map_err(|_| JwtError::Signing)?,
        nbf: now,
        sub: client_id,
    };
    key.sign(&header, &claims)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::Value;

    use super::*;

    /// A fixed RSA test key (PKCS#8) and a self-signed certificate for it.
    pub(crate) const TEST_RSA_KEY: &str = include_str!("../../tests/data/test-rsa-key.pem");
    pub(crate) const TEST_RSA_CERT: &str = include_str!("../../tests/data/test-rsa-cert.pem");

    fn test_key_and_cert() -> (String, String) {
        (TEST_RSA_KEY.to_owned(), TEST_RSA_CERT.to_owned())
    }

    #[test]
    fn client_assertion_verifies_and_has_reference_shape() {
        let (key_pem, cert_pem) = test_key_and_cert();
        let jwt = client_assertion(
            cert_pem.as_bytes(),
            key_pem.as_bytes(),
            "cid",
            "https://t/token",
            1000,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"].as_str().unwrap().len(), 44);
        assert!(header["x5t#S256"].as_str().unwrap().ends_with('='));
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["exp"], 1300);
        assert_eq!(claims["nbf"], 1000);
        assert_eq!(claims["iss"], "cid");
        assert_eq!(claims["sub"], "cid");
        assert_eq!(claims["aud"], "https://t/token");
        // Verify the signature with the public key.
        use aws_lc_rs::signature::KeyPair as _;
        let pair = RsaSigningKey::from_pem(key_pem.as_bytes()).unwrap();
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            pair.0.public_key().as_ref().to_vec(),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn bad_inputs() {
        assert!(matches!(
            RsaSigningKey::from_pem(b"nope"),
            Err(JwtError::Key(_))
        ));
        assert_eq!(certificate_thumbprint(b"nope"), Err(JwtError::Certificate));
    }
}
