//! What a refused upstream TLS handshake tells the user.
//!
//! Upstream certificates are verified by `mailgate-token`'s
//! [`PinningVerifier`](mailgate_token::tls::PinningVerifier): WebPKI against the trust anchors
//! of [`crate::tls::UpstreamTrust`], plus certificates trusted by name (`server_ca_file`,
//! `SSL_CERT_FILE`) pinned even when `openssl req -x509` marked them `CA:TRUE`. A refused
//! handshake is explained as a sentence naming the server section and what to do
//! ([`explain_handshake_failure`]), never as an error enum's debug output.

use std::io;
use std::path::Path;

use mailgate_token::tls::is_ca_used_as_end_entity;
use rustls::{CertificateError, Error};

/// Where the failed connection went, for [`explain_handshake_failure`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpstreamEndpoint<'a> {
    /// The server section, e.g. `IMAP-2993`.
    pub(crate) section: &'a str,
    /// `host:port` of the upstream server.
    pub(crate) server: &'a str,
    /// The section's `server_ca_file`, if any.
    pub(crate) ca_file: Option<&'a Path>,
}

/// A sentence saying why the TLS handshake with the upstream failed and what to do about it.
///
/// `error` is what the TLS stream returned: a rustls error wrapped in an I/O error, or the
/// I/O error itself.
pub(crate) fn explain_handshake_failure(
    error: &io::Error,
    endpoint: UpstreamEndpoint<'_>,
) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
    else {
        return match error.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
                "the server closed the connection during the TLS handshake; check that port {} speaks TLS from the start, or set server_starttls = True in [{}] if it starts in plain text",
                endpoint.server, endpoint.section
            ),
            _ => format!("the TLS handshake failed: {error}"),
        };
    };
    match tls {
        Error::InvalidCertificate(certificate) => explain_certificate(certificate, endpoint),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => format!(
            "the server did not answer in TLS ({tls}); check that {} speaks TLS from the start, or set server_starttls = True in [{}] if it starts in plain text",
            endpoint.server, endpoint.section
        ),
        Error::PeerIncompatible(_) | Error::AlertReceived(_) => format!(
            "the server and mailgate found no TLS version or cipher suite in common ({tls}); mailgate offers TLS 1.2 and 1.3"
        ),
        other => format!("the TLS handshake failed: {other}"),
    }
}

/// How `server_ca_file` of the section stands, for advice.
fn trust_advice(endpoint: UpstreamEndpoint<'_>) -> String {
    match endpoint.ca_file {
        Some(path) => format!(
            "add it to {} (server_ca_file of [{}]) or to the bundle SSL_CERT_FILE names",
            path.display(),
            endpoint.section
        ),
        None => format!(
            "put it in a PEM file and name that file as server_ca_file in [{}], or add it to the bundle SSL_CERT_FILE names",
            endpoint.section
        ),
    }
}

