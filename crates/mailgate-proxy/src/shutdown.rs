//! A cloneable signal that tells listeners and sessions to stop.

use tokio::sync::watch;

/// Fires once for every clone when the owning [`ShutdownTrigger`] fires or is dropped.
#[derive(Debug, Clone)]
pub struct Shutdown(Option<watch::Receiver<bool>>);

/// The sending side of a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// A new trigger that has not fired.
    pub fn new() -> Self {
        ShutdownTrigger(watch::channel(false).0)
    }

    /// A signal that fires when this trigger does.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(Some(self.0.subscribe()))
    }

    /// Fires the signal.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Default for ShutdownTrigger {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal that never fires.
    pub fn never() -> Self {
        Shutdown(None)
    }

    /// Whether the signal has fired.
    pub fn is_fired(&self) -> bool {
        self.0.as_ref().is_some_and(|receiver| *receiver.borrow())
    }

    /// Waits until the signal fires (or its trigger is dropped).
    pub async fn wait(&mut self) {
        match &mut self.0 {
            // An error means the trigger is gone: treat it as fired.
            Some(receiver) => {
                let _ = receiver.wait_for(|fired| *fired).await;
            }
            None => std::future::pending().await,
        }
    }
}
