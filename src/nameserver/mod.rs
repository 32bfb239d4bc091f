//! One name server assembled from sockets bound elsewhere: the handler, the zones' one writer
//! ([`ZoneOwner`]) and the registry of services that emits records to it, the services that change zones (UPDATE, transfers, NOTIFY, secondaries) and
//! the listeners, wired in one order for `tern serve`, `embed`, the lab and the tests.
//!
//! Binding stays with the caller (DESIGN.md rule 5): `start` takes bound UDP sockets and TCP
//! listeners and a shutdown, and returns the handler and the tasks serving until it fires.
//!
//! Two kinds of zones: [`Fixed`] zones never change while served (the lab's hierarchy, test
//! zones); [`Stored`] zones come from an opened [`ZoneStore`] and the services registered at
//! start, published once together through the zones' owner, which then takes every change
//! (the registry's records, reloads, UPDATEs, transfers in). Only stored
//! zones can take updates or be replicated, so only `NameServer<Stored>` offers them.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::LowerName;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

use crate::authority::Catalog;
use crate::authority::balance::Policy;
use crate::authority::store::{Secondaries, Updater, ZoneOwner, ZoneStore};
use crate::config::{Replication, UpdatePolicy};
use crate::discovery::health::HealthTable;
use crate::discovery::registry::{Registration, Registry, RegistryError};
use crate::handler::{Handler, HandlerConfig, NotifyReceiver, Recursion, Transfers, Updates};
use crate::limits::{UDP_BUSY_POLL_US, UDP_MAX_IN_FLIGHT, UDP_RCVBUF};
use crate::metrics::Metrics;
use crate::querylog::QueryLog;
use crate::ratelimit::Limits;
use crate::replication::notify::Notifier;
use crate::replication::secondary::Secondary;
use crate::resolver::Resolver;
use crate::server::{Server, Shutdown, TcpLimits, UdpRuntime};
use crate::tsig::Keyring;

/// Why a name server did not start.
#[derive(Debug, thiserror::Error)]
pub enum NameServerError {
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("listeners: {0}")]
    Listeners(#[from] std::io::Error),
}

/// How the listeners treat their sockets; the defaults are the limits' defaults.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    pub tcp: TcpLimits,
    /// UDP queries answered at once per socket (clamped to [`UDP_MAX_IN_FLIGHT`]).
    pub udp_max_in_flight: usize,
    /// Receive buffer of each UDP socket (clamped to [`UDP_RCVBUF`]; 0: system default).
    pub udp_rcvbuf: usize,
    /// `SO_BUSY_POLL` of each UDP socket in µs (clamped to [`UDP_BUSY_POLL_US`]; 0: off).
    pub udp_busy_poll_us: u32,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            tcp: TcpLimits::default(),
            udp_max_in_flight: UDP_MAX_IN_FLIGHT.default,
            udp_rcvbuf: UDP_RCVBUF.default,
            udp_busy_poll_us: UDP_BUSY_POLL_US.default,
        }
    }
}

/// Zones that never change while served.
pub struct Fixed(Catalog);

/// Zones of an opened store with the services registered at start; see [`NameServer::stored`].
pub struct Stored {
    store: ZoneStore,
    services: Vec<Registration>,
    zone_balance: HashMap<LowerName, Policy>,
    updates: Option<UpdatePolicy>,
    replication: Option<Replicated>,
}

/// What a stored name server replicates, and from which address it talks to its peers.
struct Replicated {
    zones: Replication,
    keyring: Keyring,
    source: Option<IpAddr>,
    /// Made here so its status can be read before the name server starts it.
    secondary: Arc<Secondary>,
}

/// The parts of one name server, before it runs.
pub struct NameServer<Z> {
    zones: Z,
    parts: Parts,
}

