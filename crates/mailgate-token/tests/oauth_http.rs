//! The HTTP client against loopback servers: plain HTTP proxy, CONNECT refusal, size limits,
//! connection failures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_token::http::{
    HttpClient, HttpClientConfig, HttpError, HttpParseError, ProxySettings, Request,
};
use oauth2::url::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A one-shot server that records the request head and answers `reply`.
async fn one_shot(reply: &'static [u8]) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(reply).await.unwrap();
        s.shutdown().await.ok();
        String::from_utf8_lossy(&got).into_owned()
    });
    (addr, task)
}

fn client_with_proxy(var: &'static str, proxy: String) -> HttpClient {
    let mut config = HttpClientConfig::default();
    config.proxy = ProxySettings::from_lookup(|n| (n == var).then(|| proxy.clone())).unwrap();
    HttpClient::new(config).unwrap()
}

#[tokio::test]
async fn plain_http_goes_through_http_proxy_in_absolute_form() {
    let (addr, task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
    let client = client_with_proxy("http_proxy", format!("http://u:p@{addr}"));
    let url = Url::parse("http://login.example.test/token").unwrap();
    let response = client
        .send(Request::post_form(url, [("a", "b")]))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let head = task.await.unwrap();
    assert!(
        head.starts_with("POST http://login.example.test/token HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("Host: login.example.test\r\n"));
    assert!(head.contains("Proxy-Authorization: Basic dTpw\r\n"));
}

#[tokio::test]
async fn https_proxy_refusing_connect() {
    let (addr, task) = one_shot(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
    let client = client_with_proxy("https_proxy", addr);
    let url = Url::parse("https://login.example.test:8443/token").unwrap();
    let e = client.send(Request::get(url)).await.unwrap_err();
    assert!(
        matches!(e, HttpError::ProxyRefused { status: 407, .. }),
        "{e:?}"
    );
    let head = task.await.unwrap();
    assert!(
        head.starts_with("CONNECT login.example.test:8443 HTTP/1.1\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn oversized_and_truncated_responses() {
    let (addr, _task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n").await;
    let client = HttpClient::new(HttpClientConfig::default()).unwrap();
    let url = Url::parse(&format!("http://{addr}/")).unwrap();
    let e = client.send(Request::get(url)).await.unwrap_err();
    assert!(
        matches!(
            e,
            HttpError::MalformedResponse {
                source: HttpParseError::BodyTooLarge { .. },
                ..
            }
        ),
        "{e:?}"
    );
    let (addr, _task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
    let url = Url::parse(&format!("http://{addr}/")).unwrap();
    let e = client.send(Request::get(url)).await.unwrap_err();
    assert!(
        matches!(
            e,
            HttpError::MalformedResponse {
                source: HttpParseError::Truncated,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let (addr, _task) = one_shot(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let client = HttpClient::new(HttpClientConfig::default()).unwrap();
    let url = Url::parse(&format!("http://{addr}/token")).unwrap();
    let response = client.send(Request::get(url)).await.unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(response.header("location"), Some("http://127.0.0.1:1/"));
}

#[tokio::test]
async fn connection_refused_and_bad_scheme() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = HttpClient::new(HttpClientConfig::default()).unwrap();
    let url = Url::parse(&format!("http://{addr}/")).unwrap();
    let e = client.send(Request::get(url)).await.unwrap_err();
    assert!(matches!(e, HttpError::Connect { .. }), "{e:?}");
    let url = Url::parse("ftp://127.0.0.1/").unwrap();
    let e = client.send(Request::get(url)).await.unwrap_err();
    assert!(matches!(e, HttpError::InvalidUrl { .. }), "{e:?}");
}
