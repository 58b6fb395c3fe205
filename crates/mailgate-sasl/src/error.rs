//! The error type of this crate.

use thiserror::Error;

/// Everything that can go wrong in a SASL exchange.
///
/// Variants say whose fault it is: the peer's data was malformed (`Base64`,
/// `MalformedPlain`, `MalformedLogin`, `TooLong`), the peer gave up (`Cancelled`), the
/// peer misbehaved in the exchange (`UnexpectedChallenge`), or the caller misused the
/// API (`ExchangeFinished`, `UnsupportedMechanism`). A server replies to the first
/// group with a protocol error (`-ERR`, `501`, `BAD`), a client answers a misbehaving
/// server with the `*` cancel.
///
/// Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The peer sent text that is not valid base64.
    #[error("malformed base64: {reason}")]
    Base64 {
        /// What was wrong and where (byte offset), without echoing the data.
        reason: String,
    },
    /// The client's PLAIN message (RFC 4616) is malformed.
    #[error("malformed PLAIN response: {reason}")]
    MalformedPlain {
        /// What was wrong.
        reason: &'static str,
    },
    /// A LOGIN username or password is malformed.
    #[error("malformed LOGIN response: {reason}")]
    MalformedLogin {
        /// What was wrong.
        reason: &'static str,
    },
    /// The peer's response exceeds the configured bound.
    #[error("SASL response of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// Length received (of the base64 text).
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The client cancelled the exchange with `*` (RFC 4422 section 3.5).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The server sent a challenge where the mechanism allows none (a client-side
    /// error: answer with the `*` cancel).
    #[error("unexpected server challenge in {mechanism} exchange")]
    UnexpectedChallenge {
        /// The mechanism name.
        mechanism: &'static str,
    },
    /// A step was attempted after the exchange finished (a caller error).
    #[error("the SASL exchange has already finished")]
    ExchangeFinished,
    /// The mechanism is not available on this side (a caller error, or a client
    /// asking for a mechanism the server does not offer).
    #[error("unsupported SASL mechanism {name:?}")]
    UnsupportedMechanism {
        /// The mechanism name as given (truncated to 64 bytes).
        name: String,
    },
}
