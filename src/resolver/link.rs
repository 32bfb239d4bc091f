//! One link of an answer chain as the chase uses it: from the cache (with the DNSSEC records
//! kept beside the data and the verdict on them) or from a walk, and the chain put together
//! into a [`Resolution`], whose RRSIGs and proofs only a DO=1 client gets.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;

use super::{Resolution, Resolver, Step, proof};
use crate::cache::{Data, Key, Rank, Signed, Trust};

/// A link with the DNSSEC records that came with it (RRSIGs over its RRset, or the denial
/// proof of a negative answer) and the validator's verdict on it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Link {
    pub(crate) step: Step,
    pub(crate) signed: Signed,
}

impl Resolution {
    /// Appends the answer records to `m`'s answer section and sets its authority section;
    /// the RRSIGs and the denial proof only when `m` answers DO=1 (our OPT copies the
    /// query's; RFC 4035 §3.2.1).
    pub(crate) fn fill_sections(self, m: &mut Message) {
        let dnssec_ok = m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        append(&mut m.answers, self.answers);
        m.authorities = self.authorities;
        if dnssec_ok {
            m.answers.extend(self.answer_sigs);
            m.authorities.extend(self.proof);
        }
    }

    /// The DNSSEC verdict in words: `secure`, `insecure`, `bogus (why; EDE n)`,
    /// `indeterminate`, or `unchecked` when validation is off.
    pub fn dnssec_state(&self) -> String {
        match &self.security {
            Trust::Unchecked => "unchecked".into(),
            Trust::Indeterminate => "indeterminate".into(),
            Trust::Insecure => "insecure".into(),
            Trust::Secure => "secure".into(),
            Trust::Bogus { ede, why } => format!("bogus ({why}; EDE {ede})"),
        }
    }
}

impl Resolver {
    /// One link from the cache, if it can be. `stale` allows expired data (RFC 8767).
    pub(super) fn cached_step(
        &self,
        name: &Name,
        qtype: RecordType,
        now: Instant,
        stale: bool,
    ) -> Option<Link> {
        // A `no_cache` forward zone's names are never answered from the cache (forward.rs).
        if !self.caches(name) {
            return None;
        }
        let link = |step, signed: Option<Box<Signed>>| Link {
            step,
            signed: signed.map(|s| *s).unwrap_or_default(),
        };
        let get = |key: &Key| {
            if stale {
                self.cache.get_stale(key, now)
            } else {
                self.cache.get(key, now)
            }
        };
        // One key, its type changed for each read: the name's wire form is made once.
        let mut key = Key::new(name, qtype);
        // The exact RRset first: it is what a cache hit almost always is.
        if let Some(c) = get(&key) {
            match c.data {
                // RFC 2181 §5.4.1: NS sets from referrals and glue only steer the walk; an
                // answer about them comes from the zone's own servers.
                Data::Positive(_) if c.rank < Rank::NonAuthoritative => {}
                Data::Positive(records) => return Some(link(Step::Answer(records), c.signed)),
                Data::NoData { soa } => {
                    return Some(link(Step::NoData(soa.map(|s| *s)), c.signed));
                }
                _ => {}
            }
        }
        key.rtype = None;
        if let Some(c) = get(&key)
            && let Data::NxDomain { soa } = c.data
        {
            return Some(link(Step::NxDomain(soa.map(|s| *s)), c.signed));
        }
        key.rtype = Some(RecordType::CNAME);
        if qtype != RecordType::CNAME
            && let Some(c) = get(&key)
            && let Data::Positive(records) = c.data.clone()
            && let Some(RData::CNAME(CNAME(target))) = records.first().map(|r| &r.data)
        {
            let target = target.clone();
            // The DNAME a synthesized CNAME came from goes before it, as upstream sent it.
            let mut chain: Vec<Record> = c
                .signed
                .as_deref()
                .map(|s| proof::dnames(&s.records).collect())
                .unwrap_or_default();
            chain.extend(records);
            return Some(link(Step::Cname(chain, target), c.signed));
        }
        None
    }
}

impl Link {
    /// Every record of the link: its data, then its DNSSEC records.
    fn records_mut(&mut self) -> impl Iterator<Item = &mut Record> {
        let data = match &mut self.step {
            Step::Answer(records) | Step::Cname(records, _) | Step::YxDomain(records) => {
                records.as_mut_slice()
            }
            Step::NoData(soa) | Step::NxDomain(soa) => soa.as_mut_slice(),
        };
        data.iter_mut().chain(self.signed.records.iter_mut())
    }
}

/// Lowers every TTL of `records` by the whole seconds from `from` to `to`, as the message
/// tier counts a kept answer's down: a link read a moment before the answer was made keeps
/// the TTL the cache showed (`Cache::get` rounds up), as the hit path shows it a moment after.
fn age<'r>(records: impl Iterator<Item = &'r mut Record>, from: Instant, to: Instant) {
    let secs = to.saturating_duration_since(from).as_secs();
    let secs = u32::try_from(secs).unwrap_or(u32::MAX);
    if secs > 0 {
        records.for_each(|r| r.ttl = r.ttl.saturating_sub(secs));
    }
}

