//! Parts of a message written from hickory's types without its encoder, byte for byte as it
//! writes them: the header's flags and the OPT record. Where a message is made of parts
//! already in wire form (the message tier's copy of an answer, a one-question request), the
//! general encoder's checked small writes, its copy of the OPT as a record and its table of
//! label offsets cost more than the message itself.

use hickory_proto::op::{Edns, MessageType, Metadata};
use hickory_proto::rr::rdata::opt::EdnsOption;

use super::{AD, CD, OPT, QR, RD, TC};

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
