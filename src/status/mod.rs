//! What the running proxy shows of itself: the live state of its accounts and listeners
//! ([`board`]), the status listener with `/metrics`, `/healthz` and the status page ([`http`]),
//! and the notification commands ([`events`]). `mailgate status` reads the same report over the
//! control socket.

pub(crate) mod board;
pub(crate) mod events;
pub(crate) mod http;
mod metrics;
mod page;
