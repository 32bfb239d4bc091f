//! NOTIFY in (RFC 1996): a primary tells us one of our secondary zones changed. Who may say so
//! (the zone's primaries, with its key when it has one) is the receiver's business; this module
//! checks the question and answers (the edge has checked the TSIG).

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use tracing::debug;

use super::edge::{Decoded, Outcome};
use super::response;
use crate::metrics::Metrics;

/// Takes NOTIFYs for the zones we are secondary for. The replication side implements it.
pub(crate) trait NotifyReceiver: Send + Sync {
    /// `zone` was notified by `from`, signed with `key` (validly; `None`: unsigned). The answer:
    /// NOERROR when accepted (a check of the primary is scheduled), NOTAUTH when `zone` is not a
    /// secondary zone here, REFUSED when `from` is not one of its primaries or the key is wrong.
    fn notified(&self, zone: &Name, from: IpAddr, key: Option<&Name>) -> ResponseCode;
}

/// Answers one NOTIFY request whose TSIG the edge found valid or absent.
pub(super) fn serve(
    receiver: Option<&dyn NotifyReceiver>,
    d: &Decoded<'_>,
    metrics: &Metrics,
    our_payload: u16,
) -> Outcome {
    let rcode = match d.question() {
        // RFC 1996 §3.7: one question, QTYPE SOA (the only type NOTIFY is defined for).
        Some(q) if q.query_type() == RecordType::SOA => match receiver {
            Some(r) => r.notified(q.name(), d.src.ip(), d.tsig.key()),
            None => ResponseCode::NotImp,
        },
        _ => ResponseCode::FormErr,
    };
    debug!(client = %d.src, %rcode, "NOTIFY");
    Metrics::inc(&metrics.notifies_received);
    let mut m = response::shell(&d.echo(), rcode, our_payload);
    // RFC 1996 §4.7: the response echoes the question; AA as the request had it.
    m.metadata.authoritative = rcode == ResponseCode::NoError;
    m.into()
}
