//! The device authorization grant (RFC 8628): request a user code, then poll the token endpoint.
//!
//! The code is requested as the Python email-oauth2-proxy does, with a `GET` of the permission
//! URL (the `oauth2` crate's device authorization request is a `POST`). Polling is the `oauth2`
//! crate's device access token request and its loop (`authorization_pending` waits an interval,
//! `slow_down` adds 5 s, a lost connection backs off), within this crate's limits: the
//! provider's `interval` is kept between 1 s and 1 h, its `expires_in` at most 24 h, and the
//! loop's clock and sleeps are tokio's, so a test with paused time runs a whole flow at once.

use std::sync::Mutex;
use std::time::Duration;

use oauth2::http::StatusCode;
use oauth2::http::header::{ACCEPT, HeaderValue};
use oauth2::{
    AsyncHttpClient, DeviceCodeErrorResponseType, HttpRequest, RequestTokenError,
    StandardDeviceAuthorizationResponse,
};
use serde::Serialize;
use zeroize::Zeroizing;

use super::endpoint::{
    TokenEndpoint, TokenHttp, TokenTransport, json_response, parse_endpoint_url,
};
use super::error::TokenRequestError;
use super::token::{TokenResponse, is_json_object, provider_error};
use super::wire::DeviceAuthorizationBody;
use crate::SecretString;
use crate::transport::{HttpError, HttpFuture};

/// Polling interval when the provider gives none (RFC 8628 §3.2).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// A device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// `device_code`, sent back when polling.
    pub device_code: SecretString,
    /// `user_code` the user enters.
    pub user_code: String,
    /// Where the user goes: `verification_uri_complete` if given, else `verification_uri`
    /// (or Google's `verification_url`).
    pub verification_uri: String,
    /// Lifetime of the codes.
    pub expires_in: Duration,
    /// Minimum time between polls.
    pub interval: Duration,
    /// The provider's own instructions (`message`), if any.
    pub message: Option<String>,
}

impl DeviceAuthorization {
    /// Decodes a device authorization response body.
    ///
    /// ```
    /// use mailgate_token::oauth::DeviceAuthorization;
    ///
    /// let body = br#"{"device_code":"D","user_code":"ABCD-EFGH","verification_uri":"https://example.com/device","expires_in":900}"#;
    /// let auth = DeviceAuthorization::from_json(200, body).unwrap();
    /// assert_eq!((auth.user_code.as_str(), auth.interval.as_secs()), ("ABCD-EFGH", 5));
    /// ```
    pub fn from_json(status: u16, body: &[u8]) -> Result<Self, TokenRequestError> {
        if let Some(error) = provider_error(status, body) {
            return Err(TokenRequestError::Rejected(error));
        }
        if !(200..300).contains(&status) {
            return Err(TokenRequestError::ServerError { status });
        }
        let invalid = |reason: &str| TokenRequestError::InvalidResponse {
            status,
            reason: reason.to_owned(),
        };
        if !is_json_object(body) {
            return Err(invalid("body is not a JSON object"));
        }
        let json: DeviceAuthorizationBody =
            serde_json::from_slice(body).map_err(|_| invalid("body is not a JSON object"))?;
        let device_code = json.device_code.ok_or_else(|| invalid("no device_code"))?;
        let user_code = json.user_code.ok_or_else(|| invalid("no user_code"))?;
        let verification_uri = json
            .verification_uri_complete
            .or(json.verification_uri)
            .or(json.verification_url)
            .ok_or_else(|| invalid("no verification_uri"))?;
        if oauth2::url::Url::parse(&verification_uri).is_err() {
            return Err(invalid("verification_uri is not a URL"));
        }
        let expires_in = json.expires_in.ok_or_else(|| invalid("no expires_in"))?;
        Ok(DeviceAuthorization {
            device_code: SecretString::from(device_code),
            user_code,
            verification_uri,
            expires_in: Duration::from_secs(expires_in),
            interval: json
                .interval
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_INTERVAL),
            message: json.message,
        })
    }

    /// The log line the proxy prints.
    pub fn prompt(&self, username: &str) -> String {
        format!(
            "Please visit the following URL to authenticate account {username}: {} and enter code {}",
            self.verification_uri, self.user_code
        )
    }
}

