//! Logging set-up: human text or JSON, to stderr or a file, with debug switchable at run time.
//!
//! Debug level adds the protocol traffic of the pre-authentication dialogue, rendered from the
//! parsed messages with credentials, tokens and SASL payloads replaced structurally (never by
//! pattern matching on raw bytes). After login only byte counts are logged, never mail content.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, reload};

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
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
pub struct LogOptions {
    /// Text or JSON.
    pub format: LogFormat,
    /// Append to this file instead of writing to standard error.
    pub file: Option<PathBuf>,
    /// Start with debug logging on.
    pub debug: bool,
}

/// Switches debug logging on and off after start-up (SIGUSR1).
#[derive(Debug, Clone)]
pub struct LogHandle {
    filter: reload::Handle<LevelFilter, Registry>,
}

impl LogHandle {
    /// Whether debug logging is on.
    pub fn is_debug(&self) -> bool {
        self.filter
            .with_current(|level| *level >= LevelFilter::DEBUG)
            .unwrap_or(false)
    }

    /// Turns debug logging on or off.
    pub fn set_debug(&self, enabled: bool) {
        let level = if enabled {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        };
        if self.filter.modify(|current| *current = level).is_ok() {
            tracing::info!("Setting debug mode: {enabled}");
        }
    }

    /// Flips debug logging and returns the new state.
    pub fn toggle_debug(&self) -> bool {
        let debug = !self.is_debug();
        self.set_debug(debug);
        debug
    }
}

/// The layer [`init`] installs for a log file, writing `format` lines without colours to
/// `writer`. Tests use it to capture exactly what a log file would receive.
pub fn file_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(false)
                .with_writer(writer),
        ),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_target(false)
                .with_ansi(false)
                .with_writer(writer),
        ),
    }
}

/// Opens the log file for appending; a new one is created readable by its owner only: the log
/// names accounts and holds authorisation URLs, whose `state` must stay private until used.
fn open_log_file(path: &std::path::Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

type Filtered = tracing_subscriber::layer::Layered<reload::Layer<LevelFilter, Registry>, Registry>;

/// Installs the global subscriber. Fails when the log file cannot be opened or a subscriber is
/// already installed.
pub fn init(options: &LogOptions) -> io::Result<LogHandle> {
    let level = if options.debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let (filter, handle) = reload::Layer::new(level);
    let file = match &options.file {
        Some(path) => Some(open_log_file(path)?),
        None => None,
    };
    let output: Box<dyn Layer<Filtered> + Send + Sync> = match (options.format, file) {
        (LogFormat::Text, None) => Box::new(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(io::stderr),
        ),
        (LogFormat::Json, None) => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_target(false)
                .with_writer(io::stderr),
        ),
        (format, Some(file)) => file_layer(format, Mutex::<File>::new(file)),
    };
    Registry::default()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(io::Error::other)?;
    Ok(LogHandle { filter: handle })
}
