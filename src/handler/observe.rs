//! What the handler counts and logs of each query once it is answered: transport, QTYPE and
//! RCODE counters, the latency histogram, and the query log line. Counting reads the reply's
//! header bytes, so every path (hit path, full path, NOTIFY, UPDATE, malformed) is counted
//! the same way; the log's extra facts (name, cache, upstream cost, EDE) are gathered only
//! when a query log is configured.

use std::net::SocketAddr;
use std::time::SystemTime;

use super::ede_option::ede_of;
use super::fast::{Question, be16, question_end, skip_name};
use super::{Handler, Request, Response};
use crate::metrics::{Metrics, counts};
use crate::querylog::{Entry, zone_file_name};

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

/// The QTYPE of a query's first question, read off the wire (`None` when it does not parse
/// that far).
pub(super) fn wire_qtype(bytes: &[u8]) -> Option<u16> {
    be16(bytes, question_end(bytes)? - 4)
}

/// The full 12-bit RCODE of an encoded response (at least 4 bytes): the header's low 4 bits
/// and, when the response has an OPT record, its 8 upper bits (RFC 6891 §6.1.3), so BADVERS
/// (16) is not counted as NOERROR. Read off the wire rather than from the `Response`, so
/// every reply the full path sends (limited, malformed, NOTIFY, UPDATE) is read the same way.
pub(super) fn wire_rcode(reply: &[u8]) -> u16 {
    let high = opt_extended_rcode(reply).unwrap_or(0);
    u16::from(high) << 4 | u16::from(reply[3] & 0x0F)
}

/// The OPT record's EXTENDED-RCODE byte (`None`: no OPT, or the message does not parse).
fn opt_extended_rcode(m: &[u8]) -> Option<u8> {
    const OPT: u16 = 41;
    let count = |at: usize| Some(usize::from(be16(m, at)?));
    let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
    if ar == 0 {
        return None;
    }
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(m, at)? + 4;
    }
    for _ in 0..an + ns {
        at = skip_record(m, at)?;
    }
    for _ in 0..ar {
        let fixed = skip_name(m, at)?;
        if be16(m, fixed)? == OPT {
            // TYPE, CLASS (the payload size), then the TTL's first byte.
            return m.get(fixed + 4).copied();
        }
        at = skip_record(m, at)?;
    }
    None
}

/// Where the resource record at `at` ends.
fn skip_record(m: &[u8], at: usize) -> Option<usize> {
    let fixed = skip_name(m, at)?;
    let rdlength = usize::from(be16(m, fixed + 8)?);
    Some(fixed + 10 + rdlength)
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
    let rcode = wire_rcode(reply);
    metrics.count_response(tcp, rcode);
    if let (Some(log), Some(seen)) = (&handler.query_log, seen) {
        log.log(Entry {
            time: SystemTime::now(),
            client: src,
            tcp,
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

/// Counts a hit-path answer: its QTYPE and RCODE, and whether it was local, in this thread's
/// shard (plain loads and stores; `queries`, `fast_hits`, `cache_hits` and
/// `authoritative_answers` are summed from the shards when read); nothing allocated, no clock
/// read (its latency is counted in the first bucket; the work is well under a microsecond).
/// With a query log (`start` is then set), logs it too, which allocates.
#[inline]
pub(super) fn hit(
    handler: &Handler,
    question: &Question<'_>,
    src: SocketAddr,
    reply: &[u8],
    local: bool,
    start: Option<std::time::Instant>,
) {
    // The hit path answers NOERROR, NXDOMAIN or (RRL's slip aside) nothing else: 4 bits do.
    let rcode = u16::from(reply[3] & 0x0F);
    handler.metrics.hit_path.count(
        counts::qtype_slot(Some(question.qtype())),
        counts::rcode_slot(rcode),
        local,
    );
    if let (Some(log), Some(start)) = (&handler.query_log, start) {
        log_hit(log, question, src, reply, !local, start);
    }
}

/// Out of line and cold: with the query log off the hit path carries none of it.
#[cold]
#[inline(never)]
fn log_hit(
    log: &crate::querylog::QueryLog,
    question: &Question<'_>,
    src: SocketAddr,
    reply: &[u8],
    cache: bool,
    start: std::time::Instant,
) {
    log.log(hit_entry(question, src, reply, cache, start));
}

/// Counts a query of the hit path that a rate limit stopped (REFUSED in `reply`, or nothing:
/// `reply` empty): not a hit, so in the full path's tables, as a UDP query by QTYPE and, when
/// a reply goes out, by RCODE; logged like a hit (`hit_path`, not from the cache). Only a
/// limited query comes here, so the locked adds cost nothing in the common case.
pub(super) fn limited(
    handler: &Handler,
    question: &Question<'_>,
    src: SocketAddr,
    reply: &[u8],
    start: Option<std::time::Instant>,
) {
    let metrics = &handler.metrics;
    Metrics::inc(&metrics.queries);
    metrics.count_query(false, Some(question.qtype()));
    if reply.len() < 4 {
        return;
    }
    metrics.count_response(false, u16::from(reply[3] & 0x0F));
    // In the first bucket, as the hit path's answers.
    metrics.answer_latency.observe_us(0);
    if let (Some(log), Some(start)) = (&handler.query_log, start) {
        log.log(hit_entry(question, src, reply, false, start));
    }
}

/// The query log's line of a hit-path reply.
fn hit_entry(
    question: &Question<'_>,
    src: SocketAddr,
    reply: &[u8],
    cache: bool,
    start: std::time::Instant,
) -> Entry {
    Entry {
        time: SystemTime::now(),
        client: src,
        tcp: false,
        qname: wire_name(question.wire),
        qtype: question.qtype(),
        flags: [reply[2], reply[3]],
        rcode: u16::from(reply[3] & 0x0F),
        dnssec_ok: question.dnssec_ok,
        latency_us: micros(start.elapsed()),
        cache,
        hit_path: true,
        upstream: Some(0),
        ede: None,
    }
}

/// The question's name (at the start of `wire`, uncompressed) in zone-file form
/// (`querylog::zone_file_name`); what does not parse as labels ends the name there.
fn wire_name(wire: &[u8]) -> String {
    let mut at = 0;
    let labels = std::iter::from_fn(|| {
        let len = usize::from(*wire.get(at)?);
        let label = wire
            .get(at + 1..at + 1 + len)
            .filter(|_| (1..64).contains(&len))?;
        at += 1 + len;
        Some(label)
    });
    zone_file_name(labels)
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

    #[test]
    fn rcode_off_the_wire_has_the_opt_records_upper_bits() {
        use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
        use hickory_proto::rr::{Name, RecordType};
        let reply = |rcode: ResponseCode, edns: bool| {
            let mut m = Message::new(7, MessageType::Response, OpCode::Query);
            m.add_query(Query::query(
                Name::from_ascii("www.example.").expect("name"),
                RecordType::A,
            ));
            m.metadata.response_code = rcode;
            if edns {
                m.set_edns(Edns::new());
            }
            m.to_vec().expect("encodes")
        };
        assert_eq!(wire_rcode(&reply(ResponseCode::BADVERS, true)), 16);
        assert_eq!(wire_rcode(&reply(ResponseCode::NXDomain, true)), 3);
        assert_eq!(wire_rcode(&reply(ResponseCode::ServFail, false)), 2);
        // Cut short inside the OPT record: the header's 4 bits.
        let badvers = reply(ResponseCode::BADVERS, true);
        assert_eq!(wire_rcode(&badvers[..badvers.len() - 8]), 0);
    }
}
