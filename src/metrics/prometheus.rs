//! The Prometheus exposition of [`Metrics`]: a `prometheus-client` collector that reads the
//! process counters at scrape time (nothing is counted twice), plus the gauges that belong to
//! other parts (cache size, zone serials, instance health), read through a [`StateFn`] the
//! wiring provides so this module needs none of them.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Metrics;
use super::counts::{self, Histogram, TRANSPORTS};

pub(crate) use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Values owned elsewhere, read once per scrape.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct State {
    /// Entries and bytes of the resolver's cache (`None` without recursion).
    pub cache: Option<(u64, u64)>,
    /// Each served zone's origin and SOA serial.
    pub zone_serials: Vec<(String, u32)>,
    /// Each service instance and its health.
    pub instances: Vec<InstanceHealth>,
}

/// One service instance at scrape time.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct InstanceHealth {
    pub service: String,
    pub instance: String,
    /// It passes its health check (or has none).
    pub healthy: bool,
    /// It is in the service's answers: healthy, or its service failed open (no instance
    /// healthy, so all are answered).
    pub served: bool,
}

/// Reads the [`State`] at scrape time.
pub(crate) type StateFn = Arc<dyn Fn() -> State + Send + Sync>;

/// The collector: counters and histograms from `metrics`, gauges from `state`.
struct Exposition {
    metrics: Arc<Metrics>,
    state: StateFn,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition").finish_non_exhaustive()
    }
}

/// A registry holding tern's collector; encode it with [`encode`].
pub(crate) fn registry(metrics: Arc<Metrics>, state: StateFn) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition { metrics, state }));
    registry
}

/// The registry in the Prometheus text format (version 0.0.4).
pub(crate) fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; an error would be a bug in the encoder.
    if prometheus_client::encoding::prometheus_text::encode(&mut out, registry).is_err() {
        out.clear();
    }
    out
}

type Fmt = Result<(), std::fmt::Error>;

/// A family of series, written only when it has at least one (no empty families).
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(L, M)],
) -> Fmt {
    let Some((_, first)) = series.first() else {
        return Ok(());
    };
    let mut fam = encoder.encode_descriptor(name, help, None, first.metric_type())?;
    for (labels, metric) in series {
        metric.encode(fam.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Fmt {
    let series: [([(&str, &str); 0], _); 1] = [([], ConstCounter::new(value))];
    family(encoder, name, help, &series)
}

/// A histogram as `prometheus-client` encodes one (buckets made cumulative, `+Inf`, sum, count),
/// with `.1` more observations in the first bucket (the hit path's, counted elsewhere).
struct HistogramValue<'h>(&'h Histogram, u64);

impl std::fmt::Debug for HistogramValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistogramValue")
    }
}