/// Requests a device code. `permission_url` is the full URL built by
/// [`permission_url`](super::permission_url) (without `redirect_uri`); like the Python
/// email-oauth2-proxy, the request is a `GET` of that URL. `http` is an
/// [`HttpClient`](crate::transport::HttpClient), or any `oauth2` HTTP client with its error and
/// future types.
pub async fn request_device_authorization<C>(
    http: &C,
    permission_url: &str,
) -> Result<DeviceAuthorization, TokenRequestError>
where
    C: for<'c> AsyncHttpClient<'c, Error = HttpError, Future = HttpFuture<'c>> + Sync,
{
    let url = parse_endpoint_url(permission_url)?;
    let request = oauth2::http::Request::builder()
        .uri(url.as_str())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .body(Vec::new())
        .map_err(|_| TokenRequestError::InvalidUrl {
            url: permission_url.to_owned(),
        })?;
    let response = http.call(request).await?;
    DeviceAuthorization::from_json(response.status().as_u16(), response.body())
}

/// Why the device flow ended without a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceFlowError {
    /// The code expired before the user entered it (`expired_token`, or its lifetime passed).
    #[error("the device code expired before it was entered - authorise again")]
    Expired,
    /// The user refused (`access_denied`).
    #[error("access was denied on the verification page - authorise again")]
    Denied,
    /// Another token request failure.
    #[error(transparent)]
    Request(TokenRequestError),
}

/// The longest a device code is polled for, whatever `expires_in` the provider sent (providers
/// give 15 to 30 minutes).
pub(crate) const MAX_DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The shortest polling interval, whatever `interval` the provider sent.
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The longest polling interval, whatever `interval`, `slow_down` answers or lost connections
/// ask for.
pub(crate) const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Polls `endpoint` until the user authorises, refuses, or the code expires.
///
/// The first poll is one interval after the call (nobody enters a code faster), then the
/// `oauth2` crate's loop: `authorization_pending` waits an interval, `slow_down` adds 5 s to it
/// (RFC 8628 §3.5), a connection that fails or times out doubles it (the failure is logged and
/// the poll repeated), `expired_token` and `access_denied` end the flow, as does any other
/// answer that is not a token. Nothing is polled after the code's lifetime. The parameters are
/// the Python email-oauth2-proxy's: `client_id`, `client_secret` or a client assertion as
/// configured, `redirect_uri` when configured, `grant_type`, `scope` and `device_code`.
///
/// `http` is an [`HttpClient`](crate::transport::HttpClient), or any `oauth2` HTTP client with
/// its error and future types: here a provider that says "pending" once, on a paused clock.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use mailgate_token::oauth::{ClientAuth, DeviceAuthorization, TokenEndpoint, poll_device_token};
/// use mailgate_token::transport::{HttpError, HttpFuture};
/// use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
///
/// struct Provider(AtomicUsize);
///
/// impl<'c> AsyncHttpClient<'c> for Provider {
///     type Error = HttpError;
///     type Future = HttpFuture<'c>;
///     fn call(&'c self, _request: HttpRequest) -> HttpFuture<'c> {
///         let (status, body): (u16, &[u8]) = match self.0.fetch_add(1, Ordering::SeqCst) {
///             0 => (400, br#"{"error":"authorization_pending"}"#),
///             _ => (200, br#"{"access_token":"AT","expires_in":3599}"#),
///         };
///         let mut response = HttpResponse::new(body.to_vec());
///         *response.status_mut() = oauth2::http::StatusCode::from_u16(status).unwrap();
///         Box::pin(async move { Ok(response) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let auth = DeviceAuthorization::from_json(200, br#"{"device_code":"D","user_code":"U",
///     "verification_uri":"https://example.com/device","expires_in":900}"#).unwrap();
/// let endpoint = TokenEndpoint::new("https://example.com/token", "app", ClientAuth::None).unwrap();
/// let provider = Provider(AtomicUsize::new(0));
/// let token = poll_device_token(&provider, &endpoint, &auth, Some("mail"), None).await.unwrap();
/// assert_eq!(token.access_token.expose(), "AT");
/// assert_eq!(provider.0.load(Ordering::SeqCst), 2);
/// # }
/// ```
pub async fn poll_device_token<C>(
    http: &C,
    endpoint: &TokenEndpoint,
    auth: &DeviceAuthorization,
    scope: Option<&str>,
    redirect_uri: Option<&str>,
) -> Result<TokenResponse, DeviceFlowError>
where
    C: for<'c> AsyncHttpClient<'c, Error = HttpError, Future = HttpFuture<'c>> + Sync,
{
    let interval = auth.interval.clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL);
    let lifetime = auth.expires_in.min(MAX_DEVICE_CODE_LIFETIME);
    if interval > lifetime {
        // The code expires before the provider lets it be polled for (found by fuzzing).
        return Err(DeviceFlowError::Expired);
    }
    let details = oauth2_details(auth, interval, lifetime).map_err(DeviceFlowError::Request)?;
    let client = endpoint.client();
    let start = tokio::time::Instant::now();
    let clock = move || {
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
            + chrono::TimeDelta::from_std(start.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
    };
    let mut request = client
        .exchange_device_access_token(&details)
        .set_time_fn(clock)
        .set_max_backoff_interval(MAX_POLL_INTERVAL);
    if let Some(uri) = redirect_uri {
        request = request.add_extra_param("redirect_uri", uri);
    }
    request = request.add_extra_param("scope", scope.unwrap_or_default());
    for (name, value) in endpoint.assertion_params() {
        request = request.add_extra_param(name, value);
    }
    let transport = PollTransport {
        http: TokenTransport(http),
        last: Mutex::new(None),
    };
    tokio::time::sleep(interval).await;
    let sleep = |interval: Duration| {
        tokio::time::sleep(interval.clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL))
    };
    let result = request
        .request_async(&transport, sleep, Some(lifetime.saturating_sub(interval)))
        .await;
    result
        .map(TokenResponse::from)
        .map_err(|error| transport.flow_error(error))
}

