//! A sans-I/O, bounded HTTP/1.x response parser.
//!
//! Bytes go in with [`ResponseParser::push`]; a complete [`Response`] comes out once the framing
//! (`Content-Length`, `chunked`, or end of stream via [`ResponseParser::finish`]) says the body is
//! complete. Every length is bounded by [`ResponseLimits`]; no input makes it panic.

use std::fmt;

use zeroize::Zeroizing;

/// Size limits applied while parsing a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Largest accepted head (status line plus header fields), in bytes.
    pub max_head_bytes: usize,
    /// Largest accepted number of header fields.
    pub max_headers: usize,
    /// Largest accepted decoded body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// What was wrong with a response, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpParseError {
    /// The status line is not `HTTP/1.x NNN reason`.
    #[error("invalid status line")]
    StatusLine,
    /// A header line has no colon, an invalid name, or invalid bytes.
    #[error("invalid header field on line {line}")]
    HeaderField {
        /// 1-based line number within the head.
        line: usize,
    },
    /// The head is longer than allowed.
    #[error("response head exceeds {limit} bytes")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header fields than allowed.
    #[error("response has more than {limit} header fields")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// `Content-Length` is not a number, or appears with different values.
    #[error("invalid Content-Length")]
    ContentLength,
    /// `Transfer-Encoding` other than `chunked` (alone) is not supported.
    #[error("unsupported Transfer-Encoding")]
    TransferEncoding,
    /// A chunk size line or chunk terminator is invalid.
    #[error("invalid chunk at body offset {offset}")]
    Chunk {
        /// Offset in the raw body where the bad chunk starts.
        offset: usize,
    },
    /// The body is larger than allowed.
    #[error("response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The stream ended before the response was complete.
    #[error("connection closed before the response was complete")]
    Truncated,
}

/// A complete HTTP response. The body may hold tokens, so it is zeroized on drop and never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. `200`.
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Decoded body.
    pub body: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Response {
    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Status code and header fields of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilEof,
}

/// Incremental response parser; see the module documentation.
///
/// ```
/// use mailgate_token::http::{ResponseLimits, ResponseParser};
///
/// let mut parser = ResponseParser::new(ResponseLimits::default());
/// assert!(parser.push(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap().is_none());
/// let response = parser.push(b"gth: 2\r\n\r\n{}").unwrap().unwrap();
/// assert_eq!((response.status, &response.body[..]), (200, &b"{}"[..]));
/// ```
#[derive(Debug)]
pub struct ResponseParser {
    limits: ResponseLimits,
    buf: Zeroizing<Vec<u8>>,
    head: Option<(ResponseHead, Framing)>,
    done: bool,
}

impl ResponseParser {
    /// A parser applying `limits`.
    pub fn new(limits: ResponseLimits) -> Self {
        ResponseParser {
            limits,
            buf: Zeroizing::new(Vec::new()),
            head: None,
            done: false,
        }
    }

    /// The head, once it has been parsed.
    pub fn head(&self) -> Option<&ResponseHead> {
        self.head.as_ref().map(|(head, _)| head)
    }

    /// Feeds bytes; returns the response once it is complete. Bytes after a complete response
    /// are ignored (the client sends `Connection: close`).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<Response>, HttpParseError> {
        if self.done {
            return Ok(None);
        }
        self.buf.extend_from_slice(bytes);
        loop {
            if self.head.is_none() {
                let Some((head, consumed)) = parse_head(&self.buf, &self.limits)? else {
                    return Ok(None);
                };
                self.buf.drain(..consumed);
                if (100..200).contains(&head.status) {
                    // Interim response (e.g. 100 Continue): skip it, the final one follows.
                    continue;
                }
                let framing = framing(&head)?;
                self.head = Some((head, framing));
            }
            return self.try_complete();
        }
    }

    /// Signals the end of the stream; returns the response if the framing allows it to end here.
    pub fn finish(&mut self) -> Result<Response, HttpParseError> {
        match &self.head {
            Some((_, Framing::UntilEof)) if !self.done => {
                self.done = true;
                Ok(self.take_response(self.buf.len()))
            }
            _ => match self.try_complete()? {
                Some(response) => Ok(response),
                None => Err(HttpParseError::Truncated),
            },
        }
    }

    fn try_complete(&mut self) -> Result<Option<Response>, HttpParseError> {
        let Some((_, framing)) = &self.head else {
            return Ok(None);
        };
        let limit = self.limits.max_body_bytes;
        match *framing {
            Framing::Length(len) => {
                if len > limit {
                    return Err(HttpParseError::BodyTooLarge { limit });
                }
                if self.buf.len() >= len {
                    self.done = true;
                    return Ok(Some(self.take_response(len)));
                }
                Ok(None)
            }
            Framing::UntilEof => {
                if self.buf.len() > limit {
                    return Err(HttpParseError::BodyTooLarge { limit });
                }
                Ok(None)
            }
            Framing::Chunked => match decode_chunked(&self.buf, limit)? {
                Some(body) => {
                    self.done = true;
                    let mut response = self.take_response(0);
                    response.body = body;
                    Ok(Some(response))
                }
                None => Ok(None),
            },
        }
    }

    fn take_response(&mut self, body_len: usize) -> Response {
        let head = self
            .head
            .take()
            .map(|(head, _)| head)
            .unwrap_or(ResponseHead {
                status: 0,
                headers: Vec::new(),
            });
        let end = body_len.min(self.buf.len());
        let body = Zeroizing::new(self.buf.get(..end).unwrap_or_default().to_vec());
        self.buf.clear();
        Response {
            status: head.status,
            headers: head.headers,
            body,
        }
    }
}

