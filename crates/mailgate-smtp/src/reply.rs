//! SMTP replies: single and multi-line, with RFC 3463 enhanced status codes.

use std::borrow::Cow;
use std::fmt;

use crate::error::ReplyError;
use crate::limits::Limits;
use crate::status::EnhancedStatus;

/// A complete server reply such as `250-PIPELINING` … `250 SMTPUTF8`.
///
/// Parsed replies borrow their text from the input; built ones own it
/// ([`Reply::into_owned`] detaches a parsed one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply<'a> {
    /// The three-digit reply code, 100 to 599.
    pub code: u16,
    /// The enhanced status code carried by the first line (and stripped from every line
    /// that repeats it), if any.
    pub status: Option<EnhancedStatus>,
    /// The text of each line, without code, separator and enhanced status. Never empty.
    pub lines: Vec<Cow<'a, str>>,
}

/// Outcome of [`Reply::parse`] on a buffer that may hold a partial reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStatus<'a> {
    /// A whole reply and the number of input octets it used.
    Complete(Reply<'a>, usize),
    /// The reply is not complete yet; call again with more input.
    Partial,
}

impl<'a> Reply<'a> {
    /// A single-line reply.
    ///
    /// ```
    /// use mailgate_smtp::{EnhancedStatus, Reply};
    /// let r = Reply::new(535, EnhancedStatus::new(5, 7, 8), "Authentication failed");
    /// assert_eq!(r.to_bytes(), b"535 5.7.8 Authentication failed\r\n");
    /// ```
    pub fn new(code: u16, status: Option<EnhancedStatus>, text: impl Into<Cow<'a, str>>) -> Self {
        Reply {
            code,
            status,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply; an empty iterator yields one empty line.
    pub fn multiline<I, T>(code: u16, status: Option<EnhancedStatus>, lines: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Cow<'a, str>>,
    {
        let mut lines: Vec<Cow<'a, str>> = lines.into_iter().map(Into::into).collect();
        if lines.is_empty() {
            lines.push(Cow::Borrowed(""));
        }
        Reply {
            code,
            status,
            lines,
        }
    }

    /// 2yz: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3yz: the server waits for more (DATA content, SASL response).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4yz: transient failure, may be retried.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5yz: permanent failure.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// All lines joined by a single space, e.g. for an error message.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Reply<'static> {
        Reply {
            code: self.code,
            status: self.status,
            lines: self
                .lines
                .into_iter()
                .map(|l| Cow::Owned(l.into_owned()))
                .collect(),
        }
    }

    /// Parses one reply from the start of `input`. Accepts CRLF and, tolerating sloppy
    /// servers, bare LF line endings.
    ///
    /// ```
    /// use mailgate_smtp::{Limits, Reply, ReplyStatus};
    /// let input = b"250-mx.example.com\r\n250 2.0.0 PIPELINING\r\n";
    /// let ReplyStatus::Complete(reply, used) = Reply::parse(input, &Limits::default()).unwrap()
    /// else { unreachable!() };
    /// assert_eq!((reply.code, used), (250, input.len()));
    /// assert_eq!(reply.lines, ["mx.example.com", "2.0.0 PIPELINING"]);
    /// ```
    pub fn parse(input: &'a [u8], limits: &Limits) -> Result<ReplyStatus<'a>, ReplyError> {
        let mut at = 0;
        let mut code = 0;
        let mut lines: Vec<Cow<'a, str>> = Vec::new();
        let mut status = None;
        loop {
            let line_no = lines.len();
            let rest = &input[at..];
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                if rest.len() >= limits.reply_line {
                    return Err(ReplyError::LineTooLong {
                        line: line_no,
                        limit: limits.reply_line,
                    });
                }
                return Ok(ReplyStatus::Partial);
            };
            if nl + 1 > limits.reply_line {
                return Err(ReplyError::LineTooLong {
                    line: line_no,
                    limit: limits.reply_line,
                });
            }
            if line_no >= limits.reply_lines {
                return Err(ReplyError::TooManyLines {
                    limit: limits.reply_lines,
                });
            }
            let mut line = &rest[..nl];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            at += nl + 1;
            let this_code = match line {
                [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
                }
                _ => return Err(ReplyError::BadCode { line: line_no }),
            };
            if line_no == 0 {
                code = this_code;
            } else if this_code != code {
                return Err(ReplyError::CodeMismatch {
                    line: line_no,
                    expected: code,
                    found: this_code,
                });
            }
            let last = match line.get(3) {
                None | Some(b' ') => true,
                Some(b'-') => false,
                Some(_) => return Err(ReplyError::BadSeparator { line: line_no }),
            };
            let text = line.get(4..).unwrap_or(&[]);
            let text =
                std::str::from_utf8(text).map_err(|_| ReplyError::NotUtf8 { line: line_no })?;
            if line_no == 0 {
                status = EnhancedStatus::parse_prefix(text)
                    .filter(|(s, _)| u16::from(s.class) == code / 100)
                    .map(|(s, _)| s);
            }
            lines.push(Cow::Borrowed(strip_status(text, status)));
            if last {
                break;
            }
        }
        Ok(ReplyStatus::Complete(
            Reply {
                code,
                status,
                lines,
            },
            at,
        ))
    }

    /// Appends the wire form, CRLF after every line. CR and LF inside a line's text are
    /// replaced by spaces so that text can never inject a line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let code = self.code.min(999).to_string();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text: &str = self.lines.get(i).map_or("", |l| l);
            out.extend_from_slice(code.as_bytes());
            let sep = if i + 1 == n { b' ' } else { b'-' };
            let mut started = false;
            if let Some(s) = self.status {
                out.push(sep);
                out.extend_from_slice(s.to_string().as_bytes());
                started = true;
            }
            if !text.is_empty() {
                out.push(if started { b' ' } else { sep });
                out.extend(
                    text.bytes()
                        .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
                );
                started = true;
            }
            if !started && sep == b'-' {
                out.push(b'-');
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn strip_status(text: &str, status: Option<EnhancedStatus>) -> &str {
    match (status, EnhancedStatus::parse_prefix(text)) {
        (Some(want), Some((got, len))) if want == got => {
            text[len..].strip_prefix(' ').unwrap_or(&text[len..])
        }
        _ => text,
    }
}

impl fmt::Display for Reply<'_> {
    /// `code [x.y.z] text`, lines joined by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(s) = self.status {
            write!(f, " {s}")?;
        }
        let text = self.text();
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}
