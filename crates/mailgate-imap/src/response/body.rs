//! BODY and BODYSTRUCTURE (`body`): the MIME structure of a message, nested to the
//! configured depth, with extension data.

use nom::Parser;
use nom::combinator::{not, value};
use nom::multi::many_till;
use nom::sequence::{preceded, terminated};

use super::envelope::{Envelope, envelope};
use super::lex::{
    byte, check_depth, close, istring, list, nil, nstring, number_or_negative, quirks, skip_sp, sp,
    string_or_nil,
};
use crate::config::ParserConfig;
use crate::core::lex::starts_with_ci;
use crate::core::non_empty::NonEmpty;
use crate::core::number::number64;
use crate::core::string::{IString, NString};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

/// The fields every single part has (`body-fields`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BodyFields<'a> {
    /// Content-Type parameters (empty for `NIL`).
    pub params: Vec<(IString<'a>, IString<'a>)>,
    /// Content-ID.
    pub id: NString<'a>,
    /// Content-Description.
    pub description: NString<'a>,
    /// Content-Transfer-Encoding.
    pub encoding: IString<'a>,
    /// Size in octets (in the transfer encoding).
    pub octets: u32,
}

/// The media type of a part other than `TEXT/*` and `MESSAGE/RFC822|GLOBAL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BasicType<'a> {
    media_type: IString<'a>,
    subtype: IString<'a>,
}

impl<'a> BasicType<'a> {
    /// A media type; `TEXT/*`, `MESSAGE/RFC822` and `MESSAGE/GLOBAL` have their own
    /// [`SinglePartKind`] variants and are refused.
    pub fn try_new(media_type: IString<'a>, subtype: IString<'a>) -> Result<Self, ValidationError> {
        if is_text(&media_type) || is_message(&media_type, &subtype) {
            return Err(ValidationError::new(
                "media type",
                "TEXT and MESSAGE/RFC822 parts use their own variants",
            ));
        }
        Ok(Self {
            media_type,
            subtype,
        })
    }

    /// The type, such as `APPLICATION`.
    pub fn media_type(&self) -> &IString<'a> {
        &self.media_type
    }

    /// The subtype, such as `PDF`.
    pub fn subtype(&self) -> &IString<'a> {
        &self.subtype
    }

    pub(crate) fn into_parts(self) -> (IString<'a>, IString<'a>) {
        (self.media_type, self.subtype)
    }

    pub(crate) fn from_parts(media_type: IString<'a>, subtype: IString<'a>) -> Self {
        Self {
            media_type,
            subtype,
        }
    }
}

fn is_text(t: &IString<'_>) -> bool {
    t.as_bytes().eq_ignore_ascii_case(b"TEXT")
}

fn is_message(t: &IString<'_>, s: &IString<'_>) -> bool {
    t.as_bytes().eq_ignore_ascii_case(b"MESSAGE")
        && (s.as_bytes().eq_ignore_ascii_case(b"RFC822")
            || s.as_bytes().eq_ignore_ascii_case(b"GLOBAL"))
}

/// What kind of single part, with the fields specific to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SinglePartKind<'a> {
    /// Any other media type (`body-type-basic`).
    Basic(BasicType<'a>),
    /// `MESSAGE/RFC822` or `MESSAGE/GLOBAL` (`body-type-msg`).
    Message {
        /// `RFC822` or `GLOBAL`.
        global: bool,
        /// Envelope of the encapsulated message.
        envelope: Box<Envelope<'a>>,
        /// Structure of the encapsulated message.
        body: Box<BodyStructure<'a>>,
        /// Size in lines.
        lines: u32,
    },
    /// `TEXT/<subtype>` (`body-type-text`).
    Text {
        /// The subtype, such as `PLAIN`.
        subtype: IString<'a>,
        /// Size in lines.
        lines: u32,
    },
}

/// A single (non-multipart) part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePart<'a> {
    /// Media type and type-specific fields.
    pub kind: SinglePartKind<'a>,
    /// Common fields.
    pub fields: BodyFields<'a>,
}

/// A Content-Disposition (`body-fld-dsp`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Disposition<'a> {
    /// The disposition, such as `attachment`.
    pub kind: IString<'a>,
    /// Its parameters (empty for `NIL`).
    pub params: Vec<(IString<'a>, IString<'a>)>,
}

/// Content-Language (`body-fld-lang`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Language<'a> {
    /// One tag or `NIL`.
    Single(NString<'a>),
    /// A parenthesized list of tags.
    List(NonEmpty<IString<'a>>),
}

/// Future extension data (`body-extension`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyExtension<'a> {
    /// A string or `NIL`.
    String(NString<'a>),
    /// A number.
    Number(u64),
    /// A parenthesized list.
    List(NonEmpty<BodyExtension<'a>>),
}

/// Location and later extension data (`body-fld-loc *(SP body-extension)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationTail<'a> {
    /// Content-Location.
    pub location: NString<'a>,
    /// Further extension data.
    pub extensions: Vec<BodyExtension<'a>>,
}

/// Language and what follows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageTail<'a> {
    /// Content-Language.
    pub language: Language<'a>,
    /// Location and later data, if sent.
    pub location: Option<LocationTail<'a>>,
}

