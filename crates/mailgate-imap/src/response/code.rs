//! Response codes (`resp-text-code`): the bracketed, machine-readable part of a status.

use std::borrow::Cow;
use std::num::NonZeroU32;

use super::lex::mod_sequence_value;
use super::lex::{byte, close, list, quirks, sp};
use super::uid_set::{UidSet, uid_set};
use nom::Parser;
use nom::combinator::{not, peek};
use nom::multi::many_till;
use nom::sequence::{preceded, terminated};

use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::capability::{Capability, Charset, capability, charset};
use crate::core::chars::{ATOM, span};
use crate::core::flag::{FlagPerm, flag_perm};
use crate::core::number::nz_number;
use crate::core::object_id::{ObjectId, paren_object_id};
use crate::core::sequence::{SequenceSet, sequence_set};
use crate::encode::{Encode, encode_list, encode_separated, encode_u64};
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

macro_rules! simple_codes {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// A response code without arguments.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SimpleCode {
            $(#[doc = concat!("`", $name, "`: ", $doc)] $variant,)*
        }

        impl SimpleCode {
            /// Every simple code, for tests and tables.
            pub const ALL: &'static [SimpleCode] = &[$(SimpleCode::$variant,)*];

            /// The code name as sent.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            fn from_name(upper: &[u8]) -> Option<Self> {
                match upper {
                    $(n if n == $name.as_bytes() => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

simple_codes! {
    Alert => "ALERT", "the text must be shown to the user (RFC 9051)";
    Parse => "PARSE", "a message could not be parsed (RFC 9051)";
    ReadOnly => "READ-ONLY", "the mailbox is selected read-only (RFC 9051)";
    ReadWrite => "READ-WRITE", "the mailbox is selected read-write (RFC 9051)";
    TryCreate => "TRYCREATE", "the target mailbox does not exist but could be created (RFC 9051)";
    UidNotSticky => "UIDNOTSTICKY", "the mailbox does not keep UIDs (RFC 4315)";
    NoModSeq => "NOMODSEQ", "the mailbox has no mod-sequences (RFC 7162)";
    Closed => "CLOSED", "the previous mailbox is now closed (RFC 7162)";
    NotSaved => "NOTSAVED", "the search result variable was reset (RFC 5182)";
    CompressionActive => "COMPRESSIONACTIVE", "compression is already on (RFC 4978)";
    OverQuota => "OVERQUOTA", "a quota is exceeded (RFC 9208)";
    TooBig => "TOOBIG", "the message is too big (RFC 4469)";
    UnknownCte => "UNKNOWN-CTE", "unknown content transfer encoding (RFC 3516)";
    AuthenticationFailed => "AUTHENTICATIONFAILED", "wrong credentials (RFC 5530)";
    AuthorizationFailed => "AUTHORIZATIONFAILED", "not allowed to act as that identity (RFC 5530)";
    Expired => "EXPIRED", "the credentials have expired (RFC 5530)";
    PrivacyRequired => "PRIVACYREQUIRED", "the operation needs a protected connection (RFC 5530)";
    ContactAdmin => "CONTACTADMIN", "the user should contact the administrator (RFC 5530)";
    NoPerm => "NOPERM", "no permission (RFC 5530)";
    InUse => "INUSE", "the resource is in use (RFC 5530)";
    ExpungeIssued => "EXPUNGEISSUED", "some messages were expunged meanwhile (RFC 5530)";
    Corruption => "CORRUPTION", "server-side corruption (RFC 5530)";
    ServerBug => "SERVERBUG", "a server bug (RFC 5530)";
    ClientBug => "CLIENTBUG", "the client misbehaved (RFC 5530)";
    Cannot => "CANNOT", "the operation can never succeed (RFC 5530)";
    Limit => "LIMIT", "a server limit was hit (RFC 5530)";
    AlreadyExists => "ALREADYEXISTS", "the target already exists (RFC 5530)";
    NonExistent => "NONEXISTENT", "the target does not exist (RFC 5530)";
    HasChildren => "HASCHILDREN", "the mailbox has children (RFC 9051)";
    Unavailable => "UNAVAILABLE", "temporary failure (RFC 5530)";
    UseAttr => "USEATTR", "the special-use attribute is not supported (RFC 6154)";
    NotificationOverflow => "NOTIFICATIONOVERFLOW", "the server stopped sending NOTIFY events (RFC 5465)";
    UidRequired => "UIDREQUIRED", "message numbers are not allowed with UIDONLY (RFC 9586)";
}

/// The METADATA response code (RFC 5464).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataCode {
    /// `LONGENTRIES n`: entries were left out; the largest was `n` octets.
    LongEntries(u32),
    /// `MAXSIZE n`: the value is larger than the server accepts.
    MaxSize(u32),
    /// `TOOMANY`: too many annotations.
    TooMany,
    /// `NOPRIVATE`: private annotations are not supported.
    NoPrivate,
}

/// A response code (`resp-text-code`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code<'a> {
    /// A code without arguments.
    Simple(SimpleCode),
    /// `BADCHARSET [(charset ...)]`: the charset is not supported; the list may be empty.
    BadCharset(Vec<Charset<'a>>),
    /// `CAPABILITY ...`: the capabilities (non-empty).
    Capability(Vec<Capability<'a>>),
    /// `PERMANENTFLAGS (...)`: flags that can be changed permanently.
    PermanentFlags(Vec<FlagPerm<'a>>),
    /// `UIDNEXT n`: the next UID.
    UidNext(NonZeroU32),
    /// `UIDVALIDITY n`.
    UidValidity(NonZeroU32),
    /// `UNSEEN n`: the first unseen message (IMAP4rev1).
    Unseen(NonZeroU32),
    /// `APPENDUID validity uids` (RFC 4315).
    AppendUid {
        /// UIDVALIDITY of the target mailbox.
        uid_validity: NonZeroU32,
        /// UIDs of the appended messages.
        uids: UidSet,
    },
    /// `COPYUID validity source destination` (RFC 4315).
    CopyUid {
        /// UIDVALIDITY of the target mailbox.
        uid_validity: NonZeroU32,
        /// UIDs in the source mailbox.
        source: UidSet,
        /// UIDs in the target mailbox.
        destination: UidSet,
    },
    /// `HIGHESTMODSEQ n` (RFC 7162).
    HighestModSeq(u64),
    /// `MODIFIED set`: messages that failed the UNCHANGEDSINCE test (RFC 7162).
    Modified(SequenceSet),
    /// `METADATA ...` (RFC 5464).
    Metadata(MetadataCode),
    /// `MAILBOXID (id)`: the identifier of the mailbox just created (RFC 8474).
    MailboxId(ObjectId<'a>),
    /// Any other code: `atom [SP 1*<TEXT-CHAR except "]">]`.
    Other(OtherCode<'a>),
}

/// A response code not known to this crate, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherCode<'a> {
    name: Atom<'a>,
    args: Option<Cow<'a, str>>,
}

impl<'a> OtherCode<'a> {
    /// A code named `name` (not one of the known codes) with optional arguments
    /// (non-empty, no `]`, CR, LF or NUL).
    pub fn try_new(name: Atom<'a>, args: Option<Cow<'a, str>>) -> Result<Self, ValidationError> {
        if is_known(name.as_str().as_bytes()) {
            return Err(ValidationError::new(
                "response code",
                "is a known code name",
            ));
        }
        if let Some(a) = &args
            && (a.is_empty() || a.bytes().any(|b| matches!(b, b']' | b'\r' | b'\n' | 0)))
        {
            return Err(ValidationError::new(
                "response code",
                "arguments must be non-empty text without ']'",
            ));
        }
        Ok(Self { name, args })
    }

    /// The code name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The arguments after the name, if any.
    pub fn args(&self) -> Option<&str> {
        self.args.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Atom<'a>, Option<Cow<'a, str>>) {
        (self.name, self.args)
    }

    pub(crate) fn from_parts(name: Atom<'a>, args: Option<Cow<'a, str>>) -> Self {
        Self { name, args }
    }
}

const KNOWN_WITH_ARGS: [&str; 12] = [
    "BADCHARSET",
    "CAPABILITY",
    "PERMANENTFLAGS",
    "UIDNEXT",
    "UIDVALIDITY",
    "UNSEEN",
    "APPENDUID",
    "COPYUID",
    "HIGHESTMODSEQ",
    "MODIFIED",
    "METADATA",
    "MAILBOXID",
];

fn upper(name: &[u8], buf: &mut [u8; 24]) -> Option<usize> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    Some(name.len())
}

fn is_known(name: &[u8]) -> bool {
    let mut buf = [0u8; 24];
    match upper(name, &mut buf) {
        Some(n) => {
            SimpleCode::from_name(&buf[..n]).is_some()
                || KNOWN_WITH_ARGS.iter().any(|k| k.as_bytes() == &buf[..n])
        }
        None => false,
    }
}

impl Encode for Code<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Simple(c) => out.extend_from_slice(c.as_str().as_bytes()),
            Self::BadCharset(list) => {
                out.extend_from_slice(b"BADCHARSET");
                if !list.is_empty() {
                    out.push(b' ');
                    encode_list(list, out);
                }
            }
            Self::Capability(caps) => {
                out.extend_from_slice(b"CAPABILITY ");
                encode_separated(caps, b' ', out);
            }
            Self::PermanentFlags(flags) => {
                out.extend_from_slice(b"PERMANENTFLAGS ");
                encode_list(flags, out);
            }
            Self::UidNext(n) => num(out, b"UIDNEXT ", u64::from(n.get())),
            Self::UidValidity(n) => num(out, b"UIDVALIDITY ", u64::from(n.get())),
            Self::Unseen(n) => num(out, b"UNSEEN ", u64::from(n.get())),
            Self::AppendUid { uid_validity, uids } => {
                num(out, b"APPENDUID ", u64::from(uid_validity.get()));
                out.push(b' ');
                uids.encode(out);
            }
            Self::CopyUid {
                uid_validity,
                source,
                destination,
            } => {
                num(out, b"COPYUID ", u64::from(uid_validity.get()));
                out.push(b' ');
                source.encode(out);
                out.push(b' ');
                destination.encode(out);
            }
            Self::HighestModSeq(n) => num(out, b"HIGHESTMODSEQ ", *n),
            Self::MailboxId(id) => {
                out.extend_from_slice(b"MAILBOXID (");
                id.encode(out);
                out.push(b')');
            }
            Self::Modified(set) => {
                out.extend_from_slice(b"MODIFIED ");
                set.encode(out);
            }
            Self::Metadata(m) => match m {
                MetadataCode::LongEntries(n) => num(out, b"METADATA LONGENTRIES ", u64::from(*n)),
                MetadataCode::MaxSize(n) => num(out, b"METADATA MAXSIZE ", u64::from(*n)),
                MetadataCode::TooMany => out.extend_from_slice(b"METADATA TOOMANY"),
                MetadataCode::NoPrivate => out.extend_from_slice(b"METADATA NOPRIVATE"),
            },
            Self::Other(o) => {
                o.name.encode(out);
                if let Some(a) = &o.args {
                    out.push(b' ');
                    out.extend_from_slice(a.as_bytes());
                }
            }
        }
    }
}

fn num(out: &mut Vec<u8>, prefix: &[u8], n: u64) {
    out.extend_from_slice(prefix);
    encode_u64(n, out);
}

/// Arguments of an unknown code: up to `]`.
fn other_args<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Cow<'a, str>> {
    let n = i
        .iter()
        .position(|&b| matches!(b, b']' | b'\r' | b'\n' | 0))
        .unwrap_or(i.len());
    if n == 0 {
        return fail(i, ParseErrorKind::Expected("response code arguments"));
    }
    let raw = &i[..n];
    let s = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) if quirks(cfg) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
        Err(_) => return fail(i, ParseErrorKind::NotUtf8),
    };
    Ok((&i[n..], s))
}

