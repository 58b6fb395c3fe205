//! Sans-I/O SMTP codec, EHLO capability model, DATA/BDAT framing and session machines.
#![forbid(unsafe_code)]
