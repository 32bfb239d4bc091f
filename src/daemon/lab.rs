//! `tern lab`'s resolver, watched like a `tern serve`: its queries kept for the dashboard, and
//! the dashboard on its own address showing the resolver's traffic and servers beside the lab
//! cluster's services, health and zone.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::dashboard::Parts;
use super::{bind, builtin_zones, observe};
use crate::acl::Acl;
use crate::config::Config;
use crate::handler::{Handler, Recursion};
use crate::lab::cluster::Cluster;
use crate::metrics::Metrics;
use crate::nameserver::NameServer;
use crate::querylog::{Destination, QueryLog};
use crate::resolver::Resolver;
use crate::server::Shutdown;

/// The lab's resolver and what its dashboard shows.
pub struct LabResolver<'l> {
    /// Where it answers, over UDP and TCP.
    pub listen: SocketAddr,
    /// Where the dashboard and `/metrics` are served; `None`: nowhere.
    pub dashboard: Option<SocketAddr>,
    pub resolver: Resolver,
    pub metrics: Arc<Metrics>,
    /// The cluster its Cluster and Zones views show.
    pub cluster: &'l Cluster,
}

/// Binds and starts `lab`'s resolver (recursion and snooping for loopback clients, the
/// builtin zones, the query log kept in memory only) and its dashboard, until `signal`.
/// Both addresses are bound before anything is served, so a taken one stops the start.
pub async fn start_lab_resolver(
    lab: LabResolver<'_>,
    signal: &Shutdown,
    tasks: &mut JoinSet<()>,
) -> Result<Arc<Handler>, String> {
    let dashboard = match lab.dashboard {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            let e = crate::net::bind_error(addr, &e);
            format!("dashboard {e}; --metrics ADDR picks another address, --no-metrics none")
        })?),
        None => None,
    };
    let workers = Config::default()
        .server_limits()
        .map_or(1, |limits| limits.threads);
    let (udp, tcp) = bind(&[lab.listen], workers).await?;
    let cache = Arc::clone(lab.resolver.cache());
    let log = QueryLog::start(&Destination::Recent, Arc::clone(&lab.metrics))
        .map_err(|e| format!("query log: {e}"))?;
    let builtin = builtin_zones(|_| false)?;
    let builtin_serials = builtin
        .zones()
        .map(|z| (z.origin().clone(), z.serial()))
        .collect();
    let handler = NameServer::fixed(Default::default(), Arc::clone(&lab.metrics))
        .recursion(Recursion {
            resolver: lab.resolver,
            acl: Acl::loopback(),
            // The lab shows all three kinds of query: recursive, iterative, and non-recursive.
            snoop: Acl::loopback(),
        })
        .builtin_zones(builtin)
        .query_log(log.clone())
        .start(udp, tcp, signal.clone())
        .map_err(|e| format!("{}: {e}", lab.listen))?
        .join_into(tasks);
    if let Some(listener) = dashboard {
        let cluster = lab.cluster;
        let catalog = cluster.handler.catalog();
        let zone_sources = catalog
            .zones()
            .map(|z| (z.origin().clone(), format!("primary at {}", cluster.server)))
            .collect::<Vec<_>>();
        let notify_targets = zone_sources
            .iter()
            .map(|(origin, _)| (origin.clone(), cluster.secondaries.clone()))
            .collect();
        let parts = Parts {
            handler: Arc::clone(&cluster.handler),
            resolver: handler.resolver().cloned(),
            cache: Some(cache),
            registry: Arc::clone(&cluster.registry),
            zone_sources,
            builtin: builtin_serials,
            recent: Some(log.recent()),
            secondary: None,
            notify_targets,
        };
        observe::serve_metrics(
            listener,
            &Config::default(),
            &lab.metrics,
            parts,
            signal.clone(),
        )?;
    }
    Ok(handler)
}
