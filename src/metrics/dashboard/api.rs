//! The JSON endpoints' bodies. Every body is a serde type written by serde_json, which
//! escapes whatever a string holds (a qname can hold `<script>`, quotes, control bytes).

use serde::Serialize;

use super::sample::{BUCKETS, Sample, quantile_ms};
use super::{Dashboard, MAX_LINES};
use crate::metrics::Metrics;
use crate::metrics::counts::{RCODE_SLOTS, rcode_label};

/// One service as the Cluster view shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ServiceView {
    /// The service's host name, `web.cluster.test.`.
    pub name: String,
    /// The balance policy, when one orders its answers.
    pub balance: Option<&'static str>,
    /// Every checked instance fails: all of them are answered (fail open).
    pub failed_open: bool,
    pub instances: Vec<InstanceView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct InstanceView {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub weight: u16,
    /// Has a health check (an unchecked instance is always answered).
    pub checked: bool,
    /// `healthy`, `unhealthy`, or `failed-open` (unhealthy, answered anyway).
    pub health: &'static str,
    /// Smoothed RTT of the passing checks.
    pub rtt_ms: Option<f64>,
    pub last_error: Option<String>,
    /// Healthy↔unhealthy changes.
    pub changes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ZoneView {
    pub origin: String,
    /// `None` while a secondary has no copy.
    pub serial: Option<u32>,
    /// `file PATH`, `secondary of ADDR`, `services`, `builtin`.
    pub source: String,
    /// Records served; `None` while the zone is not served (a secondary without a copy, or
    /// past EXPIRE).
    pub records: Option<usize>,
    /// The SOA's REFRESH, RETRY and EXPIRE, seconds: a secondary's timers.
    pub timers: Option<[u32; 3]>,
    /// Served signed (DNSSEC).
    pub signed: bool,
    /// A secondary's refresh state.
    pub refresh: Option<RefreshView>,
    /// A primary's secondaries: its NOTIFY targets and every client that transferred it.
    pub secondaries: Vec<SecondaryView>,
}

/// A secondary zone's last check and timers, as ages and countdowns in seconds from now.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub(crate) struct RefreshView {
    /// Since the last check ended; `None` before the first.
    pub checked_ago_s: Option<f64>,
    /// The last check's failure; `None` when it succeeded.
    pub error: Option<String>,
    /// Since the first of the failures in a row.
    pub failing_for_s: Option<f64>,
    /// The primary that answered the last successful check, and the serial it confirmed.
    pub primary: Option<String>,
    pub serial: Option<u32>,
    /// Since the last transfer applied, and its kind.
    pub transferred_ago_s: Option<f64>,
    pub kind: Option<&'static str>,
    /// Until the next check (0: due).
    pub next_in_s: Option<f64>,
    /// Until the copy expires without a primary's confirmation (0: expired).
    pub expires_in_s: Option<f64>,
    pub expired: bool,
}

/// One secondary of a zone we serve as primary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct SecondaryView {
    pub address: String,
    /// Listed as a NOTIFY target.
    pub notified: bool,
    /// Since its last transfer; `None` when it has not transferred since we started.
    pub transferred_ago_s: Option<f64>,
    /// The serial that transfer brought it to, and the transfer's kind.
    pub serial: Option<u32>,
    pub kind: Option<&'static str>,
    /// Its last transfer brought it to the zone's serial now.
    pub current: bool,
}

/// How the resolver stands with one server (its infrastructure cache).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct UpstreamStanding {
    pub srtt_ms: Option<f64>,
    pub rto_ms: f64,
    /// Losses since its last reply.
    pub losses: u32,
    /// `up`, `probe` (out of rotation, a probe is due) or `down`.
    pub standing: &'static str,
}