/// What every name server has, whatever its zones.
struct Parts {
    metrics: Arc<Metrics>,
    config: HandlerConfig,
    recursion: Option<Recursion<Resolver>>,
    builtin: Option<Catalog>,
    query_log: Option<QueryLog>,
    rate_limits: Limits,
    listeners: ListenerLimits,
    udp_runtime: UdpRuntime,
}

/// A started name server: its handler, and the tasks serving until the shutdown fires (they
/// end soon after it; dropping the set aborts them).
pub struct Running {
    pub handler: Arc<Handler>,
    pub tasks: JoinSet<()>,
}

impl Running {
    /// Moves the serving tasks into `set` as one task that waits for all of them (aborting it
    /// aborts them), for a caller running several servers; returns the handler.
    pub fn join_into(self, set: &mut JoinSet<()>) -> Arc<Handler> {
        let mut tasks = self.tasks;
        set.spawn(async move { while tasks.join_next().await.is_some() {} });
        self.handler
    }
}

impl<Z> NameServer<Z> {
    fn with_zones(zones: Z, metrics: Arc<Metrics>) -> NameServer<Z> {
        let parts = Parts {
            metrics,
            config: HandlerConfig::default(),
            recursion: None,
            builtin: None,
            query_log: None,
            rate_limits: Limits::default(),
            listeners: ListenerLimits::default(),
            udp_runtime: UdpRuntime::default(),
        };
        NameServer { zones, parts }
    }

    /// The handler's fixed settings (EDNS payload, identity).
    pub fn config(mut self, config: HandlerConfig) -> Self {
        self.parts.config = config;
        self
    }

    /// Recursion for the clients its ACL allows, through `recursion.resolver`: the assembly
    /// completes it with the served zones' delegations before sharing it, so that a walk for a
    /// name below a cut in one of them starts at the child's servers.
    pub fn recursion(mut self, recursion: Recursion<Resolver>) -> Self {
        self.parts.recursion = Some(recursion);
        self
    }

    /// The zones a resolver answers itself when no served zone does (`authority::builtin`).
    pub fn builtin_zones(mut self, builtin: Catalog) -> Self {
        self.parts.builtin = Some(builtin);
        self
    }

    pub(crate) fn query_log(mut self, log: QueryLog) -> Self {
        self.parts.query_log = Some(log);
        self
    }

    pub(crate) fn rate_limits(mut self, limits: Limits) -> Self {
        self.parts.rate_limits = limits;
        self
    }

    pub fn listener_limits(mut self, limits: ListenerLimits) -> Self {
        self.parts.listeners = limits;
        self
    }

    /// Which runtime the UDP sockets' threads use for the queries the hit path cannot answer,
    /// and so whose clock they read: their own (the default), or the one `start` is called on,
    /// which the TCP listeners and every timer of the server use already. A test moves time
    /// for the whole server with the latter (see [`UdpRuntime::Caller`]).
    pub fn udp_runtime(mut self, runtime: UdpRuntime) -> Self {
        self.parts.udp_runtime = runtime;
        self
    }
}

impl Parts {
    /// The handler over `catalog` with every part given.
    fn handler(self, catalog: Catalog) -> (Handler, Arc<Metrics>, Listeners) {
        let mut handler = Handler::new(catalog, self.config, Arc::clone(&self.metrics));
        if let Some(Recursion {
            resolver,
            acl,
            snoop,
        }) = self.recursion
        {
            // In this order, with no cycle: the served zones (the handler's), the resolver that
            // reads their delegations, the handler that recurses through it.
            let resolver = Arc::new(resolver.with_local_cuts(handler.local_cuts()));
            handler = handler.with_recursion(Recursion {
                resolver,
                acl,
                snoop,
            });
        }
        if let Some(builtin) = self.builtin {
            handler = handler.with_builtin_zones(builtin);
        }
        if let Some(log) = self.query_log {
            handler = handler.with_query_log(log);
        }
        let handler = handler.with_rate_limits(self.rate_limits);
        let listeners = Listeners {
            limits: self.listeners,
            udp_runtime: self.udp_runtime,
        };
        (handler, self.metrics, listeners)
    }
}