/// Parses a `resp-text-code` (without the brackets).
pub(crate) fn code<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Code<'a>> {
    let n = span(i, ATOM);
    let mut buf = [0u8; 24];
    let Some(len) = upper(&i[..n], &mut buf) else {
        return other(i, cfg);
    };
    let name = &buf[..len];
    let rest = &i[n..];
    if let Some(c) = SimpleCode::from_name(name) {
        return Ok((rest, Code::Simple(c)));
    }
    match name {
        b"BADCHARSET" => match rest {
            [b' ', r @ ..] => {
                let (r, l) = list(r, quirks(cfg), cfg, |j| charset(j, cfg))?;
                Ok((r, Code::BadCharset(l)))
            }
            _ => Ok((rest, Code::BadCharset(Vec::new()))),
        },
        b"CAPABILITY" => {
            // SP before another capability (not before `]` or the end); a capability
            // after it is committed to. With quirks a space before `]` is dropped.
            let more = |j| {
                terminated(
                    crate::core::lex::sp,
                    peek(crate::core::lex::byte_where(|b| b != b']')),
                )
                .parse(j)
            };
            let end = |j| {
                let (j, ()) = not(more).parse(j)?;
                match crate::core::lex::sp(j) {
                    Ok(r) if quirks(cfg) => Ok(r),
                    _ => Ok((j, ())),
                }
            };
            let cap = |j| capability(j, cfg);
            let (r, (first, (mut caps, ()))) =
                preceded(|j| sp(j, cfg), (cap, many_till(preceded(more, cap), end))).parse(rest)?;
            caps.insert(0, first);
            Ok((r, Code::Capability(caps)))
        }
        b"PERMANENTFLAGS" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, l) = list(r, true, cfg, |j| flag_perm(j, cfg))?;
            Ok((r, Code::PermanentFlags(l)))
        }
        b"UIDNEXT" | b"UIDVALIDITY" | b"UNSEEN" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, v) = nz_number(r)?;
            Ok((
                r,
                match name {
                    b"UIDNEXT" => Code::UidNext(v),
                    b"UIDVALIDITY" => Code::UidValidity(v),
                    _ => Code::Unseen(v),
                },
            ))
        }
        b"APPENDUID" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, uid_validity) = nz_number(r)?;
            let (r, ()) = sp(r, cfg)?;
            let (r, uids) = uid_set(r)?;
            Ok((r, Code::AppendUid { uid_validity, uids }))
        }
        b"COPYUID" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, uid_validity) = nz_number(r)?;
            let (r, ()) = sp(r, cfg)?;
            let (r, source) = uid_set(r)?;
            let (r, ()) = sp(r, cfg)?;
            let (r, destination) = uid_set(r)?;
            Ok((
                r,
                Code::CopyUid {
                    uid_validity,
                    source,
                    destination,
                },
            ))
        }
        b"HIGHESTMODSEQ" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, v) = mod_sequence_value(r, cfg)?;
            Ok((r, Code::HighestModSeq(v)))
        }
        b"MAILBOXID" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, id) = paren_object_id(r)?;
            Ok((r, Code::MailboxId(id)))
        }
        b"MODIFIED" => {
            let (r, ()) = sp(rest, cfg)?;
            let (r, v) = sequence_set(r)?;
            Ok((r, Code::Modified(v)))
        }
        b"METADATA" => {
            let (r, ()) = sp(rest, cfg)?;
            let m = span(r, ATOM);
            let word = &r[..m];
            let r = &r[m..];
            let num32 = |r| -> PResult<'a, u32> {
                let (r, ()) = sp(r, cfg)?;
                crate::core::number::number(r)
            };
            if word.eq_ignore_ascii_case(b"LONGENTRIES") {
                let (r, n) = num32(r)?;
                Ok((r, Code::Metadata(MetadataCode::LongEntries(n))))
            } else if word.eq_ignore_ascii_case(b"MAXSIZE") {
                let (r, n) = num32(r)?;
                Ok((r, Code::Metadata(MetadataCode::MaxSize(n))))
            } else if word.eq_ignore_ascii_case(b"TOOMANY") {
                Ok((r, Code::Metadata(MetadataCode::TooMany)))
            } else if word.eq_ignore_ascii_case(b"NOPRIVATE") {
                Ok((r, Code::Metadata(MetadataCode::NoPrivate)))
            } else {
                fail(r, ParseErrorKind::Expected("METADATA code"))
            }
        }
        _ => other(i, cfg),
    }
}

fn other<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Code<'a>> {
    let (rest, name) = atom(i, cfg)?;
    match rest {
        [b' ', r @ ..] => {
            let (r, args) = other_args(r, cfg)?;
            Ok((
                r,
                Code::Other(OtherCode {
                    name,
                    args: Some(args),
                }),
            ))
        }
        [b']', ..] => Ok((rest, Code::Other(OtherCode { name, args: None }))),
        // Outlook 365: `[Error="..." Proxy=...]`, arguments glued to the name.
        _ if quirks(cfg) => {
            let (r, args) = other_args(rest, cfg)?;
            Ok((
                r,
                Code::Other(OtherCode {
                    name,
                    args: Some(args),
                }),
            ))
        }
        _ => fail(rest, ParseErrorKind::Expected("']'")),
    }
}

/// Parses `"[" resp-text-code "]"`.
pub(crate) fn bracketed_code<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Code<'a>> {
    let (i, ()) = byte(i, b'[', "'['")?;
    let (i, c) = code(i, cfg)?;
    let (i, ()) = close(i, b']', cfg)?;
    Ok((i, c))
}
