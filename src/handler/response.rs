//! Building and encoding responses: header flags, the echoed question, OPT (RFC 6891), and
//! truncation to the client's size limit with whole RRsets only (RFC 2181 §9).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::Record;

use super::request::{Malformed, Request, Transport};
use crate::limits::CLASSIC_UDP_PAYLOAD;

/// The largest DNS message over TCP (RFC 1035 §4.2.2 two-byte length).
const TCP_MAX: usize = u16::MAX as usize;

/// An empty response to `req`: id, opcode, RD and CD copied, question echoed as sent, and an
/// OPT record when the request had one (RFC 6891 §6.1.1).
pub fn reply_to(req: &Request, our_payload: u16) -> Message {
    let mut m = Message::new(req.id, MessageType::Response, req.op_code);
    m.metadata.recursion_desired = req.recursion_desired;
    m.metadata.checking_disabled = req.checking_disabled;
    m.add_query(req.query.clone());
    if let Some(info) = req.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(our_payload);
        edns.set_version(0);
        // RFC 3225 §3: the DO bit is copied into the response.
        edns.set_dnssec_ok(info.dnssec_ok);
        m.set_edns(edns);
    }
    m
}

/// The bytes to send for a packet that did not parse as a request, if any.
pub fn malformed_reply(bad: &Malformed) -> Option<Vec<u8>> {
    match bad {
        Malformed::Drop => None,
        Malformed::Reply {
            id,
            op_code,
            recursion_desired,
            query,
            rcode,
        } => {
            let mut m = Message::new(*id, MessageType::Response, *op_code);
            m.metadata.recursion_desired = *recursion_desired;
            m.metadata.response_code = *rcode;
            if let Some(q) = query {
                m.add_query(q.clone());
            }
            m.to_vec().ok()
        }
    }
}

/// How many bytes the response to `req` may take: over UDP the requestor's EDNS payload size
/// (never below 512) or 512 without EDNS, capped by ours; over TCP the 64 KiB frame.
pub fn size_limit(req: &Request, our_payload: u16) -> usize {
    match req.transport {
        Transport::Tcp => TCP_MAX,
        Transport::Udp => match req.edns {
            Some(info) => usize::from(info.payload.min(our_payload).max(CLASSIC_UDP_PAYLOAD)),
            None => usize::from(CLASSIC_UDP_PAYLOAD),
        },
    }
}

/// Encodes `msg` within `limit` bytes. Additional RRsets are dropped first, from the end, since
/// they are optional; if answer and authority still do not fit, TC=1 is set and only the whole
/// answer RRsets that fit are kept, so the client retries over TCP.
pub fn encode(mut msg: Message, limit: usize) -> Vec<u8> {
    match msg.to_vec() {
        Ok(bytes) if bytes.len() <= limit => return bytes,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot encode response; sending SERVFAIL");
            return servfail_bytes(&msg);
        }
    }
    while !msg.additionals.is_empty() {
        pop_rrset(&mut msg.additionals);
        if let Ok(bytes) = msg.to_vec()
            && bytes.len() <= limit
        {
            return bytes;
        }
    }
    msg.metadata.truncation = true;
    msg.authorities.clear();
    let answers = std::mem::take(&mut msg.answers);
    let mut kept = 0;
    for end in rrset_ends(&answers) {
        msg.answers = answers[..end].to_vec();
        match msg.to_vec() {
            Ok(b) if b.len() <= limit => kept = end,
            _ => break,
        }
    }
    msg.answers = answers[..kept].to_vec();
    msg.to_vec().unwrap_or_else(|_| servfail_bytes(&msg))
}

/// Indices just past each RRset (a run of records with one owner and type) in `records`.
fn rrset_ends(records: &[Record]) -> Vec<usize> {
    let mut ends = Vec::new();
    for i in 1..=records.len() {
        if i == records.len() || !same_rrset(&records[i - 1], &records[i]) {
            ends.push(i);
        }
    }
    ends
}

fn same_rrset(a: &Record, b: &Record) -> bool {
    a.record_type() == b.record_type() && a.name == b.name
}

fn pop_rrset(records: &mut Vec<Record>) {
    if let Some(last) = records.pop() {
        while records.last().is_some_and(|r| same_rrset(r, &last)) {
            records.pop();
        }
    }
}

fn servfail_bytes(msg: &Message) -> Vec<u8> {
    let mut m = Message::new(msg.metadata.id, MessageType::Response, msg.metadata.op_code);
    m.metadata.response_code = ResponseCode::ServFail;
    m.metadata.recursion_desired = msg.metadata.recursion_desired;
    m.queries = msg.queries.clone();
    // A header and a question always encode; an empty vector would simply not be sent.
    m.to_vec().unwrap_or_default()
}

/// A response with only an RCODE, for refusals and errors.
pub fn with_rcode(req: &Request, our_payload: u16, rcode: ResponseCode) -> Message {
    let mut m = reply_to(req, our_payload);
    m.metadata.response_code = rcode;
    m
}

/// Convenience for tests and tools: a standard query message.
pub fn query_message(id: u16, query: Query, recursion_desired: bool) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = recursion_desired;
    m.add_query(query);
    m
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{Name, RData, RecordType};

    use super::*;
    use crate::handler::request::EdnsInfo;

    fn req(edns: Option<u16>, transport: Transport) -> Request {
        Request {
            id: 1,
            op_code: OpCode::Query,
            recursion_desired: false,
            checking_disabled: false,
            query: Query::query(
                Name::from_ascii("big.test.").expect("name"),
                RecordType::TXT,
            ),
            edns: edns.map(|payload| EdnsInfo {
                payload,
                version: 0,
                dnssec_ok: false,
            }),
            src: SocketAddr::from(([127, 0, 0, 1], 1)),
            transport,
        }
    }

    #[test]
    fn size_limits_follow_rfc_6891() {
        assert_eq!(size_limit(&req(None, Transport::Udp), 1232), 512);
        assert_eq!(size_limit(&req(Some(4096), Transport::Udp), 1232), 1232);
        assert_eq!(size_limit(&req(Some(700), Transport::Udp), 1232), 700);
        assert_eq!(size_limit(&req(None, Transport::Tcp), 1232), 65535);
    }

    #[test]
    fn oversized_answer_is_truncated_to_whole_rrsets() {
        let r = req(None, Transport::Udp);
        let mut m = reply_to(&r, 1232);
        let owner = Name::from_ascii("big.test.").expect("name");
        for i in 0..10 {
            let txt = RData::TXT(TXT::new(vec![format!("{i}{}", "x".repeat(100))]));
            m.add_answer(Record::from_rdata(owner.clone(), 60, txt));
        }
        let bytes = encode(m, 512);
        assert!(bytes.len() <= 512);
        let back = Message::from_vec(&bytes).expect("parses");
        assert!(back.metadata.truncation);
        assert!(
            back.answers.is_empty(),
            "one RRset that does not fit is dropped whole"
        );
    }
}