impl EncodeMetric for HistogramValue<'_> {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder<'_>) -> Fmt {
        let (mut buckets, sum) = self.0.snapshot();
        if let Some(first) = buckets.first_mut() {
            first.1 += self.1;
        }
        let count = buckets.iter().map(|b| b.1).sum();
        encoder
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A counter family labelled by transport and by one slotted label (`name`, its slot count, the
/// slot's label value); slots never counted are left out, so a scrape lists only what was seen.
type Slotted = (&'static str, usize, fn(usize) -> &'static str);

fn by_transport(
    (name, slots, label): Slotted,
    count: impl Fn(usize, usize) -> u64,
) -> Vec<([(&'static str, &'static str); 2], ConstCounter)> {
    let mut family = Vec::new();
    for (t, transport) in TRANSPORTS.iter().enumerate() {
        for slot in 0..slots {
            let n = count(t, slot);
            if n > 0 {
                family.push((
                    [("transport", *transport), (name, label(slot))],
                    ConstCounter::new(n),
                ));
            }
        }
    }
    family
}

/// One metric per upstream server, labelled with its address.
fn per_server<'a, S, V>(
    servers: &'a [(String, S)],
    value: impl Fn(&'a S) -> V,
) -> Vec<([(&'static str, &'a str); 1], V)> {
    servers
        .iter()
        .map(|(server, s)| ([("server", server.as_str())], value(s)))
        .collect()
}

/// A counter family labelled by RFC 8914 reason, from [`super::counts::Reasons::seen`].
fn by_reason(seen: &[(String, u64)]) -> Vec<([(&'static str, &str); 1], ConstCounter)> {
    seen.iter()
        .map(|(reason, n)| ([("reason", reason.as_str())], ConstCounter::new(*n)))
        .collect()
}

impl Collector for Exposition {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Fmt {
        let m = &*self.metrics;
        let queries = by_transport(
            ("qtype", counts::QTYPE_SLOTS, counts::qtype_label),
            |t, slot| m.queries_in_slot(t, slot),
        );
        let responses = by_transport(
            ("rcode", counts::RCODE_SLOTS, counts::rcode_label),
            |t, slot| m.responses_in_slot(t, slot),
        );
        family(
            &mut e,
            "tern_queries",
            "Queries received, by transport and QTYPE.",
            &queries,
        )?;
        family(
            &mut e,
            "tern_responses",
            "Responses sent, by transport and RCODE.",
            &responses,
        )?;
        let latency = [(
            [("", ""); 0],
            HistogramValue(&m.answer_latency, m.fast_hits()),
        )];
        family(
            &mut e,
            "tern_answer_latency_seconds",
            "Time the handler took to answer a query (hit-path answers count in the first bucket, unmeasured).",
            &latency,
        )?;
        family(
            &mut e,
            "tern_servfail",
            "SERVFAIL answers, by the RFC 8914 Extended DNS Error they carried.",
            &by_reason(&m.servfail_reasons.seen()),
        )?;
        let states: Vec<_> = super::DNSSEC_STATES
            .iter()
            .zip(&m.dnssec_answers)
            .map(|(state, n)| ([("state", *state)], ConstCounter::new(Metrics::get(n))))
            .collect();
        family(
            &mut e,
            "tern_dnssec_answers",
            "Validated recursive answers, by DNSSEC state (RFC 4033 §5).",
            &states,
        )?;
        let cookies: Vec<_> = super::COOKIE_RESULTS
            .iter()
            .enumerate()
            .map(|(slot, result)| ([("result", *result)], ConstCounter::new(m.cookies(slot))))
            .collect();
        family(
            &mut e,
            "tern_cookies",
            "Queries with a DNS COOKIE option, by what it held (RFC 7873 §5.2): a client cookie only, a valid or invalid server cookie, or a malformed option.",
            &cookies,
        )?;
        family(
            &mut e,
            "tern_dnssec_bogus",
            "Bogus answers, by the RFC 8914 Extended DNS Error of the failure.",
            &by_reason(&m.dnssec_bogus.seen()),
        )?;
        let plain: [(&str, &str, u64); 24] = [
            (
                "tern_dnssec_aggressive_answers",
                "NXDOMAINs and wildcard expansions answered from cached secure NSEC/NSEC3 proofs without asking (RFC 8198).",
                Metrics::get(&m.aggressive_answers),
            ),
            (
                "tern_authoritative_answers",
                "Answers from the local zones.",
                m.authoritative_answers(),
            ),
            (
                "tern_cache_hits",
                "Resolutions answered from the cache alone (hit-path answers included).",
                m.cache_hits(),
            ),
            (
                "tern_hit_path_answers",
                "Answers of the hit path, over every transport (counted in tern_cache_hits_total or tern_authoritative_answers_total too).",
                m.fast_hits(),
            ),
            (
                "tern_cache_misses",
                "Resolutions that had to ask upstream.",
                Metrics::get(&m.cache_misses),
            ),
            (
                "tern_prefetches",
                "Background refreshes started by a hit in the last part of an entry's TTL.",
                Metrics::get(&m.prefetches),
            ),
            (
                "tern_prefetches_skipped",
                "Refreshes a hit would have started, dropped because the resolver was busy.",
                Metrics::get(&m.prefetches_skipped),
            ),
            (
                "tern_upstream_queries",
                "Queries sent to upstream servers.",
                Metrics::get(&m.upstream_queries),
            ),
            (
                "tern_upstream_timeouts",
                "Upstream queries that timed out.",
                Metrics::get(&m.upstream_timeouts),
            ),
            (
                "tern_dropped_queries",
                "Queries dropped unanswered (malformed, over the in-flight limit, by a rate limit, or over or jostled out of the client query limit).",
                Metrics::get(&m.dropped),
            ),
            (
                "tern_over_limit_queries",
                "Client queries dropped because [limits] max_client_queries were being resolved and none could be jostled out (in tern_dropped_queries too).",
                Metrics::get(&m.over_limit_queries),
            ),
            (
                "tern_jostled_queries",
                "Client queries being resolved that a newer one pushed out past [limits] max_client_queries, unanswered (in tern_dropped_queries too).",
                Metrics::get(&m.jostled_queries),
            ),
            (
                "tern_rate_limited",
                "Queries refused or dropped by [rate_limit], and responses dropped or slipped (sent truncated) by RRL.",
                Metrics::get(&m.rate_limited),
            ),
            (
                "tern_query_log_dropped",
                "Query log lines lost: dropped because the writer fell behind, or refused by the file (a full disk).",
                Metrics::get(&m.query_log_dropped),
            ),
            (
                "tern_services_failed_open",
                "Times a service had no healthy instance and answered with all of them.",
                Metrics::get(&m.services_failed_open),
            ),
            (
                "tern_updates_applied",
                "RFC 2136 UPDATEs that changed their zone.",
                Metrics::get(&m.updates_applied),
            ),
            (
                "tern_updates_unchanged",
                "UPDATEs answered NOERROR that changed nothing (already so, or ignored by RFC \
                 2136 section 3.4.2, as a CNAME beside other data).",
                Metrics::get(&m.updates_unchanged),
            ),
            (
                "tern_updates_refused",
                "UPDATEs answered with an error.",
                Metrics::get(&m.updates_refused),
            ),
            (
                "tern_transfers_out",
                "Zone transfers sent.",
                Metrics::get(&m.transfers_out),
            ),
            (
                "tern_transfers_in",
                "Zone transfers applied by a secondary zone.",
                Metrics::get(&m.transfers_in),
            ),
            (
                "tern_transfers_refused",
                "Zone transfer requests refused.",
                Metrics::get(&m.transfers_refused),
            ),
            (
                "tern_transfer_failures",
                "Secondary refreshes that failed.",
                Metrics::get(&m.transfer_failures),
            ),
            (
                "tern_notifies_received",
                "NOTIFYs received.",
                Metrics::get(&m.notifies_received),
            ),
            (
                "tern_notifies_sent",
                "NOTIFYs sent and acknowledged.",
                Metrics::get(&m.notifies_sent),
            ),
        ];
        for (name, help, value) in plain {
            counter(&mut e, name, help, value)?;
        }
        self.upstream(&mut e)?;
        self.state(&mut e)
    }
}

impl Exposition {
    fn upstream(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let servers = self.metrics.upstream.snapshot();
        let queries = per_server(&servers, |s| ConstCounter::new(Metrics::get(&s.queries)));
        family(
            e,
            "tern_upstream_server_queries",
            "Queries sent, per upstream server.",
            &queries,
        )?;
        let timeouts = per_server(&servers, |s| ConstCounter::new(Metrics::get(&s.timeouts)));
        family(
            e,
            "tern_upstream_server_timeouts",
            "Queries that timed out, per upstream server.",
            &timeouts,
        )?;
        let rtt = per_server(&servers, |s| HistogramValue(&s.rtt, 0));
        family(
            e,
            "tern_upstream_rtt_seconds",
            "Round-trip time of upstream replies, per server.",
            &rtt,
        )
    }

    fn state(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let state = (self.state)();
        if let Some((entries, bytes)) = state.cache {
            let none: [(&str, &str); 0] = [];
            family(
                e,
                "tern_cache_entries",
                "Entries in the resolver's cache.",
                &[(none, ConstGauge::new(entries as i64))],
            )?;
            family(
                e,
                "tern_cache_bytes",
                "Estimated bytes held by the resolver's cache.",
                &[(none, ConstGauge::new(bytes as i64))],
            )?;
        }
        let serials: Vec<_> = state
            .zone_serials
            .iter()
            .map(|(zone, serial)| {
                (
                    [("zone", zone.as_str())],
                    ConstGauge::new(i64::from(*serial)),
                )
            })
            .collect();
        family(
            e,
            "tern_zone_serial",
            "SOA serial of each served zone.",
            &serials,
        )?;
        let gauge = |value: fn(&InstanceHealth) -> bool| -> Vec<_> {
            state
                .instances
                .iter()
                .map(|i| {
                    (
                        [
                            ("service", i.service.as_str()),
                            ("instance", i.instance.as_str()),
                        ],
                        ConstGauge::new(i64::from(value(i))),
                    )
                })
                .collect()
        };
        family(
            e,
            "tern_service_instance_healthy",
            "1 when a service instance passes its health check (or has none), else 0.",
            &gauge(|i| i.healthy),
        )?;
        family(
            e,
            "tern_service_instance_served",
            "1 when a service instance is in the answers: healthy, or unhealthy in a service \
             that failed open (no instance healthy, so all are answered).",
            &gauge(|i| i.served),
        )
    }
}

#[cfg(test)]
mod tests;
