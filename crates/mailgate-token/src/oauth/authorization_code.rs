//! The authorization code grant (RFC 6749 §4.1), with PKCE S256 (RFC 7636) and a validated
//! `state`, driven sans-I/O: build the permission URL, let the proxy show it and receive the
//! redirect, then parse the redirect here and exchange the code.

use std::fmt;

use oauth2::url::Url;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};

use super::grant::Grant;
use super::random::{self, RandomError};
use crate::SecretString;

/// Bytes of randomness in `state` (as the Python email-oauth2-proxy's `secrets.token_urlsafe(16)`).
const STATE_BYTES: usize = 16;
/// Bytes of randomness in the PKCE verifier (86 characters, as the Python email-oauth2-proxy).
const VERIFIER_BYTES: usize = 64;

/// Percent-encodes like Python's `urllib.parse.quote(text, safe='~-._')`: everything except
/// ASCII letters, digits and `-._~`.
pub fn oauth2_url_escape(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// Everything but ASCII letters, digits and `-._~` is escaped.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Builds a permission URL exactly as the Python email-oauth2-proxy does: `permission_url?` followed by
/// `client_id`, `redirect_uri` (when set), `scope`, `response_type=code`, `access_type=offline`,
/// `login_hint`, `state` and, with PKCE, `code_challenge` and `code_challenge_method=S256`.
///
/// ```
/// use mailgate_token::oauth::permission_url;
///
/// let url = permission_url("https://login.example/authorize", "app", Some("http://localhost:8080"),
///     Some("offline_access https://outlook.office.com/IMAP.AccessAsUser.All"), "a@b.example", Some("st"), None);
/// assert_eq!(url, "https://login.example/authorize?client_id=app&redirect_uri=http%3A%2F%2Flocalhost%3A8080\
/// &scope=offline_access%20https%3A%2F%2Foutlook.office.com%2FIMAP.AccessAsUser.All&response_type=code\
/// &access_type=offline&login_hint=a%40b.example&state=st");
/// ```
pub fn permission_url(
    permission_url: &str,
    client_id: &str,
    redirect_uri: Option<&str>,
    scope: Option<&str>,
    username: &str,
    state: Option<&str>,
    code_challenge: Option<&str>,
) -> String {
    let mut params: Vec<(&str, &str)> = vec![("client_id", client_id)];
    if let Some(uri) = redirect_uri.filter(|u| !u.is_empty()) {
        params.push(("redirect_uri", uri));
    }
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    params.push(("response_type", "code"));
    params.push(("access_type", "offline"));
    params.push(("login_hint", username));
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        params.push(("state", state));
    }
    if let Some(challenge) = code_challenge {
        params.push(("code_challenge", challenge));
        params.push(("code_challenge_method", "S256"));
    }
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", oauth2_url_escape(value)))
        .collect();
    format!("{permission_url}?{}", query.join("&"))
}

/// An authorization request waiting for its redirect: the URL to show, the `state` to expect
/// and the PKCE verifier to send with the code.
///
/// ```
/// use mailgate_token::oauth::AuthorizationRequest;
///
/// let request = AuthorizationRequest::new("https://login.example/authorize", "app",
///     Some("http://localhost:8080/"), Some("mail"), "a@b.example", true).unwrap();
/// assert!(request.url.contains("&code_challenge_method=S256"));
/// let redirect = format!("/?code=C0DE&state={}", request.state);
/// let code = request.parse_redirect(&redirect).unwrap();
/// assert_eq!(code.expose(), "C0DE");
/// assert!(request.parse_redirect("/?code=C0DE&state=forged").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The account being authorised (the login username).
    pub username: String,
    /// The permission URL the user must visit.
    pub url: String,
    /// The `state` value the redirect must carry back.
    pub state: String,
    /// `redirect_uri`, if configured.
    pub redirect_uri: Option<String>,
    code_verifier: Option<SecretString>,
}

impl AuthorizationRequest {
    /// Starts an authorization request with a fresh random `state` and, if `use_pkce`, a fresh
    /// PKCE verifier (S256 challenge).
    pub fn new(
        permission_url_base: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        scope: Option<&str>,
        username: &str,
        use_pkce: bool,
    ) -> Result<Self, RandomError> {
        let state = random::token_urlsafe(STATE_BYTES)?;
        let (verifier, challenge) = if use_pkce {
            let verifier = PkceCodeVerifier::new(random::token_urlsafe(VERIFIER_BYTES)?);
            let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
            (
                Some(SecretString::from(verifier.secret().as_str())),
                Some(challenge.as_str().to_owned()),
            )
        } else {
            (None, None)
        };
        let url = permission_url(
            permission_url_base,
            client_id,
            redirect_uri,
            scope,
            username,
            Some(&state),
            challenge.as_deref(),
        );
        Ok(AuthorizationRequest {
            username: username.to_owned(),
            url,
            state,
            redirect_uri: redirect_uri.map(str::to_owned),
            code_verifier: verifier,
        })
    }

