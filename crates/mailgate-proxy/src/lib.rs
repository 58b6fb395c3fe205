//! Email OAuth 2.0 proxy library: password IMAP/POP3/SMTP logins in, XOAUTH2/OAUTHBEARER
//! upstream.
//!
//! A [`Proxy`] runs one listener per [`ListenerSpec`] (one `[IMAP-port]`, `[POP-port]` or
//! `[SMTP-port]` section of `emailproxy.config`). Each client connection is parsed with the
//! protocol codecs until it logs in with a password; the [`Authenticator`] turns the password
//! login into an OAuth 2.0 access token; the proxy logs in upstream with XOAUTH2 or OAUTHBEARER
//! over verified TLS and then relays the session byte for byte with bounded buffers.
//!
//! ```
//! use mailgate_proxy::{ListenerSpec, Protocol};
//!
//! let spec = ListenerSpec::new(Protocol::Imap, 1993, "outlook.office365.com", 993);
//! assert_eq!(spec.bind_address(), "127.0.0.1:1993");
//! assert_eq!(
//!     spec.describe(),
//!     "IMAP server at 127.0.0.1:1993 (unsecured) proxying outlook.office365.com:993 (SSL/TLS)"
//! );
//! assert_eq!(Protocol::Imap.goodbye(), b"* BYE Server shutting down\r\n");
//! ```
#![forbid(unsafe_code)]

mod accept;
pub use accept::AcceptBackoff;
pub mod authorization;
mod bufpool;
mod certificate;
mod error;
mod limits;
mod listener_spec;
mod login;
pub mod manual;
mod probe;
mod relay;
mod session;
pub mod settings;
mod shutdown;
mod stats;
mod stream;
mod supervisor;
pub mod tls;
mod token_auth;

pub use error::{ConfigError, ListenError};
pub use limits::{
    AttemptPermit, ConnectionGate, ConnectionLimits, ConnectionPermit,
    DEFAULT_MAX_CONNECTION_ATTEMPTS, DEFAULT_PRE_AUTH_TIMEOUT, DEFAULT_SERVER_CONNECT_TIMEOUT,
    DEFAULT_SERVER_GREETING_TIMEOUT, DEFAULT_SERVER_TLS_TIMEOUT, LimitExceeded, UpstreamTimeouts,
};
pub use listener_spec::{
    DEFAULT_LOCAL_ADDRESS, ListenerSpec, LocalTls, PreparedListener, Protocol, join_host_port,
};
pub use login::{Authenticator, BoxFuture, LoginRejected, UpstreamCredentials, UpstreamMechanism};
/// The redacting secret types of this crate's API (from `mailgate-sasl`).
pub use mailgate_sasl::{Secret, SecretString};
pub use probe::{ProbeError, probe_upstream};
pub use relay::{DEFAULT_BUFFER_SIZE, RelayConfig, RelayEnd, RelayMeter, relay};
pub use shutdown::{Shutdown, ShutdownTrigger};
pub use stats::{ListenerSnapshot, LocalTlsMode, ProxyStats};
pub use stream::{ProxyStream, ReadAhead, TlsSummary, UpgradeError};
pub use supervisor::{Proxy, SESSION_SPAN_TARGET, SessionCount};
pub use token_auth::TokenAuthenticator;
