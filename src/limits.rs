//! Named, bounded knobs. Every configurable number in tern is a [`Limit`]: a default, the
//! smallest and the largest value we accept, and a reason (usually an RFC) in its doc comment.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// A configurable value with its default and inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<T> {
    pub name: &'static str,
    pub default: T,
    pub min: T,
    pub max: T,
}

impl<T: Copy> Limit<T> {
    /// A knob named as in the config file, with its `default` and the inclusive `bounds`.
    pub(crate) const fn new(name: &'static str, default: T, bounds: RangeInclusive<T>) -> Limit<T> {
        Limit {
            name,
            default,
            min: *bounds.start(),
            max: *bounds.end(),
        }
    }
}

impl<T: PartialOrd + Copy + Display> Limit<T> {
    /// Checks a configured value against the bounds; `None` means "use the default".
    pub(crate) fn check(&self, value: Option<T>) -> Result<T, String> {
        let v = value.unwrap_or(self.default);
        if v < self.min || v > self.max {
            return Err(format!(
                "{} = {} is out of range [{}, {}]",
                self.name, v, self.min, self.max
            ));
        }
        Ok(v)
    }

    /// `value` moved into the bounds: for values set in code, where out of range is a
    /// mistake to absorb rather than a config error to report.
    pub(crate) fn clamp(&self, value: T) -> T {
        if value < self.min {
            self.min
        } else if value > self.max {
            self.max
        } else {
            value
        }
    }
}

/// RFC 8020/8906-era practice (DNS flag day 2020): 1232 bytes avoids IP fragmentation.
pub(crate) const EDNS_UDP_PAYLOAD: Limit<u16> = Limit::new("edns_udp_payload", 1232, 512..=4096);

/// RFC 1035 §4.2.1: without EDNS, a UDP message is at most 512 bytes.
pub(crate) const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// RFC 7766 §6.2.3: servers should close idle TCP connections; NSD and Unbound use seconds.
pub(crate) const TCP_IDLE_TIMEOUT_MS: Limit<u64> =
    Limit::new("tcp_idle_timeout_ms", 10_000, 100..=120_000);

/// RFC 7766 §6.2.2: a cap on concurrent TCP connections keeps a flood from exhausting fds.
pub(crate) const TCP_MAX_CONNECTIONS: Limit<usize> =
    Limit::new("tcp_max_connections", 256, 1..=65_536);

/// Open TCP/TLS connections one client prefix may hold (Unbound's `tcp-connection-limit`
/// per netblock; Knot caps clients too). Past it the prefix's own idle-longest connection is
/// closed, so one network (a NAT, a flood) cannot take every slot of `tcp_max_connections`.
pub(crate) const TCP_MAX_CONNECTIONS_PER_PREFIX: Limit<usize> =
    Limit::new("tcp_max_connections_per_prefix", 64, 1..=65_536);

/// The client prefix `tcp_max_connections_per_prefix` counts by: /24 for IPv4 and /56 for IPv6,
/// one customer network (as BIND's RRL and `[rate_limit]` count).
pub(crate) const TCP_IPV4_PREFIX: Limit<u8> = Limit::new("tcp_ipv4_prefix", 24, 8..=32);

pub(crate) const TCP_IPV6_PREFIX: Limit<u8> = Limit::new("tcp_ipv6_prefix", 56, 16..=128);

/// UDP queries being answered at once (Unbound: num-queries-per-thread 1024 per thread; BIND:
/// recursive-clients 1000). Past it, new datagrams are dropped and the client retries, so a
/// flood of cache misses cannot grow memory without bound.
pub(crate) const UDP_MAX_IN_FLIGHT: Limit<usize> =
    Limit::new("udp_max_in_flight", 2048, 1..=1_000_000);

/// Receive buffer of each UDP listening socket, in bytes (Unbound's so-rcvbuf; its docs
/// suggest 4–8 MiB for busy servers). A burst of queries waits here while the workers are busy
/// instead of being dropped by the kernel (about 5,000 small queries at 4 MiB). Set with
/// SO_RCVBUFFORCE when tern may, else SO_RCVBUF, which the kernel caps at net.core.rmem_max;
/// 0 keeps the system default.
pub(crate) const UDP_RCVBUF: Limit<usize> = Limit::new("udp_rcvbuf", 4 << 20, 0..=256 << 20);

