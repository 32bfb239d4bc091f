//! Trust anchors: where chains of trust start. The IANA root anchors are compiled in; a file
//! of DS or DNSKEY records in zone-file form, as Unbound's `trust-anchor-file` reads it
//! (comments, parentheses, fully qualified owners, TTL and class optional, any number of
//! anchors of either type), replaces or adds to them. Errors say `file:line`.

use std::path::Path;

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::rr::{Name, RData, Record, RecordData, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use hickory_proto::serialize::txt::trust_anchor::{self, Entry};
use thiserror::Error;

/// The IANA root zone KSKs as DS records (https://data.iana.org/root-anchors/root-anchors.xml):
/// KSK-2017 and KSK-2024, RSASHA256, SHA-256 digests.
const ROOT_ANCHORS: [(u16, &str); 2] = [
    (
        20326,
        "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ),
    (
        38696,
        "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
    ),
];

/// Bytes of a hex string known to be well formed (the constants above; a test checks them).
fn hex(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect()
}

/// The anchors of one zone: DS records and/or DNSKEYs, any of which may start the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TrustAnchor {
    pub(crate) zone: Name,
    pub(crate) ds: Vec<DS>,
    pub(crate) dnskeys: Vec<DNSKEY>,
}

impl TrustAnchor {
    pub(crate) fn new(zone: &Name) -> TrustAnchor {
        TrustAnchor {
            zone: zone.clone(),
            ds: Vec::new(),
            dnskeys: Vec::new(),
        }
    }

    /// Adds a DS or DNSKEY record owned by the anchor's zone; false for anything else.
    pub(crate) fn add(&mut self, record: &Record) -> bool {
        if record.name != self.zone {
            return false;
        }
        if let Some(ds) = DS::try_borrow(&record.data) {
            if !self.ds.contains(ds) {
                self.ds.push(ds.clone());
            }
            return true;
        }
        if let Some(key) = DNSKEY::try_borrow(&record.data) {
            if !self.dnskeys.contains(key) {
                self.dnskeys.push(key.clone());
            }
            return true;
        }
        false
    }
}

/// A trust-anchor file that cannot be used.
#[derive(Debug, Error)]
pub(crate) enum AnchorError {
    #[error("{file}:{line}: {what}")]
    At {
        file: String,
        line: usize,
        what: String,
    },
    #[error("{0}: cannot read: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: no DS or DNSKEY records")]
    Empty(String),
}

/// A logical record of zone-file text: comments dropped, a parenthesized record joined onto
/// one line. With the line it starts on and whether it began with a blank (no owner).
struct Logical {
    line: usize,
    blank: bool,
    text: String,
}

/// Splits anchor text into logical records (RFC 1035 §5.1). Anchor records hold no quoted
/// strings, so a ';' always starts a comment.
fn logical_records(text: &str) -> Result<Vec<Logical>, (usize, &'static str)> {
    let mut out = Vec::new();
    let (mut depth, mut open) = (0usize, None::<Logical>);
    for (i, line) in text.lines().enumerate() {
        let content = line.split(';').next().unwrap_or_default();
        let record = match open.take() {
            Some(record) => record,
            None if content.trim().is_empty() => continue,
            None => Logical {
                line: i + 1,
                blank: content.starts_with([' ', '\t']),
                text: String::new(),
            },
        };
        let mut record = record;
        for c in content.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.checked_sub(1).ok_or((i + 1, "unbalanced ')'"))?,
                c => record.text.push(c),
            }
            if matches!(c, '(' | ')') {
                record.text.push(' ');
            }
        }
        record.text.push(' ');
        if depth == 0 {
            out.push(record);
        } else {
            open = Some(record);
        }
    }
    match open {
        Some(record) => Err((record.line, "'(' is never closed")),
        None => Ok(out),
    }
}

/// One DS or DNSKEY record: owner (or the previous one), TTL and class in either order and
/// both optional, type, RDATA. DS RDATA goes to hickory's RDATA parser; DNSKEY RDATA, which
/// that parser refuses, to hickory's trust-anchor parser.
fn anchor_record(
    text: &str,
    blank: bool,
    origin: &Name,
    last: Option<&Name>,
) -> Result<Record, String> {
    let mut tokens = text.split_whitespace().peekable();
    let owner = match (blank, last) {
        (true, Some(owner)) => owner.clone(),
        (true, None) => return Err("record has no owner name and none came before it".into()),
        (false, _) => {
            let token = tokens.next().unwrap_or_default();
            match token {
                "@" => origin.clone(),
                _ => Name::parse(token, Some(origin))
                    .map_err(|e| format!("bad owner {token}: {e}"))?,
            }
        }
    };
    while let Some(t) = tokens.peek() {
        if t.eq_ignore_ascii_case("IN") || parse_ttl(t).is_ok() {
            tokens.next();
        } else {
            break;
        }
    }
    let rtype = tokens
        .next()
        .ok_or("record has no type")?
        .to_ascii_uppercase();
    let rdata: Vec<&str> = tokens.collect();
    let rdata = rdata.join(" ");
    let data = match rtype.as_str() {
        "DS" => RData::try_from_str(RecordType::DS, &rdata).map_err(|e| format!("bad DS: {e}"))?,
        "DNSKEY" => {
            let line = format!("{} IN DNSKEY {rdata}", owner.to_ascii());
            let entries = trust_anchor::Parser::new(line)
                .parse()
                .map_err(|e| format!("bad DNSKEY: {e}"))?;
            let key = entries
                .into_iter()
                .find_map(|entry| match entry {
                    Entry::DNSKEY(r) => Some(r.data().clone()),
                    _ => None,
                })
                .ok_or("bad DNSKEY: no key")?;
            if !key.zone_key() {
                return Err("DNSKEY without the Zone Key flag cannot anchor a zone".into());
            }
            key.into_rdata()
        }
        other => return Err(format!("{other} is not a trust anchor (DS or DNSKEY)")),
    };
    Ok(Record::from_rdata(owner, 0, data))
}

