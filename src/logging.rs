//! The binary's logging: human text or JSON, to standard error, a file or the systemd journal,
//! filtered by `--log-level` / `MAILGATE_LOG`, with debug switchable at run time (SIGUSR1) and
//! the log file reopened on SIGHUP (for logrotate).
//!
//! Colour escapes are written only to a terminal, and never when `NO_COLOR` is set: standard
//! error on a pipe, journald and files get plain text. Started by systemd with standard error
//! connected to the journal (`JOURNAL_STREAM` names it), events go to journald natively, their
//! fields searchable with `journalctl`: `LISTENER=` (the server section), `CLIENT=` and, once
//! logged in, `ACCOUNT=` on every event of a session.
//!
//! Debug level adds the protocol traffic of the pre-authentication dialogue, rendered from the
//! parsed messages with credentials, tokens and SASL payloads replaced structurally. After login
//! only byte counts are logged, never mail content.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogFormat {
    /// `2026-01-01T12:00:00.000000Z  INFO message` lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: use `text` or `json`"
            )),
        }
    }
}

/// Where and how to log.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogOptions {
    /// Text or JSON.
    pub(crate) format: LogFormat,
    /// Append to this file instead of writing to standard error.
    pub(crate) file: Option<PathBuf>,
    /// Start with debug logging on.
    pub(crate) debug: bool,
    /// A filter in `RUST_LOG` syntax (`--log-level`, else `MAILGATE_LOG`), e.g. `warn` or
    /// `info,mailgate_token=debug`; `info` when absent.
    pub(crate) level: Option<String>,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogError {
    /// `--log-level` / `MAILGATE_LOG` is not a valid filter.
    #[error(
        "invalid log level {filter:?}: {reason} (examples: `warn`, `debug`, `info,mailgate_token=debug`)"
    )]
    Filter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The log file cannot be opened.
    #[error("unable to open the log file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// A global subscriber is already installed.
    #[error("logging is already set up: {0}")]
    Installed(String),
}

/// The running log: debug switch and log file reopening.
#[derive(Debug, Clone)]
pub(crate) struct LogHandle {
    filter: reload::Handle<EnvFilter, Registry>,
    /// The filter without `--debug` / SIGUSR1.
    base: String,
    /// Whether debug mode (`--debug`, SIGUSR1) is on. Kept, not read off the filter: a base
    /// filter such as `info,mailgate_token=debug` already lets debug events through.
    debug: Arc<std::sync::atomic::AtomicBool>,
    file: Option<ReopenableFile>,
}

impl LogHandle {
    /// Whether debug mode is on.
    pub(crate) fn is_debug(&self) -> bool {
        self.debug.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns debug mode on or off (off restores the configured filter).
    pub(crate) fn set_debug(&self, enabled: bool) {
        let directives = if enabled { "debug" } else { self.base.as_str() };
        if let Ok(filter) = EnvFilter::try_new(directives)
            && self.filter.reload(filter).is_ok()
        {
            self.debug
                .store(enabled, std::sync::atomic::Ordering::Relaxed);
            tracing::info!("Setting debug mode: {enabled}");
        }
    }

    /// Flips debug logging and returns the new state.
    pub(crate) fn toggle_debug(&self) -> bool {
        let debug = !self.is_debug();
        self.set_debug(debug);
        debug
    }

    /// Reopens the log file by its name (after logrotate moved it away); a no-op when logging
    /// to standard error or the journal.
    pub(crate) fn reopen(&self) {
        if let Some(file) = &self.file {
            match file.reopen() {
                Ok(()) => tracing::info!("Reopened the log file {}", file.path.display()),
                Err(error) => tracing::error!(
                    "Unable to reopen the log file {} (still writing to the old one): {error}",
                    file.path.display()
                ),
            }
        }
    }
}

/// A log file that can be reopened by name while the subscriber writes to it.
#[derive(Debug, Clone)]
struct ReopenableFile {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl ReopenableFile {
    fn open(path: &Path) -> io::Result<Self> {
        Ok(ReopenableFile {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(open_log_file(path)?)),
        })
    }

    fn reopen(&self) -> io::Result<()> {
        let file = open_log_file(&self.path)?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = file;
        Ok(())
    }
}

/// One event's bytes, written to the file in one call when the event is complete.
struct FileLine {
    file: Arc<Mutex<File>>,
    line: Vec<u8>,
}

impl io::Write for FileLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for FileLine {
    fn drop(&mut self) {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = file.write_all(&self.line);
    }
}

impl<'a> MakeWriter<'a> for ReopenableFile {
    type Writer = FileLine;

