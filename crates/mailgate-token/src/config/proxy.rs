//! The whole configuration: global options, servers, accounts and their caches.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::cache::{AccountCache, CacheChange, CacheChanges, CacheKey};
use super::document::{DEFAULT_SECTION, IniDocument};
use super::error::{AccountError, ConfigError, ConfigWarning};
use super::global::{
    BINARY_GLOBAL_KEYS, GLOBAL_KEYS, GLOBAL_SECTION, GlobalOptions, MAX_TOKEN_REQUEST_TIMEOUT_SECS,
};
use super::lint::{lint_account, read_bool, read_seconds, read_server, warn};
use super::server::{ServerConfig, match_server_section};
use super::values::{parse_bool, parse_int, parse_unix_time};
use super::{AccountConfig, OAuthFlow, UpstreamSasl};
use crate::SecretString;
use crate::store::CacheSnapshot;

/// Whether a section name is an account section (any name containing `@`).
pub fn is_account_section(name: &str) -> bool {
    name.contains('@')
}

/// Section values as `ConfigParser` holds them, after typo fixes.
#[derive(Debug, Clone, Default)]
pub(super) struct Sections {
    pub(super) defaults: BTreeMap<String, String>,
    order: Vec<String>,
    values: HashMap<String, BTreeMap<String, String>>,
}

impl Sections {
    fn from_document(document: &IniDocument) -> Self {
        let mut sections = Self::default();
        for (key, value) in document.entries(DEFAULT_SECTION) {
            sections.defaults.insert(key.to_owned(), value.to_owned());
        }
        for name in document.sections() {
            let values = document
                .entries(name)
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            sections.order.push(name.to_owned());
            sections.values.insert(name.to_owned(), values);
        }
        sections
    }

    fn has(&self, section: &str) -> bool {
        self.values.contains_key(section)
    }

    /// `ConfigParser.get(section, key, fallback=None)`.
    fn get(&self, section: &str, key: &str) -> Option<&str> {
        let own = self.values.get(section)?;
        own.get(key)
            .or_else(|| self.defaults.get(key))
            .map(String::as_str)
    }

    pub(super) fn own_mut(&mut self, section: &str) -> &mut BTreeMap<String, String> {
        if !self.values.contains_key(section) {
            self.order.push(section.to_owned());
        }
        self.values.entry(section.to_owned()).or_default()
    }
}

/// A loaded `emailproxy.config`: global options, servers, and account sections with
/// their cached tokens.
///
/// Loading checks the global and server sections and every value of the account
/// sections; whether an account has everything its flow needs is checked when a user
/// logs in ([`ProxyConfig::resolve_account`]), because catch-all sections may supply
/// the values, as in the Python email-oauth2-proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    sections: Sections,
    global: GlobalOptions,
    servers: Vec<ServerConfig>,
    warnings: Vec<ConfigWarning>,
}

