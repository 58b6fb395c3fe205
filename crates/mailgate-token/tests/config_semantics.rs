//! `ConfigParser` semantics, the typed model, catch-all resolution and flow selection.
//!
//! `tests/data/reference-sample.config` is the sample file of the Python email-oauth2-proxy
//! (simonrob/email-oauth2-proxy, Apache-2.0), unchanged; `tests/data/user-guide.config`
//! is the configuration printed in a third-party setup guide, typos included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_token::config::{
    AccountError, CacheChanges, CacheKey, ConfigError, IniDocument, OAuthFlow, ParseErrorKind,
    Protocol, ProxyConfig, UpstreamSasl,
};

const SAMPLE: &str = include_str!("data/reference-sample.config");
const GUIDE: &str = include_str!("data/user-guide.config");

#[test]
fn parser_semantics_table() {
    // (input, section, key, expected value)
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("[s]\nk = v\n", "s", "k", Some("v")),
        ("[s]\nk: v\n", "s", "k", Some("v")),
        ("[s]\nk=a=b\n", "s", "k", Some("a=b")),
        ("[s]\nk:a=b\n", "s", "k", Some("a=b")),
        ("[s]\nk=a:b\n", "s", "k", Some("a:b")),
        ("[s]\nKey_Name = v\n", "s", "key_name", Some("v")),
        ("[s]\nk = v\n", "S", "k", None),
        ("[s]\nk =\n", "s", "k", Some("")),
        (
            "[s]\nk = v # not a comment\n",
            "s",
            "k",
            Some("v # not a comment"),
        ),
        (
            "[s]\n# k = commented\n; k2 = too\n  # indented comment\nk = v\n",
            "s",
            "k2",
            None,
        ),
        (
            "[s]\nk = line1\n  line2\n\tline3\n",
            "s",
            "k",
            Some("line1\nline2\nline3"),
        ),
        ("[s]\nk = a\n\n  b\n\n\nz = 1\n", "s", "k", Some("a\n\nb")),
        (
            "[s]\nk = a\n  # comment inside\n  b\n",
            "s",
            "k",
            Some("a\nb"),
        ),
        ("[s]\n  k = indented key\n", "s", "k", Some("indented key")),
        ("[DEFAULT]\nk = d\n[s]\n", "s", "k", Some("d")),
        ("[DEFAULT]\nk = d\n[s]\nk = own\n", "s", "k", Some("own")),
        ("[DEFAULT]\nk = d\n", "missing", "k", None),
        ("[s]\nk = %(x)s 100%\n", "s", "k", Some("%(x)s 100%")),
        ("[s]\nk = v  \t\n", "s", "k", Some("v")),
        ("\u{feff}[s]\nk = v\n", "s", "k", Some("v")),
        ("[s]\r\nk = v\r\n  w\r\n", "s", "k", Some("v\nw")),
        ("[a b]\nk = v\n", "a b", "k", Some("v")),
        ("[default]\nk = v\n", "default", "k", Some("v")),
    ];
    for (input, section, key, expected) in cases {
        let document = IniDocument::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(
            document.get(section, key),
            *expected,
            "{input:?} [{section}] {key}"
        );
        assert_eq!(document.to_string(), *input, "lossless: {input:?}");
    }
}