    fn make_writer(&'a self) -> Self::Writer {
        FileLine {
            file: Arc::clone(&self.file),
            line: Vec::with_capacity(256),
        }
    }
}

/// Opens the log file for appending; a new one is created readable by its owner only: the log
/// names accounts and holds authorisation URLs, whose `state` must stay private until used.
fn open_log_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

/// Whether colour escapes may be written to standard error: a terminal, and `NO_COLOR` unset
/// or empty (<https://no-color.org>).
fn stderr_wants_colour() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Whether standard error is the systemd journal: `JOURNAL_STREAM` (`device:inode`) names the
/// stream systemd connected, and it is still standard error (not inherited by a child whose
/// standard error was redirected).
#[cfg(unix)]
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd as _;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((device, inode)) = stream.to_str().and_then(|text| text.split_once(':')) else {
        return false;
    };
    let (Ok(device), Ok(inode)) = (device.parse::<u64>(), inode.parse::<u64>()) else {
        return false;
    };
    // `st_dev` and `st_ino` are not 64-bit on every platform.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::fstat(io::stderr().as_fd())
        .is_ok_and(|stat| stat.st_dev as u64 == device && stat.st_ino as u64 == inode)
}

#[cfg(not(unix))]
fn stderr_is_journal() -> bool {
    false
}

type Output = Box<
    dyn Layer<tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>>
        + Send
        + Sync,
>;

/// A text or JSON layer writing to `writer`, with colour only when `ansi`.
///
/// The session span of `mailgate-proxy` ([`mailgate_proxy::SESSION_SPAN_TARGET`]) is left out:
/// each line names its listener and account in words already, and the lines keep the format
/// of the Python email-oauth2-proxy's log that users grep. The journal gets the span's fields.
fn fmt_layer<W>(format: LogFormat, writer: W, ansi: bool) -> Output
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let without_session_span = tracing_subscriber::filter::filter_fn(|metadata| {
        !(metadata.is_span() && metadata.target() == mailgate_proxy::SESSION_SPAN_TARGET)
    });
    match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(ansi)
                .with_writer(writer)
                .with_filter(without_session_span),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_target(false)
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(without_session_span),
        ),
    }
}

/// Installs the global subscriber.
pub(crate) fn init(options: &LogOptions) -> Result<LogHandle, LogError> {
    let base = options
        .level
        .clone()
        .filter(|level| !level.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned());
    let invalid = |reason: String| LogError::Filter {
        filter: base.clone(),
        reason,
    };
    EnvFilter::try_new(&base).map_err(|error| invalid(error.to_string()))?;
    let directives = if options.debug {
        "debug"
    } else {
        base.as_str()
    };
    let filter = EnvFilter::try_new(directives).map_err(|error| invalid(error.to_string()))?;
    let (filter, handle) = reload::Layer::new(filter);
    let file = match &options.file {
        Some(path) => Some(ReopenableFile::open(path).map_err(|source| LogError::File {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let output: Output = match &file {
        Some(file) => fmt_layer(options.format, file.clone(), false),
        None if options.format == LogFormat::Text && stderr_is_journal() => journal_or_stderr(),
        None => fmt_layer(options.format, io::stderr, stderr_wants_colour()),
    };
    Registry::default()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(|error| LogError::Installed(error.to_string()))?;
    Ok(LogHandle {
        filter: handle,
        base,
        debug: Arc::new(std::sync::atomic::AtomicBool::new(options.debug)),
        file,
    })
}

/// The native journald layer, or plain text on standard error (which is the journal too) when
/// the journal's socket cannot be reached.
#[cfg(unix)]
fn journal_or_stderr() -> Output {
    match tracing_journald::layer() {
        // Fields as they are named (ACCOUNT=, LISTENER=, CLIENT=), without the default `F_`.
        Ok(layer) => Box::new(
            layer
                .with_syslog_identifier("mailgate".to_owned())
                .with_field_prefix(None),
        ),
        Err(_) => fmt_layer(LogFormat::Text, io::stderr, false),
    }
}

#[cfg(not(unix))]
fn journal_or_stderr() -> Output {
    fmt_layer(LogFormat::Text, io::stderr, false)
}