    /// The PKCE verifier, if PKCE is used.
    pub fn code_verifier(&self) -> Option<&SecretString> {
        self.code_verifier.as_ref()
    }

    /// The log line the proxy prints, as the Python email-oauth2-proxy words it.
    pub fn prompt(&self) -> String {
        format!(
            "Please visit the following URL to authenticate account {}: {}",
            self.username, self.url
        )
    }

    /// The token request for `code`.
    pub fn grant<'a>(&'a self, code: &'a SecretString) -> Grant<'a> {
        Grant::AuthorizationCode {
            code,
            redirect_uri: self.redirect_uri.as_deref(),
            code_verifier: self.code_verifier.as_ref(),
        }
    }

    /// Validates a redirect and returns its authorization code. `received` is either the request
    /// target the redirect listener saw (`/path?query`) or the full URL a user pasted.
    ///
    /// Checks, in order: the path (and for a full URL, host and port; the scheme may differ, as
    /// the Python email-oauth2-proxy allows) matches `redirect_uri` ignoring trailing slashes; an `error`
    /// parameter; `state` equals ours; `code` is present and not empty.
    pub fn parse_redirect(&self, received: &str) -> Result<SecretString, RedirectError> {
        let fail = |kind| RedirectError {
            account: self.username.clone(),
            kind,
        };
        let received = received.trim();
        let absolute = received.contains("://");
        let url = if absolute {
            Url::parse(received)
        } else if received.starts_with('/') {
            Url::parse(&format!("http://redirect.invalid{received}"))
        } else {
            return Err(fail(RedirectErrorKind::Malformed));
        }
        .map_err(|_| fail(RedirectErrorKind::Malformed))?;
        if let Some(expected) = self
            .redirect_uri
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
        {
            let same_path =
                expected.path().trim_end_matches('/') == url.path().trim_end_matches('/');
            let same_authority = !absolute
                || (expected.host_str() == url.host_str()
                    && (expected.port() == url.port()
                        || expected.port_or_known_default() == url.port_or_known_default()));
            if !same_path || !same_authority {
                return Err(fail(RedirectErrorKind::WrongRedirectUri {
                    expected: expected.to_string(),
                }));
            }
        }
        let (mut code, mut state, mut error, mut description) = (None, None, None, None);
        for (name, value) in url.query_pairs() {
            let slot = match name.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "error" => &mut error,
                "error_description" => &mut description,
                _ => continue,
            };
            if slot.is_some() {
                return Err(fail(RedirectErrorKind::Malformed));
            }
            *slot = Some(value.into_owned());
        }
        if let Some(error) = error {
            return Err(fail(RedirectErrorKind::Denied { error, description }));
        }
        match state {
            None => return Err(fail(RedirectErrorKind::MissingState)),
            Some(s) if !mailgate_sasl::constant_time_eq(s.as_bytes(), self.state.as_bytes()) => {
                return Err(fail(RedirectErrorKind::StateMismatch));
            }
            Some(_) => {}
        }
        let code = code.unwrap_or_default();
        // The Python email-oauth2-proxy unquotes the already-decoded code once more; do the same.
        let code = percent_encoding::percent_decode_str(&code)
            .decode_utf8_lossy()
            .into_owned();
        if code.is_empty() {
            return Err(fail(RedirectErrorKind::NoCode));
        }
        Ok(SecretString::from(code))
    }
}

/// A redirect that does not complete the authorization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OAuth 2.0 authorisation response for account {account}: {kind}")]
pub struct RedirectError {
    /// The account being authorised.
    pub account: String,
    /// What was wrong.
    pub kind: RedirectErrorKind,
}

/// What was wrong with a redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectErrorKind {
    /// Not a URL or request target, or `code`/`state` given twice.
    Malformed,
    /// The path or host does not match `redirect_uri`.
    WrongRedirectUri {
        /// The configured `redirect_uri`.
        expected: String,
    },
    /// The provider (or user) refused: the `error` parameter.
    Denied {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// No `state` parameter.
    MissingState,
    /// `state` differs from the one sent (a stale or forged response).
    StateMismatch,
    /// No `code` parameter, or an empty one.
    NoCode,
}

