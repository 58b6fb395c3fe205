//! Sans-I/O IMAP4rev1/IMAP4rev2 framer, command and response codec with strict and lenient modes.
//!
//! ```
//! use mailgate_imap::{Encode, ParserConfig, Tag};
//!
//! let tag = Tag::try_from("a001").unwrap();
//! assert_eq!(tag.to_vec(), b"a001");
//! assert!(Tag::try_from("a+b").is_err());
//! let _ = ParserConfig::strict();
//! ```
#![forbid(unsafe_code)]

mod canonical;
pub mod command;
pub mod config;
pub mod core;
pub mod encode;
pub mod error;
pub mod framer;
pub mod response;
pub mod secret;

pub use canonical::{canonicalize_command, canonicalize_response};
pub use command::{Command, CommandBody};
pub use config::ParserConfig;
pub use core::*;
pub use encode::Encode;
pub use error::{Fault, ParseError, ParseErrorKind, ValidationError};
pub use secret::Secret;
