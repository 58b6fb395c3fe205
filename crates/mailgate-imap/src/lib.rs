//! Sans-I/O IMAP4rev1/IMAP4rev2 framer, command and response codec with strict and lenient modes.
#![forbid(unsafe_code)]