impl NameServer<Fixed> {
    /// A name server for `catalog`, which nothing changes but [`Handler::set_catalog`].
    pub fn fixed(catalog: Catalog, metrics: Arc<Metrics>) -> NameServer<Fixed> {
        NameServer::with_zones(Fixed(catalog), metrics)
    }

    /// Serves on `udp` and `tcp` until `shutdown`; fails only if a listener cannot start.
    pub fn start(
        self,
        udp: Vec<UdpSocket>,
        tcp: Vec<TcpListener>,
        shutdown: Shutdown,
    ) -> std::io::Result<Running> {
        let NameServer {
            zones: Fixed(catalog),
            parts,
        } = self;
        let (handler, _, listeners) = parts.handler(catalog);
        let handler = Arc::new(handler);
        let tasks = listen(&handler, udp, tcp, listeners, shutdown)?;
        Ok(Running { handler, tasks })
    }
}

impl NameServer<Stored> {
    /// A name server for the zones of `store` (opened with [`ZoneStore::open`], not served
    /// yet) and `services`: the registry publishes both at one serial, so a restart that
    /// serves what was served before keeps its serials.
    pub fn stored(
        store: ZoneStore,
        services: Vec<Registration>,
        metrics: Arc<Metrics>,
    ) -> NameServer<Stored> {
        let zones = Stored {
            store,
            services,
            zone_balance: HashMap::new(),
            updates: None,
            replication: None,
        };
        NameServer::with_zones(zones, metrics)
    }

    /// Orders each listed zone's answers (`[[zone]] balance`); others keep their file order.
    pub(crate) fn zone_balance(mut self, balance: HashMap<LowerName, Policy>) -> Self {
        self.zones.zone_balance = balance;
        self
    }

    /// Takes RFC 2136 UPDATEs for the zones `policy` lists (none listed: UPDATE is NOTIMP).
    pub(crate) fn updates(mut self, policy: UpdatePolicy) -> Self {
        self.zones.updates = Some(policy);
        self
    }

    /// Serves transfers of `zones`' primary and secondary zones to their ACLs, checking TSIG
    /// against `keyring`; announces new serials by NOTIFY; keeps the secondary zones and takes
    /// NOTIFYs for them. `source`: the address peers know us by (`None`: any). Without this,
    /// transfers and NOTIFY are NOTIMP.
    pub(crate) fn replication(
        mut self,
        zones: Replication,
        keyring: Keyring,
        source: Option<IpAddr>,
    ) -> Self {
        let secondary = Secondary::new(zones.secondaries.clone(), source);
        self.zones.replication = Some(Replicated {
            zones,
            keyring,
            source,
            secondary,
        });
        self
    }

    /// The secondary zones' keeper (its `status()`), with replication on.
    pub(crate) fn secondary(&self) -> Option<Arc<Secondary>> {
        let replicated = self.zones.replication.as_ref()?;
        Some(Arc::clone(&replicated.secondary))
    }

