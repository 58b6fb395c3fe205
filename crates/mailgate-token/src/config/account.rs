//! Account sections: `[user@domain]`, `[@domain]` and `[@]`.

use std::path::PathBuf;

use crate::SecretString;

/// The OAuth 2.0 grant an account uses to obtain its first tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthFlow {
    /// Interactive authorization code grant (RFC 6749 §4.1), optionally with PKCE.
    AuthorizationCode,
    /// Device authorization grant (RFC 8628).
    Device,
    /// Client credentials grant (RFC 6749 §4.4).
    ClientCredentials,
    /// Resource owner password credentials grant (RFC 6749 §4.3).
    Password,
    /// Google service account (JWT bearer grant, RFC 7523).
    ServiceAccount,
}

impl OAuthFlow {
    /// Every flow, in the order the documentation lists them.
    pub const ALL: [Self; 5] = [
        Self::AuthorizationCode,
        Self::Device,
        Self::ClientCredentials,
        Self::Password,
        Self::ServiceAccount,
    ];

    /// The `oauth2_flow` value naming this flow.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Device => "device",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::ServiceAccount => "service_account",
        }
    }

    /// Reads an `oauth2_flow` value (letter case and surrounding spaces ignored).
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|flow| flow.as_str() == value)
    }

    /// Whether the flow involves no user, so any password could otherwise mint tokens
    /// (the Python email-oauth2-proxy never deletes tokens of such accounts on a wrong password).
    pub fn is_unattended(self) -> bool {
        match self {
            Self::ClientCredentials | Self::ServiceAccount => true,
            Self::AuthorizationCode | Self::Device | Self::Password => false,
        }
    }

    /// Whether a new token needs a person: to visit a URL (authorization code) or enter a
    /// code (device). Proactive refreshes never start such a flow.
    ///
    /// ```
    /// # use mailgate_token::config::OAuthFlow;
    /// assert!(OAuthFlow::AuthorizationCode.is_interactive());
    /// assert!(OAuthFlow::Device.is_interactive());
    /// assert!(!OAuthFlow::ClientCredentials.is_interactive());
    /// assert!(!OAuthFlow::Password.is_interactive());
    /// ```
    pub fn is_interactive(self) -> bool {
        match self {
            Self::AuthorizationCode | Self::Device => true,
            Self::ClientCredentials | Self::Password | Self::ServiceAccount => false,
        }
    }
}

impl core::fmt::Display for OAuthFlow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SASL mechanism used towards the upstream server (key `upstream_sasl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum UpstreamSasl {
    /// Google's and Microsoft's `XOAUTH2` (what the Python email-oauth2-proxy always sends).
    #[default]
    XOAuth2,
    /// RFC 7628 `OAUTHBEARER`.
    OAuthBearer,
}

impl UpstreamSasl {
    /// The `upstream_sasl` value naming this mechanism.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XOAuth2 => "xoauth2",
            Self::OAuthBearer => "oauthbearer",
        }
    }

    /// Reads an `upstream_sasl` value (letter case and surrounding spaces ignored).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "xoauth2" => Some(Self::XOAuth2),
            "oauthbearer" => Some(Self::OAuthBearer),
            _ => None,
        }
    }
}

/// Everything needed to obtain tokens for one login username, resolved through the
/// catch-all chain `[user]` → `[@domain]` → `[@]` exactly as the Python email-oauth2-proxy does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountConfig {
    /// The login username (an email address).
    pub username: String,
    /// The first section of the chain that exists (the user's own, `@domain` or `@`).
    pub section: String,
    /// The flow that runs (see [`ProxyConfig::resolve_account`](super::ProxyConfig::resolve_account)).
    pub flow: OAuthFlow,
    /// `permission_url`: the authorization (or device authorization) endpoint.
    pub permission_url: Option<String>,
    /// `token_url`: the token endpoint.
    pub token_url: String,
    /// `oauth2_scope`, space-separated.
    pub oauth2_scope: Option<String>,
    /// `oauth2_resource` (non-standard password grant of some providers).
    pub oauth2_resource: Option<String>,
    /// `redirect_uri` of the authorization code flow.
    pub redirect_uri: Option<String>,
    /// `redirect_listen_address`: where to listen for the redirect, when it differs
    /// from `redirect_uri`.
    pub redirect_listen_address: Option<String>,
    /// `client_id` (`file` or `key` for service accounts).
    pub client_id: String,
    /// `client_secret` in plain text (for service accounts: the key path or JSON).
    pub client_secret: Option<SecretString>,
    /// `client_secret_encrypted`: the client secret encrypted with the login password.
    pub client_secret_encrypted: Option<String>,
    /// `use_pkce`: send an S256 PKCE challenge in the authorization code flow.
    pub use_pkce: bool,
    /// `jwt_certificate_path`: certificate for a JWT client assertion.
    pub jwt_certificate_path: Option<PathBuf>,
    /// `jwt_key_path`: private key for a JWT client assertion.
    pub jwt_key_path: Option<PathBuf>,
    /// `upstream_sasl`: the mechanism to authenticate upstream with.
    pub upstream_sasl: UpstreamSasl,
}

/// Recovers a URL that a Markdown renderer mangled into `[URL](URL…)`, as in a widely
/// copied guide (`[https://host/token](https://host/token%22%5C)`).
///
/// Returns the URL when the link text is a URL and the link target is that same URL,
/// possibly followed by percent-encoded quotes, backslashes or spaces only; `None`
/// when the value is not of that shape or the two halves disagree.
pub(crate) fn recover_markdown_url(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('[')?;
    let (text, rest) = inner.split_once("](")?;
    let target = rest.strip_suffix(')')?;
    if !(text.starts_with("https://") || text.starts_with("http://"))
        || text.contains(char::is_whitespace)
    {
        return None;
    }
    let mut junk = target.strip_prefix(text)?;
    while !junk.is_empty() {
        let lower = junk.to_ascii_lowercase();
        let step = ["%22", "%5c", "%20", "%27", "\"", "\\", "'", " "]
            .into_iter()
            .find(|j| lower.starts_with(j))?;
        junk = &junk[step.len()..];
    }
    Some(text)
}

/// The misspelling of `SMTP.Send` found in copied guides.
pub(crate) const SCOPE_TYPO: &str = "SMPT.Send";

/// The correct spelling of [`SCOPE_TYPO`].
pub(crate) const SCOPE_FIX: &str = "SMTP.Send";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_parse_case_insensitively() {
        for flow in OAuthFlow::ALL {
            assert_eq!(OAuthFlow::parse(flow.as_str()), Some(flow));
            assert_eq!(OAuthFlow::parse(&flow.as_str().to_uppercase()), Some(flow));
        }
        assert_eq!(OAuthFlow::parse("implicit"), None);
        assert_eq!(OAuthFlow::parse(""), None);
    }

    #[test]
    fn markdown_urls_table() {
        let guide = "[https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token](https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token%22%5C)";
        let cases = [
            (
                guide,
                Some("https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token"),
            ),
            (
                "[https://a.example/t](https://a.example/t)",
                Some("https://a.example/t"),
            ),
            ("[https://a.example/t](https://b.example/t)", None),
            ("[https://a.example/t](https://a.example/t/more)", None),
            ("[text](https://a.example/t)", None),
            ("https://a.example/t", None),
            ("[https://a.example/t](https://a.example/t", None),
        ];
        for (value, expected) in cases {
            assert_eq!(recover_markdown_url(value), expected, "{value}");
        }
    }
}
