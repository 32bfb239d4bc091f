//! Records and messages read as hickory reads them, except for the NSEC3 and NSEC3PARAM
//! records it refuses for a hash algorithm other than SHA-1 or a flag RFC 5155 leaves
//! undefined. RFC 5155 §8.1-8.2 (and §4.2 for NSEC3PARAM) say such a record is ignored, not
//! the message holding it: Unbound keeps it as the bytes it came as, relays it unchanged and
//! skips it in its proofs (val_nsec3.c). hickory instead fails the whole message
//! (`UnrecognizedNsec3Flags`, an unknown `Nsec3HashAlgorithm`), so one such record in a
//! zone made every reply that carried it look like garbage. Here it is read as
//! `RData::Unknown` of its own type: written out again it is the same type and the same
//! bytes, and no reader of NSEC3 RDATA (the validator's proofs, the signer) takes it for one.

use hickory_proto::op::{Edns, Header, Message, OpCode};
use hickory_proto::rr::rdata::{NULL, TSIG};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError, Restrict};

/// The only NSEC3 hash algorithm defined (RFC 5155 §11).
const SHA1: u8 = 1;
/// Opt-Out, the only NSEC3 flag defined (RFC 5155 §3.1.2.1); NSEC3PARAM reads it too.
const OPT_OUT: u8 = 0x01;

/// Whether `rdata` of `rtype` is an NSEC3 or NSEC3PARAM a validator ignores (and hickory
/// refuses): an unknown hash algorithm (RFC 5155 §8.1) or a flag other than Opt-Out (§8.2).
/// Both fields come first in either RDATA (§3.2, §4.2).
pub(crate) fn ignored_nsec3(rtype: RecordType, rdata: &[u8]) -> bool {
    matches!(rtype, RecordType::NSEC3 | RecordType::NSEC3PARAM)
        && matches!(rdata, [alg, flags, ..] if *alg != SHA1 || flags & !OPT_OUT != 0)
}

/// [`RData::read`], but an NSEC3 or NSEC3PARAM to ignore comes back as `RData::Unknown` of
/// its type. Neither RDATA holds a name, so it reads the same out of its own bytes.
pub(crate) fn read_rdata(
    decoder: &mut BinDecoder<'_>,
    rtype: RecordType,
    len: u16,
) -> Result<RData, DecodeError> {
    if !matches!(rtype, RecordType::NSEC3 | RecordType::NSEC3PARAM) {
        return RData::read(decoder, rtype, Restrict::new(len));
    }
    let bytes = decoder.read_slice(usize::from(len))?.unverified();
    match ignored_nsec3(rtype, bytes) {
        true => Ok(opaque(rtype, bytes)),
        false => RData::read(&mut BinDecoder::new(bytes), rtype, Restrict::new(len)),
    }
}

fn opaque(code: RecordType, rdata: &[u8]) -> RData {
    RData::Unknown {
        code,
        rdata: NULL::with(rdata.to_vec()),
    }
}

/// [`Record::read`], and where hickory refuses the record, an NSEC3 or NSEC3PARAM to ignore
/// read as opaque RDATA. hickory is asked first, so every other record (OPT's class, an
/// empty RDATA) reads as it always did.
pub(crate) fn read_record(decoder: &mut BinDecoder<'_>) -> Result<Record, DecodeError> {
    let at = decoder.index();
    Record::read(decoder).or_else(|e| {
        // Read again from the record's start; a message is shorter than 64 KiB.
        let mut again = decoder.clone(u16::try_from(at).map_err(|_| e.clone())?);
        let record = ignored_record(&mut again).ok_or(e)?;
        *decoder = again;
        Ok(record)
    })
}

/// The record at the decoder as opaque RDATA, if it is an NSEC3 or NSEC3PARAM to ignore.
fn ignored_record(decoder: &mut BinDecoder<'_>) -> Option<Record> {
    let name = Name::read(decoder).ok()?;
    let rtype = RecordType::read(decoder).ok()?;
    let class = DNSClass::read(decoder).ok()?;
    let ttl = decoder.read_u32().ok()?.unverified();
    let len = decoder.read_u16().ok()?.unverified();
    let rdata = decoder.read_slice(usize::from(len)).ok()?.unverified();
    if !ignored_nsec3(rtype, rdata) {
        return None;
    }
    let mut record = Record::from_rdata(name, ttl, opaque(rtype, rdata));
    record.dns_class = class;
    Some(record)
}

/// The records of one section, the OPT record and the TSIG: what hickory's
/// `Message::read_records` returns, with the same checks, each record read by [`read_record`].
pub(crate) type Section = (Vec<Record>, Option<Edns>, Option<Box<Record<TSIG>>>);

/// `Message::read_records` with [`read_record`].
pub(crate) fn read_records(
    decoder: &mut BinDecoder<'_>,
    count: usize,
    is_additional: bool,
    op: OpCode,
) -> Result<Section, DecodeError> {
    let mut records = Vec::with_capacity(count.min(8));
    let (mut edns, mut sig) = (None, None);
    for _ in 0..count {
        let record = read_record(decoder)?;
        let rtype = record.record_type();
        if op != OpCode::Update && rtype != RecordType::OPT && record.data.is_update() {
            return Err(DecodeError::InvalidEmptyRecord);
        }
        // Nothing may follow a TSIG.
        if sig.is_some() {
            return Err(DecodeError::RecordAfterSig);
        }
        if !is_additional {
            if matches!(rtype, RecordType::OPT | RecordType::SIG | RecordType::TSIG) {
                return Err(DecodeError::RecordNotInAdditionalSection(rtype));
            }
            records.push(record);
            continue;
        }
        match &record.data {
            RData::TSIG(_) => {
                sig = record
                    .map(|data| match data {
                        RData::TSIG(tsig) => Some(tsig),
                        _ => None,
                    })
                    .map(Box::new);
            }
            RData::Update0(RecordType::OPT) | RData::OPT(_) => {
                if edns.is_some() {
                    return Err(DecodeError::DuplicateEdns);
                }
                edns = Some(Edns::from(&record));
            }
            _ => records.push(record),
        }
    }
    Ok((records, edns, sig))
}

/// `Message::from_vec` with [`read_records`].
pub(crate) fn read_message(raw: &[u8]) -> Result<Message, DecodeError> {
    let mut decoder = BinDecoder::new(raw);
    let Header {
        mut metadata,
        counts,
    } = Header::read(&mut decoder)?;
    let op = metadata.op_code;
    let mut queries = Vec::with_capacity(usize::from(counts.queries).min(8));
    for _ in 0..counts.queries {
        queries.push(hickory_proto::op::Query::read(&mut decoder)?);
    }
    let (answers, _, _) = read_records(&mut decoder, counts.answers.into(), false, op)?;
    let (authorities, _, _) = read_records(&mut decoder, counts.authorities.into(), false, op)?;
    let (additionals, edns, signature) =
        read_records(&mut decoder, counts.additionals.into(), true, op)?;
    // The OPT record's upper RCODE bits (RFC 6891 §6.1.3).
    if let Some(edns) = &edns {
        metadata.merge_response_code(edns.rcode_high());
    }
    let mut message = Message::new(metadata.id, metadata.message_type, op);
    message.metadata = metadata;
    message.queries = queries;
    message.answers = answers;
    message.authorities = authorities;
    message.additionals = additionals;
    message.signature = signature;
    message.edns = edns;
    Ok(message)
}

#[cfg(test)]
mod tests;
