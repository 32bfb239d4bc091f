//! What the dashboard reads of a running `tern serve`: the registry's services and their
//! health, the zones, the resolver's view of its servers and the query log's last lines. All
//! read-only, at request time.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData};
use tokio::time::Instant;

use crate::authority::Zone;
use crate::cache::Cache;
use crate::discovery::registry::{Registry, instance_id};
use crate::handler::Handler;
use crate::metrics::dashboard::{InstanceView, ServiceView, Sources, UpstreamStanding, ZoneView};
use crate::querylog::Recent;
use crate::resolver::infra::Standing;

/// The running parts the dashboard reads.
pub(super) struct Parts {
    pub handler: Arc<Handler>,
    pub cache: Option<Arc<Cache>>,
    pub registry: Arc<Registry>,
    /// Each configured zone and where its data comes from.
    pub zone_sources: Vec<(Name, String)>,
    /// The zones answered without configuration, and their serials.
    pub builtin: Vec<(Name, u32)>,
    /// The query log's last lines; `None` with the query log off.
    pub recent: Option<Arc<Recent>>,
}

/// One zone as the Zones view shows it; `served`: its data, when it is served.
fn view(origin: &Name, source: &str, served: Option<&Zone>) -> ZoneView {
    ZoneView {
        origin: origin.to_string(),
        serial: served.map(Zone::serial),
        source: source.to_string(),
        records: served.map(Zone::record_count),
        timers: served.and_then(|z| match &z.soa().data {
            RData::SOA(soa) => Some([soa.refresh, soa.retry, soa.expire].map(|t| t as u32)),
            _ => None,
        }),
        signed: served.is_some_and(|z| z.signed().is_some()),
    }
}

impl Sources for Parts {
    fn cluster(&self) -> Vec<ServiceView> {
        let health = self.registry.health();
        self.registry
            .services()
            .iter()
            .map(|reg| {
                let s = &reg.service;
                let states: Vec<_> = s
                    .instances
                    .iter()
                    .map(|i| health.get(&instance_id(s, i)))
                    .collect();
                let is_down = |h: &Option<crate::discovery::health::Health>| {
                    h.as_ref().is_some_and(|h| !h.healthy)
                };
                // As the registry decides it: no instance healthy, so all are answered.
                let failed_open = !states.is_empty() && states.iter().all(is_down);
                let instances = s
                    .instances
                    .iter()
                    .zip(&states)
                    .map(|(i, h)| InstanceView {
                        name: i.name.clone(),
                        address: i.address.to_string(),
                        port: i.port,
                        weight: i.weight,
                        checked: reg.checks.contains_key(&i.name),
                        health: match (is_down(h), failed_open) {
                            (false, _) => "healthy",
                            (true, false) => "unhealthy",
                            (true, true) => "failed-open",
                        },
                        rtt_ms: h
                            .as_ref()
                            .and_then(|h| h.rtt)
                            .map(|d| d.as_secs_f64() * 1000.0),
                        last_error: h.as_ref().and_then(|h| h.last_error.clone()),
                        changes: h.as_ref().map_or(0, |h| h.changes),
                    })
                    .collect();
                ServiceView {
                    name: s.host().to_string(),
                    balance: reg.balance.map(|p| p.name()),
                    failed_open,
                    instances,
                }
            })
            .collect()
    }

    fn zones(&self) -> Vec<ZoneView> {
        let catalog = self.handler.catalog();
        let mut out: Vec<ZoneView> = self
            .zone_sources
            .iter()
            .map(|(origin, source)| {
                let served = catalog.find(origin).filter(|z| z.origin() == origin);
                view(origin, source, served.map(AsRef::as_ref))
            })
            .collect();
        for zone in catalog.zones() {
            if !self.zone_sources.iter().any(|(o, _)| o == zone.origin()) {
                out.push(view(zone.origin(), "services", Some(zone)));
            }
        }
        out.extend(self.builtin.iter().map(|(origin, serial)| ZoneView {
            serial: Some(*serial),
            ..view(origin, "builtin", None)
        }));
        out
    }

    fn upstream(&self, server: SocketAddr) -> Option<UpstreamStanding> {
        let resolver = self.handler.resolver()?;
        // Edge: a read of the infrastructure cache for a page, as of now.
        let v = resolver.upstream_view(server.ip(), Instant::now())?;
        Some(UpstreamStanding {
            srtt_ms: v.srtt_ms,
            rto_ms: v.rto.as_secs_f64() * 1000.0,
            losses: v.losses,
            standing: match v.standing {
                Standing::Up => "up",
                Standing::Probe => "probe",
                Standing::Down => "down",
            },
        })
    }

    fn cache(&self) -> Option<(u64, u64)> {
        self.cache
            .as_ref()
            .map(|c| (c.len() as u64, c.bytes() as u64))
    }

    fn queries(&self, since: u64, max: usize) -> Option<(Vec<String>, u64)> {
        self.recent.as_ref().map(|r| r.since(since, max))
    }
}
