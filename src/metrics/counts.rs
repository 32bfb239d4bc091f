//! Labelled counters for the hot path: fixed arrays of atomics indexed by a small number
//! (transport, QTYPE, RCODE, EDE code, latency bucket), so counting a query is a few
//! `fetch_add`s with no lock and no allocation. Only upstream servers, whose set is open, sit
//! in a map, and that map is touched once per upstream query (a network round trip away).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The QTYPEs counted on their own; every other one is counted as `other`.
pub(crate) const QTYPES: [(u16, &str); 24] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (13, "HINFO"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (35, "NAPTR"),
    (43, "DS"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (50, "NSEC3"),
    (52, "TLSA"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (99, "SPF"),
    (251, "IXFR"),
    (252, "AXFR"),
    (255, "ANY"),
    (257, "CAA"),
];
/// Slots of a per-QTYPE row: the named ones and `other`.
pub(crate) const QTYPE_SLOTS: usize = QTYPES.len() + 1;

/// The slot of each QTYPE below 256 (`OTHER_QTYPE` for the unnamed ones), built at compile
/// time: the hit path finds a slot with one load.
const SLOT_OF: [u8; 256] = {
    let mut table = [QTYPES.len() as u8; 256];
    let mut i = 0;
    while i < QTYPES.len() {
        if QTYPES[i].0 < 256 {
            table[QTYPES[i].0 as usize] = i as u8;
        }
        i += 1;
    }
    table
};
/// CAA, the one named QTYPE past 255.
const CAA_SLOT: usize = QTYPES.len() - 1;

/// The slot of `qtype` in a per-QTYPE row (`QTYPES.len()` for `other`, and for a query whose
/// question could not be read).
pub(crate) fn qtype_slot(qtype: Option<u16>) -> usize {
    match qtype {
        Some(q) if q < 256 => usize::from(SLOT_OF[usize::from(q)]),
        Some(257) => CAA_SLOT,
        _ => QTYPES.len(),
    }
}

pub(crate) fn qtype_label(slot: usize) -> &'static str {
    QTYPES.get(slot).map_or("other", |(_, name)| name)
}

/// RCODEs 0..=23 (RFC 6895 §2.3's registry as far as it goes) counted on their own.
pub(crate) const RCODE_SLOTS: usize = 25;

pub(crate) fn rcode_slot(rcode: u16) -> usize {
    usize::from(rcode).min(RCODE_SLOTS - 1)
}

pub(crate) fn rcode_label(slot: usize) -> &'static str {
    const NAMES: [&str; RCODE_SLOTS] = [
        "NOERROR",
        "FORMERR",
        "SERVFAIL",
        "NXDOMAIN",
        "NOTIMP",
        "REFUSED",
        "YXDOMAIN",
        "YXRRSET",
        "NXRRSET",
        "NOTAUTH",
        "NOTZONE",
        "DSOTYPENI",
        "RCODE12",
        "RCODE13",
        "RCODE14",
        "RCODE15",
        "BADVERS",
        "BADKEY",
        "BADTIME",
        "BADMODE",
        "BADNAME",
        "BADALG",
        "BADTRUNC",
        "BADCOOKIE",
        "other",
    ];
    NAMES.get(slot).copied().unwrap_or("other")
}

/// The transports a query comes in on.
pub(crate) const TRANSPORTS: [&str; 4] = ["udp", "tcp", "tls", "https"];

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// A counter per transport and slot.
#[derive(Debug)]
pub struct Table<const N: usize> {
    rows: [[AtomicU64; N]; TRANSPORTS.len()],
}

impl<const N: usize> Default for Table<N> {
    fn default() -> Self {
        Table {
            rows: std::array::from_fn(|_| zeros()),
        }
    }
}

