//! Google Cloud service accounts: a JWT bearer grant (RFC 7523 §2.1) signed with the service
//! account's key, on behalf of the login username (domain-wide delegation).
//!
//! As in the Python email-oauth2-proxy, `client_id = file` makes `client_secret` the path of the JSON key file,
//! and `client_id = key` makes `client_secret` the JSON key itself.

use serde::{Deserialize, Serialize};

use super::grant::Grant;
use super::jwt::{JwtError, RsaSigningKey};
use crate::SecretString;

/// Lifetime requested for the assertion, in seconds (as google-auth).
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// Token endpoint used when the key has no `token_uri`.
pub(crate) const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Why a service account key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceAccountError {
    /// `client_id` is neither `file` nor `key`.
    #[error("service account key type not specified - `client_id` must be set to `file` or `key`")]
    KeyType,
    /// `client_secret` (the key path or JSON) is missing.
    #[error(
        "service account key missing - set `client_secret` to the key file path or the key JSON"
    )]
    MissingKey,
    /// The key file could not be read.
    #[error("unable to open service account key file {path}: {source}")]
    File {
        /// The path from `client_secret`.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key is not a service account JSON key.
    #[error("invalid service account key: {0} - download a new JSON key for the service account")]
    Json(&'static str),
    /// The key's private key cannot sign.
    #[error(transparent)]
    Jwt(#[from] JwtError),
}

/// The fields of a service account JSON key that are used (strings; anything else is absent).
#[derive(Deserialize)]
struct KeyFile {
    #[serde(default, deserialize_with = "super::wire::text")]
    client_email: Option<String>,
    #[serde(default, deserialize_with = "super::wire::text")]
    private_key: Option<String>,
    #[serde(default, deserialize_with = "super::wire::text")]
    private_key_id: Option<String>,
    #[serde(default, deserialize_with = "super::wire::text")]
    token_uri: Option<String>,
}

/// The JOSE header of an assertion.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    typ: &'static str,
}

/// The claims of a service account assertion (RFC 7523 §3, Google's `scope`).
#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    exp: u64,
    iat: u64,
    iss: &'a str,
    scope: &'a str,
    sub: &'a str,
}

/// A Google service account JSON key.
#[derive(Debug)]
pub struct ServiceAccountKey {
    /// `client_email`: the assertion's issuer.
    pub client_email: String,
    /// `private_key_id`: the assertion's `kid`, if present.
    pub private_key_id: Option<String>,
    /// `token_uri`: where the assertion is sent.
    pub token_uri: String,
    key: RsaSigningKey,
}

impl ServiceAccountKey {
    /// Decodes a JSON key.
    pub fn from_json(text: &str) -> Result<Self, ServiceAccountError> {
        let json: KeyFile =
            serde_json::from_str(text).map_err(|_| ServiceAccountError::Json("not JSON"))?;
        let client_email = json
            .client_email
            .ok_or(ServiceAccountError::Json("no client_email"))?;
        let private_key = SecretString::from(
            json.private_key
                .ok_or(ServiceAccountError::Json("no private_key"))?,
        );
        Ok(ServiceAccountKey {
            client_email,
            private_key_id: json.private_key_id,
            token_uri: json
                .token_uri
                .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
            key: RsaSigningKey::from_pem(private_key.expose().as_bytes())?,
        })
    }

    /// Loads the key as the Python email-oauth2-proxy does from `client_id` (`file` or `key`) and
    /// `client_secret`. Reads a file: call it off the async runtime's worker threads.
    pub fn load(
        client_id: &str,
        client_secret: Option<&SecretString>,
    ) -> Result<Self, ServiceAccountError> {
        let secret = client_secret.ok_or(ServiceAccountError::MissingKey)?;
        match client_id {
            "file" => {
                let path = secret.expose();
                let text =
                    zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                        ServiceAccountError::File {
                            path: path.clone(),
                            source,
                        }
                    })?);
                Self::from_json(&text)
            }
            "key" => Self::from_json(secret.expose()),
            _ => Err(ServiceAccountError::KeyType),
        }
    }

    /// The signed assertion for `scope` (space-separated) on behalf of `subject`, issued at `now`.
    pub fn assertion(
        &self,
        scope: &str,
        subject: &str,
        now: u64,
    ) -> Result<SecretString, ServiceAccountError> {
        let header = Header {
            alg: "RS256",
            kid: self.private_key_id.as_deref(),
            typ: "JWT",
        };
        let claims = Claims {
            aud: &self.token_uri,
            exp: now.saturating_add(ASSERTION_LIFETIME_SECS),
            iat: now,
            iss: &self.client_email,
            scope,
            sub: subject,
        };
        Ok(self.key.sign(&header, &claims)?)
    }

    /// The grant carrying `assertion`.
    pub fn grant(assertion: &SecretString) -> Grant<'_> {
        Grant::JwtBearer { assertion }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::{Value, json};

    use super::*;

    pub(crate) fn key_json() -> String {
        json!({
            "type": "service_account",
            "private_key_id": "kid1",
            "private_key": super::super::jwt::tests::TEST_RSA_KEY,
            "client_email": "svc@project.iam.gserviceaccount.com",
            "token_uri": "http://127.0.0.1:1/token",
        })
        .to_string()
    }

    #[test]
    fn assertion_claims() {
        let key = ServiceAccountKey::load("key", Some(&SecretString::from(key_json()))).unwrap();
        let jwt = key
            .assertion("https://mail.google.com/", "user@example.com", 50)
            .unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        let decode = |p: &str| -> Value {
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(decode(parts[0])["kid"], "kid1");
        let claims = decode(parts[1]);
        assert_eq!(claims["sub"], "user@example.com");
        assert_eq!(claims["iss"], "svc@project.iam.gserviceaccount.com");
        assert_eq!(claims["aud"], "http://127.0.0.1:1/token");
        assert_eq!(claims["exp"], 3650);
    }

    #[test]
    fn load_errors() {
        let secret = SecretString::from("/nonexistent/key.json");
        assert!(matches!(
            ServiceAccountKey::load("file", Some(&secret)),
            Err(ServiceAccountError::File { .. })
        ));
        assert!(matches!(
            ServiceAccountKey::load("other", Some(&secret)),
            Err(ServiceAccountError::KeyType)
        ));
        assert!(matches!(
            ServiceAccountKey::load("key", None),
            Err(ServiceAccountError::MissingKey)
        ));
        assert!(matches!(
            ServiceAccountKey::load("key", Some(&"{}".into())),
            Err(ServiceAccountError::Json(_))
        ));
    }
}
