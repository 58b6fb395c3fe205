//! The device authorization grant (RFC 8628): request a user code, then poll the token endpoint.
//!
//! [`DevicePoll`] is the sans-I/O polling state machine (time passed in); [`poll_device_token`]
//! drives it with tokio timers.

use std::time::{Duration, Instant};

use oauth2::http::header::{ACCEPT, HeaderValue};

use super::endpoint::{TokenEndpoint, parse_endpoint_url};
use super::error::{ProviderError, TokenRequestError};
use super::grant::Grant;
use super::token::{TokenResponse, is_json_object, provider_error};
use super::wire::DeviceAuthorizationBody;
use crate::SecretString;
use crate::transport::HttpClient;

/// Polling interval when the provider gives none (RFC 8628 §3.2).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Added to the interval on each `slow_down` (RFC 8628 §3.5).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

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
/// [`permission_url`](super::permission_url) (without `redirect_uri`); like the Python email-oauth2-proxy, the
/// request is a `GET` of that URL.
pub async fn request_device_authorization(
    http: &HttpClient,
    permission_url: &str,
) -> Result<DeviceAuthorization, TokenRequestError> {
    let url = parse_endpoint_url(permission_url)?;
    let request = oauth2::http::Request::builder()
        .uri(url.as_str())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .body(Vec::new())
        .map_err(|_| TokenRequestError::InvalidUrl {
            url: permission_url.to_owned(),
        })?;
    let response = http.execute(request).await?;
    DeviceAuthorization::from_json(response.status().as_u16(), response.body())
}

/// Why the device flow ended without a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceFlowError {
    /// The code expired before the user entered it (`expired_token`, or our own deadline).
    #[error("the device code expired before it was entered - authorise again")]
    Expired,
    /// The user refused (`access_denied`).
    #[error("access was denied on the verification page - authorise again")]
    Denied,
    /// Another token request failure.
    #[error(transparent)]
    Request(TokenRequestError),
}

/// What to do after a poll.
#[derive(Debug)]
#[non_exhaustive]
pub enum DevicePollStep {
    /// The user authorised: here are the tokens.
    Granted(TokenResponse),
    /// Poll again at this instant.
    Wait(Instant),
    /// The flow is over without a token.
    Failed(DeviceFlowError),
}

/// The device flow's polling state machine (RFC 8628 §3.4-3.5): `authorization_pending` waits
/// one interval, `slow_down` adds 5 s to the interval, `expired_token` and `access_denied` end the
/// flow, and nothing is polled after the code's lifetime.
///
/// ```
/// use std::time::{Duration, Instant};
/// use mailgate_token::oauth::{DeviceAuthorization, DevicePoll, DevicePollStep, ProviderError, TokenRequestError};
///
/// let auth = DeviceAuthorization::from_json(200, br#"{"device_code":"D","user_code":"U",
///     "verification_uri":"https://x","expires_in":60,"interval":5}"#).unwrap();
/// let start = Instant::now();
/// let mut poll = DevicePoll::new(&auth, start);
/// let slow = TokenRequestError::Rejected(ProviderError { status: 400, error: "slow_down".into(),
///     error_description: None, error_codes: vec![] });
/// match poll.on_result(Err(slow), start) {
///     DevicePollStep::Wait(at) => assert_eq!(at - start, Duration::from_secs(10)),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone)]
pub struct DevicePoll {
    interval: Duration,
    deadline: Instant,
}

/// The longest a device code is polled for, whatever `expires_in` the provider sent (providers
/// give 15 to 30 minutes).
pub(crate) const MAX_DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest polling interval, whatever `interval` or `slow_down` answers ask for.
pub(crate) const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60 * 60);

impl DevicePoll {
    /// Starts polling for `auth`, received at `now`. The provider's `interval` is kept between
    /// 1 s and 1 h, its `expires_in` at most 24 h.
    pub fn new(auth: &DeviceAuthorization, now: Instant) -> Self {
        let lifetime = auth.expires_in.min(MAX_DEVICE_CODE_LIFETIME);
        DevicePoll {
            interval: auth
                .interval
                .clamp(Duration::from_secs(1), MAX_POLL_INTERVAL),
            deadline: now.checked_add(lifetime).unwrap_or(now),
        }
    }

    /// The current polling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the device code expires.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// When to send the first poll, given the start time `now`.
    pub fn first_poll(&self, now: Instant) -> Instant {
        now.checked_add(self.interval).unwrap_or(now)
    }

    /// Feeds the result of one poll that completed at `now`.
    pub fn on_result(
        &mut self,
        result: Result<TokenResponse, TokenRequestError>,
        now: Instant,
    ) -> DevicePollStep {
        let error = match result {
            Ok(token) => return DevicePollStep::Granted(token),
            Err(error) => error,
        };
        let code = error
            .provider_error()
            .map(|e: &ProviderError| e.error.as_str());
        match code {
            Some("authorization_pending") => {}
            Some("slow_down") => {
                self.interval = (self.interval + SLOW_DOWN_STEP).min(MAX_POLL_INTERVAL);
            }
            Some("expired_token") => return DevicePollStep::Failed(DeviceFlowError::Expired),
            Some("access_denied") => return DevicePollStep::Failed(DeviceFlowError::Denied),
            _ => return DevicePollStep::Failed(DeviceFlowError::Request(error)),
        }
        match now.checked_add(self.interval) {
            Some(next) if next < self.deadline => DevicePollStep::Wait(next),
            _ => DevicePollStep::Failed(DeviceFlowError::Expired),
        }
    }
}

