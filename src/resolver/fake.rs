//! A fake internet for socket-less resolver tests: every address answers in-process from a
//! [`Catalog`] (our own authority code over the lab zones of `zones/hierarchy/`), and each
//! address can be scripted to misbehave — silent, unreachable, truncating UDP, a fixed RCODE,
//! NXDOMAIN for chosen names, extra (spoofed) records in every reply, lost datagrams, slow
//! replies, overload (queries beyond a number in service are dropped), no AA bit, no glue, or
//! no question section in its replies.
//! Every query is logged, so tests count what the resolver sent where.
//!
//! An address with no host behaves like the lab's dead server: it never answers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{LowerName, Name, Record, RecordType};

use super::delegation::ServerSet;
use super::hints;
use super::upstream::{Upstream, UpstreamError, UpstreamFuture, UpstreamQuery, UpstreamReply};
use crate::authority::{Catalog, Zone};
use crate::lab::LabFiles;
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::outbound::Expected;

/// How a host treats queries on one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Answer from the catalog (REFUSED for names outside it, as the lab's lame server does).
    Answer,
    /// Never answer: the query times out after its per-try timeout.
    Silent,
    /// Fail at once, like an ICMP port unreachable or a refused TCP connection.
    Unreachable,
    /// Answer with TC=1 (keeping whatever records the answer had, the worst case for a cache).
    Truncate,
    /// Answer with this RCODE and nothing else.
    Rcode(ResponseCode),
    /// A pre-EDNS server: FORMERR without OPT to a query with OPT, answers otherwise.
    NoEdns,
}

struct Host {
    catalog: Catalog,
    udp: Mode,
    tcp: Mode,
    latency: Duration,
    /// Names this host claims do not exist, like a broken server that answers NXDOMAIN for
    /// empty non-terminals.
    nxdomain: Vec<Name>,
    /// Records added to the answer and additional sections of every reply (spoofing attempts).
    inject: Vec<Record>,
    /// Datagrams lost on the way, in a repeating pattern over this host's queries.
    loss: Vec<bool>,
    /// The losses happen on our side, as a local firewall's: the send fails (EPERM).
    loss_is_local: bool,
    /// Queries this host has received.
    received: usize,
    /// Queries in service beyond this are dropped, like a server whose queue is full.
    capacity: Option<usize>,
    in_service: Arc<AtomicUsize>,
    /// Never sets AA, like a load balancer or a misconfigured host; `ra` sets RA besides.
    no_aa: bool,
    ra: bool,
    /// Sends the root's NS set without the addresses of its servers (priming without glue).
    prime_without_glue: bool,
    /// Leaves the question section out of every reply (Deckard's `iter_req_qname`).
    no_question: bool,
    /// A recursive resolver's front: REFUSED to RD=0, answers without AA and with RA=1.
    recursive: bool,
    /// A validating resolver whose validation fails (a wrong clock, a stale anchor): SERVFAIL
    /// unless the query has CD=1.
    fails_validation: bool,
    /// Its TLS certificate does not check out: every query over TLS fails before it is sent.
    bad_certificate: bool,
}

/// What became of one query.
enum Fate {
    Reply(Message),
    Lost,
    Unreachable,
    SendFailed,
    BadCertificate,
}

/// Counts a query in service until its reply is sent or the resolver stops waiting.
struct InService(Arc<AtomicUsize>);

impl Drop for InService {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One query the resolver sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) server: IpAddr,
    pub(crate) qname: Name,
    pub(crate) qtype: RecordType,
    pub(crate) tcp: bool,
    pub(crate) rd: bool,
    pub(crate) cd: bool,
    /// Over DNS over TLS (a forward zone's `tls_name`).
    pub(crate) tls: bool,
}

/// The fake internet.
pub(crate) struct FakeNet {
    hosts: Mutex<HashMap<IpAddr, Host>>,
    log: Mutex<Vec<Sent>>,
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub(crate) fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

/// Parses zone text for a fake host.
pub(crate) fn zone(origin: &str, text: &str) -> Zone {
    Zone::from_text(text, Path::new(origin), Some(&name(origin))).expect("test zone is valid")
}

impl FakeNet {
    /// An internet with no hosts at all.
    pub(crate) fn empty() -> Arc<FakeNet> {
        Arc::new(FakeNet {
            hosts: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
        })
    }

    /// The lab hierarchy of `zones/hierarchy/`, at its own addresses (127.0.0.x).
    pub(crate) fn lab() -> Arc<FakeNet> {
        let net = FakeNet::empty();
        for server in LabFiles::embedded().servers().expect("lab zones are valid") {
            net.add_catalog(server.addr, server.catalog);
        }
        net
    }

