//! Building and encoding responses: header flags, the echoed question, OPT (RFC 6891), and
//! truncation to the client's size limit with whole RRsets only (RFC 2181 §9).

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::time::Instant;

use super::cookie::ReplyOption;
use super::ede_option::add_stale_ede;
use super::request::{EdnsInfo, Malformed, Request, Transport};
use crate::limits::CLASSIC_UDP_PAYLOAD;
use crate::resolver::Resolution;
use crate::tsig::Verified;
use crate::wire::padding;

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

/// How a response is to be encoded: within `limit` bytes, with `optional_authority` the
/// authority that may be dropped to fit, and padded (RFC 8467) when `pad`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub(super) limit: usize,
    pub(super) optional_authority: bool,
    pub(super) pad: bool,
}

/// The bytes of a response: encoded within the limit less the room its TSIG takes (RFC 8945
/// §5.3: the TSIG is never what is dropped to fit), padded when asked, then signed as the
/// request's `tsig` verdict calls for (unsigned and malformed: unchanged). `None` when it
/// cannot be signed: an unsigned answer to a signed request would be rejected by the client
/// anyway. A signed response is not padded: the TSIG would follow the padding and spoil the
/// block length, and a transfer's signed messages gain nothing from hiding their sizes.
/// `kept`: the message's wire form without OPT, made already (by the message tier, which
/// keeps it), used in place of a second encoding when it still fits (see [`from_kept`]).
pub(super) fn finish(
    mut message: Message,
    kept: Option<Vec<u8>>,
    shape: Shape,
    tsig: &Verified,
    now_unix: u64,
) -> Option<Vec<u8>> {
    let limit = shape.limit.saturating_sub(tsig.tsig_len());
    let reserved = (shape.pad && tsig.tsig_len() == 0)
        .then(|| padding::reserve(&mut message))
        .flatten();
    let reused = kept
        .filter(|_| reserved.is_none() && tsig.tsig_len() == 0)
        .and_then(|kept| from_kept(kept, &message, limit));
    let mut bytes = match reused {
        Some(bytes) => bytes,
        None => encode(message, limit, shape.optional_authority),
    };
    if let Some(rdata_len) = reserved {
        padding::grow(&mut bytes, rdata_len, limit, padding::RESPONSE_BLOCK);
    }
    match crate::tsig::sign_response(bytes, tsig, now_unix) {
        Ok(signed) => Some(signed),
        Err(e) => {
            tracing::warn!(error = %e, "cannot sign a response; sending nothing");
            None
        }
    }
}

/// `message` in wire form from `kept`, its encoding without OPT made before the last changes a
/// response may see (AD cleared for a client that did not ask for it, our COOKIE added): the
/// header's flags written again and the OPT appended, which is what hickory's encoder would
/// write (the OPT comes last, and its owner, the root, is never compressed). `None` when the
/// sections are no longer those encoded (RRL's slip empties them and sets TC), when it does
/// not fit `limit`, or when an option is not plain bytes: the caller encodes it then.
fn from_kept(mut kept: Vec<u8>, message: &Message, limit: usize) -> Option<Vec<u8>> {
    let counts = crate::wire::counts(&kept)?;
    let sections = [
        message.queries.len(),
        message.answers.len(),
        message.authorities.len(),
        message.additionals.len(),
    ];
    if message.metadata.truncation || message.signature.is_some() || counts != sections {
        return None;
    }
    kept.get_mut(2..4)?
        .copy_from_slice(&crate::wire::header_flags(&message.metadata));
    if let Some(edns) = &message.edns {
        let additionals = u16::try_from(counts[3] + 1).ok()?;
        kept[10..12].copy_from_slice(&additionals.to_be_bytes());
        crate::wire::push_edns(edns, message.metadata.response_code.high(), &mut kept)?;
    }
    (kept.len() <= limit).then_some(kept)
}

/// Tells a client that asked (RFC 7828 §3.3.2) how long the connection may sit idle, in units
/// of 100 ms.
pub(super) fn add_keepalive(m: &mut Message, idle_timeout: std::time::Duration) {
    let units = u16::try_from(idle_timeout.as_millis() / 100).unwrap_or(u16::MAX);
    if let Some(edns) = m.edns.as_mut() {
        edns.options_mut()
            .insert(EdnsOption::Unknown(KEEPALIVE, units.to_be_bytes().to_vec()));
    }
}

/// The edns-tcp-keepalive option's code (RFC 7828 §3.1).
const KEEPALIVE: u16 = 11;

