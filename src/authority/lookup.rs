//! One step of RFC 1034 §4.3.2 inside one zone: exact match, zone cut, DNAME (RFC 6672),
//! wildcard (RFC 4592) or negative answer. Chasing aliases across steps is the catalog's job.

use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::zone::{Node, Zone};
use crate::rr::{self, dname, label_count};

/// The outcome of looking a name up in one zone. Negative answers are outcomes, not errors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// The RRset(s) answering the question (owner rewritten when a wildcard matched).
    Records(Vec<Record>),
    /// An alias: `records` (a CNAME, or a DNAME with its synthesised CNAME) lead to `target`.
    Cname { records: Vec<Record>, target: Name },
    /// The name is at or below a zone cut: refer the client to the child's servers.
    Referral(Delegation),
    /// The name exists but has no data of the type asked for.
    NoData { soa: Record },
    /// The name does not exist.
    NxDomain { soa: Record },
    /// RFC 6672 §2.2: a DNAME substitution would exceed the longest legal name. The answer
    /// holds the DNAME alone; like NSD, no SOA goes with it (this is not a negative answer
    /// in the RFC 2308 sense, so there is nothing to cache negatively).
    YxDomain { records: Vec<Record> },
}

/// How a lookup reached its answer: what a signed zone's proofs are chosen by (RFC 4035
/// §3.1.3). Only the DO=1 path of a signed zone reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// The name's own node, or a zone cut or DNAME on the way down to it.
    Exact,
    /// Synthesised from the wildcard below this closest encloser (RFC 4592 §3.3.1).
    Wildcard(Name),
    /// The name does not exist, nor a wildcard for it; this is its closest encloser.
    Missing(Name),
}

/// A zone cut: the child's NS RRset and whatever addresses for those servers this zone holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delegation {
    pub cut: Name,
    pub ns: Vec<Record>,
    pub glue: Vec<Record>,
}

impl Zone {
    /// Looks `qname` up in this zone; `qname` must be at or below the origin.
    pub(crate) fn lookup(&self, qname: &Name, qtype: RecordType) -> Answer {
        self.walk(qname, qtype).0
    }

    /// [`Zone::lookup`], and how the answer was reached.
    pub(crate) fn find(&self, qname: &Name, qtype: RecordType) -> (Answer, Source) {
        self.walk(qname, qtype)
    }

    /// The one lookup behind both, inlined into each: `lookup`, on every query's path, then
    /// passes no `Source` around that it would only drop.
    #[inline(always)]
    fn walk(&self, qname: &Name, qtype: RecordType) -> (Answer, Source) {
        let origin_labels = label_count(self.origin());
        let q_labels = label_count(qname);
        let mut closest_encloser = self.origin().clone();
        // Walk down from the apex, looking for cuts and DNAMEs on the way (RFC 1034 §4.3.2
        // step 3b, RFC 6672 §3.2).
        for depth in origin_labels..=q_labels {
            let name = qname.trim_to(depth);
            let Some(node) = self.node(&LowerName::new(&name)) else {
                return self.not_found(qname, qtype, closest_encloser);
            };
            let at_qname = depth == q_labels;
            if depth > origin_labels
                && let Some(ns) = node.get(RecordType::NS)
                // RFC 4035 §3.1.4.1: the parent side answers DS at the cut.
                && !(at_qname && qtype == RecordType::DS)
            {
                return (Answer::Referral(self.delegation(&name, ns)), Source::Exact);
            }
            if !at_qname && let Some(d) = node.get(RecordType::DNAME) {
                return (self.dname(qname, &d[0]), Source::Exact);
            }
            if at_qname {
                return (self.answer_at(node, qname, qtype, false), Source::Exact);
            }
            closest_encloser = name;
        }
        // Unreachable for a qname inside the zone; a caller that broke that gets NXDOMAIN.
        let soa = self.negative_soa();
        (Answer::NxDomain { soa }, Source::Missing(closest_encloser))
    }

