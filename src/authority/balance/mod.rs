//! Balanced answers: the order of the records of one RRset in one answer.
//!
//! This module owns the ordering policies and nothing else. Every function is pure: it reorders
//! a slice that the caller owns, from the answer's turn, the client's address, what the health
//! checks know of each target, and a random source. Zone RRsets are shared by every query in
//! flight, so the caller passes its own copy, never the zone's.
//!
//! Order is advice. Servers have rotated address records since the BIND patches RFC 1794 §2
//! recounts, but a stub may sort addresses again (RFC 6724 §6), and an SRV client makes its own
//! RFC 2782 selection. What the server decides is the first choice of the clients that take the
//! first record.

use std::cmp::Reverse;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use rand::{Rng, RngExt};

/// How the records of an answer are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Each answer starts one record further on (the round robin of RFC 1794 §2).
    RoundRobin,
    /// A random order weighted by target weight; SRV RRsets by the RFC 2782 selection.
    Weighted,
    /// One client always gets the same order (rendezvous hashing), so it stays with one target,
    /// and few clients move when a target comes or goes.
    ClientHash,
    /// The fastest target first, by the health checks' smoothed RTT (RFC 6298).
    LowestLatency,
}

impl Policy {
    /// Every policy.
    pub(crate) const ALL: [Policy; 4] = [
        Policy::RoundRobin,
        Policy::Weighted,
        Policy::ClientHash,
        Policy::LowestLatency,
    ];

