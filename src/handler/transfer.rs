//! Zone transfers out (AXFR, RFC 5936; IXFR, RFC 1995) and NOTIFY in (RFC 1996): who may
//! transfer which zone, and the stream of messages a transfer is. What a zone holds and how it
//! changed (its history) comes with the zone snapshot; this module decides and encodes.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use tracing::{debug, info, warn};

use super::edge::{Decoded, Outcome};
use super::notify::NotifyReceiver;
use super::response;
use super::transferred::{LastTransfer, Transferred};
use crate::acl::TransferAcl;
use crate::authority::Catalog;
use crate::authority::transfer::{IxfrAnswer, axfr_records, ixfr_answer, pack};
use crate::metrics::Metrics;
use crate::tsig::{Keyring, ResponseStream};

/// The most a message can be over TCP (RFC 1035 §4.2.2: a 16-bit length prefix).
const TCP_MESSAGE_MAX: usize = 65_535;

/// Who may transfer what, and who takes NOTIFYs. Zones without an entry are never transferred.
pub(crate) struct Transfers {
    keyring: Keyring,
    acls: HashMap<LowerName, TransferAcl>,
    receiver: Option<Arc<dyn NotifyReceiver>>,
    /// Each zone's clients' last transfers, for the dashboard.
    transferred: Transferred,
}

impl Transfers {
    pub(crate) fn new(keyring: Keyring) -> Transfers {
        Transfers {
            keyring,
            acls: HashMap::new(),
            receiver: None,
            transferred: Transferred::default(),
        }
    }

    /// Lets `acl` transfer `zone`.
    pub(crate) fn allow(mut self, zone: &Name, acl: TransferAcl) -> Transfers {
        self.acls.insert(LowerName::new(zone), acl);
        self
    }

    /// NOTIFYs for our secondary zones go to `receiver`; without one, NOTIFY is NOTIMP.
    pub(crate) fn notify_to(mut self, receiver: Arc<dyn NotifyReceiver>) -> Transfers {
        self.receiver = Some(receiver);
        self
    }

    pub(super) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    pub(super) fn receiver(&self) -> Option<&dyn NotifyReceiver> {
        self.receiver.as_deref()
    }

    pub(crate) fn transferred(&self) -> &Transferred {
        &self.transferred
    }

    pub(super) fn acl(&self, zone: &Name) -> Option<&TransferAcl> {
        self.acls.get(&LowerName::new(zone))
    }
}

/// Why a transfer is refused. Each has one RCODE (`rcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// RFC 5936 §2.2.1: exactly one question.
    QuestionCount,
    /// A class other than IN.
    Class,
    /// A zone of ours whose copy is missing or expired (a secondary that lost its primary).
    Unavailable,
    /// Not a zone we serve.
    NotServed,
    /// Not in the zone's `allow_transfer`.
    NotAllowed,
    /// RFC 1995 §3: an IXFR carries the client's SOA in its authority section.
    IxfrWithoutSoa,
}

impl Refusal {
    /// The one RCODE of each refusal (RFC 5936 §2.2.1 for NOTAUTH and REFUSED).
    fn rcode(self) -> ResponseCode {
        match self {
            Refusal::QuestionCount | Refusal::IxfrWithoutSoa => ResponseCode::FormErr,
            Refusal::Class | Refusal::NotServed => ResponseCode::NotAuth,
            Refusal::Unavailable => ResponseCode::ServFail,
            Refusal::NotAllowed => ResponseCode::Refused,
        }
    }
}

