//! SMTP commands (RFC 5321 and extensions): parsing and encoding.

use crate::error::CommandError;
use crate::parameters::{MailParameters, RcptParameters};

/// A command as sent by an SMTP client. Borrows from the parsed line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `EHLO domain`.
    Ehlo {
        /// The client's domain or address literal.
        domain: &'a str,
    },
    /// `HELO domain`.
    Helo {
        /// The client's domain or address literal.
        domain: &'a str,
    },
    /// `MAIL FROM:<reverse-path> [parameters]`.
    Mail {
        /// The reverse path; empty for the null path `<>`.
        from: Path<'a>,
        /// ESMTP parameters.
        parameters: MailParameters<'a>,
    },
    /// `RCPT TO:<forward-path> [parameters]`.
    Rcpt {
        /// The forward path.
        to: Path<'a>,
        /// ESMTP parameters.
        parameters: RcptParameters<'a>,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030 CHUNKING).
    Bdat {
        /// Octets of message data that follow the command line.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop {
        /// The ignored argument, if any.
        argument: Option<&'a str>,
    },
    /// `VRFY string`.
    Vrfy {
        /// The user or mailbox to verify.
        argument: &'a str,
    },
    /// `EXPN string`.
    Expn {
        /// The mailing list to expand.
        argument: &'a str,
    },
    /// `HELP [string]`.
    Help {
        /// The topic, if any.
        argument: Option<&'a str>,
    },
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism name as sent (compare case-insensitively).
        mechanism: &'a str,
        /// The base64 initial response, `=` for an empty one; `None` when absent.
        initial_response: Option<&'a str>,
    },
}

/// The content of a `<...>` path in MAIL or RCPT, without the angle brackets.
///
/// May contain a legacy source route (`@a,@b:user@example.com`); the codec keeps it verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Path<'a>(pub &'a str);

impl<'a> Path<'a> {
    /// The null reverse path `<>`.
    pub const NULL: Path<'static> = Path("");

    /// The path content without brackets.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether this is the null path `<>`.
    pub fn is_null(&self) -> bool {
        self.0.is_empty()
    }
}

/// The verb of a command, identified from the first word of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// `EHLO`.
    Ehlo,
    /// `HELO`.
    Helo,
    /// `MAIL`.
    Mail,
    /// `RCPT`.
    Rcpt,
    /// `DATA`.
    Data,
    /// `BDAT`.
    Bdat,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `VRFY`.
    Vrfy,
    /// `EXPN`.
    Expn,
    /// `HELP`.
    Help,
    /// `QUIT`.
    Quit,
    /// `STARTTLS`.
    StartTls,
    /// `AUTH`.
    Auth,
}

/// Packs up to eight octets, upper-cased, into a little-endian integer.
const fn pack(word: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < word.len() && i < 8 {
        v |= (word[i].to_ascii_uppercase() as u64) << (8 * i);
        i += 1;
    }
    v
}

const EHLO: u64 = pack(b"EHLO");
const HELO: u64 = pack(b"HELO");
const MAIL: u64 = pack(b"MAIL");
const RCPT: u64 = pack(b"RCPT");
const DATA: u64 = pack(b"DATA");
const BDAT: u64 = pack(b"BDAT");
const RSET: u64 = pack(b"RSET");
const NOOP: u64 = pack(b"NOOP");
const VRFY: u64 = pack(b"VRFY");
const EXPN: u64 = pack(b"EXPN");
const HELP: u64 = pack(b"HELP");
const QUIT: u64 = pack(b"QUIT");
const STARTTLS: u64 = pack(b"STARTTLS");
const AUTH: u64 = pack(b"AUTH");

impl Verb {
    /// Identifies the verb at the start of `line` (case-insensitive). `None` if unknown.
    pub fn identify(line: &[u8]) -> Option<Verb> {
        let end = memchr::memchr(b' ', line).unwrap_or(line.len());
        let word = &line[..end];
        if word.len() > 8 || word.is_empty() {
            return None;
        }
        Some(match pack(word) {
            EHLO => Verb::Ehlo,
            HELO => Verb::Helo,
            MAIL => Verb::Mail,
            RCPT => Verb::Rcpt,
            DATA => Verb::Data,
            BDAT => Verb::Bdat,
            RSET => Verb::Rset,
            NOOP => Verb::Noop,
            VRFY => Verb::Vrfy,
            EXPN => Verb::Expn,
            HELP => Verb::Help,
            QUIT => Verb::Quit,
            STARTTLS => Verb::StartTls,
            AUTH => Verb::Auth,
            _ => return None,
        })
    }

