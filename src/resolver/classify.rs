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
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::proof;
use crate::cache::{Data, Key, Rank};
use crate::rr;
use crate::wire::{same_name, within};
use chain::rest_of_chain;

mod chain;
mod dname;

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
    /// RFC 6672 §2.2: the DNAME above `qname` (`records`) makes a name too long to be.
    YxDomain {
        records: Vec<Record>,
    },
    /// TC=1: ask again over TCP.
    Truncated,
    /// FORMERR; `has_opt` false may mean a server that predates EDNS (RFC 6891 §7).
    FormErr {
        has_opt: bool,
    },
    /// NOTIMP: without OPT, what some servers that predate EDNS answer a query with one (as
    /// Unbound reads it, like FORMERR); with OPT, a server that will not serve us.
    NotImp {
        has_opt: bool,
    },
    /// A reply to throw away (a cache's opinion where an authority's is needed): try another
    /// server.
    Failed(&'static str),
    /// The server is not a working authority for the zone it was delegated.
    Lame(&'static str),
}

impl Outcome {}

/// One entry for the cache: key, data, and how far to trust it.
#[derive(Debug, Clone, PartialEq)]
pub struct Learn {
    pub key: Key,
    pub data: Data,
    pub(crate) rank: Rank,
    /// The DNSSEC records that came with the data: RRSIGs over the RRset, or the denial proof
    /// (NSEC/NSEC3 with their RRSIGs, the SOA's RRSIGs) of a negative answer.
    pub(crate) signed: Vec<Record>,
}

/// A classified reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub outcome: Outcome,
    /// The AA bit: answers without it rank below authoritative data.
    pub authoritative: bool,
    /// What the reply teaches, for the store stage.
    pub learned: Vec<Learn>,
    /// The DNSSEC records of the outcome (as in [`Learn::signed`]), for the validator and
    /// for clients that set DO.
    pub(crate) signed: Vec<Record>,
}

impl Classified {
    fn bare(outcome: Outcome, authoritative: bool) -> Classified {
        Classified {
            outcome,
            authoritative,
            learned: Vec::new(),
            signed: Vec::new(),
        }
    }
}

/// True when `name` is `zone` or below it.
pub(crate) fn in_bailiwick(name: &Name, zone: &Name) -> bool {
    within(name, zone)
}

/// Splits records into RRsets (one per owner and type), in order of first appearance.
pub(crate) fn rrsets(records: &[Record]) -> Vec<Vec<Record>> {
    let mut sets: Vec<Vec<Record>> = Vec::new();
    for r in records {
        let rtype = r.record_type();
        match sets
            .iter_mut()
            .find(|s| s[0].record_type() == rtype && same_name(&s[0].name, &r.name))
        {
            Some(set) => set.push(r.clone()),
            None => sets.push(vec![r.clone()]),
        }
    }
    sets
}

/// A delegation's NS set and glue as cache entries.
pub(crate) fn learn_delegation(cut: &Name, ns: &[Record], glue: &[Record]) -> Vec<Learn> {
    let mut learned = vec![Learn {
        key: Key::new(cut, RecordType::NS),
        data: Data::Positive(ns.to_vec()),
        rank: Rank::Referral,
        signed: Vec::new(),
    }];
    learned.extend(learn_rrsets(glue, Rank::Glue));
    learned
}

fn learn_rrsets(records: &[Record], rank: Rank) -> impl Iterator<Item = Learn> + '_ {
    rrsets(records).into_iter().map(move |set| Learn {
        key: Key::new(&set[0].name, set[0].record_type()),
        data: Data::Positive(set),
        rank,
        signed: Vec::new(),
    })
}

