//! The watching side of `tern serve`: the `[metrics]` scrape endpoint (its gauges read from
//! the cache, the catalog and the registry at scrape time) with the dashboard beside it, and
//! the `[log]` query log.

use std::sync::Arc;

use tokio::net::TcpListener;

use super::dashboard::Parts;
use crate::config::Config;
use crate::discovery::registry::instance_id;
use crate::discovery::service::Instance;
use crate::metrics::Metrics;
use crate::metrics::dashboard::Dashboard;
use crate::metrics::http::Endpoint;
use crate::metrics::prometheus::{InstanceHealth, State, StateFn};
use crate::querylog::QueryLog;
use crate::server::Shutdown;

/// Binds `[metrics] listen`, if set (before anything is served, so a taken port stops the
/// start).
pub(super) async fn bind_metrics(config: &Config) -> Result<Option<TcpListener>, String> {
    let Some(addr) = config.metrics.listen else {
        return Ok(None);
    };
    // Checked here, before anything is served, like the address.
    config
        .metrics
        .acl()
        .map_err(|e| format!("[metrics] allow: {e}"))?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("metrics {addr}: {e}"))?;
    tracing::info!(%addr, "metrics on http://{addr}/metrics, dashboard on http://{addr}/");
    Ok(Some(listener))
}

/// Starts the query log writer of `[log] queries`, if set.
pub(super) fn query_log(
    config: &Config,
    metrics: &Arc<Metrics>,
) -> Result<Option<QueryLog>, String> {
    let Some(dest) = config.log.query_log() else {
        return Ok(None);
    };
    QueryLog::start(&dest, Arc::clone(metrics))
        .map(Some)
        .map_err(|e| format!("query log {dest:?}: {e}"))
}

/// Serves `/metrics` and the dashboard on `listener` until `signal`.
pub(super) fn serve_metrics(
    listener: TcpListener,
    config: &Config,
    metrics: &Arc<Metrics>,
    parts: Parts,
    signal: Shutdown,
) -> Result<(), String> {
    let allow = config
        .metrics
        .acl()
        .map_err(|e| format!("[metrics] allow: {e}"))?;
    let (handler, cache, registry) = (
        Arc::clone(&parts.handler),
        parts.cache.clone(),
        Arc::clone(&parts.registry),
    );
    let state: StateFn = Arc::new(move || State {
        cache: cache.as_ref().map(|c| (c.len() as u64, c.bytes() as u64)),
        zone_serials: handler
            .catalog()
            .zones()
            .map(|z| (z.origin().to_string(), z.serial()))
            .collect(),
        instances: registry
            .services()
            .iter()
            .flat_map(|reg| {
                let health = registry.health();
                let s = &reg.service;
                let healthy = move |i: &Instance| health.is_healthy(&instance_id(s, i));
                let failed_open = s.fails_open(&healthy);
                s.instances.iter().map(move |i| InstanceHealth {
                    service: s.host().to_string(),
                    instance: i.name.clone(),
                    healthy: healthy(i),
                    served: healthy(i) || failed_open,
                })
            })
            .collect(),
    });
    let registry = crate::metrics::prometheus::registry(Arc::clone(metrics), state);
    let dashboard = Arc::new(Dashboard::new(Arc::clone(metrics), Box::new(parts)));
    let stop = |mut signal: Shutdown| async move { signal.recv().await };
    tokio::spawn(Arc::clone(&dashboard).run(stop(signal.clone())));
    let endpoint = Endpoint {
        registry,
        dashboard: Some(dashboard),
        allow,
    };
    tokio::spawn(crate::metrics::http::serve(
        listener,
        Arc::new(endpoint),
        stop(signal),
    ));
    Ok(())
}