/// Parses a head if `buf` holds one completely; returns it and the bytes consumed.
pub(crate) fn parse_head(
    buf: &[u8],
    limits: &ResponseLimits,
) -> Result<Option<(ResponseHead, usize)>, HttpParseError> {
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    let Some(end) = find(window, b"\r\n\r\n") else {
        if buf.len() >= limits.max_head_bytes {
            return Err(HttpParseError::HeadTooLarge {
                limit: limits.max_head_bytes,
            });
        }
        return Ok(None);
    };
    let text = window.get(..end).unwrap_or_default();
    let mut lines = text.split(|&b| b == b'\n');
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(strip_cr(status_line)).ok_or(HttpParseError::StatusLine)?;
    let mut headers = Vec::new();
    for (index, raw) in lines.enumerate() {
        let line = strip_cr(raw);
        let bad = HttpParseError::HeaderField { line: index + 2 };
        let colon = line.iter().position(|&b| b == b':').ok_or(bad.clone())?;
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
        if name.is_empty() || !name.iter().all(token) {
            return Err(bad);
        }
        if value.iter().any(|&b| b == b'\r' || b == 0) {
            return Err(bad);
        }
        if headers.len() == limits.max_headers {
            return Err(HttpParseError::TooManyHeaders {
                limit: limits.max_headers,
            });
        }
        let value = String::from_utf8_lossy(value).trim().to_owned();
        headers.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    Ok(Some((ResponseHead { status, headers }, end + 4)))
}

fn parse_status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (minor, rest) = rest.split_first()?;
    if !minor.is_ascii_digit() {
        return None;
    }
    let rest = rest.strip_prefix(b" ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    let status = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    (100..=999).contains(&status).then_some(status)
}

fn framing(head: &ResponseHead) -> Result<Framing, HttpParseError> {
    if head.status == 204 || head.status == 304 {
        return Ok(Framing::Length(0));
    }
    let mut transfer_encoding = None;
    let mut length: Option<usize> = None;
    for (name, value) in &head.headers {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = Some(value.as_str());
        } else if name.eq_ignore_ascii_case("content-length") {
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HttpParseError::ContentLength);
                }
                let parsed: usize = part.parse().map_err(|_| HttpParseError::ContentLength)?;
                if length.is_some_and(|l| l != parsed) {
                    return Err(HttpParseError::ContentLength);
                }
                length = Some(parsed);
            }
        }
    }
    match (transfer_encoding, length) {
        (Some(te), _) if te.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
        (Some(_), _) => Err(HttpParseError::TransferEncoding),
        (None, Some(len)) => Ok(Framing::Length(len)),
        (None, None) => Ok(Framing::UntilEof),
    }
}

