//! A resolver's reply read only as far as most replies need: the header, the question, the
//! answer section and the OPT record through hickory, while the authority and additional
//! sections stay in wire form ([`Rest`]) until the walk asks for them. A positive answer
//! rarely needs them (the zone's NS set beside it is usually cached already), and decoding
//! their names was a sixth of a cache miss.
//!
//! The sections kept back are walked record by record at once, so a reply whose records do
//! not even frame (a name that does not end, an RDATA past the end), or that holds what
//! hickory refuses there (OPT, SIG or TSIG in the authority section, a second OPT, an empty
//! RDATA), is left to hickory's full parse and its verdict, as before. What only decoding
//! their contents would find wrong (a bad name in an RDATA) is found when they are decoded.
//!
//! Records are read by [`crate::rr::read`], hickory's way except that an NSEC3 or NSEC3PARAM
//! a validator ignores (RFC 5155 §8.1-8.2) is kept as opaque RDATA instead of failing the
//! reply.

use hickory_proto::op::{Edns, Header, Message, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};

use super::Expected;
use crate::rr::read::{read_message, read_records};
use crate::wire::{HEADER, ancestor_labels, be16, lowercase_into, skip_name, written_at};

/// The authority and additional sections of a reply, undecoded (the OPT record, read
/// already, is in the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rest {
    /// The whole datagram: names in these sections may point anywhere before them.
    wire: Box<[u8]>,
    /// Where the authority section starts (a UDP reply is shorter than 64 KiB).
    at: u16,
    authorities: u16,
    additionals: u16,
    op_code: OpCode,
    /// The reply repeats one question (ours: it matched), written first.
    one_question: bool,
}

/// `raw` read as a reply: the message without its authority and additional records, and
/// those in wire form (`None` when there are none besides OPT, or when anything unusual made
/// this a full parse). `None` when hickory's full parse fails too.
///
/// Only a reply that answers `expected` is read to the end. One that repeats the question
/// (name, type, class IN; written out, not compressed) gets it, in the case we asked it,
/// without hickory reading it: it matches all the same.
pub(crate) fn read(raw: &[u8], expected: &Expected<'_>) -> Option<(Message, Option<Rest>)> {
    let question = expected.question();
    let full = || {
        read_message(raw)
            .ok()
            .filter(|m| expected.matches(m, true))
            .map(|m| (m, None))
    };
    let mut decoder = BinDecoder::new(raw);
    let Ok(Header {
        mut metadata,
        counts,
    }) = Header::read(&mut decoder)
    else {
        return None;
    };
    let op = metadata.op_code;
    let repeated = question
        .filter(|_| counts.queries == 1)
        .and_then(|(qname, qtype)| repeated(raw, qname, qtype));
    let verified = repeated.is_some();
    let queries = match repeated {
        Some((query, end)) => {
            decoder.read_slice(end - HEADER).ok()?;
            vec![query]
        }
        None => Message::read_queries(&mut decoder, usize::from(counts.queries)).ok()?,
    };
    let mut message = Message::new(metadata.id, metadata.message_type, op);
    message.queries = queries;
    let ours = match verified {
        true => expected.answered_by(&metadata),
        false => expected.matches(&message, true),
    };
    if !ours {
        return None;
    }
    let Ok((answers, _, _)) = read_records(&mut decoder, usize::from(counts.answers), false, op)
    else {
        return None;
    };
    let at = decoder.index();
    let (authorities, additionals) = (
        usize::from(counts.authorities),
        usize::from(counts.additionals),
    );
    let Some(opt) = frame(raw, at, authorities, additionals) else {
        return full();
    };
    let edns = match opt {
        Some(opt_at) => match read_at(raw, opt_at, Record::read) {
            Ok(record) => Some(Edns::from(&record)),
            Err(_) => return None,
        },
        None => None,
    };
    if let Some(edns) = &edns {
        metadata.merge_response_code(edns.rcode_high());
    }
    let others = authorities + additionals - usize::from(edns.is_some());
    let Ok(at) = u16::try_from(at) else {
        return full();
    };
    let rest = (others > 0).then(|| Rest {
        wire: raw.into(),
        at,
        authorities: counts.authorities,
        additionals: counts.additionals,
        op_code: op,
        one_question: counts.queries == 1,
    });
    message.metadata = metadata;
    message.answers = answers;
    message.edns = edns;
    Some((message, rest))
}

