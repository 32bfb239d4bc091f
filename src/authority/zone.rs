//! One authoritative zone held in memory: its records grouped by owner name, with every empty
//! non-terminal present as an empty node so existence checks are a single map lookup.
//! A `Zone` is immutable once built; reloads and dynamic updates build a new one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::rules::{BalanceRules, Turns};
use super::signed::{Dnssec, covered};
use super::transfer::Delta;
use crate::rr::label_count;
use crate::zonefile::{Located, Location, ZoneError, ZoneErrors, parse_zone_file, parse_zone_text};

/// The records of one owner name, one entry per type, in the order the file gave them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    rrsets: Vec<(RecordType, Vec<Record>)>,
}

impl Node {
    /// The RRset of `rtype` at this node, if any.
    pub(crate) fn get(&self, rtype: RecordType) -> Option<&[Record]> {
        self.rrsets
            .iter()
            .find(|(t, _)| *t == rtype)
            .map(|(_, r)| r.as_slice())
    }

    /// True for an empty non-terminal: the name exists only because names below it do.
    pub(crate) fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }

    /// Every RRset at this node.
    pub(crate) fn rrsets(&self) -> impl Iterator<Item = &[Record]> {
        self.rrsets.iter().map(|(_, r)| r.as_slice())
    }

    fn insert(&mut self, record: Record) {
        let rtype = record.record_type();
        match self.rrsets.iter_mut().find(|(t, _)| *t == rtype) {
            // RFC 2181 §5: an RRset is a set; a repeated record is the same record.
            Some((_, set)) => {
                if !set.iter().any(|r| r.data == record.data) {
                    set.push(record);
                }
            }
            None => self.rrsets.push((rtype, vec![record])),
        }
    }
}

/// An authoritative zone: apex SOA and NS, and all nodes at or below the origin.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    nodes: HashMap<LowerName, Node>,
    soa: Record,
    record_count: usize,
    /// How answers from the zone are ordered; the counters of round robin.
    balance: Arc<BalanceRules>,
    turns: Arc<Turns>,
    /// How the zone came to be at this serial, oldest step first: what IXFR (RFC 1995) sends.
    /// Shared with the snapshots before it; empty for a zone read from a file.
    history: Arc<Vec<Delta>>,
    /// The additional section for the apex NS RRset: the addresses of its targets this zone
    /// holds, glue included. Every positive answer carries the apex NS in its authority
    /// section, so this is worked out once per zone snapshot rather than per answer.
    apex_ns_addresses: Vec<Record>,
    /// DNSSEC data beyond the nodes (NSEC order, the NSEC3 chain): `None` for a zone without
    /// DNSSEC records, whose answers then take no extra step at all.
    dnssec: Option<Arc<Dnssec>>,
}

/// NSEC3 records and the RRSIGs over them live in the zone's NSEC3 chain, not at a node: a
/// hashed owner name is no name of the zone (RFC 5155 §7.2.8).
fn is_nsec3_data(record: &Record) -> bool {
    match record.record_type() {
        RecordType::NSEC3 => true,
        RecordType::RRSIG => covered(record) == Some(RecordType::NSEC3),
        _ => false,
    }
}

/// Types that may share an owner with a CNAME (RFC 2181 §10.1, RFC 4035 §2.5) or sit at a
/// zone cut beside NS and DS (RFC 4035 §2.3: the parent's NSEC and the RRSIGs of both).
fn is_dnssec_meta(rtype: RecordType) -> bool {
    matches!(rtype, RecordType::RRSIG | RecordType::NSEC)
}

impl Zone {
    /// Loads and validates a zone file. `origin` defaults to the file's `$ORIGIN`/SOA owner.
    pub fn from_file(path: &Path, origin: Option<&Name>) -> Result<Zone, ZoneErrors> {
        let records = parse_zone_file(path, origin)?;
        Zone::from_records(origin, records, path)
    }

    /// Parses and validates zone text as if read from `file`.
    pub fn from_text(text: &str, file: &Path, origin: Option<&Name>) -> Result<Zone, ZoneErrors> {
        let records = parse_zone_text(text, file, origin)?;
        Zone::from_records(origin, records, file)
    }

