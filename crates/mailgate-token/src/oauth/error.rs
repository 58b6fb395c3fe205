//! Errors of token requests, decoded from the provider's JSON where it sent one.

use std::fmt;

use super::wire::ErrorResponseBody;
use crate::transport::HttpError;

/// An OAuth 2.0 error response (RFC 6749 §5.2) as the provider sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// HTTP status of the response.
    pub status: u16,
    /// The `error` code, e.g. `invalid_grant`.
    pub error: String,
    /// `error_description`, if sent.
    pub error_description: Option<String>,
    /// Microsoft's `error_codes` (e.g. `[70000]` for AADSTS70000), if sent.
    pub error_codes: Vec<i64>,
}

impl ProviderError {
    pub(crate) fn from_body(status: u16, body: ErrorResponseBody) -> Self {
        ProviderError {
            status,
            error_description: body.description().map(str::to_owned),
            error: body.error.code,
            error_codes: body.error_codes,
        }
    }

    /// Whether the grant itself (refresh token, code, device code) is no longer valid, so the
    /// account must be authorised again.
    pub fn is_invalid_grant(&self) -> bool {
        self.error == "invalid_grant"
    }

    /// What the user should do about this error.
    pub fn advice(&self) -> &'static str {
        match self.error.as_str() {
            "invalid_grant" => "the grant is no longer valid: the account must be authorised again",
            "invalid_client" | "unauthorized_client" => {
                "check client_id, client_secret (or the JWT certificate) in the account's config section"
            }
            "invalid_scope" => "check oauth2_scope in the account's config section",
            "invalid_request" => {
                "the request was refused; check token_url, redirect_uri and oauth2_scope"
            }
            "access_denied" => "the user or an administrator refused access; authorise again",
            "expired_token" => "the device code expired before it was entered; authorise again",
            "unsupported_grant_type" => {
                "the provider does not support this oauth2_flow; check the account's config section"
            }
            _ => "see the provider's description; retry later or authorise again",
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.error, self.status)?;
        if let Some(description) = &self.error_description {
            // Descriptions can be long multi-line texts (Microsoft adds trace ids); keep the first line.
            let first = description.lines().next().unwrap_or_default();
            write!(f, ": {first}")?;
        }
        if !self.error_codes.is_empty() {
            let codes: Vec<String> = self.error_codes.iter().map(i64::to_string).collect();
            write!(f, " [codes {}]", codes.join(", "))?;
        }
        write!(f, " - {}", self.advice())
    }
}

/// Why a request to a token (or device authorization) endpoint failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// The request did not complete: network, TLS, proxy or timeout (retry later).
    #[error("could not reach the token endpoint: {0} - check the network connection and retry")]
    Http(#[from] HttpError),
    /// The provider refused the request with an OAuth 2.0 error.
    #[error("the provider refused the token request: {0}")]
    Rejected(ProviderError),
    /// The provider failed (5xx, or an error status without an OAuth error body; retry later).
    #[error("the provider answered HTTP {status} without a usable OAuth 2.0 error - retry later")]
    ServerError {
        /// HTTP status.
        status: u16,
    },
    /// The provider answered with success but the body is not a usable token response.
    #[error("invalid token response (HTTP {status}): {reason}")]
    InvalidResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong, e.g. `no access_token`.
        reason: String,
    },
    /// An endpoint URL from the configuration is not a valid `http(s)` URL.
    #[error("invalid endpoint URL {url:?} - fix it in the account's config section")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
    },
}

impl TokenRequestError {
    /// The provider's OAuth 2.0 error, if it sent one.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            TokenRequestError::Rejected(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the provider said `invalid_grant`.
    pub fn is_invalid_grant(&self) -> bool {
        self.provider_error()
            .is_some_and(ProviderError::is_invalid_grant)
    }

    /// Whether retrying later without user action may succeed (network or provider outage).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TokenRequestError::Http(_) | TokenRequestError::ServerError { .. }
        )
    }
}
