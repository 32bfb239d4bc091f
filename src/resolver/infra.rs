//! The infrastructure cache: per server address, a smoothed RTT (RFC 6298 style) used to pick
//! the fastest server and size its timeout; per server and zone, lameness remembered for a
//! while so a broken server is not asked again and again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::LowerName;
use tokio::time::Instant;

/// Timeout for a server we know nothing about (Unbound starts at 376 ms).
const UNKNOWN_RTO: Duration = Duration::from_millis(400);
const MIN_RTO: Duration = Duration::from_millis(50);
const MAX_RTO: Duration = Duration::from_secs(3);
/// How long a lame server is avoided for its zone (Unbound: infra-host-ttl, 900 s).
const LAME_TTL: Duration = Duration::from_secs(900);

#[derive(Debug, Clone, Copy)]
struct Rtt {
    srtt: f64,
    rttvar: f64,
}

/// Per-address statistics, shared by all resolutions.
#[derive(Debug, Default)]
pub struct Infra {
    rtt: Mutex<HashMap<IpAddr, Rtt>>,
    lame: Mutex<HashMap<(IpAddr, LowerName), Instant>>,
}

impl Infra {
    /// Smoothed RTT in ms, if measured.
    pub fn srtt(&self, addr: IpAddr) -> Option<f64> {
        self.rtt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr)
            .map(|r| r.srtt)
    }

    /// RFC 6298 §2: RTO = SRTT + 4·RTTVAR, bounded.
    pub fn timeout(&self, addr: IpAddr) -> Duration {
        match self
            .rtt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr)
        {
            Some(r) => {
                Duration::from_secs_f64((r.srtt + 4.0 * r.rttvar) / 1000.0).clamp(MIN_RTO, MAX_RTO)
            }
            None => UNKNOWN_RTO,
        }
    }

    /// Records a measured round trip.
    pub fn record_rtt(&self, addr: IpAddr, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        let mut map = self.rtt.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.entry(addr).or_insert(Rtt {
            srtt: ms,
            rttvar: ms / 2.0,
        });
        e.rttvar = 0.75 * e.rttvar + 0.25 * (e.srtt - ms).abs();
        e.srtt = 0.875 * e.srtt + 0.125 * ms;
    }

    /// A timeout counts as a very slow answer, so the server sorts last for a while.
    pub fn record_timeout(&self, addr: IpAddr, waited: Duration) {
        let ms = (waited.as_secs_f64() * 1000.0 * 2.0).min(MAX_RTO.as_secs_f64() * 1000.0);
        let mut map = self.rtt.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.entry(addr).or_insert(Rtt {
            srtt: ms,
            rttvar: ms / 2.0,
        });
        e.srtt = e.srtt.max(ms);
        e.rttvar = e.rttvar.max(ms / 2.0);
    }

    pub fn mark_lame(&self, addr: IpAddr, zone: LowerName, now: Instant) {
        self.lame
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((addr, zone), now + LAME_TTL);
    }

    pub fn is_lame(&self, addr: IpAddr, zone: &LowerName, now: Instant) -> bool {
        self.lame
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(addr, zone.clone()))
            .is_some_and(|until| *until > now)
    }

    /// Orders candidate addresses: usable before lame, then by smoothed RTT, with unmeasured
    /// servers first so every server gets measured (exploration), ties broken at random.
    pub fn order(&self, addrs: &mut [IpAddr], zone: &LowerName, now: Instant) {
        let keyed: Vec<(bool, f64, u32, IpAddr)> = addrs
            .iter()
            .map(|a| {
                (
                    self.is_lame(*a, zone, now),
                    self.srtt(*a).unwrap_or(0.0),
                    rand::random::<u32>(),
                    *a,
                )
            })
            .collect();
        let mut keyed = keyed;
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
        infra.record_rtt(a, Duration::from_millis(50));
        infra.record_rtt(b, Duration::from_millis(5));
        infra.record_rtt(c, Duration::from_millis(1));
        infra.mark_lame(c, zone.clone(), Instant::now());
        let mut addrs = [a, b, c];
        infra.order(&mut addrs, &zone, Instant::now());
        assert_eq!(addrs, [b, a, c]);
        tokio::time::advance(LAME_TTL).await;
        infra.order(&mut addrs, &zone, Instant::now());
        assert_eq!(addrs[0], c, "lameness expires");
    }
}
