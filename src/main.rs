//! The `mailgate` binary: an email OAuth 2.0 proxy.
//!
//! The command line and the proxy itself live in `mailgate-proxy`; until that crate lands this
//! binary only reports its version.

fn main() {
    println!("mailgate {}", env!("CARGO_PKG_VERSION"));
}
