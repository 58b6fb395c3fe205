//! The whole configuration: global options, servers, accounts and their caches.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::account::{SCOPE_FIX, SCOPE_TYPO, recover_markdown_url};
use super::cache::{AccountCache, CacheChange, CacheChanges, CacheKey};
use super::document::{DEFAULT_SECTION, IniDocument};
use super::error::{AccountError, ConfigError, ConfigWarning};
use super::global::{GLOBAL_KEYS, GLOBAL_SECTION, GlobalOptions};
use super::server::{Protocol, SERVER_KEYS, ServerConfig, match_server_section};
use super::values::{parse_bool, parse_int};
use super::{AccountConfig, OAuthFlow, UpstreamSasl};
use crate::secret::SecretString;
use crate::store::CacheSnapshot;

/// The keys an account section may hold besides the cached ones.
const ACCOUNT_KEYS: [&str; 16] = [
    "permission_url",
    "token_url",
    "oauth2_scope",
    "oauth2_resource",
    "oauth2_flow",
    "redirect_uri",
    "redirect_listen_address",
    "client_id",
    "client_secret",
    "use_pkce",
    "jwt_certificate_path",
    "jwt_key_path",
    "upstream_sasl",
    "documentation",
    // Cached keys are listed in CacheKey; these two are read here as well.
    "client_secret_encrypted",
    "token_salt",
];

/// The misspelling of `redirect_listen_address` found in copied guides.
const LISTEN_TYPO: &str = "redirect_list_address";

/// The placeholder the reference's sample file uses for client values.
const EXAMPLE_CLIENT_VALUE: &str = "*** your";

/// Whether a section name is an account section (any name containing `@`).
pub fn is_account_section(name: &str) -> bool {
    name.contains('@')
}

/// Section values as `ConfigParser` holds them, after typo fixes.
#[derive(Debug, Clone, Default)]
struct Sections {
    defaults: BTreeMap<String, String>,
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

    fn own_mut(&mut self, section: &str) -> &mut BTreeMap<String, String> {
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
/// the values, as in the reference.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    sections: Sections,
    global: GlobalOptions,
    servers: Vec<ServerConfig>,
    warnings: Vec<ConfigWarning>,
}

fn warn(warnings: &mut Vec<ConfigWarning>, section: &str, key: &str, message: impl Into<String>) {
    warnings.push(ConfigWarning {
        section: section.to_owned(),
        key: key.to_owned(),
        message: message.into(),
    });
}

fn invalid(
    document: &IniDocument,
    section: &str,
    key: &str,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError::InvalidValue {
        section: section.to_owned(),
        key: key.to_owned(),
        line: document
            .line_of(section, key)
            .or_else(|| document.line_of(DEFAULT_SECTION, key))
            .unwrap_or(0),
        message: message.into(),
    }
}

fn read_bool(
    document: &IniDocument,
    section: &str,
    key: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match document.get(section, key) {
        None => Ok(default),
        Some(text) => parse_bool(text).ok_or_else(|| {
            invalid(
                document,
                section,
                key,
                format!("`{text}` is not a boolean; write True or False"),
            )
        }),
    }
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
            if !GLOBAL_KEYS.contains(&key) && key != "documentation" {
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
        })
    }

    /// Overlays the cached keys of a separate cache store (`--cache-store`) onto the
    /// account sections, as the reference does at load: a cached account without a
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
    /// `allow_catch_all_accounts` `[@domain]` and `[@]`. Only existing ones are returned.
    pub fn chain(&self, username: &str) -> Vec<String> {
        let mut chain = vec![username.to_owned()];
        if self.global.allow_catch_all_accounts {
            let domain = username.rsplit('@').next().unwrap_or_default();
            chain.push(format!("@{domain}"));
            chain.push("@".to_owned());
        }
        chain.dedup();
        chain.retain(|s| self.sections.has(s));
        chain
    }

    /// The reference's `get_option_with_catch_all_fallback`: the first existing section
    /// of the chain that has the key (or `[DEFAULT]`) decides.
    pub fn lookup(&self, username: &str, key: &str) -> Option<&str> {
        self.chain(username)
            .iter()
            .find_map(|s| self.sections.get(s, key))
    }

    /// Resolves the configuration a login of `username` uses, and the flow that runs.
    ///
    /// Flow selection follows the reference exactly: a `permission_url` selects the
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
            (Some(_), _) => OAuthFlow::AuthorizationCode,
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
            (None, Some(flow)) => flow,
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
            access_token_expiry: own(CacheKey::AccessTokenExpiry).and_then(parse_int),
            refresh_token: own(CacheKey::RefreshToken).map(str::to_owned),
            token_salt: chained(CacheKey::TokenSalt).map(str::to_owned),
            token_iterations: chained(CacheKey::TokenIterations).and_then(parse_int),
            client_secret_encrypted: chained(CacheKey::ClientSecretEncrypted).map(str::to_owned),
            last_activity: own(CacheKey::LastActivity).and_then(parse_int),
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

