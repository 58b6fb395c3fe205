//! The device authorization flow (RFC 8628) fed by a hostile provider: decodes a device
//! authorization response, then drives the polling machine with a sequence of token
//! endpoint responses at advancing times. Never panics; the next poll is always later
//! than now and before the code expires, the interval never shrinks, and nothing
//! happens after the flow ends.
//!
//! Input: segments separated by 0xFF. The first is the device authorization body; each
//! further segment is one poll: a status selector byte, a byte of seconds to wait beyond
//! the requested instant, then the token endpoint's body.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailgate_token::oauth::{DeviceAuthorization, DevicePoll, DevicePollStep, TokenResponse};

const STATUSES: [u16; 8] = [200, 400, 401, 429, 500, 503, 302, 204];

fuzz_target!(|data: &[u8]| {
    let mut segments = data.split(|&b| b == 0xFF);
    let first = segments.next().unwrap_or_default();
    let status = if first.first() == Some(&b'!') {
        400
    } else {
        200
    };
    let Ok(auth) = DeviceAuthorization::from_json(status, first) else {
        return;
    };
    let _ = auth.prompt("user@example.com");
    let start = Instant::now();
    let mut poll = DevicePoll::new(&auth, start);
    assert!(poll.interval() >= Duration::from_secs(1));
    let mut at = poll.first_poll(start);
    for segment in segments {
        let Some((&[selector, late], body)) = segment.split_first_chunk::<2>() else {
            continue;
        };
        let now = at + Duration::from_secs(u64::from(late));
        let status = STATUSES[usize::from(selector % 8)];
        let before = poll.interval();
        match poll.on_result(TokenResponse::from_http(status, body), now) {
            DevicePollStep::Wait(next) => {
                assert!(next > now, "next poll is not in the future");
                assert!(next < poll.deadline(), "poll after the code expired");
                assert!(poll.interval() >= before, "interval shrank");
                at = next;
            }
            DevicePollStep::Granted(token) => {
                assert!(!token.access_token.expose().is_empty());
                return;
            }
            DevicePollStep::Failed(error) => {
                let _ = error.to_string();
                return;
            }
            _ => return,
        }
    }
});