    /// The lab's root hints.
    pub(crate) fn lab_hints() -> ServerSet {
        let files = LabFiles::embedded();
        hints::parse(files.root_hints().expect("hints"), Path::new("root.hints"))
            .expect("lab hints are valid")
    }

    /// The text of one lab zone file, for tests that extend it.
    pub(crate) fn lab_file(file: &str) -> String {
        LabFiles::embedded()
            .file(file)
            .expect("lab file")
            .to_string()
    }

    fn hosts(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Host>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or replaces) a host serving `catalog`.
    pub(crate) fn add_catalog(&self, addr: IpAddr, catalog: Catalog) {
        self.hosts().insert(
            addr,
            Host {
                catalog,
                udp: Mode::Answer,
                tcp: Mode::Answer,
                latency: Duration::ZERO,
                nxdomain: Vec::new(),
                inject: Vec::new(),
                loss: Vec::new(),
                loss_is_local: false,
                received: 0,
                capacity: None,
                in_service: Arc::new(AtomicUsize::new(0)),
                no_aa: false,
                ra: false,
                prime_without_glue: false,
                no_question: false,
                recursive: false,
                fails_validation: false,
                bad_certificate: false,
            },
        );
    }

    /// Adds (or replaces) a host serving `zones`; no zones makes a lame (REFUSED) host.
    pub(crate) fn add_host(&self, addr: IpAddr, zones: Vec<Zone>) {
        self.add_catalog(addr, Catalog::new(zones).expect("no duplicate zones"));
    }

    /// Replaces `zone` (by origin) on every host that serves it.
    pub(crate) fn replace_zone(&self, new: Zone) {
        let origin = LowerName::new(new.origin());
        for host in self.hosts().values_mut() {
            let zones: Vec<Zone> = host.catalog.zones().map(|z| Zone::clone(z)).collect();
            if !zones.iter().any(|z| LowerName::new(z.origin()) == origin) {
                continue;
            }
            let zones = zones.into_iter().map(|z| {
                if LowerName::new(z.origin()) == origin {
                    new.clone()
                } else {
                    z
                }
            });
            host.catalog = Catalog::new(zones).expect("no duplicate zones");
        }
    }

    fn with_host(&self, addr: IpAddr, f: impl FnOnce(&mut Host)) {
        f(self.hosts().get_mut(&addr).expect("host exists"));
    }

    /// Sets how `addr` treats UDP and TCP queries.
    pub(crate) fn set_modes(&self, addr: IpAddr, udp: Mode, tcp: Mode) {
        self.with_host(addr, |h| {
            h.udp = udp;
            h.tcp = tcp;
        });
    }

    /// Makes `addr` silent on both transports (it stays silent if it has no host).
    pub(crate) fn silence(&self, addr: IpAddr) {
        if self.hosts().contains_key(&addr) {
            self.set_modes(addr, Mode::Silent, Mode::Silent);
        }
    }

    /// Delays every reply from every host.
    pub(crate) fn set_latency_everywhere(&self, latency: Duration) {
        for host in self.hosts().values_mut() {
            host.latency = latency;
        }
    }

    /// Delays every reply from `addr`.
    pub(crate) fn set_latency(&self, addr: IpAddr, latency: Duration) {
        self.with_host(addr, |h| h.latency = latency);
    }

    /// Makes every host leave the question section out of its replies.
    pub(crate) fn strip_question_everywhere(&self) {
        for host in self.hosts().values_mut() {
            host.no_question = true;
        }
    }

    /// Loses the queries to `addr` marked true in `pattern`, repeating it over its queries.
    pub(crate) fn lose(&self, addr: IpAddr, pattern: &[bool]) {
        self.with_host(addr, |h| h.loss = pattern.to_vec());
    }

    /// Like [`FakeNet::lose`], but the sends fail at once, as a local firewall makes them.
    pub(crate) fn lose_locally(&self, addr: IpAddr, pattern: &[bool]) {
        self.with_host(addr, |h| {
            h.loss = pattern.to_vec();
            h.loss_is_local = true;
        });
    }

    /// Drops queries to `addr` while `capacity` others are in service.
    pub(crate) fn set_capacity(&self, addr: IpAddr, capacity: usize) {
        self.with_host(addr, |h| h.capacity = Some(capacity));
    }

