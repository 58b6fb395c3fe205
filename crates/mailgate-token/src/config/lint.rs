//! Reading and checking sections: values that cannot be used are errors naming the
//! section, key and line; known slips are fixed with a warning.

use std::path::PathBuf;

use super::account::{SCOPE_FIX, SCOPE_TYPO, recover_markdown_url};
use super::cache::CacheKey;
use super::document::{DEFAULT_SECTION, IniDocument};
use super::error::{ConfigError, ConfigWarning};
use super::proxy::Sections;
use super::server::{Protocol, SERVER_KEYS, ServerConfig};
use super::values::{parse_bool, parse_int};
use super::{OAuthFlow, UpstreamSasl};

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

/// The placeholder the Python email-oauth2-proxy's sample file uses for client values.
const EXAMPLE_CLIENT_VALUE: &str = "*** your";

pub(super) fn warn(
    warnings: &mut Vec<ConfigWarning>,
    section: &str,
    key: &str,
    message: impl Into<String>,
) {
    warnings.push(ConfigWarning {
        section: section.to_owned(),
        key: key.to_owned(),
        message: message.into(),
    });
}

pub(super) fn invalid(
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

pub(super) fn read_bool(
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

/// Reads a whole number of seconds from 1 to `max`.
pub(super) fn read_seconds(
    document: &IniDocument,
    section: &str,
    key: &str,
    default: std::time::Duration,
    max: u64,
) -> Result<std::time::Duration, ConfigError> {
    match document.get(section, key) {
        None => Ok(default),
        Some(text) => parse_int(text)
            .and_then(|seconds| u64::try_from(seconds).ok())
            .filter(|seconds| (1..=max).contains(seconds))
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| {
                invalid(
                    document,
                    section,
                    key,
                    format!(
                        "`{text}` is not a number of seconds; write a whole number from 1 to {max}"
                    ),
                )
            }),
    }
}

pub(super) fn read_server(
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
            "the Python email-oauth2-proxy applies STARTTLS settings to SMTP only; mailgate honours them for this server too",
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
pub(super) fn lint_account(
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
            "oauth2_flow" if !value.is_empty() && OAuthFlow::parse(value).is_none() => {
                return Err(invalid(
                    document,
                    name,
                    key,
                    format!(
                        "unknown flow `{value}`; use authorization_code, device, client_credentials, password or service_account"
                    ),
                ));
            }
            "upstream_sasl" if !value.is_empty() && UpstreamSasl::parse(value).is_none() => {
                return Err(invalid(
                    document,
                    name,
                    key,
                    format!("unknown mechanism `{value}`; use xoauth2 or oauthbearer"),
                ));
            }
            "use_pkce" if !value.is_empty() && parse_bool(value).is_none() => {
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
    let ignored_grant = |flow: OAuthFlow| match flow {
        OAuthFlow::ClientCredentials => Some("the client credentials grant"),
        OAuthFlow::Password => Some("the password grant"),
        OAuthFlow::ServiceAccount => Some("the service account flow"),
        // Flows that use permission_url themselves.
        OAuthFlow::AuthorizationCode | OAuthFlow::Device => None,
    };
    if let (Some(_), Some(flow)) = (permission_url, flow)
        && let Some(grant) = ignored_grant(flow)
    {
        warn(
            warnings,
            name,
            "oauth2_flow",
            format!(
                "oauth2_flow = {flow} is ignored because permission_url is set: the interactive authorization code flow runs (a user signs in in a browser), as in the Python email-oauth2-proxy; remove permission_url to use {grant}"
            ),
        );
    }
    // The authorization code flow without anywhere for the browser to come back to.
    if !is_default
        && permission_url.is_some()
        && flow != Some(OAuthFlow::Device)
        && !names_a_redirect(document, name)
    {
        warn(
            warnings,
            name,
            "redirect_uri",
            "the authorization code flow has no redirect_uri: add the address the provider sends the browser back to (e.g. redirect_uri = http://localhost:8080/, registered with the provider); without it `mailgate --local-server-auth` has no address to listen on and an authorisation can only be completed with `mailgate authorize`",
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

/// Whether the account section `name`, or a catch-all section it may inherit from, names
/// where the authorisation redirect arrives (`redirect_uri`, `redirect_listen_address` or its
/// misspelling).
fn names_a_redirect(document: &IniDocument, name: &str) -> bool {
    let domain = name.rsplit('@').next().unwrap_or_default();
    let domain_section = format!("@{domain}");
    [name, domain_section.as_str(), "@"].iter().any(|section| {
        ["redirect_uri", "redirect_listen_address", LISTEN_TYPO]
            .iter()
            .any(|key| {
                document
                    .get(section, key)
                    .is_some_and(|v| !v.trim().is_empty())
            })
    })
}
