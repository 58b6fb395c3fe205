//! Sans-I/O SMTP codec, EHLO capability model, DATA/BDAT framing and session machines.
#![forbid(unsafe_code)]

mod bdat;
mod client;
mod command;
mod data;
mod ehlo;
mod error;
mod limits;
mod line;
mod parameters;
mod reply;
mod server;
mod status;

pub use bdat::BdatTracker;
pub use client::{ClientConfig, ClientError, ClientEvent, ClientSession, Stage};
pub use command::{Command, Path, Verb};
pub use data::{BareLineEndings, DataScanner, DataStatus, dot_stuff, dot_unstuff};
pub use ehlo::{Capability, EhloReply};
pub use error::{CommandError, DataError, ReplyError};
pub use limits::{Limits, LineEndings};
pub use line::{Frame, LineFramer};
pub use parameters::{Body, MailParameters, Notify, Orcpt, Parameter, RcptParameters, Ret};
pub use reply::{Reply, ReplyStatus};
pub use server::{ServerConfig, ServerEvent, ServerSession};
pub use status::EnhancedStatus;
