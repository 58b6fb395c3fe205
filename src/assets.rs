//! `mailgate generate-assets DIR` (hidden, for packagers): the man pages and the bash, zsh and
//! fish completions, generated from the command line definitions so they never disagree with
//! `--help`. The Debian package is built from them (`packaging/check`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use crate::cli::Cli;

/// `mailgate generate-assets`.
#[derive(Debug, Args)]
pub(crate) struct GenerateAssetsArgs {
    /// The directory to write into (created when missing): `mailgate.1`, `mailgate-<command>.1`
    /// for each command, `mailgate.bash`, `_mailgate` and `mailgate.fish`.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// The man page's DESCRIPTION.
const DESCRIPTION: &str = "\
mailgate is an email OAuth 2.0 proxy. Programs that can only log in to mail with a username and \
password log in to mailgate with a password over IMAP, POP3 or SMTP; mailgate obtains and \
refreshes the account's OAuth 2.0 token, logs in to the provider over TLS with SASL XOAUTH2 or \
OAUTHBEARER, and then relays the session unchanged.

Without a command, mailgate runs the proxy: one listener per [IMAP-port], [POP-port] and \
[SMTP-port] section of the configuration file, until SIGTERM or SIGINT. The configuration file \
is the one of the Python email-oauth2-proxy (emailproxy.config), tokens included; mailgate \
writes new tokens into it, encrypted with the login password.";

/// EXIT STATUS: the process's exit codes (`sysexits.h` where one fits).
const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "The proxy stopped cleanly after SIGTERM or SIGINT, or the command succeeded.",
    ),
    ("1", "Any other failure."),
    (
        "69",
        "EX_UNAVAILABLE: a listener cannot bind its address (the port is in use, or the \
         address is not one of this host's).",
    ),
    (
        "78",
        "EX_CONFIG: configuration error. The configuration file is missing, unreadable or \
         invalid, or mailgate check found an error. A service manager should not restart \
         mailgate for it (the systemd unit sets RestartPreventExitStatus=78).",
    ),
];

/// SIGNALS: what the running proxy does on each.
const SIGNALS: &[(&str, &str)] = &[
    (
        "SIGTERM, SIGINT",
        "Stop accepting connections, send each session the protocol's goodbye line (* BYE, \
         +OK, 421), write any tokens the disk refused earlier, and exit.",
    ),
    (
        "SIGHUP",
        "Reload the configuration file: only the listeners whose section changed are \
         started, stopped or rebound; live sessions continue with the settings they started \
         with. A configuration that does not load is logged and the running one kept.",
    ),
    ("SIGUSR1", "Toggle debug logging (as --debug)."),
];

/// ENVIRONMENT.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "MAILGATE_CONFIG",
        "The configuration file when --config-file is not given.",
    ),
    (
        "MAILGATE_LOG",
        "What to log when --log-level is not given, in RUST_LOG syntax.",
    ),
    (
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "Certificates to trust for upstream TLS, in addition to the system's.",
    ),
    (
        "https_proxy, http_proxy, no_proxy",
        "The HTTP proxy for requests to the OAuth 2.0 token endpoint.",
    ),
    (
        "NO_COLOR",
        "When set, the log has no colour even on a terminal.",
    ),
];

/// FILES.
const FILES: &[(&str, &str)] = &[
    (
        "/etc/mailgate/emailproxy.config",
        "The configuration file of the Debian package's systemd unit (mailgate.service), \
         owned by the mailgate user, mode 0600. Found without --config-file when no \
         emailproxy.config is in the working directory or the user's configuration directory.",
    ),
    (
        "CONFIG.lock, CONFIG.locks/",
        "Lock files next to the configuration file CONFIG (or the --cache-store file): one \
         for writes, one per account for token refreshes, so that several mailgate processes \
         can share the file.",
    ),
    (
        "CONFIG.authorize.sock",
        "The running proxy's control socket (owner only), used by mailgate authorize.",
    ),
];

