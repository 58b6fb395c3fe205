//! Running the `mailgate` binary in the integration tests of this package.
// Each test file uses a part of it.
#![allow(dead_code)]

use std::process::Child;
use std::time::Duration;

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// Stops the proxy when the test ends, however it ends.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `port` accepts connections.
pub(crate) async fn wait_for(port: u16) {
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("mailgate did not listen on port {port}");
}
