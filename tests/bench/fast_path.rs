//! Micro-benchmarks of the steps of a cache hit (Criterion): what each costs in user space,
//! without sockets, to set beside the per-query CPU time of `tests/bench/hits.sh`.
//!
//! `cargo bench --bench fast_path` (about 40 s; `cargo bench --bench fast_path -- hit` for one
//! group). Groups:
//! - `parse`: hickory's full parse of a query as dig sends it (RD, EDNS 1232), tern's
//!   `Request::parse` (that parse plus the checks), and hickory's parse of a response;
//! - `hit`: `Handler::answer_fast` answering from a kept answer (recursive: a handler whose
//!   resolver was warmed by a first `handle_bytes`; authoritative: a handler without
//!   recursion), beside the full path for the same cached answer (`Request::parse`, then
//!   `Handler::handle`, then `response::encode`, as `handle_bytes` does); and the same hits
//!   with `[rate_limit]` (recursive) or `[rrl]` (authoritative) on, under the limit and over it;
//! - `lookup`: `Catalog::answer` over four zones of `zones/hierarchy/` (an answer, a
//!   wildcard, a CNAME across zones, NXDOMAIN) and `Cache::get` of a warmed resolver cache;
//! - `encode`: hickory's `Message::to_vec` of a response (one A record; a CNAME chain).
//!
//! The recursive handler resolves through an in-process upstream: every lab server of
//! `zones/hierarchy/lab.toml` answers from its own `Catalog` (tern's authority code) through
//! the wire format, so the warm-up needs no network and no root.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::LabFiles;
use tern::Metrics;
use tern::UpstreamFuture;
use tern::{
    Acl, Handler, HandlerConfig, Recursion, Request, Transport, encode_response,
    response_size_limit,
};
use tern::{
    Action, ClientPrefix, Exempt, QueryLimitSettings, QueryLimiter, RateLimits as Limits, Rrl,
    RrlSettings,
};
use tern::{Cache, CacheKey as Key, CachePolicy};
use tern::{Catalog, Zone};
use tern::{Resolver, ResolverConfig, Upstream, UpstreamError, UpstreamQuery, UpstreamReply};
use tokio::runtime::Runtime;
use tokio::time::Instant;

/// The allocator the `tern` binary runs on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The zones the authoritative benchmarks serve (as `hits.sh` does).
const AUTH_ZONES: &[&str] = &[
    "alpha.test.",
    "deep.alpha.test.",
    "beta.example.",
    "glueless.test.",
];

fn client() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("benchmark name")
}

/// A query as `dig` sends it: RD=1, EDNS with a 1232-byte payload.
fn query_bytes(qname: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), qtype));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().expect("query encodes")
}

/// The lab's servers, each answering from its own catalog, through the wire format.
struct LabNet {
    hosts: HashMap<IpAddr, Catalog>,
}

impl LabNet {
    fn new(files: &LabFiles) -> LabNet {
        let hosts = files
            .servers()
            .expect("lab parses")
            .into_iter()
            .map(|s| (s.addr, s.catalog))
            .collect();
        LabNet { hosts }
    }

    fn reply(&self, q: &UpstreamQuery) -> Option<Message> {
        let catalog = self.hosts.get(&q.server.ip())?;
        let mut m = Message::new(0x1111, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(q.qname.clone(), q.qtype));
        match catalog.answer(&q.qname, q.qtype) {
            Some(local) => {
                m.metadata.authoritative = local.authoritative;
                m.metadata.response_code = local.rcode;
                m.answers = local.answers;
                m.authorities = local.authorities;
                m.additionals = local.additionals;
            }
            None => m.metadata.response_code = ResponseCode::Refused,
        }
        Message::from_vec(&m.to_vec().ok()?).ok()
    }
}

impl Upstream for LabNet {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        Box::pin(async move {
            match self.reply(&q) {
                Some(message) => Ok(UpstreamReply {
                    message,
                    rest: None,
                    rtt: Duration::from_micros(100),
                    lag: Duration::ZERO,
                    at: Instant::now(),
                }),
                // The lab's dead server: nothing listens there.
                None => Err(UpstreamError::Refused),
            }
        })
    }
}

struct Fixture {
    rt: Runtime,
    recursive: Handler,
    resolver: Arc<Resolver>,
    authoritative: Handler,
    catalog: Catalog,
}

fn auth_catalog(files: &LabFiles) -> Catalog {
    let zones = AUTH_ZONES.iter().map(|origin| {
        let file = format!("{}.zone", origin.trim_end_matches('.'));
        let text = files.file(&file).expect("lab zone file");
        Zone::from_text(text, Path::new(&file), Some(&name(origin))).expect("lab zone parses")
    });
    Catalog::new(zones).expect("distinct zones")
}

