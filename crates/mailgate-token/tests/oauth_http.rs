//! The HTTP transport of token requests against loopback servers: an HTTP proxy, a `CONNECT`
//! refusal, a SOCKS5 proxy, `no_proxy` address ranges, size limits, redirects and connection
//! failures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use mailgate_token::transport::{HttpClient, HttpClientConfig, HttpError, ProxySettings};
use oauth2::{AsyncHttpClient as _, HttpResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A one-shot server that records the request head and answers `reply`.
async fn one_shot(reply: &'static [u8]) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let head = read_head(&mut s).await;
        s.write_all(reply).await.unwrap();
        s.shutdown().await.ok();
        head
    });
    (addr, task)
}

async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn client(pairs: &[(&'static str, String)]) -> HttpClient {
    let mut config = HttpClientConfig::default();
    config.proxy = ProxySettings::from_lookup(|n| {
        pairs
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, value)| value.clone())
    })
    .unwrap();
    config.connect_timeout = Duration::from_millis(500);
    config.request_timeout = Duration::from_secs(5);
    HttpClient::new(config).unwrap()
}

async fn get(client: &HttpClient, url: &str) -> Result<HttpResponse, HttpError> {
    let request = oauth2::http::Request::get(url).body(Vec::new()).unwrap();
    client.call(request).await
}

#[tokio::test]
async fn plain_http_goes_through_http_proxy_in_absolute_form() {
    let (addr, task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
    let client = client(&[("http_proxy", format!("http://u:p@{addr}"))]);
    let response = get(&client, "http://login.example.test/token")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"{}");
    let head = task.await.unwrap();
    assert!(
        head.starts_with("GET http://login.example.test/token HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("host: login.example.test\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("proxy-authorization: basic dtpw\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn https_proxy_refusing_connect() {
    let (addr, task) = one_shot(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
    let client = client(&[("HTTPS_PROXY", addr)]);
    let e = get(&client, "https://login.example.test:8443/token")
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Connect { .. }), "{e:?}");
    let head = task.await.unwrap();
    assert!(
        head.starts_with("CONNECT login.example.test:8443 HTTP/1.1\r\n"),
        "{head}"
    );
}

/// A SOCKS5 proxy (no authentication, `CONNECT` only) that records the destination it was
/// asked for and relays to `backend` whatever that was.
async fn socks5_proxy(backend: String) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let mut greeting = [0u8; 2];
        client.read_exact(&mut greeting).await.unwrap();
        let mut methods = vec![0u8; usize::from(greeting[1])];
        client.read_exact(&mut methods).await.unwrap();
        assert_eq!(greeting[0], 5);
        assert!(methods.contains(&0));
        client.write_all(&[5, 0]).await.unwrap();
        let mut request = [0u8; 4];
        client.read_exact(&mut request).await.unwrap();
        assert_eq!(request[..3], [5, 1, 0]);
        let destination = match request[3] {
            3 => {
                let mut len = [0u8; 1];
                client.read_exact(&mut len).await.unwrap();
                let mut name = vec![0u8; usize::from(len[0])];
                client.read_exact(&mut name).await.unwrap();
                String::from_utf8(name).unwrap()
            }
            1 => {
                let mut ip = [0u8; 4];
                client.read_exact(&mut ip).await.unwrap();
                std::net::Ipv4Addr::from(ip).to_string()
            }
            other => panic!("address type {other}"),
        };
        let mut port = [0u8; 2];
        client.read_exact(&mut port).await.unwrap();
        let destination = format!("{destination}:{}", u16::from_be_bytes(port));
        let mut upstream = TcpStream::connect(&backend).await.unwrap();
        client
            .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])
            .await
            .unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        destination
    });
    (addr, task)
}

#[tokio::test]
async fn socks5_proxy_resolves_names_remotely_with_socks5h() {
    let (backend, server) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsock").await;
    let (proxy, socks) = socks5_proxy(backend).await;
    let client = client(&[("ALL_PROXY", format!("socks5h://{proxy}"))]);
    let response = get(&client, "http://login.example.test:8080/token")
        .await
        .unwrap();
    assert_eq!(response.body(), b"sock");
    assert_eq!(socks.await.unwrap(), "login.example.test:8080");
    let head = server.await.unwrap();
    assert!(head.starts_with("GET /token HTTP/1.1\r\n"), "{head}");
}

#[tokio::test]
async fn no_proxy_address_ranges_bypass_the_proxy() {
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there, so a direct attempt times out.
    let (addr, task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let proxied = client(&[("http_proxy", addr.clone())]);
    let response = get(&proxied, "http://192.0.2.7/token").await.unwrap();
    assert_eq!(response.body(), b"ok");
    assert!(
        task.await
            .unwrap()
            .starts_with("GET http://192.0.2.7/token ")
    );

    let bypassing = client(&[
        ("http_proxy", addr),
        ("NO_PROXY", "example.org, 192.0.2.0/24".to_owned()),
    ]);
    let e = get(&bypassing, "http://192.0.2.7/token").await.unwrap_err();
    assert!(
        matches!(e, HttpError::Timeout { .. } | HttpError::Connect { .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn unusable_proxy_variables_are_errors_naming_them() {
    for (name, value) in [
        ("HTTPS_PROXY", "socks4://127.0.0.1:1080"),
        ("https_proxy", "http://"),
        ("ALL_PROXY", "ftp://proxy.example:21"),
    ] {
        let error =
            ProxySettings::from_lookup(|n| (n == name).then(|| value.to_owned())).unwrap_err();
        assert!(
            matches!(&error, HttpError::InvalidProxy { name: n, .. } if n == name),
            "{error:?}"
        );
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[tokio::test]
async fn oversized_and_truncated_responses() {
    let (addr, _task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n").await;
    let client = client(&[]);
    let e = get(&client, &format!("http://{addr}/")).await.unwrap_err();
    assert!(matches!(e, HttpError::ResponseTooLarge { .. }), "{e:?}");

    // Without a length: the body is read in chunks and refused once past the limit.
    let (addr, _task) = one_shot(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
    )
    .await;
    let mut config = HttpClientConfig::default();
    config.max_response_bytes = 10;
    let small = HttpClient::new(config).unwrap();
    let e = get(&small, &format!("http://{addr}/")).await.unwrap_err();
    assert!(
        matches!(e, HttpError::ResponseTooLarge { limit: 10, .. }),
        "{e:?}"
    );

    let (addr, _task) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").await;
    let e = get(&client, &format!("http://{addr}/")).await.unwrap_err();
    assert!(matches!(e, HttpError::Transfer { .. }), "{e:?}");
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let (addr, _task) = one_shot(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let response = get(&client(&[]), &format!("http://{addr}/token"))
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers().get("location").unwrap(),
        "http://127.0.0.1:1/"
    );
}

#[tokio::test]
async fn connection_refused_and_bad_scheme() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client(&[]);
    let e = get(&client, &format!("http://{addr}/")).await.unwrap_err();
    assert!(matches!(e, HttpError::Connect { .. }), "{e:?}");
    let e = get(&client, "ftp://127.0.0.1/").await.unwrap_err();
    assert!(matches!(e, HttpError::InvalidUrl { .. }), "{e:?}");
}
