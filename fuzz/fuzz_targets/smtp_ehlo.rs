//! Parses an EHLO reply and applies a sequence of rewrites (AUTH replaced or removed,
//! STARTTLS offered or hidden, capabilities dropped): never panics, each rewrite has the
//! effect it promises, and the rewritten reply encodes to bytes that parse back to the
//! same capability model.
//!
//! Input: byte 0 is the number of rewrite operations `n` (modulo 8), the next `n` bytes
//! are the operations, the rest is the upstream's EHLO reply.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::{Capability, EhloReply, EnhancedStatus, Limits, Reply, ReplyStatus};

fn apply(ehlo: &mut EhloReply, op: u8) {
    match op % 8 {
        0 => {
            ehlo.set_auth_mechanisms(&["PLAIN", "LOGIN"]);
            assert_eq!(ehlo.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        }
        1 => {
            ehlo.set_auth_mechanisms(&[]);
            assert!(ehlo.auth_mechanisms().is_empty());
        }
        2 => {
            ehlo.set_auth_mechanisms(&["XOAUTH2"]);
            assert!(ehlo.supports_auth("xoauth2"));
            assert!(!ehlo.supports_auth("PLAIN"));
        }
        3 => {
            ehlo.set_starttls(true);
            assert!(ehlo.has(&Capability::StartTls));
        }
        4 => {
            ehlo.set_starttls(false);
            assert!(!ehlo.has(&Capability::StartTls));
        }
        5 => {
            ehlo.retain(|c| !matches!(c, Capability::Other(_)));
            assert!(
                !ehlo
                    .capabilities
                    .iter()
                    .any(|c| matches!(c, Capability::Other(_)))
            );
        }
        6 => {
            ehlo.retain(|c| !matches!(c, Capability::Size(_)));
            assert_eq!(ehlo.size(), None);
        }
        _ => {
            let _ = ehlo.size();
            let _ = ehlo.has(&Capability::Pipelining);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(count % 8).min(rest.len());
    let (ops, reply) = rest.split_at(n);
    let Some(mut ehlo) = EhloReply::parse(reply) else {
        return;
    };
    for &op in ops {
        apply(&mut ehlo, op);
    }
    let wire = ehlo.to_reply().to_bytes();
    assert!(wire.ends_with(b"\r\n"));
    // Line breaks inside a text are replaced on encoding, so only texts without them
    // come back unchanged.
    let texts = std::iter::once(ehlo.domain.clone())
        .chain(std::iter::once(ehlo.greeting.clone()))
        .chain(ehlo.capabilities.iter().map(ToString::to_string));
    if texts.into_iter().any(|t| t.contains(['\r', '\n'])) {
        return;
    }
    // A domain that reads as an RFC 3463 code (`250 2.0.0 ...`) is taken for one when
    // the reply is parsed again: the reply parser strips enhanced codes from every reply.
    if EnhancedStatus::parse_prefix(&ehlo.domain).is_some_and(|(s, _)| s.class == 2) {
        return;
    }
    // Adding AUTH or STARTTLS to a reply already at the parser's line limit goes past it.
    let limits = Limits::default();
    if wire.split(|&b| b == b'\n').count() - 1 > limits.reply_lines {
        return;
    }
    let again = match Reply::parse(&wire, &limits) {
        Ok(ReplyStatus::Complete(reply, used)) if used == wire.len() => {
            EhloReply::from_reply(&reply).expect("a 250 reply")
        }
        other => panic!(
            "rewritten EHLO reply does not parse: {other:?} from {:?}",
            String::from_utf8_lossy(&wire)
        ),
    };
    assert_eq!(again.to_reply().to_bytes(), wire, "encoding is not stable");
});