    /// Answers from a node that matched exactly, or from a wildcard node (RFC 4592 §3.3) whose
    /// records are then renamed to `qname`.
    fn answer_at(&self, node: &Node, qname: &Name, qtype: RecordType, wildcard: bool) -> Answer {
        let rename = |records: &[Record]| -> Vec<Record> {
            records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if wildcard {
                        r.name = qname.clone();
                    }
                    r
                })
                .collect()
        };
        if qtype == RecordType::ANY {
            return match any_rrset(node) {
                Some(set) => Answer::Records(rename(set)),
                None => Answer::NoData {
                    soa: self.negative_soa(),
                },
            };
        }
        if let Some(set) = node.get(qtype) {
            return Answer::Records(rename(set));
        }
        if let Some(cname) = node.get(RecordType::CNAME)
            && let RData::CNAME(CNAME(target)) = &cname[0].data
        {
            return Answer::Cname {
                records: rename(cname),
                target: target.clone(),
            };
        }
        Answer::NoData {
            soa: self.negative_soa(),
        }
    }

    /// `qname` does not exist: try the wildcard at the closest encloser (RFC 4592 §4.1), else
    /// NXDOMAIN. An empty non-terminal counts as existing, so it blocks the wildcard above it.
    fn not_found(
        &self,
        qname: &Name,
        qtype: RecordType,
        closest_encloser: Name,
    ) -> (Answer, Source) {
        let source = closest_encloser.clone().prepend_label("*").ok();
        let wildcard = source.as_ref().and_then(|s| self.node(&LowerName::new(s)));
        match wildcard {
            Some(node) => (
                self.answer_at(node, qname, qtype, true),
                Source::Wildcard(closest_encloser),
            ),
            None => (
                Answer::NxDomain {
                    soa: self.negative_soa(),
                },
                Source::Missing(closest_encloser),
            ),
        }
    }

    fn delegation(&self, cut: &Name, ns: &[Record]) -> Delegation {
        let glue = rr::ns_targets(ns)
            .iter()
            .flat_map(|target| self.addresses(target))
            .collect();
        Delegation {
            cut: cut.clone(),
            ns: ns.to_vec(),
            glue,
        }
    }

    /// RFC 1034 §4.3.2 step 6 (additional section processing): the A and AAAA RRsets this
    /// zone answers for `target`, wildcard-synthesised ones included, as NSD does. Addresses
    /// at or below a zone cut are glue: only an NS target may use them (`allow_glue`); an MX
    /// or SRV target there is not ours to vouch for. Aliases are not followed.
    pub(crate) fn additional_addresses(&self, target: &Name, allow_glue: bool) -> Vec<Record> {
        if !LowerName::new(self.origin()).zone_of(&LowerName::new(target)) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            match self.lookup(target, rtype) {
                Answer::Records(records) => out.extend(records),
                Answer::Referral(_) if allow_glue => {
                    if let Some(set) = self
                        .node(&LowerName::new(target))
                        .and_then(|node| node.get(rtype))
                    {
                        out.extend_from_slice(set);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// A and AAAA records this zone holds for `target`, glue below cuts included.
    pub(crate) fn addresses(&self, target: &Name) -> Vec<Record> {
        let lower = LowerName::new(target);
        if !LowerName::new(self.origin()).zone_of(&lower) {
            return Vec::new();
        }
        let Some(node) = self.node(&lower) else {
            return Vec::new();
        };
        [RecordType::A, RecordType::AAAA]
            .into_iter()
            .filter_map(|t| node.get(t))
            .flatten()
            .cloned()
            .collect()
    }

    /// RFC 6672 §3.2: answer with the DNAME and a CNAME synthesised from it (TTL of the DNAME).
    fn dname(&self, qname: &Name, dname_record: &Record) -> Answer {
        let Some(target) = dname::target(dname_record) else {
            return Answer::NoData {
                soa: self.negative_soa(),
            };
        };
        match dname::substitute(qname, &dname_record.name, &target) {
            Ok(new_name) => {
                let cname = Record::from_rdata(
                    qname.clone(),
                    dname_record.ttl,
                    RData::CNAME(CNAME(new_name.clone())),
                );
                Answer::Cname {
                    records: vec![dname_record.clone(), cname],
                    target: new_name,
                }
            }
            Err(dname::NameTooLong) => Answer::YxDomain {
                records: vec![dname_record.clone()],
            },
        }
    }
}

/// RFC 8482 §4.1: ANY is answered with one RRset rather than all of them. Which one is the
/// server's choice; like NSD, prefer a small, commonly wanted type (A, AAAA, SOA, MX, PTR,
/// first in zone-file order), then any other, and DNSSEC records only when nothing else exists.
fn any_rrset(node: &Node) -> Option<&[Record]> {
    let rank = |set: &[Record]| match set.first().map(Record::record_type) {
        Some(
            RecordType::A | RecordType::AAAA | RecordType::SOA | RecordType::MX | RecordType::PTR,
        ) => 0,
        Some(RecordType::DNSKEY | RecordType::RRSIG | RecordType::NSEC) => 2,
        _ => 1,
    };
    // min_by_key keeps the first of equal ranks, so file order breaks ties.
    node.rrsets().min_by_key(|set| rank(set))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::testing::name;

    const ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n\
        @ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n\
        www A 192.0.2.2\nalias CNAME www\n*.wild A 192.0.2.3\nx.y.wild TXT ent\n\
        sub NS ns.sub\nns.sub A 192.0.2.4\nold DNAME new.test.\n";

    fn z() -> Zone {
        Zone::from_text(ZONE, Path::new("t.zone"), None).expect("valid zone")
    }

    /// The zone's answer to `q`, written `"name TYPE"`.
    fn ask(q: &str) -> Answer {
        let (qname, qtype) = q.split_once(' ').expect("name TYPE");
        z().lookup(&name(qname), qtype.parse().expect("type"))
    }

    /// The records answering `q`, which must be answered with records.
    fn records(q: &str) -> Vec<Record> {
        match ask(q) {
            Answer::Records(r) => r,
            other => panic!("{q}: records expected, got {other:?}"),
        }
    }

    #[test]
    fn exact_match_and_nodata() {
        assert_eq!(records("WWW.example.test. A").len(), 1);
        assert!(matches!(ask("www.example.test. MX"), Answer::NoData { soa } if soa.ttl == 60));
    }

    /// Questions without records, and whether each is NXDOMAIN (else NODATA).
    #[test]
    fn negative_answers_are_nxdomain_or_nodata() {
        let cases = [
            ("nope.example.test. A", true),
            ("y.wild.example.test. A", false),
            // y.wild exists (as an empty non-terminal), so z.y.wild is NXDOMAIN, not wildcard.
            ("z.y.wild.example.test. A", true),
            // The DS of a cut is the parent's to hold.
            ("sub.example.test. DS", false),
            // RFC 4592 §2.1.1: below *.wild nothing exists and *.*.wild is no source of
            // synthesis.
            ("x.*.wild.example.test. A", true),
        ];
        for (q, nxdomain) in cases {
            match ask(q) {
                Answer::NxDomain { .. } if nxdomain => {}
                Answer::NoData { .. } if !nxdomain => {}
                other => panic!("{q}: NXDOMAIN {nxdomain} expected, got {other:?}"),
            }
        }
    }

    #[test]
    fn wildcard_synthesises() {
        let r = records("foo.wild.example.test. A");
        assert_eq!(r[0].name, name("foo.wild.example.test."));
    }

    #[test]
    fn referral_with_glue() {
        match ask("a.sub.example.test. A") {
            Answer::Referral(d) => {
                assert_eq!(d.cut, name("sub.example.test."));
                assert_eq!(d.glue.len(), 1);
            }
            other => panic!("expected referral, got {other:?}"),
        }
    }

    #[test]
    fn any_gets_one_preferred_rrset() {
        let text = format!("{ZONE}multi TXT note\nmulti AAAA 2001:db8::1\nmulti A 192.0.2.7\n");
        let zone = Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone");
        match zone.lookup(&name("multi.example.test."), RecordType::ANY) {
            Answer::Records(r) => {
                assert_eq!(r.len(), 1);
                assert_eq!(r[0].record_type(), RecordType::AAAA);
            }
            other => panic!("expected one RRset, got {other:?}"),
        }
        assert!(matches!(
            zone.lookup(&name("y.wild.example.test."), RecordType::ANY),
            Answer::NoData { .. }
        ));
    }

    #[test]
    fn additional_addresses_follow_wildcards_and_keep_glue_for_ns_only() {
        let zone = z();
        let synthesised = zone.additional_addresses(&name("mx.wild.example.test."), false);
        assert_eq!(synthesised.len(), 1);
        assert_eq!(synthesised[0].name, name("mx.wild.example.test."));
        assert!(
            zone.additional_addresses(&name("ns.sub.example.test."), false)
                .is_empty()
        );
        assert_eq!(
            zone.additional_addresses(&name("ns.sub.example.test."), true)
                .len(),
            1
        );
        assert!(
            zone.additional_addresses(&name("alias.example.test."), true)
                .is_empty()
        );
        assert!(
            zone.additional_addresses(&name("www.other.test."), true)
                .is_empty()
        );
    }

    #[test]
    fn dname_overflow_is_yxdomain_with_the_dname_only() {
        let prefix = vec!["a".repeat(63); 3].join(".");
        let text = format!("{ZONE}long DNAME {}.test.\n", "b".repeat(60));
        let zone = Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone");
        let qname = name(&format!("{prefix}.long.example.test."));
        match zone.lookup(&qname, RecordType::A) {
            Answer::YxDomain { records } => {
                assert_eq!(records.len(), 1);
                assert_eq!(records[0].record_type(), RecordType::DNAME);
            }
            other => panic!("expected YXDOMAIN, got {other:?}"),
        }
    }

    #[test]
    fn a_literal_asterisk_label_is_an_ordinary_name() {
        // RFC 4592 §2.1.1: asking for the wildcard owner itself matches it exactly.
        let r = records("*.wild.example.test. A");
        assert_eq!(r[0].name, name("*.wild.example.test."));
        // A DNAME keeps every label of the prefix, '*' included.
        match ask("*.old.example.test. A") {
            Answer::Cname { target, .. } => assert_eq!(target, name("*.new.test.")),
            other => panic!("expected DNAME synthesis, got {other:?}"),
        }
    }

    #[test]
    fn cname_and_dname() {
        assert!(
            matches!(ask("alias.example.test. A"), Answer::Cname { target, .. } if target == name("www.example.test."))
        );
        match ask("a.old.example.test. A") {
            Answer::Cname { records, target } => {
                assert_eq!(target, name("a.new.test."));
                assert_eq!(records.len(), 2);
                assert_eq!(records[1].name, name("a.old.example.test."));
            }
            other => panic!("expected DNAME synthesis, got {other:?}"),
        }
    }
}
