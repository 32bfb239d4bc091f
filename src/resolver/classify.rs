//! The one reader of upstream replies: what a reply means for the question asked, and the
//! records it teaches, each ranked (RFC 2181 §5.4.1), for the store stage to cache. Nothing
//! else in the resolver picks records out of a raw message.
//!
//! Only records inside the zone of the server that sent them are looked at (RFC 5452 §6, the
//! Kaminsky defence), so nothing out of bailiwick can reach the cache. Replies without AA are
//! used, as careful resolvers use them (Unbound's `response_type_from_server`), but rank below
//! authoritative data; a recursive server's non-authoritative negative answer or empty reply
//! (RA=1, AA=0) and referrals that do not lead down mark a lame server.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use crate::cache::{Data, Key, Rank};
use crate::rr::{self, dname};

/// What one reply means for the walk.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The RRset asked for.
    Answer(Vec<Record>),
    /// `qname` is an alias; `records` are the DNAME (if any) and the CNAME leading to `target`.
    Cname {
        records: Vec<Record>,
        target: Name,
    },
    /// Go one zone cut down: the child's NS set and the in-bailiwick addresses given.
    Referral {
        cut: Name,
        ns: Vec<Record>,
        glue: Vec<Record>,
    },
    NoData {
        soa: Option<Record>,
    },
    NxDomain {
        soa: Option<Record>,
    },
    /// TC=1: ask again over TCP.
    Truncated,
    /// FORMERR; `has_opt` false may mean a server that predates EDNS (RFC 6891 §7).
    FormErr {
        has_opt: bool,
    },
    /// A reply to throw away (a cache's opinion where an authority's is needed): try another
    /// server.
    Failed(&'static str),
    /// The server is not a working authority for the zone it was delegated.
    Lame(&'static str),
}

impl Outcome {
    /// Whether the walk can use this reply, rather than asking another server.
    pub fn usable(&self) -> bool {
        matches!(
            self,
            Outcome::Answer(_)
                | Outcome::Cname { .. }
                | Outcome::Referral { .. }
                | Outcome::NoData { .. }
                | Outcome::NxDomain { .. }
        )
    }
}

/// One entry for the cache: key, data, and how far to trust it.
#[derive(Debug, Clone, PartialEq)]
pub struct Learn {
    pub key: Key,
    pub data: Data,
    pub rank: Rank,
}

/// A classified reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub outcome: Outcome,
    /// The AA bit: answers without it rank below authoritative data.
    pub authoritative: bool,
    /// What the reply teaches, for the store stage.
    pub learned: Vec<Learn>,
}

impl Classified {
    fn bare(outcome: Outcome, authoritative: bool) -> Classified {
        Classified {
            outcome,
            authoritative,
            learned: Vec::new(),
        }
    }
}

/// True when `name` is `zone` or below it.
pub fn in_bailiwick(name: &Name, zone: &Name) -> bool {
    zone.zone_of(name)
}

/// Splits records into RRsets (one per owner and type), in order of first appearance.
pub fn rrsets(records: &[Record]) -> Vec<Vec<Record>> {
    let mut sets: Vec<Vec<Record>> = Vec::new();
    for r in records {
        let rtype = r.record_type();
        match sets
            .iter_mut()
            .find(|s| s[0].record_type() == rtype && s[0].name == r.name)
        {
            Some(set) => set.push(r.clone()),
            None => sets.push(vec![r.clone()]),
        }
    }
    sets
}

/// A delegation's NS set and glue as cache entries.
pub fn learn_delegation(cut: &Name, ns: &[Record], glue: &[Record]) -> Vec<Learn> {
    let mut learned = vec![Learn {
        key: Key::new(cut, RecordType::NS),
        data: Data::Positive(ns.to_vec()),
        rank: Rank::Referral,
    }];
    learned.extend(learn_rrsets(glue, Rank::Glue));
    learned
}

fn learn_rrsets(records: &[Record], rank: Rank) -> impl Iterator<Item = Learn> + '_ {
    rrsets(records).into_iter().map(move |set| Learn {
        key: Key::new(&set[0].name, set[0].record_type()),
        data: Data::Positive(set),
        rank,
    })
}