    /// Builds a zone, checking the RFC 1034/1035/2181 rules a server must not serve around:
    /// exactly one SOA at the apex, NS at the apex, nothing outside the origin, no CNAME
    /// beside other data, nothing below a zone cut or a DNAME except glue addresses.
    pub fn from_records(
        origin: Option<&Name>,
        records: Vec<Located>,
        file: &Path,
    ) -> Result<Zone, ZoneErrors> {
        let mut errors = Vec::new();
        let mut err = |at: &Location, reason: String| {
            errors.push(ZoneError {
                at: at.clone(),
                reason,
            })
        };
        let origin = match origin {
            Some(o) => o.clone(),
            None => match records
                .iter()
                .find(|r| r.record.record_type() == RecordType::SOA)
            {
                Some(soa) => soa.record.name.clone(),
                None => {
                    return Err(ZoneErrors::one(
                        file,
                        1,
                        "no SOA record and no origin given",
                    ));
                }
            },
        };
        let apex = LowerName::new(&origin);

        let mut soa: Option<&Located> = None;
        let mut nodes: HashMap<LowerName, Node> = HashMap::new();
        let mut first_line: HashMap<(LowerName, RecordType), &Location> = HashMap::new();
        let mut nsec3: Vec<Located> = Vec::new();
        for loc in &records {
            let r = &loc.record;
            let name = LowerName::new(&r.name);
            if !apex.zone_of(&name) {
                err(
                    &loc.at,
                    format!("{} is outside the zone {}", r.name, origin),
                );
                continue;
            }
            if is_nsec3_data(r) {
                nsec3.push(loc.clone());
                continue;
            }
            if r.record_type() == RecordType::SOA {
                if name != apex {
                    err(
                        &loc.at,
                        format!("SOA at {} is not at the zone apex {}", r.name, origin),
                    );
                    continue;
                }
                if let Some(first) = soa {
                    err(
                        &loc.at,
                        format!("second SOA record (the first is at {})", first.at),
                    );
                    continue;
                }
                soa = Some(loc);
            }
            first_line
                .entry((name.clone(), r.record_type()))
                .or_insert(&loc.at);
            nodes.entry(name).or_default().insert(r.clone());
        }
        let Some(soa) = soa else {
            let line = records.first().map_or(1, |r| r.at.line);
            return Err(ZoneErrors::one(
                file,
                line,
                format!("zone {origin} has no SOA record at its apex"),
            ));
        };
        if nodes
            .get(&apex)
            .and_then(|n| n.get(RecordType::NS))
            .is_none()
        {
            err(
                &soa.at,
                format!("zone {origin} has no NS records at its apex"),
            );
        }

        // Per-name checks, then checks of names below zone cuts and DNAMEs.
        let mut names: Vec<&LowerName> = nodes.keys().collect();
        names.sort_by_key(|n| label_count(n));
        for name in &names {
            let node = &nodes[*name];
            let at = |t: RecordType| first_line.get(&((*name).clone(), t)).copied();
            if let Some(cname) = node.get(RecordType::CNAME) {
                let loc = at(RecordType::CNAME).unwrap_or(&soa.at);
                let beside = node.rrsets.iter().filter(|(t, _)| !is_dnssec_meta(*t));
                if beside.count() > 1 {
                    err(
                        loc,
                        format!(
                            "CNAME at {} beside other data (RFC 1034 §3.6.2)",
                            cname[0].name
                        ),
                    );
                } else if cname.len() > 1 {
                    err(loc, format!("more than one CNAME at {}", cname[0].name));
                }
            }
            if let Some(d) = node.get(RecordType::DNAME)
                && d.len() > 1
            {
                let loc = at(RecordType::DNAME).unwrap_or(&soa.at);
                err(
                    loc,
                    format!("more than one DNAME at {} (RFC 6672 §2.4)", d[0].name),
                );
            }
            // Walk the ancestors from just above this name up to the apex (a DNAME at the
            // apex occludes the whole zone below it, RFC 6672 §2.3; apex NS is no cut).
            let mut up = name.base_name();
            while **name != apex && label_count(&up) >= label_count(&apex) {
                if let Some(parent) = nodes.get(&up) {
                    let cut = up != apex && parent.get(RecordType::NS).is_some();
                    let dname = parent.get(RecordType::DNAME).is_some();
                    let only_glue = node
                        .rrsets
                        .iter()
                        .all(|(t, _)| matches!(t, RecordType::A | RecordType::AAAA));
                    if (cut && !only_glue) || dname {
                        for (t, set) in &node.rrsets {
                            if cut && matches!(t, RecordType::A | RecordType::AAAA) {
                                continue;
                            }
                            let loc = at(*t).unwrap_or(&soa.at);
                            let what = if dname { "DNAME" } else { "zone cut" };
                            err(
                                loc,
                                format!(
                                    "{} {} is below the {what} at {} and would be occluded",
                                    set[0].name, t, up
                                ),
                            );
                        }
                        break;
                    }
                }
                if up == apex {
                    break;
                }
                up = up.base_name();
            }
        }
        // Checks at a zone cut itself: only NS, DS and glue addresses belong there.
        for name in &names {
            let node = &nodes[*name];
            if **name == apex || node.get(RecordType::NS).is_none() {
                continue;
            }
            for (t, set) in &node.rrsets {
                if !matches!(
                    t,
                    RecordType::NS | RecordType::DS | RecordType::A | RecordType::AAAA
                ) && !is_dnssec_meta(*t)
                {
                    let loc = first_line
                        .get(&((*name).clone(), *t))
                        .copied()
                        .unwrap_or(&soa.at);
                    err(
                        loc,
                        format!(
                            "{} {} sits at the zone cut {} and would be occluded",
                            set[0].name, t, set[0].name
                        ),
                    );
                }
            }
        }
        let dnssec = Dnssec::build(
            &origin,
            nodes.get(&apex),
            nodes.values(),
            nsec3,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(ZoneErrors(errors));
        }

        // Empty non-terminals: every ancestor up to the apex exists.
        let owners: Vec<LowerName> = nodes.keys().cloned().collect();
        for owner in owners {
            let mut up = owner;
            while label_count(&up) > label_count(&apex) {
                up = up.base_name();
                nodes.entry(up.clone()).or_default();
            }
        }
        let record_count = nodes
            .values()
            .map(|n| n.rrsets().map(<[Record]>::len).sum::<usize>())
            .sum::<usize>()
            + dnssec.as_ref().map_or(0, |d| d.nsec3().records().count());
        let mut zone = Zone {
            origin,
            nodes,
            soa: soa.record.clone(),
            record_count,
            balance: Arc::default(),
            turns: Arc::default(),
            history: Arc::default(),
            apex_ns_addresses: Vec::new(),
            dnssec: dnssec.map(Arc::new),
        };
        zone.apex_ns_addresses = zone.ns_addresses_of_apex();
        Ok(zone)
    }

