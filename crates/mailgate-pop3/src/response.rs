//! POP3 single-line responses: `+OK`/`-ERR` status lines with RFC 2449 response
//! codes, and RFC 5034 `+ ` continuations.

use core::fmt;

use crate::Pop3Error;

/// The status indicator of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err,
}

/// An extended response code (RFC 2449 section 8, RFC 3206), the bracketed token
/// at the start of the response text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `[IN-USE]`: the mailbox is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: logging in again this soon is not allowed.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system problem (RFC 3206).
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem (RFC 3206).
    SysPerm,
    /// `[AUTH]`: the credentials were wrong (RFC 3206).
    Auth,
    /// Any other code, as sent (e.g. `UTF8`, `SYS/TEMP/QUOTA`).
    Other(String),
}

impl ResponseCode {
    /// Parses the text between the brackets (case-insensitive for the known codes).
    /// Returns `None` if it is not a valid `resp-code` (RFC 2449 section 8).
    pub fn parse(text: &str) -> Option<Self> {
        let valid_level = |level: &str| {
            !level.is_empty()
                && level
                    .bytes()
                    .all(|b| (0x21..=0x7f).contains(&b) && b != b'/' && b != b']')
        };
        if !text.split('/').all(valid_level) {
            return None;
        }
        Some(match text.to_ascii_uppercase().as_str() {
            "IN-USE" => ResponseCode::InUse,
            "LOGIN-DELAY" => ResponseCode::LoginDelay,
            "SYS/TEMP" => ResponseCode::SysTemp,
            "SYS/PERM" => ResponseCode::SysPerm,
            "AUTH" => ResponseCode::Auth,
            _ => ResponseCode::Other(text.to_owned()),
        })
    }

    /// The code as written between the brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Other(s) => s,
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `+OK` or `-ERR` response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// The extended response code, if the text starts with one.
    pub code: Option<ResponseCode>,
    /// The rest of the text, without the code and the space after it. Invalid UTF-8
    /// is replaced (the text is for humans).
    pub text: String,
}

impl StatusLine {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Self {
        Self {
            status: Status::Err,
            code: None,
            text: text.into(),
        }
    }

    /// Sets the response code.
    #[must_use]
    pub fn with_code(mut self, code: ResponseCode) -> Self {
        self.code = Some(code);
        self
    }

    /// Whether this is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The APOP timestamp (`<...@...>`) of a greeting, if any (RFC 1939 section 7).
    pub fn apop_timestamp(&self) -> Option<&str> {
        let start = self.text.find('<')?;
        let len = self.text.get(start..)?.find('>')?;
        let stamp = self.text.get(start..=start + len)?;
        stamp.contains('@').then_some(stamp)
    }

    /// Appends the line, with CRLF, to `out`. CR, LF and NUL in the text are
    /// replaced by spaces so the output is always one line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.status {
            Status::Ok => b"+OK",
            Status::Err => b"-ERR",
        });
        if let Some(code) = &self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend(self.text.bytes().map(|b| {
                if b == b'\r' || b == b'\n' || b == 0 {
                    b' '
                } else {
                    b
                }
            }));
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded line, with CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

impl fmt::Display for StatusLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        f.write_str(text.trim_end())
    }
}

/// Any single line a server sends in reply to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine {
    /// `+OK ...` or `-ERR ...`.
    Status(StatusLine),
    /// A SASL continuation `+ <base64>` (RFC 5034); holds the base64 text, which
    /// may be empty. A bare `+` is accepted as an empty continuation.
    Continuation(String),
}

impl ServerLine {
    /// Parses one response line without its CRLF.
    ///
    /// ```
    /// use mailgate_pop3::{ResponseCode, ServerLine, Status};
    /// let ServerLine::Status(s) = ServerLine::parse(b"-ERR [IN-USE] mailbox locked").unwrap() else {
    ///     unreachable!()
    /// };
    /// assert_eq!((s.status, s.code, s.text.as_str()), (Status::Err, Some(ResponseCode::InUse), "mailbox locked"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`Pop3Error::InvalidStatus`] for anything but `+OK`, `-ERR` or `+`;
    /// [`Pop3Error::ControlCharacter`] for NUL, CR or LF inside the line.
    pub fn parse(line: &[u8]) -> Result<ServerLine, Pop3Error> {
        if let Some(offset) = line
            .iter()
            .position(|&b| b == 0 || b == b'\r' || b == b'\n')
        {
            return Err(Pop3Error::ControlCharacter {
                byte: line.get(offset).copied().unwrap_or_default(),
                offset,
            });
        }
        let (status, rest) = if let Some(rest) = strip_prefix_ci(line, b"+OK") {
            (Status::Ok, rest)
        } else if let Some(rest) = strip_prefix_ci(line, b"-ERR") {
            (Status::Err, rest)
        } else if line == b"+" {
            return Ok(ServerLine::Continuation(String::new()));
        } else if let Some(rest) = line.strip_prefix(b"+ ") {
            return Ok(ServerLine::Continuation(
                String::from_utf8_lossy(rest).into_owned(),
            ));
        } else {
            return Err(Pop3Error::InvalidStatus);
        };
        let rest = match rest {
            [] => &[][..],
            [b' ', tail @ ..] => tail,
            _ => return Err(Pop3Error::InvalidStatus),
        };
        let text = String::from_utf8_lossy(rest).into_owned();
        let (code, text) = split_code(text);
        Ok(ServerLine::Status(StatusLine { status, code, text }))
    }

    /// Appends the line, with CRLF, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerLine::Status(s) => s.encode(out),
            ServerLine::Continuation(text) => {
                out.extend_from_slice(b"+ ");
                out.extend(text.bytes().filter(|&b| b != b'\r' && b != b'\n' && b != 0));
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// The encoded line, with CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn strip_prefix_ci<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| line.get(prefix.len()..).unwrap_or_default())
}

fn split_code(text: String) -> (Option<ResponseCode>, String) {
    if let Some(inner) = text.strip_prefix('[')
        && let Some(end) = inner.find(']')
        && let Some(code) = inner.get(..end).and_then(ResponseCode::parse)
    {
        let after = inner.get(end + 1..).unwrap_or_default();
        let after = after.strip_prefix(' ').unwrap_or(after);
        return (Some(code), after.to_owned());
    }
    (None, text)
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
