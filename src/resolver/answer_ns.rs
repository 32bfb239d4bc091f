//! The zone's NS set beside a positive answer (the authority section of a forwarder's or an
//! authority's reply) and its servers' addresses (the additional section), kept as Unbound's
//! rrset cache keeps them: they are what a referral to a snooping client (RD=0) is made of
//! when no walk went through the zone's parent (a forward zone), and what `[server]
//! minimal_responses = false` adds to answers.
//!
//! Kept at the lowest rank, glue's: they never replace a referral's NS set nor answer an NS
//! question (the cache answers only from answer data), and any referral replaces them. Nor
//! do they outlive the NS set they find cached (`store`): the servers of a zone cannot renew
//! its delegation by repeating it beside their answers (the ghost domain, CVE-2012-1033).

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record, RecordType};

use super::classify::{Learn, in_bailiwick, rrsets};
use crate::cache::{Data, Key, Rank};
use crate::rr;
use crate::wire::{same_name, within};

/// The owner of the one NS set of a positive `reply`'s authority section at or above `qname`
/// and inside `zone` (Unbound's scrubber keeps no other), if it has one.
pub(crate) fn cut(reply: &Message, zone: &Name, qname: &Name) -> Option<Name> {
    reply
        .authorities
        .iter()
        .filter(|r| in_bailiwick(&r.name, zone))
        .find(|r| r.record_type() == RecordType::NS && within(qname, &r.name))
        .map(|r| r.name.clone())
}

/// What a positive `reply` from a server for `zone` teaches beyond its answer: the NS set at
/// `cut` (see [`cut`]), and the addresses of its targets in the additional section,
/// inside `zone` too (nothing else there: a TXT record beside them is dropped).
pub(crate) fn learn_at(reply: &Message, zone: &Name, cut: &Name) -> Vec<Learn> {
    let ns: Vec<Record> = reply
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS && same_name(&r.name, cut))
        .cloned()
        .collect();
    let glue = addresses(reply, zone, &ns);
    let mut learned = vec![glue_ranked(ns)];
    learned.extend(rrsets(&glue).into_iter().map(glue_ranked));
    learned
}

/// The addresses of the targets of `ns` in `reply`'s additional section, inside `zone`.
pub(crate) fn addresses(reply: &Message, zone: &Name, ns: &[Record]) -> Vec<Record> {
    let targets = rr::ns_targets(ns);
    reply
        .additionals
        .iter()
        .filter(|r| in_bailiwick(&r.name, zone))
        .filter(|r| rr::address(r).is_some() && targets.iter().any(|t| same_name(t, &r.name)))
        .cloned()
        .collect()
}

fn glue_ranked(set: Vec<Record>) -> Learn {
    Learn {
        key: Key::new(&set[0].name, set[0].record_type()),
        data: Data::Positive(set),
        rank: Rank::Glue,
        signed: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(reply: &Message, zone: &Name, qname: &Name) -> Vec<Learn> {
        cut(reply, zone, qname).map_or_else(Vec::new, |cut| learn_at(reply, zone, &cut))
    }
    use std::str::FromStr;

    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::{A, NS, TXT};

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn reply(authority_owner: &str) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        let rec = |name: &str, data| Record::from_rdata(n(name), 300, data);
        m.answers
            .push(rec("www.example.com.", RData::A(A::new(10, 0, 0, 1))));
        m.authorities
            .push(rec(authority_owner, RData::NS(NS(n("ns.example.com.")))));
        m.additionals
            .push(rec("ns.example.com.", RData::A(A::new(10, 0, 0, 2))));
        m.additionals.push(rec(
            "txt.example.com.",
            RData::TXT(TXT::new(vec!["x".into()])),
        ));
        m
    }

    fn keys(learned: &[Learn]) -> Vec<(String, RecordType, Rank)> {
        learned
            .iter()
            .map(|l| match &l.data {
                Data::Positive(set) => (set[0].name.to_string(), set[0].record_type(), l.rank),
                other => panic!("not an RRset: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_zones_ns_set_and_its_addresses_are_kept_as_glue() {
        let learned = learn(
            &reply("example.com."),
            &Name::root(),
            &n("www.example.com."),
        );
        assert_eq!(
            keys(&learned),
            vec![
                ("example.com.".into(), RecordType::NS, Rank::Glue),
                ("ns.example.com.".into(), RecordType::A, Rank::Glue),
            ]
        );
    }

    #[test]
    fn an_ns_set_beside_the_name_or_outside_the_zone_is_not() {
        let sideways = learn(&reply("other.com."), &Name::root(), &n("www.example.com."));
        assert!(sideways.is_empty());
        let outside = learn(
            &reply("example.com."),
            &n("sub.example.com."),
            &n("www.example.com."),
        );
        assert!(outside.is_empty());
    }
}
