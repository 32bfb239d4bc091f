//! Building and encoding responses: header flags, the echoed question, OPT (RFC 6891), and
//! truncation to the client's size limit with whole RRsets only (RFC 2181 §9).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::time::Instant;

use super::ede_option::add_stale_ede;
use super::request::{EdnsInfo, Malformed, Request, Transport};
use crate::limits::CLASSIC_UDP_PAYLOAD;
use crate::resolver::Resolution;
use crate::tsig::Verified;

/// The largest DNS message over TCP (RFC 1035 §4.2.2 two-byte length).
const TCP_MAX: usize = u16::MAX as usize;

/// What a response copies from its request (RFC 1035 §4.1.1): the ID, the opcode, RD and CD,
/// the question; and the request's OPT, which calls for one in the response (RFC 6891 §6.1.1).
#[derive(Debug, Clone, Copy)]
pub(super) struct Echo<'a> {
    pub(super) id: u16,
    pub(super) op_code: OpCode,
    pub(super) recursion_desired: bool,
    pub(super) checking_disabled: bool,
    pub(super) query: Option<&'a Query>,
    pub(super) edns: Option<EdnsInfo>,
}

impl<'a> Echo<'a> {
    /// What the response to a query echoes: all of it (RFC 4035 §3.1.6 for CD).
    pub(super) fn of(req: &'a Request) -> Echo<'a> {
        Echo {
            id: req.id,
            op_code: req.op_code,
            recursion_desired: req.recursion_desired,
            checking_disabled: req.checking_disabled,
            query: Some(&req.query),
            edns: req.edns,
        }
    }
}

/// The one response shell every answer starts from: header echoed, QR=1, `rcode`, the question
/// as sent, and our OPT when the request had one.
pub(super) fn shell(echo: &Echo<'_>, rcode: ResponseCode, our_payload: u16) -> Message {
    let mut m = Message::new(echo.id, MessageType::Response, echo.op_code);
    m.metadata.recursion_desired = echo.recursion_desired;
    m.metadata.checking_disabled = echo.checking_disabled;
    m.metadata.response_code = rcode;
    if let Some(q) = echo.query {
        m.add_query(q.clone());
    }
    if let Some(info) = echo.edns {
        m.set_edns(our_opt(info, our_payload));
    }
    m
}

/// An empty response to `req`: id, opcode, RD and CD copied, question echoed as sent, and an
/// OPT record when the request had one (RFC 6891 §6.1.1).
pub(crate) fn reply_to(req: &Request, our_payload: u16) -> Message {
    shell(&Echo::of(req), ResponseCode::NoError, our_payload)
}

/// The bytes of a response: encoded within `limit` less the room its TSIG takes (RFC 8945 §5.3:
/// the TSIG is never what is dropped to fit), then signed as the request's `tsig` verdict calls
/// for (unsigned and malformed: unchanged). `None` when it cannot be signed: an unsigned answer
/// to a signed request would be rejected by the client anyway.
pub(super) fn finish(
    message: Message,
    limit: usize,
    optional_authority: bool,
    tsig: &Verified,
    now_unix: u64,
) -> Option<Vec<u8>> {
    let bytes = encode(
        message,
        limit.saturating_sub(tsig.tsig_len()),
        optional_authority,
    );
    match crate::tsig::sign_response(bytes, tsig, now_unix) {
        Ok(signed) => Some(signed),
        Err(e) => {
            tracing::warn!(error = %e, "cannot sign a response; sending nothing");
            None
        }
    }
}

/// Our OPT in reply to the requestor's: our payload size, version 0, DO copied (RFC 3225 §3).
pub(super) fn our_opt(theirs: EdnsInfo, our_payload: u16) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(our_payload);
    edns.set_version(0);
    edns.set_dnssec_ok(theirs.dnssec_ok);
    edns
}

