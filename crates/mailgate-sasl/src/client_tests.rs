use super::*;
use crate::decode_base64;

fn respond(step: ClientStep) -> String {
    match step {
        ClientStep::Respond(s) => s.expose().clone(),
        other => panic!("expected Respond, got {other:?}"),
    }
}

#[test]
fn xoauth2_google_known_good() {
    // The example published in Google's XOAUTH2 protocol documentation.
    let token = SecretString::from("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let mut c = ClientExchange::xoauth2("someuser@example.com", token);
    assert_eq!(
        c.initial_response().unwrap().expose().as_slice(),
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    );
    let ir = c.start(true).unwrap().unwrap();
    assert_eq!(
        ir.expose(),
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    );
}

/// RFC 7628 section 4.1, the IMAP example's initial client response.
const RFC7628_INITIAL: &str = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";

#[test]
fn oauthbearer_rfc7628_known_good() {
    let token = SecretString::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
    let mut c = ClientExchange::oauthbearer(
        "user@example.com",
        Some("server.example.com"),
        Some(143),
        token,
    );
    assert_eq!(
        c.initial_response().unwrap().expose().as_slice(),
        &b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"[..]
    );
    assert_eq!(c.start(true).unwrap().unwrap().expose(), RFC7628_INITIAL);
}

#[test]
fn oauthbearer_rfc7628_failure_exchange() {
    // RFC 7628 section 4.3: the server's error challenge, answered with %x01.
    let mut c = ClientExchange::oauthbearer(
        "user@example.com",
        Some("server.example.com"),
        Some(143),
        SecretString::from("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
    );
    c.start(true).unwrap();
    let challenge = b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
    match c.step(challenge).unwrap() {
        ClientStep::ErrorChallenge { response, error } => {
            assert_eq!(response, "AQ==");
            assert_eq!(decode_base64(response.as_bytes()).unwrap(), b"\x01");
            assert_eq!(error.status.as_deref(), Some("invalid_token"));
            assert_eq!(error.scope.as_deref(), Some("example_scope"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.provider_error().unwrap().status.as_deref(),
        Some("invalid_token")
    );
    // A second challenge is a protocol violation.
    assert!(matches!(
        c.step(b""),
        Err(SaslError::UnexpectedChallenge {
            mechanism: "OAUTHBEARER"
        })
    ));
}

#[test]
fn xoauth2_error_challenge_gets_empty_response() {
    let mut c = ClientExchange::xoauth2("u@gmail.com", SecretString::from("t"));
    c.start(true).unwrap();
    let challenge = crate::encode_base64(
        br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
    );
    match c.step(challenge.as_bytes()).unwrap() {
        ClientStep::ErrorChallenge { response, error } => {
            assert_eq!(response, "");
            assert_eq!(error.status.as_deref(), Some("400"));
            assert_eq!(error.scope.as_deref(), Some("https://mail.google.com/"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_initial_response_waits_for_empty_challenge() {
    for mut c in [
        ClientExchange::xoauth2("u", SecretString::from("t")),
        ClientExchange::oauthbearer("u", None, None, SecretString::from("t")),
        ClientExchange::plain(None, "u", SecretString::from("p")),
    ] {
        assert_eq!(c.start(false).unwrap(), None);
        let line = respond(c.step(b"").unwrap());
        assert_eq!(
            decode_base64(line.as_bytes()).unwrap(),
            *c.initial_response().unwrap().expose()
        );
    }
}

#[test]
fn oauthbearer_without_host_and_port_and_escaping() {
    let ir = oauthbearer_initial_response("a,b=c@x", None, Some(993), &SecretString::from("t"));
    assert_eq!(
        ir.expose(),
        b"n,a=a=2Cb=3Dc@x,\x01port=993\x01auth=Bearer t\x01\x01"
    );
    assert_eq!(gs2_escape("plain"), "plain");
    assert_eq!(gs2_escape("=,"), "=3D=2C");
}

#[test]
fn plain_client() {
    let mut c = ClientExchange::plain(Some("admin"), "tim", SecretString::from("pw"));
    assert_eq!(c.mechanism(), Mechanism::Plain);
    let ir = c.start(true).unwrap().unwrap();
    let creds = crate::decode_plain(&decode_base64(ir.expose().as_bytes()).unwrap()).unwrap();
    assert_eq!(creds.authzid.as_deref(), Some("admin"));
    assert_eq!(creds.username, "tim");
    // PLAIN has no further challenges.
    assert!(matches!(
        c.step(b""),
        Err(SaslError::UnexpectedChallenge { mechanism: "PLAIN" })
    ));
}

#[test]
fn login_client() {
    let mut c = ClientExchange::login("tim", SecretString::from("pw"));
    assert_eq!(c.initial_response(), None);
    assert_eq!(c.start(true).unwrap(), None);
    assert_eq!(respond(c.step(b"VXNlcm5hbWU6").unwrap()), "dGlt");
    assert_eq!(respond(c.step(b"UGFzc3dvcmQ6").unwrap()), "cHc=");
    assert!(c.step(b"").is_err());
    assert!(c.step(b"").is_err());
}

#[test]
fn client_misuse() {
    let mut c = ClientExchange::xoauth2("u", SecretString::from("t"));
    assert_eq!(c.step(b"").unwrap_err(), SaslError::ExchangeFinished);
    c.start(true).unwrap();
    assert_eq!(c.start(true).unwrap_err(), SaslError::ExchangeFinished);
}

#[test]
fn debug_never_shows_token() {
    let c = ClientExchange::xoauth2("u", SecretString::from("ya29.very-secret"));
    let text = format!(
        "{c:?} {:?} {:?}",
        c.initial_response(),
        c.initial_response_base64()
    );
    assert!(!text.contains("very-secret"), "{text}");
    assert!(!text.contains("eWEyOS"), "{text}");
}
