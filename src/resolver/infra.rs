//! The infrastructure cache: what tern has learned about each upstream server, shared by all
//! resolutions. Per address: a smoothed RTT from real samples (RFC 6298) that sizes the
//! retransmission timeout, the losses since its last reply, and whether it speaks EDNS. Per
//! server and zone: lameness, remembered for a while so a broken server is not asked again and
//! again, and a softer mark for servers that answer without AA.
//!
//! A lost datagram is not proof that a server is dead: a loss counts only when the server has
//! not answered anything since the query was sent, and only several losses in a row take it
//! out of rotation. A server out of rotation is probed again after a short, growing interval
//! and is back as soon as it answers (Unbound's infra cache and PowerDNS's throttling work the
//! same way). Both tables are bounded LRUs whose entries expire.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::rr::{LowerName, Name};
use lru::LruCache;
use tokio::time::Instant;

/// Timeout for a server we know nothing about (Unbound starts at 376 ms).
pub(crate) const UNKNOWN_RTO: Duration = Duration::from_millis(400);
/// RFC 6298 §2.4 asks for at least 1 s on the open internet; DNS resolvers use far less
/// (Unbound: 50 ms), because a retransmission costs one small datagram. It binds only for
/// near, steady servers (SRTT + 4·RTTVAR below it); a jittery one's RTTVAR lifts its timeout.
/// A try given up for lost holds its server's congestion window slot (`window.rs`) until this
/// timer fires, so under loss the floor sets how much of the window lost queries keep idle:
/// overload.sh (a leaf that drops past its rate) answered 4,900-5,200/s at 50 ms, 7,010 at
/// 30 ms, 8,012 at 20 ms (1.19 queries per miss) and 8,017 at 10 ms (1.26), Unbound 5,500-5,700.
pub(crate) const MIN_RTO: Duration = Duration::from_millis(20);
/// Ceiling for one try's timeout, however many losses came before it.
pub(crate) const MAX_RTO: Duration = Duration::from_secs(2);
/// Consecutive losses, with no reply in between, that take a server out of rotation. At 10 %
/// random loss five in a row happen once in 100,000 tries; a dead server reaches it in seconds.
const DOWN_AFTER: u32 = 5;
/// First wait before a server out of rotation is probed again; doubles per further loss.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// How long measurements and lameness are kept (Unbound: infra-host-ttl, 900 s).
const HOST_TTL: Duration = Duration::from_secs(900);
/// Servers and (server, zone) pairs remembered (Unbound: infra-cache-numhosts, 10000).
const MAX_HOSTS: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");

/// What tern knows about one server address.
#[derive(Debug, Clone, Copy)]
struct Host {
    /// Smoothed RTT and its variation in ms; `None` until a reply was timed.
    srtt: Option<f64>,
    rttvar: f64,
    /// Losses since the last reply.
    losses: u32,
    last_reply: Option<Instant>,
    /// While out of rotation: when the next probe may go.
    next_probe: Instant,
    /// The server answered FORMERR without OPT to a query with EDNS (RFC 6891 §7).
    no_edns: bool,
    expires: Instant,
}

impl Host {
    fn new(now: Instant) -> Host {
        Host {
            srtt: None,
            rttvar: 0.0,
            losses: 0,
            last_reply: None,
            next_probe: now,
            no_edns: false,
            expires: now + HOST_TTL,
        }
    }
}

/// Whether a server may be asked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Standing {
    Up,
    /// Out of rotation, but a probe is due: one query may try it.
    Probe,
    /// Out of rotation; wait for the next probe.
    Down,
}

/// How a server failed a zone, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mark {
    /// Answers, but without AA: usable, ranked below authoritative servers.
    NonAuthoritative,
    /// Refuses, or answers with referrals that do not lead down (a lame delegation).
    Lame,
}

