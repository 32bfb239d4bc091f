//! tern: a recursive, caching DNS resolver with an embedded authoritative server.
//!
//! ```text
//! socket ─► server (udp | tcp) ─► handler::edge (decode once, TSIG verdict) ─┬─► query
//!   │  └─ UDP hit path: cache::message (answers kept in wire form)          ├─► update
//!   │                                                                        ├─► notify
//!   │   query: policy step ─► authority (local zones) | cache | resolver    └─► transfer
//!   │   resolver ─► outbound (the one DNS client) ─► classify ─► store ─► cache
//!   ◄─ bytes ◄─ handler::response (shell, finish: size limit, TSIG signing)
//! zones: registry (the one writer) ─► authority::store (one zone per change, journaled) ─► Catalog
//! ```
//! Imports point downstream only: `server` → `handler` → {`authority`, `cache`, `resolver`};
//! `resolver` → {`cache`, `outbound`}. `authority` and `cache` import nothing else of the crate
//! but the leaf modules, which import nothing of the crate but each other: `limits` (every knob
//! and its bounds), `rr` (record helpers, DNAME), `zonefile` (master-file reading with
//! `file:line` errors, used for zones and root hints), `acl`, `ede` (Extended DNS Error codes),
//! `ratelimit` (per-client query limits and RRL), `wire` (DNS messages read and written as raw
//! bytes), `metrics` (counters and their Prometheus endpoint) and `querylog` (the JSON query
//! log). `config` reads TOML into those types. `daemon` (everything `tern serve` runs, built
//! from a `Config`), `control` (the `tern ctl` socket) and `lab` (servers for the simulated
//! internet) are wiring, like `main`: they may import anything; nothing but `main`, `daemon`
//! and the tests imports them.
//!
//! `nameserver` is the one assembly of a name server from bound sockets (handler, the zones'
//! writer, replication, listeners): `daemon`, `embed`, `lab` and the tests build through it.
//!
//! `outbound` is the one DNS client: the resolver and replication send every query, transfer
//! request and NOTIFY through it. A leaf too, it imports only `frame`, `net`, `limits` and
//! `tsig`.
//!
//! The public surface is the `pub use` list below and `embed` (the embedding API); every other
//! module is private, so an item nothing in the crate uses is reported dead. The binary, the
//! integration tests, the benchmarks, the example and the fuzz targets use only this surface.

mod acl;
mod authority;
mod base64;
mod cache;
mod config;
mod control;
mod daemon;
mod discovery;
mod dnssec;
mod ede;
pub mod embed;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod lab;
mod limits;
mod metrics;
mod nameserver;
mod net;
mod outbound;
mod querylog;
mod ratelimit;
mod replication;
mod resolver;
mod rr;
mod server;
mod signals;
#[cfg(test)]
mod testing;
mod tsig;
mod wire;
mod zonefile;

pub use acl::{Acl, Cidr};
pub use authority::balance::Policy;
pub use authority::builtin::default_local_zones;
pub use authority::store::{Owned, StoreError, Updater, ZoneFile, ZoneStore};
pub use authority::transfer::{Incoming, Progress, Transfer, apply_deltas};
pub use authority::update::{apply as apply_update, patched};
pub use authority::{Catalog, Zone};
pub use cache::{Cache, CachePolicy, Data as CacheData, Key as CacheKey, Rank};
pub use config::{Config, ForwardConfig, StubConfig, ZoneConfig};
pub use control::DEFAULT_SOCKET as DEFAULT_CONTROL_SOCKET;
pub use control::client::{HELP as CONTROL_HELP, request as control_request};
pub use daemon::{
    LabResolver, bind as bind_sockets, build_resolver, builtin_zones, load_hints, parse_origin,
    run as serve, start_lab_resolver,
};
pub use discovery::health::{Check, CheckSpec, HttpCheck};
pub use discovery::registry::{Registration, Registry};
pub use discovery::service::{Instance, Protocol, Service};
pub use handler::Identity;
pub use handler::request::{Request, Transport};
pub use handler::response::{encode as encode_response, size_limit as response_size_limit};
pub use handler::update::Updates;
pub use handler::{Handler, HandlerConfig, Recursion, ServerCookies};
pub use lab::cluster::{Cluster as LabCluster, start as start_lab_cluster};
pub use lab::tls::{
    CertificateFiles, LabTls, make_certificate, start as start_lab_tls,
    start_on as start_lab_tls_on,
};
pub use lab::{LabFiles, start as start_lab};
pub use limits::CACHE_MAX_BYTES;
pub use metrics::Metrics;
pub use nameserver::{Fixed, ListenerLimits, NameServer, Stored};
pub use ratelimit::{
    Action, ClientPrefix, Exempt, Limits as RateLimits, QueryLimitSettings, QueryLimiter, Rrl,
    RrlSettings,
};
pub use replication::fetch::{
    FetchError, notify as send_notify, query_soa, transfer as request_transfer,
};
pub use resolver::classify::{Outcome as ReplyOutcome, classify as classify_reply};
pub use resolver::delegation::ServerSet;
pub use resolver::hints::parse as parse_root_hints;
pub use resolver::trace::{TraceSink, TraceStep};
pub use resolver::upstream::{
    NetUpstream, Upstream, UpstreamError, UpstreamFuture, UpstreamQuery, UpstreamReply,
};
pub use resolver::{Forward, Resolver, ResolverConfig, Stub};
pub use rr::dname::rdata as dname_rdata;
pub use server::shutdown::{Shutdown, ShutdownTrigger, channel as shutdown_channel};
pub use server::tcp::TcpLimits;
pub use server::udp::UdpRuntime;
pub use signals::wait_for_signal;
pub use tsig::keytool::{generate as generate_tsig_key, knot_lines as tsig_knot_lines};
pub use tsig::{
    Key as TsigKey, Keyring, TsigAlgorithm, TsigClientError, parse_keys as parse_tsig_keys,
};
pub use zonefile::{Located, Location, parse_zone_file};