/// Disposition and what follows it, shared by single and multipart extension data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionTail<'a> {
    /// Content-Disposition (`None` for `NIL`).
    pub disposition: Option<Disposition<'a>>,
    /// Language and later data, if sent.
    pub language: Option<LanguageTail<'a>>,
}

/// Extension data of a single part (`body-ext-1part`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePartExtension<'a> {
    /// Content-MD5.
    pub md5: NString<'a>,
    /// Disposition and later data, if sent.
    pub tail: Option<ExtensionTail<'a>>,
}

/// Extension data of a multipart (`body-ext-mpart`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultiPartExtension<'a> {
    /// Content-Type parameters (empty for `NIL`).
    pub params: Vec<(IString<'a>, IString<'a>)>,
    /// Disposition and later data, if sent.
    pub tail: Option<ExtensionTail<'a>>,
}

/// The structure of a message or part (`body`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyStructure<'a> {
    /// A single part.
    Single {
        /// The part.
        part: SinglePart<'a>,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<SinglePartExtension<'a>>,
    },
    /// A multipart.
    Multi {
        /// The parts, in order.
        parts: NonEmpty<BodyStructure<'a>>,
        /// The multipart subtype, such as `MIXED`.
        subtype: IString<'a>,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<MultiPartExtension<'a>>,
    },
}

fn encode_params(params: &[(IString<'_>, IString<'_>)], out: &mut Vec<u8>) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (n, (k, v)) in params.iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        k.encode(out);
        out.push(b' ');
        v.encode(out);
    }
    out.push(b')');
}

impl Encode for BodyExtension<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::String(s) => s.encode(out),
            Self::Number(n) => encode_u64(*n, out),
            Self::List(l) => {
                out.push(b'(');
                crate::encode::encode_separated(l, b' ', out);
                out.push(b')');
            }
        }
    }
}

impl Encode for ExtensionTail<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.disposition {
            None => out.extend_from_slice(b"NIL"),
            Some(d) => {
                out.push(b'(');
                d.kind.encode(out);
                out.push(b' ');
                encode_params(&d.params, out);
                out.push(b')');
            }
        }
        if let Some(lt) = &self.language {
            out.push(b' ');
            match &lt.language {
                Language::Single(s) => s.encode(out),
                Language::List(l) => {
                    out.push(b'(');
                    crate::encode::encode_separated(l, b' ', out);
                    out.push(b')');
                }
            }
            if let Some(loc) = &lt.location {
                out.push(b' ');
                loc.location.encode(out);
                for e in &loc.extensions {
                    out.push(b' ');
                    e.encode(out);
                }
            }
        }
    }
}

impl Encode for BodyFields<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_params(&self.params, out);
        out.push(b' ');
        self.id.encode(out);
        out.push(b' ');
        self.description.encode(out);
        out.push(b' ');
        self.encoding.encode(out);
        out.push(b' ');
        encode_u64(self.octets.into(), out);
    }
}

impl Encode for BodyStructure<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        match self {
            Self::Single { part, extension } => {
                match &part.kind {
                    SinglePartKind::Basic(b) => {
                        b.media_type.encode(out);
                        out.push(b' ');
                        b.subtype.encode(out);
                        out.push(b' ');
                        part.fields.encode(out);
                    }
                    SinglePartKind::Message {
                        global,
                        envelope,
                        body,
                        lines,
                    } => {
                        out.extend_from_slice(if *global {
                            b"\"MESSAGE\" \"GLOBAL\" "
                        } else {
                            b"\"MESSAGE\" \"RFC822\" "
                        });
                        part.fields.encode(out);
                        out.push(b' ');
                        envelope.encode(out);
                        out.push(b' ');
                        body.encode(out);
                        out.push(b' ');
                        encode_u64((*lines).into(), out);
                    }
                    SinglePartKind::Text { subtype, lines } => {
                        out.extend_from_slice(b"\"TEXT\" ");
                        subtype.encode(out);
                        out.push(b' ');
                        part.fields.encode(out);
                        out.push(b' ');
                        encode_u64((*lines).into(), out);
                    }
                }
                if let Some(ext) = extension {
                    out.push(b' ');
                    ext.md5.encode(out);
                    if let Some(t) = &ext.tail {
                        out.push(b' ');
                        t.encode(out);
                    }
                }
            }
            Self::Multi {
                parts,
                subtype,
                extension,
            } => {
                for p in parts.iter() {
                    p.encode(out);
                }
                out.push(b' ');
                subtype.encode(out);
                if let Some(ext) = extension {
                    out.push(b' ');
                    encode_params(&ext.params, out);
                    if let Some(t) = &ext.tail {
                        out.push(b' ');
                        t.encode(out);
                    }
                }
            }
        }
        out.push(b')');
    }
}

