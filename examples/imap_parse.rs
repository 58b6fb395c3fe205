//! Reads ONE complete IMAP message from stdin and prints its canonical wire encoding.
//!
//! ```sh
//! printf 'a1 login joe secret\r\n' | cargo run --example imap_parse
//! printf '* 3 exists\r\n' | cargo run --example imap_parse -- --response
//! ```
//!
//! A command is expected by default, a server response with `--response`. The strict
//! grammar applies unless `--lenient` is given (the settings used for upstream servers).
//! If the input is exactly one valid message, its canonical encoding goes to stdout and
//! the exit status is 0; otherwise the reason goes to stderr and the exit status is 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{Read, Write};
use std::process::ExitCode;

use mailgate_imap::{ParserConfig, canonicalize_command, canonicalize_response};

fn main() -> ExitCode {
    let mut response = false;
    let mut config = ParserConfig::strict();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--response" => response = true,
            "--lenient" => config = ParserConfig::lenient(),
            "-h" | "--help" => {
                println!("usage: imap_parse [--response] [--lenient] < message");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("imap_parse: unknown argument {other:?} (try --help)");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("imap_parse: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let result = if response {
        canonicalize_response(&input, &config)
    } else {
        canonicalize_command(&input, &config)
    };
    match result {
        Ok(wire) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&wire).and_then(|()| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let what = if response { "response" } else { "command" };
            eprintln!("imap_parse: invalid {what}: {e}");
            ExitCode::FAILURE
        }
    }
}
