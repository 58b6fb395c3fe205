//! The token store behind the proxy's logins.

use std::path::Path;
use std::sync::Arc;

use mailgate_proxy::SecretString;
use mailgate_proxy::{Authenticator, BoxFuture, LoginRejected, UpstreamCredentials};

use crate::cli::Cli;

/// Refuses every login until the token store is connected.
struct Unavailable;

impl Authenticator for Unavailable {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        _password: &'a SecretString,
    ) -> BoxFuture<'a, Result<UpstreamCredentials, LoginRejected>> {
        Box::pin(async move {
            Err(LoginRejected::new(format!(
                "mailgate: Login failed for account {username}: no token store"
            )))
        })
    }
}

/// Builds the authenticator for the configuration.
pub(crate) async fn authenticator(
    _cli: &Cli,
    _config_file: &Path,
) -> Result<Arc<dyn Authenticator>, String> {
    Ok(Arc::new(Unavailable))
}

/// Reloads the token store's view of the configuration (SIGHUP).
pub(crate) async fn reload(_cli: &Cli, _config_file: &Path) {}
