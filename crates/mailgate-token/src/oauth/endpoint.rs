//! The token endpoint: one form post per grant, the answer decoded into a token or an error.

use oauth2::url::Url;

use super::error::TokenRequestError;
use super::grant::{ClientAuth, Grant};
use super::token::TokenResponse;
use crate::http::{HttpClient, Request};

/// A token endpoint and the client credentials sent to it.
///
/// Token requests are direct form posts rather than the `oauth2` crate's typed requests: the Python
/// email-oauth2-proxy's exact parameters (`resource`, a client assertion next to `client_id`, `scope` on
/// device polls), and lenient responses (`expires_in` as a string, no `token_type`, Microsoft's
/// `error_codes`) do not fit its typed API. The `oauth2` crate can still run its own requests over
/// [`HttpClient`], which implements its `AsyncHttpClient`.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    /// `token_url`.
    pub url: Url,
    /// `client_id`.
    pub client_id: String,
    /// Client authentication.
    pub auth: ClientAuth,
}

impl TokenEndpoint {
    /// An endpoint for `token_url`; fails if it is not an `http(s)` URL.
    pub fn new(
        token_url: &str,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> Result<Self, TokenRequestError> {
        Ok(TokenEndpoint {
            url: parse_endpoint_url(token_url)?,
            client_id: client_id.into(),
            auth,
        })
    }

    /// The request that `grant` makes.
    pub fn request(&self, grant: &Grant<'_>) -> Request {
        let params = grant.form_params(&self.client_id, &self.auth);
        Request::post_form(
            self.url.clone(),
            params.iter().map(|(name, value)| (*name, value.as_str())),
        )
    }

    /// Runs `grant` and decodes the answer.
    pub async fn exchange(
        &self,
        http: &HttpClient,
        grant: &Grant<'_>,
    ) -> Result<TokenResponse, TokenRequestError> {
        let response = http.send(self.request(grant)).await?;
        let result = TokenResponse::from_response(&response);
        if let Err(error) = &result {
            tracing::debug!(grant_type = grant.grant_type(), %error, "token request failed");
        }
        result
    }
}

/// Parses a configured endpoint URL (`http` or `https` only).
pub(crate) fn parse_endpoint_url(url: &str) -> Result<Url, TokenRequestError> {
    match Url::parse(url.trim()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(parsed)
        }
        _ => Err(TokenRequestError::InvalidUrl {
            url: url.to_owned(),
        }),
    }
}
