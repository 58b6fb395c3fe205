//! The PLAIN message (RFC 4616 section 2): `[authzid] NUL authcid NUL passwd`.

use crate::{Credentials, SaslError, SecretBytes};

/// Parses a decoded PLAIN message.
///
/// Rules (RFC 4616 section 2): exactly two NUL separators; `authcid` and `passwd`
/// are non-empty (`1*SAFE`); all three fields are UTF-8. An empty `authzid` means
/// "none" and yields `None`.
///
/// ```
/// use mailgate_sasl::decode_plain;
/// let c = decode_plain(b"\0tim\0tanstaaftanstaaf").unwrap();
/// assert_eq!(c.username, "tim");
/// assert_eq!(c.authzid, None);
/// assert_eq!(c.password.expose(), "tanstaaftanstaaf");
/// ```
///
/// # Errors
///
/// [`SaslError::MalformedPlain`] saying which rule was broken. The message never
/// contains the password.
pub fn decode_plain(message: &[u8]) -> Result<Credentials, SaslError> {
    let malformed = |reason| SaslError::MalformedPlain { reason };
    let mut parts = message.splitn(3, |&b| b == 0);
    let authzid = parts.next().unwrap_or_default();
    let authcid = parts.next().ok_or(malformed(
        "no NUL separator (expected [authzid] NUL authcid NUL passwd)",
    ))?;
    let passwd = parts.next().ok_or(malformed(
        "only one NUL separator (expected [authzid] NUL authcid NUL passwd)",
    ))?;
    if passwd.contains(&0) {
        return Err(malformed("more than two NUL separators"));
    }
    if authcid.is_empty() {
        return Err(malformed("empty authentication identity (username)"));
    }
    if passwd.is_empty() {
        return Err(malformed("empty password"));
    }
    let authzid = core::str::from_utf8(authzid)
        .map_err(|_| malformed("authorization identity is not UTF-8"))?;
    let authcid = core::str::from_utf8(authcid)
        .map_err(|_| malformed("authentication identity (username) is not UTF-8"))?;
    let passwd = core::str::from_utf8(passwd).map_err(|_| malformed("password is not UTF-8"))?;
    Ok(Credentials {
        authzid: (!authzid.is_empty()).then(|| authzid.to_owned()),
        username: authcid.to_owned(),
        password: passwd.into(),
    })
}

/// Builds a PLAIN message from its parts (not yet base64-encoded).
///
/// The caller is responsible for not putting NUL bytes into the fields; a field
/// containing NUL produces a message that [`decode_plain`] rejects.
///
/// ```
/// use mailgate_sasl::{encode_plain, encode_base64};
/// let m = encode_plain(None, "tim", "tanstaaftanstaaf");
/// assert_eq!(encode_base64(m.expose()), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
/// ```
pub fn encode_plain(authzid: Option<&str>, username: &str, password: &str) -> SecretBytes {
    let authzid = authzid.unwrap_or_default();
    let mut out = Vec::with_capacity(authzid.len() + username.len() + password.len() + 2);
    out.extend_from_slice(authzid.as_bytes());
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    SecretBytes::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4616_examples() {
        // RFC 4616 section 4.
        let c = decode_plain(b"\0tim\0tanstaaftanstaaf").unwrap();
        assert_eq!((c.authzid, c.username.as_str()), (None, "tim"));
        let c = decode_plain(b"Ursel\0Kurt\0xipj3plmq").unwrap();
        assert_eq!(c.authzid.as_deref(), Some("Ursel"));
        assert_eq!(c.username, "Kurt");
        assert_eq!(c.password.expose(), "xipj3plmq");
    }

    #[test]
    fn table() {
        type Row = (
            &'static [u8],
            Result<(&'static str, &'static str), &'static str>,
        );
        let cases: &[Row] = &[
            (b"\0u\0p", Ok(("u", "p"))),
            (
                b"\0user@example.com\0p w d",
                Ok(("user@example.com", "p w d")),
            ),
            (b"\0\xc3\xa9\0\xc3\xa9", Ok(("\u{e9}", "\u{e9}"))),
            (b"", Err("no NUL separator")),
            (b"userpass", Err("no NUL separator")),
            (b"\0user", Err("only one NUL separator")),
            (b"\0\0pass", Err("empty authentication identity")),
            (b"\0user\0", Err("empty password")),
            (b"\0user\0pa\0ss", Err("more than two NUL separators")),
            (b"\0\0\0", Err("more than two NUL separators")),
            (b"a\0\0", Err("empty authentication identity")),
            (
                b"\0\xff\0p",
                Err("authentication identity (username) is not UTF-8"),
            ),
            (b"\0u\0\xff", Err("password is not UTF-8")),
            (b"\xff\0u\0p", Err("authorization identity is not UTF-8")),
        ];
        for (input, want) in cases {
            match (decode_plain(input), want) {
                (Ok(c), Ok((u, p))) => {
                    assert_eq!(
                        (c.username.as_str(), c.password.expose().as_str()),
                        (*u, *p)
                    );
                }
                (Err(SaslError::MalformedPlain { reason }), Err(w)) => {
                    assert!(reason.starts_with(w), "{input:?}: {reason}");
                }
                (got, _) => panic!("{input:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn error_does_not_echo_password() {
        let err = decode_plain(b"\0user\0secret\0more").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn round_trip(
            authzid in proptest::option::of("[^\u{0}]{1,20}"),
            user in "[^\u{0}]{1,40}",
            pass in "[^\u{0}]{1,40}",
        ) {
            let m = encode_plain(authzid.as_deref(), &user, &pass);
            let encoded = crate::encode_base64(m.expose());
            let decoded = crate::decode_base64(encoded.as_bytes()).unwrap();
            let c = decode_plain(&decoded).unwrap();
            proptest::prop_assert_eq!(c.authzid, authzid);
            proptest::prop_assert_eq!(c.username, user);
            proptest::prop_assert_eq!(c.password.expose(), &pass);
        }
    }
}
