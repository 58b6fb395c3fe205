//! Every OAuth 2.0 flow against the in-process mock provider: success, error JSON, 5xx,
//! non-JSON, missing token, timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use mailgate_test_support::{MockOAuthServer, MockReply};
use mailgate_token::SecretString;
use mailgate_token::oauth::{
    AuthorizationRequest, ClientAuth, DeviceFlowError, Grant, ServiceAccountKey, TokenEndpoint,
    TokenRequestError, client_assertion, permission_url, poll_device_token,
    request_device_authorization,
};
use mailgate_token::transport::{HttpClient, HttpClientConfig, HttpError};

fn http() -> HttpClient {
    HttpClient::new(HttpClientConfig::default()).unwrap()
}

async fn setup(auth: ClientAuth) -> (MockOAuthServer, TokenEndpoint) {
    let server = MockOAuthServer::start().await.unwrap();
    let endpoint = TokenEndpoint::new(&server.token_url(), "client-1", auth).unwrap();
    (server, endpoint)
}

const CCG: Grant<'static> = Grant::ClientCredentials {
    scope: Some("https://outlook.office365.com/.default"),
    redirect_uri: None,
};

#[tokio::test]
async fn client_credentials_success_sends_reference_parameters() {
    let (server, endpoint) = setup(ClientAuth::Secret("s3cret".into())).await;
    let token = endpoint.exchange(&http(), &CCG).await.unwrap();
    assert_eq!(token.access_token.expose(), "mock-access-1");
    assert_eq!(token.expires_in, Some(3600));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/token"));
    let names: Vec<&str> = r.params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["client_id", "client_secret", "grant_type", "scope"]);
    assert_eq!(r.param("client_secret"), Some("s3cret"));
}

#[tokio::test]
async fn error_json_5xx_non_json_and_missing_token() {
    let (server, endpoint) = setup(ClientAuth::None).await;
    server.push_token_reply(MockReply::error(401, "invalid_client"));
    server.push_token_reply(MockReply::Raw {
        status: 503,
        body: "<html>down</html>".into(),
    });
    server.push_token_reply(MockReply::Raw {
        status: 200,
        body: "not json".into(),
    });
    server.push_token_reply(MockReply::Token {
        access_token: None,
        expires_in: Some(1),
        refresh_token: None,
    });
    let http = http();
    match endpoint.exchange(&http, &CCG).await.unwrap_err() {
        TokenRequestError::Rejected(e) => {
            assert_eq!((e.status, e.error.as_str()), (401, "invalid_client"));
            assert_eq!(e.error_codes, [70000]);
            assert!(e.to_string().contains("check client_id"));
        }
        other => panic!("{other:?}"),
    }
    let e = endpoint.exchange(&http, &CCG).await.unwrap_err();
    assert!(
        matches!(e, TokenRequestError::ServerError { status: 503 }),
        "{e:?}"
    );
    assert!(e.is_transient());
    let e = endpoint.exchange(&http, &CCG).await.unwrap_err();
    assert!(
        matches!(e, TokenRequestError::InvalidResponse { status: 200, .. }),
        "{e:?}"
    );
    let e = endpoint.exchange(&http, &CCG).await.unwrap_err();
    assert!(e.to_string().contains("no access_token"), "{e}");
    assert_eq!(server.token_requests(), 4);
}

