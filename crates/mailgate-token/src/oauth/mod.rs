//! OAuth 2.0 flows as the Python email-oauth2-proxy runs them.
//!
//! * Token requests: [`TokenEndpoint`] posts a [`Grant`] (authorization code, client
//!   credentials, password, refresh token, JWT bearer) with [`ClientAuth`] (none, a secret, or
//!   a [`client_assertion`] JWT) and decodes a [`TokenResponse`] or a [`TokenRequestError`]
//!   carrying the provider's [`ProviderError`].
//! * The authorization code flow is sans-I/O: [`AuthorizationRequest`] builds the permission
//!   URL (with `state` and PKCE) and validates the redirect
//!   ([`AuthorizationRequest::parse_redirect`]).
//! * The device flow (RFC 8628): [`request_device_authorization`], then
//!   [`poll_device_token`], the `oauth2` crate's polling loop on tokio's clock.
//! * [`ServiceAccountKey`] signs Google service account assertions.
//!
//! Token requests are the `oauth2` crate's typed requests over [`HttpClient`](crate::transport::HttpClient),
//! with this crate's lenient serde types for token and error responses, and exactly the
//! Python email-oauth2-proxy's parameters (see [`TokenEndpoint`]).

mod authorization_code;
mod device;
mod endpoint;
mod error;
mod extension;
mod grant;
mod jwt;
mod random;
mod service_account;
mod token;
mod wire;

pub use authorization_code::{
    AuthorizationRequest, RedirectError, RedirectErrorKind, oauth2_url_escape, permission_url,
};
pub use device::{
    DeviceAuthorization, DeviceFlowError, poll_device_token, request_device_authorization,
};
pub use endpoint::TokenEndpoint;
pub use error::{ProviderError, TokenRequestError};
pub use grant::{ClientAuth, Grant};
pub use jwt::{JwtError, client_assertion};
pub use random::RandomError;
pub use service_account::{ServiceAccountError, ServiceAccountKey};
pub(crate) use token::DEFAULT_TOKEN_LIFETIME_SECS;
pub use token::TokenResponse;
