//! The `mailgate` binary: an email OAuth 2.0 proxy. A thin command line over `mailgate-proxy`.

mod assets;
mod auth;
mod cli;
mod commands;
mod config_path;
#[cfg(unix)]
mod control;
mod exit;
mod logging;
mod notify;
mod register;
mod serve;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::config_path::Source;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = config_path::discover(cli.config_file.as_deref());
    match &cli.command {
        Some(Command::Register(args)) => {
            // A new file goes where it was asked for, else into the working directory: never
            // into a file found elsewhere.
            let path = match config.source {
                Source::Option | Source::Environment => config.path.clone(),
                _ => PathBuf::from(config_path::FILE_NAME),
            };
            match register::register(args, &path) {
                Ok(warnings) => {
                    for warning in warnings {
                        eprintln!("warning: {warning}");
                    }
                    println!("Wrote {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Check(args)) => commands::check(&cli, &config, args),
        Some(Command::Accounts) => commands::accounts(&cli, &config.path),
        Some(Command::Authorize(args)) => commands::authorize(&cli, &config.path, args),
        Some(Command::Status(args)) => commands::status(&config.path, args),
        Some(Command::Store(command)) => commands::store(command),
        Some(Command::GenerateAssets(args)) => assets::generate(args),
        None => serve::serve(&cli, config),
    }
}