    /// Makes `addr` answer without AA, and with RA when `ra`.
    pub(crate) fn clear_aa(&self, addr: IpAddr, ra: bool) {
        self.with_host(addr, |h| {
            h.no_aa = true;
            h.ra = ra;
        });
    }

    /// Adds (or replaces) a recursive resolver at `addr` that knows every zone of the lab (a
    /// walk's result, without the walk): it answers RD=1 queries without AA and with RA=1,
    /// and refuses RD=0 ones, as a resolver that serves no zones does.
    pub(crate) fn add_recursive(&self, addr: IpAddr) {
        let servers = LabFiles::embedded().servers().expect("lab zones are valid");
        let zones = merged(servers.iter().map(|s| &s.catalog));
        self.add_recursive_serving(addr, zones);
    }

    fn add_recursive_serving(&self, addr: IpAddr, zones: Vec<Zone>) {
        self.add_host(addr, zones);
        self.with_host(addr, |h| h.recursive = true);
    }

    /// Adds a recursive resolver at `addr` that knows every zone the hosts so far serve (the
    /// signed ones of a signed lab, say).
    pub(crate) fn add_recursive_of_hosts(&self, addr: IpAddr) {
        // In address order, so that which copy of a zone wins does not depend on hashing.
        let hosts = self.hosts();
        let mut by_addr: Vec<(&IpAddr, &Host)> = hosts.iter().collect();
        by_addr.sort_by_key(|(a, _)| **a);
        let zones = merged(by_addr.into_iter().map(|(_, h)| &h.catalog));
        drop(hosts);
        self.add_recursive_serving(addr, zones);
    }

    /// Makes the host at `addr` a recursive resolver's front for the zones it has.
    pub(crate) fn make_recursive(&self, addr: IpAddr) {
        self.with_host(addr, |h| h.recursive = true);
    }

    /// Makes the recursive resolver at `addr` fail its validation: SERVFAIL unless CD=1.
    pub(crate) fn fail_validation(&self, addr: IpAddr) {
        self.with_host(addr, |h| h.fails_validation = true);
    }

    /// Makes `addr`'s TLS certificate fail every handshake.
    pub(crate) fn bad_certificate(&self, addr: IpAddr) {
        self.with_host(addr, |h| h.bad_certificate = true);
    }

    /// Makes `addr` answer the priming query (`. NS`) without glue.
    pub(crate) fn prime_without_glue(&self, addr: IpAddr) {
        self.with_host(addr, |h| h.prime_without_glue = true);
    }

    /// Makes `addr` answer NXDOMAIN for exactly `name`.
    pub(crate) fn claim_nxdomain(&self, addr: IpAddr, name: Name) {
        self.with_host(addr, |h| h.nxdomain.push(name));
    }

    /// Adds `records` to every reply `addr` sends.
    pub(crate) fn inject(&self, addr: IpAddr, records: Vec<Record>) {
        self.with_host(addr, |h| h.inject.extend(records));
    }

    /// Every query sent so far, in order.
    pub(crate) fn sent(&self) -> Vec<Sent> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Queries sent to `addr` so far.
    pub(crate) fn count(&self, addr: IpAddr) -> usize {
        self.sent().iter().filter(|s| s.server == addr).count()
    }

    /// Queries sent anywhere so far.
    pub(crate) fn total(&self) -> usize {
        self.sent().len()
    }

