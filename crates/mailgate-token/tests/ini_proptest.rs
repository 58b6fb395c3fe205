//! Property tests of the lossless INI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_token::config::IniDocument;
use proptest::prelude::*;

/// One generated line (before numbering makes section and key names unique).
#[derive(Debug, Clone)]
enum Piece {
    Section,
    Key { sep: &'static str, value: String },
    Continuation(String),
    Comment(String),
    Blank(&'static str),
}

fn piece() -> impl Strategy<Value = Piece> {
    let text = "[a-zA-Z0-9 ./:=#;%@_\\-\\[\\]]{0,20}";
    prop_oneof![
        1 => Just(Piece::Section),
        4 => (prop::sample::select(vec![" = ", "=", ": ", ":", " : ", "\t=\t"]), text)
            .prop_map(|(sep, value)| Piece::Key { sep, value }),
        1 => "[a-zA-Z0-9 ./=]{1,20}".prop_map(Piece::Continuation),
        1 => text.prop_map(Piece::Comment),
        1 => prop::sample::select(vec!["", "  ", "\t"]).prop_map(Piece::Blank),
    ]
}

fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(piece(), 0..40),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
        any::<bool>(),
    )
        .prop_map(|(pieces, newline, final_newline)| {
            let mut lines = vec!["[first@example.com]".to_owned()];
            // A continuation needs a key before it (blank lines and comments may intervene).
            let mut in_value = false;
            for (i, piece) in pieces.into_iter().enumerate() {
                let piece = match piece {
                    Piece::Continuation(_) if !in_value => Piece::Comment(String::new()),
                    other => other,
                };
                match &piece {
                    Piece::Section => in_value = false,
                    Piece::Key { .. } => in_value = true,
                    _ => {}
                }
                lines.push(match piece {
                    Piece::Section => format!("[Section {i}]"),
                    Piece::Key { sep, value } => format!("Key_{i}{sep}{}", value.trim()),
                    Piece::Continuation(text) => format!("    {}x", text.trim()),
                    Piece::Comment(text) => {
                        format!("{}{}", if i % 2 == 0 { "#" } else { ";" }, text)
                    }
                    Piece::Blank(blank) => blank.to_owned(),
                });
            }
            let mut text = lines.join(newline);
            if final_newline {
                text.push_str(newline);
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn unchanged_documents_write_back_byte_for_byte(text in document()) {
        let parsed = IniDocument::parse(&text).unwrap();
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn arbitrary_text_never_panics_and_round_trips(text in "\\PC{0,200}") {
        if let Ok(parsed) = IniDocument::parse(&text) {
            prop_assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn updates_keep_every_other_line(
        text in document(),
        edits in prop::collection::vec((0usize..60, "[A-Za-z0-9+/=_-]{1,40}", any::<bool>()), 1..6),
    ) {
        let mut document = IniDocument::parse(&text).unwrap();
        let sections: Vec<String> = document.sections().map(str::to_owned).collect();
        for (pick, value, remove) in edits {
            let section = &sections[pick % sections.len()];
            let keys: Vec<String> = document.entries(section).map(|(k, _)| k.to_owned()).collect();
            let key = if keys.is_empty() || pick % 3 == 0 { "access_token".to_owned() } else { keys[pick % keys.len()].clone() };
            let before: Vec<(String, String, String)> = document
                .sections()
                .flat_map(|s| document.entries(s).map(move |(k, v)| (s.to_owned(), k.to_owned(), v.to_owned())))
                .filter(|(s, k, _)| !(s == section && *k == key))
                .collect();
            let comments_before: Vec<String> = document.to_string().lines().filter(|l| l.starts_with(['#', ';'])).map(str::to_owned).collect();
            if remove {
                document.remove(section, &key).unwrap();
                prop_assert_eq!(document.get_own(section, &key), None);
            } else {
                document.set(section, &key, &value).unwrap();
                prop_assert_eq!(document.get_own(section, &key), Some(value.as_str()));
            }
            let written = document.to_string();
            let reread = IniDocument::parse(&written).unwrap();
            prop_assert_eq!(&reread, &document);
            let after: Vec<(String, String, String)> = reread
                .sections()
                .flat_map(|s| reread.entries(s).map(move |(k, v)| (s.to_owned(), k.to_owned(), v.to_owned())))
                .filter(|(s, k, _)| !(s == section && *k == key))
                .collect();
            prop_assert_eq!(before, after);
            let comments_after: Vec<String> = written.lines().filter(|l| l.starts_with(['#', ';'])).map(str::to_owned).collect();
            prop_assert_eq!(comments_before, comments_after);
        }
    }
}
