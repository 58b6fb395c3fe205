//! The error a provider reports in its XOAUTH2/OAUTHBEARER error challenge.

use core::fmt;

use serde_json::Value;

use crate::codec::decode_base64_lenient;
use crate::mechanism::truncate;

/// Longest `raw` text kept from an error challenge, in bytes.
pub const MAX_RAW_ERROR_LEN: usize = 2048;

/// A provider's decoded authentication error (RFC 7628 section 3.2.2, and the
/// XOAUTH2 form used by Google and Microsoft).
///
/// Gmail sends, base64-encoded, e.g.
/// `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`;
/// RFC 7628 uses `{"status":"invalid_token","scope":"...","openid-configuration":"..."}`.
/// Parsing is tolerant: `status` may be a JSON string or number, `scope` a string or
/// an array of strings, `error`/`error_description` (OAuth 2.0 token-endpoint style,
/// seen from some Microsoft endpoints) are accepted as fallbacks, and text that is
/// not JSON (or not base64) is kept verbatim in `raw` with all fields `None`.
///
/// ```
/// use mailgate_sasl::ProviderError;
/// let e = ProviderError::from_challenge(
///     b"eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==");
/// assert_eq!(e.status.as_deref(), Some("400"));
/// assert_eq!(e.schemes.as_deref(), Some("Bearer"));
/// assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// `status`: an HTTP-like code (`"400"`, `"401"`) or an OAuth error code
    /// (`"invalid_token"`).
    pub status: Option<String>,
    /// `schemes`: the HTTP authentication schemes the server accepts (`"Bearer"`).
    pub schemes: Option<String>,
    /// `scope`: the OAuth scope the token needs, space-separated.
    pub scope: Option<String>,
    /// `openid-configuration`: URL of the provider's discovery document (RFC 7628).
    pub openid_configuration: Option<String>,
    /// A human-readable description, if the provider sent one (`error_description`).
    pub description: Option<String>,
    /// The decoded challenge text (lossy UTF-8, at most [`MAX_RAW_ERROR_LEN`] bytes).
    pub raw: String,
}

impl ProviderError {
    /// Decodes an error challenge as received on the wire (base64 text, without the
    /// `+ `/`334 ` prefix). Never fails: undecodable input is kept in `raw`.
    pub fn from_challenge(base64_text: &[u8]) -> Self {
        match decode_base64_lenient(trim_ascii(base64_text)) {
            Ok(bytes) => Self::from_json(&bytes),
            Err(_) => Self {
                raw: truncate(&String::from_utf8_lossy(base64_text), MAX_RAW_ERROR_LEN),
                ..Self::default()
            },
        }
    }

    /// Decodes the already base64-decoded error payload. Never fails: text that is
    /// not a JSON object is kept in `raw`.
    pub fn from_json(decoded: &[u8]) -> Self {
        let raw = truncate(&String::from_utf8_lossy(decoded), MAX_RAW_ERROR_LEN);
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(decoded) else {
            return Self {
                raw,
                ..Self::default()
            };
        };
        let field = |name: &str| map.get(name).and_then(value_text);
        Self {
            status: field("status").or_else(|| field("error")),
            schemes: field("schemes"),
            scope: field("scope"),
            openid_configuration: field("openid-configuration"),
            description: field("error_description")
                .or_else(|| field("description"))
                .or_else(|| field("message")),
            raw,
        }
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(truncate(s, MAX_RAW_ERROR_LEN)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(value_text).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        Value::Null | Value::Object(_) => None,
    }
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = [
            ("status", &self.status),
            ("schemes", &self.schemes),
            ("scope", &self.scope),
            ("description", &self.description),
            ("openid-configuration", &self.openid_configuration),
        ];
        let mut any = false;
        for (name, value) in fields {
            if let Some(v) = value {
                if any {
                    f.write_str(", ")?;
                }
                write!(f, "{name} {v:?}")?;
                any = true;
            }
        }
        if !any {
            if self.raw.is_empty() {
                f.write_str("no details given")?;
            } else {
                write!(f, "{:?}", self.raw)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_base64;

    fn from_text(json: &str) -> ProviderError {
        ProviderError::from_challenge(encode_base64(json.as_bytes()).as_bytes())
    }

    #[test]
    fn gmail() {
        let e =
            from_text(r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#);
        assert_eq!(e.status.as_deref(), Some("400"));
        assert_eq!(e.schemes.as_deref(), Some("Bearer"));
        assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
        assert_eq!(
            e.to_string(),
            r#"status "400", schemes "Bearer", scope "https://mail.google.com/""#
        );
    }

    #[test]
    fn rfc7628() {
        let e = from_text(
            r#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#,
        );
        assert_eq!(e.status.as_deref(), Some("invalid_token"));
        assert_eq!(e.scope.as_deref(), Some("example_scope"));
        assert_eq!(
            e.openid_configuration.as_deref(),
            Some("https://example.com/.well-known/openid-configuration")
        );
        assert_eq!(e.schemes, None);
    }

    #[test]
    fn variants() {
        let e = from_text(r#"{"status":401,"schemes":"bearer","scope":["a","b"]}"#);
        assert_eq!(e.status.as_deref(), Some("401"));
        assert_eq!(e.scope.as_deref(), Some("a b"));
        let e = from_text(r#"{"error":"invalid_grant","error_description":"AADSTS70000"}"#);
        assert_eq!(e.status.as_deref(), Some("invalid_grant"));
        assert_eq!(e.description.as_deref(), Some("AADSTS70000"));
        let e =
            from_text(r#"{"status":"invalid_request","description":"bad token","scope":"mail-w"}"#);
        assert_eq!(e.description.as_deref(), Some("bad token"));
        assert_eq!(e.scope.as_deref(), Some("mail-w"));
        let e = from_text("{}");
        assert_eq!(e.status, None);
        assert_eq!(e.raw, "{}");
        assert_eq!(e.to_string(), r#""{}""#);
    }

    #[test]
    fn tolerates_non_json_and_non_base64() {
        let e = from_text("Authentication failed.");
        assert_eq!(e.status, None);
        assert_eq!(e.raw, "Authentication failed.");
        let e = ProviderError::from_challenge(b"not base64 at all!");
        assert_eq!(e.raw, "not base64 at all!");
        let e = ProviderError::from_challenge(b"");
        assert_eq!(e.raw, "");
        assert_eq!(e.to_string(), "no details given");
        // Missing padding is tolerated for error challenges.
        let e = ProviderError::from_challenge(b"eyJzdGF0dXMiOiI0MDEifQ");
        assert_eq!(e.status.as_deref(), Some("401"));
        let e = ProviderError::from_challenge(b" eyJzdGF0dXMiOiI0MDEifQ==\r\n");
        assert_eq!(e.status.as_deref(), Some("401"));
    }

    #[test]
    fn raw_is_bounded() {
        let long = "x".repeat(10_000);
        let e = from_text(&long);
        assert_eq!(e.raw.len(), MAX_RAW_ERROR_LEN);
    }
}
