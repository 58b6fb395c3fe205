//! Which configuration file mailgate uses, and why.
//!
//! In order: `--config-file`; `$MAILGATE_CONFIG`; `emailproxy.config` in the working directory
//! when it exists (where the Python email-oauth2-proxy looks); then, when they exist,
//! `$XDG_CONFIG_HOME/mailgate/emailproxy.config` (`~/.config/...` without the variable) and
//! `/etc/mailgate/emailproxy.config` (the Debian package's file, used by the systemd unit).
//! When none exists, `emailproxy.config` in the working directory: where `mailgate register`
//! writes a new one, and what an error names.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The file name the Python email-oauth2-proxy uses.
pub(crate) const FILE_NAME: &str = "emailproxy.config";

/// The system-wide configuration file.
pub(crate) const SYSTEM_FILE: &str = "/etc/mailgate/emailproxy.config";

/// Why a configuration file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `--config-file`.
    Option,
    /// `$MAILGATE_CONFIG`.
    Environment,
    /// `emailproxy.config` in the working directory exists.
    WorkingDirectory,
    /// The user's configuration directory has one.
    UserDirectory,
    /// `/etc/mailgate/emailproxy.config` exists.
    System,
    /// None exists: the working directory's, to be created.
    NoneFound,
}

/// The configuration file and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigPath {
    /// The file.
    pub(crate) path: PathBuf,
    /// Why.
    pub(crate) source: Source,
}

impl ConfigPath {
    /// Why this file, in words, for `mailgate check` and the start-up log.
    pub(crate) fn reason(&self) -> String {
        match self.source {
            Source::Option => "given by --config-file".to_owned(),
            Source::Environment => "named by MAILGATE_CONFIG".to_owned(),
            Source::WorkingDirectory => "found in the working directory".to_owned(),
            Source::UserDirectory => "found in the user's configuration directory".to_owned(),
            Source::System => "the system-wide configuration".to_owned(),
            Source::NoneFound => format!(
                "no configuration file found: looked for {FILE_NAME} in the working directory, \
                 $XDG_CONFIG_HOME/mailgate/ (or ~/.config/mailgate/) and /etc/mailgate/, and \
                 MAILGATE_CONFIG and --config-file are not set"
            ),
        }
    }
}

/// Chooses the configuration file. `env` reads an environment variable and `exists` tells
/// whether a file exists (the process's own, or a test's).
pub(crate) fn choose(
    option: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> ConfigPath {
    let found = |path: PathBuf, source| ConfigPath { path, source };
    if let Some(path) = option {
        return found(path.to_owned(), Source::Option);
    }
    if let Some(path) = env("MAILGATE_CONFIG").filter(|value| !value.is_empty()) {
        return found(PathBuf::from(path), Source::Environment);
    }
    let here = PathBuf::from(FILE_NAME);
    if exists(&here) {
        return found(here, Source::WorkingDirectory);
    }
    let user_directory = env("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| {
            env("HOME")
                .filter(|value| !value.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        });
    if let Some(directory) = user_directory {
        let path = directory.join("mailgate").join(FILE_NAME);
        if exists(&path) {
            return found(path, Source::UserDirectory);
        }
    }
    let system = PathBuf::from(SYSTEM_FILE);
    if exists(&system) {
        return found(system, Source::System);
    }
    found(here, Source::NoneFound)
}

/// [`choose`] with the process's environment and file system.
pub(crate) fn discover(option: Option<&Path>) -> ConfigPath {
    choose(option, |name| std::env::var_os(name), Path::is_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    fn existing<'a>(files: &'a [&'a str]) -> impl Fn(&Path) -> bool + 'a {
        move |path| files.iter().any(|file| Path::new(file) == path)
    }

    /// `--config-file`, environment, existing files, the expected path and source.
    type Case<'a> = (
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a str,
        Source,
    );

    #[test]
    fn the_first_that_applies_wins() {
        let home = [("HOME", "/home/ann")];
        let xdg = [("HOME", "/home/ann"), ("XDG_CONFIG_HOME", "/srv/config")];
        let named = [("MAILGATE_CONFIG", "/opt/mg.config"), ("HOME", "/home/ann")];
        let all = [
            "emailproxy.config",
            "/home/ann/.config/mailgate/emailproxy.config",
            "/etc/mailgate/emailproxy.config",
        ];
        let cases: &[Case<'_>] = &[
            (Some("/x.config"), &named, &all, "/x.config", Source::Option),
            (None, &named, &all, "/opt/mg.config", Source::Environment),
            (
                None,
                &home,
                &all,
                "emailproxy.config",
                Source::WorkingDirectory,
            ),
            (
                None,
                &home,
                &all[1..],
                "/home/ann/.config/mailgate/emailproxy.config",
                Source::UserDirectory,
            ),
            (
                None,
                &xdg,
                &["/srv/config/mailgate/emailproxy.config", all[2]],
                "/srv/config/mailgate/emailproxy.config",
                Source::UserDirectory,
            ),
            // XDG_CONFIG_HOME replaces ~/.config, it does not add to it.
            (None, &xdg, &all[1..], SYSTEM_FILE, Source::System),
            (None, &[], &all[2..], SYSTEM_FILE, Source::System),
            (None, &home, &[], "emailproxy.config", Source::NoneFound),
            // An empty MAILGATE_CONFIG is unset.
            (
                None,
                &[("MAILGATE_CONFIG", "")],
                &all[2..],
                SYSTEM_FILE,
                Source::System,
            ),
        ];
        for (option, vars, files, path, source) in cases {
            let chosen = choose(option.map(Path::new), env(vars), existing(files));
            assert_eq!(
                (chosen.path.as_path(), chosen.source),
                (Path::new(path), *source),
                "{option:?} {vars:?} {files:?}"
            );
        }
    }

    #[test]
    fn none_found_says_where_it_looked() {
        let chosen = choose(None, env(&[]), existing(&[]));
        assert!(
            chosen.reason().contains("/etc/mailgate/"),
            "{}",
            chosen.reason()
        );
    }
}
