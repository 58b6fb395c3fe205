//! The `[emailproxy]` section: proxy-wide options.

use std::time::Duration;

/// The name of the section holding the proxy-wide options.
pub(crate) const GLOBAL_SECTION: &str = "emailproxy";

/// Proxy-wide options of the `[emailproxy]` section, with the Python email-oauth2-proxy's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GlobalOptions {
    /// `delete_account_token_on_password_error` (default `true`): a login whose password
    /// does not decrypt the stored tokens authorises anew, and the new tokens replace the
    /// stored ones once that succeeds (trust on first use; nothing is deleted before), except
    /// for client-credentials and service-account accounts.
    pub delete_account_token_on_password_error: bool,
    /// `encrypt_client_secret_on_first_use` (default `false`): after a token request,
    /// replace the user section's `client_secret` with `client_secret_encrypted`.
    pub encrypt_client_secret_on_first_use: bool,
    /// `use_login_password_as_client_credentials_secret` (default `false`): with no
    /// configured secret or certificate, the client credentials grant sends the login
    /// password as the client secret.
    pub use_login_password_as_client_credentials_secret: bool,
    /// `allow_catch_all_accounts` (default `false`): `[@domain]` and `[@]` sections
    /// serve usernames without a section of their own.
    pub allow_catch_all_accounts: bool,
    /// `token_request_timeout`: see [`GlobalOptions::token_request_timeout`].
    pub(crate) token_request_timeout: Duration,
}

/// The default of `token_request_timeout`.
pub const DEFAULT_TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `token_request_timeout` accepted, in seconds (an hour).
pub(crate) const MAX_TOKEN_REQUEST_TIMEOUT_SECS: u64 = 3600;

impl GlobalOptions {
    /// `token_request_timeout` (seconds, default 30, at most an hour): the time allowed for a
    /// whole token request to the provider, connection included (connecting alone is allowed
    /// 10 s). A mailgate option; the Python email-oauth2-proxy ignores the key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mailgate_token::config::ProxyConfig;
    ///
    /// let config = ProxyConfig::parse("[emailproxy]\ntoken_request_timeout = 45\n")?;
    /// assert_eq!(config.global().token_request_timeout(), Duration::from_secs(45));
    /// let default = ProxyConfig::parse("[emailproxy]\n")?;
    /// assert_eq!(default.global().token_request_timeout(), Duration::from_secs(30));
    /// assert!(ProxyConfig::parse("[emailproxy]\ntoken_request_timeout = 0\n").is_err());
    /// # Ok::<(), mailgate_token::config::ConfigError>(())
    /// ```
    pub fn token_request_timeout(&self) -> Duration {
        self.token_request_timeout
    }
}

impl Default for GlobalOptions {
    fn default() -> Self {
        Self {
            delete_account_token_on_password_error: true,
            encrypt_client_secret_on_first_use: false,
            use_login_password_as_client_credentials_secret: false,
            allow_catch_all_accounts: false,
            token_request_timeout: DEFAULT_TOKEN_REQUEST_TIMEOUT,
        }
    }
}

/// The keys of [`GlobalOptions`].
pub(crate) const GLOBAL_KEYS: [&str; 5] = [
    "delete_account_token_on_password_error",
    "encrypt_client_secret_on_first_use",
    "use_login_password_as_client_credentials_secret",
    "allow_catch_all_accounts",
    "token_request_timeout",
];

/// Keys of `[emailproxy]` that the `mailgate` binary reads itself (the status listener and the
/// notification commands); known, so not warned about.
pub(crate) const BINARY_GLOBAL_KEYS: [&str; 6] = [
    "status_address",
    "status_token",
    "auth_notify_cmd",
    "auth_notify_interval",
    "error_notify_cmd",
    "token_event_cmd",
];