/// `auth` as the `oauth2` crate's device authorization response, with the interval and
/// lifetime the poll keeps to.
fn oauth2_details(
    auth: &DeviceAuthorization,
    interval: Duration,
    lifetime: Duration,
) -> Result<StandardDeviceAuthorizationResponse, TokenRequestError> {
    #[derive(Serialize)]
    struct Details<'a> {
        device_code: &'a str,
        user_code: &'a str,
        verification_uri: &'a str,
        expires_in: u64,
        interval: u64,
    }
    let json = Zeroizing::new(
        serde_json::to_vec(&Details {
            device_code: auth.device_code.expose(),
            user_code: &auth.user_code,
            verification_uri: &auth.verification_uri,
            expires_in: lifetime.as_secs(),
            interval: interval.as_secs(),
        })
        .map_err(|error| invalid_details(&error))?,
    );
    serde_json::from_slice(&json).map_err(|error| invalid_details(&error))
}

fn invalid_details(error: &serde_json::Error) -> TokenRequestError {
    TokenRequestError::InvalidResponse {
        status: 200,
        reason: format!("unusable device authorization response: {error}"),
    }
}

/// The HTTP client of the `oauth2` polling loop. Each answer is classified by
/// [`TokenTransport`] first, and handed on so that the loop does what RFC 8628 asks: a token as
/// status 200; the provider's error (`authorization_pending` also arrives with status 200) as
/// status 400 with its `error`, so the loop waits or ends; a connection that failed or timed
/// out as the loop's transport error, so it backs off and polls again; any other answer as an
/// empty status 502, which ends the loop. What ended it is kept for [`Self::flow_error`], with
/// the detail (status, Microsoft's `error_codes`) the loop's error type has no room for.
struct PollTransport<'h, C: ?Sized> {
    http: TokenTransport<'h, C>,
    last: Mutex<Option<TokenRequestError>>,
}