    /// Publishes the zones and services, enables updates and replication, then serves on
    /// `udp` and `tcp` and runs the health checks until `shutdown`. Returns the registry too:
    /// services change through it, and every other change to the zones through its
    /// [`Registry::zones`].
    pub fn start(
        self,
        udp: Vec<UdpSocket>,
        tcp: Vec<TcpListener>,
        shutdown: Shutdown,
    ) -> Result<(Running, Arc<Registry>), NameServerError> {
        let NameServer { zones, parts } = self;
        // Empty until the registry publishes the store and the services, before any listener.
        let (mut handler, metrics, listeners) = parts.handler(Catalog::default());
        let notifier = zones.replication.as_ref().map(|r| {
            Notifier::start(
                &r.zones.announced(),
                r.source,
                Arc::clone(&metrics),
                shutdown.clone(),
            )
        });
        // The writer publishes into the handler's served zones, so it exists before the
        // handler is complete: updates and transfers, which need the writer, go in whole.
        let served = handler.served_zones();
        let owner = Arc::new(ZoneOwner::new(zones.store, move |catalog| {
            // Served first, announced second: a secondary told of a serial must find it.
            served.publish(catalog);
            if let Some(notifier) = &notifier {
                notifier.published(&served.current());
            }
        }));
        let registry = Registry::new(
            Arc::clone(&owner),
            zones.services,
            zones.zone_balance,
            HealthTable::new(),
            Arc::clone(&metrics),
        )?;
        if let Some(updates) = zones.updates.and_then(|policy| updates(&owner, policy)) {
            handler = handler.with_updates(updates);
        }
        if let Some(replicated) = zones.replication {
            handler = handler.with_transfers(replicate(&owner, replicated, &metrics, &shutdown));
        }
        let handler = Arc::new(handler);
        let mut tasks = listen(&handler, udp, tcp, listeners, shutdown.clone())?;
        tasks.spawn(Arc::clone(&registry).run(shutdown));
        Ok((Running { handler, tasks }, registry))
    }
}

/// UPDATE as `policy` allows, applied by `owner`; `None` when no zone takes updates.
fn updates(owner: &Arc<ZoneOwner>, policy: UpdatePolicy) -> Option<Updates> {
    if policy.zones.is_empty() {
        return None;
    }
    let mut updates = Updates::new(Arc::clone(owner) as Arc<dyn Updater>, policy.keyring);
    for (zone, keys) in policy.zones {
        tracing::info!(zone = %zone, keys = ?keys.iter().map(|k| k.to_ascii()).collect::<Vec<_>>(), "dynamic updates accepted");
        updates = updates.allow(&zone, keys);
    }
    Some(updates)
}

/// Transfers out for every replicated zone, NOTIFY in for the secondary zones; starts the
/// tasks that keep the secondary zones.
fn replicate(
    owner: &Arc<ZoneOwner>,
    replicated: Replicated,
    metrics: &Arc<Metrics>,
    shutdown: &Shutdown,
) -> Transfers {
    let Replicated {
        zones,
        keyring,
        source: _,
        secondary,
    } = replicated;
    let mut transfers = Transfers::new(keyring);
    for zone in &zones.primaries {
        transfers = transfers.allow(&zone.origin, zone.allow_transfer.clone());
    }
    for zone in &zones.secondaries {
        transfers = transfers.allow(&zone.origin, zone.allow_transfer.clone());
    }
    transfers = transfers.notify_to(Arc::clone(&secondary) as Arc<dyn NotifyReceiver>);
    secondary.run(
        Arc::clone(owner) as Arc<dyn Secondaries>,
        Arc::clone(metrics),
        shutdown.clone(),
    );
    transfers
}

/// How the listeners are set up.
struct Listeners {
    limits: ListenerLimits,
    udp_runtime: UdpRuntime,
}

/// The listeners on the bound sockets, serving `handler` until `shutdown`.
fn listen(
    handler: &Arc<Handler>,
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    listeners: Listeners,
    shutdown: Shutdown,
) -> std::io::Result<JoinSet<()>> {
    let Listeners {
        limits,
        udp_runtime,
    } = listeners;
    let serving = Server::new(udp, tcp, Arc::clone(handler))
        .with_tcp_limits(limits.tcp)
        .with_udp_max_in_flight(limits.udp_max_in_flight)
        .with_udp_rcvbuf(limits.udp_rcvbuf)
        .with_udp_busy_poll(limits.udp_busy_poll_us)
        .with_udp_runtime(udp_runtime)
        .start(shutdown)?;
    let mut tasks = JoinSet::new();
    tasks.spawn(serving);
    Ok(tasks)
}