impl Transfers {
    /// Answers one AXFR or IXFR request received over TCP, its TSIG already checked at the
    /// edge (RFC 8945 §5.2 first).
    ///
    /// Then the question (FORMERR), the zone (NOTAUTH when not ours, SERVFAIL when ours but
    /// without data), the ACL (REFUSED), and for IXFR the client's SOA in the authority
    /// section (FORMERR without it, RFC 1995 §3). Then the records: AXFR (RFC 5936 §2.2), or
    /// IXFR from the zone's history, in full when the history does not reach back to the
    /// client's serial (RFC 1995 §4).
    pub(super) fn serve(
        &self,
        d: &Decoded<'_>,
        catalog: &Catalog,
        metrics: &Arc<Metrics>,
        our_payload: u16,
    ) -> Outcome {
        match self.records(d, catalog) {
            // RFC 1995 §2: an IXFR in one message (UDP) is answered with the single SOA of our
            // version: "up to date" to a current client, "query again over TCP" to the others
            // (tern does not try to fit increments into one datagram).
            Ok(t) if !d.may_stream => {
                debug!(zone = %t.origin, client = %d.src, serial = t.serial, "IXFR in one message: our SOA");
                let mut m = response::shell(&d.echo(), ResponseCode::NoError, our_payload);
                m.metadata.authoritative = true;
                m.answers = t.records;
                m.into()
            }
            Ok(t) => {
                Metrics::inc(&metrics.transfers_out);
                info!(zone = %t.origin, client = %d.src, kind = t.kind, serial = t.serial, records = t.records.len(), "transfer");
                // Edge: the time a client last transferred, read once per transfer.
                let last = LastTransfer {
                    client: d.src.ip(),
                    at: tokio::time::Instant::now(),
                    serial: t.serial,
                    kind: t.kind,
                };
                self.transferred.record(t.origin, last);
                Outcome::Stream(stream(d, t.records))
            }
            Err(refusal) => {
                Metrics::inc(&metrics.transfers_refused);
                let rcode = refusal.rcode();
                debug!(client = %d.src, %rcode, ?refusal, "transfer refused");
                // Over TCP the OPT in a refusal advertises nothing; over UDP (an IXFR), our
                // payload size.
                let payload = if d.may_stream { u16::MAX } else { our_payload };
                response::shell(&d.echo(), rcode, payload).into()
            }
        }
    }

    /// What the transfer sends, or why it is refused.
    fn records<'d>(&self, d: &'d Decoded<'_>, catalog: &Catalog) -> Result<Transfer<'d>, Refusal> {
        let question = d.question().ok_or(Refusal::QuestionCount)?;
        if question.query_class() != DNSClass::IN {
            return Err(Refusal::Class);
        }
        let origin = question.name();
        let Some(zone) = catalog.zones().find(|z| z.origin() == origin) else {
            if catalog.is_unavailable(origin) {
                return Err(Refusal::Unavailable);
            }
            return Err(Refusal::NotServed);
        };
        let allowed = self
            .acl(origin)
            .is_some_and(|acl| acl.allows(d.src.ip(), d.tsig.key()));
        if !allowed {
            return Err(Refusal::NotAllowed);
        }
        let (kind, records) = match question.query_type() {
            RecordType::AXFR => ("AXFR", axfr_records(zone)),
            // RFC 1995 §2: in one message (UDP) only our SOA, whatever the client's serial
            // (checked below for its presence): nothing else is worked out for it.
            _ if !d.may_stream => {
                d.message
                    .authorities
                    .iter()
                    .find(|r| matches!(r.data, RData::SOA(_)) && r.name == *origin)
                    .ok_or(Refusal::IxfrWithoutSoa)?;
                ("IXFR in one message", vec![zone.soa().clone()])
            }
            _ => {
                let client = d.message.authorities.iter().find_map(|r| match &r.data {
                    RData::SOA(soa) if r.name == *origin => Some(soa.serial),
                    _ => None,
                });
                let client = client.ok_or(Refusal::IxfrWithoutSoa)?;
                match ixfr_answer(zone, zone.history(), client) {
                    IxfrAnswer::UpToDate(soa) => ("IXFR up to date", vec![soa]),
                    IxfrAnswer::Incremental(records) => ("IXFR", records),
                    IxfrAnswer::Full(records) => ("IXFR in full", records),
                }
            }
        };
        Ok(Transfer {
            kind,
            origin,
            serial: zone.serial(),
            records,
        })
    }
}

/// A transfer about to be sent.
struct Transfer<'d> {
    /// AXFR, or which kind of IXFR answer (for the log).
    kind: &'static str,
    origin: &'d Name,
    serial: u32,
    records: Vec<Record>,
}

/// The messages of a transfer, each encoded and signed (RFC 8945 §5.3.1: each chained to the
/// one before) as the connection's writer takes it.
fn stream(d: &Decoded<'_>, records: Vec<Record>) -> Box<dyn Iterator<Item = Vec<u8>> + Send> {
    let now = d.now_unix;
    let mut signer = ResponseStream::new(&d.tsig);
    let opt = d.edns.map(|e| response::our_opt(e, u16::MAX));
    let room = signer.tsig_len() + opt.as_ref().map_or(0, opt_len);
    let messages = pack(&d.message, records, TCP_MESSAGE_MAX - room);
    Box::new(messages.into_iter().filter_map(move |mut m| {
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
    }))
}

/// What `opt` adds to a message: encoded once on an empty message, less the header.
fn opt_len(opt: &Edns) -> usize {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.set_edns(opt.clone());
    m.to_vec()
        .map_or(TCP_MESSAGE_MAX / 2, |b| b.len().saturating_sub(12))
}
