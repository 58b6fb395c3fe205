//! A lossless INI document with Python `ConfigParser` semantics.
//!
//! The document keeps every byte of the file (comments, blank lines, ordering, the
//! spelling of keys, unknown sections, line endings), so writing it back unchanged
//! reproduces the input exactly, and an edit touches only the lines of the keys it
//! changes. Reading follows `configparser.ConfigParser(interpolation=None)` as the Python
//! email-oauth2-proxy uses it:
//!
//! * section names are case-sensitive; keys are case-insensitive (lower-cased);
//! * `=` and `:` separate a key from its value (the first of either wins);
//! * lines whose first non-blank character is `#` or `;` are comments (no inline
//!   comments);
//! * a line indented deeper than its key line continues the value; blank lines inside
//!   such a value are kept, trailing ones dropped;
//! * `[DEFAULT]` supplies values to every section that exists;
//! * a section or key that appears twice is an error naming the line.

use super::error::{ParseError, ParseErrorKind};

/// The largest configuration file accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// The longest line accepted, in bytes.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The name of the section whose values every other section inherits.
pub(crate) const DEFAULT_SECTION: &str = "DEFAULT";

/// How a line ends in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// `\r` alone
    Cr,
    /// The last line of a file without a final line break.
    None,
}

impl LineEnd {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Lf => "\n",
            Self::CrLf => "\r\n",
            Self::Cr => "\r",
            Self::None => "",
        }
    }
}

/// One physical line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) text: String,
    pub(crate) end: LineEnd,
}

/// A key and its value as parsed, with the lines it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The key, lower-cased.
    pub(crate) key: String,
    /// The value with continuation lines joined by `\n`.
    pub(crate) value: String,
    /// Index of the key line.
    pub(crate) first: usize,
    /// Index of the last line holding part of the value.
    pub(crate) last: usize,
}

/// One `[section]` block of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) name: String,
    /// Index of the `[section]` line.
    pub(crate) header: usize,
    pub(crate) entries: Vec<Entry>,
}

/// A parsed configuration file that remembers every byte of its text.
///
/// ```
/// use mailgate_token::config::IniDocument;
///
/// let text = "# tokens below\n[user@example.com]\nClient_ID = abc\n  continued\n";
/// let document = IniDocument::parse(text)?;
/// assert_eq!(document.get("user@example.com", "client_id"), Some("abc\ncontinued"));
/// assert_eq!(document.to_string(), text);
/// # Ok::<(), mailgate_token::config::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniDocument {
    pub(crate) lines: Vec<Line>,
    pub(crate) blocks: Vec<Block>,
}

/// Python's `str.isspace`: Unicode white space plus the four ASCII separators.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

fn split_lines(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(at) => {
                let (end, len) = if rest[at..].starts_with("\r\n") {
                    (LineEnd::CrLf, 2)
                } else if rest[at..].starts_with('\r') {
                    (LineEnd::Cr, 1)
                } else {
                    (LineEnd::Lf, 1)
                };
                lines.push(Line {
                    text: rest[..at].to_owned(),
                    end,
                });
                rest = &rest[at + len..];
            }
            None => {
                lines.push(Line {
                    text: rest.to_owned(),
                    end: LineEnd::None,
                });
                rest = "";
            }
        }
    }
    lines
}

/// What a stripped, non-comment line is.
enum LineKind<'a> {
    Header(&'a str),
    Option { key: &'a str, value: &'a str },
    Invalid,
}

fn classify(value: &str) -> LineKind<'_> {
    // `\[(?P<header>.+)\]` matched at the start: the header runs to the last `]`.
    if let Some(inner) = value.strip_prefix('[')
        && let Some(close) = inner.rfind(']')
        && close > 0
    {
        return LineKind::Header(&inner[..close]);
    }
    match value.find(['=', ':']) {
        Some(at) => {
            let key = value[..at].trim_end_matches(is_py_space);
            let rest = py_strip(&value[at + 1..]);
            if key.is_empty() {
                LineKind::Invalid
            } else {
                LineKind::Option { key, value: rest }
            }
        }
        None => LineKind::Invalid,
    }
}

