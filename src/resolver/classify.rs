//! What an upstream reply means for the question we asked, after the bailiwick filter: only
//! records inside the zone of the server that sent them are kept (RFC 5452 §6, the Kaminsky
//! defence), so nothing out of bailiwick can reach the cache.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::rr::{self, dname};

/// The meaning of one reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The RRset asked for (AA=1).
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
    /// The server is not a working authority for the zone it was delegated.
    Lame(&'static str),
}

/// True when `name` is `zone` or below it.
pub fn in_bailiwick(name: &Name, zone: &Name) -> bool {
    zone.zone_of(name)
}

/// Classifies `reply` to a query for (`qname`, `qtype`) sent to a server for `zone`.
pub fn classify(reply: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Reply {
    if reply.metadata.truncation {
        return Reply::Truncated;
    }
    let rcode = reply.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Reply::Lame(match rcode {
            ResponseCode::Refused => "REFUSED",
            ResponseCode::ServFail => "SERVFAIL",
            ResponseCode::NotImp => "NOTIMP",
            ResponseCode::FormErr => "FORMERR",
            _ => "unexpected RCODE",
        });
    }
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
        if !reply.metadata.authoritative {
            return Reply::Lame("non-authoritative answer");
        }
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
        return Reply::Cname {
            records,
            target: target.clone(),
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
    // RFC 2308 §2: negative answers come from an authority. An AA=0 one is a recursive
    // server's (cached) opinion, and a lame delegation besides (Unbound's REC_LAME).
    let aa = reply.metadata.authoritative;
    if rcode == ResponseCode::NXDomain {
        if !aa {
            return Reply::Lame("non-authoritative NXDOMAIN");
        }
        return Reply::NxDomain { soa };
    }
    if !answer.is_empty() {
        if !reply.metadata.authoritative {
            return Reply::Lame("non-authoritative answer");
        }
        return Reply::Answer(answer);
    }
    if soa.is_some() || (aa && reply.authorities.is_empty()) {
        if !aa {
            return Reply::Lame("non-authoritative NODATA");
        }
        return Reply::NoData { soa };
    }
    // A referral must lead strictly downwards, towards qname (no upward or sideways ones).
    let ns: Vec<&Record> = reply
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS)
        .collect();
    if let Some(first) = ns.first() {
        let cut = first.name.clone();
        // RFC 2308 §2.2 type 3: NODATA with the zone's own NS set and no SOA.
        if aa && cut == *zone {
            return Reply::NoData { soa: None };
        }
        if !in_bailiwick(&cut, zone)
            || rr::label_count(&cut) <= rr::label_count(zone)
            || !cut.zone_of(qname)
        {
            return Reply::Lame("referral that does not lead down towards the name");
        }
        let ns: Vec<Record> = ns.into_iter().filter(|r| r.name == cut).cloned().collect();
        let targets = rr::ns_targets(&ns);
        // Glue: addresses of this referral's NS targets, and only inside the server's zone.
        let glue = reply
            .additionals
            .iter()
            .filter(ours)
            .filter(|r| {
                matches!(r.record_type(), RecordType::A | RecordType::AAAA)
                    && targets.contains(&r.name)
            })
            .cloned()
            .collect();
        return Reply::Referral { cut, ns, glue };
    }
    if reply.metadata.authoritative {
        return Reply::NoData { soa: None };
    }
    Reply::Lame("non-authoritative reply without a referral")
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, NS};

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
        match classify(&m, &n("test."), &n("www.alpha.test."), RecordType::A) {
            Reply::Referral { cut, glue, .. } => {
                assert_eq!(cut, n("alpha.test."));
                assert_eq!(glue, vec![a("ns1.alpha.test.")]);
            }
            other => panic!("expected referral, got {other:?}"),
        }
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
            classify(&m, &n("test."), &n("www.alpha.test."), RecordType::A),
            Reply::Lame(_)
        ));
    }

    #[test]
    fn out_of_bailiwick_answer_is_ignored() {
        let mut m = reply(true);
        m.add_answer(a("www.other.example."));
        assert!(matches!(
            classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A),
            Reply::NoData { .. }
        ));
    }

    #[test]
    fn negative_answers_need_aa() {
        let soa = Record::from_rdata(
            n("alpha.test."),
            60,
            RData::SOA(hickory_proto::rr::rdata::SOA::new(
                n("ns1.alpha.test."),
                n("h.alpha.test."),
                1,
                2,
                3,
                4,
                60,
            )),
        );
        let mut m = reply(false);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.add_authority(soa.clone());
        assert!(matches!(
            classify(&m, &n("alpha.test."), &n("x.alpha.test."), RecordType::A),
            Reply::Lame(_)
        ));
        m.metadata.authoritative = true;
        assert!(matches!(
            classify(&m, &n("alpha.test."), &n("x.alpha.test."), RecordType::A),
            Reply::NxDomain { .. }
        ));
        let mut m = reply(false);
        m.add_authority(soa);
        assert!(matches!(
            classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::MX),
            Reply::Lame(_)
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
            classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::MX),
            Reply::NoData { soa: None }
        );
    }

    #[test]
    fn refused_is_lame() {
        let mut m = reply(false);
        m.metadata.response_code = ResponseCode::Refused;
        assert!(matches!(
            classify(&m, &n("test."), &n("x.test."), RecordType::A),
            Reply::Lame("REFUSED")
        ));
    }
}
