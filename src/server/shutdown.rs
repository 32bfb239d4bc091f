//! A cloneable shutdown signal (mini-redis style): tasks poll `recv()` in their `select!` and
//! finish their current work when it fires.

use tokio::sync::watch;

/// Held by whoever decides to stop the server.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Held by every task that must stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and signal.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        // Nobody listening means nothing left to stop.
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Resolves once shutdown has been requested (or the trigger was dropped).
    pub(crate) async fn recv(&mut self) {
        // An error means the trigger is gone: treat that as shutdown too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
