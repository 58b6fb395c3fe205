//! Running the proxy: logging, listeners, signals, and the conventions of a Unix daemon (exit
//! status by cause, systemd readiness and watchdog notifications).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mailgate_proxy::{Authenticator, ListenError, ListenerSpec, Proxy, settings};

use mailgate_token::config::ProxyConfig;

use crate::auth::TokenRuntime;
use crate::cli::Cli;
use crate::commands;
use crate::config_path::ConfigPath;
use crate::exit;
use crate::logging::{self, LogHandle, LogOptions};
use crate::notify;
use crate::status;
use crate::status::events::NotifySettings;
use crate::status::http::StatusSettings;

/// How long sessions get to say goodbye at shutdown.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Runs the proxy until SIGTERM or SIGINT.
pub(crate) fn serve(cli: &Cli, config: ConfigPath) -> ExitCode {
    let log = match logging::init(&LogOptions {
        format: cli.log_format,
        file: cli.log_file.clone(),
        debug: cli.debug,
        level: cli
            .log_level
            .clone()
            .or_else(|| std::env::var("MAILGATE_LOG").ok()),
    }) {
        Ok(log) => log,
        Err(error @ logging::LogError::Filter { .. }) => {
            eprintln!("error: {error}");
            return exit::config_error();
        }
        Err(error) => {
            eprintln!("error: unable to start logging: {error}");
            return ExitCode::FAILURE;
        }
    };
    raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("Unable to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, config, log))
}

/// Most the soft limit on open files is raised to.
#[cfg(unix)]
const OPEN_FILES_CEILING: u64 = 1 << 20;

/// Raises the soft limit on open files to the hard limit (at most [`OPEN_FILES_CEILING`]),
/// as Go programs and most servers do: a session holds two descriptors, so the usual soft
/// limit of 1024 would leave the proxy unable to accept connections at about 500 sessions.
/// The hard limit, which only an administrator can raise, is left as it is.
#[cfg(unix)]
fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit
        .maximum
        .map_or(OPEN_FILES_CEILING, |hard| hard.min(OPEN_FILES_CEILING));
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        tracing::debug!("Open files limit: {current}");
        return;
    }
    let raised = Rlimit {
        current: Some(wanted),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::debug!("Raised the open files limit from {current} to {wanted}"),
        Err(error) => {
            tracing::warn!(
                "Unable to raise the open files limit from {current} to {wanted}: {error}"
            )
        }
    }
}

#[cfg(not(unix))]
fn raise_open_files_limit() {}

/// What a configuration file asks the running proxy for.
struct Loaded {
    config: ProxyConfig,
    specs: Vec<ListenerSpec>,
    status: Option<StatusSettings>,
    notify: NotifySettings,
}

/// Loads the configuration and the listener specs, logging every warning.
fn load_specs(cli: &Cli, config_file: &std::path::Path) -> Result<Loaded, String> {
    let (config, document) = commands::load(cli, config_file, commands::Unreachable::Warn)?;
    for warning in config.warnings() {
        tracing::warn!("Warning: {warning}");
    }
    let specs = settings::listener_specs(&config, &document).map_err(|error| error.to_string())?;
    if specs.is_empty() {
        return Err(format!(
            "No server configuration(s) found in {} - exiting",
            config_file.display()
        ));
    }
    Ok(Loaded {
        config,
        specs,
        status: StatusSettings::from_document(&document)?,
        notify: NotifySettings::from_document(&document)?,
    })
}