/// `[rate_limit]` at `qps` (burst the same), REFUSED over it.
fn query_limit(qps: u32) -> Limits {
    Limits {
        queries: Some(QueryLimiter::new(&QueryLimitSettings {
            queries_per_second: qps,
            burst: qps,
            prefix: ClientPrefix::default(),
            action: Action::Refuse,
            exempt: Exempt::default(),
            table_size: 65_536,
        })),
        rrl: None,
    }
}

/// `[rrl]` at `rps`, slip 2.
fn rrl(rps: u32) -> Limits {
    Limits {
        queries: None,
        rrl: Some(Rrl::new(&RrlSettings {
            responses_per_second: rps,
            window: 15,
            slip: 2,
            prefix: ClientPrefix::default(),
            exempt: Exempt::default(),
            table_size: 65_536,
        })),
    }
}

impl Fixture {
    /// A recursive handler over the fixture's (warm) resolver, with `limits`.
    fn recursive_with(&self, limits: Limits) -> Handler {
        Handler::new(
            Catalog::default(),
            HandlerConfig::default(),
            Arc::new(Metrics::default()),
        )
        .with_recursion(Recursion {
            resolver: Arc::clone(&self.resolver),
            acl: Acl::loopback(),
            snoop: Acl::new(Vec::new()),
        })
        .with_rate_limits(limits)
    }

    /// An authoritative handler with `limits`.
    fn authoritative_with(&self, limits: Limits) -> Handler {
        Handler::new(
            self.catalog.clone(),
            HandlerConfig::default(),
            Arc::new(Metrics::default()),
        )
        .with_rate_limits(limits)
    }

    fn new() -> Fixture {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let files = LabFiles::embedded();
        let metrics = Arc::new(Metrics::default());
        let hints = tern::parse_root_hints(
            files.root_hints().expect("lab hints"),
            Path::new("root.hints"),
        )
        .expect("hints parse");
        let resolver = Arc::new(Resolver::new(
            Arc::new(LabNet::new(&files)),
            hints,
            Arc::new(Cache::new(CachePolicy::default())),
            ResolverConfig::default(),
            Arc::clone(&metrics),
        ));
        let recursive = Handler::new(
            Catalog::default(),
            HandlerConfig::default(),
            Arc::clone(&metrics),
        )
        .with_recursion(Recursion {
            resolver: Arc::clone(&resolver),
            acl: Acl::loopback(),
            snoop: Acl::new(Vec::new()),
        });
        let authoritative = Handler::new(
            auth_catalog(&files),
            HandlerConfig::default(),
            Arc::new(Metrics::default()),
        );
        Fixture {
            rt,
            recursive,
            resolver,
            authoritative,
            catalog: auth_catalog(&files),
        }
    }

    /// Answers `bytes` through the full path once (a resolution for the recursive handler),
    /// which keeps the answer for the hit path; returns the response.
    fn warm(&self, handler: &Handler, bytes: &[u8]) -> Vec<u8> {
        self.rt
            .block_on(handler.handle_bytes(bytes, client(), Transport::Udp))
            .expect("an answer")
    }

    /// The full path for a query, as `handle_bytes` runs it, without keeping the answer.
    fn full_path(&self, handler: &Handler, bytes: &[u8]) -> Vec<u8> {
        let req = Request::parse(bytes, client(), Transport::Udp).expect("query parses");
        let limit = response_size_limit(&req, HandlerConfig::default().edns_payload);
        let res = self.rt.block_on(handler.handle(&req, Instant::now()));
        encode_response(res.message, limit, res.optional_authority)
    }
}

fn parse(c: &mut Criterion, f: &Fixture) {
    let q = query_bytes("www.alpha.test.", RecordType::A);
    let reply = f.warm(
        &f.recursive,
        &query_bytes("cname-cross.alpha.test.", RecordType::A),
    );
    let mut g = c.benchmark_group("parse");
    g.bench_function("hickory Message::from_vec, query www.alpha.test. A", |b| {
        b.iter(|| Message::from_vec(black_box(&q)).expect("parses"))
    });
    g.bench_function("tern Request::parse, query www.alpha.test. A", |b| {
        b.iter(|| Request::parse(black_box(&q), client(), Transport::Udp).expect("parses"))
    });
    g.bench_function(
        format!(
            "hickory Message::from_vec, response cname-cross.alpha.test. A ({} B)",
            reply.len()
        ),
        |b| b.iter(|| Message::from_vec(black_box(&reply)).expect("parses")),
    );
    g.finish();
}

