//! Edits that change only the lines of the keys concerned.

use super::cache::{CacheChange, CacheChanges};
use super::document::{DEFAULT_SECTION, IniDocument, Line, LineEnd, is_py_space};
use super::error::ParseError;

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The key cannot be written as an INI key (the caller's mistake).
    #[error("`{key}` cannot be written as a configuration key")]
    InvalidKey {
        /// The key.
        key: String,
    },
    /// The section name cannot be written as an INI section header.
    #[error("`{section}` cannot be written as a section name")]
    InvalidSection {
        /// The section name.
        section: String,
    },
    /// The value would read back differently (leading or trailing white space, a
    /// carriage return, a line that starts a comment).
    #[error("the value for `{key}` would not read back unchanged")]
    UnrepresentableValue {
        /// The key.
        key: String,
    },
    /// The edited text no longer parses (a bug; the document is left unchanged).
    #[error("the edited document does not parse: {0}")]
    Reparse(ParseError),
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.contains(['=', ':', '\n', '\r'])
        && !key.starts_with(['[', '#', ';'])
        && !key.starts_with(is_py_space)
        && !key.ends_with(is_py_space)
}

fn valid_section(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['\n', '\r'])
        && name != DEFAULT_SECTION
        && name.trim() == name
}

impl IniDocument {
    /// Sets `key` in `section` to `value`.
    ///
    /// An existing key keeps its line, spelling and separator; only the value changes
    /// (continuation lines of the old value are removed). A missing key is added after
    /// the last key of the section; a missing section is added at the end of the file.
    /// A value with line breaks is written as indented continuation lines.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), EditError> {
        if !valid_key(key) {
            return Err(EditError::InvalidKey {
                key: key.to_owned(),
            });
        }
        if !self.has_section(section) && !valid_section(section) {
            return Err(EditError::InvalidSection {
                section: section.to_owned(),
            });
        }
        if value.contains('\r') {
            return Err(EditError::UnrepresentableValue {
                key: key.to_owned(),
            });
        }
        let saved = self.lines.clone();
        self.set_lines(section, key, value);
        match self.reparse() {
            Ok(()) if self.get_own(section, key) == Some(value) => Ok(()),
            Ok(()) => {
                self.lines = saved;
                self.reparse().map_err(EditError::Reparse)?;
                Err(EditError::UnrepresentableValue {
                    key: key.to_owned(),
                })
            }
            Err(error) => {
                self.lines = saved;
                self.reparse().map_err(EditError::Reparse)?;
                Err(EditError::UnrepresentableValue {
                    key: format!("{key} ({error})"),
                })
            }
        }
    }

    fn set_lines(&mut self, section: &str, key: &str, value: &str) {
        let newline = self.newline();
        let lower = key.to_lowercase();
        let mut value_lines = value.split('\n');
        let first_value = value_lines.next().unwrap_or_default();
        let continuation: Vec<Line> = value_lines
            .map(|part| Line {
                text: format!("\t{part}"),
                end: newline,
            })
            .collect();
        let existing = self
            .blocks
            .iter()
            .filter(|b| b.name == section)
            .flat_map(|b| b.entries.iter())
            .find(|e| e.key == lower)
            .map(|e| (e.first, e.last));
        if let Some((first, last)) = existing {
            let Some(old) = self.lines.get(first) else {
                return;
            };
            let text = &old.text;
            let at = text.find(['=', ':']).unwrap_or(text.len());
            let after = &text[(at + 1).min(text.len())..];
            let spaces: String = after
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let spaces = if spaces.is_empty() && after.is_empty() && !first_value.is_empty() {
                " ".to_owned()
            } else {
                spaces
            };
            let head = &text[..(at + 1).min(text.len())];
            let tail_end = self.lines.get(last).map_or(newline, |l| l.end);
            let mut replacement = vec![Line {
                text: format!("{head}{spaces}{first_value}"),
                end: newline,
            }];
            replacement.extend(continuation);
            replacement.extend(self.comments_within(first, last));
            if let Some(final_line) = replacement.last_mut() {
                final_line.end = tail_end;
            }
            self.lines.splice(first..=last, replacement);
            return;
        }
        let mut new_lines = vec![Line {
            text: format!("{key} = {first_value}"),
            end: newline,
        }];
        new_lines.extend(continuation);
        let insert_after = self
            .blocks
            .iter()
            .rfind(|b| b.name == section)
            .map(|b| b.entries.last().map_or(b.header, |e| e.last));
        match insert_after {
            Some(index) => {
                if let Some(line) = self.lines.get_mut(index)
                    && line.end == LineEnd::None
                {
                    line.end = newline;
                    if let Some(l) = new_lines.last_mut() {
                        l.end = LineEnd::None;
                    }
                }
                let at = (index + 1).min(self.lines.len());
                self.lines.splice(at..at, new_lines);
            }
            None => {
                if let Some(line) = self.lines.last_mut()
                    && line.end == LineEnd::None
                {
                    line.end = newline;
                }
                if self.lines.last().is_some_and(|l| !l.text.trim().is_empty()) {
                    self.lines.push(Line {
                        text: String::new(),
                        end: newline,
                    });
                }
                self.lines.push(Line {
                    text: format!("[{section}]"),
                    end: newline,
                });
                self.lines.extend(new_lines);
            }
        }
    }

    /// The comment lines between a key line and the last line of its value: they are
    /// not part of the value and survive edits of it.
    fn comments_within(&self, first: usize, last: usize) -> Vec<Line> {
        self.lines
            .get(first + 1..=last)
            .unwrap_or_default()
            .iter()
            .filter(|l| {
                let stripped = l.text.trim_matches(is_py_space);
                stripped.starts_with('#') || stripped.starts_with(';')
            })
            .cloned()
            .collect()
    }

    /// Removes `key` (and its continuation lines) from `section`; returns whether it
    /// was there.
    pub fn remove(&mut self, section: &str, key: &str) -> Result<bool, EditError> {
        let lower = key.to_lowercase();
        let Some((first, last)) = self
            .blocks
            .iter()
            .filter(|b| b.name == section)
            .flat_map(|b| b.entries.iter())
            .find(|e| e.key == lower)
            .map(|e| (e.first, e.last))
        else {
            return Ok(false);
        };
        let saved = self.lines.clone();
        let tail_end = self.lines.get(last).map_or(LineEnd::None, |l| l.end);
        let mut kept = self.comments_within(first, last);
        if let Some(final_line) = kept.last_mut() {
            final_line.end = tail_end;
        }
        let kept_any = !kept.is_empty();
        let end = last.min(self.lines.len().saturating_sub(1));
        self.lines.splice(first..=end, kept);
        // Keep a file without a final line break that way.
        if !kept_any
            && tail_end == LineEnd::None
            && first == self.lines.len()
            && let Some(line) = self.lines.last_mut()
            && !line.text.is_empty()
        {
            line.end = LineEnd::None;
        }
        if let Err(error) = self.reparse() {
            self.lines = saved;
            self.reparse().map_err(EditError::Reparse)?;
            return Err(EditError::Reparse(error));
        }
        Ok(true)
    }

    /// Applies token changes to `section` in order; returns whether the text changed.
    pub fn apply(&mut self, section: &str, changes: &CacheChanges) -> Result<bool, EditError> {
        let mut changed = false;
        for change in changes {
            match change {
                CacheChange::Set(key, value) => {
                    if self.get_own(section, key.as_str()) != Some(value.as_str()) {
                        self.set(section, key.as_str(), value)?;
                        changed = true;
                    }
                }
                CacheChange::Remove(key) => changed |= self.remove(section, key.as_str())?,
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, f: impl FnOnce(&mut IniDocument)) -> String {
        let mut document = IniDocument::parse(text).unwrap();
        f(&mut document);
        let out = document.to_string();
        assert_eq!(
            IniDocument::parse(&out).unwrap(),
            document,
            "reparse of {out:?}"
        );
        out
    }

    #[test]
    fn set_existing_keeps_spelling_and_separator() {
        let out = edit("[a@b]\n# c\nAccess_Token:old\nx = 1\n", |d| {
            d.set("a@b", "access_token", "new").unwrap()
        });
        assert_eq!(out, "[a@b]\n# c\nAccess_Token:new\nx = 1\n");
    }

    #[test]
    fn set_replaces_continuation_lines() {
        let out = edit("[a@b]\nk = one\n  two\n\n  three\nz = 1\n", |d| {
            d.set("a@b", "k", "v").unwrap()
        });
        assert_eq!(out, "[a@b]\nk = v\nz = 1\n");
    }

    #[test]
    fn set_missing_key_goes_after_last_key() {
        let out = edit("[a@b]\nk = v\n\n# next\n[c]\nx=1", |d| {
            d.set("a@b", "token_salt", "s").unwrap()
        });
        assert_eq!(out, "[a@b]\nk = v\ntoken_salt = s\n\n# next\n[c]\nx=1");
        let out = edit("[c]\nx=1", |d| d.set("c", "y", "2").unwrap());
        assert_eq!(out, "[c]\nx=1\ny = 2");
        let out = edit("[c]\r\nx=1\r\n", |d| d.set("c", "y", "2").unwrap());
        assert_eq!(out, "[c]\r\nx=1\r\ny = 2\r\n");
    }

    #[test]
    fn set_missing_section_appends() {
        let out = edit("[c]\nx=1", |d| d.set("u@d", "access_token", "t").unwrap());
        assert_eq!(out, "[c]\nx=1\n\n[u@d]\naccess_token = t\n");
        let out = edit("", |d| d.set("u@d", "k", "t").unwrap());
        assert_eq!(out, "[u@d]\nk = t\n");
    }

    /// Found by fuzzing (`token_config`): an empty line ending in `\n` right after a line
    /// ending in a lone `\r` was written as one `\r\n` and read back without the empty line.
    #[test]
    fn edits_after_a_lone_carriage_return_read_back_the_same() {
        let out = edit("\n#\r", |d| d.set("u@d", "access_token", "t").unwrap());
        assert_eq!(out, "\n#\r\r[u@d]\naccess_token = t\n");
        let out = edit("[a]\rk = v\n\nx = 1\n", |d| {
            assert!(d.remove("a", "k").unwrap());
        });
        assert_eq!(out, "[a]\r\rx = 1\n");
    }

    #[test]
    fn multi_line_values_round_trip() {
        let out = edit("[c]\nx=1\n", |d| d.set("c", "doc", "a\nb").unwrap());
        assert_eq!(out, "[c]\nx=1\ndoc = a\n\tb\n");
    }

    #[test]
    fn unrepresentable_values_are_refused() {
        let mut document = IniDocument::parse("[c]\nx=1\n").unwrap();
        for value in [" lead", "trail ", "a\n#b", "a\rb"] {
            assert!(document.set("c", "y", value).is_err(), "{value:?}");
        }
        assert!(document.set("c", "a=b", "v").is_err());
        assert!(document.set("bad\nname", "k", "v").is_err());
        assert_eq!(document.to_string(), "[c]\nx=1\n");
    }

    #[test]
    fn comments_inside_a_value_survive_edits() {
        let out = edit("[c]\nk = a\n# note\n  b\nz = 1\n", |d| {
            d.set("c", "k", "v").unwrap()
        });
        assert_eq!(out, "[c]\nk = v\n# note\nz = 1\n");
        let out = edit("[c]\nk = a\n# note\n  b", |d| {
            assert!(d.remove("c", "k").unwrap())
        });
        assert_eq!(out, "[c]\n# note");
    }

    #[test]
    fn remove_drops_only_the_key() {
        let out = edit("[c]\nx=1\n  more\n# keep\ny=2\n", |d| {
            assert!(d.remove("c", "X").unwrap())
        });
        assert_eq!(out, "[c]\n# keep\ny=2\n");
        let out = edit("[c]\nx=1\ny=2", |d| assert!(d.remove("c", "y").unwrap()));
        assert_eq!(out, "[c]\nx=1");
        let out = edit("[c]\nx=1\n", |d| assert!(!d.remove("c", "zz").unwrap()));
        assert_eq!(out, "[c]\nx=1\n");
    }
}
