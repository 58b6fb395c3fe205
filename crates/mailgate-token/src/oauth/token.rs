//! Token responses (RFC 6749 §5.1), decoded as leniently as the Python email-oauth2-proxy.

use super::error::{ProviderError, TokenRequestError};
use super::wire::{ErrorResponseBody, TokenResponseBody};
use crate::SecretString;

/// Lifetime assumed when a token response has no `expires_in`, in seconds (as the Python
/// email-oauth2-proxy).
pub(crate) const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3600;

/// A successful token response.
///
/// Parsing is as lenient as the Python email-oauth2-proxy: only `access_token` is required;
/// `expires_in` may be a number or a numeric string; `token_type` is not checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: SecretString,
    /// Seconds until the access token expires, if the provider said.
    pub expires_in: Option<u64>,
    /// A new refresh token, if the provider issued one (rotation).
    pub refresh_token: Option<SecretString>,
    /// `scope` granted, if the provider said.
    pub scope: Option<String>,
}

impl TokenResponse {
    /// A response with just an access token and lifetime (for tests and custom flows).
    pub fn new(access_token: SecretString, expires_in: Option<u64>) -> Self {
        TokenResponse {
            access_token,
            expires_in,
            refresh_token: None,
            scope: None,
        }
    }

    /// Unix time at which the access token expires, given the time `now` the response arrived;
    /// 3600 s when the provider gave no lifetime.
    pub fn expires_at(&self, now: u64) -> u64 {
        now.saturating_add(self.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS))
    }

    /// Decodes a token endpoint's answer, its HTTP `status` and `body`: a token on 2xx,
    /// otherwise the most specific error. An OAuth 2.0 error object is honoured whatever the
    /// status (some providers send `authorization_pending` with 200).
    ///
    /// ```
    /// use mailgate_token::oauth::TokenResponse;
    ///
    /// let token = TokenResponse::from_http(200, br#"{"access_token":"AT","expires_in":"3599"}"#).unwrap();
    /// assert_eq!((token.access_token.expose().as_str(), token.expires_in), ("AT", Some(3599)));
    ///
    /// let refused = TokenResponse::from_http(400, br#"{"error":"invalid_grant","error_codes":[70000]}"#);
    /// assert!(refused.unwrap_err().is_invalid_grant());
    /// ```
    pub fn from_http(status: u16, body: &[u8]) -> Result<Self, TokenRequestError> {
        decode(status, body).map(TokenResponse::from)
    }
}