/// A candidate server for one query, as [`Infra::order`] ranks it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ranked {
    pub(crate) addr: IpAddr,
    pub(crate) standing: Standing,
    pub(crate) mark: Option<Mark>,
    /// It answered a query with EDNS by FORMERR (see [`Infra::no_edns`]).
    pub(crate) no_edns: bool,
}

/// Per-address statistics, shared by all resolutions.
#[derive(Debug)]
pub(crate) struct Infra {
    hosts: Mutex<LruCache<IpAddr, Host>>,
    marks: Mutex<LruCache<(IpAddr, LowerName), (Mark, Instant)>>,
    /// Smoothed time replies wait in our sockets before we read them, in µs: our own delay
    /// under load, kept apart from the servers' RTTs and added to every retransmission timer,
    /// so a busy resolver does not retransmit to servers that have already answered.
    lag_us: AtomicU64,
}

/// The most our own delay may add to a retransmission timer.
const MAX_LAG: Duration = Duration::from_secs(1);

impl Default for Infra {
    fn default() -> Self {
        Infra {
            hosts: Mutex::new(LruCache::new(MAX_HOSTS)),
            marks: Mutex::new(LruCache::new(MAX_HOSTS)),
            lag_us: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The tables hold plain data; a panic elsewhere leaves nothing half-written that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Infra {
    fn host(&self, addr: IpAddr, now: Instant) -> Option<Host> {
        let mut hosts = lock(&self.hosts);
        match hosts.get(&addr) {
            Some(h) if h.expires > now => Some(*h),
            Some(_) => {
                hosts.pop(&addr);
                None
            }
            None => None,
        }
    }

    fn update(&self, addr: IpAddr, now: Instant, f: impl FnOnce(&mut Host)) {
        let mut hosts = lock(&self.hosts);
        let mut host = match hosts.get(&addr) {
            Some(h) if h.expires > now => *h,
            _ => Host::new(now),
        };
        f(&mut host);
        host.expires = now + HOST_TTL;
        hosts.put(addr, host);
    }

    /// Folds in one sample of our own delay (an EWMA with gain 1/8, like SRTT). Concurrent
    /// updates may lose a sample; an estimate does not mind.
    pub(crate) fn record_lag(&self, lag: Duration) {
        let sample = u64::try_from(lag.min(MAX_LAG).as_micros()).unwrap_or(u64::MAX);
        let old = self.lag_us.load(Ordering::Relaxed);
        let new = (old * 7 + sample) / 8;
        self.lag_us.store(new, Ordering::Relaxed);
    }

    /// Our own smoothed delay in reading replies.
    pub(crate) fn lag(&self) -> Duration {
        Duration::from_micros(self.lag_us.load(Ordering::Relaxed))
    }

    /// How long to wait for this server before retransmitting: RFC 6298 §2's SRTT + 4·RTTVAR
    /// within [`MIN_RTO`, `MAX_RTO`]. Each question backs off from it on its own (§5.5), so a
    /// probe of a server out of rotation costs one short wait, not an accumulated one.
    pub(crate) fn timeout(&self, addr: IpAddr, now: Instant) -> Duration {
        rto(self.host(addr, now).as_ref())
    }

    /// A reply arrived; `rtt` is a sample when the transport timed it (RFC 6298 §2.2 for the
    /// first sample, §2.3 after).
    pub(crate) fn record_reply(&self, addr: IpAddr, rtt: Option<Duration>, now: Instant) {
        self.update(addr, now, |h| {
            h.losses = 0;
            h.last_reply = Some(now);
            let Some(rtt) = rtt else { return };
            let ms = rtt.as_secs_f64() * 1000.0;
            match h.srtt {
                None => {
                    h.srtt = Some(ms);
                    h.rttvar = ms / 2.0;
                }
                Some(srtt) => {
                    h.rttvar = 0.75 * h.rttvar + 0.25 * (srtt - ms).abs();
                    h.srtt = Some(0.875 * srtt + 0.125 * ms);
                }
            }
        });
    }

    /// No reply came within the timeout for a query sent at `sent`. If the server answered
    /// anything since then, the datagram was lost, not the server: nothing changes.
    pub(crate) fn record_loss(&self, addr: IpAddr, sent: Instant, now: Instant) {
        self.update(addr, now, |h| {
            if h.last_reply.is_some_and(|t| t >= sent) {
                return;
            }
            h.losses = h.losses.saturating_add(1);
            if h.losses >= DOWN_AFTER {
                let doublings = (h.losses - DOWN_AFTER).min(5);
                let wait = PROBE_INTERVAL.saturating_mul(1 << doublings);
                h.next_probe = now + wait.min(MAX_PROBE_INTERVAL);
            }
        });
    }

    /// Whether `addr` has answered anything (any question's query) since `t`.
    pub(crate) fn replied_since(&self, addr: IpAddr, t: Instant, now: Instant) -> bool {
        self.host(addr, now)
            .and_then(|h| h.last_reply)
            .is_some_and(|r| r >= t)
    }

    /// Takes `addr` out of rotation now, as if it had lost enough queries in a row.
    pub(crate) fn take_out(&self, addr: IpAddr, now: Instant) {
        self.update(addr, now, |h| {
            if h.losses < DOWN_AFTER {
                h.losses = DOWN_AFTER;
                h.next_probe = now + PROBE_INTERVAL;
            }
        });
    }

    /// Whether `addr` may be asked now.
    pub(crate) fn standing(&self, addr: IpAddr, now: Instant) -> Standing {
        standing(self.host(addr, now).as_ref(), now)
    }

    /// Claims the due probe of a server out of rotation, so that concurrent queries do not
    /// all probe it at once. False if another query took it first.
    pub(crate) fn take_probe(&self, addr: IpAddr, now: Instant) -> bool {
        let mut taken = false;
        self.update(addr, now, |h| {
            if h.losses >= DOWN_AFTER && now >= h.next_probe {
                h.next_probe = now + PROBE_INTERVAL;
                taken = true;
            }
        });
        taken
    }

    /// Remembers that `addr` speaks no EDNS.
    pub(crate) fn set_no_edns(&self, addr: IpAddr, now: Instant) {
        self.update(addr, now, |h| h.no_edns = true);
    }

    /// Whether `addr` speaks no EDNS (tests; [`Infra::order`] reads it with the rest).
    #[cfg(test)]
    pub(crate) fn no_edns(&self, addr: IpAddr, now: Instant) -> bool {
        self.host(addr, now).is_some_and(|h| h.no_edns)
    }

    /// Marks `addr` for `zone`; a worse mark replaces a milder one, never the reverse.
    pub(crate) fn mark(&self, addr: IpAddr, zone: LowerName, mark: Mark, now: Instant) {
        let mut marks = lock(&self.marks);
        let key = (addr, zone);
        let worse = match marks.get(&key) {
            Some((old, until)) if *until > now => mark >= *old,
            _ => true,
        };
        if worse {
            marks.put(key, (mark, now + HOST_TTL));
        }
    }

    /// The mark `addr` holds for `zone` now (tests; [`Infra::order`] reads them in bulk).
    #[cfg(test)]
    pub(crate) fn marked(&self, addr: IpAddr, zone: &LowerName, now: Instant) -> Option<Mark> {
        let key = (addr, zone.clone());
        let mut marks = lock(&self.marks);
        match marks.get(&key) {
            Some((mark, until)) if *until > now => Some(*mark),
            Some(_) => {
                marks.pop(&key);
                None
            }
            None => None,
        }
    }

    /// Ranks candidate addresses for `zone`: servers in rotation before those out of it,
    /// unmarked before non-authoritative before lame, then by smoothed RTT (servers with losses
    /// by their backed-off timeout) with unmeasured servers first so every server gets measured (exploration); ties broken at random.
    pub(crate) fn order(&self, addrs: &[IpAddr], zone: &Name, now: Instant) -> Vec<Ranked> {
        // Every miss ranks its zone's servers: one look at each table for the whole set, and
        // none at the marks when no server is marked (the usual case), whose key would cost a
        // copy of the zone's name. One vector for it all.
        let mut keyed: Vec<(Ranked, f64, u32)> = {
            let mut table = lock(&self.hosts);
            addrs
                .iter()
                .map(|&addr| {
                    let host = table.get(&addr).filter(|h| h.expires > now).copied();
                    let ranked = Ranked {
                        addr,
                        standing: standing(host.as_ref(), now),
                        mark: None,
                        no_edns: host.is_some_and(|h| h.no_edns),
                    };
                    // A server that lost queries since its last reply sorts by its backed-off
                    // timeout, so it comes after every server that answers.
                    let speed = match host {
                        Some(h) if h.losses > 0 => {
                            let backed_off = rto(Some(&h)).saturating_mul(1 << h.losses.min(6));
                            backed_off.as_secs_f64() * 1000.0
                        }
                        Some(h) => h.srtt.unwrap_or(0.0),
                        None => 0.0,
                    };
                    (ranked, speed, rand::random::<u32>())
                })
                .collect()
        };
        {
            let mut table = lock(&self.marks);
            if !table.is_empty() {
                let mut key = (IpAddr::from([0, 0, 0, 0]), LowerName::new(zone));
                for (ranked, _, _) in &mut keyed {
                    key.0 = ranked.addr;
                    ranked.mark = table
                        .get(&key)
                        .filter(|(_, until)| *until > now)
                        .map(|(mark, _)| *mark);
                }
            }
        }
        keyed.sort_by(|x, y| {
            (x.0.standing, x.0.mark)
                .cmp(&(y.0.standing, y.0.mark))
                .then(x.1.total_cmp(&y.1))
                .then(x.2.cmp(&y.2))
        });
        keyed.into_iter().map(|k| k.0).collect()
    }
}

/// RFC 6298 §2's SRTT + 4·RTTVAR within [`MIN_RTO`, `MAX_RTO`] for a server measured, else
/// [`UNKNOWN_RTO`].
fn rto(host: Option<&Host>) -> Duration {
    match host.and_then(|h| h.srtt.map(|s| (s, h.rttvar))) {
        Some((srtt, rttvar)) => {
            Duration::from_secs_f64((srtt + 4.0 * rttvar) / 1000.0).clamp(MIN_RTO, MAX_RTO)
        }
        None => UNKNOWN_RTO,
    }
}

/// Whether a server with these statistics (`None`: none kept, or expired) may be asked now.
fn standing(host: Option<&Host>, now: Instant) -> Standing {
    match host {
        Some(h) if h.losses >= DOWN_AFTER => {
            if now >= h.next_probe {
                Standing::Probe
            } else {
                Standing::Down
            }
        }
        _ => Standing::Up,
    }
}

/// One server as the dashboard shows it: its smoothed RTT, timeout, losses and standing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HostView {
    pub(crate) srtt_ms: Option<f64>,
    pub(crate) rto: Duration,
    pub(crate) losses: u32,
    pub(crate) standing: Standing,
}

impl Infra {
    /// What is known of `addr`, read-only: `peek` leaves the LRU order and expiry as they are.
    pub(crate) fn view(&self, addr: IpAddr, now: Instant) -> Option<HostView> {
        let hosts = lock(&self.hosts);
        let h = hosts.peek(&addr).filter(|h| h.expires > now)?;
        Some(HostView {
            srtt_ms: h.srtt,
            rto: rto(Some(h)),
            losses: h.losses,
            standing: standing(Some(h), now),
        })
    }
}

impl super::Resolver {
    /// The infrastructure cache's view of `addr` (for the dashboard; changes nothing).
    pub(crate) fn upstream_view(&self, addr: IpAddr, now: Instant) -> Option<HostView> {
        self.infra.view(addr, now)
    }
}

#[cfg(test)]
#[path = "infra/tests.rs"]
mod tests;
