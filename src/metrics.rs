//! Counters kept by the library: plain atomics, cheap enough for the hot path. `tern serve`
//! prints them on shutdown; a metrics endpoint can read the same values later.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters. Shared by reference (`Arc<Metrics>`) between handler and resolver.
#[derive(Debug, Default)]
pub struct Metrics {
    pub queries: AtomicU64,
    pub authoritative_answers: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub upstream_queries: AtomicU64,
    pub upstream_timeouts: AtomicU64,
    pub servfails: AtomicU64,
    pub refused: AtomicU64,
    pub formerr: AtomicU64,
    pub dropped: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn rows(&self) -> [(&'static str, u64); 10] {
        [
            ("queries", Self::get(&self.queries)),
            (
                "authoritative_answers",
                Self::get(&self.authoritative_answers),
            ),
            ("cache_hits", Self::get(&self.cache_hits)),
            ("cache_misses", Self::get(&self.cache_misses)),
            ("upstream_queries", Self::get(&self.upstream_queries)),
            ("upstream_timeouts", Self::get(&self.upstream_timeouts)),
            ("servfails", Self::get(&self.servfails)),
            ("refused", Self::get(&self.refused)),
            ("formerr", Self::get(&self.formerr)),
            ("dropped", Self::get(&self.dropped)),
        ]
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.rows() {
            writeln!(f, "{name:<24}{value}")?;
        }
        Ok(())
    }
}