impl From<TokenResponseBody> for TokenResponse {
    fn from(body: TokenResponseBody) -> Self {
        let TokenResponseBody {
            access_token,
            expires_in,
            refresh_token,
            scope,
            ..
        } = body;
        TokenResponse {
            access_token: SecretString::from(access_token.into_secret()),
            expires_in,
            refresh_token: refresh_token.map(|token| SecretString::from(token.into_secret())),
            scope: scope.map(|scopes| {
                scopes
                    .iter()
                    .map(|scope| scope.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
        }
    }
}

/// The provider's OAuth 2.0 error in `body`, if it is one.
pub(crate) fn provider_error(status: u16, body: &[u8]) -> Option<ProviderError> {
    if !is_json_object(body) {
        return None;
    }
    let error: ErrorResponseBody = serde_json::from_slice(body).ok()?;
    Some(ProviderError::from_body(status, error))
}

/// Whether `body` starts like a JSON object. serde reads a struct from a JSON array too (its
/// members in order), which no provider means.
pub(crate) fn is_json_object(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

/// Classifies a token endpoint's answer (see [`TokenResponse::from_http`]).
pub(crate) fn decode(status: u16, body: &[u8]) -> Result<TokenResponseBody, TokenRequestError> {
    if let Some(error) = provider_error(status, body) {
        return Err(TokenRequestError::Rejected(error));
    }
    if status >= 400 {
        return Err(TokenRequestError::ServerError { status });
    }
    let invalid = |reason: String| TokenRequestError::InvalidResponse { status, reason };
    if !(200..300).contains(&status) {
        return Err(invalid(
            "unexpected status (redirects are not followed; check token_url)".to_owned(),
        ));
    }
    if !is_json_object(body) {
        return Err(invalid("body is not a JSON object".to_owned()));
    }
    match serde_json::from_slice::<TokenResponseBody>(body) {
        Ok(token) => token.check().map_err(|reason| invalid(reason.to_owned())),
        Err(error) if error.is_data() => {
            let text = error.to_string();
            // serde_json appends " at line L column C"; the first part says what was wrong.
            let reason = text.split(" at line ").next().unwrap_or_default();
            Err(invalid(if reason.starts_with("invalid type") {
                "body is not a JSON object".to_owned()
            } else {
                reason.to_owned()
            }))
        }
        Err(_) => Err(invalid("body is not a JSON object".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(u16, &str, &str)] = &[
            (
                200,
                r#"{"access_token":"a","expires_in":3600,"refresh_token":"r"}"#,
                "ok a 3600 r",
            ),
            (
                200,
                r#"{"access_token":"a","expires_in":"60"}"#,
                "ok a 60 -",
            ),
            (200, r#"{"access_token":"a"}"#, "ok a none -"),
            (
                200,
                r#"{"access_token":"a","expires_in":3599.5}"#,
                "ok a 3599 -",
            ),
            (200, r#"{"token_type":"Bearer"}"#, "invalid"),
            (200, r#"{"access_token":""}"#, "invalid"),
            (
                200,
                r#"{"access_token":"a","expires_in":"soon"}"#,
                "invalid",
            ),
            (200, "<html>", "invalid"),
            (302, "", "invalid"),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS70000: x\r\ntrace","error_codes":[70000]}"#,
                "rejected invalid_grant",
            ),
            (
                401,
                r#"{"error":"invalid_client"}"#,
                "rejected invalid_client",
            ),
            (
                200,
                r#"{"error":"authorization_pending"}"#,
                "rejected authorization_pending",
            ),
            (400, "Bad Request", "server 400"),
            (503, "<html>busy</html>", "server 503"),
            (
                500,
                r#"{"error":{"code":500,"message":"x"}}"#,
                "rejected 500",
            ),
            // Seen from Google APIs: a nested error with a status name and no code.
            (
                503,
                r#"{"error":{"status":"UNAVAILABLE","message":"x"}}"#,
                "rejected UNAVAILABLE",
            ),
            // token_type of any type, or none; an empty refresh token is no refresh token.
            (
                200,
                r#"{"access_token":"a","token_type":7,"refresh_token":""}"#,
                "ok a none -",
            ),
            (
                201,
                r#"{"access_token":"a","expires_in":"  90 ","scope":["x"]}"#,
                "ok a 90 -",
            ),
            (200, r#"{"access_token":"a","expires_in":null}"#, "invalid"),
            (200, r#"{"access_token":"a","expires_in":-5}"#, "invalid"),
            (200, r#"{"access_token":7}"#, "invalid"),
            (200, r#"["access_token"]"#, "invalid"),
            (200, "", "invalid"),
            // An error member that is not an OAuth 2.0 error is not one.
            (200, r#"{"access_token":"a","error":null}"#, "ok a none -"),
            (
                400,
                r#"{"error":"invalid_scope","error_codes":"70011"}"#,
                "rejected invalid_scope",
            ),
        ];
        for (status, body, expected) in cases {
            let got = match TokenResponse::from_http(*status, body.as_bytes()) {
                Ok(t) => format!(
                    "ok {} {} {}",
                    t.access_token.expose(),
                    t.expires_in.map_or("none".into(), |e| e.to_string()),
                    t.refresh_token
                        .as_ref()
                        .map_or("-".to_owned(), |r| r.expose().clone())
                ),
                Err(TokenRequestError::Rejected(e)) => format!("rejected {}", e.error),
                Err(TokenRequestError::ServerError { status }) => format!("server {status}"),
                Err(TokenRequestError::InvalidResponse { .. }) => "invalid".into(),
                Err(e) => format!("other {e}"),
            };
            assert_eq!(&got, expected, "{status} {body}");
        }
    }

    #[test]
    fn reasons_say_what_is_wrong() {
        let reason = |body: &str| match TokenResponse::from_http(200, body.as_bytes()) {
            Err(TokenRequestError::InvalidResponse { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(r#"{"token_type":"Bearer"}"#), "no access_token");
        assert_eq!(
            reason(r#"{"access_token":"a","expires_in":"soon"}"#),
            "expires_in is not a number"
        );
        assert_eq!(reason("<html>"), "body is not a JSON object");
        assert_eq!(reason("[1]"), "body is not a JSON object");
    }

    #[test]
    fn nested_and_microsoft_errors_keep_their_details() {
        let error = |body: &str| match TokenResponse::from_http(400, body.as_bytes()) {
            Err(TokenRequestError::Rejected(error)) => error,
            other => panic!("{other:?}"),
        };
        let nested = error(r#"{"error":{"code":"403","message":"denied"}}"#);
        assert_eq!(
            (nested.error.as_str(), nested.error_description.as_deref()),
            ("403", Some("denied"))
        );
        let microsoft = error(r#"{"error":"invalid_grant","error_codes":[70000,"x",-1,1.5]}"#);
        assert_eq!(microsoft.error_codes, [70000, -1]);
    }

    #[test]
    fn error_display_names_codes_and_advice() {
        let e = TokenResponse::from_http(
            400,
            br#"{"error":"invalid_grant","error_description":"AADSTS70000: bad\r\nTrace ID","error_codes":[70000]}"#,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("invalid_grant (HTTP 400): AADSTS70000: bad [codes 70000]"),
            "{text}"
        );
        assert!(text.contains("authorised again"), "{text}");
        assert!(!text.contains("Trace ID"));
    }
}
