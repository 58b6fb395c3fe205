//! Character classes of the IMAP grammar (RFC 9051 section 9), as one lookup table.

/// `ATOM-CHAR`: any CHAR except atom-specials.
pub(crate) const ATOM: u8 = 1;
/// `ASTRING-CHAR`: ATOM-CHAR or `]`.
pub(crate) const ASTRING: u8 = 2;
/// Tag characters: ASTRING-CHAR except `+`.
pub(crate) const TAG: u8 = 4;
/// `list-char`: ATOM-CHAR, list-wildcards or `]`.
pub(crate) const LIST: u8 = 8;
/// `TEXT-CHAR`: any CHAR except CR and LF (NUL excluded too).
pub(crate) const TEXT: u8 = 16;
/// Quoted-string characters that need no escape: TEXT-CHAR except `"` and `\`.
pub(crate) const QUOTED: u8 = 32;
/// `DIGIT`.
pub(crate) const DIGIT: u8 = 64;
/// base64 characters (without `=` padding).
pub(crate) const BASE64: u8 = 128;

const fn is_atom_special(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
    ) || b < 0x20
        || b == 0x7f
}

const fn classes(b: u8) -> u8 {
    let mut c = 0;
    let is_char = b >= 0x01 && b <= 0x7f;
    if is_char && !is_atom_special(b) {
        c |= ATOM | ASTRING | LIST;
        if b != b'+' {
            c |= TAG;
        }
    }
    if b == b']' {
        c |= ASTRING | TAG | LIST;
    }
    if b == b'%' || b == b'*' {
        c |= LIST;
    }
    if is_char && b != b'\r' && b != b'\n' {
        c |= TEXT;
        if b != b'"' && b != b'\\' {
            c |= QUOTED;
        }
    }
    if b.is_ascii_digit() {
        c |= DIGIT;
    }
    if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
        c |= BASE64;
    }
    c
}

/// Class bits for every byte value.
pub(crate) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = classes(i as u8);
        i += 1;
    }
    t
};

/// Tests whether `b` is in `class`.
#[inline]
pub(crate) fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Length of the prefix of `input` whose bytes are all in `class`.
#[inline]
pub(crate) fn span(input: &[u8], class: u8) -> usize {
    input
        .iter()
        .position(|&b| !is(b, class))
        .unwrap_or(input.len())
}

/// Tests whether all bytes of `input` are in `class` (and `input` is non-empty).
#[inline]
pub(crate) fn all(input: &[u8], class: u8) -> bool {
    !input.is_empty() && input.iter().all(|&b| is(b, class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_the_grammar() {
        assert!(is(b'a', ATOM) && is(b'a', TAG) && is(b'+', ATOM) && !is(b'+', TAG));
        assert!(!is(b']', ATOM) && is(b']', ASTRING) && is(b']', TAG));
        for b in [
            b'(', b')', b'{', b' ', b'%', b'*', b'"', b'\\', 0x7f, 0, b'\r', 0x80, 0xff,
        ] {
            assert!(!is(b, ATOM), "{b}");
        }
        assert!(is(b'%', LIST) && is(b'*', LIST) && !is(b'(', LIST));
        assert!(is(b'"', TEXT) && !is(b'"', QUOTED) && !is(b'\n', TEXT) && !is(0, TEXT));
        assert_eq!(span(b"abc def", ATOM), 3);
        assert!(all(b"0123", DIGIT) && !all(b"", DIGIT));
    }
}
