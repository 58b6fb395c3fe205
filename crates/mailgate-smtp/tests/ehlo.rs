//! Table-driven tests of the EHLO capability model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use mailgate_smtp::{Capability, EhloReply, Reply};

fn v(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn capability_lines() {
    let rows: Vec<(&str, Capability, &str)> = vec![
        ("PIPELINING", Capability::Pipelining, "PIPELINING"),
        ("pipelining", Capability::Pipelining, "PIPELINING"),
        ("SIZE", Capability::Size(None), "SIZE"),
        (
            "SIZE 35882577",
            Capability::Size(Some(35_882_577)),
            "SIZE 35882577",
        ),
        ("SIZE big", Capability::Other("SIZE big".into()), "SIZE big"),
        (
            "SIZE 99999999999999999999999",
            Capability::Other("SIZE 99999999999999999999999".into()),
            "SIZE 99999999999999999999999",
        ),
        ("8BITMIME", Capability::EightBitMime, "8BITMIME"),
        ("SMTPUTF8", Capability::SmtpUtf8, "SMTPUTF8"),
        ("CHUNKING", Capability::Chunking, "CHUNKING"),
        ("BINARYMIME", Capability::BinaryMime, "BINARYMIME"),
        (
            "ENHANCEDSTATUSCODES",
            Capability::EnhancedStatusCodes,
            "ENHANCEDSTATUSCODES",
        ),
        ("DSN", Capability::Dsn, "DSN"),
        ("STARTTLS", Capability::StartTls, "STARTTLS"),
        ("REQUIRETLS", Capability::RequireTls, "REQUIRETLS"),
        (
            "AUTH LOGIN PLAIN XOAUTH2",
            Capability::Auth(v(&["LOGIN", "PLAIN", "XOAUTH2"])),
            "AUTH LOGIN PLAIN XOAUTH2",
        ),
        ("AUTH", Capability::Auth(vec![]), "AUTH"),
        ("auth  plain", Capability::Auth(v(&["plain"])), "AUTH plain"),
        (
            "AUTH=LOGIN",
            Capability::AuthLegacy(v(&["LOGIN"])),
            "AUTH=LOGIN",
        ),
        (
            "AUTH=LOGIN PLAIN",
            Capability::AuthLegacy(v(&["LOGIN", "PLAIN"])),
            "AUTH=LOGIN PLAIN",
        ),
        (
            "STARTTLS now",
            Capability::Other("STARTTLS now".into()),
            "STARTTLS now",
        ),
        (
            "X-EXPS GSSAPI NTLM",
            Capability::Other("X-EXPS GSSAPI NTLM".into()),
            "X-EXPS GSSAPI NTLM",
        ),
        (
            "BURL imap",
            Capability::Other("BURL imap".into()),
            "BURL imap",
        ),
    ];
    for (line, want, canonical) in rows {
        let got = Capability::parse(line);
        assert_eq!(got, want, "{line:?}");
        assert_eq!(got.to_string(), canonical, "{line:?}");
    }
}

#[test]
fn rewrite_outlook_style() {
    let mut ehlo = EhloReply::parse(
        b"250-smtp.example.com Hello [198.51.100.7]\r\n250-SIZE 157286400\r\n250-AUTH=LOGIN\r\n\
250-AUTH LOGIN XOAUTH2\r\n250-STARTTLS\r\n250 CHUNKING\r\n",
    )
    .unwrap();
    assert_eq!(ehlo.domain, "smtp.example.com");
    assert_eq!(ehlo.greeting, "Hello [198.51.100.7]");
    assert_eq!(ehlo.auth_mechanisms(), vec!["LOGIN", "XOAUTH2"]);
    assert!(ehlo.supports_auth("xoauth2"));
    assert!(!ehlo.supports_auth("PLAIN"));
    ehlo.set_auth_mechanisms(&["PLAIN", "LOGIN"]);
    ehlo.set_starttls(false);
    assert_eq!(
        ehlo.to_reply().to_bytes(),
        b"250-smtp.example.com Hello [198.51.100.7]\r\n250-SIZE 157286400\r\n250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n"
    );
    ehlo.set_auth_mechanisms(&[]);
    ehlo.set_starttls(true);
    ehlo.set_starttls(true);
    ehlo.retain(|c| *c != Capability::Chunking);
    assert_eq!(
        ehlo.to_reply().to_bytes(),
        b"250-smtp.example.com Hello [198.51.100.7]\r\n250-SIZE 157286400\r\n250 STARTTLS\r\n"
    );
}

#[test]
fn not_an_ehlo_reply() {
    assert!(EhloReply::parse(b"502 5.5.1 EHLO not supported\r\n").is_none());
    assert!(EhloReply::parse(b"250-partial\r\n").is_none());
    assert!(EhloReply::from_reply(&Reply::new(220, None, "hello")).is_none());
    let single = EhloReply::parse(b"250 mx.example.com\r\n").unwrap();
    assert_eq!(
        (single.domain.as_str(), single.capabilities.len()),
        ("mx.example.com", 0)
    );
}
