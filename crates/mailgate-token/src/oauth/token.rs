//! Token responses (RFC 6749 §5.1), parsed leniently as the Python email-oauth2-proxy does.

use serde_json::Value;

use super::error::{ProviderError, TokenRequestError};
use crate::SecretString;
use crate::http::Response;

/// Lifetime assumed when a token response has no `expires_in`, in seconds (as the Python email-oauth2-proxy).
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3600;

/// A successful token response.
///
/// Parsing is as lenient as the Python email-oauth2-proxy: only `access_token` is required; `expires_in` may be a
/// number or a numeric string; `token_type` is not checked.
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
    /// [`DEFAULT_TOKEN_LIFETIME_SECS`] when the provider gave no lifetime.
    pub fn expires_at(&self, now: u64) -> u64 {
        now.saturating_add(self.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS))
    }

    /// Decodes a token endpoint response: a token on 2xx, otherwise the most specific error.
    ///
    /// ```
    /// use mailgate_token::http::Response;
    /// use mailgate_token::oauth::TokenResponse;
    ///
    /// let ok = Response { status: 200, headers: vec![],
    ///     body: br#"{"access_token":"AT","expires_in":"3599"}"#.to_vec().into() };
    /// let token = TokenResponse::from_response(&ok).unwrap();
    /// assert_eq!((token.access_token.expose().as_str(), token.expires_in), ("AT", Some(3599)));
    ///
    /// let refused = Response { status: 400, headers: vec![],
    ///     body: br#"{"error":"invalid_grant","error_codes":[70000]}"#.to_vec().into() };
    /// assert!(TokenResponse::from_response(&refused).unwrap_err().is_invalid_grant());
    /// ```
    pub fn from_response(response: &Response) -> Result<Self, TokenRequestError> {
        let status = response.status;
        let json: Option<Value> = serde_json::from_slice(&response.body).ok();
        if let Some(error) = json.as_ref().and_then(|j| provider_error(status, j)) {
            // Some providers send an error object with status 200; honour it either way.
            return Err(TokenRequestError::Rejected(error));
        }
        if status >= 500 || (400..500).contains(&status) {
            return Err(TokenRequestError::ServerError { status });
        }
        let invalid = |reason: &str| TokenRequestError::InvalidResponse {
            status,
            reason: reason.to_owned(),
        };
        if !(200..300).contains(&status) {
            return Err(invalid(
                "unexpected status (redirects are not followed; check token_url)",
            ));
        }
        let Some(Value::Object(map)) = json else {
            return Err(invalid("body is not a JSON object"));
        };
        let access_token = match map.get("access_token") {
            Some(Value::String(token)) if !token.is_empty() => SecretString::from(token.as_str()),
            _ => return Err(invalid("no access_token")),
        };
        let expires_in = match map.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        if map.contains_key("expires_in") && expires_in.is_none() {
            return Err(invalid("expires_in is not a number"));
        }
        let refresh_token = match map.get("refresh_token") {
            Some(Value::String(token)) if !token.is_empty() => {
                Some(SecretString::from(token.as_str()))
            }
            _ => None,
        };
        let scope = map.get("scope").and_then(Value::as_str).map(str::to_owned);
        let mut map = map;
        // Drop our copies of the secrets inside the parsed JSON.
        for key in ["access_token", "refresh_token", "id_token"] {
            if let Some(Value::String(mut s)) = map.remove(key) {
                zeroize::Zeroize::zeroize(&mut s);
            }
        }
        Ok(TokenResponse {
            access_token,
            expires_in,
            refresh_token,
            scope,
        })
    }
}

/// Decodes an OAuth 2.0 error object, if `json` is one.
pub(crate) fn provider_error(status: u16, json: &Value) -> Option<ProviderError> {
    let error = json.get("error")?;
    let error = match error {
        Value::String(s) => s.clone(),
        // Some providers nest `{"error": {"code": ..., "message": ...}}`.
        Value::Object(o) => o
            .get("code")
            .or_else(|| o.get("status"))
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
            .unwrap_or_else(|| "error".to_owned()),
        _ => return None,
    };
    let error_description = json
        .get("error_description")
        .or_else(|| json.get("error").and_then(|e| e.get("message")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let error_codes = json
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|codes| codes.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    Some(ProviderError {
        status,
        error,
        error_description,
        error_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec().into(),
        }
    }

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
        ];
        for (status, body, expected) in cases {
            let got = match TokenResponse::from_response(&response(*status, body)) {
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
    fn error_display_names_codes_and_advice() {
        let r = response(
            400,
            r#"{"error":"invalid_grant","error_description":"AADSTS70000: bad\r\nTrace ID","error_codes":[70000]}"#,
        );
        let e = TokenResponse::from_response(&r).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("invalid_grant (HTTP 400): AADSTS70000: bad [codes 70000]"),
            "{text}"
        );
        assert!(text.contains("authorised again"), "{text}");
        assert!(!text.contains("Trace ID"));
    }
}