#[test]
fn parser_errors_table() {
    type Check = fn(&ParseErrorKind) -> bool;
    let cases: &[(&str, usize, Check)] = &[
        ("k = v\n", 1, |k| {
            matches!(k, ParseErrorKind::MissingSectionHeader)
        }),
        ("# c\n\nk = v\n", 3, |k| {
            matches!(k, ParseErrorKind::MissingSectionHeader)
        }),
        ("[s]\njust text\n", 2, |k| {
            matches!(k, ParseErrorKind::NotKeyValue)
        }),
        ("[s]\n= v\n", 2, |k| {
            matches!(k, ParseErrorKind::NotKeyValue)
        }),
        ("[s]\n[]\n", 2, |k| matches!(k, ParseErrorKind::NotKeyValue)),
        (
            "[s]\n[t]\n[s]\n",
            3,
            |k| matches!(k, ParseErrorKind::DuplicateSection { section } if section == "s"),
        ),
        (
            "[s]\nk = 1\nK = 2\n",
            3,
            |k| matches!(k, ParseErrorKind::DuplicateKey { key, .. } if key == "k"),
        ),
        ("[DEFAULT]\nk = 1\n[DEFAULT]\nk = 2\n", 4, |k| {
            matches!(k, ParseErrorKind::DuplicateKey { .. })
        }),
    ];
    for (input, line, check) in cases {
        let error = IniDocument::parse(input).expect_err(input);
        assert_eq!(error.line, *line, "{input:?}: {error}");
        assert!(check(&error.kind), "{input:?}: {error}");
    }
    // A repeated [DEFAULT] header is allowed, as in ConfigParser.
    assert!(IniDocument::parse("[DEFAULT]\na = 1\n[DEFAULT]\nb = 2\n").is_ok());
    let message = IniDocument::parse("[s]\nk = 1\nk = 2\n")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("line 3") && message.contains("[s]"),
        "{message}"
    );
}

#[test]
fn token_request_timeout_is_read_in_seconds() {
    let default = ProxyConfig::parse("[emailproxy]\n").unwrap();
    assert_eq!(
        default.global().token_request_timeout(),
        std::time::Duration::from_secs(30)
    );
    let set = ProxyConfig::parse("[emailproxy]\ntoken_request_timeout = 5\n").unwrap();
    assert_eq!(
        set.global().token_request_timeout(),
        std::time::Duration::from_secs(5)
    );
    assert!(set.warnings().is_empty(), "{:?}", set.warnings());
    for bad in ["0", "soon", "-3"] {
        let error = ProxyConfig::parse(&format!("[emailproxy]\ntoken_request_timeout = {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("token_request_timeout") && error.contains(bad),
            "{error}"
        );
    }
}

#[test]
fn global_options_and_booleans() {
    let config = ProxyConfig::parse("[emailproxy]\nallow_catch_all_accounts = yes\n").unwrap();
    assert!(config.global().allow_catch_all_accounts);
    assert!(
        config.global().delete_account_token_on_password_error,
        "default true"
    );
    assert!(!config.global().encrypt_client_secret_on_first_use);
    assert!(
        !config
            .global()
            .use_login_password_as_client_credentials_secret
    );
    let config =
        ProxyConfig::parse("[DEFAULT]\nallow_catch_all_accounts = on\n[emailproxy]\n").unwrap();
    assert!(
        config.global().allow_catch_all_accounts,
        "[DEFAULT] applies to [emailproxy]"
    );
    let error =
        ProxyConfig::parse("[emailproxy]\n\ndelete_account_token_on_password_error = sometimes\n")
            .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("[emailproxy] delete_account_token_on_password_error (line 3)")
            && message.contains("True or False"),
        "{message}"
    );
}

