//! TLS for the whole workspace: the one rustls crypto provider every connection mailgate makes
//! or accepts uses ([`crypto_provider`]), the client configuration of token requests
//! ([`client_config`]: platform roots, an optional extra CA file), and the verifier that
//! accepts a certificate the user trusted by name even when it is marked as a CA
//! ([`PinningVerifier`]). `mailgate-proxy` uses the provider and the verifier for its own
//! upstream and listener connections.

mod config;
mod pinning;

pub use config::{TlsConfigError, client_config, crypto_provider};
pub use pinning::{PinningVerifier, is_ca_used_as_end_entity, user_named_certificates};
