//! Every event of a session carries the listener, the client and, once logged in, the account
//! as structured fields (the span [`mailgate_proxy::SESSION_SPAN_TARGET`]), for structured log
//! sinks such as journald.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod hostile;
mod logs;

use common::*;
use hostile::*;
use mailgate_proxy::Protocol;

#[tokio::test]
async fn session_events_carry_listener_client_and_account() {
    logs::capture();
    let pki = Pki::new();
    let upstream = imap_upstream(&pki).await;
    let (_proxy, address) = start_proxy(
        pki.spec(Protocol::Imap, upstream),
        FixedTokens::one(USER, PASSWORD, TOKEN),
    )
    .await;
    good_login(address).await;
    // The capture prints span fields as `session{listener=... client=... account=...}:`.
    logs::line_with(&[
        "session{listener=IMAP-test",
        "client=127.0.0.1:",
        &format!("account={USER}}}"),
        "Successfully authenticated",
    ])
    .await;
}
