//! emailproxy.config model, encrypted OAuth 2.0 token store and OAuth 2.0 flows for mail accounts.
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
mod secret;
pub mod store;

pub use secret::{REDACTED, Secret, SecretBytes, SecretString};
pub mod http;
pub mod login;
pub mod oauth;
