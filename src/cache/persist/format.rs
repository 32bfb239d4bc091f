//! The cache file's layout, all integers big-endian:
//!
//! ```text
//! magic "TERNCACH" | version u16 | written u64 (Unix seconds) | count u32 | body length u64
//! body: count × (entry length u32 | entry)
//! CRC-32 u32 of every byte before it
//! ```
//!
//! An entry: the key's owner (a wire name), its type (0, or 1 and a u16: 0 is a name-wide key),
//! the kind (0 RRset, 1 NXDOMAIN, 2 NODATA, 3 failure), the rank (0 glue … 3 authoritative),
//! the seconds from the write to expiry (i32; negative: expired that long before), the prefetch
//! window (u32 seconds: a hit with at most that much left refreshes the entry), then the kind's
//! data: a u16 count of records (the RRset; for a negative answer none or its SOA) or
//! a failure's reason (u16 length, UTF-8). Last the DNSSEC side: 0 for none, else the verdict
//! (1 unchecked, 2 indeterminate, 3 insecure, 4 secure, 5 bogus with its EDE code and a reason)
//! and a u16 count of records (RRSIGs, NSEC/NSEC3 proofs). Records are RFC 1035 §4.1.3
//! records, each entry compressed on its own, so one damaged entry cannot point into another.
//!
//! Reading trusts nothing: every length is checked against the bytes left before anything is
//! read or allocated by it, a count only bounds a loop whose every step consumes bytes, and the
//! file must end exactly where its lengths say.

use hickory_proto::rr::{Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use super::PersistError;
use crate::cache::{Data, Key, Rank, Signed, Trust};

pub(super) const MAGIC: &[u8; 8] = b"TERNCACH";
/// Raised whenever the layout changes: a file of another version is refused, not guessed at.
pub(super) const VERSION: u16 = 1;
/// Magic, version, write time, count, body length.
const HEADER: usize = 8 + 2 + 8 + 4 + 8;
const CHECKSUM: usize = 4;

/// One entry as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Persisted {
    pub(super) key: Key,
    pub(super) data: Data,
    pub(super) signed: Option<Signed>,
    pub(super) rank: Rank,
    /// Seconds from the write to expiry; negative: expired that long before the write.
    pub(super) left: i32,
    /// Its prefetch window, in seconds: a fraction of the TTL it was stored with, which the
    /// time left no longer tells.
    pub(super) window: u32,
}

/// The file's header, checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    /// When it was written, in Unix seconds.
    pub(super) written: u64,
    pub(super) count: u32,
}

/// The file, built in one buffer as the entries are encoded (a second copy of a large cache
/// would double what a write costs in memory): room for the header first, then each entry,
/// then the header filled in and the checksum appended.
pub(super) struct Writer {
    out: Vec<u8>,
    count: u32,
    /// One entry's encoding, reused: an encoder takes a buffer of its own.
    scratch: Vec<u8>,
}

impl Writer {
    pub(super) fn new() -> Writer {
        Writer {
            out: vec![0; HEADER],
            count: 0,
            scratch: Vec::new(),
        }
    }

    /// Appends `p`; false when it is left out because it does not encode.
    pub(super) fn push(&mut self, p: &Persisted) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        let pushed = encode(p, &mut scratch).is_some() && self.push_encoded(&scratch);
        self.scratch = scratch;
        pushed
    }

    /// Appends one encoded entry (the tests' way to write what `encode` never would).
    pub(super) fn push_encoded(&mut self, entry: &[u8]) -> bool {
        // An encoder stops at 64 KiB, and 4 G entries would not fit in memory first.
        let (Ok(len), Some(count)) = (u32::try_from(entry.len()), self.count.checked_add(1)) else {
            return false;
        };
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(entry);
        self.count = count;
        true
    }

    pub(super) fn count(&self) -> u32 {
        self.count
    }

    /// The whole file, written at `written` (Unix seconds).
    pub(super) fn finish(mut self, written: u64) -> Vec<u8> {
        let body = (self.out.len() - HEADER) as u64;
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_be_bytes());
        header.extend_from_slice(&written.to_be_bytes());
        header.extend_from_slice(&self.count.to_be_bytes());
        header.extend_from_slice(&body.to_be_bytes());
        self.out[..HEADER].copy_from_slice(&header);
        let crc = crc32(&self.out);
        self.out.extend_from_slice(&crc.to_be_bytes());
        self.out
    }
}

