//! ESMTP parameters of `MAIL FROM` and `RCPT TO` (SIZE, BODY, SMTPUTF8, DSN, REQUIRETLS, AUTH).

use crate::error::CommandError;

/// `BODY=` values (RFC 6152 8BITMIME, RFC 3030 BINARYMIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME` (requires BDAT).
    BinaryMime,
}

impl Body {
    /// The keyword as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
            Body::BinaryMime => "BINARYMIME",
        }
    }
}

/// DSN `RET=` values (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: return the whole message in a failure DSN.
    Full,
    /// `RET=HDRS`: return only the headers.
    Headers,
}

impl Ret {
    /// The keyword as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Headers => "HDRS",
        }
    }
}

/// DSN `NOTIFY=` values (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NOTIFY=NEVER`.
    Never,
    /// `NOTIFY=` a non-empty comma-separated list of SUCCESS, FAILURE and DELAY.
    On {
        /// `SUCCESS` is listed.
        success: bool,
        /// `FAILURE` is listed.
        failure: bool,
        /// `DELAY` is listed.
        delay: bool,
    },
}

/// DSN `ORCPT=addr-type;xtext` (RFC 3461).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    /// Address type, usually `rfc822` or `utf-8`.
    pub addr_type: &'a str,
    /// The original recipient, still xtext-encoded.
    pub address: &'a str,
}

/// A parameter this codec does not model, kept verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Parameter<'a> {
    /// The esmtp-keyword as sent.
    pub keyword: &'a str,
    /// The esmtp-value, if any.
    pub value: Option<&'a str>,
}

/// Parameters of `MAIL FROM:<...>`. Encoding writes known parameters in a fixed order,
/// then the others in their original order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MailParameters<'a> {
    /// `SIZE=` declared message size (RFC 1870).
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030).
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// DSN `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// DSN `ENVID=` xtext (RFC 3461).
    pub envid: Option<&'a str>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `AUTH=` xtext mailbox or `<>` (RFC 4954).
    pub auth: Option<&'a str>,
    /// Any other parameters.
    pub other: Vec<Parameter<'a>>,
}

/// Parameters of `RCPT TO:<...>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RcptParameters<'a> {
    /// DSN `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// DSN `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt<'a>>,
    /// Any other parameters.
    pub other: Vec<Parameter<'a>>,
}

fn is_keyword(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// esmtp-value: one or more of %d33-60 / %d62-126 / non-ASCII UTF-8.
fn is_value(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c >= 33 && c != b'=' && c != 127)
}

fn param_error(keyword: &str, reason: &'static str) -> CommandError {
    let mut end = keyword.len().min(32);
    while !keyword.is_char_boundary(end) {
        end -= 1;
    }
    CommandError::Parameter {
        keyword: keyword[..end].to_owned(),
        reason,
    }
}

/// Splits `KEYWORD[=value]` and checks both halves.
fn split_param(token: &str) -> Result<Parameter<'_>, CommandError> {
    let (keyword, value) = match token.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (token, None),
    };
    if !is_keyword(keyword) {
        return Err(param_error(keyword, "malformed keyword"));
    }
    if let Some(v) = value
        && !is_value(v)
    {
        return Err(param_error(keyword, "malformed value"));
    }
    Ok(Parameter { keyword, value })
}

fn digits_u64(keyword: &str, v: &str) -> Result<u64, CommandError> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(param_error(keyword, "expected a decimal number"));
    }
    v.parse()
        .map_err(|_| param_error(keyword, "number out of range"))
}

fn set_once<T>(slot: &mut Option<T>, value: T, keyword: &str) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(param_error(keyword, "given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn set_flag(slot: &mut bool, value: Option<&str>, keyword: &str) -> Result<(), CommandError> {
    if value.is_some() {
        return Err(param_error(keyword, "takes no value"));
    }
    if *slot {
        return Err(param_error(keyword, "given twice"));
    }
    *slot = true;
    Ok(())
}

fn need<'a>(value: Option<&'a str>, keyword: &str) -> Result<&'a str, CommandError> {
    value.ok_or_else(|| param_error(keyword, "needs a value"))
}