/// The bytes to send for a packet that did not parse as a request, if any, with an OPT
/// advertising `our_payload` when the request had one. These replies are a header, at most one
/// question and an OPT, so they always fit 512 bytes.
pub(crate) fn malformed_reply(bad: &Malformed, our_payload: u16) -> Option<Vec<u8>> {
    match bad {
        Malformed::Drop => None,
        Malformed::Reply {
            id,
            op_code,
            recursion_desired,
            query,
            rcode,
            edns,
        } => {
            let echo = Echo {
                id: *id,
                op_code: *op_code,
                recursion_desired: *recursion_desired,
                checking_disabled: false,
                query: query.as_ref(),
                edns: *edns,
            };
            shell(&echo, *rcode, our_payload).to_vec().ok()
        }
    }
}

/// How many bytes the response to `req` may take: over UDP the requestor's EDNS payload size
/// (never below 512) or 512 without EDNS, capped by ours; over TCP the 64 KiB frame.
pub fn size_limit(req: &Request, our_payload: u16) -> usize {
    size_limit_for(req.transport, req.edns, our_payload)
}

/// [`size_limit`] for any request, whatever its opcode.
pub(super) fn size_limit_for(
    transport: Transport,
    edns: Option<EdnsInfo>,
    our_payload: u16,
) -> usize {
    match transport {
        Transport::Tcp => TCP_MAX,
        Transport::Udp => match edns {
            Some(info) => usize::from(info.payload.min(our_payload).max(CLASSIC_UDP_PAYLOAD)),
            None => usize::from(CLASSIC_UDP_PAYLOAD),
        },
    }
}

/// Encodes `msg` within `limit` bytes. Optional additional RRsets are dropped first, from the
/// end, then an `optional_authority` section (NSD drops it the same way, without TC); if
/// answer, authority and the in-domain glue of a referral still do not fit, TC=1 is set and
/// only the whole answer RRsets that fit are kept, so the client retries over TCP.
pub fn encode(mut msg: Message, limit: usize, optional_authority: bool) -> Vec<u8> {
    match msg.to_vec() {
        Ok(bytes) if bytes.len() <= limit => return bytes,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot encode response; sending SERVFAIL");
            return servfail_bytes(&msg);
        }
    }
    // RFC 9471 §3: a referral's in-domain glue is not optional; if it does not all fit, TC=1.
    // Keep it at the front so only the optional records behind it are dropped.
    // Beside a positive answer the NS set is optional, and so are its servers' addresses.
    let (glue, optional): (Vec<Record>, Vec<Record>) = std::mem::take(&mut msg.additionals)
        .into_iter()
        .partition(|r| !optional_authority && is_in_domain_glue(r, &msg.authorities));
    let required = glue.len();
    msg.additionals = glue;
    msg.additionals.extend(optional);
    while msg.additionals.len() > required {
        // Glue and optional records never share an RRset (the split is by owner and type), so
        // this pops optional records only.
        pop_rrset(&mut msg.additionals);
        if let Ok(bytes) = msg.to_vec()
            && bytes.len() <= limit
        {
            return bytes;
        }
    }
    if optional_authority && !msg.authorities.is_empty() {
        msg.authorities.clear();
        if let Ok(bytes) = msg.to_vec()
            && bytes.len() <= limit
        {
            return bytes;
        }
    }
    msg.metadata.truncation = true;
    msg.authorities.clear();
    msg.additionals.clear();
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

/// An address record for the target of a referral NS record, at or below that NS record's
/// owner (the zone cut): the resolver cannot reach the child without it (RFC 9471 §2.1).
fn is_in_domain_glue(record: &Record, authorities: &[Record]) -> bool {
    matches!(record.record_type(), RecordType::A | RecordType::AAAA)
        && authorities.iter().any(|ns| match &ns.data {
            RData::NS(target) => target.0 == record.name && ns.name.zone_of(&record.name),
            _ => false,
        })
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
    let echo = Echo {
        id: msg.metadata.id,
        op_code: msg.metadata.op_code,
        recursion_desired: msg.metadata.recursion_desired,
        checking_disabled: false,
        query: msg.queries.first(),
        edns: None,
    };
    // A header and a question always encode; an empty vector would simply not be sent.
    shell(&echo, ResponseCode::ServFail, 0)
        .to_vec()
        .unwrap_or_default()
}

