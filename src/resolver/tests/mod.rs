//! Resolver tests over the fake internet of [`super::fake`]: no sockets, a paused clock, and
//! every upstream query counted.

mod aggressive;
mod answer_ns_learn;
mod bogus_retry;
mod cancel_review;
mod classify;
mod classify_dnssec;
mod clock;
mod conditions;
mod deckard;
mod dnssec_review;
mod ds_review;
mod empty_question;
mod failure_prefetch;
mod forward;
mod forward_review;
mod iter_review;
mod limits;
mod loops;
mod no_cache_review;
mod nsec3_review;
mod nta;
mod overload;
mod persist_review;
mod prefetch;
mod robustness;
mod serve_expired;
mod ttl_review;
pub(crate) mod validate;
mod walk;
mod yxdomain_review;

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;

use super::fake::{FakeNet, Mode, ip, name};
use super::{Resolution, ResolveError, Resolver, ResolverConfig};
use crate::cache::{Cache, CachePolicy};
use crate::metrics::Metrics;

fn resolver(net: &Arc<FakeNet>) -> Arc<Resolver> {
    resolver_with(net, ResolverConfig::default())
}

fn resolver_with(net: &Arc<FakeNet>, config: ResolverConfig) -> Arc<Resolver> {
    resolver_on(Arc::clone(net) as Arc<dyn super::Upstream>, config)
}

/// [`resolver_with`] over another upstream than the fake internet itself.
fn resolver_on(upstream: Arc<dyn super::Upstream>, config: ResolverConfig) -> Arc<Resolver> {
    Arc::new(Resolver::new(
        upstream,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        config,
        Arc::new(Metrics::default()),
    ))
}

/// Records as zone-file lines (`name ttl type rdata`), in order.
fn lines(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.name.to_ascii().to_lowercase(),
                r.ttl,
                r.record_type(),
                r.data
            )
        })
        .collect()
}

async fn resolve(
    r: &Arc<Resolver>,
    qname: &str,
    qtype: RecordType,
) -> Result<Resolution, ResolveError> {
    r.resolve(&name(qname), qtype, Instant::now()).await
}

/// Resolves and expects success with `rcode`.
async fn expect(
    r: &Arc<Resolver>,
    qname: &str,
    qtype: RecordType,
    rcode: ResponseCode,
) -> Resolution {
    let res = resolve(r, qname, qtype)
        .await
        .unwrap_or_else(|e| panic!("{qname} {qtype}: {e}"));
    assert_eq!(res.rcode, rcode, "{qname} {qtype}: {res:?}");
    res
}

/// The lab with big.test.'s only server (127.0.0.81) answering UDP and TCP as given, after
/// `small.big.test. A` failed there for want of a usable reply; the server is returned for
/// the test to mend.
async fn big_test_failed(udp: Mode, tcp: Mode) -> (Arc<FakeNet>, Arc<Resolver>, std::net::IpAddr) {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let big = ip("127.0.0.81");
    net.set_modes(big, udp, tcp);
    let e = resolve(&r, "small.big.test.", RecordType::A)
        .await
        .expect_err("no usable reply");
    assert!(matches!(e, ResolveError::NoReachableAuthority(_)), "{e}");
    (net, r, big)
}
