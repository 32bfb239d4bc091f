//! Forwarding-loop detection. tern walks the hierarchy itself, so a loop is an upstream it is
//! about to ask — a root hint, a name server's address, a stub zone's server — that is one of
//! its own listening sockets: a delegation whose NS address is tern's, or a stub zone pointed
//! at itself. Such a query would come back in as a client query, recurse again, and spend the
//! whole budget asking itself. The check is by address before sending, so no probe query is
//! needed (CoreDNS's `loop` plugin sends a random name to itself because a forwarder cannot
//! tell where its upstream forwards; an iterative resolver knows every address it asks).
//! A server that is ourselves is skipped like a lame one, with one warning per address.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use hickory_proto::rr::Name;

/// The addresses this process answers DNS on.
#[derive(Debug, Default)]
pub(crate) struct OwnListeners {
    listen: Vec<SocketAddr>,
    /// The host's interface addresses, read once when a listener is a wildcard (0.0.0.0 or
    /// [::]): such a socket answers on every one of them.
    local: Vec<IpAddr>,
    warned: Mutex<HashSet<SocketAddr>>,
}

impl OwnListeners {
    pub(crate) fn new(listen: &[SocketAddr]) -> OwnListeners {
        let local = if listen.iter().any(|l| l.ip().is_unspecified()) {
            interface_addresses()
        } else {
            Vec::new()
        };
        OwnListeners {
            listen: listen.to_vec(),
            local,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Whether a query to `server` would reach one of our own listeners.
    pub(crate) fn is_self(&self, server: SocketAddr) -> bool {
        let ip = canonical(server.ip());
        self.listen.iter().any(|l| {
            l.port() == server.port()
                && (canonical(l.ip()) == ip
                    || l.ip().is_unspecified()
                        // A wildcard answers only its own family: `[::]` is bound IPV6_V6ONLY
                        // (server::bind), so it never sees IPv4 or IPv4-mapped queries.
                        && l.is_ipv4() == ip.is_ipv4()
                        && (ip.is_loopback() || self.local.contains(&ip)))
        })
    }

    /// Logs the loop once per address: it stays a misconfiguration until the zones change.
    pub(crate) fn warn_once(&self, server: SocketAddr, zone: &Name) {
        let first = self
            .warned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(server);
        if first {
            tracing::warn!(%server, %zone, "forwarding loop: a name server of this zone is tern's own listener; skipping it");
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn interface_addresses() -> Vec<IpAddr> {
    let addrs = match nix::ifaddrs::getifaddrs() {
        Ok(addrs) => addrs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the interface addresses; forwarding-loop detection covers loopback and exact listeners only");
            return Vec::new();
        }
    };
    addrs
        .filter_map(|ifa| ifa.address)
        .filter_map(|a| crate::net::socket_addr(&a).map(|s| s.ip()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    #[test]
    fn exact_listeners_match_address_and_port() {
        let own = OwnListeners::new(&[sa("127.61.0.1:53"), sa("[::1]:5300")]);
        assert!(own.is_self(sa("127.61.0.1:53")));
        assert!(!own.is_self(sa("127.61.0.2:53")));
        assert!(!own.is_self(sa("127.61.0.1:5353")));
        assert!(own.is_self(sa("[::1]:5300")));
        assert!(own.is_self(sa("[::ffff:127.61.0.1]:53")));
    }

    #[test]
    fn a_wildcard_listener_is_every_local_address_on_its_port() {
        let own = OwnListeners::new(&[sa("0.0.0.0:53")]);
        assert!(own.is_self(sa("127.0.0.1:53")));
        assert!(own.is_self(sa("127.61.0.9:53")));
        assert!(!own.is_self(sa("127.0.0.1:54")));
        assert!(
            !own.is_self(sa("192.0.2.1:53")),
            "TEST-NET is nobody's interface"
        );
        for ip in own.local.iter().filter(|ip| ip.is_ipv4()) {
            assert!(own.is_self(SocketAddr::new(*ip, 53)));
        }
    }

    #[test]
    fn a_wildcard_listener_matches_only_its_own_family() {
        let v6 = OwnListeners::new(&[sa("[::]:53")]);
        assert!(v6.is_self(sa("[::1]:53")));
        assert!(!v6.is_self(sa("127.0.0.1:53")), "[::] is IPV6_V6ONLY");
        assert!(!v6.is_self(sa("[::ffff:127.0.0.1]:53")));
        let v4 = OwnListeners::new(&[sa("0.0.0.0:53")]);
        assert!(v4.is_self(sa("[::ffff:127.0.0.1]:53")), "mapped is IPv4");
        assert!(!v4.is_self(sa("[::1]:53")));
        for ip in v4.local.iter().filter(|ip| ip.is_ipv6()) {
            assert!(!v4.is_self(SocketAddr::new(*ip, 53)), "{ip}");
        }
    }
}