fn hit(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("hit");
    let mut out = Vec::with_capacity(1232);
    for (qname, qtype) in [
        ("www.alpha.test.", RecordType::A),
        ("cname-cross.alpha.test.", RecordType::A),
        ("nope.alpha.test.", RecordType::A),
    ] {
        let q = query_bytes(qname, qtype);
        f.warm(&f.recursive, &q);
        assert!(
            f.recursive.answer_fast(&q, client(), &mut out),
            "{qname} {qtype}: the recursive hit path answers after a first resolution"
        );
        g.bench_function(format!("answer_fast recursive {qname} {qtype}"), |b| {
            b.iter(|| {
                out.clear();
                f.recursive.answer_fast(black_box(&q), client(), &mut out)
            })
        });
    }
    let q = query_bytes("www.alpha.test.", RecordType::A);
    g.bench_function("full path recursive (cached) www.alpha.test. A", |b| {
        b.iter(|| f.full_path(&f.recursive, black_box(&q)))
    });

    f.warm(&f.authoritative, &q);
    out.clear();
    if f.authoritative.answer_fast(&q, client(), &mut out) {
        g.bench_function("answer_fast authoritative www.alpha.test. A", |b| {
            b.iter(|| {
                out.clear();
                f.authoritative
                    .answer_fast(black_box(&q), client(), &mut out)
            })
        });
    } else {
        eprintln!("note: this build has no hit path for authoritative answers; skipped");
    }
    g.bench_function("full path authoritative www.alpha.test. A", |b| {
        b.iter(|| f.full_path(&f.authoritative, black_box(&q)))
    });
    // The limits' cost on the hit path: under the limit (a check, then the answer) and over
    // it (REFUSED written instead; RRL's drop or slip).
    // Limits past the config's bounds for "under": a benchmark sends millions a second.
    for (what, qps) in [("under", u32::MAX), ("over", 1)] {
        let h = f.recursive_with(query_limit(qps));
        f.warm(&h, &q);
        g.bench_function(
            format!("answer_fast recursive www.alpha.test. A, rate_limit on, {what} it"),
            |b| {
                b.iter(|| {
                    out.clear();
                    h.answer_fast(black_box(&q), client(), &mut out)
                })
            },
        );
    }
    for (what, rps) in [("under", u32::MAX), ("over", 1)] {
        let h = f.authoritative_with(rrl(rps));
        f.warm(&h, &q);
        g.bench_function(
            format!("answer_fast authoritative www.alpha.test. A, rrl on, {what} it"),
            |b| {
                b.iter(|| {
                    out.clear();
                    h.answer_fast(black_box(&q), client(), &mut out)
                })
            },
        );
    }
    g.finish();
}

fn lookup(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("lookup");
    for (qname, qtype, what) in [
        ("www.alpha.test.", RecordType::A, "answer"),
        ("anything.wild.alpha.test.", RecordType::A, "wildcard"),
        (
            "cname-cross.alpha.test.",
            RecordType::A,
            "CNAME to beta.example.",
        ),
        ("nope.alpha.test.", RecordType::A, "NXDOMAIN"),
    ] {
        let n = name(qname);
        assert!(f.catalog.answer(&n, qtype).is_some(), "{qname} is served");
        g.bench_function(format!("Catalog::answer {qname} {qtype} ({what})"), |b| {
            b.iter(|| f.catalog.answer(black_box(&n), qtype))
        });
    }
    let cache = f.resolver.cache();
    let key = Key::new(&name("www.alpha.test."), RecordType::A);
    assert!(
        cache.get(&key, Instant::now()).is_some(),
        "the resolver cached www.alpha.test. A"
    );
    g.bench_function("Cache::get www.alpha.test. A", |b| {
        b.iter(|| cache.get(black_box(&key), Instant::now()))
    });
    g.finish();
}

fn encode(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("encode");
    for qname in ["www.alpha.test.", "cname-cross.alpha.test."] {
        let bytes = f.warm(&f.recursive, &query_bytes(qname, RecordType::A));
        let message = Message::from_vec(&bytes).expect("response parses");
        g.bench_function(
            format!(
                "hickory Message::to_vec, response {qname} A ({} B)",
                bytes.len()
            ),
            |b| b.iter(|| black_box(&message).to_vec().expect("encodes")),
        );
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let f = Fixture::new();
    parse(c, &f);
    hit(c, &f);
    lookup(c, &f);
    encode(c, &f);
}

criterion_group! {
    name = fast_path;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50);
    targets = benches
}
criterion_main!(fast_path);