/// What a referral says about the child's DS set (RFC 4035 §3.1.4): the signed DS RRset,
/// or the NSEC/NSEC3 proof that there is none (the child is unsigned). Nothing from an
/// unsigned parent.
fn learn_ds(reply: &Message, zone: &Name, cut: &Name) -> Option<Learn> {
    let ds: Vec<Record> = reply
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::DS && same_name(&r.name, cut))
        .cloned()
        .collect();
    if !ds.is_empty() {
        return Some(Learn {
            key: Key::new(cut, RecordType::DS),
            data: Data::Positive(ds),
            rank: Rank::NonAuthoritative,
            signed: proof::sigs(&reply.authorities, cut, RecordType::DS).collect(),
        });
    }
    let proof = proof::nsec_only(&reply.authorities, zone);
    (!proof.is_empty()).then(|| Learn {
        key: Key::new(cut, RecordType::DS),
        data: Data::NoData { soa: None },
        rank: Rank::NonAuthoritative,
        signed: proof,
    })
}

/// Whether `classified`, [`classify_from`]'s verdict on a reply to a `qtype` question read
/// without its authority and additional sections, is its verdict on the whole reply: a
/// positive answer without RRSIGs, beside it or among it (an ANY answer's), so no proof of a
/// wildcard to look for there, never to an NS question (its servers' addresses are read from
/// the additional section). An alias, a negative answer or a referral needs the rest.
pub(crate) fn settled_alone(classified: &Classified, qtype: RecordType) -> bool {
    matches!(&classified.outcome, Outcome::Answer(records) if !signed_any(records))
        && classified.signed.is_empty()
        && qtype != RecordType::NS
}

/// Whether `answer` holds RRSIGs among its data, as a signed ANY answer does: a wildcard's
/// proof may be in the authority section for it.
fn signed_any(answer: &[Record]) -> bool {
    answer.iter().any(|r| r.record_type() == RecordType::RRSIG)
}

