//! The token endpoint: each grant as a typed request of the `oauth2` crate, run over an `oauth2`
//! HTTP client ([`HttpClient`](crate::transport::HttpClient) in production) and answered with
//! the serde types of the `wire` module.
//!
//! * Authorization code (with the PKCE verifier), refresh token, client credentials and
//!   resource owner password credentials are `oauth2` requests; what the Python
//!   email-oauth2-proxy sends beyond them goes in `add_extra_param`: `redirect_uri` where it
//!   sends one, `resource`, an empty `scope`, and a JWT client assertion next to `client_id`.
//! * Google's JWT bearer grant is an extension grant, which the `oauth2` crate has no request
//!   for: [`ExtensionTokenRequest`] is one in the same shape, over the same client and types.
//! * The device code poll is `oauth2`'s device access token request and its polling loop (see
//!   [`poll_device_token`](super::poll_device_token)), over [`TokenEndpoint::client`].
//!
//! Two adjustments make the `oauth2` requests exactly the Python email-oauth2-proxy's:
//! the parameters are put in its order ([`PARAMETER_ORDER`]), which the `oauth2` crate does not
//! keep, and the answer is classified by [`TokenResponse::from_http`] before `oauth2` sees it,
//! because `oauth2` takes only status 200 with a JSON `Content-Type` as success and loses the
//! status of an error it cannot parse, while providers answer 2xx with other types and send
//! `authorization_pending` with 200.

use std::future::Future;
use std::pin::Pin;

use oauth2::basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse};
use oauth2::http::StatusCode;
use oauth2::http::header::{CONTENT_TYPE, HeaderValue};
use oauth2::url::Url;
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, PkceCodeVerifier, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardRevocableToken, TokenUrl,
};
use zeroize::Zeroizing;

use super::error::{ProviderError, TokenRequestError};
use super::extension::ExtensionTokenRequest;
use super::grant::{ClientAuth, Grant, JWT_BEARER_GRANT_TYPE, JWT_CLIENT_ASSERTION_TYPE};
use super::token::{TokenResponse, decode};
use super::wire::{ErrorResponseBody, TokenResponseBody};
use crate::transport::{HttpError, HttpFuture};

/// An `oauth2` HTTP client that token requests run over: [`HttpClient`](crate::transport::HttpClient),
/// or a scripted one in tests.
pub(crate) trait TokenHttp:
    for<'c> AsyncHttpClient<'c, Error = HttpError, Future = HttpFuture<'c>> + Sync
{
}

impl<C> TokenHttp for C where
    C: for<'c> AsyncHttpClient<'c, Error = HttpError, Future = HttpFuture<'c>> + Sync + ?Sized
{
}

/// The order in which the Python email-oauth2-proxy sends token request parameters; every
/// grant's parameters follow it (see [`Grant::form_params`]).
pub(crate) const PARAMETER_ORDER: [&str; 15] = [
    "client_id",
    "client_secret",
    "code",
    "refresh_token",
    "redirect_uri",
    "grant_type",
    "code_verifier",
    "client_assertion_type",
    "client_assertion",
    "scope",
    "device_code",
    "username",
    "password",
    "resource",
    "assertion",
];

pub(crate) type OAuthClient = oauth2::Client<
    ErrorResponseBody,
    TokenResponseBody,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A token endpoint and the client credentials sent to it.
