//! The infrastructure cache: per server address, a smoothed RTT (RFC 6298 style) used to pick
//! the fastest server and size its timeout; per server and zone, lameness remembered for a
//! while so a broken server is not asked again and again. Both tables are bounded LRUs whose
//! entries expire, so referrals naming endless addresses cannot grow memory, and a server that
//! timed out once is measured afresh later rather than shunned for good.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::LowerName;
use lru::LruCache;
use tokio::time::Instant;

/// Timeout for a server we know nothing about (Unbound starts at 376 ms).
const UNKNOWN_RTO: Duration = Duration::from_millis(400);
const MIN_RTO: Duration = Duration::from_millis(50);
const MAX_RTO: Duration = Duration::from_secs(3);
/// How long measurements and lameness are kept (Unbound: infra-host-ttl, 900 s).
const HOST_TTL: Duration = Duration::from_secs(900);
/// Servers and (server, zone) pairs remembered (Unbound: infra-cache-numhosts, 10000).
const MAX_HOSTS: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");

#[derive(Debug, Clone, Copy)]
struct Rtt {
    srtt: f64,
    rttvar: f64,
    expires: Instant,
}

/// Per-address statistics, shared by all resolutions.
#[derive(Debug)]
pub struct Infra {
    rtt: Mutex<LruCache<IpAddr, Rtt>>,
    lame: Mutex<LruCache<(IpAddr, LowerName), Instant>>,
}

impl Default for Infra {
    fn default() -> Self {
        Infra {
            rtt: Mutex::new(LruCache::new(MAX_HOSTS)),
            lame: Mutex::new(LruCache::new(MAX_HOSTS)),
        }
    }
}

impl Infra {
    fn measured(&self, addr: IpAddr, now: Instant) -> Option<Rtt> {
        let mut map = self.rtt.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&addr) {
            Some(r) if r.expires > now => Some(*r),
            Some(_) => {
                map.pop(&addr);
                None
            }
            None => None,
        }
    }

    /// Smoothed RTT in ms, if measured recently.
    pub fn srtt(&self, addr: IpAddr, now: Instant) -> Option<f64> {
        self.measured(addr, now).map(|r| r.srtt)
    }

    /// RFC 6298 §2: RTO = SRTT + 4·RTTVAR, bounded.
    pub fn timeout(&self, addr: IpAddr, now: Instant) -> Duration {
        match self.measured(addr, now) {
            Some(r) => {
                Duration::from_secs_f64((r.srtt + 4.0 * r.rttvar) / 1000.0).clamp(MIN_RTO, MAX_RTO)
            }
            None => UNKNOWN_RTO,
        }
    }

    /// Records a measured round trip (RFC 6298 §2.2 for the first sample, §2.3 after).
    pub fn record_rtt(&self, addr: IpAddr, rtt: Duration, now: Instant) {
        let ms = rtt.as_secs_f64() * 1000.0;
        self.update(addr, ms, now, |r| Rtt {
            rttvar: 0.75 * r.rttvar + 0.25 * (r.srtt - ms).abs(),
            srtt: 0.875 * r.srtt + 0.125 * ms,
            expires: r.expires,
        });
    }

    /// A timeout counts as a very slow answer, so the server sorts last for a while.
    pub fn record_timeout(&self, addr: IpAddr, waited: Duration, now: Instant) {
        let ms = (waited.as_secs_f64() * 1000.0 * 2.0).min(MAX_RTO.as_secs_f64() * 1000.0);
        self.update(addr, ms, now, |r| Rtt {
            srtt: r.srtt.max(ms),
            rttvar: r.rttvar.max(ms / 2.0),
            expires: r.expires,
        });
    }

    /// Stores a new sample: the first one as SRTT = R, RTTVAR = R/2, later ones through `next`;
    /// either way the entry lives another `HOST_TTL`.
    fn update(&self, addr: IpAddr, ms: f64, now: Instant, next: impl FnOnce(Rtt) -> Rtt) {
        let mut entry = match self.measured(addr, now) {
            None => Rtt {
                srtt: ms,
                rttvar: ms / 2.0,
                expires: now,
            },
            Some(r) => next(r),
        };
        entry.expires = now + HOST_TTL;
        self.rtt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(addr, entry);
    }

    pub fn mark_lame(&self, addr: IpAddr, zone: LowerName, now: Instant) {
        self.lame
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put((addr, zone), now + HOST_TTL);
    }

    pub fn is_lame(&self, addr: IpAddr, zone: &LowerName, now: Instant) -> bool {
        let key = (addr, zone.clone());
        let mut map = self.lame.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            Some(until) if *until > now => true,
            Some(_) => {
                map.pop(&key);
                false
            }
            None => false,
        }
    }

    /// Orders candidate addresses: usable before lame, then by smoothed RTT, with unmeasured
    /// servers first so every server gets measured (exploration), ties broken at random.
    pub fn order(&self, addrs: &mut [IpAddr], zone: &LowerName, now: Instant) {
        let mut keyed: Vec<(bool, f64, u32, IpAddr)> = addrs
            .iter()
            .map(|a| {
                (
                    self.is_lame(*a, zone, now),
                    self.srtt(*a, now).unwrap_or(0.0),
                    rand::random::<u32>(),
                    *a,
                )
            })
            .collect();
        keyed.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)).then(x.2.cmp(&y.2)));
        for (slot, k) in addrs.iter_mut().zip(keyed) {
            *slot = k.3;
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::Name;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fast_servers_first_lame_last() {
        let infra = Infra::default();
        let zone = LowerName::new(&Name::from_ascii("test.").expect("name"));
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            [127, 0, 0, 1].into(),
            [127, 0, 0, 2].into(),
            [127, 0, 0, 3].into(),
        );
        let now = Instant::now();
        infra.record_rtt(a, Duration::from_millis(50), now);
        infra.record_rtt(b, Duration::from_millis(5), now);
        infra.record_rtt(c, Duration::from_millis(1), now);
        infra.mark_lame(c, zone.clone(), now);
        let mut addrs = [a, b, c];
        infra.order(&mut addrs, &zone, now);
        assert_eq!(addrs, [b, a, c]);
        tokio::time::advance(HOST_TTL).await;
        infra.order(&mut addrs, &zone, Instant::now());
        assert!(!infra.is_lame(c, &zone, Instant::now()), "lameness expires");
        assert_eq!(infra.srtt(a, Instant::now()), None, "so do measurements");
    }

    #[test]
    fn first_sample_follows_rfc_6298() {
        let infra = Infra::default();
        let now = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        infra.record_rtt(a, Duration::from_millis(100), now);
        // SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR = 300 ms.
        assert_eq!(infra.timeout(a, now), Duration::from_millis(300));
    }

    #[test]
    fn a_timed_out_server_recovers_after_the_host_ttl() {
        let infra = Infra::default();
        let now = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        infra.record_timeout(a, Duration::from_millis(400), now);
        assert!(infra.timeout(a, now) > UNKNOWN_RTO);
        assert_eq!(infra.timeout(a, now + HOST_TTL), UNKNOWN_RTO);
    }
}
