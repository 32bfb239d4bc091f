//! DNS messages read and written as raw bytes (RFC 1035 §4.1), for the paths that must not
//! decode a whole message: the hit path (its query, the answers it keeps), the counters and
//! the query log (QTYPE and RCODE of every reply), and RRL's slip. The one place that knows
//! the header's layout, how a name and a record are skipped, where TTLs sit and what OPT
//! looks like. A leaf: it imports nothing of the crate.
//!
//! Every reader returns `None` for bytes that do not walk cleanly, never panics on them.

mod build;
mod name;
pub(crate) mod padding;
mod query;

pub(crate) use build::{encode_simple, header_flags, push_edns};
pub(crate) use name::{ancestor_labels, lowercase_into, same_name, spelled, within, written_at};
pub(crate) use query::{Question, parse, push_opt, refused_into, truncate_to_question};

/// The header's length (RFC 1035 §4.1.1).
pub(crate) const HEADER: usize = 12;

/// Whether the questions the header counts could be in `bytes`, at five octets each at least
/// (the root name, type and class). hickory sets aside room for every counted question before
/// it reads the first (65535 of them: some 5 MB per datagram of garbage), so every parse of
/// bytes from the network (a client's query, a server's reply) asks this first; a message that
/// fails it would fail the parse anyway.
pub(crate) fn questions_fit(bytes: &[u8]) -> bool {
    const SMALLEST_QUESTION: usize = 5;
    let Some(count) = bytes.get(4..6) else {
        return false;
    };
    let count = usize::from(u16::from_be_bytes([count[0], count[1]]));
    count * SMALLEST_QUESTION <= bytes.len().saturating_sub(HEADER)
}
/// The OPT record this server writes, without options: root, TYPE, CLASS, TTL, RDLENGTH.
pub(crate) const OPT_LEN: usize = 11;

// Flag bits of the header's third byte (QR, OPCODE, TC, RD; RFC 1035 §4.1.1) and of its
// fourth (CD of RFC 4035 §3.2, and the RCODE's four bits).
pub(crate) const QR: u8 = 0x80;
pub(crate) const OPCODE: u8 = 0x78;
pub(crate) const TC: u8 = 0x02;
pub(crate) const RD: u8 = 0x01;
pub(crate) const CD: u8 = 0x10;
/// AD, in the fourth byte of the header (RFC 4035 §3.2.3).
pub(crate) const AD: u8 = 0x20;
pub(crate) const RCODE: u8 = 0x0F;

/// RFC 6891 §6.1.2: the OPT pseudo-RR type, and its DO flag in the TTL field's low 16 bits
/// (RFC 3225 §3).
pub(crate) const OPT: u16 = 41;
pub(crate) const DO: u16 = 0x8000;

/// The big-endian 16-bit field at `at`, if the message is that long.
pub(crate) fn be16(wire: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]))
}

/// The header's section counts (RFC 1035 §4.1.1): QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
pub(crate) fn counts(wire: &[u8]) -> Option<[usize; 4]> {
    let count = |at: usize| be16(wire, at).map(usize::from);
    Some([count(4)?, count(6)?, count(8)?, count(10)?])
}

/// The offset just past the name at `at` (labels, ending in a root label or a pointer,
/// RFC 1035 §4.1.4).
pub(crate) fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *wire.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l if l < 64 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
    None
}

/// Where the resource record at `at` ends (RFC 1035 §4.1.3).
pub(crate) fn skip_record(wire: &[u8], at: usize) -> Option<usize> {
    let fixed = skip_name(wire, at)?;
    let rdlength = usize::from(be16(wire, fixed + 8)?);
    Some(fixed + 10 + rdlength)
}

/// Where the (first) question of a message ends, or `None`.
pub(crate) fn question_end(wire: &[u8]) -> Option<usize> {
    Some(skip_name(wire, HEADER)? + 4)
}

/// The QTYPE of a message's first question (`None` when it does not parse that far).
pub(crate) fn qtype(wire: &[u8]) -> Option<u16> {
    be16(wire, question_end(wire)? - 4)
}

/// The full 12-bit RCODE of a message (at least 4 bytes): the header's low 4 bits and, when
/// it has an OPT record, its 8 upper bits (RFC 6891 §6.1.3), so BADVERS (16) is not NOERROR.
pub(crate) fn rcode(wire: &[u8]) -> u16 {
    let high = opt_extended_rcode(wire).unwrap_or(0);
    u16::from(high) << 4 | u16::from(wire.get(3).map_or(0, |b| b & RCODE))
}

/// The OPT record's EXTENDED-RCODE byte (`None`: no OPT, or the message does not parse).
fn opt_extended_rcode(wire: &[u8]) -> Option<u8> {
    let [qd, an, ns, ar] = counts(wire)?;
    if ar == 0 {
        return None;
    }
    let mut at = HEADER;
    for _ in 0..qd {
        at = skip_name(wire, at)? + 4;
    }
    for _ in 0..an + ns {
        at = skip_record(wire, at)?;
    }
    for _ in 0..ar {
        let fixed = skip_name(wire, at)?;
        if be16(wire, fixed)? == OPT {
            // TYPE, CLASS (the payload size), then the TTL's first byte.
            return wire.get(fixed + 4).copied();
        }
        at = skip_record(wire, at)?;
    }
    None
}

/// The offset and value of every record's TTL in a message of one question and no OPT, or
/// `None` when it does not walk cleanly to its last byte.
pub(crate) fn ttl_offsets(wire: &[u8]) -> Option<Vec<(u32, u32)>> {
    let [qd, an, ns, ar] = counts(wire)?;
    if qd != 1 {
        return None;
    }
    let records = an + ns + ar;
    let mut at = question_end(wire)?;
    let mut out = Vec::with_capacity(records);
    for _ in 0..records {
        let fixed = skip_name(wire, at)?;
        if be16(wire, fixed)? == OPT {
            return None;
        }
        let ttl = wire.get(fixed + 4..fixed + 8)?;
        let ttl = u32::from_be_bytes([ttl[0], ttl[1], ttl[2], ttl[3]]);
        out.push((u32::try_from(fixed + 4).ok()?, ttl));
        at = skip_record(wire, at)?;
    }
    (at == wire.len()).then_some(out)
}

/// The labels of an uncompressed name at the start of `wire`; what does not parse as labels
/// (a pointer, a length past 63, the end of the bytes) ends them there.
pub(crate) fn labels(wire: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = usize::from(*wire.get(at)?);
        let label = wire
            .get(at + 1..at + 1 + len)
            .filter(|_| (1..64).contains(&len))?;
        at += 1 + len;
        Some(label)
    })
}

#[cfg(test)]
pub(crate) mod tests;