impl fmt::Display for RedirectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectErrorKind::Malformed => {
                f.write_str("not a valid redirect URL - paste the full address the browser was sent to")
            }
            RedirectErrorKind::WrongRedirectUri { expected } => write!(
                f,
                "does not match redirect_uri {expected} - check redirect_uri in the account's config section"
            ),
            RedirectErrorKind::Denied { error, description } => {
                write!(f, "error {error}")?;
                if let Some(d) = description {
                    write!(f, "; {d}")?;
                }
                f.write_str(" - authorise again")
            }
            RedirectErrorKind::MissingState => {
                f.write_str("no state parameter - start the authorisation again")
            }
            RedirectErrorKind::StateMismatch => f.write_str(
                "state does not match the request (stale or forged) - use the latest authorisation URL",
            ),
            RedirectErrorKind::NoCode => {
                f.write_str("has neither code nor error message - authorise again")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(redirect: Option<&str>, pkce: bool) -> AuthorizationRequest {
        AuthorizationRequest::new(
            "https://login.example/auth",
            "cid",
            redirect,
            Some("s"),
            "u@x.example",
            pkce,
        )
        .unwrap()
    }

    #[test]
    fn escape_matches_python_quote() {
        assert_eq!(
            oauth2_url_escape("a-b_c.d~e f/g@h+i%é"),
            "a-b_c.d~e%20f%2Fg%40h%2Bi%25%C3%A9"
        );
    }

    #[test]
    fn url_with_and_without_pkce() {
        let plain = request(Some("http://localhost:1"), false);
        assert!(plain.code_verifier().is_none());
        assert!(!plain.url.contains("code_challenge"));
        assert!(
            plain
                .url
                .ends_with(&format!("&login_hint=u%40x.example&state={}", plain.state))
        );
        let pkce = request(Some("http://localhost:1"), true);
        let verifier = pkce.code_verifier().unwrap().expose().clone();
        assert_eq!(verifier.len(), 86);
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier));
        assert!(pkce.url.ends_with(&format!(
            "&code_challenge={}&code_challenge_method=S256",
            challenge.as_str()
        )));
        // Device-style URL: no redirect_uri.
        let device = permission_url("https://d", "cid", None, Some("s"), "u", Some("st"), None);
        assert_eq!(
            device,
            "https://d?client_id=cid&scope=s&response_type=code&access_type=offline&login_hint=u&state=st"
        );
    }

    #[test]
    fn redirect_table() {
        let r = request(Some("http://localhost:8080/cb/"), false);
        let st = r.state.clone();
        use RedirectErrorKind as K;
        let cases: Vec<(String, Result<&str, K>)> = vec![
            (format!("/cb?code=abc&state={st}"), Ok("abc")),
            (format!("/cb/?state={st}&code=a%252Fb"), Ok("a/b")),
            (
                format!("https://localhost:8080/cb?code=abc&state={st}"),
                Ok("abc"),
            ),
            (
                format!("http://localhost:9090/cb?code=abc&state={st}"),
                Err(K::WrongRedirectUri {
                    expected: "http://localhost:8080/cb/".into(),
                }),
            ),
            (
                format!("/other?code=abc&state={st}"),
                Err(K::WrongRedirectUri {
                    expected: "http://localhost:8080/cb/".into(),
                }),
            ),
            ("/cb?code=abc&state=wrong".into(), Err(K::StateMismatch)),
            ("/cb?code=abc".into(), Err(K::MissingState)),
            (format!("/cb?state={st}"), Err(K::NoCode)),
            (format!("/cb?state={st}&code="), Err(K::NoCode)),
            (
                format!("/cb?error=access_denied&error_description=User+declined&state={st}"),
                Err(K::Denied {
                    error: "access_denied".into(),
                    description: Some("User declined".into()),
                }),
            ),
            (format!("/cb?code=a&code=b&state={st}"), Err(K::Malformed)),
            ("cb?code=a".into(), Err(K::Malformed)),
        ];
        for (input, expected) in cases {
            let got = r
                .parse_redirect(&input)
                .map(|c| c.expose().clone())
                .map_err(|e| e.kind);
            assert_eq!(got, expected.map(str::to_owned), "{input}");
        }
        let text = r
            .parse_redirect("/cb?code=a&state=x")
            .unwrap_err()
            .to_string();
        assert!(text.contains("account u@x.example"), "{text}");
    }

    #[test]
    fn grant_carries_verifier_and_redirect() {
        let r = request(Some("http://localhost:8080/"), true);
        let code = SecretString::from("C");
        match r.grant(&code) {
            Grant::AuthorizationCode {
                redirect_uri,
                code_verifier,
                ..
            } => {
                assert_eq!(redirect_uri, Some("http://localhost:8080/"));
                assert!(code_verifier.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn parse_redirect_never_panics(input in ".{0,200}") {
            let r = request(Some("http://localhost:8080/"), false);
            let _ = r.parse_redirect(&input);
        }

        #[test]
        fn code_round_trip(code in ".{1,80}") {
            // The provider escapes the code once in the query; the Python email-oauth2-proxy unquotes it once
            // more, so a code reaches the token request escaped twice -> decoded twice.
            let r = request(Some("http://localhost:8080/cb"), false);
            let twice = oauth2_url_escape(&oauth2_url_escape(&code));
            let redirect = format!("http://localhost:8080/cb?state={}&code={twice}", r.state);
            let parsed = r.parse_redirect(&redirect).unwrap();
            proptest::prop_assert_eq!(parsed.expose(), &code);
        }
    }
}
