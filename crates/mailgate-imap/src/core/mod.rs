//! Lexical primitives of the IMAP grammar: types, parsers and encoders.
//!
//! Every type here can only hold values the grammar allows (validated constructors such
//! as [`Tag::try_new`]) and borrows from the input where that is cheap; `into_owned`
//! detaches a value from its buffer.
//!
//! Parsers (crate-internal) take a complete, framed message slice and are nom 8
//! functions returning the rest of the input. Parsers whose result depends on leniency
//! take the [`ParserConfig`](crate::ParserConfig) as second argument.

pub(crate) mod atom;
pub(crate) mod capability;
pub(crate) mod chars;
pub(crate) mod datetime;
pub(crate) mod flag;
pub(crate) mod gmail_label;
pub(crate) mod lex;
pub(crate) mod mailbox;
pub(crate) mod non_empty;
pub(crate) mod number;
pub(crate) mod object_id;
pub(crate) mod sequence;
pub(crate) mod string;

pub use atom::{Atom, Tag};
pub use capability::{
    AuthMechanism, AuthMechanismOther, Capability, CapabilityName, CapabilityOther, Charset,
};
pub use datetime::{Date, DateTime};
pub use flag::{Flag, FlagExtension, FlagFetch, FlagPerm};
pub use gmail_label::GmailLabel;
pub use mailbox::{ListMailbox, Mailbox, MailboxOther};
pub use non_empty::NonEmpty;
pub use number::NUMBER64_MAX;
pub use object_id::ObjectId;
pub use sequence::{SeqItem, SeqNumber, SequenceSet};
pub use string::{AString, IString, Literal8, LiteralHeader, LiteralMode, NString};
