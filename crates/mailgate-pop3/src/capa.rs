//! The `CAPA` response (RFC 2449 section 5): read and rewrite capabilities.

use crate::{StatusLine, dot_stuff};

/// One capability line: a tag and its arguments, e.g. `SASL PLAIN LOGIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The capability tag as sent (compared case-insensitively).
    pub name: String,
    /// The space-separated arguments.
    pub args: Vec<String>,
}

impl Capability {
    /// A capability with arguments.
    pub fn new(name: &str, args: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// Whether the tag equals `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The capability list of a POP3 server, in the order the server sent it.
///
/// ```
/// use mailgate_pop3::Capabilities;
///
/// let mut capa = Capabilities::parse(b"TOP\r\nUIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\nSTLS\r\n");
/// assert_eq!(capa.sasl_mechanisms(), ["XOAUTH2", "OAUTHBEARER"]);
/// // What a proxy shows its local clients: password logins, no STLS.
/// capa.set_sasl(&["PLAIN", "LOGIN"]);
/// capa.set("USER", &[]);
/// capa.remove("STLS");
/// assert_eq!(capa.to_body(), b"TOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\nUSER\r\n.\r\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    items: Vec<Capability>,
}

impl Capabilities {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a decoded (unstuffed) `CAPA` body: one capability per line. Empty
    /// lines are skipped, runs of spaces separate arguments, invalid UTF-8 is
    /// replaced. Never fails: a capability list is advisory.
    pub fn parse(body: &[u8]) -> Self {
        let items = body
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter_map(|line| {
                let text = String::from_utf8_lossy(line);
                let mut words = text.split(' ').filter(|w| !w.is_empty());
                let name = words.next()?.to_owned();
                Some(Capability {
                    name,
                    args: words.map(str::to_owned).collect(),
                })
            })
            .collect();
        Self { items }
    }

    /// The capabilities in order.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.items.iter()
    }

    /// The number of capabilities.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The capability named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Capability> {
        self.items.iter().find(|c| c.is(name))
    }

    /// Whether the capability `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `args`: replaces the first capability with that name in place
    /// (removing any duplicates) or appends it.
    pub fn set(&mut self, name: &str, args: &[&str]) {
        let new = Capability::new(name, args);
        match self.items.iter().position(|c| c.is(name)) {
            Some(i) => {
                let mut seen = false;
                self.items.retain(|c| {
                    if !c.is(name) {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
                if let Some(slot) = self.items.get_mut(i) {
                    *slot = new;
                }
            }
            None => self.items.push(new),
        }
    }

    /// Removes every capability named `name`; returns whether any was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|c| !c.is(name));
        self.items.len() != before
    }

    /// The mechanisms of the `SASL` capability (empty if absent).
    pub fn sasl_mechanisms(&self) -> Vec<&str> {
        self.get("SASL")
            .map(|c| c.args.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether `SASL` lists `mechanism` (case-insensitive).
    pub fn supports_sasl(&self, mechanism: &str) -> bool {
        self.sasl_mechanisms()
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    /// Replaces the `SASL` line with `mechanisms`; an empty slice removes it.
    pub fn set_sasl(&mut self, mechanisms: &[&str]) {
        if mechanisms.is_empty() {
            self.remove("SASL");
        } else {
            self.set("SASL", mechanisms);
        }
    }

    /// The body lines, dot-stuffed, with the terminating `.CRLF`.
    pub fn to_body(&self) -> Vec<u8> {
        let mut lines = Vec::new();
        for c in &self.items {
            lines.extend_from_slice(c.name.as_bytes());
            for a in &c.args {
                lines.push(b' ');
                lines.extend_from_slice(a.as_bytes());
            }
            lines.extend_from_slice(b"\r\n");
        }
        let mut out = Vec::new();
        dot_stuff(&lines, &mut out);
        out
    }

    /// The whole `CAPA` response: `+OK` line, body and terminator.
    pub fn to_response(&self) -> Vec<u8> {
        let mut out = StatusLine::ok("Capability list follows").to_bytes();
        out.extend_from_slice(&self.to_body());
        out
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Self {
            items: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MultilineDecoder;
    use proptest::prelude::*;

    const DOVECOT: &[u8] = b"CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN\r\n";
    const OFFICE365: &[u8] = b"TOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n";

    #[test]
    fn read_dovecot() {
        let c = Capabilities::parse(DOVECOT);
        assert_eq!(c.len(), 9);
        assert!(c.contains("stls"));
        assert!(c.contains("PIPELINING"));
        assert!(c.supports_sasl("login"));
        assert!(!c.supports_sasl("XOAUTH2"));
        assert_eq!(c.get("SASL").unwrap().args, ["PLAIN", "LOGIN"]);
    }

    #[test]
    fn rewrite_office365_for_local_clients() {
        let mut c = Capabilities::parse(OFFICE365);
        assert!(c.supports_sasl("XOAUTH2"));
        c.set_sasl(&["PLAIN", "LOGIN"]);
        c.set("USER", &[]);
        c.set("IMPLEMENTATION", &["mailgate"]);
        assert_eq!(
            c.to_body(),
            b"TOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\nUSER\r\nIMPLEMENTATION mailgate\r\n.\r\n"
        );
        c.set_sasl(&[]);
        c.remove("USER");
        assert!(!c.contains("SASL"));
        assert_eq!(c.sasl_mechanisms(), Vec::<&str>::new());
    }

    #[test]
    fn set_replaces_duplicates_in_place() {
        let mut c = Capabilities::parse(b"A\r\nSASL X\r\nB\r\nsasl Y\r\n");
        c.set("SASL", &["PLAIN"]);
        assert_eq!(c.to_body(), b"A\r\nSASL PLAIN\r\nB\r\n.\r\n");
    }

    #[test]
    fn tolerant_parse() {
        let c = Capabilities::parse(b"\r\n  TOP  \r\nLOGIN-DELAY 900\nX \xff\r\n");
        let names: Vec<_> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["TOP", "LOGIN-DELAY", "X"]);
        assert_eq!(c.get("login-delay").unwrap().args, ["900"]);
    }

    #[test]
    fn response() {
        let c: Capabilities = [Capability::new("USER", &[])].into_iter().collect();
        assert_eq!(
            c.to_response(),
            b"+OK Capability list follows\r\nUSER\r\n.\r\n"
        );
    }

    fn arb_capabilities() -> impl Strategy<Value = Capabilities> {
        proptest::collection::vec(
            (
                "[A-Z][A-Z0-9-]{0,11}",
                proptest::collection::vec("[!-~]{1,10}", 0..4),
            ),
            0..8,
        )
        .prop_map(|items| {
            items
                .into_iter()
                .map(|(name, args)| Capability { name, args })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trip(c in arb_capabilities()) {
            let wire = c.to_body();
            let mut dec = MultilineDecoder::new(512, 64 * 1024);
            let mut body = Vec::new();
            let p = dec.decode(&wire, &mut body).unwrap();
            prop_assert!(p.done);
            prop_assert_eq!(p.consumed, wire.len());
            prop_assert_eq!(Capabilities::parse(&body), c);
        }
    }
}