/// UDP sockets per listen address, each with its own receive thread, bound with SO_REUSEPORT
/// so the kernel spreads clients over them: with one per core, cache hits (answered on those
/// threads) use every core, as Unbound's `so-reuseport` with `num-threads` does. 0: one per core this
/// process may run on. Named `workers` until issue 21 (still read).
pub(crate) const UDP_THREADS: Limit<usize> = Limit::new("threads", 0, 0..=256);

/// `SO_BUSY_POLL` on each UDP socket, in microseconds: a read that finds the socket empty polls
/// the network device's receive queue for that long before it sleeps (Linux, a NIC driver with
/// NAPI; loopback has none, so nothing changes there). Off by default, as in the kernel; the
/// kernel's docs suggest 50 µs. The thread spins instead of sleeping, so it costs a core.
pub(crate) const UDP_BUSY_POLL_US: Limit<u32> = Limit::new("busy_poll_us", 0, 0..=10_000);

/// Pipelined queries answered concurrently on one TCP connection (RFC 7766 §6.2.1.1).
pub(crate) const TCP_PIPELINE_DEPTH: Limit<usize> = Limit::new("tcp_pipeline_depth", 32, 1..=1024);

/// `[rate_limit] queries_per_second`: recursion queries a client prefix may send per second
/// (Unbound's `ip-ratelimit`, off by default there too). No default: unset is off.
pub(crate) const RATE_LIMIT_QPS: Limit<u32> =
    Limit::new("rate_limit.queries_per_second", 0, 1..=1_000_000);

/// `[rate_limit] burst`: queries a quiet prefix may send at once; default one second's worth
/// (the configured rate), as a token bucket with no burst would refuse a page load's lookups.
pub(crate) const RATE_LIMIT_BURST: Limit<u32> = Limit::new("rate_limit.burst", 0, 1..=10_000_000);

/// `[rrl] responses_per_second`: identical authoritative responses per client prefix per
/// second (BIND's `responses-per-second`; its docs suggest 5–20 for a busy zone). Unset: off.
pub(crate) const RRL_RESPONSES_PER_SECOND: Limit<u32> =
    Limit::new("rrl.responses_per_second", 0, 1..=1_000_000);

/// `[rrl] window`: seconds a flooding account stays limited after it stops (BIND: 15, 1–3600).
pub(crate) const RRL_WINDOW: Limit<u32> = Limit::new("rrl.window", 15, 1..=3600);

/// `[rrl] slip`: every Nth limited response goes out truncated (TC=1) so real clients retry
/// over TCP; 0 drops all, 1 truncates all (BIND: default 2, at most 10).
pub(crate) const RRL_SLIP: Limit<u32> = Limit::new("rrl.slip", 2, 0..=10);

/// Client prefix lengths a limit counts by (BIND's RRL: /24 and /56, one customer network).
pub(crate) const RATE_LIMIT_IPV4_PREFIX: Limit<u8> = Limit::new("ipv4_prefix", 24, 8..=32);

pub(crate) const RATE_LIMIT_IPV6_PREFIX: Limit<u8> = Limit::new("ipv6_prefix", 56, 16..=128);

/// Buckets a limit keeps, fixed at start so a spoofed flood cannot grow it (about 40 bytes
/// each: 2.5 MiB by default; NSD's `rrl-size` is a million). More distinct prefixes than
/// this share slots, which only makes the limit more lenient for them.
pub(crate) const RATE_LIMIT_TABLE_SIZE: Limit<usize> =
    Limit::new("table_size", 65_536, 64..=16_777_216);

/// CNAMEs followed inside the local zones for one query (NSD and BIND stop near 8–16).
pub(crate) const LOCAL_CNAME_CHAIN: usize = 12;

/// Cache capacity in RRsets (entries), across all shards. A second bound beside
/// [`CACHE_MAX_BYTES`]: the cache is full when either is reached.
pub(crate) const CACHE_MAX_ENTRIES: Limit<usize> =
    Limit::new("cache.max_entries", 100_000, 16..=50_000_000);

