//! Security notes: why the codec and the session machines behave as they do.
//!
//! This module holds documentation only.
//!
//! # SMTP smuggling
//!
//! A message ends with `CRLF . CRLF`. Some servers also accept `LF . LF`, `CR . CR`,
//! `LF . CRLF` or `CRLF . LF`. If a relay passes such a sequence through as message
//! content and the next server treats it as the end, everything after it is read as new
//! SMTP commands: an attacker can inject a second message with a forged sender that
//! passes SPF for the relay's domain (disclosed in December 2023 against Postfix,
//! Sendmail, Exchange Online and others).
//!
//! [`DataScanner`](crate::DataScanner) accepts only `CRLF . CRLF` as the end and refuses
//! every `.` line that has a bare CR or bare LF on either side with
//! [`DataError::AmbiguousEnd`](crate::DataError::AmbiguousEnd). The stream cannot be
//! resynchronised after that: reply `554` and close. With
//! [`BareLineEndings::Reject`](crate::BareLineEndings::Reject) every bare CR or LF is
//! refused, which is stricter than the smuggling defence needs.
//!
//! # STARTTLS command and response injection
//!
//! Bytes a client pipelines behind `STARTTLS` arrive in plaintext and could be inserted
//! by an attacker; a server that keeps them in its buffer executes them inside the TLS
//! session (CVE-2011-0411 and its many siblings). [`ServerSession`](crate::ServerSession)
//! drops its input buffer when it accepts STARTTLS and ignores input until the driver
//! reports the finished handshake.
//!
//! The mirror attack injects extra replies behind the server's `220` to STARTTLS.
//! [`ClientSession`](crate::ClientSession) never pipelines, so any data after a complete
//! reply is unexpected: it fails with
//! [`ClientError::UnexpectedData`](crate::ClientError::UnexpectedData).
//!
//! # STARTTLS stripping
//!
//! An attacker on the path can remove `STARTTLS` from the EHLO reply. When
//! [`ClientConfig::starttls`](crate::ClientConfig::starttls) is set, its absence is an
//! error ([`ClientError::StartTlsUnavailable`](crate::ClientError::StartTlsUnavailable)),
//! never a silent fallback to plaintext authentication.
//!
//! # Bounded memory
//!
//! Command lines are limited to 512 octets (RFC 5321), AUTH lines and SASL responses to a
//! larger configurable bound (bearer tokens are long), reply lines and the number of lines
//! per reply are bounded, the number of commands before authentication and the number of
//! failed authentications are bounded, and so is the size of a message. After an over-long
//! line the framer answers once and discards up to the next line end, so the tail of a
//! long line never runs as a command.
