//! `mailgate register`: writes a configuration file for one account.

use std::fmt::Write as _;
use std::path::Path;

use mailgate_token::config::{OAuthFlow, ProxyConfig};

use crate::cli::RegisterArgs;

/// Trims a value and collapses runs of white space inside it (the user guide puts stray
/// spaces inside its quoted values).
fn clean(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds the configuration text for `args`.
pub(crate) fn config_text(args: &RegisterArgs) -> Result<String, String> {
    let mut text = String::from(
        "# Written by `mailgate register`. Reference: README.md, \"Configuration reference\".\n\
         [emailproxy]\n\
         delete_account_token_on_password_error = True\n\
         encrypt_client_secret_on_first_use = False\n",
    );
    let account = clean(&args.account);
    if !account.contains('@') {
        return Err(format!(
            "--account {account:?} is not an account section: use an email address, @domain or @"
        ));
    }
    let catch_all = account.starts_with('@');
    let _ = writeln!(
        text,
        "allow_catch_all_accounts = {}",
        if catch_all { "True" } else { "False" }
    );
    let local_address = clean(&args.local_address);
    let mut servers = 0;
    if let Some(address) = args.imap_server_address.as_deref().map(clean) {
        let _ = write!(
            text,
            "\n[IMAP-{}]\nlocal_address = {local_address}\nserver_address = {address}\nserver_port = {}\n",
            args.imap_local_port, args.imap_server_port
        );
        servers += 1;
    }
    if let Some(address) = args.pop_server_address.as_deref().map(clean) {
        let _ = write!(
            text,
            "\n[POP-{}]\nlocal_address = {local_address}\nserver_address = {address}\nserver_port = {}\n",
            args.pop_local_port, args.pop_server_port
        );
        servers += 1;
    }
    if let Some(address) = args.smtp_server_address.as_deref().map(clean) {
        let _ = write!(
            text,
            "\n[SMTP-{}]\nlocal_address = {local_address}\nserver_address = {address}\nserver_port = {}\nserver_starttls = {}\n",
            args.smtp_local_port,
            args.smtp_server_port,
            if args.smtp_server_starttls {
                "True"
            } else {
                "False"
            }
        );
        servers += 1;
    }
    if servers == 0 {
        return Err(
            "nothing to proxy: give --imap-server-address, --pop-server-address or --smtp-server-address"
                .to_owned(),
        );
    }
    let _ = write!(text, "\n[{account}]\n");
    let mut line = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            let _ = writeln!(text, "{key} = {value}");
        }
    };
    line("token_url", Some(clean(&args.oauth2_token_url)));
    line(
        "permission_url",
        args.oauth2_permission_url.as_deref().map(clean),
    );
    line("oauth2_scope", Some(clean(&args.oauth2_scope)));
    if let Some(flow) = args.oauth2_flow.as_deref().map(clean) {
        if OAuthFlow::parse(&flow).is_none() {
            return Err(format!(
                "--oauth2-flow {flow:?} is unknown: use authorization_code, device, client_credentials, password or service_account"
            ));
        }
        line("oauth2_flow", Some(flow));
    }
    line("redirect_uri", args.redirect_uri.as_deref().map(clean));
    line(
        "redirect_listen_address",
        args.redirect_listen_address.as_deref().map(clean),
    );
    line("client_id", Some(clean(&args.oauth2_client_id)));
    line(
        "client_secret",
        args.oauth2_client_secret.as_deref().map(clean),
    );
    Ok(text)
}

/// Writes the configuration to `path`; refuses to replace a file without `--force`.
pub(crate) fn register(args: &RegisterArgs, path: &Path) -> Result<Vec<String>, String> {
    if path.exists() && !args.force {
        return Err(format!(
            "{} already exists: add --force to overwrite it (its cached tokens would be lost)",
            path.display()
        ));
    }
    let text = config_text(args)?;
    let config = ProxyConfig::parse(&text).map_err(|error| error.to_string())?;
    let warnings = config.warnings().iter().map(ToString::to_string).collect();
    write_private(path, &text)
        .map_err(|error| format!("unable to write {}: {error}", path.display()))?;
    Ok(warnings)
}

/// Writes `text` to `path`, readable by the owner only (the file holds a client secret).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // The mode above applies only when the file is created: narrow a replaced file too, before
    // the secret is written.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn parse(args: &[&str]) -> RegisterArgs {
        let mut all = vec!["mailgate", "register"];
        all.extend_from_slice(args);
        match crate::cli::Cli::parse_from(all).command {
            Some(crate::cli::Command::Register(args)) => *args,
            other => panic!("not register: {other:?}"),
        }
    }

    #[test]
    fn the_user_guide_command_writes_a_clean_config() {
        let args = parse(&[
            "--imap-server-address=outlook.office365.com",
            "--imap-server-port=993",
            "--smtp-server-address=smtp.office365.com",
            "--smtp-server-port=587",
            "--smtp-server-starttls",
            "--oauth2-token-url=https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token ",
            "--oauth2-permission-url=https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/authorize ",
            "--oauth2-scope= https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/SMTP.Send offline_access ",
            "--oauth2-flow=client_credentials",
            "--oauth2-client-id=CLIENT_ID",
            "--oauth2-client-secret=CLIENT_SECRET",
            "--force",
        ]);
        let text = config_text(&args).unwrap();
        assert!(text.contains("\n[IMAP-2993]\n"), "{text}");
        assert!(text.contains("\n[SMTP-2465]\n"), "{text}");
        assert!(text.contains("server_starttls = True\n"));
        assert!(text.contains(
            "token_url = https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token\n"
        ));
        assert!(text.contains("oauth2_scope = https://outlook.office365.com/IMAP.AccessAsUser.All https://outlook.office365.com/SMTP.Send offline_access\n"));
        assert!(text.contains("\n[@]\n"));
        let config = ProxyConfig::parse(&text).unwrap();
        assert_eq!(config.servers().len(), 2);
        assert!(config.global().allow_catch_all_accounts);
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emailproxy.config");
        std::fs::write(&path, "keep me").unwrap();
        let base = [
            "--imap-server-address=imap.example.com",
            "--oauth2-token-url=https://auth.example.com/token",
            "--oauth2-scope=mail",
            "--oauth2-flow=client_credentials",
            "--oauth2-client-id=id",
        ];
        let error = register(&parse(&base), &path).unwrap_err();
        assert!(error.contains("--force"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
        let mut forced = base.to_vec();
        forced.push("--force");
        register(&parse(&forced), &path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("[IMAP-2993]")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_is_made_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emailproxy.config");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        register(
            &parse(&[
                "--imap-server-address=imap.example.com",
                "--oauth2-token-url=https://auth.example.com/token",
                "--oauth2-scope=mail",
                "--oauth2-client-id=id",
                "--oauth2-client-secret=CS-ZQX-register-secret",
                "--force",
            ]),
            &path,
        )
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn rejects_unknown_flows_and_missing_servers() {
        let args = parse(&[
            "--oauth2-token-url=https://auth.example.com/token",
            "--oauth2-scope=mail",
            "--oauth2-client-id=id",
        ]);
        assert!(config_text(&args).unwrap_err().contains("nothing to proxy"));
        let args = parse(&[
            "--imap-server-address=imap.example.com",
            "--oauth2-token-url=https://auth.example.com/token",
            "--oauth2-scope=mail",
            "--oauth2-flow=magic",
            "--oauth2-client-id=id",
        ]);
        assert!(config_text(&args).unwrap_err().contains("unknown"));
    }
}
