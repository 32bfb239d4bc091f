//! Counters kept by the library: plain atomics, cheap enough for the hot path. `tern serve`
//! prints them on shutdown, and serves them to Prometheus while it runs (`[metrics] listen`,
//! `prometheus` encodes them, `http` answers the scrapes), with a live page beside them
//! (`dashboard`).

pub(crate) mod counts;
pub(crate) mod dashboard;
pub(crate) mod http;
pub(crate) mod prometheus;

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

pub(crate) use counts::{Histogram, HitPathCounts, Reasons, Table, UpstreamTable};

/// Process-wide counters. Shared by reference (`Arc<Metrics>`) between handler and resolver.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Queries of the full path (and of the hit path that a rate limit stopped). The hit
    /// path's answers are counted in `hit_path` alone: read the total with `queries()`.
    pub queries: AtomicU64,
    /// Authoritative answers of the full path; with the hit path's: `authoritative_answers()`.
    pub authoritative_answers: AtomicU64,
    /// Cache hits of the full path; with the hit path's: `cache_hits()`.
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Refreshes started by hits in an entry's prefetch window, and those dropped because
    /// the resolver was busy (neither is a hit or a miss).
    pub prefetches: AtomicU64,
    pub prefetches_skipped: AtomicU64,
    pub upstream_queries: AtomicU64,
    pub upstream_timeouts: AtomicU64,
    pub servfails: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub formerr: AtomicU64,
    pub dropped: AtomicU64,
    /// Of `dropped`: client queries past `[limits] max_client_queries` (none could be
    /// jostled), and queries being resolved that a newer one pushed out.
    pub over_limit_queries: AtomicU64,
    pub jostled_queries: AtomicU64,
    /// Times a service had no healthy instance and answered with all of them.
    pub services_failed_open: AtomicU64,
    /// RFC 2136 UPDATEs that changed their zone.
    pub updates_applied: AtomicU64,
    /// UPDATEs answered NOERROR that changed nothing: their records were already so, or
    /// RFC 2136 §3.4.2 ignores them (a CNAME beside other data, an SOA with no higher serial).
    pub updates_unchanged: AtomicU64,
    /// UPDATEs answered with an error: bad TSIG, policy, prerequisites, invalid result.
    pub updates_refused: AtomicU64,
    /// Zone transfers sent (AXFR, IXFR, and IXFR answered in full).
    pub transfers_out: AtomicU64,
    /// Transfer requests refused (ACL, unknown or unavailable zone, bad TSIG).
    pub transfers_refused: AtomicU64,
    /// Transfers applied by a secondary zone.
    pub transfers_in: AtomicU64,
    /// Secondary refreshes that failed (primary unreachable, refused, broken transfer).
    pub transfer_failures: AtomicU64,
    /// NOTIFYs received (any outcome) and NOTIFYs sent that a secondary acknowledged.
    pub notifies_received: AtomicU64,
    pub notifies_sent: AtomicU64,
    /// Queries refused or dropped by `[rate_limit]`, and responses dropped or truncated by RRL.
    pub(crate) rate_limited: AtomicU64,
    /// Query log lines lost: dropped because the writer fell behind, or refused by the file.
    pub query_log_dropped: AtomicU64,
    /// Queries of the full path by transport and QTYPE (`counts::qtype_slot`).
    pub queries_by_type: Table<{ counts::QTYPE_SLOTS }>,
    /// Responses of the full path by transport and RCODE (`counts::rcode_slot`).
    pub(crate) responses_by_rcode: Table<{ counts::RCODE_SLOTS }>,
    /// The hit path's answers by transport, QTYPE and RCODE, and how many were local, per
    /// thread:
    /// `fast_hits()` and the hit path's part of the totals above.
    pub hit_path: HitPathCounts,
    /// Servfails by EDE info code.
    pub servfail_reasons: Reasons,
    /// Validated recursive answers by DNSSEC state ([`DNSSEC_STATES`]).
    pub(crate) dnssec_answers: [AtomicU64; 4],
    /// NXDOMAINs and wildcard expansions answered from a kept secure proof of the zone without
    /// asking (RFC 8198).
    pub aggressive_answers: AtomicU64,
    /// Bogus answers by the EDE info code of the failure.
    pub(crate) dnssec_bogus: Reasons,
    /// Full-path queries with a COOKIE option, by result ([`COOKIE_RESULTS`]); the hit path's
    /// are in `hit_path`: read both with `cookies()`.
    pub(crate) cookies: [AtomicU64; COOKIE_RESULTS.len()],
    /// Time from a query's arrival to its answer.
    pub answer_latency: Histogram,
    /// Queries, timeouts and round trips per upstream server.
    pub upstream: UpstreamTable,
}

/// The DNSSEC states answers are counted by (RFC 4033 §5), as `tern_dnssec_answers_total`
/// labels them.
pub(crate) const DNSSEC_STATES: [&str; 4] = ["secure", "insecure", "bogus", "indeterminate"];

/// What a query's COOKIE option was (RFC 7873 §5.2), as `tern_cookies_total` labels it. A
/// query without one is not counted here: those are the rest of `tern_queries_total`.
pub(crate) const COOKIE_RESULTS: [&str; 4] = ["client_only", "valid", "invalid", "malformed"];

impl Metrics {
    /// Counts a full-path query whose COOKIE option had result `COOKIE_RESULTS[slot]`.
    pub(crate) fn count_cookie(&self, slot: usize) {
        if let Some(counter) = self.cookies.get(slot) {
            Self::inc(counter);
        }
    }

    /// Queries whose COOKIE option had result `COOKIE_RESULTS[slot]`, hit path included.
    pub(crate) fn cookies(&self, slot: usize) -> u64 {
        self.cookies.get(slot).map_or(0, Self::get) + self.hit_path.cookie(slot)
    }

