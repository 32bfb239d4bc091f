//! NSEC proofs (RFC 4035 §3.1.3 and §5.4, RFC 6840 §4): comparisons in canonical name order
//! over records whose signatures were already verified. No hashing, so no budget.
//!
//! An NSEC says "nothing exists strictly between my owner and my next name". Two traps:
//! an NSEC at a delegation point (NS without SOA) or at a DNAME says nothing about the names
//! below its owner, which live in another zone or are redirected (RFC 6840 §4.1); and when
//! the next name is below the query name, the query name is an empty non-terminal: it exists.

use hickory_proto::dnssec::rdata::NSEC;
use hickory_proto::rr::{Name, RecordType};

use super::denial::Proof;

/// One verified NSEC record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NsecRr {
    pub(crate) owner: Name,
    pub(crate) nsec: NSEC,
}

impl NsecRr {
    fn has(&self, rtype: RecordType) -> bool {
        self.nsec.type_set().contains(rtype)
    }

    fn next(&self) -> &Name {
        self.nsec.next_domain_name()
    }

    /// The parent side of a zone cut.
    fn delegation(&self) -> bool {
        self.has(RecordType::NS) && !self.has(RecordType::SOA)
    }
}

/// `*.` in front of a name, if that still fits in 255 octets.
pub(crate) fn wildcard_of(name: &Name) -> Option<Name> {
    name.prepend_label("*").ok()
}

/// `name` cut down to the labels it shares, from the right, with `other`.
pub(crate) fn common_ancestor(name: &Name, other: &Name) -> Name {
    let shared = name
        .iter()
        .rev()
        .zip(other.iter().rev())
        .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
        .count();
    name.trim_to(shared)
}

/// RFC 4035 §5.4: does `rr` prove that `name` does not exist?
fn proves_absent(rr: &NsecRr, name: &Name) -> bool {
    if rr.owner == *name {
        return false;
    }
    // below a cut or a DNAME, this NSEC is not the authority
    if rr.owner.zone_of(name) && (rr.delegation() || rr.has(RecordType::DNAME)) {
        return false;
    }
    // the next name below `name`: `name` is an empty non-terminal, it exists
    if name.zone_of(rr.next()) {
        return false;
    }
    let next = rr.next();
    if rr.owner == *next {
        // the only NSEC of the zone: everything below the apex but the apex is absent
        next.zone_of(name)
    } else if rr.owner > *next {
        // the last NSEC, pointing back to the apex
        rr.owner < *name && next.zone_of(name)
    } else {
        rr.owner < *name && *name < *next
    }
}

/// The closest encloser of a name an NSEC proves absent: the longer of the names it shares
/// with the NSEC's owner and next name.
fn closest_encloser(name: &Name, rr: &NsecRr) -> Name {
    let a = common_ancestor(name, &rr.owner);
    let b = common_ancestor(name, rr.next());
    if a.num_labels() >= b.num_labels() {
        a
    } else {
        b
    }
}

/// Proves the wildcard that could have answered `qname` absent, given the NSEC that proved
/// `qname` absent.
fn no_wildcard(rrs: &[NsecRr], qname: &Name, covering: &NsecRr) -> Proof {
    let ce = closest_encloser(qname, covering);
    let Some(wc) = wildcard_of(&ce) else {
        return Proof::Bogus(format!("no wildcard name under {ce}"));
    };
    if rrs.iter().any(|r| r.owner == wc) {
        return Proof::Bogus(format!("NSEC shows {wc} exists, so {qname} had an answer"));
    }
    if rrs.iter().any(|r| proves_absent(r, &wc)) {
        Proof::Proven
    } else {
        Proof::Missing(format!("no NSEC proves {wc} absent"))
    }
}

/// An NSEC showing a delegation without DS strictly above `qname`: whatever is asked below
/// it belongs to an unsigned zone (Unbound's `val_nsec_proves_insecuredelegation`).
fn unsigned_cut_above(rrs: &[NsecRr], qname: &Name) -> Option<Proof> {
    rrs.iter()
        .find(|r| {
            r.owner != *qname && r.owner.zone_of(qname) && r.delegation() && !r.has(RecordType::DS)
        })
        .map(|cut| {
            Proof::Insecure(format!(
                "{} above {qname} is a delegation without DS",
                cut.owner
            ))
        })
}

