//! STATUS response items (`status-att-val`).

use std::num::NonZeroU32;

use super::lex::{list, nil, sp};
use crate::config::ParserConfig;
use crate::core::chars::{ATOM, span};
use crate::core::number::{number, number64, nz_number};
use crate::core::object_id::{ObjectId, paren_object_id};
use crate::encode::{Encode, encode_u64};
use crate::error::{PResult, ParseErrorKind, fail};

/// One item of a STATUS response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusItem {
    /// `MESSAGES n`.
    Messages(u32),
    /// `UIDNEXT n`.
    UidNext(NonZeroU32),
    /// `UIDVALIDITY n`.
    UidValidity(NonZeroU32),
    /// `UNSEEN n`.
    Unseen(u32),
    /// `DELETED n` (IMAP4rev2).
    Deleted(u32),
    /// `SIZE n` (IMAP4rev2, STATUS=SIZE).
    Size(u64),
    /// `RECENT n` (IMAP4rev1).
    Recent(u32),
    /// `HIGHESTMODSEQ n` (RFC 7162).
    HighestModSeq(u64),
    /// `APPENDLIMIT n` or `APPENDLIMIT NIL` (RFC 7889).
    AppendLimit(Option<u64>),
    /// `DELETED-STORAGE n` (RFC 9208): storage freed by an expunge, in KiB.
    DeletedStorage(u64),
    /// `MAILBOXID (id)` (RFC 8474).
    MailboxId(ObjectId<'static>),
}

impl Encode for StatusItem {
    fn encode(&self, out: &mut Vec<u8>) {
        let (name, v): (&[u8], u64) = match *self {
            Self::MailboxId(ref id) => {
                out.extend_from_slice(b"MAILBOXID (");
                id.encode(out);
                return out.push(b')');
            }
            Self::DeletedStorage(n) => (b"DELETED-STORAGE ", n),
            Self::Messages(n) => (b"MESSAGES ", n.into()),
            Self::UidNext(n) => (b"UIDNEXT ", n.get().into()),
            Self::UidValidity(n) => (b"UIDVALIDITY ", n.get().into()),
            Self::Unseen(n) => (b"UNSEEN ", n.into()),
            Self::Deleted(n) => (b"DELETED ", n.into()),
            Self::Size(n) => (b"SIZE ", n),
            Self::Recent(n) => (b"RECENT ", n.into()),
            Self::HighestModSeq(n) => (b"HIGHESTMODSEQ ", n),
            Self::AppendLimit(None) => return out.extend_from_slice(b"APPENDLIMIT NIL"),
            Self::AppendLimit(Some(n)) => (b"APPENDLIMIT ", n),
        };
        out.extend_from_slice(name);
        encode_u64(v, out);
    }
}

fn status_item<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, StatusItem> {
    let n = span(i, ATOM);
    let (name, r) = i.split_at(n);
    let (r, ()) = sp(r, cfg)?;
    let is = |k: &[u8]| name.eq_ignore_ascii_case(k);
    if is(b"MESSAGES") {
        number(r).map(|(r, v)| (r, StatusItem::Messages(v)))
    } else if is(b"UIDNEXT") {
        nz_number(r).map(|(r, v)| (r, StatusItem::UidNext(v)))
    } else if is(b"UIDVALIDITY") {
        nz_number(r).map(|(r, v)| (r, StatusItem::UidValidity(v)))
    } else if is(b"UNSEEN") {
        number(r).map(|(r, v)| (r, StatusItem::Unseen(v)))
    } else if is(b"DELETED") {
        number(r).map(|(r, v)| (r, StatusItem::Deleted(v)))
    } else if is(b"SIZE") {
        number64(r).map(|(r, v)| (r, StatusItem::Size(v)))
    } else if is(b"RECENT") {
        number(r).map(|(r, v)| (r, StatusItem::Recent(v)))
    } else if is(b"DELETED-STORAGE") {
        number64(r).map(|(r, v)| (r, StatusItem::DeletedStorage(v)))
    } else if is(b"MAILBOXID") {
        paren_object_id(r).map(|(r, v)| (r, StatusItem::MailboxId(v.into_owned())))
    } else if is(b"HIGHESTMODSEQ") {
        number64(r).map(|(r, v)| (r, StatusItem::HighestModSeq(v)))
    } else if is(b"APPENDLIMIT") {
        match nil(r) {
            Some(r) => Ok((r, StatusItem::AppendLimit(None))),
            None => number64(r).map(|(r, v)| (r, StatusItem::AppendLimit(Some(v)))),
        }
    } else {
        fail(i, ParseErrorKind::Expected("status item"))
    }
}

/// Parses `"(" [status-att-val *(SP status-att-val)] ")"`.
pub(crate) fn status_att_list<'a>(i: &'a [u8], cfg: &ParserConfig) -> PResult<'a, Vec<StatusItem>> {
    list(i, true, cfg, |j| status_item(j, cfg))
}
