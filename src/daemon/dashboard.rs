//! What the dashboard reads of a running `tern serve`: the registry's services and their
//! health, the zones, the resolver's view of its servers and the query log's last lines. All
//! read-only, at request time.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::rr::{Name, RData};
use tokio::time::Instant;

use crate::authority::Zone;
use crate::cache::Cache;
use crate::config::{Replication, ZoneConfig};
use crate::discovery::registry::{Registry, instance_id};
use crate::handler::Handler;
use crate::handler::transferred::LastTransfer;
use crate::metrics::dashboard::{
    InstanceView, RefreshView, SecondaryView, ServiceView, Sources, UpstreamStanding, ZoneView,
};
use crate::querylog::Recent;
use crate::replication::secondary::Secondary;
use crate::replication::status::ZoneStatus;
use crate::resolver::Resolver;
use crate::resolver::infra::Standing;

/// The running parts the dashboard reads.
pub(super) struct Parts {
    /// Whose zones the Zones view shows, and who transferred them.
    pub handler: Arc<Handler>,
    /// Whose servers the Upstreams view shows.
    pub resolver: Option<Arc<Resolver>>,
    pub cache: Option<Arc<Cache>>,
    pub registry: Arc<Registry>,
    /// Each configured zone and where its data comes from.
    pub zone_sources: Vec<(Name, String)>,
    /// The zones answered without configuration, and their serials.
    pub builtin: Vec<(Name, u32)>,
    /// The query log's last lines; `None` with the query log off.
    pub recent: Option<Arc<Recent>>,
    /// The secondary zones' keeper, with replication on.
    pub secondary: Option<Arc<Secondary>>,
    /// Each zone's NOTIFY targets (`notify` in its `[[zone]]`).
    pub notify_targets: Vec<(Name, Vec<SocketAddr>)>,
}

/// Each configured zone and where its data comes from, for [`Parts::zone_sources`].
pub(super) fn zone_sources(zones: &[ZoneConfig]) -> Result<Vec<(Name, String)>, String> {
    zones
        .iter()
        .map(|z| {
            let source = if z.is_secondary() {
                format!("secondary of {}", z.primaries.join(","))
            } else {
                format!("file {}", z.file.display())
            };
            Ok((super::parse_origin(&z.origin)?, source))
        })
        .collect()
}

/// Each zone's NOTIFY targets, for [`Parts::notify_targets`].
pub(super) fn notify_targets(replication: &Replication) -> Vec<(Name, Vec<SocketAddr>)> {
    let announced = replication.announced().into_iter();
    announced.map(|z| (z.origin, z.notify)).collect()
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
        refresh: None,
        secondaries: Vec::new(),
    }
}

/// A secondary's status as ages and countdowns from `now`.
fn refresh_view(s: &ZoneStatus, now: Instant) -> RefreshView {
    let ago = |t: Instant| now.saturating_duration_since(t).as_secs_f64();
    let until = |t: Instant| t.saturating_duration_since(now).as_secs_f64();
    RefreshView {
        checked_ago_s: s.checked.map(ago),
        error: s.error.clone(),
        failing_for_s: s.failing_since.map(ago),
        primary: s.primary.map(|p| p.to_string()),
        serial: s.serial,
        transferred_ago_s: s.transferred.map(|(t, _)| ago(t)),
        kind: s.transferred.map(|(_, k)| k),
        next_in_s: s.next.map(until),
        expires_in_s: s.expires.map(until),
        expired: s.expired,
    }
}