/// NXDOMAIN: `qname` and the wildcard at its closest encloser do not exist.
pub(crate) fn nxdomain(rrs: &[NsecRr], qname: &Name) -> Proof {
    if let Some(insecure) = unsigned_cut_above(rrs, qname) {
        return insecure;
    }
    match rrs.iter().find(|r| proves_absent(r, qname)) {
        Some(rr) => no_wildcard(rrs, qname, rr),
        None => Proof::Missing(format!("no NSEC proves {qname} absent")),
    }
}

/// NODATA: `qname` exists without `qtype` (RFC 4035 §3.1.3.1), is an empty non-terminal, or
/// does not exist while the wildcard that matches it lacks `qtype` (§3.1.3.4).
pub(crate) fn nodata(rrs: &[NsecRr], qname: &Name, qtype: RecordType) -> Proof {
    if let Some(rr) = rrs.iter().find(|r| r.owner == *qname) {
        return types_absent(rr, qname, qtype);
    }
    if let Some(insecure) = unsigned_cut_above(rrs, qname) {
        return insecure;
    }
    if rrs
        .iter()
        .any(|r| r.owner < *qname && qname.zone_of(r.next()) && r.next() != qname)
    {
        return Proof::Proven; // empty non-terminal
    }
    if let Some(covering) = rrs.iter().find(|r| proves_absent(r, qname)) {
        let ce = closest_encloser(qname, covering);
        if let Some(wc) = wildcard_of(&ce)
            && let Some(rr) = rrs.iter().find(|r| r.owner == wc)
        {
            return types_absent(rr, &wc, qtype);
        }
    }
    Proof::Missing(format!("no NSEC proves {qname} has no {qtype}"))
}

/// The checks on an NSEC owned by the name (or the wildcard) a NODATA is about.
fn types_absent(rr: &NsecRr, owner: &Name, qtype: RecordType) -> Proof {
    if rr.has(qtype) {
        return Proof::Bogus(format!("NSEC at {owner} lists {qtype}"));
    }
    if rr.has(RecordType::CNAME) {
        return Proof::Bogus(format!("NSEC at {owner} lists CNAME"));
    }
    if qtype == RecordType::DS {
        // a DS lives in the parent: the child apex's NSEC cannot speak for it
        if rr.has(RecordType::SOA) && !owner.is_root() {
            return Proof::Bogus(format!("NSEC of the apex {owner} used to deny its DS"));
        }
    } else if rr.delegation() {
        // the parent's side of a cut: a signed child should have been referred to, an
        // unsigned one makes the answer insecure
        return if rr.has(RecordType::DS) {
            Proof::Bogus(format!(
                "NSEC at the delegation {owner}: expected a referral"
            ))
        } else {
            Proof::Insecure(format!("{owner} is a delegation without DS"))
        };
    }
    Proof::Proven
}

/// A positive answer expanded from `*.closest` (RFC 4035 §5.3.4): `qname` does not exist, and
/// `closest` is indeed its closest encloser.
pub(crate) fn wildcard_answer(rrs: &[NsecRr], qname: &Name, closest: &Name) -> Proof {
    if rrs
        .iter()
        .any(|r| proves_absent(r, qname) && closest_encloser(qname, r) == *closest)
    {
        Proof::Proven
    } else {
        Proof::Missing(format!("no NSEC proves {qname} absent under *.{closest}"))
    }
}

/// No DS at `child`: `Insecure` when `child` (or a cut above it) is a delegation without DS,
/// `Proven` when there is no cut at `child` at all.
pub(crate) fn no_ds(rrs: &[NsecRr], child: &Name) -> Proof {
    if let Some(rr) = rrs.iter().find(|r| r.owner == *child) {
        if let Proof::Bogus(why) = types_absent(rr, child, RecordType::DS) {
            return Proof::Bogus(why);
        }
        return if rr.has(RecordType::NS) {
            Proof::Insecure(format!("{child} is a delegation without DS"))
        } else {
            Proof::Proven
        };
    }
    if let Some(insecure) = unsigned_cut_above(rrs, child) {
        return insecure;
    }
    match nodata(rrs, child, RecordType::DS) {
        Proof::Proven => Proof::Proven,
        _ if rrs.iter().any(|r| proves_absent(r, child)) => Proof::Proven,
        other => other,
    }
}

#[cfg(test)]
mod tests;
