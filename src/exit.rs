//! Exit status by cause (`sysexits.h`), so a service manager and a script can tell a broken
//! configuration from a crash: 0 after a clean stop, 78 for a configuration error, 69 when a
//! listener cannot bind its address, 1 for anything else.

use std::process::ExitCode;

/// `EX_CONFIG`: the configuration is missing or unusable.
pub(crate) const CONFIG_ERROR: u8 = 78;

/// `EX_UNAVAILABLE`: a listener cannot bind its address (in use, not on this host).
pub(crate) const UNAVAILABLE: u8 = 69;

/// Exit with [`CONFIG_ERROR`].
pub(crate) fn config_error() -> ExitCode {
    ExitCode::from(CONFIG_ERROR)
}

/// Exit with [`UNAVAILABLE`].
pub(crate) fn unavailable() -> ExitCode {
    ExitCode::from(UNAVAILABLE)
}
