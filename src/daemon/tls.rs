//! Start-up and reload wiring of the DNS-over-TLS and DNS-over-HTTPS listeners, which share
//! one certificate.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::handler::Handler;
use crate::server::https;
use crate::server::tls::{self, Certificates};
use crate::server::{Shutdown, TcpLimits};

/// The `[tls]` listeners, bound, with their certificate loaded.
pub(super) struct Bound {
    listeners: Vec<TcpListener>,
    https: Vec<TcpListener>,
    certificates: Arc<Certificates>,
}

/// Loads the certificate and binds `[tls] listen` and `https_listen`; `None` when nothing is
/// to listen. A
/// certificate or key that cannot be read, parsed or paired is a start-up error naming the
/// file.
pub(super) async fn bind(config: &Config) -> Result<Option<Bound>, String> {
    let Some((certificate, key)) = config.tls.files().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let certificates = Certificates::open(certificate, key).map_err(|e| e.to_string())?;
    let mut listeners = Vec::new();
    for addr in &config.tls.listen {
        listeners.push(
            TcpListener::bind(addr)
                .await
                .map_err(|e| format!("tls {addr}: {e}"))?,
        );
    }
    let mut https = Vec::new();
    for addr in &config.tls.https_listen {
        https.push(
            TcpListener::bind(addr)
                .await
                .map_err(|e| format!("https {addr}: {e}"))?,
        );
    }
    Ok(Some(Bound {
        listeners,
        https,
        certificates,
    }))
}

impl Bound {
    /// Starts serving `handler` on every listener into `tasks`; what reloads the certificate.
    pub(super) fn serve(
        self,
        handler: &Arc<Handler>,
        limits: TcpLimits,
        shutdown: &Shutdown,
        tasks: &mut JoinSet<()>,
    ) -> Arc<Certificates> {
        for listener in self.listeners {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "serving DNS over TLS");
            }
            tasks.spawn(tls::serve(
                listener,
                Arc::clone(&self.certificates),
                Arc::clone(handler),
                limits,
                shutdown.clone(),
            ));
        }
        for listener in self.https {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "serving DNS over HTTPS");
            }
            tasks.spawn(https::serve(
                listener,
                Arc::clone(&self.certificates),
                Arc::clone(handler),
                limits,
                shutdown.clone(),
            ));
        }
        self.certificates
    }
}

/// SIGHUP: a renewed certificate for new connections; a bad one is refused, the old kept.
pub(super) fn reload(certificates: &Certificates) {
    match certificates.reload() {
        Ok(()) => tracing::info!("tls certificate reloaded"),
        Err(e) => tracing::error!("tls certificate reload failed; keeping the old one: {e}"),
    }
}
