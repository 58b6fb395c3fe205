//! Sans-I/O SASL mechanisms: PLAIN and LOGIN for servers, XOAUTH2, OAUTHBEARER, PLAIN
//! and LOGIN for clients.
//!
//! This crate deals in SASL payloads only: it decodes and encodes base64 and runs the
//! exchange as a step machine. It does no I/O and knows nothing of IMAP, POP3 or SMTP;
//! their wrappers add the `+ ` / `334 ` continuation prefixes and CRLF.
//!
//! * [`ServerExchange`] accepts PLAIN (RFC 4616, with authzid) and LOGIN from a
//!   client, with or without an initial response (`=` for an empty one) and with the
//!   `*` cancel, and yields [`Credentials`].
//! * [`ClientExchange`] logs in upstream with XOAUTH2, OAUTHBEARER (RFC 7628), PLAIN or
//!   LOGIN, answers the provider's error challenge correctly (XOAUTH2: an empty line;
//!   OAUTHBEARER: `AQ==`) and surfaces the decoded [`ProviderError`].
//! * [`Secret`] keeps passwords, tokens and payloads out of logs and zeroizes them.
//!
//! ```
//! use mailgate_sasl::{ClientExchange, ClientStep, Mechanism, SecretString, ServerExchange, ServerStep};
//!
//! // A local client logs in to the proxy with AUTH PLAIN and an initial response.
//! let mut server = ServerExchange::new(Mechanism::Plain)?;
//! let ServerStep::Done(creds) = server.start(Some(b"AHVzZXJAZXhhbXBsZS5jb20Ac2VjcmV0"))? else {
//!     unreachable!("PLAIN with an initial response completes at once")
//! };
//! assert_eq!(creds.username, "user@example.com");
//! assert_eq!(format!("{:?}", creds.password), "Secret([redacted])");
//!
//! // The proxy logs in upstream with OAUTHBEARER and the user's access token.
//! let token = SecretString::from("ya29.token");
//! let mut client = ClientExchange::oauthbearer(&creds.username, Some("imap.example.com"), Some(993), token);
//! let ir = client.start(true)?.expect("OAUTHBEARER has an initial response");
//! let line = format!("A1 AUTHENTICATE {} {}", client.mechanism(), ir.expose());
//! assert!(line.starts_with("A1 AUTHENTICATE OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9"));
//!
//! // The server answers with an error challenge: reply AQ== and report why.
//! let ClientStep::ErrorChallenge { response, error } =
//!     client.step(b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=")?
//! else {
//!     unreachable!()
//! };
//! assert_eq!(response, "AQ==");
//! assert_eq!(error.status.as_deref(), Some("invalid_token"));
//! # Ok::<(), mailgate_sasl::SaslError>(())
//! ```
#![forbid(unsafe_code)]

mod client;
mod codec;
mod credentials;
mod error;
mod mechanism;
mod plain;
mod provider_error;
mod secret;
mod server;

pub use client::{
    CANCEL, ClientExchange, ClientStep, OAUTHBEARER_ERROR_RESPONSE, XOAUTH2_ERROR_RESPONSE,
    gs2_escape, oauthbearer_initial_response, xoauth2_initial_response,
};
pub use codec::{
    decode_base64, decode_base64_lenient, decode_initial_response, encode_base64,
    encode_initial_response,
};
pub use credentials::Credentials;
pub use error::SaslError;
pub use mechanism::Mechanism;
pub use plain::{decode_plain, encode_plain};
pub use provider_error::{MAX_RAW_ERROR_LEN, ProviderError};
pub use secret::{REDACTED, Secret, SecretBytes, SecretString, constant_time_eq};
pub use server::{
    Challenge, DEFAULT_MAX_RESPONSE_LEN, LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT,
    ServerExchange, ServerStep,
};
