//! Both machines wired together as the proxy drives them: a local client logs in with
//! a password, the proxy logs in upstream (a Dovecot submission-like server) with
//! XOAUTH2, and both sides hand off to relaying.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Instant;

use mailgate_sasl::{ClientExchange, SecretString};
use mailgate_smtp::{
    ClientConfig, ClientError, ClientEvent, ClientSession, EnhancedStatus, Reply, ServerConfig,
    ServerEvent, ServerSession,
};

const DOVECOT_GREETING: &[u8] = b"220 mail.example.org Dovecot ready.\r\n";
const DOVECOT_EHLO_PLAIN: &[u8] =
    b"250-mail.example.org\r\n250-8BITMIME\r\n250-BURL imap\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n\
250-SIZE\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n";
const DOVECOT_EHLO_TLS: &[u8] =
    b"250-mail.example.org\r\n250-8BITMIME\r\n250-AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n250-BURL imap\r\n\
250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n";

/// Collects everything the local side sent as text; returns the other events.
fn drain_server(s: &mut ServerSession, wire: &mut String) -> Vec<ServerEvent> {
    let mut rest = Vec::new();
    while let Some(ev) = s.poll_event() {
        match ev {
            ServerEvent::Send(b) => wire.push_str(&String::from_utf8(b).unwrap()),
            other => rest.push(other),
        }
    }
    rest
}

fn drain_client(c: &mut ClientSession, wire: &mut String) -> Vec<ClientEvent> {
    let mut rest = Vec::new();
    while let Some(ev) = c.poll_event() {
        match ev {
            ClientEvent::Send(b) => wire.push_str(&String::from_utf8(b).unwrap()),
            ClientEvent::SendSecret(b) => {
                wire.push_str(&String::from_utf8(b.expose().clone()).unwrap())
            }
            other => rest.push(other),
        }
    }
    rest
}

/// Runs the whole pre-authentication phase; `upstream_auth_replies` are what the upstream
/// server answers to AUTH (and to the error-challenge response).
fn proxy(
    upstream_auth_replies: &[&[u8]],
) -> (String, String, Vec<ServerEvent>, Option<ClientError>) {
    let now = Instant::now();
    let (mut local_wire, mut upstream_wire) = (String::new(), String::new());

    // Upstream: greeting, EHLO, STARTTLS, EHLO, then wait for a token.
    let mut cc = ClientConfig::new("proxy.local");
    cc.starttls = true;
    let mut up = ClientSession::new(cc, now);
    up.receive(DOVECOT_GREETING, now);
    up.receive(DOVECOT_EHLO_PLAIN, now);
    up.receive(b"220 2.0.0 Begin TLS negotiation now.\r\n", now);
    let evs = drain_client(&mut up, &mut upstream_wire);
    assert!(matches!(evs[..], [ClientEvent::StartTls]));
    up.tls_established(now);
    up.receive(DOVECOT_EHLO_TLS, now);
    let evs = drain_client(&mut up, &mut upstream_wire);
    let [
        ClientEvent::Capabilities(caps),
        ClientEvent::NeedAuthentication,
    ] = &evs[..]
    else {
        panic!("{evs:?}")
    };

    // Local: the client pipelines EHLO and AUTH PLAIN (user / app-password).
    let mut sc = ServerConfig::new("proxy.local");
    sc.capabilities = Some(caps.clone());
    let mut local = ServerSession::new(sc, now);
    local.receive(
        b"EHLO laptop\r\nAUTH PLAIN AHVzZXJAZXhhbXBsZS5vcmcAbG9jYWwtcGFzc3dvcmQ=\r\n",
        now,
    );
    let evs = drain_server(&mut local, &mut local_wire);
    let [ServerEvent::Authenticate(creds)] = &evs[..] else {
        panic!("{evs:?}")
    };
    assert_eq!(creds.username, "user@example.org");
    assert_eq!(creds.password.expose(), "local-password");

    // The proxy would now unlock the stored token with the password; here, a fixed one.
    up.authenticate(
        ClientExchange::xoauth2(&creds.username, SecretString::from("ya29.token")),
        now,
    );
    for reply in upstream_auth_replies {
        up.receive(reply, now);
    }
    let mut failure = None;
    for ev in drain_client(&mut up, &mut upstream_wire) {
        match ev {
            ClientEvent::Authenticated => local.accept_auth(),
            ClientEvent::HandOff { pending } => assert!(pending.is_empty()),
            ClientEvent::Failed(e) => {
                let text = format!("Upstream authentication failed: {e}");
                local.reject_auth(Some(Reply::new(535, EnhancedStatus::new(5, 7, 8), text)));
                failure = Some(e);
            }
            other => panic!("{other:?}"),
        }
    }
    let evs = drain_server(&mut local, &mut local_wire);
    (local_wire, upstream_wire, evs, failure)
}

#[test]
fn dovecot_submission_success() {
    let (local, upstream, evs, failure) = proxy(&[b"235 2.7.0 Logged in.\r\n"]);
    assert!(failure.is_none());
    assert!(matches!(evs[..], [ServerEvent::HandOff { .. }]), "{evs:?}");
    assert_eq!(
        local,
        "220 proxy.local ESMTP ready\r\n\
250-proxy.local\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-BURL imap\r\n250-CHUNKING\r\n\
250-ENHANCEDSTATUSCODES\r\n250-SIZE\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n\
235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(
        upstream,
        "EHLO proxy.local\r\nSTARTTLS\r\nEHLO proxy.local\r\n\
AUTH XOAUTH2 dXNlcj11c2VyQGV4YW1wbGUub3JnAWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ==\r\n"
    );
}

#[test]
fn dovecot_submission_token_rejected() {
    // {"status":"invalid_token","schemes":"bearer","scope":"mail"}
    let (local, upstream, evs, failure) = proxy(&[
        b"334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJtYWlsIn0=\r\n",
        b"535 5.7.8 Authentication failed\r\n",
    ]);
    assert!(matches!(failure, Some(ClientError::AuthRejected { .. })));
    assert!(evs.is_empty(), "{evs:?}");
    assert!(upstream.ends_with("==\r\n\r\n"), "{upstream}");
    let last = local.lines().last().unwrap();
    assert!(
        last.starts_with(
            "535 5.7.8 Upstream authentication failed: authentication rejected: 535 5.7.8"
        ),
        "{last}"
    );
    assert!(last.contains("invalid_token"), "{last}");
}
