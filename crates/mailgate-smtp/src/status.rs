//! Enhanced mail system status codes (RFC 3463 `class.subject.detail`).

use std::fmt;

/// An enhanced status code such as `5.7.8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedStatus {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// Subject, 0 to 999.
    pub subject: u16,
    /// Detail, 0 to 999.
    pub detail: u16,
}

impl EnhancedStatus {
    /// Builds a code; `None` unless class is 2, 4 or 5 and the others are below 1000.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000 {
            Some(EnhancedStatus {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    /// Parses a code at the start of `text`, which must be followed by SP or end there.
    /// Returns the code and the length of its text (without the SP).
    pub fn parse_prefix(text: &str) -> Option<(Self, usize)> {
        let b = text.as_bytes();
        let class = match b.first() {
            Some(c @ (b'2' | b'4' | b'5')) => c - b'0',
            _ => return None,
        };
        if b.get(1) != Some(&b'.') {
            return None;
        }
        let (subject, n1) = number(&b[2..])?;
        let mut at = 2 + n1;
        if b.get(at) != Some(&b'.') {
            return None;
        }
        at += 1;
        let (detail, n2) = number(&b[at..])?;
        at += n2;
        match b.get(at) {
            None | Some(b' ') => Some((
                EnhancedStatus {
                    class,
                    subject,
                    detail,
                },
                at,
            )),
            _ => None,
        }
    }
}

/// One to three digits, no leading zeros beyond a lone `0`.
fn number(b: &[u8]) -> Option<(u16, usize)> {
    let n = b.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 3 || (n > 1 && b[0] == b'0') {
        return None;
    }
    let mut v = 0u16;
    for c in &b[..n] {
        v = v * 10 + u16::from(c - b'0');
    }
    Some((v, n))
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (&'static str, Option<(u8, u16, u16, usize)>);

    #[test]
    fn table() {
        let rows: &[Row] = &[
            ("2.0.0", Some((2, 0, 0, 5))),
            ("5.7.8 Error", Some((5, 7, 8, 5))),
            ("4.4.2 x", Some((4, 4, 2, 5))),
            ("5.5.10 x", Some((5, 5, 10, 6))),
            ("5.123.456", Some((5, 123, 456, 9))),
            ("5.1234.1", None),
            ("3.0.0", None),
            ("5.07.1", None),
            ("5.7", None),
            ("5.7.8x", None),
            ("5..8", None),
            ("", None),
        ];
        for (input, want) in rows {
            let got =
                EnhancedStatus::parse_prefix(input).map(|(s, n)| (s.class, s.subject, s.detail, n));
            assert_eq!(got, *want, "{input:?}");
        }
    }
}