    /// The verb as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Quit => "QUIT",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
        }
    }
}

fn syntax(what: &'static str, at: usize) -> CommandError {
    CommandError::Syntax { what, at }
}

/// Text arguments: printable, no CR or LF or other controls (UTF-8 allowed).
fn is_text(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c >= 32 && c != 127)
}

/// Domain or address literal after EHLO/HELO: one word, no controls.
fn is_domain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c > 32 && c != 127)
}

fn is_path_char(c: u8) -> bool {
    c > 32 && c != 127 && c != b'<' && c != b'>'
}

/// A SASL mechanism name (RFC 4422): 1 to 20 of upper-case letters, digits, `-` and `_`
/// (lower case accepted on input).
fn is_mechanism(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Base64 initial response or `=`.
fn is_base64(s: &str) -> bool {
    s == "="
        || (!s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'='))
}

impl<'a> Command<'a> {
    /// Parses one command line without its CRLF.
    ///
    /// ```
    /// use mailgate_smtp::{Command, Path};
    /// let cmd = Command::parse(b"MAIL FROM:<a@example.com> SIZE=1000 BODY=8BITMIME").unwrap();
    /// let Command::Mail { from, parameters } = cmd else { unreachable!() };
    /// assert_eq!(from, Path("a@example.com"));
    /// assert_eq!(parameters.size, Some(1000));
    /// ```
    pub fn parse(line: &'a [u8]) -> Result<Command<'a>, CommandError> {
        if line.is_empty() {
            return Err(CommandError::Empty);
        }
        let verb = Verb::identify(line).ok_or(CommandError::UnknownVerb)?;
        let line = std::str::from_utf8(line).map_err(|e| CommandError::NotUtf8 {
            at: e.valid_up_to(),
        })?;
        let verb_len = verb.as_str().len();
        // `rest` is what follows the verb; `args` what follows the single SP.
        let rest = &line[verb_len..];
        let (args, args_at) = match rest.strip_prefix(' ') {
            Some(a) => (Some(a), verb_len + 1),
            None if rest.is_empty() => (None, verb_len),
            None => return Err(syntax("separator after verb", verb_len)),
        };
        let no_args = |cmd: Command<'a>| match args {
            None => Ok(cmd),
            Some(a) if a.trim_end_matches(' ').is_empty() => Ok(cmd),
            Some(_) => Err(syntax("unexpected argument", args_at)),
        };
        let opt_text = |a: Option<&'a str>| -> Result<Option<&'a str>, CommandError> {
            match a {
                None => Ok(None),
                Some("") => Ok(None),
                Some(t) if is_text(t) => Ok(Some(t)),
                Some(_) => Err(syntax("argument", args_at)),
            }
        };
        match verb {
            Verb::Ehlo | Verb::Helo => {
                let domain = args.map(|a| a.trim_end_matches(' ')).unwrap_or("");
                if !is_domain(domain) {
                    return Err(syntax("domain", args_at));
                }
                Ok(if verb == Verb::Ehlo {
                    Command::Ehlo { domain }
                } else {
                    Command::Helo { domain }
                })
            }
            Verb::Mail => {
                let (from, params) = parse_path(args, args_at, "FROM:")?;
                let parameters = MailParameters::parse(params)?;
                Ok(Command::Mail { from, parameters })
            }
            Verb::Rcpt => {
                let (to, params) = parse_path(args, args_at, "TO:")?;
                if to.is_null() {
                    return Err(syntax("forward path", args_at));
                }
                let parameters = RcptParameters::parse(params)?;
                Ok(Command::Rcpt { to, parameters })
            }
            Verb::Data => no_args(Command::Data),
            Verb::Rset => no_args(Command::Rset),
            Verb::Quit => no_args(Command::Quit),
            Verb::StartTls => no_args(Command::StartTls),
            Verb::Noop => Ok(Command::Noop {
                argument: opt_text(args)?,
            }),
            Verb::Help => Ok(Command::Help {
                argument: opt_text(args)?,
            }),
            Verb::Vrfy | Verb::Expn => {
                let argument = opt_text(args)?.ok_or_else(|| syntax("argument", args_at))?;
                Ok(if verb == Verb::Vrfy {
                    Command::Vrfy { argument }
                } else {
                    Command::Expn { argument }
                })
            }
            Verb::Bdat => {
                let a = args.ok_or_else(|| syntax("chunk size", args_at))?;
                let mut words = a.split(' ');
                let size_word = words.next().unwrap_or("");
                if size_word.is_empty()
                    || size_word.len() > 20
                    || !size_word.bytes().all(|c| c.is_ascii_digit())
                {
                    return Err(syntax("chunk size", args_at));
                }
                let size = size_word
                    .parse()
                    .map_err(|_| syntax("chunk size", args_at))?;
                let last = match (words.next(), words.next()) {
                    (None, _) => false,
                    (Some(w), None) if w.eq_ignore_ascii_case("LAST") => true,
                    _ => return Err(syntax("LAST", args_at + size_word.len() + 1)),
                };
                Ok(Command::Bdat { size, last })
            }
            Verb::Auth => {
                let a = args.ok_or_else(|| syntax("mechanism", args_at))?;
                let (mechanism, initial_response) = match a.split_once(' ') {
                    Some((m, ir)) => (m, Some(ir)),
                    None => (a, None),
                };
                if !is_mechanism(mechanism) {
                    return Err(syntax("mechanism", args_at));
                }
                if let Some(ir) = initial_response
                    && !is_base64(ir)
                {
                    return Err(syntax("initial response", args_at + mechanism.len() + 1));
                }
                Ok(Command::Auth {
                    mechanism,
                    initial_response,
                })
            }
        }
    }