fn read_server(
    document: &IniDocument,
    name: &str,
    protocol: Protocol,
    port_text: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ServerConfig, ConfigError> {
    for (key, _) in document.entries(name) {
        if !SERVER_KEYS.contains(&key) {
            warn(warnings, name, key, "unknown option ignored");
        }
    }
    let local_port = port_text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| ConfigError::InvalidValue {
        section: name.to_owned(),
        key: String::new(),
        line: 0,
        message: format!("local port {port_text} is out of range; rename the section with a port from 1 to 65535"),
    })?;
    let server_address = document
        .get(name, "server_address")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError::MissingValue {
            section: name.to_owned(),
            key: "server_address".to_owned(),
            message: "add the upstream server's host name".to_owned(),
        })?;
    let server_port = match document.get(name, "server_port") {
        None => {
            return Err(ConfigError::MissingValue {
                section: name.to_owned(),
                key: "server_port".to_owned(),
                message: "add the upstream server's port".to_owned(),
            });
        }
        Some(text) => parse_int(text)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                invalid(
                    document,
                    name,
                    "server_port",
                    format!("`{text}` is not a port from 1 to 65535"),
                )
            })?,
    };
    let legacy = read_bool(document, name, "starttls", false)?;
    let server_starttls = read_bool(document, name, "server_starttls", legacy)?;
    let local_starttls = read_bool(document, name, "local_starttls", false)?;
    let path = |key: &str| {
        document
            .get(name, key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let local_certificate_path = path("local_certificate_path");
    let local_key_path = path("local_key_path");
    if local_starttls && (local_certificate_path.is_none() || local_key_path.is_none()) {
        return Err(invalid(
            document,
            name,
            "local_starttls",
            "local STARTTLS needs a certificate: add local_certificate_path and local_key_path, or remove local_starttls",
        ));
    }
    if protocol != Protocol::Smtp && (server_starttls || local_starttls) {
        warn(
            warnings,
            name,
            if server_starttls {
                "server_starttls"
            } else {
                "local_starttls"
            },
            "the reference proxy applies STARTTLS settings to SMTP only; mailgate honours them for this server too",
        );
    }
    if document.get_own(name, "starttls").is_some() {
        warn(
            warnings,
            name,
            "starttls",
            "legacy key read as server_starttls; rename it to silence this warning",
        );
    }
    Ok(ServerConfig {
        section: name.to_owned(),
        protocol,
        local_port,
        local_address: document
            .get(name, "local_address")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        server_address: server_address.to_owned(),
        server_port,
        server_starttls,
        local_starttls,
        local_certificate_path,
        local_key_path,
        server_ca_file: path("server_ca_file"),
    })
}

/// Checks the values of one account section (or `[DEFAULT]`), fixing known typos in
/// `sections` with a warning.
fn lint_account(
    document: &IniDocument,
    sections: &mut Sections,
    name: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let is_default = name == DEFAULT_SECTION;
    let own: Vec<(String, String)> = document
        .entries(name)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut fixes: Vec<(String, String)> = Vec::new();
    for (key, value) in &own {
        let key = key.as_str();
        match key {
            LISTEN_TYPO => {
                if document.get_own(name, "redirect_listen_address").is_some() {
                    warn(
                        warnings,
                        name,
                        key,
                        "misspelt key ignored because redirect_listen_address is also set; delete this line",
                    );
                } else {
                    warn(
                        warnings,
                        name,
                        key,
                        "read as redirect_listen_address (a misspelling from copied guides); rename the key to silence this warning",
                    );
                    fixes.push(("redirect_listen_address".to_owned(), value.clone()));
                }
            }
            "oauth2_flow" if OAuthFlow::parse(value).is_none() => {
                return Err(invalid(
                    document,
                    name,
                    key,
                    format!(
                        "unknown flow `{value}`; use authorization_code, device, client_credentials, password or service_account"
                    ),
                ));
            }
            "upstream_sasl" if UpstreamSasl::parse(value).is_none() => {
                return Err(invalid(
                    document,
                    name,
                    key,
                    format!("unknown mechanism `{value}`; use xoauth2 or oauthbearer"),
                ));
            }
            "use_pkce" if parse_bool(value).is_none() => {
                return Err(invalid(
                    document,
                    name,
                    key,
                    format!("`{value}` is not a boolean; write True or False"),
                ));
            }
            "permission_url" | "token_url" | "redirect_uri" if value.starts_with('[') => {
                match recover_markdown_url(value) {
                    Some(url) => {
                        warn(
                            warnings,
                            name,
                            key,
                            format!(
                                "value looks like a Markdown link; using `{url}`; replace the value with the plain URL to silence this warning"
                            ),
                        );
                        fixes.push((key.to_owned(), url.to_owned()));
                    }
                    None => {
                        return Err(invalid(
                            document,
                            name,
                            key,
                            "value looks like a Markdown link `[text](target)` whose parts disagree; replace it with the plain URL",
                        ));
                    }
                }
            }
            "permission_url" | "token_url"
                if !(value.starts_with("https://") || value.starts_with("http://")) =>
            {
                return Err(invalid(
                    document,
                    name,
                    key,
                    format!("`{value}` is not an http(s) URL; use the provider's endpoint URL"),
                ));
            }
            "oauth2_scope" if value.contains(SCOPE_TYPO) => {
                warn(
                    warnings,
                    name,
                    key,
                    format!(
                        "scope `{SCOPE_TYPO}` is a misspelling; requesting `{SCOPE_FIX}` instead; correct the file to silence this warning"
                    ),
                );
                fixes.push((key.to_owned(), value.replace(SCOPE_TYPO, SCOPE_FIX)));
            }
            "client_id" | "client_secret" if value.contains(EXAMPLE_CLIENT_VALUE) => {
                warn(
                    warnings,
                    name,
                    key,
                    "looks like the sample file's placeholder; put your own value here (or, for a client secret that is not needed, delete the line)",
                );
            }
            "access_token_expiry" | "token_iterations" | "last_activity"
                if parse_int(value).is_none() =>
            {
                warn(
                    warnings,
                    name,
                    key,
                    format!(
                        "`{value}` is not a number and is ignored; the proxy rewrites it at the next token update"
                    ),
                );
            }
            _ => {
                let known = ACCOUNT_KEYS.contains(&key) || CacheKey::from_name(key).is_some();
                if !known && !is_default {
                    warn(warnings, name, key, "unknown option ignored");
                }
            }
        }
    }
    // The flow selection rule, explained where the file contradicts it.
    let permission_url = document.get(name, "permission_url");
    let flow = document.get(name, "oauth2_flow").and_then(OAuthFlow::parse);
    if let (Some(_), Some(flow)) = (permission_url, flow)
        && !matches!(flow, OAuthFlow::AuthorizationCode | OAuthFlow::Device)
    {
        let grant = match flow {
            OAuthFlow::ClientCredentials => "the client credentials grant",
            OAuthFlow::Password => "the password grant",
            _ => "the service account flow",
        };
        warn(
            warnings,
            name,
            "oauth2_flow",
            format!(
                "oauth2_flow = {flow} is ignored because permission_url is set: the interactive authorization code flow runs (a user signs in in a browser), as in the reference proxy; remove permission_url to use {grant}"
            ),
        );
    }
    if !fixes.is_empty() {
        let target = if is_default {
            &mut sections.defaults
        } else {
            sections.own_mut(name)
        };
        for (key, value) in fixes {
            target.insert(key, value);
        }
    }
    Ok(())
}
