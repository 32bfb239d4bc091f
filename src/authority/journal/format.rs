//! The text of a journal: its header lines, and one record per line in a form that reads back
//! to exactly the record written (owner case, TTL, every RDATA byte).

use std::fmt::Write as _;
use std::path::Path;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, Restrict};

use super::EntryKind;
use crate::rr::dname;
use crate::zonefile::parse_zone_text;

/// The first line of every journal; the version names this format (v3: entries may carry what
/// they changed in the content served, and snapshots; v2: the content digest and serial steps;
/// v1 and v2 files are read too, and appended to as v3).
pub(super) fn file_header(origin: &Name) -> String {
    format!("; tern journal v3 for {}\n", origin.to_ascii())
}

/// The zone a journal's first line names, if it is one (v1, v2 or v3).
pub(super) fn parse_file_header(line: &str) -> Option<Name> {
    let name = [
        "; tern journal v3 for ",
        "; tern journal v2 for ",
        "; tern journal v1 for ",
    ]
    .iter()
    .find_map(|prefix| line.strip_prefix(prefix))?;
    Name::from_ascii(name).ok().filter(Name::is_fqdn)
}

const UPDATE_PREFIX: &str = "; tern journal entry ";
const STEP_PREFIX: &str = "; tern journal step ";
const SNAPSHOT_PREFIX: &str = "; tern journal snapshot ";

/// An entry's first line: what kind of change, the serials, and the content digest after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EntryHeader {
    pub(super) kind: EntryKind,
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) content: Option<u64>,
}

pub(super) fn entry_header(h: &EntryHeader) -> String {
    let prefix = match h.kind {
        EntryKind::Update => UPDATE_PREFIX,
        EntryKind::Step => STEP_PREFIX,
        EntryKind::Snapshot => SNAPSHOT_PREFIX,
    };
    match h.content {
        Some(digest) => format!("{prefix}{} -> {} content {digest:016x}\n", h.from, h.to),
        None => format!("{prefix}{} -> {}\n", h.from, h.to),
    }
}

/// `; tern journal entry FROM -> TO [content DIGEST]` (an UPDATE; v1 has no digest),
/// `; tern journal step FROM -> TO content DIGEST` (a change from another source) or
/// `; tern journal snapshot FROM -> TO content DIGEST` (the whole content served at TO).
pub(super) fn parse_entry_header(line: &str) -> Option<EntryHeader> {
    let (kind, rest) = if let Some(rest) = line.strip_prefix(UPDATE_PREFIX) {
        (EntryKind::Update, rest)
    } else if let Some(rest) = line.strip_prefix(STEP_PREFIX) {
        (EntryKind::Step, rest)
    } else {
        (EntryKind::Snapshot, line.strip_prefix(SNAPSHOT_PREFIX)?)
    };
    let (from, rest) = rest.split_once(" -> ")?;
    let (to, content) = match rest.split_once(" content ") {
        Some((to, digest)) if digest.len() == 16 => {
            (to, Some(u64::from_str_radix(digest, 16).ok()?))
        }
        Some(_) => return None,
        None => (rest, None),
    };
    // A step or snapshot exists only to carry the serial and the content it stands for.
    if kind != EntryKind::Update && content.is_none() {
        return None;
    }
    Some(EntryHeader {
        kind,
        from: from.parse().ok()?,
        to: to.parse().ok()?,
        content,
    })
}

pub(super) fn end_line(count: usize, crc: u32) -> String {
    format!("; end {count} records crc32 {crc:08x}\n")
}

/// `; end N records crc32 XXXXXXXX`: the record count and the checksum.
pub(super) fn parse_end_line(line: &str) -> Option<(usize, u32)> {
    let rest = line.strip_prefix("; end ")?;
    let (count, crc) = rest.split_once(" records crc32 ")?;
    if crc.len() != 8 {
        return None;
    }
    Some((count.parse().ok()?, u32::from_str_radix(crc, 16).ok()?))
}

/// CRC-32 (IEEE 802.3, the zlib and gzip one), bit by bit: journals are small and this runs
/// once per entry, so a table is not worth its 1 KiB.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The record as one line of text that [`parse_record`] reads back to exactly the same bytes:
/// presentation format where the crate's zone-file reader reproduces it, else the RFC 3597
/// generic form `OWNER TTL IN TYPEnnn \# LEN HEX` (for example when a name in the RDATA has
/// upper case, which the reader folds). `None`: not even that round-trips.
pub(crate) fn record_line(record: &Record, origin: &Name) -> Option<String> {
    let wire = record.to_bytes().ok()?;
    let same = |line: &str| {
        parse_record(line, origin)
            .ok()
            .and_then(|r| r.to_bytes().ok())
            .is_some_and(|bytes| bytes == wire)
    };
    // A control character (a newline from some type's Display) would split the line.
    if let Some(line) = presentation(record)
        && !line.contains(char::is_control)
        && same(&line)
    {
        return Some(line);
    }
    generic(record).filter(|line| same(line))
}

