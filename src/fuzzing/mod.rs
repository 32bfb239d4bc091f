//! The fuzzing entry point, hidden from the docs and outside the embedding API: the whole
//! resolver — iterate, exchange, classify, the store stage, the cache, the validator stage,
//! the CNAME chase, glueless lookups, QNAME minimisation — fed upstream replies taken from the
//! fuzz input instead of sockets ([`net`]), and its invariants checked after every resolution
//! ([`check`]). The input's layout is in [`input`].
//!
//! [`resolve_replies`] must run alone on a current-thread runtime whose clock is paused
//! (`fuzz/fuzz_targets/resolve_replies.rs` builds one per input), so that retransmission timers
//! and timeouts cost nothing, and so that a task still alive after a resolution can only be a
//! walk of the resolver's.

mod check;
mod doh;
mod input;
mod lazy;
mod net;
#[cfg(test)]
mod seeds;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, NS};
use hickory_proto::rr::{Name, RData, Record};
use tokio::time::Instant;

use self::check::Asked;
use self::input::{Input, Setup, Start};
use self::net::ScriptedNet;
use crate::cache::{Cache, CachePolicy};
use crate::dnssec::anchor::Anchors;
use crate::metrics::Metrics;
use crate::resolver::delegation::NameServer;
use crate::resolver::validate::Validator;
use crate::resolver::{
    Limits, LocalCut, LocalCuts, ResolveError, Resolver, ResolverConfig, ServerSet, Stub, Upstream,
};

pub use self::doh::doh_request;
pub use self::input::{DELAYS_MS, NAMES, TYPES};
pub use self::lazy::lazy_reply;

/// The root servers of the hints, as in the lab (tern never uses real root addresses here).
const ROOT_SERVERS: [(&str, [u8; 4]); 2] = [
    ("a.root-servers.", [127, 0, 0, 11]),
    ("b.root-servers.", [127, 0, 0, 12]),
];
/// The stub zone's server, and the served delegation's name server, for walks below `test.`.
const TEST_STUB: [u8; 4] = [127, 0, 0, 21];
const TEST_CUT_NS: (&str, [u8; 4]) = ("ns1.test.", [127, 0, 0, 22]);

/// An Ed25519 public key that nobody holds the private half of (the SHA-256 of a sentence):
/// no reply can carry a signature it verifies, so nothing may ever be `Secure`.
const ANCHOR_KEY: &str = "OosCSFZ0+1NZClrZ3CE+mXdWaXOcABoe6kYzbNKM/00=";

/// How far past its time budget a walk may still be seen running: none, bar the tick of the
/// clock that ends it.
const SETTLE: Duration = Duration::from_millis(1);

/// Cache entries: room for every run's records (a few hundred at most), 256 per shard.
const CACHE_ENTRIES: usize = 4096;

/// What a run did, for the seeds' tests and for reading a reproducer.
#[derive(Debug, Default)]
pub struct Report {
    /// Per resolution, in order: the RCODE, the DNSSEC verdict and the answer's records, or
    /// the error.
    pub outcomes: Vec<String>,
    /// Every upstream query, in order, as `server qname qtype transport`.
    pub sent: Vec<String>,
}

/// Runs the resolver on `data` (see the module doc for the runtime it needs) and panics if
/// an invariant breaks: each question is resolved twice (the second time mostly from the
/// cache), and after each resolution the checks of [`check`] run.
pub async fn resolve_replies(data: &[u8]) -> Report {
    let input = Input::read(data);
    let net = ScriptedNet::new(input.fates);
    let limits = limits(input.setup.tight);
    let resolver = build(&input.setup, &net, limits);
    let since = Instant::now();
    let mut report = Report::default();
    for (qname, qtype) in &input.questions {
        for _ in 0..2 {
            let asked = Asked {
                qname,
                qtype: *qtype,
                validating: input.setup.validate,
            };
            let before = net.queries();
            let t0 = Instant::now();
            let result = resolver.resolve(qname, *qtype, t0).await;
            let took = t0.elapsed();
            assert!(
                took <= limits.client_timeout,
                "{asked}: answered after {took:?}, past the client timeout"
            );
            match &result {
                Ok(r) => check::resolution(&asked, r, limits.max_upstream_queries),
                Err(e) => check::failure(&asked, e),
            }
            // A walk the client timer left running goes on for the cache, within its budget.
            settle(&asked, t0 + limits.timeout).await;
            let sent = net.queries() - before;
            assert!(
                sent <= limits.max_upstream_queries,
                "{asked}: {sent} upstream queries for one resolution"
            );
            check::cache(&asked, resolver.cache(), &net, since);
            report.outcomes.push(outcome(&result));
        }
    }
    report.sent = net.sent();
    report
}