/// Decodes a complete chunked body, or returns `None` if more bytes are needed.
fn decode_chunked(raw: &[u8], limit: usize) -> Result<Option<Zeroizing<Vec<u8>>>, HttpParseError> {
    const MAX_LINE: usize = 1024;
    let mut body = Zeroizing::new(Vec::new());
    let mut pos = 0;
    loop {
        let offset = pos;
        let bad = HttpParseError::Chunk { offset };
        let rest = raw.get(pos..).unwrap_or_default();
        let Some(line_end) = find(&rest[..rest.len().min(MAX_LINE)], b"\r\n") else {
            if rest.len() >= MAX_LINE {
                return Err(bad);
            }
            return Ok(None);
        };
        let line = rest.get(..line_end).unwrap_or_default();
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = trim_ascii(size_text);
        if size_text.is_empty()
            || size_text.len() > 8
            || !size_text.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(bad);
        }
        let size = size_text.iter().fold(0usize, |acc, &d| {
            acc * 16 + usize::from(char::from(d).to_digit(16).unwrap_or(0) as u8)
        });
        pos += line_end + 2;
        if size == 0 {
            // Trailer fields until an empty line.
            loop {
                let rest = raw.get(pos..).unwrap_or_default();
                let Some(end) = find(&rest[..rest.len().min(MAX_LINE)], b"\r\n") else {
                    if rest.len() >= MAX_LINE {
                        return Err(bad);
                    }
                    return Ok(None);
                };
                pos += end + 2;
                if end == 0 {
                    return Ok(Some(body));
                }
            }
        }
        if body.len().saturating_add(size) > limit {
            return Err(HttpParseError::BodyTooLarge { limit });
        }
        let Some(data) = raw.get(pos..pos.saturating_add(size)) else {
            return Ok(None);
        };
        body.extend_from_slice(data);
        pos += size;
        match raw.get(pos..pos.saturating_add(2)) {
            Some(b"\r\n") => pos += 2,
            Some(_) => return Err(bad),
            None if raw.len() > pos + 1 || raw.get(pos).is_some_and(|&b| b != b'\r') => {
                return Err(bad);
            }
            None => return Ok(None),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Response, HttpParseError> {
        let mut parser = ResponseParser::new(ResponseLimits {
            max_head_bytes: 256,
            max_headers: 4,
            max_body_bytes: 64,
        });
        match parser.push(input)? {
            Some(response) => Ok(response),
            None => parser.finish(),
        }
    }

    #[test]
    fn table() {
        use HttpParseError as E;
        type Case<'a> = (&'a [u8], Result<(u16, &'a [u8]), HttpParseError>);
        let cases: &[Case<'_>] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", Ok((200, b"{}"))),
            (b"HTTP/1.0 400 Bad\r\n\r\n{\"error\":1}", Ok((400, b"{\"error\":1}"))),
            (b"HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\n\r\n", Ok((200, b"abc"))),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", Ok((204, b""))),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", Err(E::Truncated)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", Err(E::ContentLength)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Err(E::ContentLength)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", Err(E::BodyTooLarge { limit: 64 })),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Err(E::TransferEncoding)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Err(E::Chunk { offset: 0 })),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", Err(E::Chunk { offset: 0 })),
            (b"HTTP/2 200\r\n\r\n", Err(E::StatusLine)),
            (b"HTTP/1.1 20x OK\r\n\r\n", Err(E::StatusLine)),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", Err(E::HeaderField { line: 2 })),
            (b"HTTP/1.1 200 OK\r\n", Err(E::Truncated)),
            (b"HTTP/1.1 200 OK\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n", Err(E::TooManyHeaders { limit: 4 })),
        ];
        for (input, expected) in cases {
            let got = parse_all(input).map(|r| (r.status, r.body.to_vec()));
            let expected = expected.clone().map(|(s, b)| (s, b.to_vec()));
            assert_eq!(got, expected, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn head_limit() {
        let mut input = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', 300));
        assert_eq!(
            parse_all(&input),
            Err(HttpParseError::HeadTooLarge { limit: 256 })
        );
    }

    #[test]
    fn byte_by_byte_equals_whole() {
        let input =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n";
        let mut parser = ResponseParser::new(ResponseLimits::default());
        let mut out = None;
        for b in input.iter() {
            if let Some(r) = parser.push(std::slice::from_ref(b)).unwrap() {
                out = Some(r);
            }
        }
        assert_eq!(&out.unwrap().body[..], b"abc");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), split in 0usize..512) {
            let mut parser = ResponseParser::new(ResponseLimits::default());
            let split = split.min(input.len());
            let _ = parser.push(&input[..split]).and_then(|_| parser.push(&input[split..])).and_then(|_| parser.finish());
        }

        #[test]
        fn chunked_round_trip(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), chunk in 1usize..50) {
            let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for part in body.chunks(chunk) {
                raw.extend(format!("{:x}\r\n", part.len()).bytes());
                raw.extend_from_slice(part);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            let mut parser = ResponseParser::new(ResponseLimits::default());
            let response = parser.push(&raw).unwrap().unwrap();
            proptest::prop_assert_eq!(&response.body[..], &body[..]);
        }
    }
}
