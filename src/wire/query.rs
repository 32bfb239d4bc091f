//! The query as the hit path reads it (header, question, OPT, nothing decoded), and the few
//! replies it writes without a `Message`: our OPT, REFUSED, and RRL's truncated slip.

use super::{CD, DO, HEADER, OPCODE, OPT, QR, RD, TC, be16};

/// EDNS options a query may carry on the hit path (RFC 7873 §4, RFC 7830 §3).
const COOKIE: u16 = 10;
const PADDING: u16 = 12;
/// The one QCLASS the hit path answers, IN (RFC 1035 §3.2.4).
const IN: u16 = 1;
/// RA, in the fourth byte of the header (RFC 1035 §4.1.1): REFUSED says recursion is there.
const RA: u8 = 0x80;

/// A query the hit path can answer: the question as sent and what the answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Question<'q> {
    /// The question's QNAME..QCLASS bytes as sent (original case).
    pub(crate) wire: &'q [u8],
    /// The requestor's UDP payload size; `None` without EDNS.
    pub(crate) payload: Option<u16>,
    pub(crate) dnssec_ok: bool,
    pub(crate) checking_disabled: bool,
    pub(crate) recursion_desired: bool,
    /// The COOKIE option's data (RFC 7873 §4), of a length a cookie may have: the client
    /// cookie, and the server cookie if the client sent one back.
    pub(crate) cookie: Option<&'q [u8]>,
}

impl Question<'_> {
    /// The QTYPE (the question ends with QTYPE and QCLASS).
    pub(crate) fn qtype(&self) -> u16 {
        be16(self.wire, self.wire.len().saturating_sub(4)).unwrap_or(0)
    }

    /// Where the question ends in the query (and in every reply to it).
    pub(crate) fn end(&self) -> usize {
        HEADER + self.wire.len()
    }
}

/// Reads the header, question and OPT of a query (RFC 1035 §4.1, RFC 6891 §6.1.2), or
/// `None` when anything is unusual: another opcode, QR or TC set, other sections than one
/// question and at most one OPT, a compressed or over-long QNAME, a class other than IN,
/// trailing bytes, EDNS version > 0, an EDNS option other than COOKIE and PADDING, or a COOKIE
/// the full path must judge alone (two of them, or one of a length no cookie has: FORMERR).
pub(crate) fn parse(bytes: &[u8]) -> Option<Question<'_>> {
    let header = bytes.get(..HEADER)?;
    let flags = header[2];
    if flags & (QR | OPCODE | TC) != 0 {
        return None;
    }
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let additional = count(10);
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || additional > 1 {
        return None;
    }
    // QNAME as plain labels (a query has nothing to point back to), then QTYPE and QCLASS.
    let mut at = HEADER;
    loop {
        let len = usize::from(*bytes.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if at - HEADER > 255 {
            return None;
        }
    }
    let qclass = u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]);
    if qclass != IN {
        return None;
    }
    let end = at + 4;
    let mut question = Question {
        wire: &bytes[HEADER..end],
        payload: None,
        dnssec_ok: false,
        checking_disabled: header[3] & CD != 0,
        recursion_desired: flags & RD != 0,
        cookie: None,
    };
    if additional == 0 {
        return (end == bytes.len()).then_some(question);
    }
    // One OPT at the root, version 0, ending the packet exactly; its options only COOKIE and
    // PADDING, each whole (the full path ignores PADDING and judges COOKIE as the caller
    // does; anything else it may parse, and refuse, is left to it).
    let opt = bytes.get(end..end + 11)?;
    let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
    if opt[0] != 0
        || u16::from_be_bytes([opt[1], opt[2]]) != OPT
        || opt[6] != 0
        || end + 11 + rdlen != bytes.len()
    {
        return None;
    }
    let mut options = &bytes[end + 11..];
    while !options.is_empty() {
        let code = u16::from_be_bytes([*options.first()?, *options.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*options.get(2)?, *options.get(3)?]));
        let data = options.get(4..4 + len)?;
        match code {
            COOKIE if question.cookie.is_none() && cookie_len(len) => question.cookie = Some(data),
            PADDING => {}
            _ => return None,
        }
        options = &options[4 + len..];
    }
    question.payload = Some(u16::from_be_bytes([opt[3], opt[4]]));
    question.dnssec_ok = u16::from_be_bytes([opt[7], opt[8]]) & DO != 0;
    Some(question)
}

/// RFC 7873 §4: a client cookie of 8 bytes, alone or followed by a server cookie of 8 to 32.
fn cookie_len(len: usize) -> bool {
    len == 8 || (16..=40).contains(&len)
}

/// Adds our OPT to a reply when the query had one (RFC 6891 §6.1.2): root, type, our
/// payload, no extended RCODE, version 0, DO copied (RFC 3225 §3), and `options` (whole EDNS
/// options in wire form: our COOKIE, or nothing).
pub(crate) fn push_opt(
    question: &Question<'_>,
    our_payload: u16,
    options: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    if question.payload.is_none() {
        return Some(());
    }
    let rdlength = u16::try_from(options.len()).ok()?;
    let additional = be16(out, 10)?.checked_add(1)?;
    out[10..12].copy_from_slice(&additional.to_be_bytes());
    out.push(0);
    out.extend_from_slice(&OPT.to_be_bytes());
    out.extend_from_slice(&our_payload.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    let flags: u16 = if question.dnssec_ok { DO } else { 0 };
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&rdlength.to_be_bytes());
    out.extend_from_slice(options);
    Some(())
}

/// REFUSED to `query` (whose parse is `question`), as the full path would word it for a
/// recursive server: the question, RA, RD and CD as asked, our OPT (with `options`) if the
/// query had one.
pub(crate) fn refused_into(
    query: &[u8],
    question: &Question<'_>,
    our_payload: u16,
    options: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    const REFUSED: u8 = 5;
    out.clear();
    out.extend_from_slice(query.get(..question.end())?);
    out[2] = QR | (query[2] & (OPCODE | RD));
    out[3] = RA | (query[3] & CD) | REFUSED;
    out[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    push_opt(question, our_payload, options, out)
}

/// Makes a reply to `question` the truncated reply RRL slips: header and question only,
/// TC=1 (the caller adds OPT back when the query had one). `None` (and `reply` unchanged)
/// when it is not a reply to that one question.
pub(crate) fn truncate_to_question(reply: &mut Vec<u8>, question: &Question<'_>) -> Option<()> {
    let end = question.end();
    if be16(reply, 4)? != 1 || reply.get(HEADER..end)? != question.wire {
        return None;
    }
    reply.truncate(end);
    reply[2] |= TC;
    reply[6..12].fill(0);
    Some(())
}