#[test]
fn server_sections() {
    let text = "[IMAP-1993]\nserver_address = imap.example.com\nserver_port = 993\n\
                [SMTP-1587]\nserver_address = smtp.example.com\nserver_port = 587\nstarttls = True\n\
                [POP-1995]\nserver_address = pop.example.com\nserver_port = 995\nlocal_address = 127.0.0.1\nserver_ca_file = /etc/ca.pem\n\
                [imap-1]\n[IMAP-x]\n";
    let config = ProxyConfig::parse(text).unwrap();
    let servers = config.servers();
    assert_eq!(servers.len(), 3);
    assert_eq!(
        (
            servers[0].protocol,
            servers[0].local_port,
            servers[0].server_port
        ),
        (Protocol::Imap, 1993, 993)
    );
    assert!(!servers[0].server_starttls);
    assert!(servers[1].server_starttls, "legacy starttls key");
    assert_eq!(servers[2].local_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        servers[2].server_ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    assert!(config.warnings().iter().any(|w| w.section == "imap-1"));
    assert!(config.warnings().iter().any(|w| w.key == "starttls"));

    let errors = [
        ("[IMAP-1993]\nserver_port = 993\n", "server_address"),
        ("[IMAP-1993]\nserver_address = h\n", "server_port"),
        (
            "[IMAP-1993]\nserver_address = h\nserver_port = 99999\n",
            "server_port",
        ),
        (
            "[IMAP-0]\nserver_address = h\nserver_port = 993\n",
            "local port",
        ),
        (
            "[IMAP-70000]\nserver_address = h\nserver_port = 993\n",
            "local port",
        ),
        (
            "[SMTP-1]\nserver_address = h\nserver_port = 1\nlocal_starttls = True\n",
            "local_certificate_path",
        ),
        (
            "[SMTP-1]\nserver_address = h\nserver_port = 1\nserver_starttls = perhaps\n",
            "server_starttls",
        ),
    ];
    for (text, needle) in errors {
        let message = ProxyConfig::parse(text).unwrap_err().to_string();
        assert!(message.contains(needle), "{text:?}: {message}");
    }
}

fn account_text(extra: &str) -> String {
    format!(
        "[user@example.com]\ntoken_url = https://t.example/token\nclient_id = id\noauth2_scope = s\n{extra}"
    )
}

#[test]
fn flow_selection_table() {
    let cases: &[(&str, Result<OAuthFlow, &str>, bool)] = &[
        (
            "permission_url = https://p.example/auth\n",
            Ok(OAuthFlow::AuthorizationCode),
            false,
        ),
        (
            "permission_url = https://p.example/auth\noauth2_flow = authorization_code\n",
            Ok(OAuthFlow::AuthorizationCode),
            false,
        ),
        (
            "permission_url = https://p.example/dev\noauth2_flow = device\n",
            Ok(OAuthFlow::Device),
            false,
        ),
        (
            "permission_url = https://p.example/auth\noauth2_flow = client_credentials\n",
            Ok(OAuthFlow::AuthorizationCode),
            true,
        ),
        (
            "permission_url = https://p.example/auth\noauth2_flow = password\n",
            Ok(OAuthFlow::AuthorizationCode),
            true,
        ),
        (
            "permission_url = https://p.example/auth\noauth2_flow =\n",
            Ok(OAuthFlow::AuthorizationCode),
            false,
        ),
        (
            "oauth2_flow = client_credentials\n",
            Ok(OAuthFlow::ClientCredentials),
            false,
        ),
        ("oauth2_flow = Password\n", Ok(OAuthFlow::Password), false),
        (
            "oauth2_flow = service_account\n",
            Ok(OAuthFlow::ServiceAccount),
            false,
        ),
        ("", Err("oauth2_flow"), false),
        ("oauth2_flow = device\n", Err("permission_url"), false),
        (
            "oauth2_flow = authorization_code\n",
            Err("permission_url"),
            false,
        ),
    ];
    for (extra, expected, warns) in cases {
        let config = ProxyConfig::parse(&account_text(extra)).unwrap();
        let resolved = config.resolve_account("user@example.com");
        match expected {
            Ok(flow) => assert_eq!(resolved.unwrap().flow, *flow, "{extra}"),
            Err(needle) => {
                let message = resolved.unwrap_err().to_string();
                assert!(
                    message.contains(needle) && message.contains("[user@example.com]"),
                    "{extra}: {message}"
                );
            }
        }
        let warned = config.warnings().iter().any(|w| w.key == "oauth2_flow");
        assert_eq!(warned, *warns, "{extra}: {:?}", config.warnings());
    }
    let error = ProxyConfig::parse(&account_text("oauth2_flow = implicit\n")).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ConfigError::InvalidValue { .. }),
        "{message}"
    );
    assert!(
        message.contains("[user@example.com] oauth2_flow (line 5)")
            && message.contains("client_credentials"),
        "{message}"
    );
}