///
/// ```
/// use mailgate_token::oauth::{ClientAuth, TokenEndpoint};
///
/// let endpoint = TokenEndpoint::new("https://login.example.com/token", "app", ClientAuth::None)?;
/// assert_eq!(endpoint.url.host_str(), Some("login.example.com"));
/// assert!(TokenEndpoint::new("ftp://login.example.com/token", "app", ClientAuth::None).is_err());
/// # Ok::<(), mailgate_token::oauth::TokenRequestError>(())
/// ```
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

    /// Runs `grant` over `http` (an [`HttpClient`](crate::transport::HttpClient), or any
    /// `oauth2` HTTP client with its error and future types) and decodes the answer.
    pub async fn exchange<C>(
        &self,
        http: &C,
        grant: &Grant<'_>,
    ) -> Result<TokenResponse, TokenRequestError>
    where
        C: for<'c> AsyncHttpClient<'c, Error = HttpError, Future = HttpFuture<'c>> + Sync,
    {
        let result = self.run(&TokenTransport(http), grant).await;
        if let Err(error) = &result {
            tracing::debug!(grant_type = grant.grant_type(), %error, "token request failed");
        }
        result.map(TokenResponse::from)
    }

    /// The `oauth2` client of this endpoint: its URL, `client_id` and, with
    /// [`ClientAuth::Secret`], the secret in the request body.
    pub(crate) fn client(&self) -> OAuthClient {
        let client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(self.url.clone()))
            .set_auth_type(AuthType::RequestBody);
        match &self.auth {
            ClientAuth::Secret(secret) => {
                client.set_client_secret(ClientSecret::new(secret.expose().clone()))
            }
            ClientAuth::None | ClientAuth::Assertion(_) => client,
        }
    }

    /// The parameters of a JWT client assertion (RFC 7523 §2.2) with [`ClientAuth::Assertion`],
    /// sent after the grant's own.
    pub(crate) fn assertion_params(&self) -> Vec<(&'static str, String)> {
        match &self.auth {
            ClientAuth::Assertion(assertion) => vec![
                (
                    "client_assertion_type",
                    JWT_CLIENT_ASSERTION_TYPE.to_owned(),
                ),
                ("client_assertion", assertion.expose().clone()),
            ],
            ClientAuth::None | ClientAuth::Secret(_) => Vec::new(),
        }
    }

    async fn run<C: TokenHttp + ?Sized>(
        &self,
        transport: &TokenTransport<'_, C>,
        grant: &Grant<'_>,
    ) -> Result<TokenResponseBody, TokenRequestError> {
        let client = self.client();
        let mut extra: Vec<(&'static str, String)> = Vec::new();
        let optional =
            |name: &'static str, value: Option<&str>| value.map(|value| (name, value.to_owned()));
        let assertion = self.assertion_params();
        macro_rules! send {
            ($request:expr) => {{
                let mut request = $request;
                for (name, value) in extra.into_iter().chain(assertion) {
                    request = request.add_extra_param(name, value);
                }
                request.request_async(transport).await.map_err(from_oauth2)
            }};
        }
        match *grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                let mut request =
                    client.exchange_code(AuthorizationCode::new(code.expose().clone()));
                if let Some(verifier) = code_verifier {
                    request =
                        request.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().clone()));
                }
                extra.extend(optional("redirect_uri", redirect_uri));
                send!(request)
            }
            Grant::RefreshToken { refresh_token } => {
                let token = RefreshToken::new(refresh_token.expose().clone());
                send!(client.exchange_refresh_token(&token))
            }
            Grant::ClientCredentials {
                scope,
                redirect_uri,
            } => {
                extra.extend(optional("redirect_uri", redirect_uri));
                let request = client.exchange_client_credentials();
                send!(match scope.filter(|scope| !scope.is_empty()) {
                    Some(scope) => request.add_scope(Scope::new(scope.to_owned())),
                    None => request.add_extra_param("scope", ""),
                })
            }
            Grant::Password {
                username,
                password,
                scope,
                resource,
                redirect_uri,
            } => {
                let username = ResourceOwnerUsername::new(username.to_owned());
                let password = ResourceOwnerPassword::new(password.expose().clone());
                extra.extend(optional("redirect_uri", redirect_uri));
                extra.extend(optional("resource", resource));
                let request = client.exchange_password(&username, &password);
                // With a resource and no scope, the scope is left out (GitHub #351 of the
                // Python email-oauth2-proxy).
                send!(match scope.filter(|scope| !scope.is_empty()) {
                    Some(scope) => request.add_scope(Scope::new(scope.to_owned())),
                    None if resource.is_none() => request.add_extra_param("scope", ""),
                    None => request,
                })
            }
            Grant::JwtBearer { assertion } => {
                // No client authentication: the assertion is the credential.
                ExtensionTokenRequest::<ErrorResponseBody, TokenResponseBody>::new(
                    client.token_uri(),
                    JWT_BEARER_GRANT_TYPE,
                )
                .add_extra_param("assertion", assertion.expose().as_str())
                .request_async(transport)
                .await
                .map_err(from_oauth2)
            }
        }
    }
}

