//! Named, bounded knobs. Every configurable number in tern is a [`Limit`]: a default, the
//! smallest and the largest value we accept, and a reason (usually an RFC) in its doc comment.

use std::fmt::Display;

/// A configurable value with its default and inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<T> {
    pub name: &'static str,
    pub default: T,
    pub min: T,
    pub max: T,
}

impl<T: PartialOrd + Copy + Display> Limit<T> {
    /// Checks a configured value against the bounds; `None` means "use the default".
    pub fn check(&self, value: Option<T>) -> Result<T, String> {
        let v = value.unwrap_or(self.default);
        if v < self.min || v > self.max {
            return Err(format!(
                "{} = {} is out of range [{}, {}]",
                self.name, v, self.min, self.max
            ));
        }
        Ok(v)
    }
}

/// RFC 8020/8906-era practice (DNS flag day 2020): 1232 bytes avoids IP fragmentation.
pub const EDNS_UDP_PAYLOAD: Limit<u16> = Limit {
    name: "edns_udp_payload",
    default: 1232,
    min: 512,
    max: 4096,
};

/// RFC 1035 §4.2.1: without EDNS, a UDP message is at most 512 bytes.
pub const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// RFC 7766 §6.2.3: servers should close idle TCP connections; NSD and Unbound use seconds.
pub const TCP_IDLE_TIMEOUT_MS: Limit<u64> = Limit {
    name: "tcp_idle_timeout_ms",
    default: 10_000,
    min: 100,
    max: 120_000,
};

/// RFC 7766 §6.2.2: a cap on concurrent TCP connections keeps a flood from exhausting fds.
pub const TCP_MAX_CONNECTIONS: Limit<usize> = Limit {
    name: "tcp_max_connections",
    default: 256,
    min: 1,
    max: 65_536,
};

/// UDP queries being answered at once (Unbound: num-queries-per-thread 1024 per thread; BIND:
/// recursive-clients 1000). Past it, new datagrams are dropped and the client retries, so a
/// flood of cache misses cannot grow memory without bound.
pub const UDP_MAX_IN_FLIGHT: Limit<usize> = Limit {
    name: "udp_max_in_flight",
    default: 2048,
    min: 1,
    max: 1_000_000,
};

/// Receive buffer of each UDP listening socket, in bytes (Unbound's so-rcvbuf; its docs
/// suggest 4–8 MiB for busy servers). A burst of queries waits here while the workers are busy
/// instead of being dropped by the kernel (about 5,000 small queries at 4 MiB). Set with
/// SO_RCVBUFFORCE when tern may, else SO_RCVBUF, which the kernel caps at net.core.rmem_max;
/// 0 keeps the system default.
pub const UDP_RCVBUF: Limit<usize> = Limit {
    name: "udp_rcvbuf",
    default: 4 << 20,
    min: 0,
    max: 256 << 20,
};

/// UDP sockets per listen address, each with its own receive thread, bound with SO_REUSEPORT
/// so the kernel spreads clients over them: with one per core, cache hits (answered on those
/// threads) use every core, as Unbound's `so-reuseport` with `num-threads` does. 0: one per core this
/// process may run on.
pub const UDP_WORKERS: Limit<usize> = Limit {
    name: "workers",
    default: 0,
    min: 0,
    max: 256,
};

/// Pipelined queries answered concurrently on one TCP connection (RFC 7766 §6.2.1.1).
pub const TCP_PIPELINE_DEPTH: Limit<usize> = Limit {
    name: "tcp_pipeline_depth",
    default: 32,
    min: 1,
    max: 1024,
};

/// `[rate_limit] queries_per_second`: recursion queries a client prefix may send per second
/// (Unbound's `ip-ratelimit`, off by default there too). No default: unset is off.
pub const RATE_LIMIT_QPS: Limit<u32> = Limit {
    name: "rate_limit.queries_per_second",
    default: 0,
    min: 1,
    max: 1_000_000,
};

/// `[rate_limit] burst`: queries a quiet prefix may send at once; default one second's worth
/// (the configured rate), as a token bucket with no burst would refuse a page load's lookups.
pub const RATE_LIMIT_BURST: Limit<u32> = Limit {
    name: "rate_limit.burst",
    default: 0,
    min: 1,
    max: 10_000_000,
};

/// `[rrl] responses_per_second`: identical authoritative responses per client prefix per
/// second (BIND's `responses-per-second`; its docs suggest 5–20 for a busy zone). Unset: off.
pub const RRL_RESPONSES_PER_SECOND: Limit<u32> = Limit {
    name: "rrl.responses_per_second",
    default: 0,
    min: 1,
    max: 1_000_000,
};

/// `[rrl] window`: seconds a flooding account stays limited after it stops (BIND: 15, 1–3600).
pub const RRL_WINDOW: Limit<u32> = Limit {
    name: "rrl.window",
    default: 15,
    min: 1,
    max: 3600,
};

/// `[rrl] slip`: every Nth limited response goes out truncated (TC=1) so real clients retry
/// over TCP; 0 drops all, 1 truncates all (BIND: default 2, at most 10).
pub const RRL_SLIP: Limit<u32> = Limit {
    name: "rrl.slip",
    default: 2,
    min: 0,
    max: 10,
};

/// Client prefix lengths a limit counts by (BIND's RRL: /24 and /56, one customer network).
pub const RATE_LIMIT_IPV4_PREFIX: Limit<u8> = Limit {
    name: "ipv4_prefix",
    default: 24,
    min: 8,
    max: 32,
};

