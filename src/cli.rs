//! The command line: the options of the Python email-oauth2-proxy, plus subcommands.

use std::path::PathBuf;

use crate::logging::LogFormat;
use clap::{Args, Parser, Subcommand};
use mailgate_token::store::CacheStoreLocation;

/// mailgate: an email OAuth 2.0 proxy. Password IMAP/POP3/SMTP logins from local clients in;
/// XOAUTH2/OAUTHBEARER logins upstream. Reads and writes the configuration file of the Python
/// email-oauth2-proxy.
#[derive(Debug, Parser)]
#[command(name = "mailgate", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The configuration file. Default: `$MAILGATE_CONFIG`, else `emailproxy.config` in the
    /// current directory if it exists, else `$XDG_CONFIG_HOME/mailgate/emailproxy.config`
    /// (`~/.config/mailgate/...`), else `/etc/mailgate/emailproxy.config`; `mailgate check`
    /// names the file it chose and why.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config_file: Option<PathBuf>,

    /// Where to cache tokens instead of the configuration file: a file, a Redis store shared by
    /// several instances (`redis://[user:password@]host:port/db`, `rediss://` for TLS), or a
    /// secret in AWS Secrets Manager (`aws:<secret name or ARN>`, `aws:<profile>||<name>`).
    #[arg(long, global = true, value_name = "STORE", value_parser = parse_cache_store)]
    pub(crate) cache_store: Option<CacheStoreLocation>,

    /// Append the log to this file instead of standard error.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) log_file: Option<PathBuf>,

    /// Log format.
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text", value_parser = parse_log_format)]
    pub(crate) log_format: LogFormat,

    /// Log the protocol dialogue before login (credentials, tokens and mail are never logged).
    /// SIGUSR1 toggles this while running.
    #[arg(long, global = true)]
    pub(crate) debug: bool,

    /// What to log, in `RUST_LOG` syntax: `error`, `warn`, `info` (the default), `debug`, or
    /// per crate, e.g. `info,mailgate_token=debug`. Default: `$MAILGATE_LOG`, else `info`.
    #[arg(long, global = true, value_name = "FILTER")]
    pub(crate) log_level: Option<String>,

    /// Accepted for compatibility with the Python email-oauth2-proxy; mailgate never has a GUI.
    #[arg(long, global = true)]
    pub(crate) no_gui: bool,

    /// Complete interactive authorisations from another shell with `mailgate authorize`.
    #[arg(long)]
    pub(crate) external_auth: bool,

    /// Receive interactive authorisation redirects on a local HTTP listener.
    #[arg(long)]
    pub(crate) local_server_auth: bool,

    /// What to do (default: run the proxy).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    value.parse()
}

fn parse_cache_store(value: &str) -> Result<CacheStoreLocation, String> {
    if value.is_empty() {
        return Err("an empty store".to_owned());
    }
    Ok(CacheStoreLocation::parse(value))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a configuration file for one account (refuses to overwrite without --force).
    Register(Box<RegisterArgs>),
    /// Validate the configuration: print what will run and every warning.
    Check(CheckArgs),
    /// List the accounts: flow, token state and expiry (never a secret).
    Accounts,
    /// Complete a pending interactive authorisation of a running proxy (--external-auth).
    Authorize(AuthorizeArgs),
    /// Show the running proxy's live state: listeners and accounts. Exit status 0 when all is
    /// well, 1 when an account needs authorising or its refresh is failing, 2 when the proxy
    /// cannot be reached.
    Status(StatusArgs),
    /// Manage token stores: `mailgate store copy --from STORE --to STORE`.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write the man pages and shell completions into a directory (for packagers).
    #[command(hide = true)]
    GenerateAssets(crate::assets::GenerateAssetsArgs),
}

/// `mailgate store`.
#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Copy every account's cached tokens from one store to another (a file, `redis://...`,
    /// `aws:...`), exactly as stored: nothing is decrypted. Accounts only the target has are
    /// kept.
    Copy(StoreCopyArgs),
}

/// `mailgate store copy`.
#[derive(Debug, Args)]
pub(crate) struct StoreCopyArgs {
    /// The store to read.
    #[arg(long, value_name = "STORE", value_parser = parse_cache_store)]
    pub(crate) from: CacheStoreLocation,
    /// The store to write.
    #[arg(long, value_name = "STORE", value_parser = parse_cache_store)]
    pub(crate) to: CacheStoreLocation,
}

/// `mailgate check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Also connect to each upstream server (STARTTLS where configured, the verified TLS
    /// handshake, no login) and show the TLS version, cipher suite and key exchange negotiated.
    #[arg(long)]
    pub(crate) connect: bool,
}

/// `mailgate register`.
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// Upstream IMAP server host.
    #[arg(long)]
    pub(crate) imap_server_address: Option<String>,
    /// Upstream IMAP server port (implicit TLS).
    #[arg(long, default_value_t = 993)]
    pub(crate) imap_server_port: u16,
    /// Local IMAP port.
    #[arg(long, default_value_t = 2993)]
    pub(crate) imap_local_port: u16,
    /// Upstream POP3 server host.
    #[arg(long)]
    pub(crate) pop_server_address: Option<String>,
    /// Upstream POP3 server port (implicit TLS).
    #[arg(long, default_value_t = 995)]
    pub(crate) pop_server_port: u16,
    /// Local POP3 port.
    #[arg(long, default_value_t = 2995)]
    pub(crate) pop_local_port: u16,
    /// Upstream SMTP server host.
    #[arg(long)]
    pub(crate) smtp_server_address: Option<String>,
    /// Upstream SMTP server port.
    #[arg(long, default_value_t = 587)]
    pub(crate) smtp_server_port: u16,
    /// Use STARTTLS towards the SMTP server (port 587) instead of implicit TLS (465).
    #[arg(long)]
    pub(crate) smtp_server_starttls: bool,
    /// Local SMTP port.
    #[arg(long, default_value_t = 2465)]
    pub(crate) smtp_local_port: u16,
    /// Local address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) local_address: String,
    /// The account section: an email address, `@domain` or `@` (all accounts).
    #[arg(long, default_value = "@")]
    pub(crate) account: String,
    /// The provider's token endpoint.
    #[arg(long)]
    pub(crate) oauth2_token_url: String,
    /// The provider's authorization endpoint (selects the authorization code flow).
    #[arg(long)]
    pub(crate) oauth2_permission_url: Option<String>,
    /// Scopes, separated by spaces.
    #[arg(long)]
    pub(crate) oauth2_scope: String,
    /// `authorization_code`, `device`, `client_credentials`, `password` or `service_account`.
    #[arg(long)]
    pub(crate) oauth2_flow: Option<String>,
    /// The OAuth 2.0 client ID.
    #[arg(long)]
    pub(crate) oauth2_client_id: String,
    /// The OAuth 2.0 client secret.
    #[arg(long)]
    pub(crate) oauth2_client_secret: Option<String>,
    /// `redirect_uri` of the authorization code flow.
    #[arg(long)]
    pub(crate) redirect_uri: Option<String>,
    /// `redirect_listen_address`: where the local redirect listener binds.
    #[arg(long)]
    pub(crate) redirect_listen_address: Option<String>,
    /// Overwrite an existing configuration file.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `mailgate authorize`.
#[derive(Debug, Args)]
pub(crate) struct AuthorizeArgs {
    /// The account waiting for authorisation.
    pub(crate) account: String,
    /// The URL the browser was redirected to after approving (asked for on standard input
    /// when omitted).
    #[arg(long)]
    pub(crate) url: Option<String>,
}

/// Options of `mailgate status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}