#[test]
fn account_values_and_validation() {
    let config = ProxyConfig::parse(&account_text(
        "permission_url = https://p.example/auth\nuse_pkce = True\nupstream_sasl = OAUTHBEARER\nclient_secret = shh\nredirect_uri = http://localhost:8080\n",
    ))
    .unwrap();
    let account = config.resolve_account("user@example.com").unwrap();
    assert!(account.use_pkce);
    assert_eq!(account.upstream_sasl, UpstreamSasl::OAuthBearer);
    assert_eq!(account.client_secret.as_ref().unwrap().expose(), "shh");
    assert_eq!(
        format!("{account:?}").matches("shh").count(),
        0,
        "Debug redacts the secret"
    );

    let missing = [
        (
            "[user@example.com]\nclient_id = id\noauth2_scope = s\noauth2_flow = password\n",
            "token_url",
        ),
        (
            "[user@example.com]\ntoken_url = https://t\noauth2_scope = s\noauth2_flow = password\n",
            "client_id",
        ),
        (
            "[user@example.com]\ntoken_url = https://t\nclient_id = id\noauth2_flow = password\n",
            "oauth2_scope",
        ),
    ];
    for (text, key) in missing {
        let error = ProxyConfig::parse(text)
            .unwrap()
            .resolve_account("user@example.com")
            .unwrap_err();
        assert!(
            matches!(&error, AccountError::Missing { key: k, .. } if *k == key),
            "{error}"
        );
    }
    // The non-standard password grant may use oauth2_resource instead of a scope.
    let text = "[user@example.com]\ntoken_url = https://t\nclient_id = id\noauth2_flow = password\noauth2_resource = https://r\n";
    assert!(
        ProxyConfig::parse(text)
            .unwrap()
            .resolve_account("user@example.com")
            .is_ok()
    );
    let invalid = [
        ("use_pkce = maybe\n", "use_pkce"),
        ("upstream_sasl = plain\n", "upstream_sasl"),
        (
            "token_url2 = x\npermission_url = ftp://x\n",
            "permission_url",
        ),
    ];
    for (extra, key) in invalid {
        let text = format!("[user@example.com]\n{extra}");
        let message = ProxyConfig::parse(&text).unwrap_err().to_string();
        assert!(message.contains(key), "{message}");
    }
}

#[test]
fn catch_all_resolution() {
    let text = "[emailproxy]\nallow_catch_all_accounts = True\n\
        [@]\ntoken_url = https://any/token\nclient_id = any-id\noauth2_scope = any\noauth2_flow = client_credentials\ntoken_salt = c2FsdA==\n\
        [@example.com]\nclient_id = domain-id\naccess_token = not-for-users\n\
        [alice@example.com]\noauth2_scope = alice-scope\naccess_token = alice-token\naccess_token_expiry = 123\n";
    let config = ProxyConfig::parse(text).unwrap();
    let alice = config.resolve_account("alice@example.com").unwrap();
    assert_eq!(alice.section, "alice@example.com");
    assert_eq!(
        (alice.client_id.as_str(), alice.oauth2_scope.as_deref()),
        ("domain-id", Some("alice-scope"))
    );
    assert_eq!(alice.token_url, "https://any/token");
    let bob = config.resolve_account("bob@example.com").unwrap();
    assert_eq!(
        (bob.section.as_str(), bob.client_id.as_str()),
        ("@example.com", "domain-id")
    );
    let carol = config.resolve_account("carol@other.org").unwrap();
    assert_eq!(
        (carol.section.as_str(), carol.client_id.as_str()),
        ("@", "any-id")
    );

    // Tokens come only from the user's own section; the salt is inherited.
    let cache = config.account_cache("alice@example.com");
    assert_eq!(
        (cache.access_token.as_deref(), cache.access_token_expiry),
        (Some("alice-token"), Some(123))
    );
    assert_eq!(cache.token_salt.as_deref(), Some("c2FsdA=="));
    let cache = config.account_cache("bob@example.com");
    assert_eq!(cache.access_token, None, "catch-all tokens are never used");
    assert_eq!(cache.token_salt.as_deref(), Some("c2FsdA=="));

    // A catch-all login creates the user's own section for its tokens.
    let mut config = config;
    let mut changes = CacheChanges::new();
    changes.set(CacheKey::AccessToken, "bob-token");
    config.apply_cache_changes("bob@example.com", &changes);
    assert_eq!(
        config
            .account_cache("bob@example.com")
            .access_token
            .as_deref(),
        Some("bob-token")
    );
    assert_eq!(
        config.resolve_account("bob@example.com").unwrap().section,
        "bob@example.com"
    );
    assert!(config.accounts().any(|a| a == "bob@example.com"));

    // Without allow_catch_all_accounts only exact sections count.
    let strict = ProxyConfig::parse(&text.replace("True", "False")).unwrap();
    assert!(matches!(
        strict.resolve_account("bob@example.com"),
        Err(AccountError::NotConfigured { .. })
    ));
    assert!(
        strict.resolve_account("alice@example.com").is_err(),
        "alice lacks token_url of her own"
    );
    assert_eq!(
        strict.chain("alice@example.com"),
        vec!["alice@example.com".to_owned()]
    );
}

