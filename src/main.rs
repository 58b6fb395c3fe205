//! The `mailgate` binary: an email OAuth 2.0 proxy. A thin command line over `mailgate-proxy`.

mod auth;
mod cli;
mod commands;
mod register;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

/// The configuration file used when `--config-file` is not given.
const DEFAULT_CONFIG_FILE: &str = "emailproxy.config";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_file = cli
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    match &cli.command {
        Some(Command::Register(args)) => match register::register(args, &config_file) {
            Ok(warnings) => {
                for warning in warnings {
                    eprintln!("warning: {warning}");
                }
                println!("Wrote {}", config_file.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Check) => commands::check(&cli, &config_file),
        Some(Command::Accounts) => commands::accounts(&cli, &config_file),
        Some(Command::Authorize(args)) => commands::authorize(&cli, &config_file, args),
        None => serve::serve(&cli, config_file),
    }
}