impl<C: ?Sized> PollTransport<'_, C> {
    fn keep(&self, error: TokenRequestError) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(error);
        }
    }

    /// Why the loop ended without a token.
    fn flow_error(
        &self,
        error: RequestTokenError<HttpError, oauth2::DeviceCodeErrorResponse>,
    ) -> DeviceFlowError {
        let kept = self.last.lock().ok().and_then(|mut last| last.take());
        if let RequestTokenError::ServerResponse(response) = &error {
            match response.error() {
                DeviceCodeErrorResponseType::ExpiredToken => return DeviceFlowError::Expired,
                DeviceCodeErrorResponseType::AccessDenied => return DeviceFlowError::Denied,
                _ => {}
            }
        }
        DeviceFlowError::Request(kept.unwrap_or_else(|| TokenRequestError::InvalidResponse {
            status: 200,
            reason: error.to_string(),
        }))
    }
}

/// Whether a failed poll is worth repeating after a back-off (RFC 8628 §3.5): the connection
/// failed or timed out. An untrusted certificate, a bad URL or proxy setting is not.
fn is_lost_connection(error: &HttpError) -> bool {
    matches!(
        error,
        HttpError::Connect { .. } | HttpError::Timeout { .. } | HttpError::Transfer { .. }
    )
}

impl<'c, C: TokenHttp + ?Sized> AsyncHttpClient<'c> for PollTransport<'_, C> {
    type Error = HttpError;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            if let Ok(mut last) = self.last.lock() {
                *last = None;
            }
            let error = match self.http.post(request).await {
                Ok((_, body)) => return Ok(json_response(StatusCode::OK, body.to_vec())),
                Err(error) => error,
            };
            match error {
                TokenRequestError::Http(error) if is_lost_connection(&error) => {
                    tracing::warn!(%error, "device code poll failed; polling again after a pause");
                    Err(error)
                }
                TokenRequestError::Rejected(provider) => {
                    #[derive(Serialize)]
                    struct Refusal<'a> {
                        error: &'a str,
                        #[serde(skip_serializing_if = "Option::is_none")]
                        error_description: Option<&'a str>,
                    }
                    let body = serde_json::to_vec(&Refusal {
                        error: &provider.error,
                        error_description: provider.error_description.as_deref(),
                    })
                    .unwrap_or_default();
                    self.keep(TokenRequestError::Rejected(provider));
                    Ok(json_response(StatusCode::BAD_REQUEST, body))
                }
                other => {
                    self.keep(other);
                    Ok(json_response(StatusCode::BAD_GATEWAY, Vec::new()))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use oauth2::HttpResponse;
    use tokio::time::Instant;

    use super::*;
    use crate::oauth::ClientAuth;

    /// One answer of the scripted token endpoint: a status and body, or a transport failure.
    type Answer = Result<(u16, &'static str), HttpError>;

    /// A token endpoint that answers from a script and notes when each poll came.
    struct Script {
        answers: Mutex<VecDeque<Answer>>,
        polls: Mutex<Vec<(Instant, String)>>,
    }

    impl Script {
        fn new(answers: Vec<Answer>) -> Self {
            Script {
                answers: Mutex::new(answers.into()),
                polls: Mutex::new(Vec::new()),
            }
        }

        /// Seconds from `start` of each poll.
        fn times(&self, start: Instant) -> Vec<u64> {
            let polls = self.polls.lock().unwrap();
            polls
                .iter()
                .map(|(at, _)| (*at - start).as_secs())
                .collect()
        }
    }

    impl<'c> AsyncHttpClient<'c> for Script {
        type Error = HttpError;
        type Future = HttpFuture<'c>;

        fn call(&'c self, request: HttpRequest) -> Self::Future {
            let body = String::from_utf8_lossy(request.body()).into_owned();
            self.polls.lock().unwrap().push((Instant::now(), body));
            let next = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok((400, r#"{"error":"authorization_pending"}"#)));
            Box::pin(async move {
                let (status, body) = next?;
                let mut response = HttpResponse::new(body.as_bytes().to_vec());
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                Ok(response)
            })
        }
    }

    fn pending() -> Answer {
        Ok((400, r#"{"error":"authorization_pending"}"#))
    }

    fn granted() -> Answer {
        Ok((200, r#"{"access_token":"AT","expires_in":3599}"#))
    }

    fn lost() -> HttpError {
        HttpError::Timeout {
            host: "oauth2.example.com".into(),
            timeout: Duration::from_secs(30),
        }
    }

    fn authorization(expires_in: &str, interval: &str) -> DeviceAuthorization {
        let body = format!(
            r#"{{"device_code":"D","user_code":"U","verification_uri":"https://v","expires_in":{expires_in},"interval":{interval}}}"#
        );
        DeviceAuthorization::from_json(200, body.as_bytes()).unwrap()
    }

    fn endpoint(auth: ClientAuth) -> TokenEndpoint {
        TokenEndpoint::new("https://oauth2.example.com/token", "cid", auth).unwrap()
    }

    async fn run(
        script: &Script,
        auth: &DeviceAuthorization,
    ) -> (Result<TokenResponse, DeviceFlowError>, Vec<u64>) {
        let start = Instant::now();
        let result = poll_device_token(script, &endpoint(ClientAuth::None), auth, None, None).await;
        (result, script.times(start))
    }

    #[tokio::test(start_paused = true)]
    async fn polling_transcript() {
        // Status 200 with `authorization_pending` is pending too.
        let script = Script::new(vec![
            pending(),
            Ok((400, r#"{"error":"slow_down"}"#)),
            Ok((200, r#"{"error":"authorization_pending"}"#)),
            granted(),
        ]);
        let (result, times) = run(&script, &authorization("60", "5")).await;
        assert_eq!(result.unwrap().access_token.expose(), "AT");
        assert_eq!(times, [5, 10, 20, 30]);

        // Polls up to the lifetime (40 s), none after.
        let script = Script::new(Vec::new());
        let (result, times) = run(&script, &authorization("\"40\"", "5")).await;
        assert!(
            matches!(result, Err(DeviceFlowError::Expired)),
            "{result:?}"
        );
        assert_eq!(times, [5, 10, 15, 20, 25, 30, 35, 40]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_connection_backs_off_and_polls_again() {
        let script = Script::new(vec![Err(lost()), pending(), Err(lost()), granted()]);
        let (result, times) = run(&script, &authorization("600", "5")).await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(times, [5, 15, 25, 45]);

        // An untrusted certificate is not a lost connection: the flow ends.
        let refused = HttpError::Tls {
            host: "oauth2.example.com".into(),
            source: "invalid peer certificate: UnknownIssuer".into(),
        };
        let script = Script::new(vec![Err(refused)]);
        let (result, times) = run(&script, &authorization("600", "5")).await;
        assert!(
            matches!(
                result,
                Err(DeviceFlowError::Request(TokenRequestError::Http(
                    HttpError::Tls { .. }
                )))
            ),
            "{result:?}"
        );
        assert_eq!(times, [5]);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_that_end_the_flow() {
        let cases: Vec<(Answer, &str)> = vec![
            (Ok((400, r#"{"error":"access_denied"}"#)), "denied"),
            (Ok((400, r#"{"error":"expired_token"}"#)), "expired"),
            (
                Ok((
                    401,
                    r#"{"error":"invalid_client","error_description":"AADSTS7000215","error_codes":[7000215]}"#,
                )),
                "invalid_client 401 [7000215]",
            ),
            (Ok((500, "")), "server 500"),
            (Ok((503, "<html>")), "server 503"),
            (Ok((200, r#"{"token_type":"Bearer"}"#)), "invalid"),
        ];
        for (answer, expected) in cases {
            let script = Script::new(vec![answer]);
            let (result, times) = run(&script, &authorization("600", "5")).await;
            let got = match result {
                Err(DeviceFlowError::Denied) => "denied".to_owned(),
                Err(DeviceFlowError::Expired) => "expired".to_owned(),
                Err(DeviceFlowError::Request(TokenRequestError::Rejected(e))) => {
                    format!("{} {} {:?}", e.error, e.status, e.error_codes)
                }
                Err(DeviceFlowError::Request(TokenRequestError::ServerError { status })) => {
                    format!("server {status}")
                }
                Err(DeviceFlowError::Request(TokenRequestError::InvalidResponse { .. })) => {
                    "invalid".to_owned()
                }
                other => format!("{other:?}"),
            };
            assert_eq!(
                got.replace(['[', ']'], "").as_str(),
                expected.replace(['[', ']'], "")
            );
            assert_eq!(times, [5], "{expected}");
        }
    }

    /// Found by fuzzing: huge `expires_in` or `interval` values overflowed time arithmetic,
    /// and an interval longer than the code's lifetime polled after it.
    #[tokio::test(start_paused = true)]
    async fn hostile_lifetimes_and_intervals_are_bounded() {
        let script = Script::new(Vec::new());
        let (result, times) = run(&script, &authorization("60", "61")).await;
        assert!(
            matches!(result, Err(DeviceFlowError::Expired)),
            "{result:?}"
        );
        assert!(times.is_empty());

        let huge = "18446744073709551615";
        let script = Script::new(Vec::new());
        let (result, times) = run(&script, &authorization(huge, huge)).await;
        assert!(
            matches!(result, Err(DeviceFlowError::Expired)),
            "{result:?}"
        );
        // An hour apart, for 24 hours.
        assert_eq!(times.len(), 24);
        assert!(times.windows(2).all(|pair| pair[1] - pair[0] == 3600));

        let script = Script::new(
            (0..40)
                .map(|_| Ok((400, r#"{"error":"slow_down"}"#)))
                .collect(),
        );
        let (result, times) = run(&script, &authorization("86400", "0")).await;
        assert!(
            matches!(result, Err(DeviceFlowError::Expired)),
            "{result:?}"
        );
        let gaps: Vec<u64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
        assert_eq!(times[0], 1);
        assert_eq!(&gaps[..3], [6, 11, 16]);
        assert!(gaps.iter().all(|gap| *gap <= 3600));
    }

    #[tokio::test(start_paused = true)]
    async fn sends_the_python_proxys_parameters() {
        let script = Script::new(vec![granted()]);
        let auth = authorization("60", "5");
        let secret = endpoint(ClientAuth::Secret("S".into()));
        poll_device_token(
            &script,
            &secret,
            &auth,
            Some("s1 s2"),
            Some("http://localhost"),
        )
        .await
        .unwrap();
        let script2 = Script::new(vec![granted()]);
        let assertion = endpoint(ClientAuth::Assertion("A".into()));
        poll_device_token(&script2, &assertion, &auth, None, None)
            .await
            .unwrap();
        let bodies: Vec<String> = [&script, &script2]
            .iter()
            .map(|script| script.polls.lock().unwrap()[0].1.clone())
            .collect();
        assert_eq!(
            bodies,
            [
                "client_id=cid&client_secret=S&redirect_uri=http%3A%2F%2Flocalhost&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&scope=s1+s2&device_code=D",
                "client_id=cid&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=A&scope=&device_code=D",
            ]
        );
    }

    #[test]
    fn authorization_response_table() {
        let cases: &[(u16, &str, bool)] = &[
            (
                200,
                r#"{"device_code":"D","user_code":"U","verification_url":"https://g","expires_in":1800,"interval":5}"#,
                true,
            ),
            (
                200,
                r#"{"device_code":"D","user_code":"U","verification_uri":"https://v","verification_uri_complete":"https://v?c=U","expires_in":"40"}"#,
                true,
            ),
            (
                200,
                r#"{"device_code":"D","user_code":"U","expires_in":1800}"#,
                false,
            ),
            (
                200,
                r#"{"device_code":"D","user_code":"U","verification_uri":"no url","expires_in":1800}"#,
                false,
            ),
            (
                200,
                r#"{"user_code":"U","verification_uri":"v","expires_in":1}"#,
                false,
            ),
            (
                200,
                r#"{"device_code":"D","user_code":"U","verification_uri":"v"}"#,
                false,
            ),
            (400, r#"{"error":"invalid_client"}"#, false),
            (502, "bad gateway", false),
            // serde reads a struct from an array, member by member: not an answer.
            (
                200,
                r#"["D","U","https://v","https://v","https://v",60]"#,
                false,
            ),
        ];
        for (status, body, ok) in cases {
            assert_eq!(
                DeviceAuthorization::from_json(*status, body.as_bytes()).is_ok(),
                *ok,
                "{body}"
            );
        }
        let complete = DeviceAuthorization::from_json(200, cases[1].1.as_bytes()).unwrap();
        assert_eq!(complete.verification_uri, "https://v?c=U");
        assert_eq!(complete.interval, DEFAULT_INTERVAL);
    }
}
