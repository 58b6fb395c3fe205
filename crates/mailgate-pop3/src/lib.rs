//! Sans-I/O POP3 codec and client/server session machines (RFC 1939, 2449, 2595, 5034).
#![forbid(unsafe_code)]

mod capa;
mod client;
mod command;
mod error;
mod limits;
mod line;
mod multiline;
mod response;
mod server;

pub use capa::{Capabilities, Capability};
pub use client::{ClientConfig, ClientEvent, ClientFailure, ClientSession};
pub use command::Command;
pub use error::Pop3Error;
pub use limits::Limits;
pub use line::LineBuffer;
pub use multiline::{DotStuffer, MultilineDecoder, Progress, dot_stuff};
pub use response::{ResponseCode, ServerLine, Status, StatusLine};
pub use server::{CloseReason, ServerConfig, ServerEvent, ServerSession};