/// A response with only an RCODE, for refusals and errors.
pub(crate) fn with_rcode(req: &Request, our_payload: u16, rcode: ResponseCode) -> Message {
    shell(&Echo::of(req), rcode, our_payload)
}

/// A response, and what may be left out of it when it does not fit.
#[derive(Debug)]
pub struct Response {
    pub message: Message,
    /// The authority section only repeats the zone's NS set beside a positive answer (as NSD
    /// does); it is dropped, like optional additional data, before anything is truncated.
    pub optional_authority: bool,
    /// Whether the hit path may give this answer again, and how (see `Reuse`).
    pub(crate) reuse: Reuse,
    /// Upstream queries the answer cost, when the resolver answered (0: from the cache).
    pub upstream_queries: Option<usize>,
    /// For a resolver's answer, when its TTLs were current (after a walk, when its last reply
    /// was read): the hit path counts them down from then, not from the request's arrival.
    pub as_of: Option<Instant>,
}

/// Which answers the hit path keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Reuse {
    #[default]
    No,
    /// A resolver's answer (not stale): kept until its first TTL runs out, TTLs lowered.
    Resolved,
    /// An authoritative answer of a server without recursion, from zones that do not reorder
    /// answers: kept as is until the zones change.
    Local,
}

impl From<Message> for Response {
    fn from(message: Message) -> Response {
        Response {
            message,
            optional_authority: false,
            reuse: Reuse::No,
            upstream_queries: None,
            as_of: None,
        }
    }
}

