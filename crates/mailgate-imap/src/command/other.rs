//! The generic form of commands this crate does not know (lenient mode only): the name
//! and the raw arguments, literals included, so that a proxy can forward them.

use std::borrow::Cow;

use crate::config::ParserConfig;
use crate::error::{PResult, ParseErrorKind, fail};
use crate::framer::trailing_literal;

/// The raw arguments of an unknown command: everything between the command name and
/// the final line end, literal headers and literal data included as sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawArguments<'a> {
    bytes: Cow<'a, [u8]>,
    literals: usize,
}

impl<'a> RawArguments<'a> {
    /// The bytes after the command name (empty, or starting with a space).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many literals the arguments announce (and hold).
    pub fn literals(&self) -> usize {
        self.literals
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> RawArguments<'static> {
        RawArguments {
            bytes: Cow::Owned(self.bytes.into_owned()),
            literals: self.literals,
        }
    }
}

impl std::fmt::Debug for RawArguments<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawArguments")
            .field("bytes", &String::from_utf8_lossy(&self.bytes))
            .field("literals", &self.literals)
            .finish()
    }
}

/// Takes the arguments of an unknown command up to (not including) the line end that
/// ends the message, skipping the data of every literal announced on the way.
pub(crate) fn raw_arguments<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, RawArguments<'a>> {
    if !matches!(i.first(), None | Some(b' ' | b'\r' | b'\n')) {
        return fail(
            i,
            ParseErrorKind::Expected("SP or CRLF after the command name"),
        );
    }
    let mut pos = 0;
    let mut literals = 0;
    loop {
        let Some(lf) = memchr::memchr(b'\n', &i[pos..]).map(|n| pos + n) else {
            return fail(&i[i.len()..], ParseErrorKind::Incomplete);
        };
        if let Some(nul) = memchr::memchr(0, &i[pos..lf]) {
            return fail(&i[pos + nul..], ParseErrorKind::Nul);
        }
        let line = &i[pos..lf];
        let end = if line.last() == Some(&b'\r') {
            lf - 1
        } else if cfg.allow_bare_lf {
            lf
        } else {
            return fail(&i[lf..], ParseErrorKind::BareLf);
        };
        match trailing_literal(line, cfg.allow_bare_lf) {
            None => {
                // Trailing spaces stay in the arguments: without them the line could end
                // in a literal announcement it did not have.
                return Ok((
                    &i[end..],
                    RawArguments {
                        bytes: Cow::Borrowed(&i[..end]),
                        literals,
                    },
                ));
            }
            Some(header) => {
                let data = lf + 1;
                let available = (i.len() - data) as u64;
                if header.size > available {
                    return fail(
                        &i[data..],
                        ParseErrorKind::LiteralLengthMismatch {
                            announced: header.size,
                            available,
                        },
                    );
                }
                literals += 1;
                pos = data + header.size as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_with_literals() {
        let cfg = ParserConfig::lenient();
        let input = b" a {3}\r\nx\r\n b ~{2+}\r\n\0\n c\r\nnext";
        let (rest, args) = raw_arguments(input, &cfg).unwrap();
        assert_eq!(rest, b"\r\nnext");
        assert_eq!(args.literals(), 2);
        assert_eq!(args.as_bytes(), &input[..input.len() - 6]);
        assert_eq!(raw_arguments(b"\r\n", &cfg).unwrap().1.as_bytes(), b"");
        assert!(raw_arguments(b" {5}\r\nab\r\n", &cfg).is_err());
        assert!(raw_arguments(b"(x)\r\n", &cfg).is_err());
        assert!(raw_arguments(b" a\0b\r\n", &cfg).is_err());
        assert!(raw_arguments(b" a", &cfg).is_err());
        let (_, args) = raw_arguments(b" {3} \r\n", &cfg).unwrap();
        assert_eq!(args.as_bytes(), b" {3} ");
        assert_eq!(args.literals(), 0);
    }
}