/// Checks `bytes` is a whole cache file of this version with a good checksum: its header and
/// its body (the entries, not yet read).
pub(super) fn open(bytes: &[u8]) -> Result<(Header, &[u8]), PersistError> {
    if !bytes.starts_with(MAGIC) {
        return Err(if MAGIC.starts_with(bytes) {
            PersistError::Truncated
        } else {
            PersistError::NotACacheFile
        });
    }
    let mut r = Reader(&bytes[MAGIC.len()..]);
    let version = r.u16().ok_or(PersistError::Truncated)?;
    if version != VERSION {
        return Err(PersistError::Version(version));
    }
    let (Some(written), Some(count), Some(body_len)) = (r.u64(), r.u32(), r.u64()) else {
        return Err(PersistError::Truncated);
    };
    let whole = usize::try_from(body_len)
        .ok()
        .and_then(|b| b.checked_add(HEADER + CHECKSUM))
        .ok_or(PersistError::Truncated)?;
    if bytes.len() < whole {
        return Err(PersistError::Truncated);
    }
    if bytes.len() > whole {
        return Err(PersistError::TrailingBytes);
    }
    let (covered, stored) = bytes.split_at(whole - CHECKSUM);
    if stored != crc32(covered).to_be_bytes() {
        return Err(PersistError::Checksum);
    }
    Ok((Header { written, count }, &covered[HEADER..]))
}

/// The entries of a body [`open`] returned, in order; an error ends them.
pub(super) fn entries(
    header: Header,
    body: &[u8],
) -> impl Iterator<Item = Result<Persisted, PersistError>> + '_ {
    let mut r = Reader(body);
    let mut index = 0u32;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let at = index;
        let next = if at == header.count {
            if r.0.is_empty() {
                return None;
            }
            Err(PersistError::Entry {
                index: at,
                why: "bytes after the last entry",
            })
        } else {
            index += 1;
            let blob = r
                .u32()
                .and_then(|len| r.take(usize::try_from(len).ok()?))
                .ok_or(PersistError::Entry {
                    index: at,
                    why: "the file ends inside it (count or length too large)",
                });
            blob.and_then(|b| decode(b).map_err(|why| PersistError::Entry { index: at, why }))
        };
        failed = next.is_err();
        Some(next)
    })
}

/// A bounds-checked cursor over the file's own framing.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

const KIND_POSITIVE: u8 = 0;
const KIND_NXDOMAIN: u8 = 1;
const KIND_NODATA: u8 = 2;
const KIND_FAILURE: u8 = 3;

/// One entry in wire form, into `buf`; `None` when it does not encode (RDATA hickory cannot
/// write, or more than the 64 KiB one encoder takes: the entry is then left out of the file).
fn encode(p: &Persisted, buf: &mut Vec<u8>) -> Option<()> {
    buf.clear();
    let mut e = BinEncoder::new(buf);
    p.key.name().emit(&mut e).ok()?;
    match p.key.rtype {
        None => e.emit_u8(0).ok()?,
        Some(t) => {
            e.emit_u8(1).ok()?;
            e.emit_u16(t.into()).ok()?;
        }
    }
    let (kind, records): (u8, &[Record]) = match &p.data {
        Data::Positive(records) => (KIND_POSITIVE, records),
        Data::NxDomain { soa } => (
            KIND_NXDOMAIN,
            soa.as_deref().map(std::slice::from_ref).unwrap_or_default(),
        ),
        Data::NoData { soa } => (
            KIND_NODATA,
            soa.as_deref().map(std::slice::from_ref).unwrap_or_default(),
        ),
        Data::Failure { .. } => (KIND_FAILURE, &[]),
    };
    e.emit_u8(kind).ok()?;
    e.emit_u8(rank_code(p.rank)).ok()?;
    e.emit_i32(p.left).ok()?;
    e.emit_u32(p.window).ok()?;
    match &p.data {
        Data::Failure { reason } => emit_text(&mut e, reason)?,
        _ => emit_records(&mut e, records)?,
    }
    match &p.signed {
        None => e.emit_u8(0).ok()?,
        Some(signed) => {
            match &signed.trust {
                Trust::Unchecked => e.emit_u8(1).ok()?,
                Trust::Indeterminate => e.emit_u8(2).ok()?,
                Trust::Insecure => e.emit_u8(3).ok()?,
                Trust::Secure => e.emit_u8(4).ok()?,
                Trust::Bogus { ede, why } => {
                    e.emit_u8(5).ok()?;
                    e.emit_u16(*ede).ok()?;
                    emit_text(&mut e, why)?;
                }
            }
            emit_records(&mut e, &signed.records)?;
        }
    }
    Some(())
}

fn emit_records(e: &mut BinEncoder<'_>, records: &[Record]) -> Option<()> {
    e.emit_u16(u16::try_from(records.len()).ok()?).ok()?;
    for r in records {
        r.emit(e).ok()?;
    }
    Some(())
}