impl ProxyConfig {
    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let document =
            IniDocument::parse(text).map_err(|error| ConfigError::Parse { path: None, error })?;
        Self::from_document(&document)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let document = read_document(path)?;
        Self::from_document(&document)
    }

    /// Builds the configuration from a parsed document.
    pub fn from_document(document: &IniDocument) -> Result<Self, ConfigError> {
        let mut warnings = Vec::new();
        let global = Self::read_global(document, &mut warnings)?;
        let mut servers = Vec::new();
        let mut sections = Sections::from_document(document);
        for name in document.sections() {
            if let Some((protocol, port)) = match_server_section(name) {
                servers.push(read_server(document, name, protocol, port, &mut warnings)?);
            } else if is_account_section(name) {
                lint_account(document, &mut sections, name, &mut warnings)?;
            } else if name != GLOBAL_SECTION {
                let upper = name.to_ascii_uppercase();
                if ["IMAP-", "POP-", "SMTP-"]
                    .iter()
                    .any(|p| upper.starts_with(p))
                {
                    warn(
                        &mut warnings,
                        name,
                        "",
                        "this section is ignored: server sections are named IMAP-<port>, POP-<port> or SMTP-<port> in upper case with a numeric local port",
                    );
                }
            }
        }
        lint_account(document, &mut sections, DEFAULT_SECTION, &mut warnings)?;
        Ok(Self {
            sections,
            global,
            servers,
            warnings,
        })
    }

    fn read_global(
        document: &IniDocument,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<GlobalOptions, ConfigError> {
        let defaults = GlobalOptions::default();
        let s = GLOBAL_SECTION;
        for (key, _) in document.entries(s) {
            if !GLOBAL_KEYS.contains(&key)
                && !BINARY_GLOBAL_KEYS.contains(&key)
                && key != "documentation"
            {
                warn(warnings, s, key, "unknown option ignored");
            }
        }
        Ok(GlobalOptions {
            delete_account_token_on_password_error: read_bool(
                document,
                s,
                GLOBAL_KEYS[0],
                defaults.delete_account_token_on_password_error,
            )?,
            encrypt_client_secret_on_first_use: read_bool(
                document,
                s,
                GLOBAL_KEYS[1],
                defaults.encrypt_client_secret_on_first_use,
            )?,
            use_login_password_as_client_credentials_secret: read_bool(
                document,
                s,
                GLOBAL_KEYS[2],
                defaults.use_login_password_as_client_credentials_secret,
            )?,
            allow_catch_all_accounts: read_bool(
                document,
                s,
                GLOBAL_KEYS[3],
                defaults.allow_catch_all_accounts,
            )?,
            token_request_timeout: read_seconds(
                document,
                s,
                GLOBAL_KEYS[4],
                defaults.token_request_timeout,
                MAX_TOKEN_REQUEST_TIMEOUT_SECS,
            )?,
        })
    }

    /// Overlays the cached keys of a separate cache store (`--cache-store`) onto the
    /// account sections, as the Python email-oauth2-proxy does at load: a cached account without a
    /// section of its own is added only when catch-all accounts are allowed (otherwise
    /// it is ignored with a warning).
    pub fn merge_cache_snapshot(&mut self, snapshot: &CacheSnapshot) {
        for (name, values) in &snapshot.accounts {
            if !self.sections.has(name) && !self.global.allow_catch_all_accounts {
                warn(
                    &mut self.warnings,
                    name,
                    "",
                    "the cache store holds tokens for this account but the configuration has no such section and allow_catch_all_accounts is off; the cached tokens are ignored",
                );
                continue;
            }
            let own = self.sections.own_mut(name);
            for (key, value) in values {
                if CacheKey::from_name(key).is_some_and(CacheKey::is_cached) {
                    own.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// The proxy-wide options.
    pub fn global(&self) -> &GlobalOptions {
        &self.global
    }

    /// The server sections, in file order.
    pub fn servers(&self) -> &[ServerConfig] {
        &self.servers
    }

    /// The account section names (including catch-all ones), in file order.
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.sections
            .order
            .iter()
            .map(String::as_str)
            .filter(|n| is_account_section(n))
    }

    /// Problems mailgate works around; log each once at start.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The sections consulted for `username`, in order: the user's own, then with
    /// `allow_catch_all_accounts` `[@domain]` and `[@]`. Only sections this configuration
    /// has are returned; for cached values, which a token store may hold in sections the
    /// configuration does not have yet, see [`ProxyConfig::fallback_sections`].
    pub fn chain(&self, username: &str) -> Vec<String> {
        let mut chain = self.fallback_sections(username);
        chain.retain(|s| self.sections.has(s));
        chain
    }

    /// The names of the sections consulted for `username`, in order, whether or not this
    /// configuration has them: the user's own, then with `allow_catch_all_accounts`
    /// `[@domain]` and `[@]`.
    ///
    /// The first login of a catch-all user creates the user's own section in the token store
    /// (tokens, `token_salt`, `token_iterations`) while the configuration loaded at start
    /// still has none: whoever reads cached values consults every one of these names in the
    /// store, not only the sections the configuration knew when it was loaded.
    ///
    /// ```
    /// # use mailgate_token::config::ProxyConfig;
    /// let config = ProxyConfig::parse(
    ///     "[emailproxy]\nallow_catch_all_accounts = True\n[@]\nclient_id = app\n",
    /// ).unwrap();
    /// assert_eq!(config.fallback_sections("ann@example.com"), ["ann@example.com", "@example.com", "@"]);
    /// assert_eq!(config.chain("ann@example.com"), ["@"]);
    /// ```
    pub fn fallback_sections(&self, username: &str) -> Vec<String> {
        let mut names = vec![username.to_owned()];
        if self.global.allow_catch_all_accounts {
            let domain = username.rsplit('@').next().unwrap_or_default();
            names.push(format!("@{domain}"));
            names.push("@".to_owned());
        }
        names.dedup();
        names
    }

    /// `ConfigParser.get(section, key)`: the value of `key` in `section` (or in
    /// `[DEFAULT]` when the section exists), without any catch-all fallback.
    pub fn section_value(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section, key)
    }

    /// The Python email-oauth2-proxy's `get_option_with_catch_all_fallback`: the first existing section
    /// of the chain that has the key (or `[DEFAULT]`) decides.
    pub fn lookup(&self, username: &str, key: &str) -> Option<&str> {
        self.chain(username)
            .iter()
            .find_map(|s| self.sections.get(s, key))
    }

    /// Resolves the configuration a login of `username` uses, and the flow that runs.
    ///
    /// Flow selection follows the Python email-oauth2-proxy exactly: a `permission_url` selects the
    /// authorization code flow unless `oauth2_flow = device`; without one, `oauth2_flow`
    /// decides (and must be `client_credentials`, `password`, `service_account` or
    /// `device`... the last needing a `permission_url`, so in practice one of the first
    /// three).
    pub fn resolve_account(&self, username: &str) -> Result<AccountConfig, AccountError> {
        let chain = self.chain(username);
        let Some(section) = chain.first().cloned() else {
            return Err(AccountError::NotConfigured {
                username: username.to_owned(),
            });
        };
        let get = |key: &str| {
            self.lookup(username, key)
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        let missing = |key: &'static str, hint: &'static str| AccountError::Missing {
            username: username.to_owned(),
            section: section.clone(),
            key,
            hint,
        };
        let permission_url = get("permission_url");
        let configured = get("oauth2_flow").and_then(|f| OAuthFlow::parse(&f));
        let flow = match (&permission_url, configured) {
            (Some(_), Some(OAuthFlow::Device)) => OAuthFlow::Device,
            // permission_url selects the authorization code flow whatever else oauth2_flow
            // names (the Python email-oauth2-proxy's rule; linting warns about it).
            (
                Some(_),
                None
                | Some(
                    OAuthFlow::AuthorizationCode
                    | OAuthFlow::ClientCredentials
                    | OAuthFlow::Password
                    | OAuthFlow::ServiceAccount,
                ),
            ) => OAuthFlow::AuthorizationCode,
            (None, None) => {
                return Err(AccountError::NoFlow {
                    username: username.to_owned(),
                    section,
                });
            }
            (None, Some(OAuthFlow::AuthorizationCode)) => {
                return Err(missing(
                    "permission_url",
                    "the authorization code flow needs the provider's authorization endpoint as permission_url",
                ));
            }
            (None, Some(OAuthFlow::Device)) => {
                return Err(missing(
                    "permission_url",
                    "the device flow needs the provider's device authorization endpoint as permission_url",
                ));
            }
            (
                None,
                Some(
                    flow @ (OAuthFlow::ClientCredentials
                    | OAuthFlow::Password
                    | OAuthFlow::ServiceAccount),
                ),
            ) => flow,
        };
        let token_url = get("token_url")
            .ok_or_else(|| missing("token_url", "add the provider's token endpoint"))?;
        let client_id =
            get("client_id").ok_or_else(|| missing("client_id", "add the OAuth 2.0 client ID"))?;
        let oauth2_scope = get("oauth2_scope");
        let oauth2_resource = get("oauth2_resource");
        if oauth2_scope.is_none() && !(flow == OAuthFlow::Password && oauth2_resource.is_some()) {
            return Err(missing(
                "oauth2_scope",
                "add the scopes to request, separated by spaces",
            ));
        }
        Ok(AccountConfig {
            username: username.to_owned(),
            section,
            flow,
            permission_url,
            token_url,
            oauth2_scope,
            oauth2_resource,
            redirect_uri: get("redirect_uri"),
            redirect_listen_address: get("redirect_listen_address"),
            client_id,
            client_secret: get("client_secret").map(SecretString::new),
            client_secret_encrypted: get("client_secret_encrypted"),
            use_pkce: get("use_pkce")
                .and_then(|v| parse_bool(&v))
                .unwrap_or(false),
            jwt_certificate_path: get("jwt_certificate_path").map(PathBuf::from),
            jwt_key_path: get("jwt_key_path").map(PathBuf::from),
            upstream_sasl: get("upstream_sasl")
                .and_then(|v| UpstreamSasl::parse(&v))
                .unwrap_or_default(),
        })
    }

    /// The cached values for `username` (see [`AccountCache`] for which keys are
    /// inherited through the catch-all chain).
    pub fn account_cache(&self, username: &str) -> AccountCache {
        let own = |key: CacheKey| {
            self.sections
                .get(username, key.as_str())
                .filter(|v| !v.is_empty())
        };
        let chained = |key: CacheKey| {
            self.lookup(username, key.as_str())
                .filter(|v| !v.is_empty())
        };
        AccountCache {
            access_token: own(CacheKey::AccessToken).map(str::to_owned),
            access_token_expiry: own(CacheKey::AccessTokenExpiry).and_then(parse_unix_time),
            refresh_token: own(CacheKey::RefreshToken).map(str::to_owned),
            token_salt: chained(CacheKey::TokenSalt).map(str::to_owned),
            token_iterations: chained(CacheKey::TokenIterations).and_then(parse_int),
            client_secret_encrypted: chained(CacheKey::ClientSecretEncrypted).map(str::to_owned),
            last_activity: own(CacheKey::LastActivity).and_then(parse_unix_time),
        }
    }

    /// Applies token changes to the in-memory values of `username`'s own section
    /// (creating it, as a catch-all login does).
    pub fn apply_cache_changes(&mut self, username: &str, changes: &CacheChanges) {
        let own = self.sections.own_mut(username);
        for change in changes {
            match change {
                CacheChange::Set(key, value) => {
                    own.insert(key.as_str().to_owned(), value.clone());
                }
                CacheChange::Remove(key) => {
                    own.remove(key.as_str());
                }
            }
        }
    }
}

/// Reads a file as a [`IniDocument`]; a missing file is an error.
pub(crate) fn read_document(path: &Path) -> Result<IniDocument, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 {
        path: path.to_owned(),
    })?;
    IniDocument::parse(&text).map_err(|error| ConfigError::Parse {
        path: Some(path.to_owned()),
        error,
    })
}