#[test]
fn default_section_wins_over_catch_all_like_configparser() {
    let text = "[DEFAULT]\nclient_id = from-default\n[emailproxy]\nallow_catch_all_accounts = True\n\
        [@]\nclient_id = from-catch-all\ntoken_url = https://t\noauth2_scope = s\noauth2_flow = password\n\
        [u@x]\n";
    let config = ProxyConfig::parse(text).unwrap();
    assert_eq!(
        config.resolve_account("u@x").unwrap().client_id,
        "from-default"
    );
    assert_eq!(
        config.resolve_account("v@x").unwrap().client_id,
        "from-catch-all"
    );
}

#[test]
fn user_guide_config_loads_with_warnings() {
    let config = ProxyConfig::parse(GUIDE).unwrap();
    assert!(config.global().allow_catch_all_accounts);
    assert_eq!(config.servers().len(), 2);
    let smtp = &config.servers()[1];
    assert_eq!(
        (smtp.local_port, smtp.server_port, smtp.server_starttls),
        (2465, 587, true)
    );

    let account = config.resolve_account("notify@customer.example").unwrap();
    assert_eq!(account.section, "@");
    assert_eq!(
        account.token_url,
        "https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token"
    );
    assert_eq!(
        account.redirect_listen_address.as_deref(),
        Some("http://127.0.0.1:8801/")
    );
    assert!(
        account
            .oauth2_scope
            .as_deref()
            .unwrap()
            .contains("https://outlook.office365.com/SMTP.Send")
    );
    assert!(!account.oauth2_scope.as_deref().unwrap().contains("SMPT"));
    assert_eq!(
        account.flow,
        OAuthFlow::AuthorizationCode,
        "permission_url selects the authorization code flow"
    );

    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(has("redirect_list_address"), "{warnings:#?}");
    assert!(has("SMTP.Send"), "{warnings:#?}");
    assert!(has("Markdown"), "{warnings:#?}");
    assert!(
        has("remove permission_url to use the client credentials grant"),
        "{warnings:#?}"
    );
    assert!(has("starttls"), "{warnings:#?}");
}

