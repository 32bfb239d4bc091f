//! Rate limits: a per-client query rate for recursion (Unbound's `ip-ratelimit`, by prefix),
//! and Response Rate Limiting for authoritative answers (BIND's and NSD's RRL). Both count
//! clients by prefix (/24 and /56 by default), both keep their buckets in a fixed-size table
//! (`bucket`), and both are off unless configured.

pub(crate) mod bucket;
pub(crate) mod rrl;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use tokio::time::Instant;

use bucket::{Buckets, Shape, Take};
pub use rrl::{Rrl, RrlSettings};
pub(crate) use rrl::{Token, Verdict};

/// The part of a client's address that is counted: its first `ipv4` or `ipv6` bits (an
/// IPv4-mapped IPv6 address counts as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPrefix {
    pub ipv4: u8,
    pub ipv6: u8,
}

impl Default for ClientPrefix {
    /// /24 and /56, as BIND's RRL: one customer network each.
    fn default() -> Self {
        ClientPrefix { ipv4: 24, ipv6: 56 }
    }
}

impl ClientPrefix {
    /// The prefix `ip` belongs to, as a hashable key: (is IPv6, the masked address bits).
    pub(crate) fn of(&self, ip: IpAddr) -> (bool, u128) {
        crate::acl::network(ip, self.ipv4, self.ipv6)
    }
}

/// Networks a limit never applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exempt(pub(crate) Vec<IpNet>);

impl Exempt {
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| crate::acl::contains(net, ip))
    }
}

/// What a client over its query rate gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// REFUSED: the client learns it is limited and stops retrying (over TCP always).
    #[default]
    Refuse,
    /// Nothing: costs no bytes out, and gives a spoofed flood nothing to reflect.
    Drop,
}

/// The per-client query limit, bounds-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimitSettings {
    pub queries_per_second: u32,
    pub burst: u32,
    pub prefix: ClientPrefix,
    pub action: Action,
    pub exempt: Exempt,
    /// Buckets kept (the table's fixed size).
    pub table_size: usize,
}

/// The per-client query limit for recursion: a token bucket per client prefix.
#[derive(Debug)]
pub struct QueryLimiter {
    buckets: Buckets,
    prefix: ClientPrefix,
    action: Action,
    exempt: Exempt,
}

impl QueryLimiter {
    pub fn new(settings: &QueryLimitSettings) -> QueryLimiter {
        QueryLimiter {
            buckets: Buckets::new(
                settings.table_size,
                Shape {
                    rate: settings.queries_per_second,
                    burst: settings.burst,
                    debt_secs: 0,
                },
                // Edge: the buckets count time from their creation; every take passes `now`.
                Instant::now(),
            ),
            prefix: settings.prefix,
            action: settings.action,
            exempt: settings.exempt.clone(),
        }
    }

    /// Counts a query from `ip` at `now`: `None` when it may be answered, else what to do.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Option<Action> {
        if self.exempt.contains(ip) {
            return None;
        }
        let (v6, addr) = self.prefix.of(ip);
        match self.buckets.take(addr, u64::from(v6), now) {
            Take::Allowed => None,
            Take::Limited { .. } => Some(self.action),
        }
    }
}

/// The limits a handler applies; both off by default.
#[derive(Debug, Default)]
pub struct Limits {
    /// Queries that use recursion (RD=1 from a client allowed to recurse), UDP and TCP.
    pub queries: Option<QueryLimiter>,
    /// Authoritative answers over UDP.
    pub rrl: Option<Rrl>,
}

impl Limits {
    /// Whether either limit is on: the hit path's one test when both are off.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.queries.is_some() || self.rrl.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::ip;

    #[test]
    fn prefixes_group_ipv4_by_24_and_ipv6_by_56() {
        let p = ClientPrefix::default();
        assert_eq!(p.of(ip("192.0.2.1")), p.of(ip("192.0.2.254")));
        assert_ne!(p.of(ip("192.0.2.1")), p.of(ip("192.0.3.1")));
        assert_eq!(
            p.of(ip("2001:db8:0:ff::1")),
            p.of(ip("2001:db8:0:ff:ffff::2"))
        );
        assert_ne!(p.of(ip("2001:db8:0:ff::1")), p.of(ip("2001:db8:0:100::1")));
        // Mapped IPv4 is IPv4; and IPv4 0.0.0.0/24 is not IPv6 ::/56.
        assert_eq!(p.of(ip("::ffff:192.0.2.9")), p.of(ip("192.0.2.1")));
        assert_ne!(p.of(ip("0.0.0.1")), p.of(ip("::1")));
        let whole = ClientPrefix {
            ipv4: 32,
            ipv6: 128,
        };
        assert_ne!(whole.of(ip("192.0.2.1")), whole.of(ip("192.0.2.2")));
        let none = ClientPrefix { ipv4: 0, ipv6: 0 };
        assert_eq!(none.of(ip("192.0.2.1")), none.of(ip("198.51.100.7")));
    }

    fn limiter(action: Action, exempt: &[&str]) -> QueryLimiter {
        QueryLimiter::new(&QueryLimitSettings {
            queries_per_second: 1,
            burst: 2,
            prefix: ClientPrefix::default(),
            action,
            exempt: Exempt(
                exempt
                    .iter()
                    .map(|s| s.parse().expect("test net"))
                    .collect(),
            ),
            table_size: 1024,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_prefix_over_its_rate_gets_the_action_others_do_not() {
        let l = limiter(Action::Drop, &[]);
        let now = Instant::now();
        assert_eq!(l.check(ip("198.51.100.1"), now), None);
        assert_eq!(l.check(ip("198.51.100.2"), now), None, "same /24, burst 2");
        assert_eq!(l.check(ip("198.51.100.3"), now), Some(Action::Drop));
        assert_eq!(l.check(ip("198.51.101.1"), now), None, "another /24");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(l.check(ip("198.51.100.1"), Instant::now()), None);
        assert_eq!(
            l.check(ip("198.51.100.1"), Instant::now()),
            Some(Action::Drop)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn exempt_networks_are_never_limited() {
        let l = limiter(Action::Refuse, &["10.0.0.0/8", "2001:db8::/32"]);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(l.check(ip("10.1.2.3"), now), None);
            assert_eq!(l.check(ip("::ffff:10.1.2.3"), now), None);
            assert_eq!(l.check(ip("2001:db8::1"), now), None);
        }
        let limited = (0..10)
            .filter(|_| l.check(ip("11.1.2.3"), now).is_some())
            .count();
        assert_eq!(limited, 8);
    }
}
