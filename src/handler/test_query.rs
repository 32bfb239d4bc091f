//! The query a stub resolver sends, as the handler's tests put it on the wire.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// An A query for `qname` with EDNS (1232 bytes, the DNS Flag Day 2020 size), RD as given.
pub(super) fn query(qname: &str, rd: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

/// A resolver over the fake lab network (`FakeNet::lab`), with a cache of its own.
pub(super) fn lab_resolver(
    metrics: &std::sync::Arc<crate::metrics::Metrics>,
) -> std::sync::Arc<crate::resolver::Resolver> {
    use crate::cache::{Cache, CachePolicy};
    use crate::resolver::fake::FakeNet;
    use crate::resolver::{Resolver, ResolverConfig};
    std::sync::Arc::new(Resolver::new(
        FakeNet::lab(),
        FakeNet::lab_hints(),
        std::sync::Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig::default(),
        std::sync::Arc::clone(metrics),
    ))
}
