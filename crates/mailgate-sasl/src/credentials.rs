//! What a server-side exchange yields.

use crate::SecretString;

/// The identity and password a client presented through PLAIN or LOGIN.
///
/// `Debug` shows the names but redacts the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authorization identity (PLAIN only): the identity to act as, if the
    /// client asked for one different from `username`. `None` when absent or empty.
    pub authzid: Option<String>,
    /// The authentication identity (the login name).
    pub username: String,
    /// The password.
    pub password: SecretString,
}
