//! ID, NAMESPACE, QUOTA and METADATA responses.

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{map, not, peek, value};
use nom::multi::many_till;
use nom::sequence::{delimited, preceded, separated_pair, terminated};

use super::lex::{byte, close, istring, list, nil, nstring, quirks, skip_sp, sp, sp_items};
use super::list::{delimiter, encode_delimiter};
use crate::config::ParserConfig;
use crate::core::atom::{Atom, atom};
use crate::core::mailbox::{Mailbox, mailbox};
use crate::core::non_empty::NonEmpty;
use crate::core::number::number64;
use crate::core::string::{AString, IString, Literal8, NString, astring, literal8};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail};

/// ID parameters (RFC 2971): `NIL` or a list of field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IdParams<'a>(pub Option<Vec<(IString<'a>, NString<'a>)>>);

impl Encode for IdParams<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            None => out.extend_from_slice(b"NIL"),
            Some(pairs) => {
                out.push(b'(');
                for (n, (k, v)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    k.encode(out);
                    out.push(b' ');
                    v.encode(out);
                }
                out.push(b')');
            }
        }
    }
}

/// Parses `id-params-list`.
pub(crate) fn id_params<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, IdParams<'a>> {
    if let Some(r) = nil(i) {
        return Ok((r, IdParams(None)));
    }
    let (r, pairs) = list(i, true, cfg, |j| {
        let (j, k) = istring(j, cfg)?;
        let (j, ()) = sp(j, cfg)?;
        let (j, v) = nstring(j, cfg)?;
        Ok((j, (k, v)))
    })?;
    Ok((r, IdParams(Some(pairs))))
}

/// One namespace (`namespace-descr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceDescription<'a> {
    /// The prefix, such as `""` or `"#shared/"`.
    pub prefix: IString<'a>,
    /// The hierarchy delimiter, or `None` (`NIL`).
    pub delimiter: Option<char>,
    /// Extensions: a name and its values.
    pub extensions: Vec<(IString<'a>, NonEmpty<IString<'a>>)>,
}

/// One of the three namespace classes: `NIL` (none) or a non-empty list.
pub type Namespace<'a> = Option<NonEmpty<NamespaceDescription<'a>>>;

/// The NAMESPACE response (RFC 2342): personal, other users' and shared namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Namespaces<'a> {
    /// Personal namespaces.
    pub personal: Namespace<'a>,
    /// Other users' namespaces.
    pub other: Namespace<'a>,
    /// Shared namespaces.
    pub shared: Namespace<'a>,
}

impl Encode for NamespaceDescription<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        self.prefix.encode(out);
        out.push(b' ');
        encode_delimiter(self.delimiter, out);
        for (name, values) in &self.extensions {
            out.push(b' ');
            name.encode(out);
            out.extend_from_slice(b" (");
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                v.encode(out);
            }
            out.push(b')');
        }
        out.push(b')');
    }
}

fn encode_namespace(ns: &Namespace<'_>, out: &mut Vec<u8>) {
    match ns {
        None => out.extend_from_slice(b"NIL"),
        Some(list) => {
            out.push(b'(');
            for d in list.iter() {
                d.encode(out);
            }
            out.push(b')');
        }
    }
}

impl Encode for Namespaces<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_namespace(&self.personal, out);
        out.push(b' ');
        encode_namespace(&self.other, out);
        out.push(b' ');
        encode_namespace(&self.shared, out);
    }
}

/// One namespace extension: `SP string SP "(" string *(SP string) ")"`.
fn namespace_extension<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, (IString<'a>, NonEmpty<IString<'a>>)> {
    let (r, (name, values)) = preceded(
        crate::core::lex::sp,
        separated_pair(
            |j| istring(j, cfg),
            |j| sp(j, cfg),
            |j| list(j, false, cfg, |k| istring(k, cfg)),
        ),
    )
    .parse(i)?;
    match NonEmpty::try_new(values) {
        Ok(values) => Ok((r, (name, values))),
        Err(_) => fail(r, ParseErrorKind::Expected("namespace extension value")),
    }
}

fn namespace_descr<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, NamespaceDescription<'a>> {
    // The extensions end at `)`, with quirks after spaces too; an extension after a
    // space is committed to (`many_till` reports its error).
    let end = |j| {
        alt((
            value((), peek(|k| close(k, b')', cfg))),
            not(crate::core::lex::sp),
        ))
        .parse(j)
    };
    map(
        delimited(
            |j| byte(j, b'(', "'('"),
            (
                |j| istring(j, cfg),
                preceded(|j| sp(j, cfg), |j| delimiter(j, cfg)),
                many_till(|j| namespace_extension(j, cfg), end),
            ),
            |j| close(j, b')', cfg),
        ),
        |(prefix, delimiter, (extensions, ()))| NamespaceDescription {
            prefix,
            delimiter,
            extensions,
        },
    )
    .parse(i)
}

