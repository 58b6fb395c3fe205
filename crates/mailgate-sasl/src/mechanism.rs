//! SASL mechanism names.

use core::fmt;
use core::str::FromStr;

use crate::SaslError;

/// A SASL mechanism this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login; the de-facto `Username:`/`Password:` exchange).
    Login,
    /// `XOAUTH2` (Google and Microsoft OAuth 2.0 bearer mechanism).
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628).
    OAuthBearer,
}

impl Mechanism {
    /// All mechanisms, in the order a client would prefer them upstream.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    /// The registered name, upper case, as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Looks up a mechanism name case-insensitively (SASL names are case-insensitive
    /// on the wire in every protocol profile).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether this crate implements the server side of the mechanism.
    pub fn has_server(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mechanism {
    type Err = SaslError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s.as_bytes()).ok_or_else(|| SaslError::UnsupportedMechanism {
            name: truncate(s, 64),
        })
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.as_str().as_bytes()), Some(m));
            assert_eq!(m.to_string().parse::<Mechanism>().unwrap(), m);
        }
        assert_eq!(Mechanism::from_name(b"xoauth2"), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::from_name(b"Plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name(b"CRAM-MD5"), None);
        assert_eq!(Mechanism::from_name(b""), None);
        assert!("PLAINX".parse::<Mechanism>().is_err());
        let long = "é".repeat(100);
        match long.parse::<Mechanism>() {
            Err(SaslError::UnsupportedMechanism { name }) => assert!(name.len() <= 64),
            other => panic!("{other:?}"),
        }
    }
}
