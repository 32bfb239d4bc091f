//! Zone transfers out (AXFR, RFC 5936; IXFR, RFC 1995) and NOTIFY in (RFC 1996): who may
//! transfer which zone, and the stream of messages a transfer is. What a zone holds and how it
//! changed (its history) comes with the zone snapshot; this module decides and encodes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tracing::{debug, info, warn};

use super::notify::NotifyReceiver;
use super::response;
use crate::acl::TransferAcl;
use crate::authority::Catalog;
use crate::authority::transfer::{IxfrAnswer, axfr_records, ixfr_answer, pack};
use crate::handler::request::EdnsInfo;
use crate::metrics::Metrics;
use crate::tsig::{self, Keyring, ResponseStream, Verified};

/// The most a message can be over TCP (RFC 1035 §4.2.2: a 16-bit length prefix).
const TCP_MESSAGE_MAX: usize = 65_535;

/// What a request over TCP gets: one message, or the messages of a transfer, produced (encoded
/// and signed) as the connection's writer drains them.
pub enum Reply {
    One(Vec<u8>),
    Stream(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

/// A request for AXFR or IXFR (QR=0, opcode QUERY, one question), judged by header and question.
pub(super) fn is_transfer(bytes: &[u8]) -> bool {
    let mut decoder = BinDecoder::new(bytes);
    let Ok(header) = Header::read(&mut decoder) else {
        return false;
    };
    if header.metadata.op_code != OpCode::Query
        || header.metadata.message_type != MessageType::Query
        || header.counts.queries != 1
    {
        return false;
    }
    hickory_proto::op::Query::read(&mut decoder)
        .is_ok_and(|q| matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR))
}

/// Who may transfer what, and who takes NOTIFYs. Zones without an entry are never transferred.
pub struct Transfers {
    keyring: Keyring,
    acls: HashMap<LowerName, TransferAcl>,
    receiver: Option<Arc<dyn NotifyReceiver>>,
}

impl Transfers {
    pub fn new(keyring: Keyring) -> Transfers {
        Transfers {
            keyring,
            acls: HashMap::new(),
            receiver: None,
        }
    }

    /// Lets `acl` transfer `zone`.
    pub fn allow(mut self, zone: &Name, acl: TransferAcl) -> Transfers {
        self.acls.insert(LowerName::new(zone), acl);
        self
    }

    /// NOTIFYs for our secondary zones go to `receiver`; without one, NOTIFY is NOTIMP.
    pub fn notify_to(mut self, receiver: Arc<dyn NotifyReceiver>) -> Transfers {
        self.receiver = Some(receiver);
        self
    }

    pub(super) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub(super) fn receiver(&self) -> Option<&dyn NotifyReceiver> {
        self.receiver.as_deref()
    }

    pub(super) fn acl(&self, zone: &Name) -> Option<&TransferAcl> {
        self.acls.get(&LowerName::new(zone))
    }
}

/// Answers one AXFR or IXFR request received over TCP (`is_transfer` said so).
///
/// In RFC 8945 §5.2's order: the TSIG first (NOTAUTH with its error), then the question
/// (FORMERR), the zone (NOTAUTH when not ours, SERVFAIL when ours but without data), the ACL
/// (REFUSED), and for IXFR the client's SOA in the authority section (FORMERR without it,
/// RFC 1995 §3). Then the records: AXFR (RFC 5936 §2.2), or IXFR from the zone's history, in
/// full when the history does not reach back to the client's serial (RFC 1995 §4).
pub(super) fn handle(
    transfers: &Transfers,
    catalog: &Catalog,
    metrics: &Arc<Metrics>,
    bytes: &[u8],
    src: SocketAddr,
    now: u64,
) -> Option<Reply> {
    let Ok(request) = Message::from_vec(bytes) else {
        Metrics::inc(&metrics.formerr);
        return response::unparsable(bytes, OpCode::Query).map(Reply::One);
    };
    let verified = tsig::verify(bytes, &request, &transfers.keyring, now);
    let refuse = |rcode: ResponseCode, why: &str| {
        Metrics::inc(&metrics.transfers_refused);
        debug!(client = %src, %rcode, why, "transfer refused");
        refusal(&request, rcode, &verified, now).map(Reply::One)
    };
    if let Some(rcode) = verified.rcode() {
        return refuse(rcode, "bad TSIG");
    }
    let [question] = request.queries.as_slice() else {
        return refuse(ResponseCode::FormErr, "one question");
    };
    if question.query_class() != DNSClass::IN {
        return refuse(ResponseCode::NotAuth, "class not served");
    }
    let origin = question.name();
    let Some(zone) = catalog.zones().find(|z| z.origin() == origin) else {
        if catalog.is_unavailable(origin) {
            return refuse(ResponseCode::ServFail, "our copy is missing or expired");
        }
        return refuse(ResponseCode::NotAuth, "zone not served here");
    };
    let allowed = transfers
        .acl(origin)
        .is_some_and(|acl| acl.allows(src.ip(), verified.key()));
    if !allowed {
        return refuse(ResponseCode::Refused, "not in allow_transfer");
    }
    let (kind, records) = match question.query_type() {
        RecordType::AXFR => ("AXFR", axfr_records(zone)),
        _ => {
            let client = request.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) if r.name == *origin => Some(soa.serial),
                _ => None,
            });
            let Some(client) = client else {
                return refuse(ResponseCode::FormErr, "IXFR without the client's SOA");
            };
            match ixfr_answer(zone, zone.history(), client) {
                IxfrAnswer::UpToDate(soa) => ("IXFR up to date", vec![soa]),
                IxfrAnswer::Incremental(records) => ("IXFR", records),
                IxfrAnswer::Full(records) => ("IXFR in full", records),
            }
        }
    };
    Metrics::inc(&metrics.transfers_out);
    info!(zone = %origin, client = %src, kind, serial = zone.serial(), records = records.len(), "transfer");
    let mut signer = ResponseStream::new(&verified);
    let opt = request
        .edns
        .as_ref()
        .map(|e| response::our_opt(EdnsInfo::of(e), u16::MAX));
    let room = signer.tsig_len() + opt.as_ref().map_or(0, opt_len);
    let messages = pack(&request, records, TCP_MESSAGE_MAX - room);
    let stream = messages.into_iter().filter_map(move |mut m| {
        if let Some(opt) = &opt {
            m.set_edns(opt.clone());
        }
        let bytes = match m.to_vec() {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "cannot encode a transfer message");
                return None;
            }
        };
        match signer.sign(bytes, now) {
            Ok(signed) => Some(signed),
            Err(e) => {
                warn!(error = %e, "cannot sign a transfer message");
                None
            }
        }
    });
    Some(Reply::Stream(Box::new(stream)))
}

/// What `opt` adds to a message: encoded once on an empty message, less the header.
fn opt_len(opt: &Edns) -> usize {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.set_edns(opt.clone());
    m.to_vec()
        .map_or(TCP_MESSAGE_MAX / 2, |b| b.len().saturating_sub(12))
}

/// A one-message refusal echoing the question, signed as `verified` calls for.
fn refusal(
    request: &Message,
    rcode: ResponseCode,
    verified: &Verified,
    now: u64,
) -> Option<Vec<u8>> {
    let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.response_code = rcode;
    if let [q] = request.queries.as_slice() {
        m.add_query(q.clone());
    }
    tsig::sign_response(m.to_vec().ok()?, verified, now).ok()
}