impl Resolver {
    /// Makes `link`'s TTLs say what is left at `at`, when its answer is made (and kept by the
    /// message tier). A cached link's were read at `read_at`, before the walk for a later
    /// link or its validation moved the clock; a walked link's are upstream's, which the cache
    /// clamped (`max_ttl`, RFC 2308's negative TTL and `negative_max_ttl`), cut to its
    /// signatures or its delegation: they say no more than its entry (`link` is at `key`).
    /// Unbound's reply is built from the TTLs it cached, likewise.
    pub(super) fn ttls_as_of(
        &self,
        link: &mut Link,
        (name, qtype): (&Name, RecordType),
        walked: bool,
        read_at: Instant,
        at: Instant,
    ) {
        if !walked {
            age(link.records_mut(), read_at, at);
            return;
        }
        // Unsigned data other than an NS set (a delegation's may be cut to what the parent's
        // has left) was kept for its TTL as the policy caps it: cap it so here rather than
        // look the entry up again (a thousand instructions a miss). A YXDOMAIN has no entry,
        // signed or not: the message tier keeps the answer for its shortest TTL, the
        // DNAME's, capped here as a negative answer's (a name that cannot be; RFC 2308 §5).
        let yxdomain = matches!(link.step, Step::YxDomain(_));
        if (link.signed.records.is_empty() && qtype != RecordType::NS) || yxdomain {
            let policy = self.cache.policy();
            let cap = match &link.step {
                Step::Answer(_) | Step::Cname(..) => policy.max_positive_ttl(),
                Step::NoData(soa) | Step::NxDomain(soa) => {
                    super::store::negative_ttl(soa.as_ref()).min(policy.negative_max_ttl)
                }
                Step::YxDomain(_) => policy.max_positive_ttl().min(policy.negative_max_ttl),
            };
            link.records_mut().for_each(|r| r.ttl = r.ttl.min(cap));
            return;
        }
        if let Some(key) = super::validate::link_key(name, qtype, &link.step)
            && let Some(left) = self.cache.fresh_ttl(&key, at)
        {
            link.records_mut().for_each(|r| r.ttl = r.ttl.min(left));
        }
    }
}

/// The chain so far: answer records, the RRSIGs over them, the proofs of its wildcard CNAMEs,
/// and the weakest verdict.
#[derive(Default)]
pub(super) struct Answers {
    records: Vec<Record>,
    sigs: Vec<Record>,
    /// A DO=1 client needs a wildcard CNAME's NSEC/NSEC3 proof to validate it (RFC 4035
    /// §3.1.3.3, §5.3.4), not only the last link's.
    proof: Vec<Record>,
    security: Option<Trust>,
    /// When the TTLs of `records`, `sigs` and `proof` were last made the time left.
    as_of: Option<Instant>,
}

/// `more` after `to`: moved whole when `to` is empty (the first link), not copied over.
fn append(to: &mut Vec<Record>, more: Vec<Record>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.extend(more);
    }
}

/// Adds a link to the chain: `Ok` with the finished resolution, or `Err(target)` to go on.
pub(super) fn finish(link: Link, answers: &mut Answers, at: Instant) -> Result<Resolution, Name> {
    // The earlier links' TTLs as of this link's, which is `at`'s (`ttls_as_of`).
    if let Some(then) = answers.as_of.replace(at) {
        let held = answers.records.iter_mut().chain(&mut answers.sigs);
        age(held.chain(&mut answers.proof), then, at);
    }
    let Link { step, signed } = link;
    let security = match answers.security.take() {
        Some(so_far) => so_far.and(signed.trust),
        None => signed.trust,
    };
    let done = |rcode, answers: &mut Answers, soa: Option<Record>, proof| Resolution {
        rcode,
        answers: std::mem::take(&mut answers.records),
        authorities: soa.into_iter().collect(),
        answer_sigs: std::mem::take(&mut answers.sigs),
        proof: with_earlier(std::mem::take(&mut answers.proof), proof),
        security: security.clone(),
        stale: false,
        upstream_queries: 0,
        at,
    };
    // Split the link's DNSSEC records: RRSIGs over answer data, the rest (NSEC/NSEC3 and
    // their RRSIGs, the SOA's) a proof for the authority section.
    let (sigs, proof): (Vec<Record>, Vec<Record>) = match &step {
        Step::Answer(records) | Step::Cname(records, _) | Step::YxDomain(records) => {
            signed.records.into_iter().partition(|r| {
                proof::covered(r).is_some_and(|t| {
                    records
                        .iter()
                        .any(|a| a.name == r.name && a.record_type() == t)
                })
            })
        }
        Step::NoData(_) | Step::NxDomain(_) => (Vec::new(), signed.records),
    };
    append(&mut answers.sigs, sigs);
    match step {
        Step::Answer(records) => {
            append(&mut answers.records, records);
            Ok(done(ResponseCode::NoError, answers, None, proof))
        }
        Step::Cname(records, target) => {
            answers.records.extend(records);
            // Only the wildcard proof: the DNAME a CNAME was made from is in the answer.
            answers.proof.extend(proof.into_iter().filter(|r| {
                let t = proof::covered(r).unwrap_or(r.record_type());
                matches!(t, RecordType::NSEC | RecordType::NSEC3)
            }));
            answers.security = Some(security);
            Err(target)
        }
        Step::NoData(soa) => Ok(done(ResponseCode::NoError, answers, soa, proof)),
        Step::NxDomain(soa) => Ok(done(ResponseCode::NXDomain, answers, soa, proof)),
        // RFC 6672 §2.2: the DNAME in the answer, after the chain that led to it.
        Step::YxDomain(records) => {
            append(&mut answers.records, records);
            Ok(done(ResponseCode::YXDomain, answers, None, proof))
        }
    }
}

/// The earlier links' wildcard proofs, then the last link's proof, each record once (a
/// wildcard CNAME to a name denied in its own zone may be proven by the same NSEC).
fn with_earlier(mut earlier: Vec<Record>, last: Vec<Record>) -> Vec<Record> {
    for r in last {
        if !earlier.contains(&r) {
            earlier.push(r);
        }
    }
    earlier
}
