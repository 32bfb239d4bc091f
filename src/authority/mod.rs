//! Local authoritative data: the zones tern serves, and RFC 1034 §4.3.2 answers from them.
//!
//! Pure data, no I/O on the query path: a [`Catalog`] holds immutable [`Zone`]s; reloading or
//! updating builds a new catalog and swaps it in, so in-flight queries keep a consistent view.

pub(crate) mod balance;
pub(crate) mod builtin;
pub(crate) mod journal;
pub(crate) mod lookup;
pub(crate) mod reload;
pub(crate) mod rules;
pub(crate) mod store;
pub(crate) mod transfer;
pub(crate) mod update;
pub(crate) mod zone;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

pub(crate) use crate::zonefile::ZoneErrors;
pub(crate) use lookup::Answer;
pub use zone::Zone;

use crate::limits::LOCAL_CNAME_CHAIN;

/// The set of zones served, keyed by origin.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    zones: HashMap<LowerName, Arc<Zone>>,
    /// Zones we are authoritative for but cannot answer from: a secondary with no copy yet,
    /// or whose copy expired (RFC 1035 §3.3.13 SOA EXPIRE). Their names get SERVFAIL, never
    /// an answer from a parent zone or the resolver.
    unavailable: HashSet<LowerName>,
}

/// Two zones with one origin cannot both be served.
#[derive(Debug, thiserror::Error)]
#[error("zone {0} is configured twice")]
pub struct DuplicateZone(pub(crate) Name);

/// A complete local answer, section by section.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAnswer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// An alias chain that left every local zone stops here; a resolver may continue from it.
    pub unresolved_target: Option<Name>,
    /// The name (qname, or an alias target) that reached a zone cut: the authority section
    /// is a referral, and a resolver may continue from that name at the child's servers.
    pub delegated: Option<Name>,
    /// The authority section is only the zone's NS RRset added to a positive answer: when the
    /// response is too big it may be dropped without setting TC, as NSD does (it is not part
    /// of the answer, RFC 2181 §9). A referral's NS RRset is never optional.
    pub optional_authority: bool,
}

impl LocalAnswer {
    fn new() -> Self {
        LocalAnswer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            unresolved_target: None,
            delegated: None,
            optional_authority: false,
        }
    }
}

impl Catalog {
    pub fn new(zones: impl IntoIterator<Item = Zone>) -> Result<Catalog, DuplicateZone> {
        Catalog::from_shared(zones.into_iter().map(Arc::new))
    }

    /// A catalog of snapshots that other catalogs (or the zone store) hold too.
    pub(crate) fn from_shared(
        zones: impl IntoIterator<Item = Arc<Zone>>,
    ) -> Result<Catalog, DuplicateZone> {
        let mut map = HashMap::new();
        for zone in zones {
            let key = LowerName::new(zone.origin());
            if map.contains_key(&key) {
                return Err(DuplicateZone(zone.origin().clone()));
            }
            map.insert(key, zone);
        }
        Ok(Catalog {
            zones: map,
            unavailable: HashSet::new(),
        })
    }

    /// Marks zones served here that have no usable data (see `unavailable`). A zone both
    /// served and unavailable is served.
    pub(crate) fn with_unavailable(mut self, origins: impl IntoIterator<Item = Name>) -> Catalog {
        self.unavailable.extend(
            origins
                .into_iter()
                .map(|o| LowerName::new(&o))
                .filter(|o| !self.zones.contains_key(o)),
        );
        self
    }

    /// True when the deepest zone of ours containing `name` is unavailable.
    pub(crate) fn is_unavailable(&self, name: &Name) -> bool {
        if self.unavailable.is_empty() {
            return false;
        }
        let mut cur = LowerName::new(name);
        loop {
            if self.zones.contains_key(&cur) {
                return false;
            }
            if self.unavailable.contains(&cur) {
                return true;
            }
            if cur.is_root() {
                return false;
            }
            cur = cur.base_name();
        }
    }

    pub fn zones(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
    }

    /// The deepest zone containing `name` (a child zone wins over its parent, as in NSD).
    pub fn find(&self, name: &Name) -> Option<&Arc<Zone>> {
        // A pure resolver serves no zones: skip the per-label walk on every query.
        if self.zones.is_empty() {
            return None;
        }
        let mut cur = LowerName::new(name);
        loop {
            if let Some(z) = self.zones.get(&cur) {
                return Some(z);
            }
            if cur.is_root() {
                return None;
            }
            cur = cur.base_name();
        }
    }

    /// The zone that answers `qtype` at `name`: DS at a child's apex belongs to the parent
    /// (RFC 4035 §3.1.4.1) when we serve it.
    fn zone_for(&self, name: &Name, qtype: RecordType) -> Option<&Arc<Zone>> {
        let zone = self.find(name)?;
        if qtype == RecordType::DS && zone.origin() == name && !name.is_root() {
            return self.find(&name.base_name()).or(Some(zone));
        }
        Some(zone)
    }

