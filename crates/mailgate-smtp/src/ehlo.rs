//! The EHLO reply as a capability list that can be read and rewritten.

use std::borrow::Cow;
use std::fmt;

use crate::reply::Reply;

/// One service extension line of an EHLO reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `SIZE [n]` (RFC 1870): the largest message accepted, if declared.
    Size(Option<u64>),
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `CHUNKING` (RFC 3030): BDAT.
    Chunking,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// `AUTH mech ...` (RFC 4954), mechanisms as advertised.
    Auth(Vec<String>),
    /// `AUTH=mech ...`: the pre-standard form some old clients (Outlook Express era) look for.
    AuthLegacy(Vec<String>),
    /// Any other extension, the whole line verbatim (e.g. `DELIVERBY`, `X-EXPS GSSAPI`).
    Other(String),
}

impl Capability {
    /// Parses one EHLO line (keyword matching is case-insensitive).
    pub fn parse(line: &str) -> Capability {
        let (keyword, params) = match line.split_once(' ') {
            Some((k, p)) => (k, Some(p)),
            None => (line, None),
        };
        let mechs = |p: Option<&str>| -> Vec<String> {
            p.unwrap_or("")
                .split(' ')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let bare = |cap: Capability| {
            if params.is_none() {
                cap
            } else {
                Capability::Other(line.to_owned())
            }
        };
        let k = keyword.to_ascii_uppercase();
        match k.as_str() {
            "PIPELINING" => bare(Capability::Pipelining),
            "8BITMIME" => bare(Capability::EightBitMime),
            "SMTPUTF8" => bare(Capability::SmtpUtf8),
            "CHUNKING" => bare(Capability::Chunking),
            "BINARYMIME" => bare(Capability::BinaryMime),
            "ENHANCEDSTATUSCODES" => bare(Capability::EnhancedStatusCodes),
            "DSN" => bare(Capability::Dsn),
            "STARTTLS" => bare(Capability::StartTls),
            "REQUIRETLS" => bare(Capability::RequireTls),
            "SIZE" => match params {
                None => Capability::Size(None),
                Some(p)
                    if !p.is_empty() && p.len() <= 20 && p.bytes().all(|c| c.is_ascii_digit()) =>
                {
                    p.parse().map_or_else(
                        |_| Capability::Other(line.to_owned()),
                        |n| Capability::Size(Some(n)),
                    )
                }
                Some(_) => Capability::Other(line.to_owned()),
            },
            "AUTH" => Capability::Auth(mechs(params)),
            _ if k.starts_with("AUTH=") => {
                let mut list = vec![keyword[5..].to_owned()];
                list.extend(mechs(params));
                list.retain(|m| !m.is_empty());
                Capability::AuthLegacy(list)
            }
            _ => Capability::Other(line.to_owned()),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Pipelining => f.write_str("PIPELINING"),
            Capability::Size(None) => f.write_str("SIZE"),
            Capability::Size(Some(n)) => write!(f, "SIZE {n}"),
            Capability::EightBitMime => f.write_str("8BITMIME"),
            Capability::SmtpUtf8 => f.write_str("SMTPUTF8"),
            Capability::Chunking => f.write_str("CHUNKING"),
            Capability::BinaryMime => f.write_str("BINARYMIME"),
            Capability::EnhancedStatusCodes => f.write_str("ENHANCEDSTATUSCODES"),
            Capability::Dsn => f.write_str("DSN"),
            Capability::StartTls => f.write_str("STARTTLS"),
            Capability::RequireTls => f.write_str("REQUIRETLS"),
            Capability::Auth(m) => {
                f.write_str("AUTH")?;
                m.iter().try_for_each(|m| write!(f, " {m}"))
            }
            Capability::AuthLegacy(m) => {
                f.write_str("AUTH=")?;
                f.write_str(&m.join(" "))
            }
            Capability::Other(line) => f.write_str(line),
        }
    }
}

/// A positive EHLO reply: the server's domain, its greeting text and its extensions.
///
/// ```
/// use mailgate_smtp::{Capability, EhloReply};
/// let mut ehlo = EhloReply::parse(
///     b"250-smtp.example.com Hello\r\n250-STARTTLS\r\n250-AUTH=LOGIN\r\n250 AUTH LOGIN XOAUTH2\r\n",
/// ).unwrap();
/// assert!(ehlo.has(&Capability::StartTls));
/// ehlo.set_starttls(false);
/// ehlo.set_auth_mechanisms(&["PLAIN", "LOGIN"]);
/// assert_eq!(
///     ehlo.to_reply().to_bytes(),
///     b"250-smtp.example.com Hello\r\n250 AUTH PLAIN LOGIN\r\n",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EhloReply {
    /// The domain the server names itself with.
    pub domain: String,
    /// The rest of the first line (may be empty).
    pub greeting: String,
    /// Extensions in the order advertised.
    pub capabilities: Vec<Capability>,
}

