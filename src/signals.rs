//! The process's signals: SIGHUP reloads the zones, SIGINT and SIGTERM stop the server.

use std::sync::Arc;

use crate::discovery::registry::Registry;

/// SIGHUP reloads every zone file (services keep their records); a broken file is reported
/// and the zones in service stay as they were.
pub async fn reload_on_sighup(registry: Arc<Registry>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match registry.reload() {
                Ok(()) => tracing::info!("zones reloaded"),
                Err(e) => {
                    for line in e.to_string().lines() {
                        tracing::error!("{line}");
                    }
                    tracing::error!("reload failed; still serving the previous zones");
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = registry;
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: the process then stops cleanly and exits 0.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