#[test]
fn reference_sample_config_loads() {
    let config = ProxyConfig::parse(SAMPLE).unwrap();
    assert_eq!(config.servers().len(), 6);
    assert!(config.servers()[2].server_starttls);
    assert_eq!(config.accounts().count(), 11);
    let flows = [
        (
            "your.office365.or.outlook.address@example.com",
            OAuthFlow::AuthorizationCode,
        ),
        ("your.email@fastmail.com", OAuthFlow::AuthorizationCode),
        ("dag.flow.configured.address@outlook.com", OAuthFlow::Device),
        (
            "ccg.flow.configured.address@your-tenant.com",
            OAuthFlow::ClientCredentials,
        ),
        (
            "ropcg.flow.resource.configured.address@your-tenant.com",
            OAuthFlow::Password,
        ),
        (
            "service.account.accessible.address@your-domain.org",
            OAuthFlow::ServiceAccount,
        ),
    ];
    for (account, flow) in flows {
        assert_eq!(
            config.resolve_account(account).unwrap().flow,
            flow,
            "{account}"
        );
    }
    assert!(
        config
            .resolve_account("your.email@fastmail.com")
            .unwrap()
            .use_pkce
    );
    let key = config
        .resolve_account("service.account.accessible.address@your-domain.org")
        .unwrap();
    assert!(
        key.client_secret
            .unwrap()
            .expose()
            .contains("\nmaking sure to indent")
    );
    assert!(
        config
            .warnings()
            .iter()
            .all(|w| !w.message.contains("unknown option")),
        "{:#?}",
        config.warnings()
    );
    let document = IniDocument::parse(SAMPLE).unwrap();
    assert_eq!(document.to_string(), SAMPLE);
    assert!(
        document
            .get("Account setup", "documentation")
            .unwrap()
            .contains("\n\nOnce the proxy is correctly configured")
    );
}

#[test]
fn cache_store_snapshot_adds_catch_all_users() {
    use mailgate_token::store::CacheSnapshot;
    let mut config = ProxyConfig::parse(GUIDE).unwrap();
    let cache = IniDocument::parse(
        "[new.user@customer.example]\naccess_token = cached\nclient_id = ignored-not-a-cache-key\n",
    )
    .unwrap();
    config.merge_cache_snapshot(&CacheSnapshot::from_document(&cache));
    assert!(config.accounts().any(|a| a == "new.user@customer.example"));
    assert_eq!(
        config
            .account_cache("new.user@customer.example")
            .access_token
            .as_deref(),
        Some("cached")
    );
    assert_eq!(
        config
            .resolve_account("new.user@customer.example")
            .unwrap()
            .client_id,
        "CLIENT_ID"
    );
}

/// An authorization code account with nowhere for the browser to come back to is named at
/// load (as `mailgate register` from the guide's command line writes it); a `redirect_uri` or
/// `redirect_listen_address` in the section or a catch-all section it inherits from silences it.
#[test]
fn an_authorization_code_account_without_a_redirect_is_warned_about() {
    let base = "[emailproxy]\nallow_catch_all_accounts = True\n";
    let account = "permission_url = https://login.example/authorize\ntoken_url = https://login.example/token\nclient_id = c\noauth2_scope = s\n";
    let cases: &[(String, bool)] = &[
        (format!("{base}[@]\n{account}"), true),
        (
            format!("{base}[@]\n{account}redirect_uri = http://localhost:8080/\n"),
            false,
        ),
        (
            format!("{base}[@]\n{account}redirect_listen_address = http://127.0.0.1:8801/\n"),
            false,
        ),
        (
            format!("{base}[@]\n{account}redirect_list_address = http://127.0.0.1:8801/\n"),
            false,
        ),
        (format!("{base}[@]\n{account}oauth2_flow = device\n"), false),
        (
            format!("{base}[@]\nredirect_uri = http://localhost:8080/\n[u@example.com]\n{account}"),
            false,
        ),
        (format!("{base}[u@example.com]\n{account}"), true),
        (
            format!(
                "{base}[u@example.com]\noauth2_flow = client_credentials\ntoken_url = https://login.example/token\nclient_id = c\noauth2_scope = s\n"
            ),
            false,
        ),
    ];
    for (text, warns) in cases {
        let config = ProxyConfig::parse(text).unwrap();
        let warning = config
            .warnings()
            .iter()
            .find(|w| w.key == "redirect_uri")
            .map(ToString::to_string);
        assert_eq!(warning.is_some(), *warns, "{text}: {:?}", config.warnings());
        if let Some(warning) = warning {
            assert!(
                warning.contains("add the address the provider sends the browser back to"),
                "{warning}"
            );
        }
    }
}
