//! Parts of a message written from hickory's types without its encoder, byte for byte as it
//! writes them: the header's flags, the OPT record, and whole messages of the commonest
//! shape (a positive answer of addresses). Where a message is made of parts
//! already in wire form (the message tier's copy of an answer, a one-question request), the
//! general encoder's checked small writes, its copy of the OPT as a record and its table of
//! label offsets cost more than the message itself.

use hickory_proto::op::{Edns, Message, MessageType, Metadata};
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::opt::EdnsOption;

use super::{AD, CD, HEADER, OPT, QR, RD, TC};

/// The header's third and fourth bytes (RFC 1035 §4.1.1; AD and CD of RFC 4035 §3.2): the
/// flags, the opcode and the RCODE's low four bits.
pub(crate) fn header_flags(meta: &Metadata) -> [u8; 2] {
    let bit = |on: bool, bit: u8| if on { bit } else { 0 };
    [
        bit(meta.message_type == MessageType::Response, QR)
            | (u8::from(meta.op_code) << 3)
            | bit(meta.authoritative, 0x04)
            | bit(meta.truncation, TC)
            | bit(meta.recursion_desired, RD),
        bit(meta.recursion_available, 0x80)
            | bit(meta.authentic_data, AD)
            | bit(meta.checking_disabled, CD)
            | meta.response_code.low(),
    ]
}

/// Appends `edns` as its OPT record (RFC 6891 §6.1.2) with `rcode_high`, the high bits of the
/// message's RCODE, in its TTL (hickory writes the message's, whatever the OPT held).
/// `None`, with `out` as it was, when an option is not plain bytes (hickory's own option
/// types have their own encoders) or the options are too long.
pub(crate) fn push_edns(edns: &Edns, rcode_high: u8, out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    let pushed = push_edns_from(edns, rcode_high, out);
    if pushed.is_none() {
        out.truncate(start);
    }
    pushed
}

fn push_edns_from(edns: &Edns, rcode_high: u8, out: &mut Vec<u8>) -> Option<()> {
    out.push(0);
    out.extend_from_slice(&OPT.to_be_bytes());
    // RFC 6891 §6.2.5: a payload below 512 counts as 512, as hickory writes it.
    out.extend_from_slice(&edns.max_payload().max(512).to_be_bytes());
    out.push(rcode_high);
    out.push(edns.version());
    out.extend_from_slice(&u16::from(*edns.flags()).to_be_bytes());
    let rdlength_at = out.len();
    out.extend_from_slice(&[0, 0]);
    for (code, option) in edns.options().as_ref() {
        let EdnsOption::Unknown(_, data) = option else {
            return None;
        };
        out.extend_from_slice(&u16::from(*code).to_be_bytes());
        out.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
        out.extend_from_slice(data);
    }
    let rdlength = u16::try_from(out.len() - rdlength_at - 2).ok()?;
    out[rdlength_at..rdlength_at + 2].copy_from_slice(&rdlength.to_be_bytes());
    Some(())
}

/// `message` in wire form as hickory's encoder writes it, for the common positive answer
/// (written directly, it costs a tenth): one question, not the root, and every record owned
/// by the question's name byte for byte (hickory compresses a name only against the same
/// bytes: such an owner becomes a pointer to the question) with A or AAAA data, and an OPT of
/// plain options. `None` for any other message, which hickory's encoder then writes.
pub(crate) fn encode_simple(message: &Message) -> Option<Vec<u8>> {
    let [question] = message.queries.as_slice() else {
        return None;
    };
    let qname = question.name();
    if qname.is_root() || message.signature.is_some() {
        return None;
    }
    let sections = [&message.answers, &message.authorities, &message.additionals];
    let records = sections.iter().flat_map(|s| s.iter());
    let mut out = Vec::with_capacity(64 + qname.len() + 32 * records.clone().count());
    let meta = &message.metadata;
    out.extend_from_slice(&meta.id.to_be_bytes());
    out.extend_from_slice(&header_flags(meta));
    out.extend_from_slice(&[0, 1]);
    let opt = u16::from(message.edns.is_some());
    for (i, section) in sections.iter().enumerate() {
        let extra = if i == 2 { opt } else { 0 };
        let count = u16::try_from(section.len()).ok()?.checked_add(extra)?;
        out.extend_from_slice(&count.to_be_bytes());
    }
    for label in qname.iter() {
        out.push(u8::try_from(label.len()).ok().filter(|&l| l <= 63)?);
        out.extend_from_slice(label);
    }
    out.push(0);
    let qname_end = out.len();
    if qname_end - HEADER > 255 {
        return None;
    }
    out.extend_from_slice(&u16::from(question.query_type()).to_be_bytes());
    out.extend_from_slice(&u16::from(question.query_class()).to_be_bytes());
    for record in records {
        let data: &[u8] = match &record.data {
            RData::A(a) => &a.0.octets(),
            RData::AAAA(a) => &a.0.octets(),
            _ => return None,
        };
        if !super::spelled(&record.name, &out[HEADER..qname_end]) {
            return None;
        }
        // A pointer to the question's name, just past the header.
        out.extend_from_slice(&(0xC000 | HEADER as u16).to_be_bytes());
        out.extend_from_slice(&u16::from(record.record_type()).to_be_bytes());
        out.extend_from_slice(&u16::from(record.dns_class).to_be_bytes());
        out.extend_from_slice(&record.ttl.to_be_bytes());
        out.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
        out.extend_from_slice(data);
    }
    if let Some(edns) = &message.edns {
        push_edns(edns, meta.response_code.high(), &mut out)?;
    } else if meta.response_code.high() > 0 {
        return None;
    }
    Some(out)
}