#[tokio::test]
async fn slow_provider_times_out() {
    let (server, endpoint) = setup(ClientAuth::None).await;
    server.push_token_reply(MockReply::token().delayed(Duration::from_secs(5)));
    let mut config = HttpClientConfig::default();
    config.request_timeout = Duration::from_millis(200);
    let http = HttpClient::new(config).unwrap();
    let e = endpoint.exchange(&http, &CCG).await.unwrap_err();
    assert!(
        matches!(e, TokenRequestError::Http(HttpError::Timeout { .. })),
        "{e:?}"
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn refresh_with_and_without_rotation() {
    let (server, endpoint) = setup(ClientAuth::Secret("s".into())).await;
    let old = SecretString::from("old-refresh");
    let grant = Grant::RefreshToken {
        refresh_token: &old,
    };
    let rotated = endpoint.exchange(&http(), &grant).await.unwrap();
    assert_eq!(
        rotated.refresh_token.as_ref().unwrap().expose(),
        "mock-refresh-1"
    );
    server.push_token_reply(MockReply::token_without_refresh());
    let kept = endpoint.exchange(&http(), &grant).await.unwrap();
    assert!(kept.refresh_token.is_none());
    let r = &server.requests()[0];
    assert_eq!(r.param("refresh_token"), Some("old-refresh"));
    assert_eq!(r.param("grant_type"), Some("refresh_token"));
    assert_eq!(r.param("scope"), None);
    server.push_token_reply(MockReply::error(400, "invalid_grant"));
    assert!(
        endpoint
            .exchange(&http(), &grant)
            .await
            .unwrap_err()
            .is_invalid_grant()
    );
}

#[tokio::test]
async fn password_grant_with_resource() {
    let (server, endpoint) = setup(ClientAuth::None).await;
    let password = SecretString::from("pw");
    let grant = Grant::Password {
        username: "user@example.cn",
        password: &password,
        scope: None,
        resource: Some("https://partner.outlook.cn"),
        redirect_uri: None,
    };
    endpoint.exchange(&http(), &grant).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.param("grant_type"), Some("password"));
    assert_eq!(r.param("username"), Some("user@example.cn"));
    assert_eq!(r.param("password"), Some("pw"));
    assert_eq!(r.param("resource"), Some("https://partner.outlook.cn"));
    assert_eq!(r.param("scope"), None);
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let (server, endpoint) = setup(ClientAuth::Secret("s".into())).await;
    let request = AuthorizationRequest::new(
        &server.authorize_url(),
        "client-1",
        Some("http://localhost:8080"),
        Some("https://mail.google.com/"),
        "user@example.com",
        true,
    )
    .unwrap();
    assert!(request.prompt().starts_with(
        "Please visit the following URL to authenticate account user@example.com: http://127.0.0.1:"
    ));
    let code = request
        .parse_redirect(&format!("/?code=the-code&state={}", request.state))
        .unwrap();
    let token = endpoint
        .exchange(&http(), &request.grant(&code))
        .await
        .unwrap();
    assert!(token.refresh_token.is_some());
    let r = &server.requests()[0];
    assert_eq!(r.param("code"), Some("the-code"));
    assert_eq!(r.param("redirect_uri"), Some("http://localhost:8080"));
    assert_eq!(
        r.param("code_verifier"),
        Some(request.code_verifier().unwrap().expose().as_str())
    );
    // A code that was already redeemed.
    server.push_token_reply(MockReply::error(400, "invalid_grant"));
    assert!(
        endpoint
            .exchange(&http(), &request.grant(&code))
            .await
            .unwrap_err()
            .is_invalid_grant()
    );
}

#[tokio::test]
async fn device_flow_pending_then_granted() {
    let (server, endpoint) = setup(ClientAuth::None).await;
    let url = permission_url(
        &server.device_url(),
        "client-1",
        None,
        Some("scope-a"),
        "user@example.com",
        Some("st"),
        None,
    );
    let http = http();
    let auth = request_device_authorization(&http, &url).await.unwrap();
    assert_eq!(auth.user_code, "MOCK-CODE");
    let device_request = &server.requests()[0];
    assert_eq!(device_request.method, "GET");
    assert_eq!(device_request.param("login_hint"), Some("user@example.com"));
    server.push_token_reply(MockReply::error(400, "authorization_pending"));
    let token = poll_device_token(&http, &endpoint, &auth, Some("scope-a"), None)
        .await
        .unwrap();
    assert_eq!(token.access_token.expose(), "mock-access-2");
    assert_eq!(server.token_requests(), 2);
    let poll = &server.requests()[1];
    assert_eq!(
        poll.param("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    assert_eq!(poll.param("device_code"), Some("mock-device-code"));
    assert_eq!(poll.param("scope"), Some("scope-a"));
}

#[tokio::test]
async fn device_flow_denied_and_expired_and_errors() {
    let (server, endpoint) = setup(ClientAuth::None).await;
    let http = http();
    let auth = request_device_authorization(&http, &server.device_url())
        .await
        .unwrap();
    server.push_token_reply(MockReply::error(400, "access_denied"));
    let e = poll_device_token(&http, &endpoint, &auth, None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, DeviceFlowError::Denied), "{e:?}");
    server.push_token_reply(MockReply::error(400, "expired_token"));
    let e = poll_device_token(&http, &endpoint, &auth, None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, DeviceFlowError::Expired), "{e:?}");
    server.push_token_reply(MockReply::Raw {
        status: 500,
        body: String::new(),
    });
    let e = poll_device_token(&http, &endpoint, &auth, None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, DeviceFlowError::Request(_)), "{e:?}");
    // The device authorization endpoint itself refusing.
    server.push_device_reply(MockReply::error(400, "invalid_client"));
    let e = request_device_authorization(&http, &server.device_url())
        .await
        .unwrap_err();
    assert!(matches!(e, TokenRequestError::Rejected(_)), "{e:?}");
}