/// Our OPT in reply to the requestor's: our payload size, version 0, DO copied (RFC 3225 §3).
pub(super) fn our_opt(theirs: EdnsInfo, our_payload: u16) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(our_payload);
    edns.set_version(0);
    edns.set_dnssec_ok(theirs.dnssec_ok);
    edns
}

/// Puts our COOKIE option (the client cookie and our server cookie, RFC 7873 §5.2) into a
/// response's OPT. A response without OPT has nowhere to carry it: the request it answers had
/// none, so it sent no cookie either.
pub(super) fn add_cookie(m: &mut Message, cookie: &ReplyOption) {
    if let Some(edns) = m.edns.as_mut() {
        edns.options_mut().insert(EdnsOption::Unknown(
            super::cookie::OPTION_CODE,
            cookie.data().to_vec(),
        ));
    }
}

/// The reply to a packet that did not parse as a request, if any (the edge holds it to RRL
/// and encodes it), with an OPT
/// advertising `our_payload` when the request had one. These replies are a header, at most one
/// question and an OPT, so they always fit 512 bytes.
/// `cookie`: our COOKIE option, when the request's was judged (RFC 7873 §5.2: every response to
/// a query with a cookie carries ours). `recursion_available`: RA, whether the client may recurse.
pub(crate) fn malformed_reply(
    bad: &Malformed,
    our_payload: u16,
    cookie: Option<&ReplyOption>,
    recursion_available: bool,
) -> Option<Message> {
    match bad {
        Malformed::Drop => None,
        Malformed::Reply {
            id,
            op_code,
            recursion_desired,
            checking_disabled,
            query,
            rcode,
            edns,
        } => {
            let echo = Echo {
                id: *id,
                op_code: *op_code,
                recursion_desired: *recursion_desired,
                checking_disabled: *checking_disabled,
                query: query.as_ref(),
                edns: *edns,
            };
            let mut m = shell(&echo, *rcode, our_payload);
            m.metadata.recursion_available = recursion_available;
            if let Some(cookie) = cookie {
                add_cookie(&mut m, cookie);
            }
            Some(m)
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
        Transport::Tcp | Transport::Tls | Transport::Https => TCP_MAX,
        Transport::Udp => match edns {
            Some(info) => usize::from(info.payload.min(our_payload).max(CLASSIC_UDP_PAYLOAD)),
            None => usize::from(CLASSIC_UDP_PAYLOAD),
        },
    }
}

/// Encodes `msg` within `limit` bytes. Optional additional RRsets are dropped first, from the
/// end, then the NS RRset of an `optional_authority` section (NSD drops it the same way,
/// without TC); if
/// answer, authority and the in-domain glue of a referral still do not fit, TC=1 is set and
/// only the whole answer RRsets that fit are kept, so the client retries over TCP.
pub fn encode(mut msg: Message, limit: usize, optional_authority: bool) -> Vec<u8> {
    let whole = crate::wire::encode_simple(&msg).map_or_else(|| msg.to_vec(), Ok);
    match whole {
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
    let is_ns = |r: &Record| rrset_type(r) == RecordType::NS;
    if optional_authority && msg.authorities.iter().any(is_ns) {
        // Only the NS RRset (and its RRSIGs) is optional: a wildcard answer's NSEC or NSEC3
        // proof beside it is part of the answer (RFC 4035 §3.1.3.3).
        msg.authorities.retain(|r| !is_ns(r));
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

/// Indices just past each RRset (a run of records with one owner and type, and the RRSIGs
/// over it) in `records`.
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
    matches!(rrset_type(record), RecordType::A | RecordType::AAAA)
        && authorities.iter().any(|ns| match &ns.data {
            RData::NS(target) => target.0 == record.name && ns.name.zone_of(&record.name),
            _ => false,
        })
}

/// The type of the RRset `record` belongs to where sizes are concerned: an RRSIG goes with
/// the RRset it covers, so that the two are kept or dropped together (RFC 4035 §3.1.1).
fn rrset_type(record: &Record) -> RecordType {
    match &record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => sig.input().type_covered,
        _ => record.record_type(),
    }
}

fn same_rrset(a: &Record, b: &Record) -> bool {
    rrset_type(a) == rrset_type(b) && a.name == b.name
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
    /// The authority section's NS RRset only repeats the zone's beside a positive answer (as
    /// NSD does); it is dropped, like optional additional data, before anything is truncated.
    /// Other authority records (a wildcard answer's NSEC or NSEC3 proof) stay.
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
mod tests;