    /// What becomes of a query, and after how long; a reply counts as in service until then.
    fn fate(&self, q: &UpstreamQuery, id: u16) -> (Fate, Duration, Option<InService>) {
        let mut hosts = self.hosts();
        let Some(host) = hosts.get_mut(&q.server.ip()) else {
            return (Fate::Lost, Duration::ZERO, None);
        };
        if q.tls.is_some() && host.bad_certificate {
            return (Fate::BadCertificate, Duration::ZERO, None);
        }
        let nth = host.received;
        host.received += 1;
        if !host.loss.is_empty() && host.loss[nth % host.loss.len()] {
            if host.loss_is_local {
                return (Fate::SendFailed, Duration::ZERO, None);
            }
            return (Fate::Lost, Duration::ZERO, None);
        }
        if host
            .capacity
            .is_some_and(|c| host.in_service.load(Ordering::Relaxed) >= c)
        {
            return (Fate::Lost, Duration::ZERO, None);
        }
        let mode = if q.tcp { host.tcp } else { host.udp };
        let mut m = Message::new(id, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(q.qname.clone(), q.qtype));
        m.metadata.recursion_desired = q.rd;
        let mode = if host.recursive && !q.rd {
            Mode::Rcode(ResponseCode::Refused)
        } else if host.fails_validation && !q.cd {
            Mode::Rcode(ResponseCode::ServFail)
        } else {
            mode
        };
        match mode {
            Mode::Silent => return (Fate::Lost, Duration::ZERO, None),
            Mode::Unreachable => return (Fate::Unreachable, host.latency, None),
            Mode::Rcode(rcode) => m.metadata.response_code = rcode,
            Mode::NoEdns if q.edns => m.metadata.response_code = ResponseCode::FormErr,
            Mode::Answer | Mode::Truncate | Mode::NoEdns => {
                if host.nxdomain.contains(&q.qname) {
                    m.metadata.response_code = ResponseCode::NXDomain;
                    m.metadata.authoritative = true;
                // DO=1 rides on the OPT record (tern always sets it there): a signed zone's
                // answer then carries its RRSIGs and denial proofs.
                } else if let Some(local) = host.catalog.answer_to(&q.qname, q.qtype, q.edns) {
                    m.metadata.authoritative = local.authoritative;
                    m.metadata.response_code = local.rcode;
                    m.answers = local.answers;
                    m.authorities = local.authorities;
                    m.additionals = local.additionals;
                } else {
                    m.metadata.response_code = ResponseCode::Refused;
                }
                m.answers.extend(host.inject.iter().cloned());
                m.additionals.extend(host.inject.iter().cloned());
                m.metadata.truncation = mode == Mode::Truncate;
            }
        }
        if host.no_aa || host.recursive {
            m.metadata.authoritative = false;
            m.metadata.recursion_available = host.ra || host.recursive;
        }
        if host.prime_without_glue && q.qname.is_root() && q.qtype == RecordType::NS {
            m.additionals.clear();
        }
        if host.no_question {
            m.queries.clear();
        }
        // Through the wire format, as a real reply would come; UDP answers that do not fit our
        // advertised payload size come back truncated (empty, TC=1).
        let bytes = m.to_vec().expect("fake reply encodes");
        if !q.tcp && bytes.len() > usize::from(EDNS_UDP_PAYLOAD.default) {
            m.answers.clear();
            m.authorities.clear();
            m.additionals.clear();
            m.metadata.truncation = true;
        }
        let reply =
            Message::from_vec(&m.to_vec().expect("fake reply encodes")).expect("fake reply parses");
        host.in_service.fetch_add(1, Ordering::Relaxed);
        let guard = InService(Arc::clone(&host.in_service));
        (Fate::Reply(reply), host.latency, Some(guard))
    }
}

/// Every zone of `catalogs`, each origin once.
fn merged<'a>(catalogs: impl Iterator<Item = &'a Catalog>) -> Vec<Zone> {
    let mut zones: Vec<Zone> = Vec::new();
    for catalog in catalogs {
        for z in catalog.zones() {
            if !zones.iter().any(|have| have.origin() == z.origin()) {
                zones.push(Zone::clone(z));
            }
        }
    }
    zones
}

impl Upstream for FakeNet {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        Box::pin(async move {
            self.log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Sent {
                    server: q.server.ip(),
                    qname: q.qname.clone(),
                    qtype: q.qtype,
                    tcp: q.tcp,
                    rd: q.rd,
                    cd: q.cd,
                    tls: q.tls.is_some(),
                });
            let id: u16 = rand::random();
            let (fate, delay, _in_service) = self.fate(&q, id);
            match fate {
                // The resolver stops waiting by dropping this future.
                Fate::Lost => std::future::pending().await,
                Fate::SendFailed => Err(UpstreamError::Network(
                    "Operation not permitted (os error 1)".into(),
                )),
                Fate::Unreachable => {
                    tokio::time::sleep(delay).await;
                    Err(UpstreamError::Refused)
                }
                Fate::BadCertificate => Err(UpstreamError::Unusable(
                    "TLS handshake: invalid peer certificate: NotValidForName".into(),
                )),
                Fate::Reply(reply) => {
                    tokio::time::sleep(delay).await;
                    let expected = Expected::answer(id, &q.qname, q.qtype);
                    assert!(expected.matches(&reply, true), "the client takes the reply");
                    let udp = !q.tcp && q.tls.is_none();
                    let (message, rest) = crate::outbound::read_partial(reply, &expected, udp);
                    Ok(UpstreamReply {
                        message,
                        rest,
                        rtt: delay,
                        lag: Duration::ZERO,
                        at: tokio::time::Instant::now(),
                    })
                }
            }
        })
    }
}
