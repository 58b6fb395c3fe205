//! `mailgate check`, `mailgate accounts` and `mailgate authorize`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use mailgate_proxy::settings;
use mailgate_token::config::{IniDocument, ProxyConfig};
use mailgate_token::store::{CacheSnapshot, CacheStoreLocation, copy_accounts};

use crate::cli::{AuthorizeArgs, CheckArgs, Cli, StoreCommand};
use crate::config_path::ConfigPath;
use crate::exit;

/// Loads the configuration (and the cache store, when separate) as the proxy does. A shared
/// store (Redis, AWS) that cannot be read is an error, unless `unreachable` is
/// [`Unreachable::Warn`] (the proxy starts anyway and reads it at each login).
pub(crate) fn load(
    cli: &Cli,
    config_file: &Path,
    unreachable: Unreachable,
) -> Result<(ProxyConfig, IniDocument), String> {
    let text = std::fs::read_to_string(config_file)
        .map_err(|error| format!("unable to read {}: {error}", config_file.display()))?;
    let document =
        IniDocument::parse(&text).map_err(|error| format!("{}: {error}", config_file.display()))?;
    let mut config = ProxyConfig::from_document(&document)
        .map_err(|error| format!("{}: {error}", config_file.display()))?;
    match &cli.cache_store {
        Some(CacheStoreLocation::File(cache)) if cache != config_file => {
            if let Ok(cache_text) = std::fs::read_to_string(cache) {
                let cache_document = IniDocument::parse(&cache_text)
                    .map_err(|error| format!("{}: {error}", cache.display()))?;
                config.merge_cache_snapshot(&CacheSnapshot::from_document(&cache_document));
            }
        }
        Some(location) if location.is_shared() => {
            let storage = location.open().map_err(|error| error.to_string())?;
            match on_own_runtime(async move { storage.load().await }) {
                Ok(snapshot) => config.merge_cache_snapshot(&snapshot),
                Err(error) if unreachable == Unreachable::Warn => tracing::warn!(
                    "Unable to read the token store {}: {error}; starting anyway (each login reads it again)",
                    location.describe()
                ),
                Err(error) => return Err(format!("unable to read the token store: {error}")),
            }
        }
        _ => {}
    }
    Ok((config, document))
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own: callable from
/// synchronous code and from a task of another runtime alike (the caller waits).
fn on_own_runtime<T: Send + 'static>(
    future: impl std::future::Future<Output = Result<T, mailgate_token::store::StoreError>>
    + Send
    + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?
            .block_on(future)
            .map_err(|error| error.to_string())
    })
    .join()
    .map_err(|_| "the token store's thread failed".to_owned())?
}

/// What [`load`] does when a shared token store cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// Fail.
    Fail,
    /// Log a warning and go on.
    Warn,
}