    fn ns_addresses_of_apex(&self) -> Vec<Record> {
        let Some(ns) = self
            .node(&LowerName::new(&self.origin))
            .and_then(|node| node.get(RecordType::NS))
        else {
            return Vec::new();
        };
        let mut out: Vec<Record> = Vec::new();
        for target in crate::rr::ns_targets(ns) {
            for a in self.additional_addresses(&target, true) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// The addresses of the apex NS targets this zone holds (glue included), each once.
    pub(crate) fn apex_ns_addresses(&self) -> &[Record] {
        &self.apex_ns_addresses
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The zone with these ordering rules (and fresh round-robin counters).
    pub(crate) fn with_balance(mut self, rules: BalanceRules) -> Zone {
        self.balance = Arc::new(rules);
        self.turns = Arc::default();
        self
    }

    /// The same zone at another serial: the SOA record, and its copy in the apex node. Cheaper
    /// than building the zone again when only the serial is decided after the build.
    pub(crate) fn with_serial(mut self, serial: u32) -> Zone {
        let set = |soa: &mut Record| {
            if let RData::SOA(data) = &mut soa.data {
                data.serial = serial;
            }
        };
        set(&mut self.soa);
        let apex = LowerName::new(&self.origin);
        if let Some(node) = self.nodes.get_mut(&apex) {
            for (rtype, records) in &mut node.rrsets {
                if *rtype == RecordType::SOA {
                    records.iter_mut().for_each(set);
                }
            }
        }
        self
    }

    /// The zone with the history of changes that led to it (its last step ends at this serial).
    pub(crate) fn with_history(mut self, history: Arc<Vec<Delta>>) -> Zone {
        self.history = history;
        self
    }

    pub(crate) fn history(&self) -> &[Delta] {
        &self.history
    }

    pub(crate) fn balance(&self) -> &BalanceRules {
        &self.balance
    }

    pub(crate) fn turns(&self) -> &Turns {
        &self.turns
    }

    /// Number of records in the zone (as written, duplicates removed).
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// The zone's serial number, from its SOA.
    pub fn serial(&self) -> u32 {
        match &self.soa.data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        }
    }

    pub(crate) fn node(&self, name: &LowerName) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The SOA to put in the authority section of a negative answer. RFC 2308 §3: its TTL is
    /// the smaller of the SOA's own TTL and its MINIMUM field.
    pub(crate) fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        if let RData::SOA(data) = &soa.data {
            soa.ttl = soa.ttl.min(data.minimum);
        }
        soa
    }

    /// The apex SOA as stored.
    pub(crate) fn soa(&self) -> &Record {
        &self.soa
    }

    /// Every record of the zone (for transfers, `zone check` and tests), the NSEC3 chain's
    /// included.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        let chain = self.dnssec.iter().flat_map(|d| d.nsec3().records());
        self.nodes
            .values()
            .flat_map(|n| n.rrsets().flatten())
            .chain(chain)
    }

    /// The zone's DNSSEC data when its apex SOA is signed: DO=1 answers then carry RRSIGs and
    /// denial proofs (RFC 4035 §3.1).
    pub(crate) fn signed(&self) -> Option<&Dnssec> {
        self.dnssec.as_deref().filter(|d| d.is_signed())
    }

    /// The record of the zone identical to `record` (owner, class, type, RDATA), wherever it
    /// is kept: at its node or in the NSEC3 chain.
    pub(crate) fn held(&self, record: &Record) -> Option<&Record> {
        let at_node = self
            .node(&LowerName::new(&record.name))
            .and_then(|node| node.get(record.record_type()))
            .and_then(|set| set.iter().find(|r| *r == record));
        at_node.or_else(|| self.dnssec.as_ref()?.nsec3().holds(record))
    }
}

#[cfg(test)]
mod tests;
