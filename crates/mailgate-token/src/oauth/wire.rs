//! The JSON of token endpoints as serde types, as lenient as the Python email-oauth2-proxy:
//! a token response (RFC 6749 §5.1) needs only `access_token`; `expires_in` may be a number,
//! a fraction or a numeric string; `token_type` may be missing or anything; an error response
//! (§5.2) may carry Microsoft's `error_codes` or nest `{"error": {"code", "message"}}`.
//!
//! These are the token response and error response types of the `oauth2` client the token
//! requests run through ([`oauth2::TokenResponse`], [`oauth2::ErrorResponse`]).

use std::fmt;
use std::time::Duration;

use oauth2::{AccessToken, RefreshToken, Scope};
use serde::de::{self, Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};

/// A token response body.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TokenResponseBody {
    /// Empty when missing or not a string (refused by [`TokenResponseBody::check`]).
    #[serde(default = "empty_token", deserialize_with = "access_token")]
    pub(crate) access_token: AccessToken,
    #[serde(default, deserialize_with = "token_type")]
    pub(crate) token_type: TokenTypeName,
    #[serde(
        default,
        deserialize_with = "expires_in",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) expires_in: Option<u64>,
    /// `None` when missing, empty or not a string.
    #[serde(
        default,
        deserialize_with = "refresh_token",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) refresh_token: Option<RefreshToken>,
    /// `None` when missing or not a string.
    #[serde(
        default,
        deserialize_with = "scopes",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) scope: Option<Vec<Scope>>,
}

impl TokenResponseBody {
    /// Refuses a body without a usable access token.
    pub(crate) fn check(self) -> Result<Self, &'static str> {
        if self.access_token.secret().is_empty() {
            return Err("no access_token");
        }
        Ok(self)
    }
}

/// `token_type` as sent (`Bearer` when missing); never checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct TokenTypeName(String);

impl Default for TokenTypeName {
    fn default() -> Self {
        TokenTypeName("Bearer".to_owned())
    }
}

impl oauth2::TokenType for TokenTypeName {}

impl oauth2::TokenResponse for TokenResponseBody {
    type TokenType = TokenTypeName;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &TokenTypeName {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scope.as_ref()
    }
}

/// An error response body.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ErrorResponseBody {
    pub(crate) error: ErrorCode,
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) error_description: Option<String>,
    #[serde(
        default,
        deserialize_with = "codes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) error_codes: Vec<i64>,
}

impl ErrorResponseBody {
    /// `error_description`, or the message of a nested error object.
    pub(crate) fn description(&self) -> Option<&str> {
        self.error_description
            .as_deref()
            .or(self.error.message.as_deref())
    }
}

impl fmt::Display for ErrorResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.code)
    }
}

impl oauth2::ErrorResponse for ErrorResponseBody {}

/// `error`: a code string, or an object with a `code` (or `status`) and a `message`.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorCode {
    pub(crate) code: String,
    #[serde(skip)]
    pub(crate) message: Option<String>,
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Nested {
            #[serde(default)]
            code: Option<Scalar>,
            #[serde(default)]
            status: Option<Scalar>,
            #[serde(default, deserialize_with = "text")]
            message: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Code(String),
            Nested(Nested),
        }
        Ok(match Shape::deserialize(deserializer)? {
            Shape::Code(code) => ErrorCode {
                code,
                message: None,
            },
            Shape::Nested(nested) => ErrorCode {
                code: nested
                    .code
                    .or(nested.status)
                    .and_then(Scalar::into_text)
                    .unwrap_or_else(|| "error".to_owned()),
                message: nested.message,
            },
        })
    }
}

/// A JSON value that may be text or a number, or anything else (ignored).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Fraction(f64),
    Other(IgnoredAny),
}

impl Scalar {
    fn into_text(self) -> Option<String> {
        match self {
            Scalar::Text(text) => Some(text),
            Scalar::Unsigned(n) => Some(n.to_string()),
            Scalar::Signed(n) => Some(n.to_string()),
            Scalar::Fraction(n) => Some(n.to_string()),
            Scalar::Other(_) => None,
        }
    }

    /// Whole seconds: a non-negative number (fractions truncated) or a numeric string.
    fn into_seconds(self) -> Option<u64> {
        match self {
            Scalar::Unsigned(n) => Some(n),
            Scalar::Fraction(n) if n >= 0.0 && n.is_finite() => Some(n as u64),
            Scalar::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }
}

fn empty_token() -> AccessToken {
    AccessToken::new(String::new())
}

/// A string, or `None` for anything else.
pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => Some(text),
        _ => None,
    })
}

fn access_token<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AccessToken, D::Error> {
    Ok(AccessToken::new(text(deserializer)?.unwrap_or_default()))
}

fn refresh_token<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RefreshToken>, D::Error> {
    Ok(text(deserializer)?
        .filter(|token| !token.is_empty())
        .map(RefreshToken::new))
}

fn token_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TokenTypeName, D::Error> {
    Ok(text(deserializer)?.map(TokenTypeName).unwrap_or_default())
}

fn scopes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<Scope>>, D::Error> {
    Ok(text(deserializer)?.map(|scope| {
        scope
            .split_whitespace()
            .map(|s| Scope::new(s.to_owned()))
            .collect()
    }))
}

/// `expires_in` of a token response: when present, it must be usable.
fn expires_in<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Scalar::deserialize(deserializer)?
        .into_seconds()
        .map(Some)
        .ok_or_else(|| de::Error::custom("expires_in is not a number"))
}

/// Microsoft's `error_codes`: the integers of an array; anything else is no codes.
fn codes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Codes {
        List(Vec<Scalar>),
        Other(IgnoredAny),
    }
    Ok(match Codes::deserialize(deserializer)? {
        Codes::List(list) => list
            .into_iter()
            .filter_map(|code| match code {
                Scalar::Unsigned(n) => i64::try_from(n).ok(),
                Scalar::Signed(n) => Some(n),
                _ => None,
            })
            .collect(),
        Codes::Other(_) => Vec::new(),
    })
}

/// The device authorization response (RFC 8628 §3.2), with Google's `verification_url`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceAuthorizationBody {
    #[serde(default, deserialize_with = "text")]
    pub(crate) device_code: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) user_code: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) verification_uri: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) verification_url: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) verification_uri_complete: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) interval: Option<u64>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) message: Option<String>,
}

/// Seconds, or `None` for anything unusable.
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(Scalar::deserialize(deserializer)?.into_seconds())
}