    /// Counts a validated answer in state `DNSSEC_STATES[state]`; a bogus one by its EDE.
    pub(crate) fn count_dnssec(&self, state: usize, bogus_ede: Option<u16>) {
        if let Some(counter) = self.dnssec_answers.get(state) {
            Self::inc(counter);
        }
        if bogus_ede.is_some() {
            self.dnssec_bogus.inc(bogus_ede);
        }
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every query, the hit path's answers included.
    pub(crate) fn queries(&self) -> u64 {
        Self::get(&self.queries) + self.hit_path.answers()
    }

    /// Answers of the hit path, every transport's (cache hits and authoritative answers
    /// alike).
    pub fn fast_hits(&self) -> u64 {
        self.hit_path.answers()
    }

    /// Answers from the cache, the hit path's included.
    pub fn cache_hits(&self) -> u64 {
        Self::get(&self.cache_hits) + self.hit_path.cached()
    }

    /// Answers from the local zones, the hit path's included.
    pub(crate) fn authoritative_answers(&self) -> u64 {
        Self::get(&self.authoritative_answers) + self.hit_path.local()
    }

    /// Counts a query by transport (an index of `counts::TRANSPORTS`) and QTYPE (`None`: its
    /// question could not be read).
    pub(crate) fn count_query(&self, transport: usize, qtype: Option<u16>) {
        self.queries_by_type
            .inc(transport, counts::qtype_slot(qtype));
    }

    /// Counts a response by transport and RCODE.
    pub(crate) fn count_response(&self, transport: usize, rcode: u16) {
        self.responses_by_rcode
            .inc(transport, counts::rcode_slot(rcode));
    }

    /// Queries in QTYPE slot `slot` (`counts::qtype_slot`) on one transport, hit path
    /// included.
    pub(crate) fn queries_in_slot(&self, transport: usize, slot: usize) -> u64 {
        self.queries_by_type.get(transport, slot) + self.hit_path.qtype(transport, slot)
    }

    /// Responses in RCODE slot `slot` on one transport, hit path included.
    pub(crate) fn responses_in_slot(&self, transport: usize, slot: usize) -> u64 {
        self.responses_by_rcode.get(transport, slot) + self.hit_path.rcode(transport, slot)
    }

    /// Every counter by name, as `tern ctl stats` and the shutdown summary print them.
    pub(crate) fn rows(&self) -> [(&'static str, u64); 28] {
        // The plain counters print under their field's name.
        macro_rules! rows {
            ($($name:literal => $value:expr),*; $($counter:ident),*) => {
                [$(($name, $value),)* $((stringify!($counter), Self::get(&self.$counter)),)*]
            };
        }
        rows![
            "queries" => self.queries(),
            "authoritative_answers" => self.authoritative_answers(),
            "cache_hits" => self.cache_hits(),
            "fast_hits" => self.fast_hits();
            cache_misses, upstream_queries, upstream_timeouts, servfails, refused, formerr,
            dropped, over_limit_queries, jostled_queries, services_failed_open, updates_applied, updates_unchanged, updates_refused,
            transfers_out, transfers_refused, transfers_in, transfer_failures, notifies_received,
            notifies_sent, rate_limited, query_log_dropped, aggressive_answers, prefetches,
            prefetches_skipped
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

/// Lets one log line through per interval and counts the ones it held back, so a flood of
/// per-query failures costs a counter increment each, not a line each (the counters carry
/// the totals).
#[derive(Debug)]
pub(crate) struct LogThrottle {
    interval: Duration,
    next: Mutex<Option<Instant>>,
    held: AtomicU64,
}

impl LogThrottle {
    pub(crate) fn new(interval: Duration) -> LogThrottle {
        LogThrottle {
            interval,
            next: Mutex::new(None),
            held: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line may be logged now, `n` being how many were held back since the
    /// last one; `None` when this one should be held back.
    pub(crate) fn admit(&self, now: Instant) -> Option<u64> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if next.is_some_and(|t| now < t) {
            self.held.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *next = Some(now + self.interval);
        Some(self.held.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_interval_with_the_count_held_back() {
        let t = LogThrottle::new(Duration::from_secs(10));
        assert_eq!(t.admit(Instant::now()), Some(0));
        for _ in 0..1000 {
            assert_eq!(t.admit(Instant::now()), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(t.admit(Instant::now()), Some(1000));
        assert_eq!(t.admit(Instant::now()), None);
    }

    /// A scrape while the hit path answers from both the cache and the local zones: the cache
    /// hits never step back (they once were the answers less the local ones, two counters read
    /// at different moments).
    #[test]
    fn cache_hits_never_step_back_while_answers_are_counted() {
        let metrics = std::sync::Arc::new(Metrics::default());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (metrics, done) = (
                std::sync::Arc::clone(&metrics),
                std::sync::Arc::clone(&done),
            );
            std::thread::spawn(move || {
                for i in 0..2_000_000u32 {
                    // Bursts of local answers between cache hits, of varying length.
                    let local = i % 7 != 0 && i % 13 != 0;
                    metrics.hit_path.count(0, 1, 0, local);
                }
                done.store(true, Ordering::Release);
            })
        };
        let mut last = 0;
        let mut reads = 0u64;
        while !done.load(Ordering::Acquire) && reads < 5_000_000 {
            let now = metrics.cache_hits();
            assert!(now >= last, "cache hits stepped back from {last} to {now}");
            last = now;
            reads += 1;
        }
        writer.join().expect("writer");
        assert_eq!(
            metrics.cache_hits() + metrics.authoritative_answers(),
            metrics.fast_hits()
        );
    }
}