fn explain_certificate(error: &CertificateError, endpoint: UpstreamEndpoint<'_>) -> String {
    let server = endpoint.server;
    match error {
        CertificateError::UnknownIssuer => format!(
            "the certificate of {server} is not signed by a certificate authority mailgate trusts: to trust it, take the certificate of the authority that signed it (or, for a self-signed certificate, the certificate itself) and {}",
            trust_advice(endpoint)
        ),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names = if presented.is_empty() {
                "no host name at all".to_owned()
            } else {
                presented
                    .iter()
                    .map(|name| presented_name(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "the certificate of {server} is for {names}, not for {}: set server_address in [{}] to a name the certificate carries, or give the server a certificate for {}",
                expected.to_str(),
                endpoint.section,
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => format!(
            "the certificate of {server} is not for the host name mailgate connected to: set server_address in [{}] to a name the certificate carries",
            endpoint.section
        ),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the certificate of {server} expired {} ago: the server needs a new certificate (or this machine's clock is wrong)",
            span(time.as_secs().saturating_sub(not_after.as_secs()))
        ),
        CertificateError::Expired => format!(
            "the certificate of {server} has expired: the server needs a new certificate (or this machine's clock is wrong)"
        ),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the certificate of {server} is valid only from {} from now: check this machine's clock",
            span(not_before.as_secs().saturating_sub(time.as_secs()))
        ),
        CertificateError::NotValidYet => {
            format!("the certificate of {server} is not valid yet: check this machine's clock")
        }
        CertificateError::Revoked => format!(
            "the certificate of {server} has been revoked by its certificate authority: the server needs a new certificate"
        ),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!(
                "the certificate of {server} is not meant for a TLS server (its extended key usage lacks serverAuth): the server needs a server certificate"
            )
        }
        error if is_ca_used_as_end_entity(error) => {
            format!(
                "{server} presents a certificate authority's certificate as its own (as `openssl req -x509` makes self-signed certificates): if it is the server's genuine certificate, trust exactly this certificate: {}",
                trust_advice(endpoint)
            )
        }
        other => format!(
            "the certificate of {server} was refused ({other}): the server needs a certificate a TLS client accepts"
        ),
    }
}

/// A name WebPKI reports the certificate presents (`DnsName("mail.example.com")`,
/// `IpAddress(192.0.2.1)`) as a user writes it.
fn presented_name(name: &str) -> &str {
    name.strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(name)
}

/// A duration in the largest whole unit that fits: "3 days", "5 hours", "42 seconds".
fn span(seconds: u64) -> String {
    let (value, unit) = match seconds {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3_600 => (s / 3_600, "hours"),
        s if s >= 2 * 60 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{value} {unit}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls_pki_types::{ServerName, UnixTime};

    use super::*;

    fn endpoint(ca_file: Option<&Path>) -> UpstreamEndpoint<'_> {
        UpstreamEndpoint {
            section: "IMAP-2993",
            server: "mail.example.com:993",
            ca_file,
        }
    }

    fn explain(error: Error, ca_file: Option<&Path>) -> String {
        explain_handshake_failure(
            &io::Error::new(io::ErrorKind::InvalidData, error),
            endpoint(ca_file),
        )
    }

    #[test]
    fn certificate_failures_read_as_advice() {
        let unknown = explain(
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
            None,
        );
        assert!(
            unknown.contains("not signed by a certificate authority mailgate trusts")
                && unknown.contains("server_ca_file in [IMAP-2993]"),
            "{unknown}"
        );
        let with_file = explain(
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
            Some(Path::new("/etc/mailgate/upstream.pem")),
        );
        assert!(
            with_file.contains("add it to /etc/mailgate/upstream.pem"),
            "{with_file}"
        );
        let name = explain(
            Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("mail.example.com").unwrap_or_else(|_| {
                    ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
                }),
                presented: vec![
                    "DnsName(\"other.example.com\")".to_owned(),
                    "IpAddress(192.0.2.1)".to_owned(),
                ],
            }),
            None,
        );
        assert!(
            name.contains("is for other.example.com, 192.0.2.1, not for mail.example.com")
                && name.contains("set server_address in [IMAP-2993]"),
            "{name}"
        );
        let expired = explain(
            Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    1_000_000 - 3 * 86_400,
                )),
            }),
            None,
        );
        assert!(expired.contains("expired 3 days ago"), "{expired}");
        let ca = explain(
            Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
                webpki::Error::CaUsedAsEndEntity,
            )))),
            None,
        );
        assert!(
            ca.contains("certificate authority's certificate as its own")
                && !ca.contains("CaUsedAsEndEntity"),
            "{ca}"
        );
    }

    #[test]
    fn plain_text_servers_and_closed_connections_are_named() {
        let eof = explain_handshake_failure(
            &io::Error::from(io::ErrorKind::UnexpectedEof),
            endpoint(None),
        );
        assert!(
            eof.contains("server_starttls = True in [IMAP-2993]"),
            "{eof}"
        );
    }

    #[test]
    fn spans_use_the_largest_whole_unit() {
        assert_eq!(span(59), "59 seconds");
        assert_eq!(span(3 * 60), "3 minutes");
        assert_eq!(span(5 * 3_600 + 1), "5 hours");
        assert_eq!(span(400 * 86_400), "400 days");
    }
}
