//! Runs the async shared stores behind the synchronous [`TokenStorage`](super::TokenStorage)
//! interface.
//!
//! The login manager calls the storage on tokio's blocking pool; a shared store's client is
//! async. Each shared store owns one small current-thread runtime on a thread of its own: a
//! call spawns its future there and blocks the calling thread until it completes. Background
//! work of the store (renewing a refresh lock's lease, releasing it) runs on the same runtime,
//! so it keeps running whatever the caller's runtime does. The runtime stops when the store is
//! dropped.

use std::future::Future;

/// The thread and runtime of one shared store.
#[derive(Debug)]
pub(crate) struct Bridge {
    handle: tokio::runtime::Handle,
    /// Dropping it ends the runtime's thread.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The store's runtime could not be started, or it has stopped.
#[derive(Debug, thiserror::Error)]
#[error("the token store's runtime is not running: {0}")]
pub(crate) struct BridgeError(String);

impl Bridge {
    /// Starts the runtime thread, named `name`.
    pub(crate) fn start(name: &str) -> Result<Self, BridgeError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        let _ = ready_tx.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = stop_rx.await;
                        });
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.to_string()));
                    }
                }
            })
            .map_err(|error| BridgeError(error.to_string()))?;
        let handle = ready_rx
            .recv()
            .map_err(|error| BridgeError(error.to_string()))?
            .map_err(BridgeError)?;
        Ok(Self {
            handle,
            _stop: stop_tx,
        })
    }

    /// Runs `future` on the store's runtime and waits for its output. Never call it from a
    /// task of the store's own runtime.
    pub(crate) fn run<F>(&self, future: F) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|error| BridgeError(error.to_string()))
    }
}