/// Every configured trust anchor, by zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Anchors {
    list: Vec<TrustAnchor>,
}

impl Anchors {
    /// The IANA root anchors, used when tern walks the built-in root hints.
    pub(crate) fn builtin() -> Anchors {
        let mut root = TrustAnchor::new(&Name::root());
        for (tag, digest) in ROOT_ANCHORS {
            root.ds.push(DS::new(
                tag,
                Algorithm::RSASHA256,
                DigestType::SHA256,
                hex(digest),
            ));
        }
        Anchors { list: vec![root] }
    }

    /// Reads a trust-anchor file.
    pub(crate) fn from_file(path: &Path) -> Result<Anchors, AnchorError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AnchorError::Read(path.display().to_string(), e))?;
        Anchors::parse(&text, path)
    }

    /// Parses trust-anchor text as if read from `path`. Owners are fully qualified, or
    /// relative to the last `$ORIGIN` (the root before any); `$TTL` is accepted and unused.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Anchors, AnchorError> {
        let file = path.display().to_string();
        let at = |line, what: String| AnchorError::At {
            file: file.clone(),
            line,
            what,
        };
        let mut anchors = Anchors::default();
        let (mut origin, mut last) = (Name::root(), None::<Name>);
        let records = logical_records(text).map_err(|(line, what)| at(line, what.into()))?;
        for l in records {
            let mut words = l.text.split_whitespace();
            match words.next().map(str::to_ascii_uppercase).as_deref() {
                Some("$ORIGIN") => {
                    let name = words.next().unwrap_or_default();
                    origin = Name::parse(name, Some(&origin))
                        .map_err(|e| at(l.line, format!("bad $ORIGIN {name}: {e}")))?;
                }
                Some("$TTL") => {}
                Some(d) if d.starts_with('$') => {
                    return Err(at(
                        l.line,
                        format!("{d} is not supported in a trust-anchor file"),
                    ));
                }
                _ => {
                    let record = anchor_record(&l.text, l.blank, &origin, last.as_ref())
                        .map_err(|what| at(l.line, what))?;
                    last = Some(record.name.clone());
                    anchors.insert(&record);
                }
            }
        }
        if anchors.is_empty() {
            return Err(AnchorError::Empty(file));
        }
        Ok(anchors)
    }

    /// Adds a DS or DNSKEY record as an anchor for its owner; false for other records.
    pub(crate) fn insert(&mut self, record: &Record) -> bool {
        match self.list.iter_mut().find(|a| a.zone == record.name) {
            Some(anchor) => anchor.add(record),
            None => {
                let mut anchor = TrustAnchor::new(&record.name);
                let added = anchor.add(record);
                if added {
                    self.list.push(anchor);
                }
                added
            }
        }
    }

    /// Every anchor of `other` added to these.
    // Used by the tests; the RFC 5011 / `tern ctl` anchor updates (issue 18 item 6) next.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn extend(&mut self, other: &Anchors) {
        for anchor in &other.list {
            match self.list.iter_mut().find(|a| a.zone == anchor.zone) {
                Some(mine) => {
                    mine.ds.extend(
                        anchor
                            .ds
                            .iter()
                            .filter(|d| !mine.ds.contains(d))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                    mine.dnskeys.extend(
                        anchor
                            .dnskeys
                            .iter()
                            .filter(|k| !mine.dnskeys.contains(k))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                }
                None => self.list.push(anchor.clone()),
            }
        }
    }

    // Used by the tests; the RFC 5011 / `tern ctl` anchor updates (issue 18 item 6) next.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn get(&self, zone: &Name) -> Option<&TrustAnchor> {
        self.list.iter().find(|a| a.zone == *zone)
    }

    /// The anchor a validation of `name` starts from: the deepest one at or above it. `None`
    /// means no anchor covers the name: its answers are indeterminate.
    pub(crate) fn closest(&self, name: &Name) -> Option<&TrustAnchor> {
        self.list
            .iter()
            .filter(|a| a.zone.zone_of(name))
            .max_by_key(|a| a.zone.num_labels())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    // Used by the tests; the RFC 5011 / `tern ctl` anchor updates (issue 18 item 6) next.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &TrustAnchor> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests;
