//! The primary's side of a zone transfer: the records an AXFR or IXFR request gets, and the
//! response messages that carry them.

use std::cmp::Ordering;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::{Delta, later, soa_serial};
use crate::authority::Zone;

/// RFC 5936 §2.2: the SOA, every other record of the zone, the SOA again.
///
/// The records are sorted by owner name (RFC 4034 §6.1 canonical order, so the apex comes
/// first and parents before children, as BIND and NSD send them) and type; a snapshot keeps its
/// nodes in a hash map, and two transfers of one snapshot should be the same bytes. The sort
/// is stable, so each RRset keeps the order the zone file gave it.
pub(crate) fn axfr_records(zone: &Zone) -> Vec<Record> {
    let soa = zone.soa();
    let mut body: Vec<&Record> = zone
        .records()
        .filter(|r| r.record_type() != RecordType::SOA)
        .collect();
    body.sort_by(|a, b| by_owner_and_type(a, b));
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(soa.clone());
    out.extend(body.into_iter().cloned());
    out.push(soa.clone());
    out
}

fn by_owner_and_type(a: &Record, b: &Record) -> Ordering {
    a.name
        .cmp(&b.name)
        .then_with(|| u16::from(a.record_type()).cmp(&u16::from(b.record_type())))
}

/// What an IXFR request with the client's serial gets (RFC 1995 §4).
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request; the interface holds the Record inline"
)]
pub(crate) enum IxfrAnswer {
    /// The client is current (its serial equals or is later than ours, RFC 1982): one SOA.
    UpToDate(Record),
    /// SOA(new), then per delta SOA(from) removed... SOA(to) added..., then SOA(new). The
    /// deltas go out as they were kept (non-condensed, which RFC 1995 §4 allows).
    Incremental(Vec<Record>),
    /// The history does not reach back to the client's serial: answer AXFR-style (RFC 1995 §4:
    /// "If incremental zone transfer is not available, the entire zone is returned").
    Full(Vec<Record>),
}

/// The answer to an IXFR from a client at `client_serial`.
///
/// `history`: consecutive deltas, oldest first, the last one ending at `zone`'s serial. The
/// chain is followed backwards from the zone's serial to the newest delta starting at
/// `client_serial`; a gap on the way (the journal allows one: a change that stepped the serial
/// without an entry), or a history not ending at the zone's serial, means the client's
/// version cannot be reached by increments, and the answer is the whole zone.
pub(crate) fn ixfr_answer(zone: &Zone, history: &[Delta], client_serial: u32) -> IxfrAnswer {
    let current = zone.serial();
    if client_serial == current || later(client_serial, current) {
        return IxfrAnswer::UpToDate(zone.soa().clone());
    }
    let Some(chain) = chain_from(history, client_serial, current) else {
        return IxfrAnswer::Full(axfr_records(zone));
    };
    let len = chain
        .iter()
        .map(|d| d.removed.len() + d.added.len() + 2)
        .sum::<usize>();
    let mut out = Vec::with_capacity(len + 2);
    out.push(zone.soa().clone());
    for d in chain {
        out.push(d.from.clone());
        out.extend(d.removed.iter().cloned());
        out.push(d.to.clone());
        out.extend(d.added.iter().cloned());
    }
    out.push(zone.soa().clone());
    IxfrAnswer::Incremental(out)
}

/// The unbroken tail of `history` that leads from `from` to `to`, if there is one.
fn chain_from(history: &[Delta], from: u32, to: u32) -> Option<&[Delta]> {
    let mut expect = to;
    for (i, d) in history.iter().enumerate().rev() {
        if soa_serial(&d.to)? != expect {
            return None;
        }
        let start = soa_serial(&d.from)?;
        if start == from {
            return Some(&history[i..]);
        }
        expect = start;
    }
    None
}

/// Splits a transfer's records into response messages answering `request`.
///
/// Each message has the request's id, opcode QUERY, QR=1, AA=1, RCODE NOERROR, RD and CD
/// copied from the request (RFC 5936 §2.2.1); the question section is copied into the first
/// message only, as BIND and NSD do (§2.2.1 allows either). No OPT and no TSIG: the caller adds
/// them and keeps room for them in `max_len`.
///
/// Every message encodes (each on its own, with name compression) to at most `max_len` bytes
/// (capped at 65535, the most a TCP length prefix can carry, RFC 1035 §4.2.2). A record is
/// never split (RFC 5936 §2.2: one RR must not span messages); one that does not fit even an
/// empty message goes alone in its own message rather than being lost, and so does one that
/// does not encode at all, so the caller's encoding reports it. Always at least one message.
///
/// Sizes are measured by encoding the records once into a buffer laid out exactly as
/// `Message::to_vec` lays out the message, so the compressed size is exact and the cost is
/// linear, not one full encoding per record added.
pub(crate) fn pack(request: &Message, records: Vec<Record>, max_len: usize) -> Vec<Message> {
    let max_len = max_len.min(usize::from(u16::MAX));
    let mut out = Vec::new();
    let mut records = records.into_iter().peekable();
    let mut buf = Vec::new();
    loop {
        let mut msg = response(request, out.is_empty());
        buf.clear();
        let mut encoder = BinEncoder::new(&mut buf);
        // The header's 12 bytes, then the question: the offsets name compression points to.
        let mut room = encoder.emit_vec(&[0; 12]).is_ok();
        for q in &msg.queries {
            room &= q.emit(&mut encoder).is_ok();
        }
        while let Some(record) = records.peek() {
            // The header's ANCOUNT is 16 bits.
            if msg.answers.len() == usize::from(u16::MAX) {
                break;
            }
            let fits = room && record.emit(&mut encoder).is_ok() && encoder.len() <= max_len;
            if !fits && !msg.answers.is_empty() {
                break;
            }
            if let Some(record) = records.next() {
                msg.answers.push(record);
            }
            if !fits {
                break;
            }
        }
        out.push(msg);
        if records.peek().is_none() {
            return out;
        }
    }
}

/// An empty response to `request` with the header of RFC 5936 §2.2.1.
fn response(request: &Message, with_question: bool) -> Message {
    let mut msg = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    msg.metadata.authoritative = true;
    msg.metadata.recursion_desired = request.metadata.recursion_desired;
    msg.metadata.checking_disabled = request.metadata.checking_disabled;
    msg.metadata.response_code = ResponseCode::NoError;
    if with_question {
        msg.queries = request.queries.clone();
    }
    msg
}
