//! The process's signals: SIGHUP reloads, SIGINT and SIGTERM stop the server.
//!
//! [`Signals::install`] registers all three at once, before tern says it is ready: until a
//! handler is registered a signal takes its default action, and for SIGHUP that is death, which
//! systemd counts as a clean exit (no restart) — a `systemctl reload` right after start would
//! otherwise stop the resolver for good.

use std::io;

/// SIGHUP, SIGINT and SIGTERM, registered.
pub(crate) struct Signals {
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers; from here on none of the three kills the process. Must be
    /// called inside a tokio runtime.
    pub(crate) fn install() -> io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                hup: signal(SignalKind::hangup())?,
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Calls `on_reload` for every SIGHUP until SIGINT or SIGTERM arrives, then returns.
    pub(crate) async fn run_until_stopped(mut self, mut on_reload: impl FnMut()) {
        #[cfg(unix)]
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                Some(()) = self.hup.recv() => on_reload(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut on_reload;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: the process then stops cleanly and exits 0. For
/// callers without anything to reload (`tern lab`).
pub async fn wait_for_signal() {
    match Signals::install() {
        Ok(signals) => signals.run_until_stopped(|| {}).await,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