fn emit_text(e: &mut BinEncoder<'_>, text: &str) -> Option<()> {
    e.emit_u16(u16::try_from(text.len()).ok()?).ok()?;
    e.emit_vec(text.as_bytes()).ok()
}

/// One entry back; the reason when it is not one this module wrote.
fn decode(blob: &[u8]) -> Result<Persisted, &'static str> {
    let mut d = BinDecoder::new(blob);
    let name = Name::read(&mut d).map_err(|_| "bad owner name")?;
    let key = match u8_(&mut d)? {
        0 => Key::name_only(&name),
        1 => Key::new(&name, RecordType::from(u16_(&mut d)?)),
        _ => return Err("bad key type"),
    };
    let kind = u8_(&mut d)?;
    let rank = match u8_(&mut d)? {
        0 => Rank::Glue,
        1 => Rank::Referral,
        2 => Rank::NonAuthoritative,
        3 => Rank::Authoritative,
        _ => return Err("bad rank"),
    };
    let left = d.read_i32().map_err(|_| "cut short")?.unverified();
    let window = d.read_u32().map_err(|_| "cut short")?.unverified();
    let soa = |d: &mut BinDecoder<'_>| -> Result<Option<Box<Record>>, &'static str> {
        let mut records = records(d)?;
        match (records.pop(), records.is_empty()) {
            (None, _) => Ok(None),
            (Some(r), true) if r.record_type() == RecordType::SOA => Ok(Some(Box::new(r))),
            _ => Err("a negative answer's records are not one SOA"),
        }
    };
    let data = match kind {
        KIND_POSITIVE => {
            let set = records(&mut d)?;
            if set.is_empty() {
                return Err("an empty RRset");
            }
            Data::Positive(set)
        }
        KIND_NXDOMAIN => Data::NxDomain { soa: soa(&mut d)? },
        KIND_NODATA => Data::NoData { soa: soa(&mut d)? },
        KIND_FAILURE => Data::Failure {
            reason: text(&mut d)?,
        },
        _ => return Err("bad kind"),
    };
    let trust = match u8_(&mut d)? {
        0 => None,
        1 => Some(Trust::Unchecked),
        2 => Some(Trust::Indeterminate),
        3 => Some(Trust::Insecure),
        4 => Some(Trust::Secure),
        5 => Some(Trust::Bogus {
            ede: u16_(&mut d)?,
            why: text(&mut d)?,
        }),
        _ => return Err("bad DNSSEC verdict"),
    };
    let signed = match trust {
        Some(trust) => Some(Signed {
            records: records(&mut d)?,
            trust,
            prefetch: false,
        }),
        None => None,
    };
    if !d.is_empty() {
        return Err("bytes after its last field");
    }
    Ok(Persisted {
        key,
        data,
        signed,
        rank,
        left,
        window,
    })
}

fn rank_code(rank: Rank) -> u8 {
    match rank {
        Rank::Glue => 0,
        Rank::Referral => 1,
        Rank::NonAuthoritative => 2,
        Rank::Authoritative => 3,
    }
}

fn u8_(d: &mut BinDecoder<'_>) -> Result<u8, &'static str> {
    Ok(d.read_u8().map_err(|_| "cut short")?.unverified())
}

fn u16_(d: &mut BinDecoder<'_>) -> Result<u16, &'static str> {
    Ok(d.read_u16().map_err(|_| "cut short")?.unverified())
}

/// A count of records, then the records. The count only bounds the loop: each record read
/// consumes bytes of the entry, so a huge count runs out of them, never into an allocation.
fn records(d: &mut BinDecoder<'_>) -> Result<Vec<Record>, &'static str> {
    let n = u16_(d)?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(crate::rr::read::read_record(d).map_err(|_| "a record does not decode")?);
    }
    Ok(out)
}

fn text(d: &mut BinDecoder<'_>) -> Result<String, &'static str> {
    let len = u16_(d)?;
    let bytes = d
        .read_slice(usize::from(len))
        .map_err(|_| "cut short")?
        .unverified();
    String::from_utf8(bytes.to_vec()).map_err(|_| "text that is not UTF-8")
}

/// CRC-32 as zlib, gzip and PNG have it (reflected, polynomial 0xEDB88320), for the file's
/// checksum. Written out because no crate in Cargo.lock offers a plain checksum (a digest
/// from `ring` would be a new direct dependency for no gain): it only has to catch a torn or
/// bit-flipped file. It is no defence against a forged one; the reader's bounds are.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes
        .iter()
        .fold(!0u32, |c, &b| TABLE[usize::from((c as u8) ^ b)] ^ (c >> 8))
}
