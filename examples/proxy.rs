//! The smallest useful mailgate: one IMAP listener on 127.0.0.1, one account, the OAuth 2.0
//! client credentials grant, tokens kept in memory.
//!
//! ```sh
//! cargo run --example proxy -- user@example.com outlook.office365.com:993 \
//!     https://login.microsoftonline.com/TENANT/oauth2/v2.0/token CLIENT_ID CLIENT_SECRET
//! ```
//!
//! Then point a mail client at `127.0.0.1:1993` (plain IMAP, loopback only) and log in as
//! `user@example.com` with any password: the first login's password protects the token.
#![allow(clippy::expect_used, missing_docs)]

use std::sync::Arc;

use mailgate_proxy::{ListenerSpec, Protocol, Proxy, TokenAuthenticator};
use mailgate_token::config::ProxyConfig;
use mailgate_token::login::LoginManager;
use mailgate_token::store::MemoryStorage;
use mailgate_token::transport::{HttpClient, HttpClientConfig};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [account, server, token_url, client_id, client_secret] = args.as_slice() else {
        eprintln!("usage: proxy ACCOUNT HOST:PORT TOKEN_URL CLIENT_ID CLIENT_SECRET");
        std::process::exit(2);
    };
    let (host, port) = server.rsplit_once(':').expect("HOST:PORT");
    let scope = format!("https://{host}/.default");

    // The account, written as emailproxy.config would hold it.
    let config = Arc::new(
        ProxyConfig::parse(&format!(
            "[{account}]\ntoken_url = {token_url}\noauth2_scope = {scope}\n\
             oauth2_flow = client_credentials\nclient_id = {client_id}\nclient_secret = {client_secret}\n"
        ))
        .expect("a valid account section"),
    );
    let storage = Arc::new(MemoryStorage::new());
    let http = HttpClient::new(HttpClientConfig::default()).expect("an HTTP client");
    let manager = Arc::new(
        LoginManager::new(config.clone(), storage, http).expect("the system's random generator"),
    );
    let authenticator = Arc::new(TokenAuthenticator::new(manager, config));

    // One listener: 127.0.0.1:1993 in, implicit TLS (verified) out.
    let spec = ListenerSpec::new(Protocol::Imap, 1993, host, port.parse().expect("a port"));
    let mut proxy = Proxy::new(authenticator);
    if let Some(error) = proxy.apply(vec![spec]).await.first() {
        eprintln!("{error}");
        std::process::exit(1);
    }
    println!("Listening on {:?}; Ctrl-C stops.", proxy.listeners());
    tokio::signal::ctrl_c().await.expect("Ctrl-C handler");
    proxy.shutdown(std::time::Duration::from_secs(5)).await;
}
