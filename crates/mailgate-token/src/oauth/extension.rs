//! Extension grants (RFC 6749 §4.5) as a typed request in the shape of the `oauth2` crate's
//! own token requests, which it has none of: built from an [`oauth2::Client`]'s token URL,
//! extended with `add_extra_param`, sent over any [`AsyncHttpClient`], and answered with the
//! client's token response type or a [`RequestTokenError`] carrying its error response type,
//! exactly as `exchange_client_credentials()` and the others are.
//!
//! Google's service account grant (RFC 7523 §2.1,
//! `urn:ietf:params:oauth:grant-type:jwt-bearer`) is the one mailgate sends. Like the Python
//! email-oauth2-proxy (through `google-auth`), it sends no client authentication: the signed
//! assertion is the credential. Client authentication, where a future extension grant needs
//! it, is an extra parameter.

use std::borrow::Cow;
use std::marker::PhantomData;

use oauth2::http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use oauth2::http::{Method, StatusCode};
use oauth2::{AsyncHttpClient, ErrorResponse, HttpRequest, RequestTokenError, TokenUrl};
use zeroize::Zeroizing;

/// A token request of an extension grant: `grant_type` and the request's parameters, in the
/// order they were added.
pub(crate) struct ExtensionTokenRequest<'a, TE, TR> {
    token_url: &'a TokenUrl,
    grant_type: &'a str,
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    _responses: PhantomData<fn() -> (TE, TR)>,
}

impl<'a, TE, TR> ExtensionTokenRequest<'a, TE, TR>
where
    TE: ErrorResponse + 'static,
    TR: oauth2::TokenResponse,
{
    /// A request of `grant_type` to `token_url`.
    pub(crate) fn new(token_url: &'a TokenUrl, grant_type: &'a str) -> Self {
        ExtensionTokenRequest {
            token_url,
            grant_type,
            params: Vec::new(),
            _responses: PhantomData,
        }
    }

    /// Appends a parameter after `grant_type` (RFC 6749 §4.5: the grant's own parameters).
    pub(crate) fn add_extra_param(
        mut self,
        name: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The HTTP request: a form post asking for JSON, as the `oauth2` crate's requests are.
    fn prepare_request<RE>(&self) -> Result<HttpRequest, RequestTokenError<RE, TE>>
    where
        RE: std::error::Error + 'static,
    {
        let mut body = Zeroizing::new(String::new());
        {
            let mut form = oauth2::url::form_urlencoded::Serializer::new(&mut *body);
            form.append_pair("grant_type", self.grant_type);
            for (name, value) in &self.params {
                form.append_pair(name, value);
            }
            // `finish` only returns the target; nothing to keep.
            let _ = form.finish();
        }
        oauth2::http::Request::builder()
            .method(Method::POST)
            .uri(self.token_url.as_str())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(body.as_bytes().to_vec())
            .map_err(|error| RequestTokenError::Other(format!("cannot build the request: {error}")))
    }

    /// Sends the request over `http` and reads the answer as the `oauth2` crate does: status
    /// 200 with a JSON body is the token response, any other status an error response.
    pub(crate) async fn request_async<'c, C>(
        self,
        http: &'c C,
    ) -> Result<TR, RequestTokenError<C::Error, TE>>
    where
        C: AsyncHttpClient<'c>,
    {
        let request = self.prepare_request()?;
        let response = http
            .call(request)
            .await
            .map_err(RequestTokenError::Request)?;
        let body = Zeroizing::new(response.body().clone());
        if response.status() != StatusCode::OK {
            if body.is_empty() {
                return Err(RequestTokenError::Other(format!(
                    "server returned HTTP {} with an empty body",
                    response.status().as_u16()
                )));
            }
            return Err(
                match serde_path_to_error::deserialize::<_, TE>(
                    &mut serde_json::Deserializer::from_slice(&body),
                ) {
                    Ok(error) => RequestTokenError::ServerResponse(error),
                    Err(error) => RequestTokenError::Parse(error, body.to_vec()),
                },
            );
        }
        let json = response.headers().get(CONTENT_TYPE).is_none_or(|value| {
            value
                .to_str()
                .is_ok_and(|value| value.to_ascii_lowercase().starts_with("application/json"))
        });
        if !json {
            return Err(RequestTokenError::Other(
                "the token response is not JSON".to_owned(),
            ));
        }
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&body))
            .map_err(|error| RequestTokenError::Parse(error, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use oauth2::HttpResponse;

    use super::*;
    use crate::oauth::endpoint::json_response;
    use crate::oauth::wire::{ErrorResponseBody, TokenResponseBody};

    type Request<'a> = ExtensionTokenRequest<'a, ErrorResponseBody, TokenResponseBody>;

    fn answer(status: u16, body: &str) -> HttpResponse {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        json_response(status, body.as_bytes().to_vec())
    }

    async fn send(
        status: u16,
        body: &'static str,
    ) -> (
        Option<HttpRequest>,
        Result<TokenResponseBody, RequestTokenError<std::io::Error, ErrorResponseBody>>,
    ) {
        let url = TokenUrl::new("https://oauth2.example.com/token".to_owned()).unwrap();
        let seen = std::sync::Mutex::new(None);
        let http = |request: HttpRequest| {
            *seen.lock().unwrap() = Some(request);
            std::future::ready(Ok::<_, std::io::Error>(answer(status, body)))
        };
        let result = Request::new(&url, "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .add_extra_param("assertion", "a.b c")
            .request_async(&http)
            .await;
        (seen.into_inner().unwrap(), result)
    }

    #[tokio::test]
    async fn sends_the_grant_and_reads_the_answer() {
        let (request, token) = send(200, r#"{"access_token":"AT","expires_in":"60"}"#).await;
        let request = request.unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            std::str::from_utf8(request.body()).unwrap(),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b+c"
        );
        let token = token.unwrap();
        assert_eq!(
            (token.access_token.secret().as_str(), token.expires_in),
            ("AT", Some(60))
        );

        let (_, refused) = send(400, r#"{"error":"invalid_grant","error_codes":[70000]}"#).await;
        match refused {
            Err(RequestTokenError::ServerResponse(error)) => {
                assert_eq!(
                    (error.error.code.as_str(), error.error_codes.as_slice()),
                    ("invalid_grant", &[70000][..])
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            send(502, "").await.1,
            Err(RequestTokenError::Other(_))
        ));
        assert!(matches!(
            send(500, "<html>").await.1,
            Err(RequestTokenError::Parse(..))
        ));
    }
}