/// `message` as the outbound client reads it off the wire, for tests that hand the resolver
/// a message: over UDP (`udp`) in part, as [`read`] does; as it is over the other transports,
/// or when it does not encode.
#[cfg(test)]
pub(crate) fn read_partial(
    message: Message,
    expected: &Expected<'_>,
    udp: bool,
) -> (Message, Option<Rest>) {
    let wire = udp.then(|| message.to_vec().ok()).flatten();
    wire.and_then(|wire| read(&wire, expected))
        .unwrap_or((message, None))
}

/// Our question and where it ends, when the one question at the start of `raw` repeats it.
fn repeated(raw: &[u8], qname: &Name, qtype: RecordType) -> Option<(Query, usize)> {
    let end = written_at(raw, HEADER, qname)?;
    let same =
        be16(raw, end)? == u16::from(qtype) && be16(raw, end + 2)? == u16::from(DNSClass::IN);
    same.then(|| (Query::query(qname.clone(), qtype), end + 4))
}

/// Walks the authority and additional records from `at`: `Some(Some(offset))` of the one OPT
/// record, `Some(None)` without one, and `None` for anything the full parse should judge.
fn frame(
    raw: &[u8],
    mut at: usize,
    authorities: usize,
    additionals: usize,
) -> Option<Option<usize>> {
    let mut opt = None;
    for i in 0..authorities + additionals {
        let fixed = skip_name(raw, at)?;
        let rtype = RecordType::from(be16(raw, fixed)?);
        let rdlength = usize::from(be16(raw, fixed + 8)?);
        let end = fixed + 10 + rdlength;
        if end > raw.len() {
            return None;
        }
        let additional = i >= authorities;
        match rtype {
            RecordType::OPT if additional && opt.is_none() => opt = Some(at),
            RecordType::OPT | RecordType::SIG | RecordType::TSIG => return None,
            _ if rdlength == 0 => return None,
            _ => {}
        }
        at = end;
    }
    Some(opt)
}

/// `read` applied to `raw` from `at` (names may point before it).
fn read_at<'r, T>(
    raw: &'r [u8],
    at: usize,
    read: impl FnOnce(&mut BinDecoder<'r>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut decoder = BinDecoder::new(raw);
    decoder.read_slice(at)?;
    read(&mut decoder)
}

impl Rest {
    /// Decodes the two sections into `message` (read by [`read`] from the same datagram).
    pub fn complete(&self, message: &mut Message) -> Result<(), DecodeError> {
        let (authorities, additionals) = read_at(&self.wire, usize::from(self.at), |decoder| {
            let (authorities, _, _) =
                read_records(decoder, self.authorities.into(), false, self.op_code)?;
            let (additionals, _, _) =
                read_records(decoder, self.additionals.into(), true, self.op_code)?;
            Ok((authorities, additionals))
        })?;
        message.authorities = authorities;
        message.additionals = additionals;
        Ok(())
    }

    /// The owner, in lowercase wire form, of the first NS record of the authority section
    /// that is the question's name or an ancestor of it with at least `min_labels` labels
    /// (`Some(None)`: there is none). `None` when that cannot be told from the wire: the reply
    /// repeats no question, or a name does not walk.
    pub fn ns_cut(&self, min_labels: usize) -> Option<Option<Box<[u8]>>> {
        if !self.one_question {
            return None;
        }
        let (mut question, mut owner) = ([0; 256], [0; 256]);
        let question = lowercase_into(&self.wire, HEADER, &mut question)?;
        let mut at = usize::from(self.at);
        for _ in 0..self.authorities {
            let fixed = skip_name(&self.wire, at)?;
            if be16(&self.wire, fixed)? == u16::from(RecordType::NS) {
                let owner = lowercase_into(&self.wire, at, &mut owner)?;
                if ancestor_labels(owner, question).is_some_and(|n| n >= min_labels) {
                    return Some(Some(owner.into()));
                }
            }
            at = fixed + 10 + usize::from(be16(&self.wire, fixed + 8)?);
        }
        Some(None)
    }
}

#[cfg(test)]
mod tests;