    /// Orders each RRset of `answer`'s answer section by its zone's rules, for `client`. The
    /// records are the answer's own copies: the zone's, shared by every query in flight, stay
    /// as they are.
    pub(crate) fn balance(&self, answer: &mut LocalAnswer, client: IpAddr) {
        let records = &mut answer.answers;
        let mut start = 0;
        while start < records.len() {
            let (name, rtype) = (records[start].name.clone(), records[start].record_type());
            let len = records[start..]
                .iter()
                .take_while(|r| r.record_type() == rtype && r.name == name)
                .count();
            let end = start + len;
            if len > 1
                && let Some(zone) = self.find(&name)
                && let Some((policy, members)) = zone.balance().for_name(&name)
            {
                let turn = zone.turns().next(&name, rtype);
                let member =
                    |r: &Record| members.map_or_else(balance::Member::default, |m| m.member(r));
                balance::order(
                    policy,
                    &mut records[start..end],
                    turn,
                    client,
                    &member,
                    &mut rand::rng(),
                );
            }
            start = end;
        }
    }

    /// Answers from local zones, following aliases between them. `None` when no served zone
    /// contains `qname`.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> Option<LocalAnswer> {
        if self.is_unavailable(qname) {
            let mut out = LocalAnswer::new();
            out.rcode = ResponseCode::ServFail;
            out.authoritative = false;
            return Some(out);
        }
        let mut zone = self.zone_for(qname, qtype)?;
        let mut out = LocalAnswer::new();
        let mut name = qname.clone();
        let mut seen = HashSet::new();
        for _ in 0..=LOCAL_CNAME_CHAIN {
            seen.insert(LowerName::new(&name));
            match zone.lookup(&name, qtype) {
                Answer::Records(records) => {
                    out.answers.extend(records);
                    self.add_authority_and_additional(zone, qtype, &mut out);
                    return Some(out);
                }
                Answer::Cname { records, target } => {
                    out.answers.extend(records);
                    if qtype == RecordType::CNAME || seen.contains(&LowerName::new(&target)) {
                        return Some(out);
                    }
                    match self.zone_for(&target, qtype) {
                        Some(z) => zone = z,
                        None => {
                            out.unresolved_target = Some(target);
                            return Some(out);
                        }
                    }
                    name = target;
                }
                Answer::Referral(delegation) => {
                    // AA covers the answer section; a bare referral has none (RFC 1034 §4.3.2).
                    out.authoritative = !out.answers.is_empty();
                    out.authorities = delegation.ns;
                    out.additionals = delegation.glue;
                    out.delegated = Some(name);
                    return Some(out);
                }
                Answer::NoData { soa } => {
                    out.authorities.push(soa);
                    return Some(out);
                }
                Answer::NxDomain { soa } => {
                    // RFC 6604 §2.1: the RCODE describes the last name in the chain.
                    out.rcode = ResponseCode::NXDomain;
                    out.authorities.push(soa);
                    return Some(out);
                }
                Answer::YxDomain { records } => {
                    out.rcode = ResponseCode::YXDomain;
                    out.answers.extend(records);
                    return Some(out);
                }
            }
        }
        // The chain is longer than we follow: hand back what we have, as NSD does.
        Some(out)
    }

    /// The optional parts of a positive answer from `zone`, as NSD (and BIND) send them:
    ///
    /// * authority: the zone's apex NS RRset (RFC 1034 §4.3.2 step 6 and RFC 2181 §6.1 allow
    ///   it; it tells the client who else is authoritative), except for DS and DNSKEY, whose
    ///   answers are large already, for ANY (RFC 8482 keeps those minimal), and when the NS
    ///   RRset already is the answer;
    /// * additional: addresses of the NS, MX and SRV targets in the answer and of the NS
    ///   targets in the authority section (RFC 1035 §3.3.9, §3.3.11; RFC 2782), from the
    ///   same zone, never repeating an RRset already in the message.
    ///
    /// A and AAAA RRsets are ordered A first, so that when the response must shrink the
    /// AAAA records go first, as with NSD.
    fn add_authority_and_additional(&self, zone: &Zone, qtype: RecordType, out: &mut LocalAnswer) {
        let apex_ns = zone
            .node(&LowerName::new(zone.origin()))
            .and_then(|node| node.get(RecordType::NS))
            .unwrap_or_default();
        let ns_in_answer = out
            .answers
            .iter()
            .any(|r| r.record_type() == RecordType::NS && r.name == *zone.origin());
        let with_apex_ns = !matches!(qtype, RecordType::DS | RecordType::DNSKEY | RecordType::ANY)
            && !ns_in_answer;
        if with_apex_ns {
            out.authorities.extend_from_slice(apex_ns);
            out.optional_authority = !apex_ns.is_empty();
        }

        let mut addresses: Vec<Record> = Vec::new();
        let mut add = |a: &Record, answers: &[Record]| {
            if !answers.contains(a) && !addresses.contains(a) {
                addresses.push(a.clone());
            }
        };
        for r in &out.answers {
            let (target, allow_glue) = match &r.data {
                RData::NS(ns) => (&ns.0, true),
                RData::MX(mx) => (&mx.exchange, false),
                RData::SRV(srv) => (&srv.target, false),
                _ => continue,
            };
            for a in zone.additional_addresses(target, allow_glue) {
                add(&a, &out.answers);
            }
        }
        // The apex NS RRset's addresses are the zone's, worked out when the zone was loaded.
        if with_apex_ns {
            for a in zone.apex_ns_addresses() {
                add(a, &out.answers);
            }
        }
        addresses.sort_by_key(|r| r.record_type() != RecordType::A);
        out.additionals = addresses;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn zone(origin: &str, body: &str) -> Zone {
        let text = format!(
            "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n{body}"
        );
        Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone")
    }

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    /// The catalog's answer to `q`, written `"name TYPE"`, which must be one of its zones'.
    fn ask(q: &str) -> LocalAnswer {
        let (qname, qtype) = q.split_once(' ').expect("name TYPE");
        let qtype: RecordType = qtype.parse().expect("type");
        catalog().answer(&n(qname), qtype).expect("ours")
    }

    fn catalog() -> Catalog {
        Catalog::new([
            zone("a.test.", "www CNAME www.b.test.\nmx MX 10 ns1\nout CNAME elsewhere.example.\nsub NS ns1.sub\nns1.sub A 192.0.2.9\nmxglue MX 10 ns1.sub\n"),
            zone("b.test.", "www A 192.0.2.2\n"),
            zone("sub.a.test.", "host A 192.0.2.10\n"),
        ])
        .expect("catalog")
    }

    #[test]
    fn an_unavailable_zone_answers_servfail_not_its_parent() {
        let c = catalog().with_unavailable([n("c.a.test."), n("b.test.")]);
        let a = c.answer(&n("www.c.a.test."), RecordType::A).expect("ours");
        assert_eq!(a.rcode, ResponseCode::ServFail);
        assert!(!a.authoritative && a.answers.is_empty());
        // Served zones win: b.test. is loaded, so it is not unavailable.
        let b = c.answer(&n("www.b.test."), RecordType::A).expect("ours");
        assert_eq!(b.rcode, ResponseCode::NoError);
        // Beside the unavailable zone, its parent answers as before.
        assert!(!c.is_unavailable(&n("mx.a.test.")));
        assert!(!c.is_unavailable(&n("host.sub.a.test.")));
    }

    #[test]
    fn chases_cname_across_zones() {
        let a = ask("www.a.test. A");
        assert_eq!(a.answers.len(), 2);
        assert!(a.authoritative);
        assert_eq!(a.rcode, ResponseCode::NoError);
    }

    #[test]
    fn mx_gets_additional_addresses() {
        let a = ask("mx.a.test. MX");
        assert_eq!(a.additionals.len(), 1);
    }

    #[test]
    fn child_zone_wins_and_unknown_names_are_not_ours() {
        let a = ask("host.sub.a.test. A");
        assert_eq!(a.answers.len(), 1);
        assert!(catalog().answer(&n("www.c.test."), RecordType::A).is_none());
        let out = ask("out.a.test. A");
        assert_eq!(out.unresolved_target, Some(n("elsewhere.example.")));
    }

    #[test]
    fn positive_answers_carry_apex_ns_and_their_addresses() {
        let a = ask("www.a.test. A");
        // The chain ends in b.test.: its NS set, and the address of ns1.b.test.
        assert_eq!(a.authorities.len(), 1);
        assert_eq!(a.authorities[0].name, n("b.test."));
        assert_eq!(a.additionals.len(), 1);
        assert_eq!(a.additionals[0].name, n("ns1.b.test."));
        assert!(a.optional_authority);

        // NS is the answer: not repeated in the authority section.
        let ns = ask("a.test. NS");
        assert_eq!(ns.answers.len(), 1);
        assert!(ns.authorities.is_empty());
        assert_eq!(ns.additionals.len(), 1);

        // An address that is the answer is not repeated in the additional section.
        let ns1 = ask("ns1.a.test. A");
        assert_eq!(ns1.authorities.len(), 1);
        assert!(ns1.additionals.is_empty());
    }

    #[test]
    fn any_and_ds_answers_stay_minimal() {
        let any = ask("a.test. ANY");
        assert_eq!(any.answers.len(), 1);
        assert!(any.authorities.is_empty());
        let ds = ask("sub.a.test. DS");
        assert!(ds.answers.is_empty());
        assert_eq!(ds.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(ds.authorities[0].name, n("a.test."));
        assert!(
            !ds.optional_authority,
            "a negative answer's SOA is required"
        );
    }

    #[test]
    fn glue_is_no_additional_data_for_mx() {
        let a = ask("mxglue.a.test. MX");
        // Only the address of the apex NS target, not the glue of ns1.sub.a.test.
        assert_eq!(a.additionals.len(), 1);
        assert_eq!(a.additionals[0].name, n("ns1.a.test."));
    }

    #[test]
    fn duplicate_origins_are_rejected() {
        assert!(Catalog::new([zone("a.test.", ""), zone("a.test.", "")]).is_err());
    }
}
