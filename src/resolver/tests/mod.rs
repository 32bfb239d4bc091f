//! Resolver tests over the fake internet of [`super::fake`]: no sockets, a paused clock, and
//! every upstream query counted.

mod classify;
mod clock;
mod conditions;
mod limits;
mod loops;
mod robustness;
mod walk;

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;

use super::fake::{FakeNet, name};
use super::{Resolution, ResolveError, Resolver, ResolverConfig};
use crate::cache::{Cache, CachePolicy};
use crate::metrics::Metrics;

fn resolver(net: &Arc<FakeNet>) -> Arc<Resolver> {
    resolver_with(net, ResolverConfig::default())
}

fn resolver_with(net: &Arc<FakeNet>, config: ResolverConfig) -> Arc<Resolver> {
    Arc::new(Resolver::new(
        Arc::clone(net) as Arc<dyn super::Upstream>,
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
