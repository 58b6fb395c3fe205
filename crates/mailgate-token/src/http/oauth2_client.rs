//! The `oauth2` crate's [`AsyncHttpClient`] trait over [`HttpClient`].

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use zeroize::Zeroizing;

use super::client::HttpClient;
use super::error::HttpError;
use super::request::{Method, Request};

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = from_http(request)?;
            let response = self.send(request).await?;
            to_http(response)
        })
    }
}

fn from_http(request: HttpRequest) -> Result<Request, HttpError> {
    let (parts, body) = request.into_parts();
    let method = match parts.method {
        oauth2::http::Method::GET => Method::Get,
        oauth2::http::Method::POST => Method::Post,
        _ => return Err(HttpError::InvalidRequest("only GET and POST are supported")),
    };
    let url =
        oauth2::url::Url::parse(&parts.uri.to_string()).map_err(|_| HttpError::InvalidUrl {
            url: parts.uri.to_string(),
            reason: "not an absolute URL",
        })?;
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|_| HttpError::InvalidRequest("header value is not visible ASCII"))?;
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    Ok(Request {
        method,
        url,
        headers,
        body: Zeroizing::new(body),
    })
}

fn to_http(response: super::Response) -> Result<HttpResponse, HttpError> {
    let mut builder = oauth2::http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(response.body.to_vec())
        .map_err(|_| HttpError::MalformedResponse {
            host: String::new(),
            source: super::HttpParseError::StatusLine,
        })
}