/// Memory the cache may take, in bytes, across all shards: the estimated footprint of every
/// entry (its node, records and names as allocated, allocator rounding included) plus the hash
/// tables, which are allocated whole when the cache is made. Unbound bounds its caches the same
/// way (msg-cache-size and rrset-cache-size, 4 MiB each by default, sized for small machines).
/// 32 MiB holds about 65,000 one-record RRsets (some 490 bytes each, measured against RSS by
/// `tests/bench/cache_memory.rs`), a small share of any machine that runs a resolver. The floor
/// of 1 MiB leaves each of the 16 shards room for an RRset of some 200 records: an RRset larger
/// than its shard's share is not cached at all, and at 64 KiB even the root's 13 NS records
/// (4 KiB) would not fit, so every query would prime again. The ceiling of 64 GiB (the whole
/// address space on 32-bit targets) turns a unit mistake into a config error instead of an
/// out-of-memory kill.
pub const CACHE_MAX_BYTES: Limit<usize> = Limit::new(
    "cache.max_bytes",
    32 << 20,
    (1 << 20)..=match 1usize.checked_shl(36) {
        Some(max) => max,
        None => usize::MAX,
    },
);

/// TTL of a service's records (`[[service]] ttl`): short, so clients follow health changes
/// (Consul's DNS answers use 0 by default; a few seconds keeps caches useful). RFC 2181 §8: a
/// TTL is at most 2^31 − 1.
pub(crate) const SERVICE_TTL: Limit<u32> = Limit::new("service.ttl", 5, 0..=2_147_483_647);

/// Floor on cached TTLs; 0 keeps TTLs as the authority gave them.
pub(crate) const CACHE_MIN_TTL: Limit<u32> = Limit::new("cache.min_ttl", 0, 0..=3600);

/// Ceiling on cached TTLs (Unbound's cache-max-ttl default is one day).
pub(crate) const CACHE_MAX_TTL: Limit<u32> = Limit::new("cache.max_ttl", 86_400, 1..=604_800);

/// RFC 2308 §5: negative answers are cached for at most a few hours; Unbound uses 1 h.
pub(crate) const CACHE_NEGATIVE_MAX_TTL: Limit<u32> =
    Limit::new("cache.negative_max_ttl", 3600, 1..=86_400);

/// RFC 9520 §3.2: resolution failures are cached for at least 1 s and at most 5 min.
pub(crate) const FAILURE_TTL: Limit<u32> = Limit::new("cache.failure_ttl", 5, 1..=300);

/// RFC 8767 §5: keep stale data 1–3 days; 0 disables serve-stale.
pub(crate) const SERVE_STALE_SECS: Limit<u32> =
    Limit::new("cache.serve_stale_secs", 86_400, 0..=259_200);

/// `[cache] persist_interval`: seconds between writes of the persistent cache (besides the one
/// at shutdown), so a crash loses at most this much. Each write copies the whole cache out,
/// encodes and syncs it: every 5 minutes that is noise; below 10 s a big cache would be
/// writing much of the time.
pub(crate) const CACHE_PERSIST_INTERVAL: Limit<u64> =
    Limit::new("cache.persist_interval", 300, 10..=86_400);

/// Prefetch (Unbound's `prefetch`, Knot's predict): a hit in the last this many percent of an
/// entry's TTL refreshes it in the background. Unbound's 10 %; up to half, for short-TTL
/// names; `[cache] prefetch = false` turns it off.
pub(crate) const PREFETCH_WINDOW_PERCENT: Limit<u32> =
    Limit::new("cache.prefetch_window_percent", 10, 1..=50);

/// Walks in flight (the resolver's outstanding misses, prefetches among them) from which a
/// prefetch is dropped rather than started: a refresh nobody waits for must not add to a
/// resolver already busy with clients' misses. A few times a steady miss load's walks (1,000
/// misses/s at 30 ms is 30 in flight); a flood far exceeds it.
pub(crate) const PREFETCH_BUSY_WALKS: Limit<usize> =
    Limit::new("cache.prefetch_busy_walks", 256, 1..=1_000_000);

/// Questions whose recent failure is remembered (RFC 9520 §3.3 asks for a bounded cache);
/// failures are few and short-lived, so a fixed bound suffices.
pub(crate) const FAILURE_CACHE_ENTRIES: usize = 10_000;