async fn run(cli: &Cli, config: ConfigPath, log: LogHandle) -> ExitCode {
    let handlers = match Signals::install() {
        Ok(handlers) => handlers,
        Err(error) => {
            tracing::error!("Unable to handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config_file = config.path.clone();
    tracing::info!(
        "Initialising mailgate (version {}){} from config file {} ({})",
        env!("CARGO_PKG_VERSION"),
        if log.is_debug() { " in debug mode" } else { "" },
        config_file.display(),
        config.reason()
    );
    let Loaded {
        config: proxy_config,
        specs,
        status: status_settings,
        notify: notify_settings,
    } = match load_specs(cli, &config_file) {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::error!("Unable to load configuration file: {error}");
            notify::failed(&error);
            return exit::config_error();
        }
    };
    let tokens = match TokenRuntime::start(cli, &config_file, proxy_config, notify_settings) {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::error!("{error}");
            notify::failed(&error);
            return exit::config_error();
        }
    };
    let authenticator: Arc<dyn Authenticator> = tokens.session_authenticator();
    let mut proxy = Proxy::new(authenticator);
    tokens.board.set_proxy(proxy.stats());
    let errors = proxy.apply(specs).await;
    if !errors.is_empty() {
        for error in &errors {
            tracing::error!("Error: {error}");
        }
        tracing::error!(
            "Abandoning setup as one or more servers failed to start - is the proxy already running?"
        );
        notify::failed(
            &errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        );
        proxy.shutdown(Duration::ZERO).await;
        // A section that cannot be used is a configuration error; an address that cannot be
        // bound (in use, not on this host) is a service that is unavailable.
        return if errors
            .iter()
            .all(|error| matches!(error, ListenError::Bind { .. }))
        {
            exit::unavailable()
        } else {
            exit::config_error()
        };
    }
    let status_listener = match &status_settings {
        Some(settings) => match status::http::start(settings, tokens.board.clone()).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                let text = format!(
                    "Unable to start the status listener on {} ([emailproxy] status_address): \
                     {error}",
                    settings.address
                );
                tracing::error!("{text}");
                notify::failed(&text);
                proxy.shutdown(Duration::ZERO).await;
                return exit::unavailable();
            }
        },
        None => None,
    };
    tracing::info!(
        "Initialised mailgate - listening for authentication requests. Connect your email client to begin"
    );
    let notifier = notify::Notifier::start(&proxy);
    let mut page = StatusPage {
        settings: status_settings,
        listener: status_listener,
    };
    let status = match signals(
        handlers,
        cli,
        &config_file,
        &log,
        &mut proxy,
        &tokens,
        &mut page,
        &notifier,
    )
    .await
    {
        Ok(()) => {
            tracing::info!("Stopping mailgate");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("Unable to handle signals: {error}");
            ExitCode::FAILURE
        }
    };
    notifier.stopping();
    proxy.shutdown(DRAIN_GRACE).await;
    tokens.save_unsaved().await;
    status
}

/// The signal handlers, installed before anything is announced (READY=1, a listener bound):
/// a SIGHUP from `systemctl reload` right after READY=1 would otherwise end the process.
#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    user1: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
            user1: signal(SignalKind::user_defined1())?,
        })
    }
}

/// Ctrl-C is handled by [`signals`] itself.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals)
    }
}

/// The status listener as the configuration last asked for it.
struct StatusPage {
    settings: Option<StatusSettings>,
    listener: Option<status::http::StatusListener>,
}

impl StatusPage {
    /// Follows a reloaded `status_address`/`status_token`: a listener whose settings changed is
    /// stopped and, unless the listener was turned off, started again with the new ones.
    async fn reload(&mut self, settings: Option<StatusSettings>, tokens: &TokenRuntime) {
        if settings == self.settings {
            return;
        }
        if let Some(listener) = self.listener.take() {
            listener.stop().await;
        }
        self.settings = None;
        let Some(settings) = settings else {
            tracing::info!("The status listener is off ([emailproxy] status_address is not set)");
            return;
        };
        match status::http::start(&settings, tokens.board.clone()).await {
            Ok(listener) => {
                self.listener = Some(listener);
                self.settings = Some(settings);
            }
            Err(error) => tracing::error!(
                "Unable to start the status listener on {} ([emailproxy] status_address): \
                 {error} - it stays off until the next reload",
                settings.address
            ),
        }
    }
}

/// Serves signals until SIGTERM or SIGINT: SIGHUP reopens the log file and reloads the
/// configuration (listeners, accounts, notification commands and the status listener),
/// SIGUSR1 toggles debug logging.
#[cfg(unix)]
#[allow(clippy::too_many_arguments)]
async fn signals(
    handlers: Signals,
    cli: &Cli,
    config_file: &std::path::Path,
    log: &LogHandle,
    proxy: &mut Proxy,
    tokens: &TokenRuntime,
    page: &mut StatusPage,
    notifier: &notify::Notifier,
) -> std::io::Result<()> {
    let Signals {
        mut terminate,
        mut interrupt,
        mut hangup,
        mut user1,
    } = handlers;
    loop {
        tokio::select! {
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
            _ = user1.recv() => {
                log.toggle_debug();
            }
            _ = hangup.recv() => {
                notifier.reloading();
                log.reopen();
                tracing::info!("Reloading configuration from {}", config_file.display());
                match load_specs(cli, config_file) {
                    Ok(Loaded { config, specs, status, notify }) => {
                        tokens.reload(config, notify);
                        for error in proxy.apply(specs).await {
                            tracing::error!("Error: {error}");
                        }
                        page.reload(status, tokens).await;
                    }
                    Err(error) => tracing::error!(
                        "Unable to reload the configuration (keeping the running one): {error}"
                    ),
                }
                notifier.ready(proxy);
            }
        }
    }
}

/// Serves Ctrl-C until it arrives.
#[cfg(not(unix))]
#[allow(clippy::too_many_arguments)]
async fn signals(
    _handlers: Signals,
    _cli: &Cli,
    _config_file: &std::path::Path,
    _log: &LogHandle,
    _proxy: &mut Proxy,
    _tokens: &TokenRuntime,
    _page: &mut StatusPage,
    _notifier: &notify::Notifier,
) -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
