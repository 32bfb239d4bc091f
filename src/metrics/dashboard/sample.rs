//! One per-second sample of the cumulative counters the Traffic view draws; rates and
//! windowed percentiles are differences of two samples.

use std::time::SystemTime;

use crate::metrics::Metrics;
use crate::metrics::counts::{LATENCY_BOUNDS_US, RCODE_SLOTS, TRANSPORTS};

/// Latency buckets: one per bound and +Inf.
pub(super) const BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    /// Wall-clock time, ms since the epoch (the chart's axis).
    pub t_ms: u64,
    pub queries: u64,
    /// Responses by RCODE slot, every transport's.
    pub rcodes: [u64; RCODE_SLOTS],
    /// Answer latency by bucket (not cumulative).
    pub latency: [u64; BUCKETS],
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl Sample {
    pub(super) fn take(m: &Metrics) -> Sample {
        let t_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut rcodes = [0; RCODE_SLOTS];
        for (slot, n) in rcodes.iter_mut().enumerate() {
            *n = (0..TRANSPORTS.len())
                .map(|t| m.responses_in_slot(t, slot))
                .sum();
        }
        let mut latency = [0; BUCKETS];
        let (buckets, _) = m.answer_latency.snapshot();
        for (out, (_, n)) in latency.iter_mut().zip(buckets) {
            *out = n;
        }
        Sample {
            t_ms,
            queries: m.queries(),
            rcodes,
            latency,
            cache_hits: m.cache_hits(),
            cache_misses: Metrics::get(&m.cache_misses),
        }
    }
}

/// The `p`-quantile (0..1) of a bucketed histogram, as the upper bound of its bucket in ms;
/// `None` with no observations or in the +Inf bucket.
pub(super) fn quantile_ms(buckets: &[u64; BUCKETS], p: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (p * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return LATENCY_BOUNDS_US.get(i).map(|&us| us as f64 / 1000.0);
        }
    }
    None
}
