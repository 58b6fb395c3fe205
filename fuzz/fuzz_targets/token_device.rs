//! The device authorization flow (RFC 8628) fed by a hostile provider: decodes a device
//! authorization response, then runs the whole polling loop against a token endpoint that
//! answers from the input, on a paused tokio clock. Never panics and always ends; polls are at
//! least a second apart, their gaps never shrink, none is sent after the code's lifetime, and
//! no answer is polled for twice.
//!
//! Input: segments separated by 0xFF. The first is the device authorization body; each
//! further segment is one answer of the token endpoint: a status selector byte (or a lost
//! connection), then the body. When the answers run out the endpoint refuses the client.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mailgate_token::oauth::{ClientAuth, DeviceAuthorization, TokenEndpoint, poll_device_token};
use mailgate_token::transport::{HttpError, HttpFuture};
use oauth2::http::StatusCode;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use tokio::time::Instant;

const STATUSES: [u16; 8] = [200, 400, 401, 429, 500, 503, 302, 204];
const LOST: u8 = 0xFE;

struct Provider {
    answers: Mutex<VecDeque<(u8, Vec<u8>)>>,
    polls: Mutex<Vec<Instant>>,
}

impl<'c> AsyncHttpClient<'c> for Provider {
    type Error = HttpError;
    type Future = HttpFuture<'c>;

    fn call(&'c self, _request: HttpRequest) -> Self::Future {
        self.polls.lock().unwrap().push(Instant::now());
        let next = self.answers.lock().unwrap().pop_front();
        Box::pin(async move {
            let (selector, body) = next.unwrap_or((1, br#"{"error":"invalid_client"}"#.to_vec()));
            if selector == LOST {
                return Err(HttpError::Timeout {
                    host: "oauth2.example.com".into(),
                    timeout: Duration::from_secs(30),
                });
            }
            let mut response = HttpResponse::new(body);
            *response.status_mut() =
                StatusCode::from_u16(STATUSES[usize::from(selector % 8)]).unwrap();
            Ok(response)
        })
    }
}

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
    let answers: VecDeque<(u8, Vec<u8>)> = segments
        .filter_map(|segment| segment.split_first())
        .map(|(&selector, body)| (selector, body.to_vec()))
        .collect();
    let count = answers.len();
    let provider = Provider {
        answers: Mutex::new(answers),
        polls: Mutex::new(Vec::new()),
    };
    let endpoint = TokenEndpoint::new(
        "https://oauth2.example.com/token",
        "client",
        ClientAuth::None,
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (start, result) = runtime.block_on(async {
        let start = Instant::now();
        (
            start,
            poll_device_token(&provider, &endpoint, &auth, Some("scope"), None).await,
        )
    });
    if let Err(error) = &result {
        let _ = error.to_string();
    }
    let polls = provider.polls.into_inner().unwrap();
    assert!(polls.len() <= count + 1, "an answer was polled for twice");
    let lifetime = auth.expires_in.min(Duration::from_secs(24 * 60 * 60));
    let mut gap = Duration::from_secs(1);
    let mut last = start;
    for at in polls {
        assert!(at - start <= lifetime, "poll after the code expired");
        assert!(at - last >= gap, "polls closer than before");
        gap = at - last;
        last = at;
    }
});