/// Classifies `reply` to a query for (`qname`, `qtype`) sent to a server for `zone`.
pub fn classify(reply: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Classified {
    let aa = reply.metadata.authoritative;
    // RFC 1035 §4.1.1: RA says the server offers recursion. One that answers without AA is
    // answering from its cache, not from the zone (Unbound's REC_LAME).
    let recursive = reply.metadata.recursion_available && !aa;
    if reply.metadata.truncation {
        return Classified::bare(Outcome::Truncated, aa);
    }
    let rcode = reply.metadata.response_code;
    match rcode {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        ResponseCode::FormErr => {
            return Classified::bare(
                Outcome::FormErr {
                    has_opt: reply.edns.is_some(),
                },
                aa,
            );
        }
        // A server that fails the zone now will likely fail it again: lame for a while, which
        // only ranks it last.
        ResponseCode::ServFail => return Classified::bare(Outcome::Lame("SERVFAIL"), aa),
        ResponseCode::Refused => return Classified::bare(Outcome::Lame("REFUSED"), aa),
        ResponseCode::NotImp => return Classified::bare(Outcome::Lame("NOTIMP"), aa),
        _ => return Classified::bare(Outcome::Lame("unexpected RCODE"), aa),
    }
    let rank = if aa {
        Rank::Authoritative
    } else {
        Rank::NonAuthoritative
    };
    let ours = |r: &&Record| in_bailiwick(&r.name, zone);
    // An alias for qname comes first: the chain continues at its target.
    if qtype != RecordType::CNAME
        && let Some(cname) = reply
            .answers
            .iter()
            .filter(ours)
            .find(|r| r.name == *qname && r.record_type() == RecordType::CNAME)
        && let RData::CNAME(CNAME(target)) = &cname.data
    {
        let mut records: Vec<Record> = reply
            .answers
            .iter()
            .filter(ours)
            .filter(|r| {
                r.record_type() == RecordType::DNAME
                    && dname::target(r).is_some()
                    && r.name.zone_of(qname)
                    && r.name != *qname
            })
            .cloned()
            .collect();
        records.push(cname.clone());
        let mut learned = vec![Learn {
            key: Key::new(qname, RecordType::CNAME),
            data: Data::Positive(vec![cname.clone()]),
            rank,
        }];
        learned.extend(rest_of_chain(reply, zone, target, qtype, rank));
        return Classified {
            outcome: Outcome::Cname {
                records,
                target: target.clone(),
            },
            authoritative: aa,
            learned,
        };
    }
    let answer: Vec<Record> = reply
        .answers
        .iter()
        .filter(ours)
        .filter(|r| r.name == *qname && (r.record_type() == qtype || qtype == RecordType::ANY))
        .cloned()
        .collect();
    let soa = reply
        .authorities
        .iter()
        .filter(ours)
        .find(|r| r.record_type() == RecordType::SOA && r.name.zone_of(qname))
        .cloned();
    if rcode == ResponseCode::NXDomain {
        if recursive {
            return Classified::bare(Outcome::Lame("recursive server's NXDOMAIN"), aa);
        }
        return Classified {
            outcome: Outcome::NxDomain { soa: soa.clone() },
            authoritative: aa,
            learned: vec![Learn {
                key: Key::name_only(qname),
                data: Data::NxDomain { soa },
                rank,
            }],
        };
    }
    if !answer.is_empty() {
        let mut learned = vec![Learn {
            key: Key::new(qname, qtype),
            data: Data::Positive(answer.clone()),
            rank,
        }];
        if qtype == RecordType::NS {
            // The NS targets' addresses beside an NS answer (a priming reply's above all) are
            // glue: good enough to reach the servers, never an answer.
            let targets = rr::ns_targets(&answer);
            let glue: Vec<Record> = reply
                .additionals
                .iter()
                .filter(ours)
                .filter(|r| rr::address(r).is_some() && targets.contains(&r.name))
                .cloned()
                .collect();
            learned.extend(learn_rrsets(&glue, Rank::Glue));
        }
        return Classified {
            outcome: Outcome::Answer(answer),
            authoritative: aa,
            learned,
        };
    }
    if soa.is_some() {
        return nodata(qname, qtype, soa, aa, recursive, rank);
    }
    let ns: Vec<&Record> = reply
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS)
        .collect();
    if let Some(first) = ns.first() {
        let cut = first.name.clone();
        if cut == *zone {
            // RFC 2308 §2.2 type 3: NODATA with the zone's own NS set and no SOA. Without AA
            // it is a cache's opinion: ask another server.
            if !aa {
                return Classified::bare(Outcome::Failed("non-authoritative NS-only reply"), aa);
            }
            return nodata(qname, qtype, None, aa, recursive, rank);
        }
        // A referral must lead strictly downwards, towards qname (no upward or sideways ones).
        if !in_bailiwick(&cut, zone)
            || rr::label_count(&cut) <= rr::label_count(zone)
            || !cut.zone_of(qname)
        {
            return Classified::bare(
                Outcome::Lame("referral that does not lead down towards the name"),
                aa,
            );
        }
        let ns: Vec<Record> = ns.into_iter().filter(|r| r.name == cut).cloned().collect();
        let targets = rr::ns_targets(&ns);
        // Glue: addresses of this referral's NS targets, and only inside the server's zone.
        let glue: Vec<Record> = reply
            .additionals
            .iter()
            .filter(ours)
            .filter(|r| {
                matches!(r.record_type(), RecordType::A | RecordType::AAAA)
                    && targets.contains(&r.name)
            })
            .cloned()
            .collect();
        let learned = learn_delegation(&cut, &ns, &glue);
        return Classified {
            outcome: Outcome::Referral { cut, ns, glue },
            authoritative: aa,
            learned,
        };
    }
    // Nothing but an empty NOERROR: NODATA without an SOA to cache it by.
    nodata(qname, qtype, None, aa, recursive, rank)
}

