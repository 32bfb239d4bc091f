//! What the handler counts and logs of each query once it is answered: transport, QTYPE and
//! RCODE counters, the latency histogram, and the query log line. Counting reads the reply's
//! header bytes, so every path (hit path, full path, NOTIFY, UPDATE, malformed) is counted
//! the same way; the log's extra facts (name, cache, upstream cost, EDE) are gathered only
//! when a query log is configured.

use std::net::SocketAddr;
use std::time::SystemTime;

use super::ede_option::ede_of;
use super::{Handler, Request, Response, Transport};
use crate::metrics::{Metrics, counts};
use crate::querylog::{Entry, zone_file_name};
use crate::wire::{self, Question};

/// What the full path learned of a query that the log wants and the reply bytes do not say.
#[derive(Debug)]
pub(super) struct Seen {
    qname: String,
    qtype: u16,
    dnssec_ok: bool,
    cache: bool,
    upstream: Option<usize>,
    ede: Option<(u16, String)>,
}

impl Seen {
    pub(super) fn of(req: &Request, res: &Response) -> Seen {
        Seen {
            qname: zone_file_name(req.query.name().iter()),
            qtype: u16::from(req.query.query_type()),
            dnssec_ok: req.edns.is_some_and(|e| e.dnssec_ok),
            cache: res.upstream_queries == Some(0),
            upstream: res.upstream_queries,
            ede: ede_of(&res.message),
        }
    }
}

/// Counts a query as it arrives on the full path.
pub(super) fn arrived(metrics: &Metrics, transport: Transport, bytes: &[u8]) {
    Metrics::inc(&metrics.queries);
    metrics.count_query(transport.slot(), wire::qtype(bytes));
}

/// Counts an answer of the full path (or of NOTIFY, UPDATE, a malformed query) and logs it.
pub(super) fn answered(
    handler: &Handler,
    transport: Transport,
    src: SocketAddr,
    start: std::time::Instant,
    reply: Option<&[u8]>,
    seen: Option<Seen>,
) {
    let Some(reply) = reply.filter(|r| r.len() >= 4) else {
        return;
    };
    let elapsed = start.elapsed();
    let metrics = &handler.metrics;
    metrics.answer_latency.observe(elapsed);
    let rcode = wire::rcode(reply);
    metrics.count_response(transport.slot(), rcode);
    if let (Some(log), Some(seen)) = (&handler.query_log, seen) {
        log.log(Entry {
            // Edge: the log line's timestamp is wall-clock time, as logs are read.
            time: SystemTime::now(),
            client: src,
            transport: transport.name(),
            qname: seen.qname,
            qtype: seen.qtype,
            flags: [reply[2], reply[3]],
            rcode,
            dnssec_ok: seen.dnssec_ok,
            latency_us: micros(elapsed),
            cache: seen.cache,
            hit_path: false,
            upstream: seen.upstream,
            ede: seen.ede,
        });
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Counts a hit-path answer over `at`'s transport: its QTYPE and RCODE, and whether it was
/// local, in this thread's shard (plain loads and stores; `queries`, `fast_hits`, `cache_hits`
/// and `authoritative_answers` are summed from the shards when read); nothing allocated, no
/// clock read (its latency is counted in the first bucket; the work is well under a
/// microsecond). With a query log (`start` is then set), logs it too, naming the transport,
/// which allocates.
#[inline]
pub(super) fn hit(
    handler: &Handler,
    question: &Question<'_>,
    at: (SocketAddr, Transport),
    reply: &[u8],
    local: bool,
    start: Option<std::time::Instant>,
) {
    // The hit path answers NOERROR, NXDOMAIN or (RRL's slip aside) nothing else: 4 bits do.
    let rcode = u16::from(reply[3] & wire::RCODE);
    handler.metrics.hit_path.count(
        at.1.slot(),
        counts::qtype_slot(Some(question.qtype())),
        counts::rcode_slot(rcode),
        local,
    );
    if let (Some(log), Some(start)) = (&handler.query_log, start) {
        log_hit(log, question, at, reply, !local, start);
    }
}

/// Out of line and cold: with the query log off the hit path carries none of it.
#[cold]
#[inline(never)]
fn log_hit(
    log: &crate::querylog::QueryLog,
    question: &Question<'_>,
    at: (SocketAddr, Transport),
    reply: &[u8],
    cache: bool,
    start: std::time::Instant,
) {
    log.log(hit_entry(question, at, reply, cache, start));
}

/// Counts a query of the hit path that a rate limit stopped (REFUSED in `reply`, or nothing:
/// `reply` empty): not a hit, so in the full path's tables, as a UDP query by QTYPE and, when
/// a reply goes out, by RCODE, in its transport's row; logged like a hit (`hit_path`, not
/// from the cache). Only a limited query comes here, so the locked adds cost nothing in the
/// common case.
pub(super) fn limited(
    handler: &Handler,
    question: &Question<'_>,
    at: (SocketAddr, Transport),
    reply: &[u8],
    start: Option<std::time::Instant>,
) {
    let metrics = &handler.metrics;
    let transport = at.1.slot();
    Metrics::inc(&metrics.queries);
    metrics.count_query(transport, Some(question.qtype()));
    if reply.len() < 4 {
        return;
    }
    metrics.count_response(transport, u16::from(reply[3] & wire::RCODE));
    // In the first bucket, as the hit path's answers.
    metrics.answer_latency.observe_us(0);
    if let (Some(log), Some(start)) = (&handler.query_log, start) {
        log.log(hit_entry(question, at, reply, false, start));
    }
}

/// The query log's line of a hit-path reply.
fn hit_entry(
    question: &Question<'_>,
    (src, transport): (SocketAddr, Transport),
    reply: &[u8],
    cache: bool,
    start: std::time::Instant,
) -> Entry {
    Entry {
        // Edge: the log line's timestamp is wall-clock time, as logs are read.
        time: SystemTime::now(),
        client: src,
        transport: transport.name(),
        qname: zone_file_name(wire::labels(question.wire)),
        qtype: question.qtype(),
        flags: [reply[2], reply[3]],
        rcode: u16::from(reply[3] & wire::RCODE),
        dnssec_ok: question.dnssec_ok,
        latency_us: micros(start.elapsed()),
        cache,
        hit_path: true,
        upstream: Some(0),
        ede: None,
    }
}