/// Polls `endpoint` until the user authorises, refuses, or the code expires.
pub async fn poll_device_token(
    http: &HttpClient,
    endpoint: &TokenEndpoint,
    auth: &DeviceAuthorization,
    scope: Option<&str>,
    redirect_uri: Option<&str>,
) -> Result<TokenResponse, DeviceFlowError> {
    let start = Instant::now();
    let mut poll = DevicePoll::new(auth, start);
    let mut at = poll.first_poll(start);
    loop {
        tokio::time::sleep_until(at.into()).await;
        let grant = Grant::DeviceCode {
            device_code: &auth.device_code,
            scope,
            redirect_uri,
        };
        let result = endpoint.exchange(http, &grant).await;
        match poll.on_result(result, Instant::now()) {
            DevicePollStep::Granted(token) => return Ok(token),
            DevicePollStep::Wait(next) => at = next,
            DevicePollStep::Failed(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: &str) -> Result<TokenResponse, TokenRequestError> {
        Err(TokenRequestError::Rejected(ProviderError {
            status: 400,
            error: code.into(),
            error_description: None,
            error_codes: vec![],
        }))
    }

    /// Found by fuzzing (`token_device`): huge `expires_in` or `interval` values overflowed
    /// `Instant` arithmetic.
    #[test]
    fn hostile_lifetimes_and_intervals_are_bounded() {
        let t0 = Instant::now();
        let huge = DeviceAuthorization::from_json(
            200,
            br#"{"device_code":"D","user_code":"X","verification_uri":"https://e/","expires_in":18446744073709551615}"#,
        )
        .unwrap();
        let poll = DevicePoll::new(&huge, t0);
        assert_eq!(poll.deadline(), t0 + MAX_DEVICE_CODE_LIFETIME);
        assert_eq!(poll.first_poll(t0), t0 + DEFAULT_INTERVAL);

        let slow = DeviceAuthorization::from_json(
            200,
            br#"{"device_code":"D","user_code":"X","verification_uri":"https://e/","expires_in":60,"interval":18446744073709551615}"#,
        )
        .unwrap();
        let mut poll = DevicePoll::new(&slow, t0);
        assert_eq!(poll.interval(), MAX_POLL_INTERVAL);
        // An hour between polls is past the 60 s lifetime: expired, not a panic.
        assert!(matches!(
            poll.on_result(rejected("slow_down"), t0),
            DevicePollStep::Failed(DeviceFlowError::Expired)
        ));

        let mut poll = DevicePoll::new(&huge, t0);
        for _ in 0..2_000 {
            let _ = poll.on_result(rejected("slow_down"), t0);
        }
        assert_eq!(poll.interval(), MAX_POLL_INTERVAL);
    }

    #[test]
    fn polling_transcript() {
        let auth = DeviceAuthorization::from_json(
            200,
            br#"{"device_code":"D","user_code":"U","verification_uri":"https://v","verification_uri_complete":"https://v?c=U","expires_in":"40","interval":5}"#,
        )
        .unwrap();
        assert_eq!(auth.verification_uri, "https://v?c=U");
        let t0 = Instant::now();
        let mut poll = DevicePoll::new(&auth, t0);
        let s = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(poll.first_poll(t0), s(5));
        assert!(
            matches!(poll.on_result(rejected("authorization_pending"), s(5)), DevicePollStep::Wait(at) if at == s(10))
        );
        assert!(
            matches!(poll.on_result(rejected("slow_down"), s(10)), DevicePollStep::Wait(at) if at == s(20))
        );
        assert_eq!(poll.interval(), Duration::from_secs(10));
        assert!(
            matches!(poll.on_result(rejected("authorization_pending"), s(20)), DevicePollStep::Wait(at) if at == s(30))
        );
        // The next poll would be at 40 s, the deadline.
        assert!(matches!(
            poll.on_result(rejected("authorization_pending"), s(30)),
            DevicePollStep::Failed(DeviceFlowError::Expired)
        ));
        let mut poll = DevicePoll::new(&auth, t0);
        assert!(matches!(
            poll.on_result(rejected("expired_token"), s(5)),
            DevicePollStep::Failed(DeviceFlowError::Expired)
        ));
        assert!(matches!(
            poll.on_result(rejected("access_denied"), s(5)),
            DevicePollStep::Failed(DeviceFlowError::Denied)
        ));
        assert!(matches!(
            poll.on_result(rejected("invalid_client"), s(5)),
            DevicePollStep::Failed(DeviceFlowError::Request(_))
        ));
        let ok = Ok(TokenResponse::new("AT".into(), Some(10)));
        assert!(matches!(
            poll.on_result(ok, s(5)),
            DevicePollStep::Granted(_)
        ));
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
                r#"{"device_code":"D","user_code":"U","expires_in":1800}"#,
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
    }
}
