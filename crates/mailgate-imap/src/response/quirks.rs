//! Server quirks accepted when
//! [`ParserConfig::allow_server_quirks`](crate::ParserConfig::allow_server_quirks) is on
//! (it is in [`ParserConfig::lenient`](crate::ParserConfig::lenient)).
//!
//! Each quirk was seen from a real server; strict mode rejects all of them (or, for
//! bracketed codes, reads them as plain text). A value parsed under a quirk encodes to
//! valid IMAP that strict mode reads back as the same value, except those marked
//! *lenient-only* below, whose canonical form reads back only in lenient mode. Trailing spaces and bare LF line ends are governed by
//! `allow_trailing_space` and `allow_bare_lf`, 8-bit atoms by `allow_8bit_atoms`.
//!
//! | Quirk | Seen from | Read as |
//! |-------|-----------|---------|
//! | `* OK [UIDNEXT 5]` with no space and no text after the code | Gmail, Yahoo, Exchange | empty text |
//! | `* OK` / `* BYE` / `a1 OK` with nothing after the keyword | Exchange, Dovecot proxies | empty text |
//! | `* OK[ALERT] x`: no space between keyword and `[` | small servers | code and text |
//! | `+` alone as continuation request | several AUTHENTICATE implementations | empty text |
//! | `[Error="..." Proxy=...]`: code arguments glued to the name | Outlook 365 | `Code::Other` with those arguments |
//! | Invalid UTF-8 in status text | Latin-1 greetings | text with replacement characters |
//! | Spaces before `)` or `]`, and runs of spaces between items (`(UID 5 )`) | QQ Mail, Exchange | as if absent |
//! | `()` where the grammar wants one or more items (addresses, parameters, namespaces, BADCHARSET) | various servers | `NIL` |
//! | Spaces between concatenated parts of a multipart BODYSTRUCTURE, between addresses, between threads | Exchange, Dovecot | as if absent |
//! | `NIL` as a `body-fld-param` value (`("boundary" NIL)`) | Mail.ru, Exchange 2010 | empty string |
//! | `NIL` as `body-fld-enc`, media type or subtype | maddy, broken MIME | empty string |
//! | Negative size or line count (`-1`) in BODYSTRUCTURE | Dovecot | 0 |
//! | A bare string as Content-Disposition (`"inline"` instead of `("inline" NIL)`) | Exchange / Office 365 | disposition without parameters |
//! | `MESSAGE/RFC822` part without envelope, body and lines | DavMail, Exchange | basic part (*lenient-only*) |
//! | `NIL` as the envelope of a `MESSAGE/RFC822` part, or as its line count or a text part's | servers that do not parse attached messages | an envelope of `NIL` fields; 0 lines |
//! | A zero mod-sequence where RFC 7162 wants a non-zero one (`MODSEQ (0)`, `[HIGHESTMODSEQ 0]`, `(MODSEQ 0)` after SEARCH, `MODSEQ 0` in ESEARCH) | not seen yet; accepted as before strict mode refused it | that zero (*lenient-only*) |
//! | `\` followed by a character other than `"` or `\` inside a quoted string | Gmail, Exchange | a literal backslash |
//! | Unquoted mailbox name containing `\` in LIST/LSUB | Gmail | that name |
//! | `* CAPABILITY` with no capability | broken proxies | empty list (*lenient-only*) |
//! | Trailing space after the last number of SEARCH/SORT or item of CAPABILITY/ENABLED/QUOTAROOT | Gmail, Yahoo, Dovecot | as if absent |
//! | A THREAD sub-list with a single child (`(1 (2))`) | Dovecot | the chain `(1 2)` |
//!
//! Not accepted, because the message would be ambiguous or lose information: tagged
//! `BYE` (`a1 BYE ...`), responses without `*` or tag (`[COPYUID ...]` alone, old
//! Exchange after UID MOVE), flags containing `]` or spaces (Gmail labels created
//! through the web interface).