impl<const N: usize> Table<N> {
    /// Counts one in `slot` (clamped to the last) for transport row `transport` (an index of
    /// [`TRANSPORTS`], clamped too).
    pub(crate) fn inc(&self, transport: usize, slot: usize) {
        let row = &self.rows[transport.min(TRANSPORTS.len() - 1)];
        row[slot.min(N - 1)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, transport: usize, slot: usize) -> u64 {
        self.rows
            .get(transport)
            .and_then(|row| row.get(slot))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Servfails by their RFC 8914 EDE info code (0..=29 as registered in 2024, then `other`), and
/// those without one.
pub(crate) const EDE_SLOTS: usize = 32;
const EDE_NONE: usize = EDE_SLOTS - 1;
const EDE_OTHER: usize = EDE_SLOTS - 2;

#[derive(Debug)]
pub struct Reasons([AtomicU64; EDE_SLOTS]);

impl Default for Reasons {
    fn default() -> Self {
        Reasons(zeros())
    }
}

impl Reasons {
    pub(crate) fn inc(&self, ede: Option<u16>) {
        let slot = match ede {
            None => EDE_NONE,
            Some(code) => usize::from(code).min(EDE_OTHER),
        };
        self.0[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// `(label, count)` of every reason seen at least once.
    pub(crate) fn seen(&self) -> Vec<(String, u64)> {
        self.0
            .iter()
            .enumerate()
            .map(|(slot, c)| (slot, c.load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .map(|(slot, n)| (reason_label(slot), n))
            .collect()
    }
}

/// `"22 No Reachable Authority"`-style label: the code and its registered name.
fn reason_label(slot: usize) -> String {
    match slot {
        EDE_NONE => "none".to_string(),
        EDE_OTHER => "other".to_string(),
        code => format!("{code} {}", crate::ede::name(code as u16)),
    }
}

/// Upper bounds, in microseconds, of the latency histograms' buckets (100 µs to 10 s: a cache
/// hit lands in the first, a cold walk in the hundreds of ms).
pub(crate) const LATENCY_BOUNDS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// A histogram of durations in atomic buckets: an observation is a short scan of 14 bounds and
/// two `fetch_add`s. Buckets hold their own counts (not cumulative); the total is their sum,
/// so a scrape never sees a count that disagrees with its buckets.
#[derive(Debug)]
pub struct Histogram {
    /// One per bound, and one past the last (+Inf).
    buckets: [AtomicU64; LATENCY_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: zeros(),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub(crate) fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.observe_us(us);
    }

    pub(crate) fn observe_us(&self, us: u64) {
        let slot = LATENCY_BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(LATENCY_BOUNDS_US.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// `(upper bound in seconds, count in that bucket alone)`, +Inf last; and the sum in
    /// seconds.
    pub(crate) fn snapshot(&self) -> (Vec<(f64, u64)>, f64) {
        let buckets = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let bound = LATENCY_BOUNDS_US
                    .get(i)
                    .map_or(f64::INFINITY, |&us| us as f64 / 1e6);
                (bound, c.load(Ordering::Relaxed))
            })
            .collect();
        (buckets, self.sum_us.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

/// The hit path's counts, one shard per thread: its answers by transport (UDP, and TCP and TLS
/// whose connections answer hits inline) and QTYPE and by transport and RCODE, and how many of
/// them came from the local zones. A thread is the only writer of its shard, so a
/// count is a plain load and store (no locked read-modify-write, no cache line bouncing
/// between the UDP sockets' threads). Threads past the first `HIT_SHARDS` share one more shard
/// with atomic adds (the hit path runs on one thread per UDP socket, cores × listen addresses
/// by default, and on the runtime's workers for streams). A reader sums the shards: the hit path's answers are the sum of the
/// QTYPE slots (each answer is counted in exactly one), so `queries`, `fast_hits`,
/// `cache_hits` and `authoritative_answers` need no counter of their own on the hit path.
#[derive(Debug)]
pub struct HitPathCounts {
    shards: Box<[HitShard]>,
}

const HIT_SHARDS: usize = 64;

/// 128-byte aligned so two threads' shards never share a cache line (or its pair).
#[derive(Debug)]
#[repr(align(128))]
struct HitShard {
    /// A row per transport (`TRANSPORTS`).
    qtypes: [[AtomicU64; QTYPE_SLOTS]; TRANSPORTS.len()],
    rcodes: [[AtomicU64; RCODE_SLOTS]; TRANSPORTS.len()],
    /// Answers from the local zones (authoritative).
    local: AtomicU64,
    /// Answers from the cache: a counter of its own, not the answers less `local`, which a
    /// reader between an answer's two stores would see step back (a Prometheus counter
    /// that steps back reads as a restart).
    cached: AtomicU64,
    /// Answers to queries with a COOKIE option, by result (`super::COOKIE_RESULTS`).
    cookies: [AtomicU64; super::COOKIE_RESULTS.len()],
}

impl Default for HitPathCounts {
    fn default() -> Self {
        HitPathCounts {
            shards: (0..=HIT_SHARDS)
                .map(|_| HitShard {
                    qtypes: std::array::from_fn(|_| zeros()),
                    rcodes: std::array::from_fn(|_| zeros()),
                    local: AtomicU64::new(0),
                    cached: AtomicU64::new(0),
                    cookies: zeros(),
                })
                .collect(),
        }
    }
}

thread_local! {
    /// This thread's shard, assigned on first use (`usize::MAX`: not yet).
    static SHARD: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}
static NEXT_SHARD: AtomicU64 = AtomicU64::new(0);

#[inline]
fn my_shard() -> usize {
    match SHARD.get() {
        usize::MAX => assign_shard(),
        i => i,
    }
}

/// A thread's first count: takes the next shard (the shared one past `HIT_SHARDS`).
#[cold]
fn assign_shard() -> usize {
    let n = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
    let i = usize::try_from(n).unwrap_or(HIT_SHARDS).min(HIT_SHARDS);
    SHARD.set(i);
    i
}

/// Adds `n` to a counter only this thread writes.
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl HitPathCounts {
    /// Counts one answer over transport row `transport` (an index of [`TRANSPORTS`]) of QTYPE
    /// slot `qtype` and RCODE slot `rcode`, from the local zones (`local`) or the cache.
    #[inline]
    pub(crate) fn count(&self, transport: usize, qtype: usize, rcode: usize, local: bool) {
        let i = my_shard();
        let Some(shard) = self.shards.get(i) else {
            return;
        };
        let row = transport.min(TRANSPORTS.len() - 1);
        let (q, r) = (
            &shard.qtypes[row][qtype.min(QTYPE_SLOTS - 1)],
            &shard.rcodes[row][rcode.min(RCODE_SLOTS - 1)],
        );
        let source = if local { &shard.local } else { &shard.cached };
        if i < HIT_SHARDS {
            bump(q, 1);
            bump(r, 1);
            bump(source, 1);
        } else {
            q.fetch_add(1, Ordering::Relaxed);
            r.fetch_add(1, Ordering::Relaxed);
            source.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one answer to a query whose cookie had result `slot` (`super::COOKIE_RESULTS`).
    #[inline]
    pub(crate) fn count_cookie(&self, slot: usize) {
        let i = my_shard();
        let Some(c) = self.shards.get(i).and_then(|s| s.cookies.get(slot)) else {
            return;
        };
        if i < HIT_SHARDS {
            bump(c, 1);
        } else {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn cookie(&self, slot: usize) -> u64 {
        self.sum(|s| s.cookies.get(slot))
    }

    /// Every answer counted: the sum of the QTYPE slots of every transport.
    pub(crate) fn answers(&self) -> u64 {
        self.shards
            .iter()
            .flat_map(|s| s.qtypes.iter().flatten())
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The answers that came from the local zones.
    pub(crate) fn local(&self) -> u64 {
        self.sum(|s| Some(&s.local))
    }

    /// The answers that came from the cache.
    pub(crate) fn cached(&self) -> u64 {
        self.sum(|s| Some(&s.cached))
    }

    /// Answers over transport row `transport` in QTYPE slot `slot`.
    pub(crate) fn qtype(&self, transport: usize, slot: usize) -> u64 {
        self.sum(|s| s.qtypes.get(transport).and_then(|row| row.get(slot)))
    }

    /// Answers over transport row `transport` in RCODE slot `slot`.
    pub(crate) fn rcode(&self, transport: usize, slot: usize) -> u64 {
        self.sum(|s| s.rcodes.get(transport).and_then(|row| row.get(slot)))
    }

    /// One counter summed over the shards (`None`: a slot out of range, counted as 0).
    fn sum(&self, counter: impl Fn(&HitShard) -> Option<&AtomicU64>) -> u64 {
        self.shards
            .iter()
            .filter_map(counter)
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// What we counted of one upstream server.
#[derive(Debug, Default)]
pub(crate) struct Upstream {
    pub queries: AtomicU64,
    pub timeouts: AtomicU64,
    pub(crate) rtt: Histogram,
}

/// At most this many servers get their own series; the rest share `other` (a resolver walking
/// the Internet meets thousands, and each series costs the scraper).
pub(crate) const UPSTREAM_SERIES: usize = 100;

/// Per upstream server counters, by address.
#[derive(Debug, Default)]
pub struct UpstreamTable {
    servers: Mutex<HashMap<SocketAddr, Arc<Upstream>>>,
    other: Arc<Upstream>,
}

impl UpstreamTable {
    /// The counters of `server` (created on first use, or `other` past the limit).
    pub(crate) fn server(&self, server: SocketAddr) -> Arc<Upstream> {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = servers.get(&server) {
            return Arc::clone(s);
        }
        if servers.len() >= UPSTREAM_SERIES {
            return Arc::clone(&self.other);
        }
        Arc::clone(servers.entry(server).or_default())
    }

    /// Every server's label and counters, `other` last when it was used.
    pub(crate) fn snapshot(&self) -> Vec<(String, Arc<Upstream>)> {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, Arc<Upstream>)> = servers
            .iter()
            .map(|(a, s)| (a.to_string(), Arc::clone(s)))
            .collect();
        drop(servers);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        if self.other.queries.load(Ordering::Relaxed) > 0 {
            out.push(("other".to_string(), Arc::clone(&self.other)));
        }
        out
    }
}

#[cfg(test)]
mod tests;