    /// The verb of this command.
    pub fn verb(&self) -> Verb {
        match self {
            Command::Ehlo { .. } => Verb::Ehlo,
            Command::Helo { .. } => Verb::Helo,
            Command::Mail { .. } => Verb::Mail,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Data => Verb::Data,
            Command::Bdat { .. } => Verb::Bdat,
            Command::Rset => Verb::Rset,
            Command::Noop { .. } => Verb::Noop,
            Command::Vrfy { .. } => Verb::Vrfy,
            Command::Expn { .. } => Verb::Expn,
            Command::Help { .. } => Verb::Help,
            Command::Quit => Verb::Quit,
            Command::StartTls => Verb::StartTls,
            Command::Auth { .. } => Verb::Auth,
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.verb().as_str().as_bytes());
        let arg = |out: &mut Vec<u8>, a: &str| {
            out.push(b' ');
            out.extend_from_slice(a.as_bytes());
        };
        match self {
            Command::Ehlo { domain } | Command::Helo { domain } => arg(out, domain),
            Command::Mail { from, parameters } => {
                out.extend_from_slice(b" FROM:<");
                out.extend_from_slice(from.0.as_bytes());
                out.push(b'>');
                parameters.encode(out);
            }
            Command::Rcpt { to, parameters } => {
                out.extend_from_slice(b" TO:<");
                out.extend_from_slice(to.0.as_bytes());
                out.push(b'>');
                parameters.encode(out);
            }
            Command::Bdat { size, last } => {
                arg(out, &size.to_string());
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Command::Noop { argument: Some(a) } | Command::Help { argument: Some(a) } => {
                arg(out, a)
            }
            Command::Vrfy { argument } | Command::Expn { argument } => arg(out, argument),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                arg(out, mechanism);
                if let Some(ir) = initial_response {
                    arg(out, ir);
                }
            }
            Command::Data
            | Command::Rset
            | Command::Quit
            | Command::StartTls
            | Command::Noop { argument: None }
            | Command::Help { argument: None } => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded command line as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Parses `FROM:<path> params` / `TO:<path> params`. Accepts spaces after the colon, as
/// many clients send them.
fn parse_path<'a>(
    args: Option<&'a str>,
    args_at: usize,
    keyword: &'static str,
) -> Result<(Path<'a>, &'a str), CommandError> {
    let a = args.ok_or_else(|| syntax(keyword, args_at))?;
    let head = a
        .get(..keyword.len())
        .ok_or_else(|| syntax(keyword, args_at))?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(syntax(keyword, args_at));
    }
    let after = &a[keyword.len()..];
    let trimmed = after.trim_start_matches(' ');
    let path_at = args_at + keyword.len() + (after.len() - trimmed.len());
    let inner = trimmed
        .strip_prefix('<')
        .ok_or_else(|| syntax("path", path_at))?;
    let close = inner.find('>').ok_or_else(|| syntax("path", path_at))?;
    let path = &inner[..close];
    if !path.bytes().all(is_path_char) {
        return Err(syntax("path", path_at + 1));
    }
    let params = &inner[close + 1..];
    let params_at = path_at + close + 2;
    if !params.is_empty() && !params.starts_with(' ') {
        return Err(syntax("separator after path", params_at));
    }
    Ok((Path(path), params))
}