/// Writes the man pages and completions into `args.dir`.
pub(crate) fn generate(args: &GenerateAssetsArgs) -> ExitCode {
    match write_all(&args.dir) {
        Ok(files) => {
            for file in files {
                println!("Wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: unable to write to {}: {error}", args.dir.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes every asset; returns the files written.
fn write_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut command = Cli::command()
        .long_about(DESCRIPTION)
        .disable_help_subcommand(true);
    command.build();
    let mut written = Vec::new();

    let main_page = dir.join("mailgate.1");
    fs::write(&main_page, main_page_text(&command)?)?;
    written.push(main_page);
    for subcommand in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = Man::new(subcommand.clone());
        written.push(man.generate_to(dir)?);
    }

    let mut completed = completed_command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut completed,
            "mailgate",
            dir,
        )?);
    }
    Ok(written)
}

/// The command line the completions offer: clap_complete would offer hidden commands too, so
/// they are left out of a copy.
fn completed_command() -> clap::Command {
    let full = Cli::command();
    clap::Command::new("mailgate")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// `mailgate.1`: clap's sections, then EXIT STATUS, SIGNALS, ENVIRONMENT, FILES and SEE ALSO.
fn main_page_text(command: &clap::Command) -> io::Result<String> {
    let man = Man::new(command.clone());
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut part = |render: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| -> io::Result<()> {
        let mut buffer = Vec::new();
        render(&mut buffer)?;
        parts.push(buffer);
        Ok(())
    };
    part(&|w| man.render_title(w))?;
    part(&|w| man.render_name_section(w))?;
    part(&|w| man.render_synopsis_section(w))?;
    part(&|w| man.render_description_section(w))?;
    part(&|w| man.render_options_section(w))?;
    part(&|w| man.render_subcommands_section(w))?;
    part(&|w| extra_sections(command).to_writer(w))?;
    part(&|w| man.render_version_section(w))?;

    // Each part starts with the same preamble (a string definition); keep only the first.
    let preamble = Roff::new().render();
    let mut text = String::new();
    for (index, part) in parts.into_iter().enumerate() {
        let part = String::from_utf8(part).map_err(io::Error::other)?;
        match part.strip_prefix(preamble.as_str()) {
            Some(rest) if index > 0 => text.push_str(rest),
            _ => text.push_str(&part),
        }
    }
    Ok(text)
}

/// The sections clap does not know about.
fn extra_sections(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    definitions(&mut roff, "EXIT STATUS", EXIT_STATUS);
    definitions(&mut roff, "SIGNALS", SIGNALS);
    definitions(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    definitions(&mut roff, "FILES", FILES);

    roff.control("SH", ["SEE ALSO"]);
    let mut references = Vec::new();
    for subcommand in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = subcommand
            .get_display_name()
            .unwrap_or_else(|| subcommand.get_name());
        references.push(bold(name));
        references.push(roman("(1), "));
    }
    references.push(bold("systemd.service"));
    references.push(roman("(5). The configuration file's keys: the sample "));
    references.push(italic("/etc/mailgate/emailproxy.config"));
    references.push(roman(" and the project's README."));
    roff.text(references);
    roff
}

/// A section of tagged paragraphs.
fn definitions(roff: &mut Roff, heading: &str, items: &[(&str, &str)]) {
    roff.control("SH", [heading]);
    for (term, text) in items {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_man_pages_and_completions() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let written = write_all(dir.path()).expect("assets written");
        let names: Vec<String> = written
            .iter()
            .filter_map(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        for expected in [
            "mailgate.1",
            "mailgate-check.1",
            "mailgate-register.1",
            "mailgate.bash",
            "_mailgate",
            "mailgate.fish",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        let page = fs::read_to_string(dir.path().join("mailgate.1")).expect("man page");
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
            ".SH SIGNALS",
            ".SH FILES",
        ] {
            assert!(page.contains(section), "{section} in the man page");
        }
        assert!(
            page.contains("\\-\\-config\\-file"),
            "options in the man page"
        );
        assert!(
            !page.contains("generate\\-assets"),
            "hidden command not documented"
        );
        assert_eq!(page.matches(".el .ds Aq").count(), 1, "one preamble");
        for completion in ["mailgate.bash", "_mailgate", "mailgate.fish"] {
            let text = fs::read_to_string(dir.path().join(completion)).expect("completion");
            assert!(
                text.contains("authorize"),
                "commands completed in {completion}"
            );
            assert!(
                text.contains("config-file"),
                "options completed in {completion}"
            );
            assert!(
                !text.contains("generate-assets"),
                "hidden command in {completion}"
            );
        }
    }
}