fn namespace<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Namespace<'a>> {
    if let Some(r) = nil(i) {
        return Ok((r, None));
    }
    // Descriptions follow each other without separator (with quirks, spaces between).
    let (i, (out, ())) = preceded(
        |j| byte(j, b'(', "'('"),
        many_till(
            terminated(|j| namespace_descr(j, cfg), |j| Ok((skip_sp(j, cfg), ()))),
            not(|j| byte(j, b'(', "'('")),
        ),
    )
    .parse(i)?;
    let (i, ()) = close(i, b')', cfg)?;
    match NonEmpty::try_new(out) {
        Ok(l) => Ok((i, Some(l))),
        // `()` instead of NIL.
        Err(_) if quirks(cfg) => Ok((i, None)),
        Err(_) => fail(i, ParseErrorKind::Expected("namespace description")),
    }
}

/// Parses `namespace SP namespace SP namespace`.
pub(crate) fn namespaces<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Namespaces<'a>> {
    let (i, personal) = namespace(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, other) = namespace(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, shared) = namespace(i, cfg)?;
    Ok((
        i,
        Namespaces {
            personal,
            other,
            shared,
        },
    ))
}

/// Usage and limit of one quota resource (RFC 9208).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaResource<'a> {
    /// Resource name: `STORAGE` (KiB), `MESSAGE`, `MAILBOX`, `ANNOTATION-STORAGE`, ...
    pub name: Atom<'a>,
    /// Current usage.
    pub usage: u64,
    /// Limit.
    pub limit: u64,
}

impl Encode for QuotaResource<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        out.push(b' ');
        encode_u64(self.usage, out);
        out.push(b' ');
        encode_u64(self.limit, out);
    }
}

/// Parses `"(" quota-resource *(SP quota-resource) ")"`.
pub(crate) fn quota_list<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, Vec<QuotaResource<'a>>> {
    list(i, false, cfg, |j| {
        let (j, name) = atom(j, cfg)?;
        let (j, ()) = sp(j, cfg)?;
        let (j, usage) = number64(j)?;
        let (j, ()) = sp(j, cfg)?;
        let (j, limit) = number64(j)?;
        Ok((j, QuotaResource { name, usage, limit }))
    })
}

/// A METADATA entry value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataEntry<'a> {
    /// `NIL`: no value.
    Nil,
    /// A string value.
    String(IString<'a>),
    /// A binary value (`literal8`).
    Binary(Literal8<'a>),
}

impl Encode for MetadataEntry<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Nil => out.extend_from_slice(b"NIL"),
            Self::String(s) => s.encode(out),
            Self::Binary(b) => b.encode(out),
        }
    }
}

/// The body of a METADATA response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataEntries<'a> {
    /// `(entry value ...)`: values asked for with GETMETADATA.
    Values(NonEmpty<(AString<'a>, MetadataEntry<'a>)>),
    /// `entry ...`: names of entries that changed (unsolicited).
    Changed(NonEmpty<AString<'a>>),
}

impl Encode for MetadataEntries<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Values(v) => {
                out.push(b'(');
                for (n, (k, val)) in v.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    k.encode(out);
                    out.push(b' ');
                    val.encode(out);
                }
                out.push(b')');
            }
            Self::Changed(names) => {
                for (n, k) in names.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    k.encode(out);
                }
            }
        }
    }
}

fn metadata_value<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, MetadataEntry<'a>> {
    if let Some(r) = nil(i) {
        return Ok((r, MetadataEntry::Nil));
    }
    if i.first() == Some(&b'~') {
        let (r, (_, data)) = literal8(i, cfg)?;
        return Ok((r, MetadataEntry::Binary(Literal8::from_parsed(data.into()))));
    }
    let (r, s) = istring(i, cfg)?;
    Ok((r, MetadataEntry::String(s)))
}

/// Parses what follows `METADATA SP`.
pub(crate) fn metadata<'a>(
    i: &'a [u8],
    cfg: &ParserConfig,
) -> PResult<'a, (Mailbox<'a>, MetadataEntries<'a>)> {
    let (i, mbox) = mailbox(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    if i.first() == Some(&b'(') {
        let (r, values) = list(i, false, cfg, |j| {
            let (j, k) = astring(j, cfg)?;
            let (j, ()) = sp(j, cfg)?;
            let (j, v) = metadata_value(j, cfg)?;
            Ok((j, (k, v)))
        })?;
        return match NonEmpty::try_new(values) {
            Ok(v) => Ok((r, (mbox, MetadataEntries::Values(v)))),
            Err(_) => fail(r, ParseErrorKind::Expected("metadata entry")),
        };
    }
    let (i, (first, mut names)) = (
        |j| astring(j, cfg),
        |j| sp_items(j, cfg, |k| astring(k, cfg)),
    )
        .parse(i)?;
    names.insert(0, first);
    Ok((
        i,
        (mbox, MetadataEntries::Changed(NonEmpty::from_parsed(names))),
    ))
}