/// Waits until no walk runs, and panics if one is still running past `deadline`.
async fn settle(asked: &Asked<'_>, deadline: Instant) {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    if alive() == 0 {
        return;
    }
    tokio::time::sleep_until(deadline + SETTLE).await;
    assert_eq!(
        alive(),
        0,
        "{asked}: a walk still runs past its time budget"
    );
}

fn outcome(result: &Result<crate::resolver::Resolution, ResolveError>) -> String {
    match result {
        Ok(r) => {
            let records: Vec<String> = r.answers.iter().map(ToString::to_string).collect();
            format!(
                "{} ({}): {}",
                r.rcode,
                r.dnssec_state(),
                records.join(" | ")
            )
        }
        Err(e) => format!("error: {e}"),
    }
}

/// The defaults, or bounds small enough that a short input reaches each of them.
fn limits(tight: bool) -> Limits {
    if !tight {
        return Limits::default();
    }
    Limits {
        max_cname_chain: 2,
        max_delegation_depth: 3,
        max_glueless_lookups: 2,
        max_upstream_queries: 12,
        timeout: Duration::from_millis(1500),
        client_timeout: Duration::from_millis(1000),
        ..Limits::default()
    }
}

fn build(setup: &Setup, net: &Arc<ScriptedNet>, limits: Limits) -> Arc<Resolver> {
    let stubs = match setup.start {
        Start::Stub => vec![Stub {
            zone: constant("test."),
            servers: vec![SocketAddr::new(ip(TEST_STUB), 53)],
        }],
        _ => Vec::new(),
    };
    let config = ResolverConfig {
        limits,
        qname_minimisation: setup.qname_minimisation,
        trace: Some(net.trace_sink()),
        stubs,
        ..ResolverConfig::default()
    };
    // A small cache, without the message tier (the handler's, which the resolver never
    // fills): allocating the full-size tables took longer than most runs.
    let policy = CachePolicy {
        max_entries: CACHE_ENTRIES,
        serve_stale_secs: if setup.serve_stale {
            CachePolicy::default().serve_stale_secs
        } else {
            0
        },
        ..CachePolicy::default()
    };
    let mut resolver = Resolver::new(
        Arc::clone(net) as Arc<dyn Upstream>,
        hints(),
        Arc::new(Cache::rrsets_only(policy)),
        config,
        Arc::new(Metrics::default()),
    );
    if setup.start == Start::LocalCut {
        resolver = resolver.with_local_cuts(Arc::new(TestCut));
    }
    if setup.validate {
        resolver = resolver.with_validator(validator(setup));
    }
    Arc::new(resolver)
}

fn hints() -> ServerSet {
    ServerSet {
        zone: Name::root(),
        servers: ROOT_SERVERS
            .iter()
            .map(|(name, addr)| NameServer {
                name: constant(name),
                addrs: vec![ip(*addr)],
                port: None,
            })
            .collect(),
    }
}

fn validator(setup: &Setup) -> Validator {
    let zone = if setup.anchor_at_test { "test." } else { "." };
    let text = format!("{zone} 86400 IN DNSKEY 257 3 15 {ANCHOR_KEY}\n");
    let anchors = Anchors::parse(&text, Path::new("fuzz.anchor")).expect("the anchor parses");
    let negative = if setup.negative_anchor {
        vec![constant("alpha.test.")]
    } else {
        Vec::new()
    };
    Validator::new(anchors, negative)
}

/// `test.` delegated in a zone served beside the resolver, with glue.
struct TestCut;

impl LocalCuts for TestCut {
    fn cut(&self, name: &Name) -> Option<LocalCut> {
        let zone = constant("test.");
        if !zone.zone_of(name) {
            return None;
        }
        let (ns_name, addr) = TEST_CUT_NS;
        let ns_name = constant(ns_name);
        Some(LocalCut {
            ns: vec![Record::from_rdata(
                zone.clone(),
                86_400,
                RData::NS(NS(ns_name.clone())),
            )],
            glue: vec![Record::from_rdata(
                ns_name,
                86_400,
                RData::A(A::from(Ipv4Addr::from(addr))),
            )],
            zone,
        })
    }
}

fn ip(octets: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(octets))
}

/// A name spelled in this file.
fn constant(name: &str) -> Name {
    Name::from_ascii(name).expect("a constant name is valid")
}