/// `body-fld-param`: `NIL` or pairs; with quirks `()` and `NIL` values are accepted.
fn params<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<(IString<'a>, IString<'a>)>> {
    if let Some(r) = nil(i) {
        return Ok((r, Vec::new()));
    }
    list(i, false, cfg, |j| {
        let (j, k) = istring(j, cfg)?;
        let (j, ()) = sp(j, cfg)?;
        let (j, v) = string_or_nil(j, cfg)?;
        Ok((j, (k, v)))
    })
}

fn body_fields<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, BodyFields<'a>> {
    let (i, params) = params(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, id) = nstring(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, description) = nstring(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, encoding) = string_or_nil(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, octets) = number_or_negative(i, cfg)?;
    Ok((
        i,
        BodyFields {
            params,
            id,
            description,
            encoding,
            octets,
        },
    ))
}

fn body_extension<'a>(
    i: &'a [u8],
    depth: usize,
    cfg: &ParserConfig,
) -> PResult<'a, BodyExtension<'a>> {
    let (i, ()) = check_depth(i, depth, cfg)?;
    match i.first() {
        Some(b'(') => {
            let (r, l) = list(i, false, cfg, |j| body_extension(j, depth + 1, cfg))?;
            match NonEmpty::try_new(l) {
                Ok(l) => Ok((r, BodyExtension::List(l))),
                Err(_) => fail(i, ParseErrorKind::Expected("body extension")),
            }
        }
        Some(b'0'..=b'9') => {
            let (r, n) = number64(i)?;
            Ok((r, BodyExtension::Number(n)))
        }
        _ => {
            let (r, s) = nstring(i, cfg)?;
            Ok((r, BodyExtension::String(s)))
        }
    }
}

fn disposition<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Option<Disposition<'a>>> {
    if let Some(r) = nil(i) {
        return Ok((r, None));
    }
    if quirks(cfg) && matches!(i.first(), Some(b'"' | b'{')) {
        // Exchange: a bare string instead of `(string params)`.
        let (r, kind) = istring(i, cfg)?;
        return Ok((
            r,
            Some(Disposition {
                kind,
                params: Vec::new(),
            }),
        ));
    }
    let (i, ()) = byte(i, b'(', "'('")?;
    let (i, kind) = istring(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, params) = params(i, cfg)?;
    let (i, ()) = close(i, b')', cfg)?;
    Ok((i, Some(Disposition { kind, params })))
}

/// Optional `SP` before more extension data: true if another item follows.
fn more<'a>(i: &'a [u8], cfg: &ParserConfig) -> Option<&'a [u8]> {
    more_data(i, cfg).ok().map(|(r, ())| r)
}

/// `SP` before more extension data: not before `)` (with quirks, spaces before it).
fn more_data<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, ()> {
    let skip = |j| Ok((skip_sp(j, cfg), ()));
    value(
        (),
        terminated((crate::core::lex::sp, skip), not(|j| byte(j, b')', "')'"))),
    )
    .parse(i)
}

fn extension_tail<'a>(
    i: &'a [u8],
    depth: usize,
    cfg: &ParserConfig,
) -> PResult<'a, ExtensionTail<'a>> {
    let (i, disposition) = disposition(i, cfg)?;
    let Some(j) = more(i, cfg) else {
        return Ok((
            i,
            ExtensionTail {
                disposition,
                language: None,
            },
        ));
    };
    let (j, language) = match j.first() {
        Some(b'(') => {
            let (r, l) = list(j, false, cfg, |k| istring(k, cfg))?;
            match NonEmpty::try_new(l) {
                Ok(l) => (r, Language::List(l)),
                Err(_) => (r, Language::Single(NString(None))),
            }
        }
        _ => {
            let (r, s) = nstring(j, cfg)?;
            (r, Language::Single(s))
        }
    };
    let Some(k) = more(j, cfg) else {
        return Ok((
            j,
            ExtensionTail {
                disposition,
                language: Some(LanguageTail {
                    language,
                    location: None,
                }),
            },
        ));
    };
    // Each extension after more data is committed to (`many_till` reports its error).
    let (k, (location, (extensions, ()))) = (
        |j| nstring(j, cfg),
        many_till(
            preceded(|j| more_data(j, cfg), |j| body_extension(j, depth + 1, cfg)),
            not(|j| more_data(j, cfg)),
        ),
    )
        .parse(k)?;
    Ok((
        k,
        ExtensionTail {
            disposition,
            language: Some(LanguageTail {
                language,
                location: Some(LocationTail {
                    location,
                    extensions,
                }),
            }),
        },
    ))
}