/// The secondaries of `origin` we know: the clients that transferred it (the most recent
/// first), then the NOTIFY targets that have not. `serial`: the zone's, as served.
fn secondaries(
    transfers: Vec<LastTransfer>,
    targets: &[SocketAddr],
    serial: Option<u32>,
    now: Instant,
) -> Vec<SecondaryView> {
    // A client of a dual-stack listener arrives as ::ffff:a.b.c.d: the target a.b.c.d.
    let same = |a: IpAddr, b: IpAddr| a.to_canonical() == b.to_canonical();
    let notified = |ip| targets.iter().any(|t| same(t.ip(), ip));
    let mut out: Vec<SecondaryView> = transfers
        .iter()
        .map(|t| SecondaryView {
            address: t.client.to_canonical().to_string(),
            notified: notified(t.client),
            transferred_ago_s: Some(now.saturating_duration_since(t.at).as_secs_f64()),
            serial: Some(t.serial),
            kind: Some(t.kind),
            current: serial == Some(t.serial),
        })
        .collect();
    let silent = targets
        .iter()
        .filter(|a| !transfers.iter().any(|t| same(t.client, a.ip())));
    out.extend(silent.map(|a| SecondaryView {
        address: a.to_string(),
        notified: true,
        transferred_ago_s: None,
        serial: None,
        kind: None,
        current: false,
    }));
    out
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
        // Edge: ages and countdowns for a page, as of now.
        let now = Instant::now();
        let status = self
            .secondary
            .as_ref()
            .map(|s| s.status())
            .unwrap_or_default();
        let mut out: Vec<ZoneView> = self
            .zone_sources
            .iter()
            .map(|(origin, source)| {
                let served = catalog.find(origin).filter(|z| z.origin() == origin);
                let mut v = view(origin, source, served.map(AsRef::as_ref));
                v.refresh = status
                    .iter()
                    .find(|(o, _)| o == origin)
                    .map(|(_, s)| refresh_view(s, now));
                let transfers = self.handler.transferred().map(|t| t.of(origin));
                let targets = self.notify_targets.iter().find(|(o, _)| o == origin);
                v.secondaries = secondaries(
                    transfers.unwrap_or_default(),
                    targets.map_or(&[][..], |(_, t)| t.as_slice()),
                    v.serial,
                    now,
                );
                v
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
        let resolver = self.resolver.as_ref()?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::replication::status::{Outcome, StatusCell};

    #[tokio::test(start_paused = true)]
    async fn a_secondary_shows_ages_and_countdowns_from_now() {
        let cell = StatusCell::default();
        let t0 = Instant::now();
        let primary: SocketAddr = "127.166.0.53:5300".parse().expect("addr");
        let done = Outcome::Transferred {
            serial: 3,
            kind: "AXFR",
        };
        cell.succeeded(t0, primary, done);
        let hour = Duration::from_secs(3600);
        cell.scheduled(t0 + hour, Some(t0 + 24 * hour), false);
        tokio::time::advance(Duration::from_secs(12)).await;
        let v = refresh_view(&cell.get(), Instant::now());
        assert_eq!(v.checked_ago_s, Some(12.0));
        assert_eq!(v.transferred_ago_s, Some(12.0));
        assert_eq!((v.kind, v.serial), (Some("AXFR"), Some(3)));
        assert_eq!(v.primary.as_deref(), Some("127.166.0.53:5300"));
        assert_eq!(v.next_in_s, Some(3588.0));
        assert_eq!(v.expires_in_s, Some(24.0 * 3600.0 - 12.0));
        assert_eq!((v.error, v.failing_for_s), (None, None));

        // Failing since, then past EXPIRE: the countdown stops at 0.
        cell.failed(Instant::now(), "timed out".to_string());
        tokio::time::advance(25 * hour).await;
        cell.expired();
        let v = refresh_view(&cell.get(), Instant::now());
        assert_eq!(v.error.as_deref(), Some("timed out"));
        assert_eq!(v.failing_for_s, Some(25.0 * 3600.0));
        assert_eq!(v.expires_in_s, Some(0.0));
        assert!(v.expired);
    }

    #[tokio::test(start_paused = true)]
    async fn a_primary_shows_who_transferred_and_who_was_only_notified() {
        let t0 = Instant::now();
        tokio::time::advance(Duration::from_secs(30)).await;
        let last = |client: &str, serial| LastTransfer {
            client: client.parse().expect("ip"),
            at: t0,
            serial,
            kind: "IXFR",
        };
        let transfers = vec![last("127.166.0.2", 5), last("127.166.0.9", 4)];
        let targets: Vec<SocketAddr> = ["127.166.0.2:53", "127.166.0.3:5300"]
            .iter()
            .map(|a| a.parse().expect("addr"))
            .collect();
        let v = secondaries(transfers, &targets, Some(5), Instant::now());
        let seen: Vec<_> = v
            .iter()
            .map(|s| (s.address.as_str(), s.notified, s.serial, s.current))
            .collect();
        assert_eq!(
            seen,
            [
                ("127.166.0.2", true, Some(5), true),
                ("127.166.0.9", false, Some(4), false),
                ("127.166.0.3:5300", true, None, false),
            ]
        );
        assert_eq!(v[0].transferred_ago_s, Some(30.0));
    }
}

#[cfg(test)]
mod mapped_review;