/// `mailgate store copy`: every account's cached tokens from one store to another, exactly as
/// stored.
pub(crate) fn store(command: &StoreCommand) -> ExitCode {
    let StoreCommand::Copy(args) = command;
    let open = |location: &CacheStoreLocation| {
        location.open().map_err(|error| {
            eprintln!("error: {error}");
            exit::config_error()
        })
    };
    let (from, to) = match (open(&args.from), open(&args.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    match on_own_runtime(async move { copy_accounts(from.as_ref(), to.as_ref()).await }) {
        Ok(accounts) => {
            println!(
                "Copied {} account(s) from {} to {}{}{}",
                accounts.len(),
                args.from.describe(),
                args.to.describe(),
                if accounts.is_empty() { "" } else { ": " },
                accounts.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}; nothing more was copied");
            ExitCode::FAILURE
        }
    }
}

/// `mailgate check`: exit 0 when every server section can start, 78 (`EX_CONFIG`) otherwise;
/// with `--connect`, 1 when an upstream server cannot be reached or refuses TLS.
pub(crate) fn check(cli: &Cli, chosen: &ConfigPath, args: &CheckArgs) -> ExitCode {
    let config_file = chosen.path.as_path();
    println!(
        "Configuration: {} ({})",
        config_file.display(),
        chosen.reason()
    );
    let (config, document) = match load(cli, config_file, Unreachable::Fail) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::config_error();
        }
    };
    let mut failed = false;
    let mut unreachable_upstream = false;
    // One runtime for every test connection of `--connect`.
    let probes = if args.connect {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => Some(runtime),
            Err(error) => {
                eprintln!("error: unable to start the runtime for --connect: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    for server in config.servers() {
        match settings::listener_spec(server, &document).and_then(|spec| spec.prepare()) {
            Ok(prepared) => {
                println!("  {}", prepared.spec.describe());
                if let Some(runtime) = &probes {
                    match probe(runtime, &prepared) {
                        Ok(summary) => println!("    upstream: {summary}"),
                        Err(error) => {
                            unreachable_upstream = true;
                            println!("    upstream error: {error}");
                        }
                    }
                }
            }
            Err(error) => {
                failed = true;
                println!("  [{}] error: {error}", server.section);
            }
        }
    }
    if config.servers().is_empty() {
        failed = true;
        println!("  error: no server sections ([IMAP-port], [POP-port] or [SMTP-port])");
    }
    for account in config.accounts() {
        match config.resolve_account(account) {
            Ok(resolved) => println!("  account [{account}]: {} flow", resolved.flow),
            Err(error) if account.starts_with('@') => {
                println!("  catch-all [{account}]: {error}");
            }
            Err(error) => {
                failed = true;
                println!("  account [{account}] error: {error}");
            }
        }
    }
    for warning in config.warnings() {
        println!("  warning: {warning}");
    }
    if failed {
        exit::config_error()
    } else if unreachable_upstream {
        // The configuration is usable; a server could not be reached or refused TLS.
        ExitCode::FAILURE
    } else {
        println!("OK");
        ExitCode::SUCCESS
    }
}

/// How long `mailgate check --connect` waits for each upstream server.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One test connection to the upstream of `listener`: what TLS negotiated, or why it failed
/// (not a configuration error: the server may be down or unreachable from here).
fn probe(
    runtime: &tokio::runtime::Runtime,
    listener: &mailgate_proxy::PreparedListener,
) -> Result<String, String> {
    runtime
        .block_on(mailgate_proxy::probe_upstream(listener, PROBE_TIMEOUT))
        .map(|summary| summary.to_string())
        .map_err(|error| error.to_string())
}

/// Describes a Unix time relative to now.
fn relative(unix: u64, now: u64) -> String {
    let (word, seconds) = if unix >= now {
        ("in", unix - now)
    } else {
        ("expired", now - unix)
    };
    let text = match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    };
    if word == "in" {
        format!("expires in {text}")
    } else {
        format!("expired {text} ago")
    }
}

/// `mailgate accounts`.
pub(crate) fn accounts(cli: &Cli, config_file: &Path) -> ExitCode {
    let (config, _) = match load(cli, config_file, Unreachable::Fail) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for account in config.accounts() {
        let flow = match config.resolve_account(account) {
            Ok(resolved) => resolved.flow.to_string(),
            Err(_) if account.starts_with('@') => "catch-all".to_owned(),
            Err(error) => format!("incomplete ({error})"),
        };
        let cache = config.account_cache(account);
        let access = match (&cache.access_token, cache.access_token_expiry) {
            (Some(_), Some(expiry)) => format!("access token {}", relative(expiry, now)),
            (Some(_), None) => "access token (no expiry)".to_owned(),
            (None, _) => "no access token".to_owned(),
        };
        let refresh = if cache.refresh_token.is_some() {
            "refresh token stored"
        } else {
            "no refresh token"
        };
        println!("{account}\t{flow}\t{access}\t{refresh}");
    }
    ExitCode::SUCCESS
}

/// `mailgate authorize`: shows the URL a running proxy waits on for `account` and sends it
/// the redirect URL the browser ended on.
#[cfg(unix)]
pub(crate) fn authorize(_cli: &Cli, config_file: &Path, args: &AuthorizeArgs) -> ExitCode {
    use crate::control;
    let path = control::socket_path(config_file);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let pending = match control::request(&path, "LIST").await {
            Ok(lines) => lines,
            Err(error) => {
                eprintln!(
                    "error: no running mailgate for {} (control socket {}: {error})",
                    config_file.display(),
                    path.display()
                );
                return ExitCode::FAILURE;
            }
        };
        let prefix = format!("PENDING {} ", args.account);
        let Some(url) = pending
            .iter()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
        else {
            eprintln!(
                "error: no authorisation of account {} is pending",
                args.account
            );
            return ExitCode::FAILURE;
        };
        let redirect = match &args.url {
            Some(url) => url.clone(),
            None => {
                println!(
                    "Visit the following URL to authenticate account {}:\n{url}\n",
                    args.account
                );
                println!("Then paste the full URL your browser was redirected to and press Enter:");
                let mut line = String::new();
                if std::io::stdin().read_line(&mut line).is_err() || line.trim().is_empty() {
                    eprintln!("error: no URL given");
                    return ExitCode::FAILURE;
                }
                line.trim().to_owned()
            }
        };
        match control::request(&path, &format!("COMPLETE {} {redirect}", args.account)).await {
            Ok(reply) if reply.first().is_some_and(|l| l.starts_with("OK")) => {
                println!(
                    "Sent the authorisation of account {} to mailgate",
                    args.account
                );
                ExitCode::SUCCESS
            }
            Ok(reply) => {
                eprintln!("error: {}", reply.join(" "));
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `mailgate authorize` needs the control socket, which exists on Unix only.
#[cfg(not(unix))]
pub(crate) fn authorize(_cli: &Cli, _config_file: &Path, _args: &AuthorizeArgs) -> ExitCode {
    eprintln!("error: `mailgate authorize` is available on Unix only");
    ExitCode::FAILURE
}

/// `mailgate status`: asks the running proxy for its report over the control socket. Exit
/// status 0 when all is well, 1 when an account needs attention, 2 when the proxy cannot be
/// reached.
#[cfg(unix)]
pub(crate) fn status(config_file: &Path, args: &crate::cli::StatusArgs) -> ExitCode {
    use crate::control;
    let path = control::socket_path(config_file);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let reply = runtime.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            control::request(&path, "STATUS"),
        )
        .await
    });
    let line = match reply {
        Ok(Ok(lines)) => lines.into_iter().next().unwrap_or_default(),
        Ok(Err(error)) => {
            eprintln!(
                "error: no running mailgate for {} (control socket {}: {error})",
                config_file.display(),
                path.display()
            );
            return ExitCode::from(2);
        }
        Err(_) => {
            eprintln!("error: the running mailgate did not answer within 10 s");
            return ExitCode::from(2);
        }
    };
    let report: serde_json::Value = match serde_json::from_str(&line) {
        Ok(report) => report,
        Err(_) => {
            eprintln!("error: the running mailgate answered {line:?}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!("{line}");
    } else {
        print!("{}", describe_status(&report));
    }
    if report.get("state").and_then(|s| s.as_str()) == Some("ok") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(not(unix))]
pub(crate) fn status(_config_file: &Path, _args: &crate::cli::StatusArgs) -> ExitCode {
    eprintln!("error: `mailgate status` is available on Unix only");
    ExitCode::from(2)
}

/// The report of `mailgate status` for people.
fn describe_status(report: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let text = |value: &serde_json::Value, key: &str| {
        value
            .get(key)
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = String::new();
    let problems: Vec<String> = report
        .get("problems")
        .and_then(|p| p.as_array())
        .map(|p| {
            p.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if problems.is_empty() {
        out.push_str("mailgate: all accounts are well\n");
    } else {
        out.push_str("mailgate: needs attention\n");
        for problem in &problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    out.push_str("\nListeners:\n");
    for listener in report
        .get("listeners")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "  {:<12} {:<22} -> {:<28} tls={:<8} open={} sessions={} logins={} failed={}",
            text(listener, "section"),
            text(listener, "address"),
            text(listener, "server"),
            text(listener, "tls"),
            text(listener, "open_sessions"),
            text(listener, "sessions"),
            text(listener, "logins"),
            text(listener, "failed_logins")
        );
    }
    out.push_str("\nAccounts:\n");
    let accounts: Vec<&serde_json::Value> = report
        .get("accounts")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .collect();
    if accounts.is_empty() {
        out.push_str("  (none has logged in since the proxy started)\n");
    }
    for account in accounts {
        let expiry = account
            .get("access_token_expires_at")
            .and_then(|e| e.as_u64())
            .map(|at| {
                if at > now {
                    format!("token expires in {} min", (at - now) / 60)
                } else {
                    "token expired".to_owned()
                }
            })
            .unwrap_or_else(|| "no token yet".to_owned());
        let _ = writeln!(
            out,
            "  {:<32} {:<20} {:<20} {} logins, {} failures, {expiry}",
            text(account, "account"),
            text(account, "state"),
            text(account, "flow"),
            text(account, "logins"),
            text(account, "failures"),
        );
        if let Some(url) = account.get("authorisation_url").and_then(|u| u.as_str()) {
            let _ = writeln!(out, "      sign in: {url}");
        }
        if let Some(error) = account.get("last_error").and_then(|e| e.as_str()) {
            let _ = writeln!(out, "      last error: {error}");
        }
    }
    out
}