/// `value` as JSON, with `<`, `>` and `&` written as `\u003c`, `\u003e`, `\u0026` (as Go's
/// encoding/json does): JSON's own syntax has none of them, so only strings change, and a
/// qname like `<script>` cannot be read as markup even by a client that sniffs.
pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    // Plain structs of strings, numbers and options: serializing cannot fail.
    let json = serde_json::to_string(value).unwrap_or_default();
    if !json.contains(['<', '>', '&']) {
        return json;
    }
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[derive(Serialize)]
pub(super) struct Series {
    /// Seconds since the epoch of each point.
    t: Vec<f64>,
    qps: Vec<f64>,
    /// Answers per second by RCODE (only the RCODEs seen in the window).
    rcodes: Vec<(&'static str, Vec<f64>)>,
}

#[derive(Serialize)]
struct Latency {
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
}

#[derive(Serialize)]
struct Traffic {
    series: Series,
    /// The window of `hit_ratio` and `latency`, in seconds (up to the last minute).
    window_s: f64,
    hit_ratio: Option<f64>,
    latency: Latency,
    totals: Vec<(&'static str, u64)>,
    servfail_reasons: Vec<(String, u64)>,
    cache_entries: Option<u64>,
    cache_bytes: Option<u64>,
}

/// The window of the hit ratio and the percentiles.
const WINDOW: usize = 60;

pub(super) fn traffic(d: &Dashboard) -> String {
    let samples: Vec<Sample> = {
        let s = d.samples.lock().unwrap_or_else(|p| p.into_inner());
        s.iter().cloned().collect()
    };
    // The window's numbers run up to now; the chart's points are whole seconds only (a
    // part-second rate would dip at its right edge).
    let now = Sample::take(&d.metrics);
    let series = series(&samples);
    let first = samples
        .len()
        .checked_sub(WINDOW)
        .and_then(|i| samples.get(i))
        .or(samples.first());
    let (window_s, hits, misses, latency) = match first {
        Some(f) => {
            let mut latency = [0u64; BUCKETS];
            for (i, l) in latency.iter_mut().enumerate() {
                *l = now.latency[i].saturating_sub(f.latency[i]);
            }
            (
                now.t_ms.saturating_sub(f.t_ms) as f64 / 1000.0,
                now.cache_hits.saturating_sub(f.cache_hits),
                now.cache_misses.saturating_sub(f.cache_misses),
                latency,
            )
        }
        None => (0.0, 0, 0, now.latency),
    };
    let m = &d.metrics;
    let totals = Metrics::rows(m)
        .into_iter()
        .filter(|(name, _)| TOTALS.contains(name))
        .collect();
    let cache = d.sources.cache();
    to_json(&Traffic {
        series,
        window_s,
        hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
        latency: Latency {
            p50_ms: quantile_ms(&latency, 0.5),
            p90_ms: quantile_ms(&latency, 0.9),
            p99_ms: quantile_ms(&latency, 0.99),
        },
        totals,
        servfail_reasons: m.servfail_reasons.seen(),
        cache_entries: cache.map(|c| c.0),
        cache_bytes: cache.map(|c| c.1),
    })
}

/// The counters the Traffic view lists, of `Metrics::rows`.
const TOTALS: [&str; 12] = [
    "queries",
    "cache_hits",
    "cache_misses",
    "servfails",
    "refused",
    "formerr",
    "dropped",
    "rate_limited",
    // `[limits] max_client_queries`: shed questions (within `dropped`).
    "over_limit_queries",
    "jostled_queries",
    "upstream_timeouts",
    "services_failed_open",
];

/// Rates between consecutive samples.
pub(super) fn series(samples: &[Sample]) -> Series {
    let points: Vec<&Sample> = samples.iter().collect();
    let mut t = Vec::new();
    let mut qps = Vec::new();
    let mut by_rcode = vec![Vec::new(); RCODE_SLOTS];
    for pair in points.windows(2) {
        let [a, b] = [pair[0], pair[1]];
        let secs = b.t_ms.saturating_sub(a.t_ms) as f64 / 1000.0;
        if secs <= 0.0 {
            continue;
        }
        let rate = |x: u64, y: u64| (y.saturating_sub(x) as f64 / secs * 10.0).round() / 10.0;
        t.push(b.t_ms as f64 / 1000.0);
        qps.push(rate(a.queries, b.queries));
        for (slot, out) in by_rcode.iter_mut().enumerate() {
            out.push(rate(a.rcodes[slot], b.rcodes[slot]));
        }
    }
    let rcodes = by_rcode
        .into_iter()
        .enumerate()
        .filter(|(slot, v)| *slot == 0 || v.iter().any(|&r| r > 0.0))
        .map(|(slot, v)| (rcode_label(slot), v))
        .collect();
    Series { t, qps, rcodes }
}

#[derive(Serialize)]
struct Upstream {
    server: String,
    queries: u64,
    timeouts: u64,
    #[serde(flatten)]
    standing: Option<UpstreamStanding>,
}

pub(super) fn upstreams(d: &Dashboard) -> String {
    let servers: Vec<Upstream> = d
        .metrics
        .upstream
        .snapshot()
        .into_iter()
        .map(|(server, counts)| Upstream {
            standing: server.parse().ok().and_then(|a| d.sources.upstream(a)),
            server,
            queries: Metrics::get(&counts.queries),
            timeouts: Metrics::get(&counts.timeouts),
        })
        .collect();
    to_json(&servers)
}

#[derive(Serialize)]
struct Queries {
    /// The query log is on.
    enabled: bool,
    /// The number to ask from next (`?since=`).
    next: u64,
    lines: Vec<serde_json::Value>,
}

pub(super) fn queries(d: &Dashboard, since: u64) -> String {
    let body = match d.sources.queries(since, MAX_LINES) {
        Some((lines, next)) => Queries {
            enabled: true,
            next,
            // The lines are the query log's own JSON; read back, so the answer is one
            // document that serde_json writes, not text spliced together.
            lines: lines
                .iter()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
        },
        None => Queries {
            enabled: false,
            next: 0,
            lines: Vec::new(),
        },
    };
    to_json(&body)
}