/// Puts a resolution into `m`, after whatever local records its answer section already holds.
pub(super) fn add_resolution(m: &mut Message, res: Resolution) {
    m.metadata.response_code = res.rcode;
    if res.stale {
        add_stale_ede(m, res.rcode);
    }
    res.fill_sections(m);
    m.additionals.clear();
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::{A, AAAA, NS, TXT};

    use super::*;

    fn req(edns: Option<u16>, transport: Transport) -> Request {
        Request {
            id: 1,
            op_code: OpCode::Query,
            recursion_desired: false,
            checking_disabled: false,
            authentic_data: false,
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
            signed: false,
        }
    }

    #[test]
    fn malformed_replies_carry_opt_when_the_request_did() {
        let bad = |edns| Malformed::Reply {
            id: 9,
            op_code: OpCode::Status,
            recursion_desired: true,
            query: None,
            rcode: ResponseCode::NotImp,
            edns,
        };
        let info = EdnsInfo {
            payload: 4096,
            version: 0,
            dnssec_ok: true,
        };
        let bytes = malformed_reply(&bad(Some(info)), 1400).expect("a reply");
        let m = Message::from_vec(&bytes).expect("parses");
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (9, ResponseCode::NotImp)
        );
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(m.metadata.recursion_desired);
        let opt = m.edns.expect("OPT echoed (RFC 6891 §6.1.1)");
        assert_eq!((opt.max_payload(), opt.version()), (1400, 0));
        assert!(opt.flags().dnssec_ok);

        let bytes = malformed_reply(&bad(None), 1232).expect("a reply");
        assert!(Message::from_vec(&bytes).expect("parses").edns.is_none());
        assert_eq!(malformed_reply(&Malformed::Drop, 1232), None);
    }

    #[test]
    fn size_limits_follow_rfc_6891() {
        assert_eq!(size_limit(&req(None, Transport::Udp), 1232), 512);
        assert_eq!(size_limit(&req(Some(4096), Transport::Udp), 1232), 1232);
        assert_eq!(size_limit(&req(Some(700), Transport::Udp), 1232), 700);
        assert_eq!(size_limit(&req(None, Transport::Tcp), 1232), 65535);
    }

    fn rr(owner: &str, data: RData) -> Record {
        Record::from_rdata(Name::from_ascii(owner).expect("name"), 60, data)
    }

    /// A referral to `sub.test.` with `n` in-domain name servers, each with A and AAAA glue,
    /// and one out-of-domain server whose address record is optional.
    fn referral(n: usize) -> Message {
        let mut m = reply_to(&req(None, Transport::Udp), 1232);
        for i in 0..n {
            let ns = format!("a-rather-long-name-server-label-{i}.sub.test.");
            m.add_authority(rr(
                "sub.test.",
                RData::NS(NS(Name::from_ascii(&ns).expect("name"))),
            ));
            m.add_additional(rr(&ns, RData::A(A::new(192, 0, 2, 1))));
            m.add_additional(rr(
                &ns,
                RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            ));
        }
        m.add_authority(rr(
            "sub.test.",
            RData::NS(NS(Name::from_ascii("ns.elsewhere.example.").expect("name"))),
        ));
        m.add_additional(rr(
            "ns.elsewhere.example.",
            RData::A(A::new(198, 51, 100, 1)),
        ));
        m
    }

    #[test]
    fn optional_authority_is_dropped_before_truncating() {
        // A positive answer that fits only without the zone's NS set and its addresses: NSD
        // drops those and sends the answer whole, TC=0.
        let mut m = referral(4);
        let answer = rr("www.sub.test.", RData::A(A::new(192, 0, 2, 80)));
        m.add_answer(answer.clone());
        let limit = {
            let mut bare = m.clone();
            bare.authorities.clear();
            bare.additionals.clear();
            bare.to_vec().expect("encode").len()
        };
        let back = Message::from_vec(&encode(m.clone(), limit, true)).expect("parses");
        assert!(!back.metadata.truncation);
        assert_eq!(back.answers, vec![answer]);
        assert!(back.authorities.is_empty() && back.additionals.is_empty());
        // The same message with a required authority section (a referral after a CNAME) is
        // truncated instead.
        let back = Message::from_vec(&encode(m, limit, false)).expect("parses");
        assert!(back.metadata.truncation);
    }

    #[test]
    fn referral_keeps_in_domain_glue_or_sets_tc() {
        // Fits once the optional out-of-domain address is gone: no TC, all glue kept.
        let m = referral(4);
        let full = m.to_vec().expect("encode").len();
        let optional = rr("ns.elsewhere.example.", RData::A(A::new(198, 51, 100, 1)));
        let bytes = encode(m, full - 1, false);
        let back = Message::from_vec(&bytes).expect("parses");
        assert!(!back.metadata.truncation);
        assert_eq!(back.additionals.len(), 8, "all in-domain glue kept");
        assert!(
            !back.additionals.contains(&optional),
            "optional record dropped"
        );
        assert_eq!(back.authorities.len(), 5);

        // Glue that does not all fit: TC=1 rather than a referral missing glue (RFC 9471 §3).
        let m = referral(8);
        assert!(m.to_vec().expect("encode").len() > 512);
        let bytes = encode(m, 512, false);
        assert!(bytes.len() <= 512);
        let back = Message::from_vec(&bytes).expect("parses");
        assert!(back.metadata.truncation, "TC=1 when glue is cut");
        assert!(back.additionals.is_empty() && back.authorities.is_empty());
    }

    #[test]
    fn glue_is_only_addresses_of_ns_targets_below_the_cut() {
        let ns = [rr(
            "sub.test.",
            RData::NS(NS(Name::from_ascii("NS1.sub.test.").expect("name"))),
        )];
        let a = |owner: &str| rr(owner, RData::A(A::new(192, 0, 2, 1)));
        assert!(
            is_in_domain_glue(&a("ns1.SUB.test."), &ns),
            "case-insensitive"
        );
        assert!(!is_in_domain_glue(&a("ns2.sub.test."), &ns), "not a target");
        let txt = rr("ns1.sub.test.", RData::TXT(TXT::new(vec!["x".into()])));
        assert!(!is_in_domain_glue(&txt, &ns), "not an address");
        let sibling = [rr(
            "sub.test.",
            RData::NS(NS(Name::from_ascii("ns.other.test.").expect("name"))),
        )];
        assert!(
            !is_in_domain_glue(&a("ns.other.test."), &sibling),
            "sibling glue is optional"
        );
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
        let bytes = encode(m, 512, false);
        assert!(bytes.len() <= 512);
        let back = Message::from_vec(&bytes).expect("parses");
        assert!(back.metadata.truncation);
        assert!(
            back.answers.is_empty(),
            "one RRset that does not fit is dropped whole"
        );
    }
}