impl IniDocument {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            lines: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// Parses `text`, failing on the first line `ConfigParser` would reject.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(ParseError::new(
                0,
                ParseErrorKind::TooLarge {
                    limit: MAX_DOCUMENT_BYTES,
                },
            ));
        }
        let lines = split_lines(text);
        let blocks = parse_blocks(&lines)?;
        Ok(Self { lines, blocks })
    }

    /// Re-derives the section structure after the lines changed.
    pub(crate) fn reparse(&mut self) -> Result<(), ParseError> {
        self.keep_line_breaks_apart();
        self.blocks = parse_blocks(&self.lines)?;
        Ok(())
    }

    /// After an edit, an empty line ending in `\n` may follow a line ending in a lone `\r`
    /// (a line inserted or uncovered there): written out, the two breaks would read back as
    /// one `\r\n` and the empty line would vanish. Such an empty line ends in `\r` instead,
    /// so that the text reads back as the lines it was written from.
    fn keep_line_breaks_apart(&mut self) {
        for index in 1..self.lines.len() {
            let after_cr = self
                .lines
                .get(index - 1)
                .is_some_and(|l| l.end == LineEnd::Cr);
            if let Some(line) = self.lines.get_mut(index)
                && after_cr
                && line.text.is_empty()
                && line.end == LineEnd::Lf
            {
                line.end = LineEnd::Cr;
            }
        }
    }

    /// The names of all sections except `[DEFAULT]`, in file order.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.blocks
            .iter()
            .map(|b| b.name.as_str())
            .filter(|n| *n != DEFAULT_SECTION)
    }

    /// Whether a section of that exact name (case-sensitive) exists.
    pub fn has_section(&self, section: &str) -> bool {
        self.blocks.iter().any(|b| b.name == section)
    }

    /// The keys and values written in `section` itself (not inherited), in file order.
    pub fn entries(&self, section: &str) -> impl Iterator<Item = (&str, &str)> {
        self.blocks
            .iter()
            .filter(move |b| b.name == section)
            .flat_map(|b| b.entries.iter())
            .map(|e| (e.key.as_str(), e.value.as_str()))
    }

    /// The value written in `section` itself, ignoring `[DEFAULT]`.
    pub fn get_own(&self, section: &str, key: &str) -> Option<&str> {
        let key = key.to_lowercase();
        self.blocks
            .iter()
            .filter(|b| b.name == section)
            .flat_map(|b| b.entries.iter())
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// `ConfigParser.get(section, key, fallback=None)`: the section's own value, else
    /// the `[DEFAULT]` value when the section exists, else `None`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        if !self.has_section(section) && section != DEFAULT_SECTION {
            return None;
        }
        self.get_own(section, key)
            .or_else(|| self.get_own(DEFAULT_SECTION, key))
    }

    /// The 1-based line number of `key` in `section`, for messages.
    pub fn line_of(&self, section: &str, key: &str) -> Option<usize> {
        let key = key.to_lowercase();
        self.blocks
            .iter()
            .filter(|b| b.name == section)
            .flat_map(|b| b.entries.iter())
            .find(|e| e.key == key)
            .map(|e| e.first + 1)
    }

    /// The line break most of the file uses (`\n` for an empty file).
    pub(crate) fn newline(&self) -> LineEnd {
        let (mut lf, mut crlf, mut cr) = (0usize, 0usize, 0usize);
        for line in &self.lines {
            match line.end {
                LineEnd::Lf => lf += 1,
                LineEnd::CrLf => crlf += 1,
                LineEnd::Cr => cr += 1,
                LineEnd::None => {}
            }
        }
        if crlf > lf && crlf >= cr {
            LineEnd::CrLf
        } else if cr > lf && cr > crlf {
            LineEnd::Cr
        } else {
            LineEnd::Lf
        }
    }
}

impl Default for IniDocument {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Display for IniDocument {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for line in &self.lines {
            f.write_str(&line.text)?;
            f.write_str(line.end.as_str())?;
        }
        Ok(())
    }
}

