//! The authority sections compared, where they carry something a client relies on.
//!
//! A negative answer (NXDOMAIN, or NOERROR without the type asked: NODATA) carries the zone's
//! SOA (RFC 2308 §3, for the negative TTL) and, for DO=1, the NSEC or NSEC3 records that
//! prove it and the RRSIGs over them and over the SOA (RFC 4035 §3.1.3, passed on by a
//! recursive server, §3.2.1), without which a validating stub behind the resolver cannot
//! check it. Both resolvers must send the same RRsets (owner and type; RRSIGs apart), sign the
//! same of them, and tern's must be whole: an RRSIG over every NSEC/NSEC3, over the SOA of a
//! secure answer, and no DNSSEC records at all to a client without DO.
//!
//! A positive answer's authority section is optional (Unbound adds the zone's NS set, tern
//! does not; RFC 2181 §6.1 leaves it to the server), except for a wildcard expansion to a DO=1
//! client: the NSEC/NSEC3 proof that the name itself does not exist (RFC 4035 §3.1.3.3,
//! checked by a validator per §5.3.4) must come with it, so those are compared too.
//!
//! TTLs, order and the proof records' data are not compared: a resolver answering from its
//! cache counts TTLs down, and RFC 8198 lets either synthesize a denial from a proof it holds.
//! Every case of the table gives both the same RRsets today, the aggressive ones included, so
//! no case carries an exception; one that needs it should name the RFC that allows it.

use std::collections::BTreeSet;

use super::Case;
use super::peers::Dig;

/// (owner, type): the owner lowercased (a resolver may keep the case the zone used).
type RrsetId = (String, String);

/// An authority section: its RRsets and the RRsets its RRSIGs cover, by owner and type.
struct Authority {
    rrsets: BTreeSet<RrsetId>,
    signed: BTreeSet<RrsetId>,
}

impl Authority {
    fn of(d: &Dig) -> Authority {
        let mut rrsets = BTreeSet::new();
        let mut signed = BTreeSet::new();
        for f in d.section("AUTHORITY") {
            let (Some(owner), Some(rtype)) = (f.first(), f.get(3)) else {
                continue;
            };
            let owner = owner.to_lowercase();
            if *rtype == "RRSIG" {
                if let Some(covered) = f.get(4) {
                    signed.insert((owner, covered.to_string()));
                }
            } else {
                rrsets.insert((owner, rtype.to_string()));
            }
        }
        Authority { rrsets, signed }
    }

    /// The NSEC and NSEC3 records.
    fn proof(&self) -> BTreeSet<&RrsetId> {
        self.rrsets
            .iter()
            .filter(|(_, t)| t == "NSEC" || t == "NSEC3")
            .collect()
    }

    /// The RRsets of `types` without an RRSIG over them.
    fn unsigned(&self, types: &[&str]) -> Vec<&RrsetId> {
        self.rrsets
            .iter()
            .filter(|id| types.contains(&id.1.as_str()) && !self.signed.contains(*id))
            .collect()
    }
}

/// Whether `d` is a negative answer to a question of type `qtype`.
fn negative(d: &Dig, qtype: &str) -> bool {
    d.status == "NXDOMAIN" || (d.status == "NOERROR" && d.count("ANSWER", qtype) == 0)
}

/// Whether an RRSIG in the answer has fewer labels than its owner: a wildcard expansion
/// (RFC 4034 §3.1.3).
fn expanded_from_wildcard(d: &Dig) -> bool {
    d.section("ANSWER").iter().any(|f| {
        let (Some(owner), Some(&"RRSIG"), Some(labels)) = (f.first(), f.get(3), f.get(6)) else {
            return false;
        };
        let owner_labels = owner.trim_end_matches('.').split('.').count();
        labels.parse::<usize>().is_ok_and(|l| l < owner_labels) && !owner.starts_with("*.")
    })
}

/// What is wrong with tern's authority section (`ours`) beside Unbound's (`theirs`) for `c`.
pub(super) fn compare(c: &Case, ours: &Dig, theirs: &Dig) -> Vec<String> {
    let what = format!("{} {:?}", c.q, c.opts);
    let qtype = c.q.split_whitespace().nth(1).unwrap_or("A");
    let dnssec_ok = c.opts.contains(&"+dnssec");
    let (a, b) = (Authority::of(ours), Authority::of(theirs));
    let mut wrong = Vec::new();
    let mut differ = |part: &str, x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| {
        wrong.push(format!(
            "{what}: authority {part} differ\ntern:    {x:?}\nunbound: {y:?}\n{}",
            ours.text
        ))
    };
    if negative(ours, qtype) && negative(theirs, qtype) {
        if a.rrsets != b.rrsets {
            differ("RRsets", &a.rrsets, &b.rrsets);
        }
        if a.signed != b.signed {
            differ("RRSIGs", &a.signed, &b.signed);
        }
        wrong.extend(whole_negative(&what, ours, &a, dnssec_ok));
    } else if dnssec_ok && (expanded_from_wildcard(ours) || expanded_from_wildcard(theirs)) {
        if a.proof() != b.proof() {
            differ("wildcard proofs", &a.proof(), &b.proof());
        }
        if a.proof().is_empty() || !a.unsigned(&["NSEC", "NSEC3"]).is_empty() {
            wrong.push(format!(
                "{what}: a wildcard expansion without its signed NSEC/NSEC3 proof\n{}",
                ours.text
            ));
        }
    }
    wrong
}

/// What tern's negative answer lacks or has too much of.
fn whole_negative(what: &str, d: &Dig, a: &Authority, dnssec_ok: bool) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut bad = |why: String| wrong.push(format!("{what}: {why}\n{}", d.text));
    let soas = a.rrsets.iter().filter(|(_, t)| t == "SOA").count();
    if soas != 1 {
        bad(format!("{soas} SOA records, want 1 (RFC 2308 §3)"));
    }
    if !dnssec_ok {
        if !a.proof().is_empty() || !a.signed.is_empty() {
            bad("DNSSEC records for a client without DO (RFC 4035 §3.2.1)".into());
        }
        return wrong;
    }
    let unsigned = a.unsigned(&["NSEC", "NSEC3"]);
    if !unsigned.is_empty() {
        bad(format!("proof records without their RRSIGs: {unsigned:?}"));
    }
    if d.ad() {
        if a.proof().is_empty() {
            bad("a secure negative answer without its NSEC/NSEC3 proof".into());
        }
        let unsigned = a.unsigned(&["SOA"]);
        if !unsigned.is_empty() {
            bad(format!(
                "a secure negative answer's SOA unsigned: {unsigned:?}"
            ));
        }
    }
    wrong
}
