//! SMTP reply parser and EHLO model: never panic; a parsed reply re-encodes to bytes
//! that parse to the same reply.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_smtp::{EhloReply, Limits, Reply, ReplyStatus};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(ReplyStatus::Complete(reply, used)) = Reply::parse(data, &limits) else {
        return;
    };
    assert!(used <= data.len());
    if let Some(ehlo) = EhloReply::from_reply(&reply) {
        let _ = ehlo.auth_mechanisms();
        let mut rewritten = ehlo.clone();
        rewritten.set_auth_mechanisms(&["PLAIN", "LOGIN"]);
        rewritten.set_starttls(false);
        let _ = rewritten.to_reply().to_bytes();
    }
    // CR inside text is replaced on encoding, so only CR-free replies round-trip.
    if reply.lines.iter().any(|l| l.contains('\r')) {
        return;
    }
    let bytes = reply.to_bytes();
    match Reply::parse(&bytes, &limits) {
        Ok(ReplyStatus::Complete(again, n)) => {
            assert_eq!(n, bytes.len());
            assert_eq!(again, reply);
        }
        other => panic!("re-encoded reply did not parse: {other:?}"),
    }
});
