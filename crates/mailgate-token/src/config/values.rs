//! Typed readings of text values, as `ConfigParser.getboolean` / `getint` read them.

/// Reads a boolean the way `ConfigParser.getboolean` does: `1`, `yes`, `true`, `on`
/// and `0`, `no`, `false`, `off`, in any letter case.
///
/// ```
/// use mailgate_token::config::parse_bool;
///
/// assert_eq!(parse_bool("True"), Some(true));
/// assert_eq!(parse_bool("off"), Some(false));
/// assert_eq!(parse_bool("maybe"), None);
/// ```
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Reads an integer the way Python's `int()` reads text: surrounding white space, an
/// optional sign, ASCII digits with single `_` between digits.
///
/// ```
/// use mailgate_token::config::parse_int;
///
/// assert_eq!(parse_int(" 1_200_000 "), Some(1_200_000));
/// assert_eq!(parse_int("-5"), Some(-5));
/// assert_eq!(parse_int("1.5"), None);
/// ```
pub fn parse_int(value: &str) -> Option<i64> {
    let text = super::document::py_strip(value);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut number: i64 = 0;
    for byte in digits.bytes() {
        match byte {
            b'_' => {}
            b'0'..=b'9' => {
                number = number
                    .checked_mul(10)?
                    .checked_add(i64::from(byte - b'0'))?;
            }
            _ => return None,
        }
    }
    Some(if negative { -number } else { number })
}

/// A Unix time in seconds as the cache stores it (`access_token_expiry`, `last_activity`):
/// an integer as [`parse_int`] reads it; a negative one is no time.
pub(crate) fn parse_unix_time(value: &str) -> Option<u64> {
    parse_int(value).and_then(|n| u64::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_table() {
        let cases = [
            ("1", Some(true)),
            ("yes", Some(true)),
            ("TRUE", Some(true)),
            ("On", Some(true)),
            ("0", Some(false)),
            ("No", Some(false)),
            ("false", Some(false)),
            ("OFF", Some(false)),
            ("", None),
            ("y", None),
            ("2", None),
            (" true", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_bool(text), expected, "{text:?}");
        }
    }

    #[test]
    fn integers_table() {
        let cases = [
            ("0", Some(0)),
            ("100000", Some(100_000)),
            ("+7", Some(7)),
            ("-7", Some(-7)),
            ("1_000", Some(1000)),
            ("\t42\n", Some(42)),
            ("", None),
            ("-", None),
            ("_1", None),
            ("1__0", None),
            ("1_", None),
            ("0x10", None),
            ("99999999999999999999", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_int(text), expected, "{text:?}");
        }
    }
}