/// The owner, TTL and class every line starts with.
fn head(record: &Record) -> String {
    format!("{} {} IN", record.name.to_ascii(), record.ttl)
}

fn presentation(record: &Record) -> Option<String> {
    if record.dns_class != DNSClass::IN {
        return None;
    }
    let rdata = match &record.data {
        // hickory's Display runs the strings together without quotes.
        RData::TXT(txt) => {
            let mut out = String::from("TXT");
            for s in txt.txt_data.iter() {
                out.push_str(" \"");
                out.push_str(&quoted(s)?);
                out.push('"');
            }
            out
        }
        RData::Unknown { code, .. } if *code == RecordType::DNAME => {
            format!("DNAME {}", dname::target(record)?.to_ascii())
        }
        // Opaque or message-only data has no presentation form the reader takes.
        RData::Unknown { .. }
        | RData::NULL(_)
        | RData::Update0(_)
        | RData::OPT(_)
        | RData::TSIG(_) => return None,
        other => format!("{} {other}", record.record_type()),
    };
    Some(format!("{} {rdata}", head(record)))
}

/// A character-string's text between quotes; `None` when the reader could not give the same
/// bytes back (hickory-proto 0.26 decodes `\DDD` wrongly, so only printable UTF-8 is safe).
fn quoted(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    Some(text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// RFC 3597 §5: `TYPEnnn \# LEN HEX`.
fn generic(record: &Record) -> Option<String> {
    let rdata = record.data.to_bytes().ok()?;
    let mut out = format!(
        "{} TYPE{} \\# {}",
        head(record),
        u16::from(record.record_type()),
        rdata.len()
    );
    if !rdata.is_empty() {
        out.push(' ');
        for b in &rdata {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
        }
    }
    Some(out)
}

/// Reads one record line: the generic form here, anything else through the zone-file reader.
/// The error is the reason, without a place; the caller knows the file and line.
pub(crate) fn parse_record(line: &str, origin: &Name) -> Result<Record, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if let [owner, ttl, class, rtype, "\\#", len, hex @ ..] = words.as_slice() {
        return parse_generic(owner, ttl, class, rtype, len, &hex.concat());
    }
    let mut records =
        parse_zone_text(line, Path::new("journal"), Some(origin)).map_err(|errors| {
            let reasons: Vec<String> = errors.0.into_iter().map(|e| e.reason).collect();
            reasons.join("; ")
        })?;
    let mut record = match (records.pop(), records.is_empty()) {
        (Some(located), true) => located.record,
        _ => return Err("expected exactly one record".to_string()),
    };
    // hickory's text parser lowercases names (it reads them as IDNA); the owner is written
    // fully qualified, so read it again as plain ASCII to keep its case.
    if let Some(owner) = words.first().and_then(|w| Name::from_ascii(w).ok())
        && owner == record.name
    {
        record.name = owner;
    }
    Ok(record)
}

fn parse_generic(
    owner: &str,
    ttl: &str,
    class: &str,
    rtype: &str,
    len: &str,
    hex: &str,
) -> Result<Record, String> {
    let name = Name::from_ascii(owner).map_err(|e| format!("bad owner {owner}: {e}"))?;
    if !name.is_fqdn() {
        return Err(format!("owner {owner} is not fully qualified"));
    }
    let ttl: u32 = ttl.parse().map_err(|_| format!("bad TTL {ttl}"))?;
    if class != "IN" {
        return Err(format!("class {class} is not IN"));
    }
    let code: u16 = rtype
        .strip_prefix("TYPE")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad generic type {rtype}"))?;
    let len: u16 = len.parse().map_err(|_| format!("bad RDATA length {len}"))?;
    let bytes = unhex(hex).ok_or("bad hex RDATA")?;
    if bytes.len() != usize::from(len) {
        return Err(format!("RDATA is {} bytes, not {len}", bytes.len()));
    }
    let mut decoder = BinDecoder::new(&bytes);
    let rdata = RData::read(&mut decoder, RecordType::from(code), Restrict::new(len))
        .map_err(|e| format!("bad RDATA: {e}"))?;
    if !decoder.is_empty() {
        return Err("RDATA has bytes left over".to_string());
    }
    Ok(Record::from_rdata(name, ttl, rdata))
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}