impl<'a> MailParameters<'a> {
    /// Parses the space-separated parameters after `MAIL FROM:<path>`.
    pub fn parse(text: &'a str) -> Result<Self, CommandError> {
        let mut p = MailParameters::default();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            let Parameter { keyword, value } = split_param(token)?;
            if keyword.eq_ignore_ascii_case("SIZE") {
                let n = digits_u64(keyword, need(value, keyword)?)?;
                set_once(&mut p.size, n, keyword)?;
            } else if keyword.eq_ignore_ascii_case("BODY") {
                let v = need(value, keyword)?;
                let body = [Body::SevenBit, Body::EightBitMime, Body::BinaryMime]
                    .into_iter()
                    .find(|b| v.eq_ignore_ascii_case(b.as_str()))
                    .ok_or_else(|| param_error(keyword, "expected 7BIT, 8BITMIME or BINARYMIME"))?;
                set_once(&mut p.body, body, keyword)?;
            } else if keyword.eq_ignore_ascii_case("SMTPUTF8") {
                set_flag(&mut p.smtputf8, value, keyword)?;
            } else if keyword.eq_ignore_ascii_case("REQUIRETLS") {
                set_flag(&mut p.requiretls, value, keyword)?;
            } else if keyword.eq_ignore_ascii_case("RET") {
                let v = need(value, keyword)?;
                let ret = [Ret::Full, Ret::Headers]
                    .into_iter()
                    .find(|r| v.eq_ignore_ascii_case(r.as_str()))
                    .ok_or_else(|| param_error(keyword, "expected FULL or HDRS"))?;
                set_once(&mut p.ret, ret, keyword)?;
            } else if keyword.eq_ignore_ascii_case("ENVID") {
                set_once(&mut p.envid, need(value, keyword)?, keyword)?;
            } else if keyword.eq_ignore_ascii_case("AUTH") {
                set_once(&mut p.auth, need(value, keyword)?, keyword)?;
            } else {
                p.other.push(Parameter { keyword, value });
            }
        }
        Ok(p)
    }

    /// Appends ` KEY=value` for every parameter.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(size) = self.size {
            out.extend_from_slice(b" SIZE=");
            out.extend_from_slice(size.to_string().as_bytes());
        }
        if let Some(body) = self.body {
            out.extend_from_slice(b" BODY=");
            out.extend_from_slice(body.as_str().as_bytes());
        }
        if self.smtputf8 {
            out.extend_from_slice(b" SMTPUTF8");
        }
        if let Some(ret) = self.ret {
            out.extend_from_slice(b" RET=");
            out.extend_from_slice(ret.as_str().as_bytes());
        }
        if let Some(envid) = self.envid {
            out.extend_from_slice(b" ENVID=");
            out.extend_from_slice(envid.as_bytes());
        }
        if self.requiretls {
            out.extend_from_slice(b" REQUIRETLS");
        }
        if let Some(auth) = self.auth {
            out.extend_from_slice(b" AUTH=");
            out.extend_from_slice(auth.as_bytes());
        }
        encode_other(&self.other, out);
    }
}

fn encode_other(other: &[Parameter<'_>], out: &mut Vec<u8>) {
    for p in other {
        out.push(b' ');
        out.extend_from_slice(p.keyword.as_bytes());
        if let Some(v) = p.value {
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

impl<'a> RcptParameters<'a> {
    /// Parses the space-separated parameters after `RCPT TO:<path>`.
    pub fn parse(text: &'a str) -> Result<Self, CommandError> {
        let mut p = RcptParameters::default();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            let Parameter { keyword, value } = split_param(token)?;
            if keyword.eq_ignore_ascii_case("NOTIFY") {
                let notify = parse_notify(keyword, need(value, keyword)?)?;
                set_once(&mut p.notify, notify, keyword)?;
            } else if keyword.eq_ignore_ascii_case("ORCPT") {
                let v = need(value, keyword)?;
                let (addr_type, address) = v
                    .split_once(';')
                    .filter(|(t, a)| is_keyword(t) && !a.is_empty())
                    .ok_or_else(|| param_error(keyword, "expected addr-type;address"))?;
                set_once(&mut p.orcpt, Orcpt { addr_type, address }, keyword)?;
            } else {
                p.other.push(Parameter { keyword, value });
            }
        }
        Ok(p)
    }

    /// Appends ` KEY=value` for every parameter.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.notify {
            Some(Notify::Never) => out.extend_from_slice(b" NOTIFY=NEVER"),
            Some(Notify::On {
                success,
                failure,
                delay,
            }) => {
                out.extend_from_slice(b" NOTIFY=");
                let mut first = true;
                for (on, word) in [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")] {
                    if on {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.extend_from_slice(word.as_bytes());
                    }
                }
            }
            None => {}
        }
        if let Some(o) = self.orcpt {
            out.extend_from_slice(b" ORCPT=");
            out.extend_from_slice(o.addr_type.as_bytes());
            out.push(b';');
            out.extend_from_slice(o.address.as_bytes());
        }
        encode_other(&self.other, out);
    }
}

fn parse_notify(keyword: &str, v: &str) -> Result<Notify, CommandError> {
    if v.eq_ignore_ascii_case("NEVER") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for word in v.split(',') {
        let slot = if word.eq_ignore_ascii_case("SUCCESS") {
            &mut success
        } else if word.eq_ignore_ascii_case("FAILURE") {
            &mut failure
        } else if word.eq_ignore_ascii_case("DELAY") {
            &mut delay
        } else {
            return Err(param_error(
                keyword,
                "expected NEVER or SUCCESS,FAILURE,DELAY",
            ));
        };
        if *slot {
            return Err(param_error(keyword, "event listed twice"));
        }
        *slot = true;
    }
    Ok(Notify::On {
        success,
        failure,
        delay,
    })
}
