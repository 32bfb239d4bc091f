//! Asking one zone's servers: pick the next address (infrastructure cache order), send over
//! UDP and retry over TCP on TC=1, skip lame and silent servers after one try each, and look
//! up glueless server addresses only when no known address worked.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RecordType};
use tokio::time::Instant;
use tracing::debug;

use super::Resolver;
use super::budget::{Budget, ResolveError};
use super::classify::{Reply, classify};
use super::delegation::ServerSet;
use super::trace::TraceStep;
use super::upstream::{UpstreamError, UpstreamQuery};
use crate::metrics::Metrics;
use crate::rr;

/// DNS servers listen on port 53; root hints and glue carry no port.
const DNS_PORT: u16 = 53;

impl Resolver {
    /// Asks the servers of `set` in turn until one gives a usable reply. Lame and silent
    /// servers cost one try each, not the whole budget. Glueless servers are looked up only
    /// when no server with a known address worked.
    pub(super) async fn ask_zone(
        &self,
        set: &ServerSet,
        qname: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<(Reply, Message), ResolveError> {
        let zone = LowerName::new(&set.zone);
        let mut addrs: Vec<IpAddr> = set
            .servers
            .iter()
            .flat_map(|s| s.addrs.iter().copied())
            .collect();
        addrs.sort();
        addrs.dedup();
        self.infra.order(&mut addrs, &zone, Instant::now());
        let mut tried: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            tried.push(addr);
            if let Some(r) = self
                .ask_server(addr, &set.zone, qname, qtype, budget)
                .await?
            {
                return Ok(r);
            }
        }
        for server in set.servers.iter().filter(|s| s.addrs.is_empty()) {
            let addrs = self.ns_addresses(&server.name, budget).await?;
            for addr in addrs {
                if tried.contains(&addr) {
                    continue;
                }
                tried.push(addr);
                if let Some(r) = self
                    .ask_server(addr, &set.zone, qname, qtype, budget)
                    .await?
                {
                    return Ok(r);
                }
            }
        }
        Err(ResolveError::NoReachableAuthority(set.zone.clone()))
    }

    /// Addresses of a glueless name server, resolved as a separate lookup (NXNS-bounded).
    pub(super) async fn ns_addresses(
        &self,
        ns: &Name,
        budget: &mut Budget,
    ) -> Result<Vec<IpAddr>, ResolveError> {
        let cached = self.cached_addresses(ns, Instant::now());
        if !cached.is_empty() {
            return Ok(cached);
        }
        if budget.in_progress.contains(ns) {
            return Ok(Vec::new());
        }
        budget.spend_glueless()?;
        budget.in_progress.push(ns.clone());
        let result = Box::pin(self.chase(ns, RecordType::A, budget)).await;
        budget.in_progress.retain(|n| n != ns);
        match result {
            Ok(res) => Ok(res
                .answers
                .iter()
                .filter(|r| r.record_type() == RecordType::A)
                .filter_map(rr::address)
                .collect()),
            Err(
                e @ (ResolveError::TooManyGlueless(_)
                | ResolveError::TooManyUpstream(_)
                | ResolveError::Timeout(_)),
            ) => Err(e),
            Err(e) => {
                debug!(ns = %ns, error = %e, "glueless name server address lookup failed");
                Ok(Vec::new())
            }
        }
    }

    /// One server: UDP, then TCP if truncated. `None` means try the next server.
    pub(super) async fn ask_server(
        &self,
        addr: IpAddr,
        zone: &Name,
        qname: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Option<(Reply, Message)>, ResolveError> {
        let server = SocketAddr::new(addr, self.upstream_port.unwrap_or(DNS_PORT));
        let mut tcp = false;
        let mut edns = true;
        loop {
            let remaining = budget.remaining()?;
            budget.spend_upstream()?;
            Metrics::inc(&self.metrics.upstream_queries);
            let rto = self.infra.timeout(addr, Instant::now());
            let timeout = if tcp { rto * 2 } else { rto }.min(remaining);
            let q = UpstreamQuery {
                server,
                qname: qname.clone(),
                qtype,
                tcp,
                edns,
                timeout,
            };
            let started = Instant::now();
            let result = self.upstream.query(&q).await;
            let rtt = started.elapsed();
            let (outcome, reply) = match result {
                Err(UpstreamError::Timeout) => {
                    Metrics::inc(&self.metrics.upstream_timeouts);
                    self.infra.record_timeout(addr, rtt, Instant::now());
                    ("timeout".to_string(), None)
                }
                Err(e) => {
                    self.infra
                        .record_timeout(addr, rtt.max(timeout / 2), Instant::now());
                    (e.to_string(), None)
                }
                Ok(msg) => {
                    self.infra.record_rtt(addr, rtt, Instant::now());
                    let reply = classify(&msg, zone, qname, qtype);
                    (describe(&reply), Some((reply, msg)))
                }
            };
            self.trace(TraceStep {
                server,
                zone: zone.clone(),
                qname: qname.clone(),
                qtype,
                tcp,
                outcome,
                rtt,
            });
            match reply {
                Some((Reply::Truncated, _)) if !tcp => tcp = true,
                // RFC 6891 §7: FORMERR without OPT may mean the server predates EDNS; ask once
                // more without it.
                Some((Reply::Lame(_), msg))
                    if edns
                        && msg.metadata.response_code == ResponseCode::FormErr
                        && msg.edns.is_none() =>
                {
                    edns = false;
                }
                Some((Reply::Truncated, _)) => return Ok(None),
                Some((Reply::Lame(_), _)) => {
                    self.infra
                        .mark_lame(addr, LowerName::new(zone), Instant::now());
                    return Ok(None);
                }
                Some(r) => return Ok(Some(r)),
                None => return Ok(None),
            }
        }
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Answer(r) => format!("answer ({} records)", r.len()),
        Reply::Cname { target, .. } => format!("CNAME to {}", target.to_ascii()),
        Reply::Referral { cut, ns, glue } => format!(
            "referral to {} ({} NS, {} glue)",
            cut.to_ascii(),
            ns.len(),
            glue.len()
        ),
        Reply::NoData { .. } => "NODATA".to_string(),
        Reply::NxDomain { .. } => "NXDOMAIN".to_string(),
        Reply::Truncated => "truncated (TC=1), retrying over TCP".to_string(),
        Reply::Lame(why) => format!("lame: {why}"),
    }
}
