//! What the handler counts and logs of each query once it is answered: transport, QTYPE and
//! RCODE counters, the latency histogram, and the query log line. Counting reads the reply's
//! header bytes, so every path (hit path, full path, NOTIFY, UPDATE, malformed) is counted
//! the same way; the log's extra facts (name, cache, upstream cost, EDE) are gathered only
//! when a query log is configured.

use std::net::SocketAddr;
use std::time::SystemTime;

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::ede_option::ede_of;
use super::fast::Question;
use super::{Handler, Request, Response};
use crate::metrics::{Metrics, counts};
use crate::querylog::Entry;

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
            qname: req.query.name().to_string(),
            qtype: u16::from(req.query.query_type()),
            dnssec_ok: req.edns.is_some_and(|e| e.dnssec_ok),
            cache: res.upstream_queries == Some(0),
            upstream: res.upstream_queries,
            ede: ede_of(&res.message),
        }
    }
}

/// The QTYPE of a query's first question, read off the wire (`None` when it does not parse
/// that far).
pub(super) fn wire_qtype(bytes: &[u8]) -> Option<u16> {
    let mut at = 12;
    loop {
        let len = usize::from(*bytes.get(at)?);
        match len {
            0 => break,
            l if l & 0xC0 != 0 => return None,
            l => at += 1 + l,
        }
    }
    Some(u16::from_be_bytes([
        *bytes.get(at + 1)?,
        *bytes.get(at + 2)?,
    ]))
}

/// Counts a query as it arrives on the full path.
pub(super) fn arrived(metrics: &Metrics, tcp: bool, bytes: &[u8]) {
    Metrics::inc(&metrics.queries);
    metrics.count_query(tcp, wire_qtype(bytes));
}

/// Counts an answer of the full path (or of NOTIFY, UPDATE, a malformed query) and logs it.
pub(super) fn answered(
    handler: &Handler,
    tcp: bool,
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
    metrics.count_response(tcp, u16::from(reply[3] & 0x0F));
    if let (Some(log), Some(seen)) = (&handler.query_log, seen) {
        log.log(Entry {
            time: SystemTime::now(),
            client: src,
            tcp,
            qname: seen.qname,
            qtype: seen.qtype,
            flags: [reply[2], reply[3]],
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

/// Counts a hit-path answer: the three counters it always had, and QTYPE and RCODE in this
/// thread's shard (plain loads and stores); nothing allocated, no clock read (its latency is
/// counted in the first bucket; the work is well under a microsecond). With a query log
/// (`start` is then set), logs it too, which allocates.
pub(super) fn hit(
    handler: &Handler,
    question: &Question<'_>,
    src: SocketAddr,
    reply: &[u8],
    local: bool,
    start: Option<std::time::Instant>,
) {
    let metrics = &handler.metrics;
    Metrics::inc(&metrics.queries);
    Metrics::inc(&metrics.fast_hits);
    if local {
        Metrics::inc(&metrics.authoritative_answers);
    } else {
        Metrics::inc(&metrics.cache_hits);
    }
    // Its latency: counted in the histogram's first bucket from `fast_hits` at scrape time.
    let rcode = counts::rcode_slot(u16::from(reply[3] & 0x0F));
    metrics
        .hit_path
        .count(counts::qtype_slot(Some(question.qtype())), rcode);
    let (Some(log), Some(start)) = (&handler.query_log, start) else {
        return;
    };
    let qname = Name::read(&mut BinDecoder::new(question.wire))
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    log.log(Entry {
        time: SystemTime::now(),
        client: src,
        tcp: false,
        qname,
        qtype: question.qtype(),
        flags: [reply[2], reply[3]],
        dnssec_ok: question.dnssec_ok,
        latency_us: micros(start.elapsed()),
        cache: !local,
        hit_path: true,
        upstream: Some(0),
        ede: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qtype_off_the_wire() {
        let mut q = vec![0u8; 12];
        q.extend_from_slice(b"\x03www\x07example\x00\x00\x1c\x00\x01");
        assert_eq!(wire_qtype(&q), Some(28));
        assert_eq!(wire_qtype(&q[..20]), None);
        assert_eq!(wire_qtype(&[0u8; 5]), None);
    }
}
