//! The invariants of a fuzz run. Each failure panics with the question and what was wrong:
//! a panic is the finding.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::time::Instant;

use super::net::ScriptedNet;
use crate::cache::{Cache, Trust};
use crate::resolver::{Resolution, ResolveError};

/// One question as the checks name it.
pub(super) struct Asked<'a> {
    pub(super) qname: &'a Name,
    pub(super) qtype: RecordType,
    pub(super) validating: bool,
}

impl std::fmt::Display for Asked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.qname, self.qtype)
    }
}

/// An answer: NOERROR or NXDOMAIN; its records the RRsets of the chain asked (RFC 1034
/// §4.3.2: the qname's, then each CNAME target's, a DNAME before the CNAME it made), of the
/// type asked except the aliases; at most the SOA of the last name's zone beside it; never
/// `Secure` (no reply can carry a signature the trust anchor's key made), and no verdict at all
/// without a validator.
pub(super) fn resolution(asked: &Asked<'_>, r: &Resolution, max_queries: usize) {
    assert!(
        matches!(r.rcode, ResponseCode::NoError | ResponseCode::NXDomain),
        "{asked}: rcode {} in an answer",
        r.rcode
    );
    let mut chain: Vec<Name> = vec![asked.qname.clone()];
    for record in &r.answers {
        let owner = &record.name;
        let rtype = record.record_type();
        let in_chain = chain.contains(owner);
        let fits = match rtype {
            RecordType::DNAME => chain.iter().any(|n| owner.zone_of(n) && owner != n),
            RecordType::CNAME if in_chain => {
                if let RData::CNAME(CNAME(target)) = &record.data {
                    chain.push(target.clone());
                }
                true
            }
            t => in_chain && (t == asked.qtype || asked.qtype == RecordType::ANY),
        };
        assert!(fits, "{asked}: {record} is not part of the answer chain");
    }
    assert!(
        r.authorities.len() <= 1,
        "{asked}: authority section {:?}",
        r.authorities
    );
    if let (Some(soa), Some(last)) = (r.authorities.first(), chain.last()) {
        assert!(
            soa.record_type() == RecordType::SOA && soa.name.zone_of(last),
            "{asked}: {soa} beside an answer ending at {last}"
        );
    }
    trust(asked, &r.security);
    assert!(
        r.upstream_queries <= max_queries,
        "{asked}: {} upstream queries",
        r.upstream_queries
    );
}

fn trust(asked: &Asked<'_>, trust: &Trust) {
    if asked.validating {
        assert!(
            *trust != Trust::Secure,
            "{asked}: secure without a signature"
        );
    } else {
        assert!(
            *trust == Trust::Unchecked,
            "{asked}: {trust:?} with no validator"
        );
    }
}

/// A failure is one the limits allow; an internal error is a bug.
pub(super) fn failure(asked: &Asked<'_>, e: &ResolveError) {
    assert!(*e != ResolveError::Internal, "{asked}: {e}");
}

/// The cache holds only what replies licensed (see [`super::net`]), and no validating run has
/// anything `Secure` in it. `since` is when the run began: entries inserted then or later and
/// not yet expired are listed.
pub(super) fn cache(asked: &Asked<'_>, cache: &Cache, net: &ScriptedNet, since: Instant) {
    for entry in cache.dump(since) {
        let owner = entry.key.name();
        assert!(
            net.licensed(&owner),
            "{asked}: {owner} {:?} cached, but no reply from a server of a zone holding it \
             carried it",
            entry.key.rtype
        );
        if let Some(c) = cache.get(&entry.key, since)
            && let Some(signed) = &c.signed
        {
            trust(asked, &signed.trust);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::A;

    use super::*;
    use crate::cache::{CachePolicy, Data, Key, Rank};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn a(owner: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::A(A::new(192, 0, 2, 1)))
    }

    fn answer(records: Vec<Record>) -> Resolution {
        Resolution {
            rcode: ResponseCode::NoError,
            answers: records,
            authorities: Vec::new(),
            answer_sigs: Vec::new(),
            proof: Vec::new(),
            security: Trust::Unchecked,
            stale: false,
            upstream_queries: 1,
            at: Instant::now(),
        }
    }

    fn asked(qname: &Name) -> Asked<'_> {
        Asked {
            qname,
            qtype: RecordType::A,
            validating: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_chain_through_an_alias_passes() {
        let www = name("www.alpha.test.");
        let cname = Record::from_rdata(www.clone(), 300, RData::CNAME(CNAME(name("b.test."))));
        resolution(&asked(&www), &answer(vec![cname, a("b.test.")]), 50);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "is not part of the answer chain")]
    async fn a_record_off_the_chain_is_a_finding() {
        let www = name("www.alpha.test.");
        resolution(
            &asked(&www),
            &answer(vec![a("www.alpha.test."), a("evil.")]),
            50,
        );
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "secure without a signature")]
    async fn secure_is_a_finding() {
        let www = name("www.alpha.test.");
        let mut r = answer(vec![a("www.alpha.test.")]);
        r.security = Trust::Secure;
        let validating = Asked {
            validating: true,
            ..asked(&www)
        };
        resolution(&validating, &r, 50);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "cached, but no reply")]
    async fn a_cached_name_no_reply_licensed_is_a_finding() {
        let www = name("www.alpha.test.");
        let cache = Cache::new(CachePolicy::default());
        let now = Instant::now();
        let data = Data::Positive(vec![a("evil.")]);
        cache.insert(
            Key::new(&name("evil."), RecordType::A),
            data,
            300,
            Rank::Glue,
            now,
        );
        let net = ScriptedNet::new(VecDeque::new());
        self::cache(&asked(&www), &cache, &net, now);
    }
}