/// Follows `RawConfigParser._read` line by line.
fn parse_blocks(lines: &[Line]) -> Result<Vec<Block>, ParseError> {
    let mut blocks: Vec<Block> = Vec::new();
    // Values are collected as lists of parts and joined at the end, as Python does.
    let mut parts: Vec<Vec<Vec<String>>> = Vec::new();
    let mut current: Option<usize> = None;
    let mut option: Option<usize> = None;
    let mut indent_level = 0usize;
    let mut seen_sections: Vec<&str> = Vec::new();

    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if line.text.len() > MAX_LINE_BYTES {
            return Err(ParseError::new(
                number,
                ParseErrorKind::LineTooLong {
                    limit: MAX_LINE_BYTES,
                },
            ));
        }
        let raw = if index == 0 {
            line.text.trim_start_matches('\u{feff}')
        } else {
            line.text.as_str()
        };
        let stripped = py_strip(raw);
        let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
        let value = if is_comment { "" } else { stripped };
        if value.is_empty() {
            // An empty line inside a value is kept (comments are not).
            if !is_comment
                && let (Some(b), Some(o)) = (current, option)
                && let Some(p) = parts.get_mut(b).and_then(|v| v.get_mut(o))
            {
                p.push(String::new());
            }
            continue;
        }
        let indent = raw.chars().take_while(|c| is_py_space(*c)).count();
        if let (Some(b), Some(o), true) = (current, option, indent > indent_level) {
            if let Some(p) = parts.get_mut(b).and_then(|v| v.get_mut(o)) {
                p.push(value.to_owned());
            }
            if let Some(entry) = blocks.get_mut(b).and_then(|bl| bl.entries.get_mut(o)) {
                entry.last = index;
            }
            continue;
        }
        indent_level = indent;
        match classify(value) {
            LineKind::Header(name) => {
                if name != DEFAULT_SECTION {
                    if seen_sections.contains(&name) {
                        return Err(ParseError::new(
                            number,
                            ParseErrorKind::DuplicateSection {
                                section: name.to_owned(),
                            },
                        ));
                    }
                    seen_sections.push(name);
                }
                blocks.push(Block {
                    name: name.to_owned(),
                    header: index,
                    entries: Vec::new(),
                });
                parts.push(Vec::new());
                current = Some(blocks.len() - 1);
                option = None;
            }
            LineKind::Option { key, value } => {
                let Some(b) = current else {
                    return Err(ParseError::new(
                        number,
                        ParseErrorKind::MissingSectionHeader,
                    ));
                };
                let key = key.to_lowercase();
                let name = blocks.get(b).map(|bl| bl.name.clone()).unwrap_or_default();
                let duplicate = blocks
                    .iter()
                    .filter(|bl| bl.name == name)
                    .flat_map(|bl| bl.entries.iter())
                    .any(|e| e.key == key);
                if duplicate {
                    return Err(ParseError::new(
                        number,
                        ParseErrorKind::DuplicateKey { section: name, key },
                    ));
                }
                if let (Some(block), Some(p)) = (blocks.get_mut(b), parts.get_mut(b)) {
                    block.entries.push(Entry {
                        key,
                        value: String::new(),
                        first: index,
                        last: index,
                    });
                    p.push(vec![value.to_owned()]);
                    option = Some(block.entries.len() - 1);
                }
            }
            LineKind::Invalid => {
                let kind = if current.is_none() {
                    ParseErrorKind::MissingSectionHeader
                } else {
                    ParseErrorKind::NotKeyValue
                };
                return Err(ParseError::new(number, kind));
            }
        }
    }
    for (block, block_parts) in blocks.iter_mut().zip(parts) {
        for (entry, value_parts) in block.entries.iter_mut().zip(block_parts) {
            entry.value = value_parts
                .join("\n")
                .trim_end_matches(is_py_space)
                .to_owned();
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_line_ending_and_round_trips() {
        for text in [
            "",
            "\n",
            "[a]\r\nk=v\r\n",
            "[a]\rk=v",
            "[a]\nk = v\n\n",
            "\u{feff}[a]\nk:v\n",
        ] {
            let document = IniDocument::parse(text).unwrap();
            assert_eq!(document.to_string(), text);
        }
    }

    #[test]
    fn header_runs_to_last_bracket() {
        let document = IniDocument::parse("[a]b] trailing\nk=v\n").unwrap();
        assert_eq!(document.sections().collect::<Vec<_>>(), vec!["a]b"]);
    }
}
