//! Parses a `CAPA` body and applies a sequence of rewrites (SASL list replaced or
//! removed, STLS hidden or offered, capabilities set and removed): never panics, each
//! rewrite has the effect it promises, and the rewritten response decodes back to the
//! same capability list.
//!
//! Input: byte 0 is the number of rewrite operations `n` (modulo 8), the next `n` bytes
//! are the operations, the rest is the upstream's `CAPA` body (without the status line).
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use libfuzzer_sys::fuzz_target;
use mailgate_pop3::{Capabilities, Capability, MultilineDecoder, ServerLine};

fn apply(capa: &mut Capabilities, op: u8) {
    match op % 8 {
        0 => {
            capa.set_sasl(&["PLAIN", "LOGIN"]);
            assert_eq!(capa.sasl_mechanisms(), ["PLAIN", "LOGIN"]);
        }
        1 => {
            capa.set_sasl(&[]);
            assert!(!capa.contains("SASL"));
            assert!(!capa.supports_sasl("PLAIN"));
        }
        2 => {
            capa.remove("STLS");
            assert!(!capa.contains("stls"));
        }
        3 => {
            capa.set("STLS", &[]);
            assert_eq!(capa.get("stls"), Some(&Capability::new("STLS", &[])));
        }
        4 => {
            capa.set("IMPLEMENTATION", &["mailgate"]);
            assert_eq!(capa.iter().filter(|c| c.is("implementation")).count(), 1);
        }
        5 => {
            capa.remove("USER");
            assert!(!capa.contains("USER"));
        }
        6 => {
            capa.set("USER", &[]);
            assert!(capa.contains("user"));
        }
        _ => {
            let _ = capa.supports_sasl("XOAUTH2");
            assert_eq!(capa.iter().count(), capa.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(count % 8).min(rest.len());
    let (ops, body) = rest.split_at(n);
    let mut capa = Capabilities::parse(body);
    for &op in ops {
        apply(&mut capa, op);
    }
    let wire = capa.to_response();
    let line_end = wire.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    assert!(ServerLine::parse(&wire[..line_end - 2]).is_ok());
    let mut decoder = MultilineDecoder::new(usize::MAX, usize::MAX);
    let mut decoded = Vec::new();
    let progress = decoder.decode(&wire[line_end..], &mut decoded).unwrap();
    assert!(progress.done);
    assert_eq!(progress.consumed, wire.len() - line_end);
    assert_eq!(Capabilities::parse(&decoded), capa);
});
