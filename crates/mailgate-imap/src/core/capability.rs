//! Capabilities (`capability`), SASL mechanism names (`auth-type`) and charsets.

use std::borrow::Cow;
use std::fmt;

use super::atom::{Atom, atom};
use super::chars::{ATOM, TEXT, all};
use super::string::{encode_quoted, quoted};
use crate::config::ParserConfig;
use crate::encode::Encode;
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

macro_rules! known_names {
    (
        $(#[$doc:meta])* $enum:ident, $other:ident, $what:literal;
        $($variant:ident => $name:literal),* $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $enum<'a> {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
            /// Any other name.
            Other($other<'a>),
        }

        /// A name not covered by the known variants.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $other<'a>(Atom<'a>);

        impl<'a> $other<'a> {
            /// The name.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl<'a> $enum<'a> {
            fn known(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($name) { return Some(Self::$variant); })*
                None
            }

            /// The name as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Other(o) => o.as_str(),
                }
            }

            /// Detaches from the input buffer.
            pub fn into_owned(self) -> $enum<'static> {
                match self {
                    $(Self::$variant => $enum::$variant,)*
                    Self::Other(o) => $enum::Other($other(o.0.into_owned())),
                }
            }

            fn from_atom_inner(a: Atom<'a>) -> Self {
                Self::known(a.as_str()).unwrap_or(Self::Other($other(a)))
            }
        }

        impl<'a> TryFrom<&'a str> for $enum<'a> {
            type Error = ValidationError;
            fn try_from(s: &'a str) -> Result<Self, ValidationError> {
                let a = Atom::try_new(s).map_err(|_| ValidationError::new($what, "must be an atom"))?;
                Self::from_atom(a)
            }
        }

        impl fmt::Display for $enum<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

known_names! {
    /// A SASL mechanism name (`auth-type`).
    AuthMechanism, AuthMechanismOther, "auth-type";
    Plain => "PLAIN",
    Login => "LOGIN",
    XOAuth2 => "XOAUTH2",
    OAuthBearer => "OAUTHBEARER",
    ScramSha1 => "SCRAM-SHA-1",
    ScramSha256 => "SCRAM-SHA-256",
    External => "EXTERNAL",
    Anonymous => "ANONYMOUS",
}

impl<'a> AuthMechanism<'a> {
    /// Names the mechanism by an atom.
    pub fn from_atom(a: Atom<'a>) -> Result<Self, ValidationError> {
        Ok(Self::from_atom_inner(a))
    }
}

impl Encode for AuthMechanism<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_str().as_bytes());
    }
}

/// Parses an `auth-type`.
pub(crate) fn auth_mechanism<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, AuthMechanism<'a>> {
    let (rest, a) = atom(i, cfg)?;
    Ok((rest, AuthMechanism::from_atom_inner(a)))
}

known_names! {
    /// A capability name other than `AUTH=` (see [`Capability`]).
    CapabilityName, CapabilityOther, "capability";
    Imap4Rev1 => "IMAP4rev1",
    Imap4Rev2 => "IMAP4rev2",
    StartTls => "STARTTLS",
    LoginDisabled => "LOGINDISABLED",
    SaslIr => "SASL-IR",
    LiteralPlus => "LITERAL+",
    LiteralMinus => "LITERAL-",
    Idle => "IDLE",
    Id => "ID",
    Enable => "ENABLE",
    Move => "MOVE",
    UidPlus => "UIDPLUS",
    Namespace => "NAMESPACE",
    Unselect => "UNSELECT",
    Children => "CHILDREN",
    CompressDeflate => "COMPRESS=DEFLATE",
    CondStore => "CONDSTORE",
    QResync => "QRESYNC",
    ESearch => "ESEARCH",
    SearchRes => "SEARCHRES",
    Sort => "SORT",
    SortDisplay => "SORT=DISPLAY",
    ThreadReferences => "THREAD=REFERENCES",
    ThreadOrderedSubject => "THREAD=ORDEREDSUBJECT",
    ListExtended => "LIST-EXTENDED",
    ListStatus => "LIST-STATUS",
    SpecialUse => "SPECIAL-USE",
    CreateSpecialUse => "CREATE-SPECIAL-USE",
    Quota => "QUOTA",
    Metadata => "METADATA",
    MetadataServer => "METADATA-SERVER",
    Binary => "BINARY",
    MultiAppend => "MULTIAPPEND",
    Utf8Accept => "UTF8=ACCEPT",
    Utf8Only => "UTF8=ONLY",
    StatusSize => "STATUS=SIZE",
    ObjectId => "OBJECTID",
    Acl => "ACL",
    Within => "WITHIN",
    Xlist => "XLIST",
    GmailExt1 => "X-GM-EXT-1",
}

impl<'a> CapabilityName<'a> {
    /// Names a capability by an atom (not an `AUTH=` atom).
    pub fn from_atom(a: Atom<'a>) -> Result<Self, ValidationError> {
        if a.as_str().len() >= 5 && a.as_str().as_bytes()[..5].eq_ignore_ascii_case(b"AUTH=") {
            return Err(ValidationError::new(
                "capability",
                "AUTH= names a mechanism, use Capability::Auth",
            ));
        }
        Ok(Self::from_atom_inner(a))
    }
}

