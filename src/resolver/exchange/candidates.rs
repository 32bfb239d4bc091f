//! Which servers a question may ask and in what order: the zone's addresses that can be a
//! server and are not our own listeners (see `loopguard`), ranked by the infrastructure cache
//! (SRTT, lameness, rotation), each with what this question has learnt of it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::time::Instant;

use super::{DNS_PORT, Exchange};
use crate::resolver::Resolver;
use crate::resolver::infra::Standing;
use crate::resolver::window::Window;

/// One server as this question sees it.
#[derive(Debug)]
pub(super) struct Candidate {
    pub(super) addr: IpAddr,
    pub(super) port: u16,
    pub(super) tries: u32,
    /// Of those, the tries that failed outright (a transport error).
    pub(super) failed: u32,
    pub(super) tcp: bool,
    pub(super) edns: bool,
    /// Out of rotation, with a probe due: one try at most.
    pub(super) probe: bool,
    /// Nothing more to ask it (lame, failed, unreachable, or out of tries).
    pub(super) done: bool,
    /// It replied to this question (usable or not).
    pub(super) replied: bool,
    /// When this question first asked it.
    pub(super) first_sent: Option<Instant>,
    /// Its congestion window, looked up once per question rather than per query and reply.
    pub(super) window: Arc<Window>,
}

impl Resolver {
    /// Ranks `addrs` by what the infrastructure cache knows and adds them as candidates;
    /// servers out of rotation without a probe due, addresses no server can have, and our
    /// own listeners are left out.
    pub(super) fn add_candidates(
        &self,
        ex: &mut Exchange<'_>,
        servers: &[(IpAddr, u16)],
        now: Instant,
    ) {
        let own = |(a, p): &(IpAddr, u16)| self.own.is_self(SocketAddr::new(*a, *p));
        // The usual case, every address a server's and none our own, sorts nothing out.
        let sorted;
        let servers = if servers.iter().all(|s| usable_server(s.0) && !own(s)) {
            ex.others |= !servers.is_empty();
            servers
        } else {
            sorted = self.sort_out(ex, servers);
            &sorted[..]
        };
        let addrs: Vec<IpAddr> = servers.iter().map(|(a, _)| *a).collect();
        ex.cands.reserve(addrs.len());
        for ranked in self.infra.order(&addrs, &ex.zone_name, now) {
            if ranked.standing == Standing::Down {
                continue;
            }
            // Servers on one address but different ports (two resolvers on one host) rank
            // alike and appear once each: each takes a port not already a candidate's.
            let port = servers
                .iter()
                .find(|(a, p)| {
                    *a == ranked.addr && !ex.cands.iter().any(|c| c.addr == *a && c.port == *p)
                })
                .map_or(DNS_PORT, |(_, p)| *p);
            ex.cands.push(Candidate {
                addr: ranked.addr,
                port,
                tries: 0,
                failed: 0,
                // A TLS forwarder is asked over its TLS connection, which counts as TCP here
                // (the timeouts allow for a handshake; a truncated reply cannot happen).
                tcp: ex.tls.is_some(),
                edns: !ranked.no_edns,
                probe: ranked.standing == Standing::Probe,
                done: false,
                replied: false,
                first_sent: None,
                window: self.windows.of(ranked.addr),
            });
        }
    }
}

impl Resolver {
    /// `servers` less the addresses no server can have and our own listeners, each reported
    /// (our own: a loop, once per server).
    fn sort_out(&self, ex: &mut Exchange<'_>, servers: &[(IpAddr, u16)]) -> Vec<(IpAddr, u16)> {
        let (unusable, servers): (Vec<_>, Vec<_>) =
            servers.iter().partition(|(a, _)| !usable_server(*a));
        if !unusable.is_empty() {
            ex.others = true;
            tracing::debug!(zone = %ex.zone_name, ?unusable, "name server addresses that cannot be a server: ignored");
        }
        let (own, servers): (Vec<_>, Vec<_>) = servers
            .into_iter()
            .partition(|(a, p)| self.own.is_self(SocketAddr::new(*a, *p)));
        ex.others |= !servers.is_empty();
        for (a, p) in own {
            let server = SocketAddr::new(a, p);
            self.own.warn_once(server, &ex.zone_name);
            ex.looped = Some(server);
        }
        servers
    }
}

/// Whether `addr` can be a name server's: the unspecified address (0.0.0.0, ::) reaches the
/// local host, tern itself most likely, without the loop guard seeing it; multicast and the
/// limited broadcast address are nobody's server.
fn usable_server(addr: IpAddr) -> bool {
    let mapped = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    };
    let broadcast = matches!(mapped, IpAddr::V4(v4) if v4.is_broadcast());
    !(mapped.is_unspecified() || mapped.is_multicast() || broadcast)
}

/// The next server to try: the fewest tries so far, then the infrastructure cache's order.
pub(super) fn pick(cands: &[Candidate]) -> Option<usize> {
    cands
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.done)
        .min_by_key(|(i, c)| (c.tries, *i))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unicast_addresses_other_than_unspecified_can_be_servers() {
        for (addr, usable) in [
            ("192.0.2.1", true),
            ("2001:db8::1", true),
            ("127.0.0.1", true),
            ("0.0.0.0", false),
            ("::", false),
            ("::ffff:0.0.0.0", false),
            ("255.255.255.255", false),
            ("::ffff:255.255.255.255", false),
            ("224.0.0.251", false),
            ("ff02::fb", false),
        ] {
            let ip: IpAddr = addr.parse().expect("address");
            assert_eq!(usable_server(ip), usable, "{addr}");
        }
    }

    #[test]
    fn the_next_server_has_the_fewest_tries_then_the_best_rank() {
        let cand = |tries, done| Candidate {
            addr: IpAddr::from([192, 0, 2, 1]),
            port: DNS_PORT,
            tries,
            failed: 0,
            tcp: false,
            edns: true,
            probe: false,
            done,
            replied: false,
            first_sent: None,
            window: Arc::default(),
        };
        assert_eq!(
            pick(&[cand(1, false), cand(0, true), cand(0, false)]),
            Some(2)
        );
        assert_eq!(pick(&[cand(1, false), cand(1, false)]), Some(0));
        assert_eq!(pick(&[cand(0, true)]), None);
    }
}
