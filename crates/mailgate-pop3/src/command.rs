//! POP3 commands (RFC 1939, RFC 2449, RFC 2595, RFC 5034): parse and encode.

use mailgate_sasl::SecretString;

use crate::Pop3Error;

/// A POP3 command.
///
/// `Debug` redacts the `PASS` argument and the `AUTH` initial response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name` (RFC 1939 section 7). The name is the rest of the line.
    User(String),
    /// `PASS string` (RFC 1939 section 7). The password is the rest of the line,
    /// spaces included.
    Pass(SecretString),
    /// `APOP name digest` (RFC 1939 section 7).
    Apop {
        /// The mailbox name.
        name: String,
        /// The MD5 digest, 32 lower-case hex digits.
        digest: String,
    },
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`.
    Top {
        /// Message number.
        msg: u32,
        /// Number of body lines.
        lines: u32,
    },
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `CAPA` (RFC 2449).
    Capa,
    /// `STLS` (RFC 2595).
    Stls,
    /// `AUTH mechanism [initial-response]` (RFC 5034).
    Auth {
        /// The SASL mechanism name, upper-cased.
        mechanism: String,
        /// The initial response as sent: base64, or `=` for an empty one.
        initial_response: Option<SecretString>,
    },
    /// `AUTH` without arguments: lists the server's mechanisms (RFC 1734 style,
    /// still answered by many servers with a multi-line list).
    AuthList,
}

const KEYWORDS: &[&str] = &[
    "USER", "PASS", "APOP", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL",
    "CAPA", "STLS", "AUTH",
];

impl Command {
    /// The command keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Auth { .. } | Command::AuthList => "AUTH",
        }
    }

    /// Whether a positive (`+OK`) response to this command is multi-line
    /// (terminated by `CRLF.CRLF`): `CAPA`, `LIST` and `UIDL` without argument,
    /// `RETR`, `TOP`, and `AUTH` without argument.
    pub fn has_multiline_response(&self) -> bool {
        matches!(
            self,
            Command::Capa
                | Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top { .. }
                | Command::AuthList
        )
    }

    /// Parses one command line without its CRLF. Keywords are case-insensitive.
    ///
    /// ```
    /// use mailgate_pop3::Command;
    /// assert_eq!(Command::parse(b"top 1 10").unwrap(), Command::Top { msg: 1, lines: 10 });
    /// assert!(Command::parse(b"RETR x").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// A [`Pop3Error`] saying what is wrong; it never contains the password.
    pub fn parse(line: &[u8]) -> Result<Command, Pop3Error> {
        if let Some(offset) = line
            .iter()
            .position(|&b| b == 0 || b == b'\r' || b == b'\n')
        {
            return Err(Pop3Error::ControlCharacter {
                byte: line.get(offset).copied().unwrap_or_default(),
                offset,
            });
        }
        let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (
                line.get(..i).unwrap_or_default(),
                Some(line.get(i + 1..).unwrap_or_default()),
            ),
            None => (line, None),
        };
        let Some(&kw) = KEYWORDS
            .iter()
            .find(|k| k.as_bytes().eq_ignore_ascii_case(keyword))
        else {
            return Err(Pop3Error::UnknownCommand {
                keyword: keyword
                    .get(..40)
                    .unwrap_or(keyword)
                    .escape_ascii()
                    .to_string(),
            });
        };
        // RFC 1939: keyword and arguments are separated by a single SPACE; for
        // commands with numeric or token arguments we also accept runs of spaces.
        let words = |rest: Option<&[u8]>| -> Vec<Vec<u8>> {
            rest.unwrap_or_default()
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty())
                .map(<[u8]>::to_vec)
                .collect()
        };
        match kw {
            "USER" => Ok(Command::User(text_argument("USER", rest)?)),
            "PASS" => Ok(Command::Pass(SecretString::new(text_argument(
                "PASS", rest,
            )?))),
            "APOP" => {
                let w = words(rest);
                let [name, digest] = w.as_slice() else {
                    return Err(arity("APOP", w.len(), 2));
                };
                let digest = utf8("APOP", digest)?;
                if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Pop3Error::InvalidArgument {
                        command: "APOP",
                        reason: "digest is not 32 hex digits",
                    });
                }
                Ok(Command::Apop {
                    name: utf8("APOP", name)?,
                    digest: digest.to_ascii_lowercase(),
                })
            }
            "STAT" => no_args("STAT", rest, Command::Stat),
            "NOOP" => no_args("NOOP", rest, Command::Noop),
            "RSET" => no_args("RSET", rest, Command::Rset),
            "QUIT" => no_args("QUIT", rest, Command::Quit),
            "CAPA" => no_args("CAPA", rest, Command::Capa),
            "STLS" => no_args("STLS", rest, Command::Stls),
            "LIST" | "UIDL" => {
                let w = words(rest);
                let msg = match w.as_slice() {
                    [] => None,
                    [n] => Some(number(kw, n)?),
                    _ => return Err(Pop3Error::TooManyArguments { command: kw }),
                };
                Ok(if kw == "LIST" {
                    Command::List(msg)
                } else {
                    Command::Uidl(msg)
                })
            }
            "RETR" | "DELE" => {
                let w = words(rest);
                let [n] = w.as_slice() else {
                    return Err(arity(kw, w.len(), 1));
                };
                let n = number(kw, n)?;
                Ok(if kw == "RETR" {
                    Command::Retr(n)
                } else {
                    Command::Dele(n)
                })
            }
            "TOP" => {
                let w = words(rest);
                let [msg, lines] = w.as_slice() else {
                    return Err(arity("TOP", w.len(), 2));
                };
                Ok(Command::Top {
                    msg: number("TOP", msg)?,
                    lines: number("TOP", lines)?,
                })
            }
            _ => parse_auth(&words(rest)),
        }
    }

    /// Appends the command line, with CRLF, to `out`.
    ///
    /// Text arguments are written as given; a caller that builds a `User`/`Pass`
    /// from untrusted data must not put CR or LF into it (they are replaced by
    /// spaces here so the output is always exactly one line).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.keyword().as_bytes());
        let arg = |out: &mut Vec<u8>, text: &str| {
            out.push(b' ');
            out.extend(text.bytes().map(|b| {
                if b == b'\r' || b == b'\n' || b == 0 {
                    b' '
                } else {
                    b
                }
            }));
        };
        match self {
            Command::User(name) => arg(out, name),
            Command::Pass(password) => arg(out, password.expose()),
            Command::Apop { name, digest } => {
                arg(out, name);
                arg(out, digest);
            }
            Command::List(Some(n))
            | Command::Uidl(Some(n))
            | Command::Retr(n)
            | Command::Dele(n) => {
                arg(out, &n.to_string());
            }
            Command::Top { msg, lines } => {
                arg(out, &msg.to_string());
                arg(out, &lines.to_string());
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                arg(out, mechanism);
                if let Some(ir) = initial_response {
                    arg(out, ir.expose());
                }
            }
            Command::Stat
            | Command::List(None)
            | Command::Uidl(None)
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Capa
            | Command::Stls
            | Command::AuthList => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded command line, with CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn parse_auth(words: &[Vec<u8>]) -> Result<Command, Pop3Error> {
    let (mechanism, ir) = match words {
        [] => return Ok(Command::AuthList),
        [m] => (m, None),
        [m, ir] => (m, Some(ir)),
        _ => return Err(Pop3Error::TooManyArguments { command: "AUTH" }),
    };
    if mechanism.is_empty()
        || mechanism.len() > 20
        || !mechanism
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Pop3Error::InvalidArgument {
            command: "AUTH",
            reason: "mechanism name is not 1-20 of A-Z 0-9 - _",
        });
    }
    let initial_response = match ir {
        None => None,
        Some(ir) => {
            if !ir
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'*'))
            {
                return Err(Pop3Error::InvalidArgument {
                    command: "AUTH",
                    reason: "initial response is not base64",
                });
            }
            Some(SecretString::new(String::from_utf8_lossy(ir).into_owned()))
        }
    };
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial_response,
    })
}

fn no_args(command: &'static str, rest: Option<&[u8]>, c: Command) -> Result<Command, Pop3Error> {
    match rest {
        Some(r) if r.iter().any(|&b| b != b' ') => Err(Pop3Error::TooManyArguments { command }),
        _ => Ok(c),
    }
}

fn text_argument(command: &'static str, rest: Option<&[u8]>) -> Result<String, Pop3Error> {
    match rest {
        None | Some(b"") => Err(Pop3Error::MissingArgument { command }),
        Some(text) => utf8(command, text),
    }
}

fn utf8(command: &'static str, bytes: &[u8]) -> Result<String, Pop3Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Pop3Error::InvalidArgument {
        command,
        reason: "not UTF-8",
    })
}

fn number(command: &'static str, bytes: &[u8]) -> Result<u32, Pop3Error> {
    let invalid = |reason| Pop3Error::InvalidArgument { command, reason };
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(invalid("not a decimal number"));
    }
    bytes
        .iter()
        .try_fold(0u32, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(invalid("number too large"))
}

fn arity(command: &'static str, got: usize, want: usize) -> Pop3Error {
    if got < want {
        Pop3Error::MissingArgument { command }
    } else {
        Pop3Error::TooManyArguments { command }
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