/// `request` with its form parameters in [`PARAMETER_ORDER`] (a stable sort: names not in
/// the table keep their order, after the others).
pub(crate) fn in_python_order(request: HttpRequest) -> HttpRequest {
    let form = request.headers().get(CONTENT_TYPE).is_some_and(|value| {
        value
            .as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    if !form {
        return request;
    }
    let (parts, body) = request.into_parts();
    let body = Zeroizing::new(body);
    let rank = |name: &str| {
        PARAMETER_ORDER
            .iter()
            .position(|known| *known == name)
            .unwrap_or(PARAMETER_ORDER.len())
    };
    let mut pairs: Vec<(Zeroizing<String>, Zeroizing<String>)> =
        oauth2::url::form_urlencoded::parse(&body)
            .map(|(name, value)| {
                (
                    Zeroizing::new(name.into_owned()),
                    Zeroizing::new(value.into_owned()),
                )
            })
            .collect();
    pairs.sort_by_key(|(name, _)| rank(name));
    let mut ordered = Zeroizing::new(String::new());
    {
        let mut form = oauth2::url::form_urlencoded::Serializer::new(&mut *ordered);
        for (name, value) in &pairs {
            form.append_pair(name, value);
        }
        let _ = form.finish();
    }
    HttpRequest::from_parts(parts, ordered.as_bytes().to_vec())
}

/// The `oauth2` crate's HTTP client for token requests: puts the parameters in the Python
/// email-oauth2-proxy's order, and hands `oauth2` only answers [`decode`] accepted as tokens,
/// as status 200 with a JSON type; everything else is the [`TokenRequestError`] it is.
pub(crate) struct TokenTransport<'h, C: ?Sized>(pub(crate) &'h C);

impl<C: TokenHttp + ?Sized> TokenTransport<'_, C> {
    /// Sends a token request; returns the decoded token and the body it came in.
    pub(crate) async fn post(
        &self,
        request: HttpRequest,
    ) -> Result<(TokenResponseBody, Zeroizing<Vec<u8>>), TokenRequestError> {
        let response = self.0.call(in_python_order(request)).await?;
        let status = response.status().as_u16();
        let body = Zeroizing::new(response.into_body());
        let token = decode(status, &body)?;
        Ok((token, body))
    }
}

impl<'c, C: TokenHttp + ?Sized> AsyncHttpClient<'c> for TokenTransport<'_, C> {
    type Error = TokenRequestError;
    type Future =
        Pin<Box<dyn Future<Output = Result<HttpResponse, TokenRequestError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (_, body) = self.post(request).await?;
            Ok(json_response(StatusCode::OK, body.to_vec()))
        })
    }
}

/// An answer with `status` and a JSON `body`, as the `oauth2` crate's requests read answers.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    let mut response = HttpResponse::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The error behind an `oauth2` request failure. The transport classifies every answer, so
/// only its own errors normally come back.
fn from_oauth2(
    error: RequestTokenError<TokenRequestError, ErrorResponseBody>,
) -> TokenRequestError {
    match error {
        RequestTokenError::Request(error) => error,
        RequestTokenError::ServerResponse(body) => {
            TokenRequestError::Rejected(ProviderError::from_body(200, body))
        }
        RequestTokenError::Parse(error, _) => TokenRequestError::InvalidResponse {
            status: 200,
            reason: error.to_string(),
        },
        RequestTokenError::Other(reason) => TokenRequestError::InvalidResponse {
            status: 200,
            reason,
        },
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