/// Classifies `reply` to a query for (`qname`, `qtype`) sent to a server for `zone`.
pub fn classify(reply: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Classified {
    classify_from(reply, zone, qname, qtype, false)
}

/// [`classify`], for a reply from a recursive server we forwarded to (RD=1) when `forwarded`:
/// its answers come without AA and with RA=1 as a matter of course, so a negative or empty
/// one is an answer, not lameness (Unbound's forward-zone); a referral means it did not
/// recurse for us, which makes it no use.
pub(crate) fn classify_from(
    reply: &Message,
    zone: &Name,
    qname: &Name,
    qtype: RecordType,
    forwarded: bool,
) -> Classified {
    let aa = reply.metadata.authoritative;
    // RFC 1035 §4.1.1: RA says the server offers recursion. One that answers without AA is
    // answering from its cache, not from the zone (Unbound's REC_LAME) — unless a cache's
    // answer is what we asked for.
    let recursive = reply.metadata.recursion_available && !aa && !forwarded;
    if reply.metadata.truncation {
        return Classified::bare(Outcome::Truncated, aa);
    }
    let rcode = reply.metadata.response_code;
    match rcode {
        // YXDOMAIN: a DNAME's substitution too long (RFC 6672 §2.2), read with the alias.
        ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::YXDomain => {}
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
        ResponseCode::NotImp => {
            return Classified::bare(
                Outcome::NotImp {
                    has_opt: reply.edns.is_some(),
                },
                aa,
            );
        }
        _ => return Classified::bare(Outcome::Lame("unexpected RCODE"), aa),
    }
    let rank = if aa {
        Rank::Authoritative
    } else {
        Rank::NonAuthoritative
    };
    let ours = |r: &&Record| in_bailiwick(&r.name, zone);
    // The cheap tests first: the type, then the name, then the zone (a record at qname is
    // inside it when qname is).
    let qname_ours = in_bailiwick(qname, zone);
    let at_qname = |r: &&Record, rtype: RecordType| {
        (r.record_type() == rtype || rtype == RecordType::ANY) && same_name(&r.name, qname)
    };
    // An alias for qname comes first: the chain continues at its target. A CNAME question
    // is answered by the CNAME itself, unless a DNAME cannot make it (YXDOMAIN).
    let alias = if qname_ours {
        dname::alias(reply, zone, qname)
    } else {
        Ok(None)
    };
    if alias.is_err() || rcode == ResponseCode::YXDomain {
        if let Some(yx) = dname::yxdomain(reply, zone, qname, alias.is_err()) {
            return yx;
        }
        // A server's YXDOMAIN for a name with no DNAME above it: the RCODE of the end of the
        // CNAME chain it followed (RFC 6604 §2.1), the chase's to find; or nothing usable.
        if !matches!(alias, Ok(Some(_))) || qtype == RecordType::CNAME {
            return Classified::bare(Outcome::Lame("YXDOMAIN without a DNAME"), aa);
        }
    }
    let alias = alias.ok().flatten().filter(|_| qtype != RecordType::CNAME);
    if let Some(cname) = &alias
        && let RData::CNAME(CNAME(target)) = &cname.data
    {
        let mut records: Vec<Record> = reply
            .answers
            .iter()
            .filter(ours)
            .filter(|r| {
                r.record_type() == RecordType::DNAME
                    && crate::rr::dname::target(r).is_some()
                    && within(qname, &r.name)
                    && !same_name(&r.name, qname)
            })
            .cloned()
            .collect();
        records.push(cname.clone());
        let mut sigs: Vec<Record> = proof::sigs(&reply.answers, qname, RecordType::CNAME).collect();
        if !sigs.is_empty() {
            // A CNAME expanded from a wildcard needs, like any other such RRset, the proof
            // that qname itself does not exist (RFC 4035 §3.1.3.3, §5.3.4).
            sigs.extend(proof::nsec_only(&reply.authorities, zone));
        }
        // A CNAME synthesized from a DNAME is unsigned (RFC 6672 §5.3.1): the DNAME and its
        // RRSIGs vouch for it, so they travel with it, into the cache too.
        for dname in records
            .iter()
            .filter(|r| r.record_type() == RecordType::DNAME)
        {
            sigs.push(dname.clone());
            sigs.extend(proof::sigs(&reply.answers, &dname.name, RecordType::DNAME));
        }
        let mut learned = vec![Learn {
            key: Key::new(qname, RecordType::CNAME),
            data: Data::Positive(vec![cname.clone()]),
            rank,
            signed: sigs.clone(),
        }];
        learned.extend(rest_of_chain(reply, zone, target, qtype, rank));
        return Classified {
            outcome: Outcome::Cname {
                records,
                target: target.clone(),
            },
            authoritative: aa,
            learned,
            signed: sigs,
        };
    }
    let answer: Vec<Record> = reply
        .answers
        .iter()
        .filter(|r| qname_ours && at_qname(r, qtype))
        .cloned()
        .collect();
    let soa = reply
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA && within(qname, &r.name) && ours(r))
        .cloned();
    if rcode == ResponseCode::NXDomain {
        if recursive {
            return Classified::bare(Outcome::Lame("recursive server's NXDOMAIN"), aa);
        }
        let signed = proof::denial(&reply.authorities, zone);
        return Classified {
            outcome: Outcome::NxDomain { soa: soa.clone() },
            authoritative: aa,
            learned: vec![Learn {
                key: Key::name_only(qname),
                data: Data::NxDomain {
                    soa: soa.map(Box::new),
                },
                rank,
                signed: signed.clone(),
            }],
            signed,
        };
    }
    if !answer.is_empty() {
        // The RRSIGs over the answer, and for a wildcard expansion the NSEC/NSEC3 records
        // proving that qname itself does not exist (RFC 4035 §3.1.3.3). An ANY answer's RRSIGs
        // are records at qname, among its data (`validate::any`): the proof goes with it.
        let mut signed: Vec<Record> = if qtype == RecordType::ANY {
            Vec::new()
        } else {
            proof::sigs(&reply.answers, qname, qtype).collect()
        };
        if !signed.is_empty() || signed_any(&answer) {
            signed.extend(proof::nsec_only(&reply.authorities, zone));
        }
        let mut learned = vec![Learn {
            key: Key::new(qname, qtype),
            data: Data::Positive(answer.clone()),
            rank,
            signed: signed.clone(),
        }];
        if qtype == RecordType::NS {
            // The NS targets' addresses beside an NS answer (a priming reply's above all) are
            // glue: good enough to reach the servers, never an answer.
            let glue = super::answer_ns::addresses(reply, zone, &answer);
            learned.extend(learn_rrsets(&glue, Rank::Glue));
        }
        return Classified {
            outcome: Outcome::Answer(answer),
            authoritative: aa,
            learned,
            signed,
        };
    }
    let denial = proof::denial(&reply.authorities, zone);
    if soa.is_some() {
        return nodata(qname, qtype, soa, aa, recursive, rank, denial);
    }
    let ns: Vec<&Record> = reply
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS)
        // A forwarder's NS set beside neither its zone nor above it (a sideways one) says
        // nothing about the name: scrubbed, as Unbound's sanitizer does, so the reply is
        // read without it; one above the zone still marks a referral (no recursion).
        .filter(|r| !forwarded || in_bailiwick(&r.name, zone) || within(zone, &r.name))
        .collect();
    if let Some(first) = ns.first() {
        // The NS set that leads down towards qname (the deepest, should there be two), not
        // whichever came first: a server may put its own zone's or a sibling's beside it, which
        // Unbound's scrubber drops. With none, the first says what the reply is.
        let cut = ns
            .iter()
            .map(|r| &r.name)
            .filter(|owner| within(qname, owner) && rr::label_count(owner) > rr::label_count(zone))
            .max_by_key(|owner| rr::label_count(owner))
            .unwrap_or(&first.name)
            .clone();
        if cut == *zone {
            // RFC 2308 §2.2 type 3: NODATA with the zone's own NS set and no SOA. Without AA
            // it is a cache's opinion: ask another server.
            if !aa && !forwarded {
                return Classified::bare(Outcome::Failed("non-authoritative NS-only reply"), aa);
            }
            // RA=0: a server that will not recurse for us, its upward referral at the forward
            // zone's apex (the root's NS set when "." is forwarded): lame, not NODATA.
            if forwarded && !aa && !reply.metadata.recursion_available {
                return Classified::bare(
                    Outcome::Lame("forwarder sent a referral (no recursion)"),
                    aa,
                );
            }
            return nodata(qname, qtype, None, aa, recursive, rank, denial);
        }
        if forwarded {
            return Classified::bare(
                Outcome::Lame("forwarder sent a referral (no recursion)"),
                aa,
            );
        }
        // A referral must lead strictly downwards, towards qname (no upward or sideways ones).
        if !in_bailiwick(&cut, zone)
            || rr::label_count(&cut) <= rr::label_count(zone)
            || !within(qname, &cut)
        {
            return Classified::bare(
                Outcome::Lame("referral that does not lead down towards the name"),
                aa,
            );
        }
        let ns: Vec<Record> = ns
            .into_iter()
            .filter(|r| same_name(&r.name, &cut))
            .cloned()
            .collect();
        let targets = rr::ns_targets(&ns);
        // Glue: addresses of this referral's NS targets, and only inside the server's zone.
        let glue: Vec<Record> = reply
            .additionals
            .iter()
            .filter(ours)
            .filter(|r| {
                matches!(r.record_type(), RecordType::A | RecordType::AAAA)
                    && targets.iter().any(|t| same_name(t, &r.name))
            })
            .cloned()
            .collect();
        let mut learned = learn_delegation(&cut, &ns, &glue);
        learned.extend(learn_ds(reply, zone, &cut));
        return Classified {
            outcome: Outcome::Referral { cut, ns, glue },
            authoritative: aa,
            learned,
            signed: Vec::new(),
        };
    }
    // Nothing but an empty NOERROR: NODATA without an SOA to cache it by.
    nodata(qname, qtype, None, aa, recursive, rank, denial)
}

fn nodata(
    qname: &Name,
    qtype: RecordType,
    soa: Option<Record>,
    aa: bool,
    recursive: bool,
    rank: Rank,
    signed: Vec<Record>,
) -> Classified {
    if recursive {
        return Classified::bare(Outcome::Lame("recursive server's empty answer"), aa);
    }
    Classified {
        outcome: Outcome::NoData { soa: soa.clone() },
        authoritative: aa,
        learned: vec![Learn {
            key: Key::new(qname, qtype),
            data: Data::NoData {
                soa: soa.map(Box::new),
            },
            rank,
            signed: signed.clone(),
        }],
        signed,
    }
}