fn nodata(
    qname: &Name,
    qtype: RecordType,
    soa: Option<Record>,
    aa: bool,
    recursive: bool,
    rank: Rank,
) -> Classified {
    if recursive {
        return Classified::bare(Outcome::Lame("recursive server's empty answer"), aa);
    }
    Classified {
        outcome: Outcome::NoData { soa: soa.clone() },
        authoritative: aa,
        learned: vec![Learn {
            key: Key::new(qname, qtype),
            data: Data::NoData { soa },
            rank,
        }],
    }
}

/// An authoritative server that answers with an alias usually follows the chain through its
/// own data (RFC 1034 §4.3.2 step 3a). Links inside the server's zone are as trustworthy as
/// the first one, so, as Unbound does, they and the final RRset are learned too: the chase
/// then takes them from the cache instead of asking again. Anything outside the zone is left
/// for its own servers (RFC 5452 §6).
fn rest_of_chain(
    reply: &Message,
    zone: &Name,
    first_target: &Name,
    qtype: RecordType,
    rank: Rank,
) -> Vec<Learn> {
    let mut learned = Vec::new();
    let mut target = first_target.clone();
    let mut seen = vec![LowerName::new(&target)];
    while in_bailiwick(&target, zone) {
        let rrset: Vec<Record> = reply
            .answers
            .iter()
            .filter(|r| r.name == target && r.record_type() == qtype)
            .cloned()
            .collect();
        if !rrset.is_empty() {
            learned.push(Learn {
                key: Key::new(&target, qtype),
                data: Data::Positive(rrset),
                rank,
            });
            break;
        }
        let Some(cname) = reply
            .answers
            .iter()
            .find(|r| r.name == target && r.record_type() == RecordType::CNAME)
        else {
            break;
        };
        let RData::CNAME(CNAME(next)) = &cname.data else {
            break;
        };
        learned.push(Learn {
            key: Key::new(&target, RecordType::CNAME),
            data: Data::Positive(vec![cname.clone()]),
            rank,
        });
        // A loop is the chase's to report; stop learning at its second lap.
        if seen.contains(&LowerName::new(next)) {
            break;
        }
        seen.push(LowerName::new(next));
        target = next.clone();
    }
    learned
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, NS, SOA};

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn reply(aa: bool) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.authoritative = aa;
        m
    }

    fn a(name: &str) -> Record {
        Record::from_rdata(n(name), 60, RData::A(A::new(127, 0, 0, 9)))
    }

    fn soa() -> Record {
        Record::from_rdata(
            n("alpha.test."),
            60,
            RData::SOA(SOA::new(
                n("ns1.alpha.test."),
                n("h.alpha.test."),
                1,
                2,
                3,
                4,
                60,
            )),
        )
    }

    fn outcome(m: &Message, zone: &str, qname: &str, qtype: RecordType) -> Outcome {
        classify(m, &n(zone), &n(qname), qtype).outcome
    }

    #[test]
    fn out_of_bailiwick_glue_is_dropped() {
        let mut m = reply(false);
        m.add_authority(Record::from_rdata(
            n("alpha.test."),
            60,
            RData::NS(NS(n("ns1.alpha.test."))),
        ));
        m.add_additional(a("ns1.alpha.test."));
        m.add_additional(a("www.victim.example."));
        let c = classify(&m, &n("test."), &n("www.alpha.test."), RecordType::A);
        match c.outcome {
            Outcome::Referral { cut, glue, .. } => {
                assert_eq!(cut, n("alpha.test."));
                assert_eq!(glue, vec![a("ns1.alpha.test.")]);
            }
            other => panic!("expected referral, got {other:?}"),
        }
        let ranks: Vec<(String, Rank)> = c
            .learned
            .iter()
            .map(|l| (l.key.name.to_string(), l.rank))
            .collect();
        assert_eq!(
            ranks,
            [
                ("alpha.test.".to_string(), Rank::Referral),
                ("ns1.alpha.test.".to_string(), Rank::Glue)
            ]
        );
    }

    #[test]
    fn upward_referral_is_lame() {
        let mut m = reply(false);
        m.add_authority(Record::from_rdata(
            Name::root(),
            60,
            RData::NS(NS(n("a.root-servers."))),
        ));
        assert!(matches!(
            outcome(&m, "test.", "www.alpha.test.", RecordType::A),
            Outcome::Lame(_)
        ));
    }

    #[test]
    fn out_of_bailiwick_answer_is_ignored() {
        let mut m = reply(true);
        m.add_answer(a("www.other.example."));
        assert!(matches!(
            outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::A),
            Outcome::NoData { .. }
        ));
    }

    #[test]
    fn answers_without_aa_are_used_at_a_lower_rank() {
        for ra in [false, true] {
            let mut m = reply(false);
            m.metadata.recursion_available = ra;
            m.add_answer(a("www.alpha.test."));
            let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A);
            assert_eq!(c.outcome, Outcome::Answer(vec![a("www.alpha.test.")]));
            assert!(!c.authoritative);
            assert_eq!(c.learned[0].rank, Rank::NonAuthoritative);
        }
        let mut m = reply(true);
        m.add_answer(a("www.alpha.test."));
        let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A);
        assert_eq!(c.learned[0].rank, Rank::Authoritative);
    }

    #[test]
    fn cname_without_aa_is_followed() {
        let mut m = reply(false);
        m.add_answer(Record::from_rdata(
            n("www.alpha.test."),
            60,
            RData::CNAME(CNAME(n("web.alpha.test."))),
        ));
        m.add_answer(a("web.alpha.test."));
        let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A);
        assert!(
            matches!(&c.outcome, Outcome::Cname { target, .. } if *target == n("web.alpha.test."))
        );
        assert_eq!(c.learned.len(), 2, "the alias and the in-zone target");
        assert!(c.learned.iter().all(|l| l.rank == Rank::NonAuthoritative));
    }

    #[test]
    fn negative_answers_from_a_recursive_cache_are_lame() {
        let mut m = reply(false);
        m.metadata.recursion_available = true;
        m.metadata.response_code = ResponseCode::NXDomain;
        m.add_authority(soa());
        assert!(matches!(
            outcome(&m, "alpha.test.", "x.alpha.test.", RecordType::A),
            Outcome::Lame(_)
        ));
        m.metadata.response_code = ResponseCode::NoError;
        assert!(matches!(
            outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::MX),
            Outcome::Lame(_)
        ));
        // Without RA it is an authority that forgot AA: usable, ranked lower.
        m.metadata.recursion_available = false;
        let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::MX);
        assert!(matches!(c.outcome, Outcome::NoData { .. }));
        assert_eq!(c.learned[0].rank, Rank::NonAuthoritative);
        m.metadata.authoritative = true;
        m.metadata.recursion_available = true;
        m.metadata.response_code = ResponseCode::NXDomain;
        assert!(matches!(
            outcome(&m, "alpha.test.", "x.alpha.test.", RecordType::A),
            Outcome::NxDomain { .. }
        ));
    }

    #[test]
    fn nodata_with_the_zones_own_ns_set_is_not_a_referral() {
        let mut m = reply(true);
        m.add_authority(Record::from_rdata(
            n("alpha.test."),
            60,
            RData::NS(NS(n("ns1.alpha.test."))),
        ));
        assert_eq!(
            outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::MX),
            Outcome::NoData { soa: None }
        );
        m.metadata.authoritative = false;
        assert!(matches!(
            outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::MX),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn refused_and_servfail_are_lame() {
        let mut m = reply(false);
        m.metadata.response_code = ResponseCode::Refused;
        assert_eq!(
            outcome(&m, "test.", "x.test.", RecordType::A),
            Outcome::Lame("REFUSED")
        );
        m.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(
            outcome(&m, "test.", "x.test.", RecordType::A),
            Outcome::Lame("SERVFAIL")
        );
    }

    #[test]
    fn glue_beside_an_ns_answer_is_learned_as_glue() {
        let mut m = reply(true);
        m.add_answer(Record::from_rdata(
            Name::root(),
            60,
            RData::NS(NS(n("a.root-servers."))),
        ));
        m.add_additional(a("a.root-servers."));
        let c = classify(&m, &Name::root(), &Name::root(), RecordType::NS);
        assert!(matches!(c.outcome, Outcome::Answer(_)));
        assert_eq!(c.learned.len(), 2);
        assert_eq!(c.learned[1].rank, Rank::Glue);
    }
}
