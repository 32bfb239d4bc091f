//! NOTIFY in (RFC 1996): a primary tells us one of our secondary zones changed. Who may say so
//! (the zone's primaries, with its key when it has one) is the receiver's business; this module
//! checks the message, the TSIG, and answers.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tracing::debug;

use super::response;
use crate::handler::request::EdnsInfo;
use crate::metrics::Metrics;
use crate::tsig::{self, Keyring, Verified};

/// Takes NOTIFYs for the zones we are secondary for. The replication side implements it.
pub trait NotifyReceiver: Send + Sync {
    /// `zone` was notified by `from`, signed with `key` (validly; `None`: unsigned). The answer:
    /// NOERROR when accepted (a check of the primary is scheduled), NOTAUTH when `zone` is not a
    /// secondary zone here, REFUSED when `from` is not one of its primaries or the key is wrong.
    fn notified(&self, zone: &Name, from: IpAddr, key: Option<&Name>) -> ResponseCode;
}

/// True for a request with opcode NOTIFY (and QR=0: a NOTIFY response is not for us here).
pub(super) fn is_notify(header: &hickory_proto::op::Header) -> bool {
    header.metadata.op_code == OpCode::Notify && header.metadata.message_type == MessageType::Query
}

/// Answers one NOTIFY request. `None`: send nothing.
pub(super) fn handle(
    receiver: Option<&dyn NotifyReceiver>,
    keyring: &Keyring,
    metrics: &Metrics,
    bytes: &[u8],
    src: SocketAddr,
    now: u64,
    our_payload: u16,
) -> Option<Vec<u8>> {
    let Ok(request) = Message::from_vec(bytes) else {
        Metrics::inc(&metrics.formerr);
        return response::unparsable(bytes, OpCode::Notify);
    };
    let verified = tsig::verify(bytes, &request, keyring, now);
    let rcode = match (&verified, request.queries.as_slice()) {
        (v, _) if v.rcode().is_some() => v.rcode().unwrap_or(ResponseCode::NotAuth),
        // RFC 1996 §3.7: one question, QTYPE SOA (the only type NOTIFY is defined for).
        (_, [q]) if q.query_type() == RecordType::SOA => match receiver {
            Some(r) => r.notified(q.name(), src.ip(), verified.key()),
            None => ResponseCode::NotImp,
        },
        _ => ResponseCode::FormErr,
    };
    debug!(client = %src, %rcode, "NOTIFY");
    Metrics::inc(&metrics.notifies_received);
    let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Notify);
    m.metadata.response_code = rcode;
    // RFC 1996 §4.7: the response echoes the question; AA as the request had it.
    m.metadata.authoritative = rcode == ResponseCode::NoError;
    if let [q] = request.queries.as_slice() {
        m.add_query(q.clone());
    }
    if let Some(edns) = &request.edns {
        m.set_edns(response::our_opt(EdnsInfo::of(edns), our_payload));
    }
    let out = m.to_vec().ok()?;
    match verified {
        Verified::Unsigned | Verified::Malformed { .. } => Some(out),
        _ => tsig::sign_response(out, &verified, now).ok(),
    }
}