    /// The name that configuration files use (the same as the serde name).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::Weighted => "weighted",
            Policy::ClientHash => "client-hash",
            Policy::LowestLatency => "lowest-latency",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is none of [`Policy::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown balancing policy {0:?}: expected round-robin, weighted, client-hash or lowest-latency"
)]
pub struct UnknownPolicy(pub(crate) String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPolicy(s.to_owned()))
    }
}

/// What the balancer knows of the target of one record (an A/AAAA address, or an SRV target):
/// its configured weight (RFC 2782 weight; default 1) and the health checks' smoothed RTT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Member {
    pub weight: u32,
    pub(crate) rtt: Option<Duration>,
}

impl Default for Member {
    /// A target nothing is known of: an equal share, and no RTT.
    fn default() -> Self {
        Member {
            weight: 1,
            rtt: None,
        }
    }
}

/// Orders `records` (one RRset) for one answer.
/// `turn`: how many answers this RRset has given before (round robin).
/// `client`: the asking address (client hash).
/// `member`: weight and RTT of each record's target (callers return weight 1, rtt None when
/// unknown).
/// `rng`: randomness for weighted selection (tests pass a seeded rng).
pub(crate) fn order<R: Rng + ?Sized>(
    policy: Policy,
    records: &mut [Record],
    turn: u64,
    client: IpAddr,
    member: &dyn Fn(&Record) -> Member,
    rng: &mut R,
) {
    if records.len() < 2 {
        return;
    }
    match policy {
        Policy::RoundRobin => round_robin(records, turn),
        Policy::Weighted if records.iter().all(|r| srv_of(r).is_some()) => {
            srv_weighted(records, rng)
        }
        Policy::Weighted => weighted(records, member, rng),
        Policy::ClientHash => client_hash(records, client, member),
        Policy::LowestLatency => lowest_latency(records, member),
    }
}

/// Answer `turn` starts with record `turn mod n`, the others following cyclically (RFC 1794 §2).
fn round_robin(records: &mut [Record], turn: u64) {
    let len = records.len() as u64;
    // The remainder is below `len`, itself a `usize`.
    records.rotate_left((turn % len) as usize);
}

/// Weighted random order without replacement: each place goes to one of the records not yet
/// placed with probability proportional to its target's weight. Weight-0 targets come last, in
/// a uniformly random order among themselves: nobody is preferred when no weight is left.
fn weighted<R: Rng + ?Sized>(
    records: &mut [Record],
    member: &dyn Fn(&Record) -> Member,
    rng: &mut R,
) {
    let mut weights: Vec<u64> = records
        .iter()
        .map(|r| u64::from(member(r).weight))
        .collect();
    let mut total: u64 = weights.iter().sum();
    for i in 0..records.len() - 1 {
        let pick = if total == 0 {
            rng.random_range(0..records.len() - i)
        } else {
            let r = rng.random_range(0..total);
            let mut running = 0;
            // The running sum ends at `total` > r, so some position is found; a weight-0
            // record never raises the sum past r, so it is never picked here.
            weights[i..]
                .iter()
                .position(|&w| {
                    running += w;
                    running > r
                })
                .unwrap_or(0)
        };
        total -= weights[i + pick];
        // Move the pick to the front and keep the others' relative order.
        records[i..=i + pick].rotate_right(1);
        weights[i..=i + pick].rotate_right(1);
    }
}

fn srv_of(record: &Record) -> Option<&SRV> {
    match &record.data {
        RData::SRV(srv) => Some(srv),
        _ => None,
    }
}

fn srv_weight(record: &Record) -> u64 {
    srv_of(record).map_or(0, |s| u64::from(s.weight))
}

fn srv_priority(record: &Record) -> u16 {
    srv_of(record).map_or(u16::MAX, |s| s.priority)
}

/// RFC 2782, "Usage rules": targets in ascending priority; within one priority, the order of a
/// repeated weighted selection by the SRV weight field, each record leaving the list once
/// placed. The SRV records' own weights decide, not the member weights, so the answer is the
/// order the zone's publisher asked for.
fn srv_weighted<R: Rng + ?Sized>(records: &mut [Record], rng: &mut R) {
    // A stable sort: within a priority, the records keep the order that `rfc2782_pick` calls
    // "the list".
    records.sort_by_key(srv_priority);
    for group in records.chunk_by_mut(|a, b| srv_priority(a) == srv_priority(b)) {
        for i in 0..group.len().saturating_sub(1) {
            let rest = &mut group[i..];
            let pick = rfc2782_pick(rest, rng);
            rest[..=pick].rotate_right(1);
        }
    }
}

/// One step of the RFC 2782 selection: the zero-weight records head the list, a number is drawn
/// uniformly from 0 to the sum of the weights inclusive, and the first record whose running sum
/// is at least that number is chosen. Zero-weight records thus have a small chance (they are
/// chosen on a draw of 0), and when there are none, a draw of 0 picks the first listed record:
/// that record gets one chance in `sum + 1` on top of its weight, as the RFC's rule gives it.
fn rfc2782_pick<R: Rng + ?Sized>(rest: &[Record], rng: &mut R) -> usize {
    let sum: u64 = rest.iter().map(srv_weight).sum();
    let r = rng.random_range(0..=sum);
    let zeros = rest.iter().filter(|x| srv_weight(x) == 0).count();
    if r == 0 && zeros > 0 {
        // The RFC lets the zero-weight records head the list "in any order"; drawing that order
        // at random keeps any one of them from always being the one picked.
        let k = rng.random_range(0..zeros);
        return rest
            .iter()
            .enumerate()
            .filter(|(_, x)| srv_weight(x) == 0)
            .nth(k)
            .map_or(0, |(j, _)| j);
    }
    let mut running = 0;
    for (j, x) in rest.iter().enumerate() {
        let w = srv_weight(x);
        running += w;
        if w > 0 && running >= r {
            return j;
        }
    }
    // Not reached: with a draw of 0 and no zero weights the first record qualifies, and
    // otherwise the running sum ends at `sum` ≥ r.
    0
}

/// Weighted rendezvous (highest random weight) hashing: every record gets a score from a hash
/// of (client address, record RDATA) and the highest score comes first. One client always gets
/// one order, whatever order the zone holds the records in; a record added to N takes the first
/// place of about 1/(N+1) of the clients and moves nobody else; a record removed moves only the
/// clients it was first for (Thaler and Ravishankar, "Using name-based mappings to increase hit
/// rates", IEEE/ACM ToN 6(1), 1998). The score `-w / ln(u)`, with `u` the hash mapped into
/// (0, 1), puts a record first with probability proportional to its weight `w`; with equal
/// weights it orders by the hash alone. Weight-0 records score 0 and come last.
fn client_hash(records: &mut [Record], client: IpAddr, member: &dyn Fn(&Record) -> Member) {
    let mut base = Fnv1a::new();
    // An IPv4 client reaching a dual-stack socket appears as ::ffff:a.b.c.d; it is the same
    // client as a.b.c.d and gets the same order.
    match client.to_canonical() {
        IpAddr::V4(a) => {
            base.write(&[4]);
            base.write(&a.octets());
        }
        IpAddr::V6(a) => {
            base.write(&[6]);
            base.write(&a.octets());
        }
    }
    records.sort_by_cached_key(|r| {
        let mut h = base;
        h.write(&canonical_rdata(r));
        let hash = h.finish();
        let score = rendezvous_score(member(r).weight, hash);
        // Scores are finite and not negative, so their bits order as the numbers do; equal
        // scores (weight 0) fall back to the hash, never to the zone's order.
        (Reverse(score.to_bits()), Reverse(hash))
    });
}

/// `w / -ln(u)` with `u` in (0, 1) taken from the top 53 bits of `hash`: finite and ≥ 0. With
/// unequal weights the order rests on the platform's `ln`, which could round a near tie the
/// other way on another libm; with equal weights it is the hash order, the same everywhere.
fn rendezvous_score(weight: u32, hash: u64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let u = ((hash >> 11) as f64 + 0.5) * SCALE;
    f64::from(weight) / -u.ln()
}

/// The RDATA in canonical form (RFC 4034 §6.2: names uncompressed and in lower case), so a
/// target's key does not depend on how a zone file spelled it.
fn canonical_rdata(record: &Record) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_canonical_form(true);
    match record.data.emit(&mut encoder) {
        Ok(()) => bytes,
        // Zone data encodes; should some RDATA not, its text still tells records apart.
        Err(_) => record.data.to_string().to_ascii_lowercase().into_bytes(),
    }
}

/// 64-bit FNV-1a (draft-eastlake-fnv) with MurmurHash3's `fmix64` finaliser, which spreads
/// FNV's last bytes over every bit. Defined here, byte by byte, so a client's order is the same
/// in every process, build, platform and release of tern: std's hashers promise none of that.
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv1a(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Ascending smoothed RTT; targets without one (not yet measured) after those with one. The
/// sort is stable, so equal RTTs keep the order they came in.
fn lowest_latency(records: &mut [Record], member: &dyn Fn(&Record) -> Member) {
    records.sort_by_cached_key(|r| {
        let rtt = member(r).rtt;
        (rtt.is_none(), rtt)
    });
}

#[cfg(test)]
mod tests;