/// RFC 8767 §5: the client response timer; 1.8 s is the RFC's suggestion.
pub(crate) const STALE_ANSWER_TIMEOUT_MS: Limit<u64> =
    Limit::new("cache.stale_answer_timeout_ms", 1800, 0..=30_000);

/// RFC 8767 §4: a stale answer is served with TTL 30.
pub(crate) const STALE_ANSWER_TTL: u32 = 30;

/// PowerDNS Recursor max-cname-chain-length is 10 (Unbound: 11 in its iterator).
pub(crate) const MAX_CNAME_CHAIN: Limit<usize> = Limit::new("resolver.max_cname_chain", 10, 1..=32);

/// Referrals followed for one name before giving up (PowerDNS max-recursion-depth lineage).
pub(crate) const MAX_DELEGATION_DEPTH: Limit<usize> =
    Limit::new("resolver.max_delegation_depth", 16, 2..=64);

/// NXNS defence (PowerDNS max-ns-address-qperq): glueless NS address lookups per client query.
pub(crate) const MAX_GLUELESS_LOOKUPS: Limit<usize> =
    Limit::new("resolver.max_glueless_lookups", 10, 1..=100);

/// PowerDNS max-qperq: outgoing queries for one client query.
pub(crate) const MAX_UPSTREAM_QUERIES: Limit<usize> =
    Limit::new("resolver.max_upstream_queries", 50, 1..=1000);

/// Unbound's `outbound-msg-retry` (default 5): the tries a server gets per question that fail
/// outright (a transport error: no route, a send refused locally, a connection closed
/// unanswered) before it is left. Such a try costs no time, so only this count bounds them; at
/// least one, or a server would never be asked. Lost tries are bounded apart (seven at most,
/// fewer for a server out of rotation), as in Unbound's documentation of the option.
pub(crate) const OUTBOUND_MSG_RETRY: Limit<u32> =
    Limit::new("recursion.outbound_msg_retry", 5, 1..=10);

/// Total time spent on one client query (PowerDNS max-total-msec is 7000).
pub(crate) const RESOLVE_TIMEOUT_MS: Limit<u64> =
    Limit::new("resolver.timeout_ms", 7000, 100..=60_000);

/// The second client bound (the first is RFC 8767's stale-answer timer): a client still
/// without an answer gets SERVFAIL by then while the walk goes on for the cache. Below glibc's
/// and most stubs' 5 s per try, so a client never waits into its own timeout and retries.
pub(crate) const CLIENT_TIMEOUT_MS: Limit<u64> =
    Limit::new("limits.client_timeout_ms", 4000, 100..=60_000);

/// Client questions being resolved at once, every thread's together (Unbound's
/// num-queries-per-thread, 1024 per thread by default; BIND's recursive-clients, 1000). 0, the
/// default: no such limit, only the listeners' own (`udp_max_in_flight`, the TCP caps).
pub(crate) const MAX_CLIENT_QUERIES: Limit<usize> =
    Limit::new("limits.max_client_queries", 0, 0..=1_000_000);

/// How long a question past half of `max_client_queries` runs before a new one may take its
/// slot (Unbound's jostle-timeout: about one round trip to an authority).
pub(crate) const JOSTLE_TIMEOUT_MS: Limit<u64> =
    Limit::new("limits.jostle_timeout_ms", 200, 0..=60_000);

/// RFC 9156 §2.3: MAX_MINIMISE_COUNT, the most minimised queries sent for one name; past it
/// the full name goes out (Unbound uses 10).
pub(crate) const MAX_MINIMISE_COUNT: usize = 10;

/// RFC 9156 §2.3: MINIMISE_ONE_LAB, the first labels shown one at a time; the rest are spread
/// over the remaining minimised queries (Unbound uses 4).
pub(crate) const MINIMISE_ONE_LAB: usize = 4;

/// RFC 9156 §2.3 (relaxed): timeouts a minimised query may meet before the name is asked in
/// full instead (Unbound's MAX_MINIMISE_TIMEOUT_COUNT): some servers and middleboxes drop the
/// minimised query's type at an empty non-terminal yet answer the full question.
pub(crate) const MAX_MINIMISE_TIMEOUT_COUNT: u32 = 3;