/// `body-fld-lines`; with quirks `NIL` reads as 0 (like a negative count).
fn lines<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, u32> {
    match nil(i) {
        Some(r) if quirks(cfg) => Ok((r, 0)),
        _ => number_or_negative(i, cfg),
    }
}

fn single_part<'a>(
    i: &'a [u8],
    depth: usize,
    cfg: &ParserConfig,
) -> PResult<'a, BodyStructure<'a>> {
    let (i, media_type) = string_or_nil(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, subtype) = string_or_nil(i, cfg)?;
    let (i, ()) = sp(i, cfg)?;
    let (i, fields) = body_fields(i, cfg)?;
    let (i, kind) = if is_text(&media_type) {
        let (i, ()) = sp(i, cfg)?;
        let (i, lines) = lines(i, cfg)?;
        (i, SinglePartKind::Text { subtype, lines })
    } else if is_message(&media_type, &subtype)
        && (!quirks(cfg) || i.starts_with(b" (") || starts_with_ci(i, b" NIL (").is_some())
    {
        let global = subtype.as_bytes().eq_ignore_ascii_case(b"GLOBAL");
        let (i, ()) = sp(i, cfg)?;
        let (i, env) = match nil(i) {
            // An envelope of NIL for an encapsulated message the server did not parse.
            Some(r) if quirks(cfg) => (r, Envelope::default()),
            _ => envelope(i, cfg)?,
        };
        let (i, ()) = sp(i, cfg)?;
        let (i, b) = body(i, depth + 1, cfg)?;
        let (i, ()) = sp(i, cfg)?;
        let (i, lines) = lines(i, cfg)?;
        (
            i,
            SinglePartKind::Message {
                global,
                envelope: Box::new(env),
                body: Box::new(b),
                lines,
            },
        )
    } else {
        // With quirks, a MESSAGE/RFC822 part without envelope is kept as a basic part.
        (
            i,
            SinglePartKind::Basic(BasicType {
                media_type,
                subtype,
            }),
        )
    };
    let part = SinglePart { kind, fields };
    let Some(j) = more(i, cfg) else {
        return Ok((
            i,
            BodyStructure::Single {
                part,
                extension: None,
            },
        ));
    };
    let (j, md5) = nstring(j, cfg)?;
    let (j, tail) = match more(j, cfg) {
        Some(k) => {
            let (k, t) = extension_tail(k, depth, cfg)?;
            (k, Some(t))
        }
        None => (j, None),
    };
    Ok((
        j,
        BodyStructure::Single {
            part,
            extension: Some(SinglePartExtension { md5, tail }),
        },
    ))
}

fn multi_part<'a>(i: &'a [u8], depth: usize, cfg: &ParserConfig) -> PResult<'a, BodyStructure<'a>> {
    let open = |j| byte(j, b'(', "'('");
    // With quirks, spaces between the parts (written without separator).
    let between = |j| match skip_sp(j, cfg) {
        r if quirks(cfg) && open(r).is_ok() => Ok((r, ())),
        _ => Ok((j, ())),
    };
    let (i, ((parts, ()), subtype)) = (
        many_till(terminated(|j| body(j, depth + 1, cfg), between), not(open)),
        preceded(|j| sp(j, cfg), |j| istring(j, cfg)),
    )
        .parse(i)?;
    let parts = NonEmpty::from_parsed(parts);
    let Some(j) = more(i, cfg) else {
        return Ok((
            i,
            BodyStructure::Multi {
                parts,
                subtype,
                extension: None,
            },
        ));
    };
    let (j, params) = params(j, cfg)?;
    let (j, tail) = match more(j, cfg) {
        Some(k) => {
            let (k, t) = extension_tail(k, depth, cfg)?;
            (k, Some(t))
        }
        None => (j, None),
    };
    Ok((
        j,
        BodyStructure::Multi {
            parts,
            subtype,
            extension: Some(MultiPartExtension { params, tail }),
        },
    ))
}

/// Parses a `body` at nesting `depth` (1 for the top level).
pub(crate) fn body<'a>(
    i: &'a [u8],
    depth: usize,
    cfg: &ParserConfig,
) -> PResult<'a, BodyStructure<'a>> {
    let (i, ()) = check_depth(i, depth, cfg)?;
    let (i, ()) = byte(i, b'(', "'('")?;
    let i = skip_sp(i, cfg);
    let (i, b) = if i.first() == Some(&b'(') {
        multi_part(i, depth, cfg)?
    } else {
        single_part(i, depth, cfg)?
    };
    let (i, ()) = close(i, b')', cfg)?;
    Ok((i, b))
}