impl EhloReply {
    /// A reply with no extensions.
    pub fn new(domain: impl Into<String>) -> Self {
        EhloReply {
            domain: domain.into(),
            greeting: String::new(),
            capabilities: Vec::new(),
        }
    }

    /// Reads a parsed reply; `None` unless its code is 250.
    pub fn from_reply(reply: &Reply<'_>) -> Option<Self> {
        if reply.code != 250 {
            return None;
        }
        let mut lines = reply.lines.iter();
        let first: &str = lines.next().map_or("", |l| l);
        // The status was stripped from the first line by the reply parser; the greeting
        // is what follows the domain.
        let (domain, greeting) = first.split_once(' ').unwrap_or((first, ""));
        let capabilities = lines
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .map(Capability::parse)
            .collect();
        Some(EhloReply {
            domain: domain.to_owned(),
            greeting: greeting.to_owned(),
            capabilities,
        })
    }

    /// Parses a whole EHLO reply from bytes (default limits).
    pub fn parse(input: &[u8]) -> Option<Self> {
        match Reply::parse(input, &crate::Limits::default()) {
            Ok(crate::ReplyStatus::Complete(reply, _)) => Self::from_reply(&reply),
            _ => None,
        }
    }

    /// The reply to send: `250-domain greeting`, then one line per extension.
    pub fn to_reply(&self) -> Reply<'static> {
        let first = if self.greeting.is_empty() {
            self.domain.clone()
        } else {
            format!("{} {}", self.domain, self.greeting)
        };
        let lines = std::iter::once(Cow::Owned(first))
            .chain(self.capabilities.iter().map(|c| Cow::Owned(c.to_string())));
        Reply::multiline(250, None, lines)
    }

    /// Whether the extension is advertised. `Size`, `Auth`, `AuthLegacy` and `Other`
    /// match on kind alone, whatever their parameters.
    pub fn has(&self, cap: &Capability) -> bool {
        self.capabilities
            .iter()
            .any(|c| std::mem::discriminant(c) == std::mem::discriminant(cap))
    }

    /// The advertised maximum message size (`SIZE n`), if any.
    pub fn size(&self) -> Option<u64> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Size(n) => *n,
            _ => None,
        })
    }

    /// Every advertised SASL mechanism, from both the `AUTH` and the legacy `AUTH=` lines,
    /// without duplicates, in order of first appearance.
    pub fn auth_mechanisms(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.capabilities {
            if let Capability::Auth(m) | Capability::AuthLegacy(m) = c {
                for m in m {
                    if !out.iter().any(|o| o.eq_ignore_ascii_case(m)) {
                        out.push(m);
                    }
                }
            }
        }
        out
    }

    /// Whether `mechanism` is advertised (case-insensitive).
    pub fn supports_auth(&self, mechanism: &str) -> bool {
        self.auth_mechanisms()
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    /// Replaces every `AUTH` and `AUTH=` line with one `AUTH` line listing `mechanisms`
    /// at the position of the first; removes AUTH entirely when the list is empty.
    pub fn set_auth_mechanisms(&mut self, mechanisms: &[&str]) {
        let at = self
            .capabilities
            .iter()
            .position(|c| matches!(c, Capability::Auth(_) | Capability::AuthLegacy(_)))
            .unwrap_or(self.capabilities.len());
        self.capabilities
            .retain(|c| !matches!(c, Capability::Auth(_) | Capability::AuthLegacy(_)));
        if !mechanisms.is_empty() {
            let at = at.min(self.capabilities.len());
            let list = mechanisms.iter().map(|m| (*m).to_owned()).collect();
            self.capabilities.insert(at, Capability::Auth(list));
        }
    }

    /// Offers (appending if missing) or hides `STARTTLS`.
    pub fn set_starttls(&mut self, offer: bool) {
        if offer {
            if !self.has(&Capability::StartTls) {
                self.capabilities.push(Capability::StartTls);
            }
        } else {
            self.capabilities.retain(|c| *c != Capability::StartTls);
        }
    }

    /// Keeps only the extensions for which `keep` returns true.
    pub fn retain(&mut self, keep: impl FnMut(&Capability) -> bool) {
        self.capabilities.retain(keep);
    }
}