/// A capability (`capability`): `AUTH=` plus a mechanism, or a named capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability<'a> {
    /// `AUTH=<mechanism>`.
    Auth(AuthMechanism<'a>),
    /// Any other capability.
    Name(CapabilityName<'a>),
}

impl Capability<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Capability<'static> {
        match self {
            Self::Auth(m) => Capability::Auth(m.into_owned()),
            Self::Name(n) => Capability::Name(n.into_owned()),
        }
    }
}

impl<'a> TryFrom<&'a str> for Capability<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        let a =
            Atom::try_new(s).map_err(|_| ValidationError::new("capability", "must be an atom"))?;
        Ok(capability_from_atom(a))
    }
}

fn capability_from_atom(a: Atom<'_>) -> Capability<'_> {
    let s = a.as_str();
    if s.len() > 5
        && s.as_bytes()[..5].eq_ignore_ascii_case(b"AUTH=")
        && let Ok(m) = Atom::try_new(s[5..].to_owned())
    {
        return Capability::Auth(AuthMechanism::from_atom_inner(m));
    }
    Capability::Name(CapabilityName::from_atom_inner(a))
}

impl Encode for Capability<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Auth(m) => {
                out.extend_from_slice(b"AUTH=");
                m.encode(out);
            }
            Self::Name(n) => out.extend_from_slice(n.as_str().as_bytes()),
        }
    }
}

/// Parses a `capability`.
pub(crate) fn capability<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Capability<'a>> {
    if let Some(rest) = super::lex::starts_with_ci(i, b"AUTH=")
        && let Ok((r, m)) = auth_mechanism(rest, cfg)
    {
        return Ok((r, Capability::Auth(m)));
    }
    let (rest, a) = atom(i, cfg)?;
    if a.as_str().len() >= 5 && a.as_str().as_bytes()[..5].eq_ignore_ascii_case(b"AUTH=") {
        return fail(i, ParseErrorKind::Expected("mechanism after AUTH="));
    }
    Ok((rest, Capability::Name(CapabilityName::from_atom_inner(a))))
}

/// A character set name (`charset`): an atom or a quoted string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Charset<'a>(Cow<'a, str>);

impl<'a> Charset<'a> {
    /// Validates a charset name (non-empty 7-bit text).
    pub fn try_new(s: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let s = s.into();
        if all(s.as_bytes(), TEXT) {
            Ok(Self(s))
        } else {
            Err(ValidationError::new(
                "charset",
                "must be non-empty 7-bit text",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Charset<'static> {
        Charset(Cow::Owned(self.0.into_owned()))
    }
}

impl<'a> TryFrom<&'a str> for Charset<'a> {
    type Error = ValidationError;
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        Self::try_new(s)
    }
}

impl Encode for Charset<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        if all(self.0.as_bytes(), ATOM) {
            out.extend_from_slice(self.0.as_bytes());
        } else {
            encode_quoted(self.0.as_bytes(), out);
        }
    }
}

/// Parses a `charset`.
pub(crate) fn charset<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Charset<'a>> {
    if i.first() == Some(&b'"') {
        let (rest, q) = quoted(i)?;
        return match String::from_utf8(q.into_owned())
            .ok()
            .and_then(|s| Charset::try_new(s).ok())
        {
            Some(c) => Ok((rest, c)),
            None => fail(i, ParseErrorKind::Expected("charset")),
        };
    }
    let (rest, a) = atom(i, cfg)?;
    match a.as_str().is_ascii() {
        true => Ok((
            rest,
            Charset(Cow::Borrowed(super::atom::ascii_str(
                &i[..i.len() - rest.len()],
            ))),
        )),
        false => fail(i, ParseErrorKind::EightBit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities() {
        let cfg = ParserConfig::strict();
        let (_, c) = capability(b"AUTH=xoauth2 ", &cfg).unwrap();
        assert_eq!(c, Capability::Auth(AuthMechanism::XOAuth2));
        assert_eq!(c.to_vec(), b"AUTH=XOAUTH2");
        let (_, c) = capability(b"imap4rev2", &cfg).unwrap();
        assert_eq!(c, Capability::Name(CapabilityName::Imap4Rev2));
        let (_, c) = capability(b"X-FOO=1", &cfg).unwrap();
        assert_eq!(c.to_vec(), b"X-FOO=1");
        assert!(capability(b"AUTH= ", &cfg).is_err());
        assert_eq!(
            Capability::try_from("AUTH=PLAIN").unwrap(),
            Capability::Auth(AuthMechanism::Plain)
        );
        assert!(CapabilityName::from_atom(Atom::try_from("AUTH=X").unwrap()).is_err());
        assert_eq!(charset(b"\"UTF-8\"", &cfg).unwrap().1.to_vec(), b"UTF-8");
        assert_eq!(Charset::try_from("a b").unwrap().to_vec(), b"\"a b\"");
    }
}