#[tokio::test]
async fn client_credentials_with_certificate_assertion() {
    let (server, _) = setup(ClientAuth::None).await;
    let key = include_str!("data/test-rsa-key.pem");
    let cert = include_str!("data/test-rsa-cert.pem");
    let assertion = client_assertion(
        cert.as_bytes(),
        key.as_bytes(),
        "client-1",
        &server.token_url(),
        1_700_000_000,
    )
    .unwrap();
    let endpoint = TokenEndpoint::new(
        &server.token_url(),
        "client-1",
        ClientAuth::Assertion(assertion),
    )
    .unwrap();
    endpoint.exchange(&http(), &CCG).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.param("client_secret"), None);
    assert_eq!(
        r.param("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(r.param("client_assertion").unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn google_service_account_jwt_bearer() {
    let server = MockOAuthServer::start().await.unwrap();
    let key_json = serde_json::json!({
        "type": "service_account",
        "private_key_id": "k1",
        "private_key": include_str!("data/test-rsa-key.pem"),
        "client_email": "svc@p.iam.gserviceaccount.com",
        "token_uri": server.token_url(),
    })
    .to_string();
    let key = ServiceAccountKey::load("key", Some(&SecretString::from(key_json))).unwrap();
    let assertion = key
        .assertion(
            "https://mail.google.com/",
            "user@example.com",
            1_700_000_000,
        )
        .unwrap();
    let endpoint = TokenEndpoint::new(&key.token_uri, "key", ClientAuth::None).unwrap();
    let token = endpoint
        .exchange(&http(), &ServiceAccountKey::grant(&assertion))
        .await
        .unwrap();
    assert_eq!(token.access_token.expose(), "mock-access-1");
    let r = &server.requests()[0];
    assert_eq!(
        r.param("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(r.param("client_id"), None);
    assert!(r.param("assertion").is_some());
}

#[tokio::test]
async fn oauth2_crate_runs_over_our_http_client() {
    use oauth2::basic::BasicClient;
    use oauth2::{ClientId, ClientSecret, Scope, TokenResponse as _, TokenUrl};
    let server = MockOAuthServer::start().await.unwrap();
    let client = BasicClient::new(ClientId::new("client-1".into()))
        .set_client_secret(ClientSecret::new("s".into()))
        .set_token_uri(TokenUrl::new(server.token_url()).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("scope-a".into()))
        .request_async(&http())
        .await
        .unwrap();
    assert_eq!(token.access_token().secret(), "mock-access-1");
    assert_eq!(server.requests()[0].param("scope"), Some("scope-a"));
}

/// The `oauth2` crate's typed requests send exactly the parameters of
/// [`Grant::form_params`], the Python email-oauth2-proxy's, in its order.
#[tokio::test]
async fn typed_requests_send_the_reference_parameters_in_order() {
    let server = MockOAuthServer::start().await.unwrap();
    let code = SecretString::from("the code/+");
    let verifier = SecretString::from("v".repeat(43));
    let refresh = SecretString::from("old-refresh");
    let password = SecretString::from("pw & more");
    let secret = ClientAuth::Secret("s3cret".into());
    let assertion = ClientAuth::Assertion("signed.jwt.value".into());
    let jwt = SecretString::from("header.claims.signature");
    let cases: Vec<(Grant<'_>, &ClientAuth)> = vec![
        (
            Grant::AuthorizationCode {
                code: &code,
                redirect_uri: Some("http://localhost:8080/"),
                code_verifier: Some(&verifier),
            },
            &secret,
        ),
        (
            Grant::AuthorizationCode {
                code: &code,
                redirect_uri: None,
                code_verifier: None,
            },
            &ClientAuth::None,
        ),
        (
            Grant::RefreshToken {
                refresh_token: &refresh,
            },
            &assertion,
        ),
        (
            Grant::RefreshToken {
                refresh_token: &refresh,
            },
            &secret,
        ),
        (
            Grant::ClientCredentials {
                scope: Some("https://outlook.office365.com/.default offline_access"),
                redirect_uri: Some("http://localhost"),
            },
            &assertion,
        ),
        (
            Grant::ClientCredentials {
                scope: None,
                redirect_uri: None,
            },
            &secret,
        ),
        (
            Grant::Password {
                username: "user@example.cn",
                password: &password,
                scope: None,
                resource: Some("https://partner.outlook.cn"),
                redirect_uri: None,
            },
            &ClientAuth::None,
        ),
        (
            Grant::Password {
                username: "user@example.com",
                password: &password,
                scope: Some("s"),
                resource: None,
                redirect_uri: Some("r"),
            },
            &secret,
        ),
        (
            Grant::Password {
                username: "user@example.com",
                password: &password,
                scope: None,
                resource: None,
                redirect_uri: None,
            },
            &secret,
        ),
        // An extension grant: no client authentication, whatever is configured.
        (Grant::JwtBearer { assertion: &jwt }, &secret),
    ];
    let http = http();
    for (i, (grant, auth)) in cases.iter().enumerate() {
        let endpoint =
            TokenEndpoint::new(&server.token_url(), "client-1", (*auth).clone()).unwrap();
        endpoint.exchange(&http, grant).await.unwrap();
        let expected: Vec<(String, String)> = grant
            .form_params("client-1", auth)
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.as_str().to_owned()))
            .collect();
        assert_eq!(server.requests()[i].params, expected, "{grant:?}");
    }

    // The device poll (no `Grant`: its loop is `poll_device_token`), in the same order.
    let auth = request_device_authorization(&http, &server.device_url())
        .await
        .unwrap();
    let endpoint = TokenEndpoint::new(&server.token_url(), "client-1", secret.clone()).unwrap();
    poll_device_token(
        &http,
        &endpoint,
        &auth,
        Some("s1 s2"),
        Some("http://localhost"),
    )
    .await
    .unwrap();
    let requests = server.requests();
    let poll = requests.last().unwrap();
    let sent: Vec<(&str, &str)> = poll
        .params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        sent,
        [
            ("client_id", "client-1"),
            ("client_secret", "s3cret"),
            ("redirect_uri", "http://localhost"),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("scope", "s1 s2"),
            ("device_code", "mock-device-code"),
        ]
    );
}
