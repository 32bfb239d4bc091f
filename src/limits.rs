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

/// Pipelined queries answered concurrently on one TCP connection (RFC 7766 §6.2.1.1).
pub const TCP_PIPELINE_DEPTH: Limit<usize> = Limit {
    name: "tcp_pipeline_depth",
    default: 32,
    min: 1,
    max: 1024,
};

/// CNAMEs followed inside the local zones for one query (NSD and BIND stop near 8–16).
pub const LOCAL_CNAME_CHAIN: usize = 12;
