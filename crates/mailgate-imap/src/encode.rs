//! Canonical wire encoding.

/// A value that can be written in its canonical IMAP wire form.
///
/// Encoding a parsed value and parsing the result again gives the same value.
pub trait Encode {
    /// Appends the wire bytes of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Returns the wire bytes of `self` in a new buffer.
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

/// Writes a decimal number without allocating.
pub(crate) fn encode_u64(n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes items separated by `sep`.
pub(crate) fn encode_separated<T: Encode>(items: &[T], sep: u8, out: &mut Vec<u8>) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        item.encode(out);
    }
}

/// Writes a parenthesized list of items separated by spaces.
pub(crate) fn encode_list<T: Encode>(items: &[T], out: &mut Vec<u8>) {
    out.push(b'(');
    encode_separated(items, b' ', out);
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (n, s) in [
            (0u64, "0"),
            (7, "7"),
            (10, "10"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let mut v = Vec::new();
            encode_u64(n, &mut v);
            assert_eq!(v, s.as_bytes());
        }
    }
}
