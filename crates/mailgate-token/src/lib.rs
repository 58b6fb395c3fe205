//! emailproxy.config model, encrypted OAuth 2.0 token store and OAuth 2.0 flows for mail accounts.
#![forbid(unsafe_code)]
pub mod http;