pub const RATE_LIMIT_IPV6_PREFIX: Limit<u8> = Limit {
    name: "ipv6_prefix",
    default: 56,
    min: 16,
    max: 128,
};

/// Buckets a limit keeps, fixed at start so a spoofed flood cannot grow it (about 40 bytes
/// each: 2.5 MiB by default; NSD's `rrl-size` is a million). More distinct prefixes than
/// this share slots, which only makes the limit more lenient for them.
pub const RATE_LIMIT_TABLE_SIZE: Limit<usize> = Limit {
    name: "table_size",
    default: 65_536,
    min: 64,
    max: 16_777_216,
};

/// CNAMEs followed inside the local zones for one query (NSD and BIND stop near 8–16).
pub const LOCAL_CNAME_CHAIN: usize = 12;

/// Cache capacity in RRsets (entries), across all shards. A second bound beside
/// [`CACHE_MAX_BYTES`]: the cache is full when either is reached.
pub const CACHE_MAX_ENTRIES: Limit<usize> = Limit {
    name: "cache.max_entries",
    default: 100_000,
    min: 16,
    max: 50_000_000,
};

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
pub const CACHE_MAX_BYTES: Limit<usize> = Limit {
    name: "cache.max_bytes",
    default: 32 << 20,
    min: 1 << 20,
    max: match 1usize.checked_shl(36) {
        Some(max) => max,
        None => usize::MAX,
    },
};

/// Floor on cached TTLs; 0 keeps TTLs as the authority gave them.
pub const CACHE_MIN_TTL: Limit<u32> = Limit {
    name: "cache.min_ttl",
    default: 0,
    min: 0,
    max: 3600,
};

/// Ceiling on cached TTLs (Unbound's cache-max-ttl default is one day).
pub const CACHE_MAX_TTL: Limit<u32> = Limit {
    name: "cache.max_ttl",
    default: 86_400,
    min: 1,
    max: 604_800,
};

/// RFC 2308 §5: negative answers are cached for at most a few hours; Unbound uses 1 h.
pub const CACHE_NEGATIVE_MAX_TTL: Limit<u32> = Limit {
    name: "cache.negative_max_ttl",
    default: 3600,
    min: 1,
    max: 86_400,
};

/// RFC 9520 §3.2: resolution failures are cached for at least 1 s and at most 5 min.
pub const FAILURE_TTL: Limit<u32> = Limit {
    name: "cache.failure_ttl",
    default: 5,
    min: 1,
    max: 300,
};

/// RFC 8767 §5: keep stale data 1–3 days; 0 disables serve-stale.
pub const SERVE_STALE_SECS: Limit<u32> = Limit {
    name: "cache.serve_stale_secs",
    default: 86_400,
    min: 0,
    max: 259_200,
};

/// Questions whose recent failure is remembered (RFC 9520 §3.3 asks for a bounded cache);
/// failures are few and short-lived, so a fixed bound suffices.
pub const FAILURE_CACHE_ENTRIES: usize = 10_000;

/// RFC 8767 §5: the client response timer; 1.8 s is the RFC's suggestion.
pub const STALE_ANSWER_TIMEOUT_MS: Limit<u64> = Limit {
    name: "cache.stale_answer_timeout_ms",
    default: 1800,
    min: 0,
    max: 30_000,
};

/// RFC 8767 §4: a stale answer is served with TTL 30.
pub const STALE_ANSWER_TTL: u32 = 30;

/// PowerDNS Recursor max-cname-chain-length is 10 (Unbound: 11 in its iterator).
pub const MAX_CNAME_CHAIN: Limit<usize> = Limit {
    name: "resolver.max_cname_chain",
    default: 10,
    min: 1,
    max: 32,
};

/// Referrals followed for one name before giving up (PowerDNS max-recursion-depth lineage).
pub const MAX_DELEGATION_DEPTH: Limit<usize> = Limit {
    name: "resolver.max_delegation_depth",
    default: 16,
    min: 2,
    max: 64,
};

/// NXNS defence (PowerDNS max-ns-address-qperq): glueless NS address lookups per client query.
pub const MAX_GLUELESS_LOOKUPS: Limit<usize> = Limit {
    name: "resolver.max_glueless_lookups",
    default: 10,
    min: 1,
    max: 100,
};

/// PowerDNS max-qperq: outgoing queries for one client query.
pub const MAX_UPSTREAM_QUERIES: Limit<usize> = Limit {
    name: "resolver.max_upstream_queries",
    default: 50,
    min: 1,
    max: 1000,
};

/// Total time spent on one client query (PowerDNS max-total-msec is 7000).
pub const RESOLVE_TIMEOUT_MS: Limit<u64> = Limit {
    name: "resolver.timeout_ms",
    default: 7000,
    min: 100,
    max: 60_000,
};

/// RFC 9156 §2.3: MAX_MINIMISE_COUNT, the most minimised queries sent for one name; past it
/// the full name goes out (Unbound uses 10).
pub const MAX_MINIMISE_COUNT: usize = 10;

/// RFC 9156 §2.3: MINIMISE_ONE_LAB, the first labels shown one at a time; the rest are spread
/// over the remaining minimised queries (Unbound uses 4).
pub const MINIMISE_ONE_LAB: usize = 4;
