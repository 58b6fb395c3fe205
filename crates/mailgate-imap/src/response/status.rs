//! Status responses (`OK`/`NO`/`BAD`/`BYE`, tagged and untagged), `resp-text` and the
//! greeting.

use super::code::{Code, bracketed_code};
use super::lex::quirks;
use super::text::{Text, text};
use crate::config::ParserConfig;
use crate::core::atom::Tag;
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, fail};

/// `resp-text`: an optional response code and human-readable text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RespText<'a> {
    /// The bracketed response code.
    pub code: Option<Code<'a>>,
    /// The text (may be empty).
    pub text: Text<'a>,
}

impl<'a> RespText<'a> {
    /// Text without a code.
    ///
    /// Code-less text starting with something that reads as `[code]` would come back
    /// as a code; such text should be given as a code instead.
    pub fn new(text: Text<'a>) -> Self {
        Self { code: None, text }
    }

    /// A code with text.
    pub fn with_code(code: Code<'a>, text: Text<'a>) -> Self {
        Self {
            code: Some(code),
            text,
        }
    }
}

impl Encode for RespText<'_> {
    /// Writes `[code] text`, or the text alone.
    fn encode(&self, out: &mut Vec<u8>) {
        if let Some(c) = &self.code {
            out.push(b'[');
            c.encode(out);
            out.extend_from_slice(b"] ");
        }
        self.text.encode(out);
    }
}

/// Parses `resp-text` up to the line end.
pub(crate) fn resp_text<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, RespText<'a>> {
    if i.first() == Some(&b'[') {
        match bracketed_code(i, cfg) {
            Ok((rest, code)) => {
                let rest = match rest {
                    [b' ', r @ ..] => r,
                    // `* OK [UIDNEXT 5]` with nothing after the code.
                    [b'\r' | b'\n', ..] if quirks(cfg) => rest,
                    _ => return fail(rest, ParseErrorKind::Expected("SP after response code")),
                };
                let (rest, t) = text(rest, cfg, true)?;
                return Ok((
                    rest,
                    RespText {
                        code: Some(code),
                        text: t,
                    },
                ));
            }
            Err(nom::Err::Failure(e)) => return Err(nom::Err::Failure(e)),
            // Not a code: `[` is a TEXT-CHAR, the whole line is text.
            Err(_) => {}
        }
    }
    // Code-less text that starts with `[` must not be altered (no lossy UTF-8):
    // the altered text could read as a code when parsed again.
    let (rest, t) = text(i, cfg, i.first() != Some(&b'['))?;
    Ok((
        rest,
        RespText {
            code: None,
            text: t,
        },
    ))
}

/// After a status keyword: `SP resp-text`, or with quirks nothing / no space before `[`.
pub(crate) fn after_keyword<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, RespText<'a>> {
    match i {
        [b' ', rest @ ..] => resp_text(rest, cfg),
        [b'\r' | b'\n', ..] if quirks(cfg) => Ok((i, RespText::default())),
        [b'[', ..] if quirks(cfg) => resp_text(i, cfg),
        _ => fail(i, ParseErrorKind::Expected("SP")),
    }
}

/// The condition of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `OK`: success, or information.
    Ok,
    /// `NO`: the operation failed.
    No,
    /// `BAD`: the command was not understood or not allowed.
    Bad,
}

impl StatusKind {
    /// The keyword as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::No => "NO",
            Self::Bad => "BAD",
        }
    }
}

/// A status response: tagged completion, untagged condition, or `BYE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status<'a> {
    /// `tag OK/NO/BAD resp-text`: completion of the command with this tag.
    Tagged {
        /// The tag of the completed command.
        tag: Tag<'a>,
        /// The condition.
        kind: StatusKind,
        /// Code and text.
        text: RespText<'a>,
    },
    /// `* OK/NO/BAD resp-text`: information, warning or error not tied to a command.
    Untagged {
        /// The condition.
        kind: StatusKind,
        /// Code and text.
        text: RespText<'a>,
    },
    /// `* BYE resp-text`: the server is closing the connection.
    Bye(RespText<'a>),
    /// `* PREAUTH resp-text`: the greeting of a connection that starts authenticated
    /// (RFC 9051 section 7.1.4); only valid as the first response.
    PreAuth(RespText<'a>),
}

impl<'a> Status<'a> {
    /// The response code, if any.
    pub fn code(&self) -> Option<&Code<'a>> {
        match self {
            Self::Tagged { text, .. }
            | Self::Untagged { text, .. }
            | Self::Bye(text)
            | Self::PreAuth(text) => text.code.as_ref(),
        }
    }

    /// The tag, for a tagged status.
    pub fn tag(&self) -> Option<&Tag<'a>> {
        match self {
            Self::Tagged { tag, .. } => Some(tag),
            _ => None,
        }
    }
}

impl Encode for Status<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Tagged { tag, kind, text } => {
                tag.encode(out);
                out.push(b' ');
                out.extend_from_slice(kind.as_str().as_bytes());
                out.push(b' ');
                text.encode(out);
            }
            Self::Untagged { kind, text } => {
                out.extend_from_slice(b"* ");
                out.extend_from_slice(kind.as_str().as_bytes());
                out.push(b' ');
                text.encode(out);
            }
            Self::Bye(text) => {
                out.extend_from_slice(b"* BYE ");
                text.encode(out);
            }
            Self::PreAuth(text) => {
                out.extend_from_slice(b"* PREAUTH ");
                text.encode(out);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The kind of server greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GreetingKind {
    /// `* OK`: not authenticated yet.
    Ok,
    /// `* PREAUTH`: already authenticated.
    PreAuth,
    /// `* BYE`: the server refuses the connection.
    Bye,
}

impl GreetingKind {
    /// The keyword as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::PreAuth => "PREAUTH",
            Self::Bye => "BYE",
        }
    }
}

/// The first message of the server (`greeting`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Greeting<'a> {
    /// OK, PREAUTH or BYE.
    pub kind: GreetingKind,
    /// Code (often `CAPABILITY`) and text.
    pub text: RespText<'a>,
}

impl Encode for Greeting<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* ");
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.push(b' ');
        self.text.encode(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses a status keyword: OK, NO, BAD (case-insensitive).
pub(crate) fn status_kind(i: &[u8]) -> Option<(&[u8], StatusKind)> {
    use crate::core::lex::starts_with_ci;
    if let Some(r) = starts_with_ci(i, b"OK") {
        return Some((r, StatusKind::Ok));
    }
    if let Some(r) = starts_with_ci(i, b"NO") {
        return Some((r, StatusKind::No));
    }
    starts_with_ci(i, b"BAD").map(|r| (r, StatusKind::Bad))
}

/// Parses a greeting line (without the line end).
pub(crate) fn greeting<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Greeting<'a>> {
    use crate::core::lex::starts_with_ci;
    let Some(i) = starts_with_ci(i, b"* ") else {
        return fail(i, ParseErrorKind::Expected("'* '"));
    };
    let (rest, kind) = if let Some(r) = starts_with_ci(i, b"OK") {
        (r, GreetingKind::Ok)
    } else if let Some(r) = starts_with_ci(i, b"PREAUTH") {
        (r, GreetingKind::PreAuth)
    } else if let Some(r) = starts_with_ci(i, b"BYE") {
        (r, GreetingKind::Bye)
    } else {
        return fail(i, ParseErrorKind::Expected("OK, PREAUTH or BYE"));
    };
    let (rest, text) = after_keyword(rest, cfg)?;
    Ok((rest, Greeting { kind, text }))
}
