//! Review of forward zones against README's "Forward zones" promises: forwarders told apart by
//! port, a forwarder's upward referral, and `forward_first` behind silent forwarders.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::RecordType::A;
use hickory_proto::rr::rdata::{A as ARecord, NS};
use hickory_proto::rr::{RData, Record};

use super::*;
use crate::outbound::Expected;
use crate::resolver::Forward;
use crate::resolver::upstream::{
    Upstream, UpstreamError, UpstreamFuture, UpstreamQuery, UpstreamReply,
};

const FWD_1: &str = "127.9.0.1";
const FWD_2: &str = "127.9.0.2";

fn forward_to(zone: &str, servers: &[SocketAddr], first: bool) -> Forward {
    Forward {
        zone: name(zone),
        servers: servers.to_vec(),
        first,
        tls: None,
        no_cache: false,
    }
}

/// What a scripted server does with a query.
#[derive(Clone, Copy)]
enum Script {
    /// Nobody listens on this port.
    Refused,
    /// Asks this address of the fake internet instead.
    Fake(&'static str),
    /// A server that does not recurse: an upward referral to the root, no AA, RA=0.
    UpwardReferral,
}

/// An upstream that tells servers apart by address and port (the fake internet knows only
/// addresses), and logs every server asked.
struct Scripted {
    net: Arc<FakeNet>,
    scripts: Vec<(SocketAddr, Script)>,
    asked: Mutex<Vec<SocketAddr>>,
}

impl Scripted {
    fn new(net: &Arc<FakeNet>, scripts: Vec<(SocketAddr, Script)>) -> Arc<Scripted> {
        Arc::new(Scripted {
            net: Arc::clone(net),
            scripts,
            asked: Mutex::new(Vec::new()),
        })
    }

    fn asked(&self) -> Vec<SocketAddr> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Upstream for Scripted {
    fn query(&self, mut q: UpstreamQuery) -> UpstreamFuture<'_> {
        Box::pin(async move {
            self.asked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(q.server);
            let script = self
                .scripts
                .iter()
                .find(|(s, _)| *s == q.server)
                .map(|(_, script)| *script);
            match script {
                Some(Script::Refused) => Err(UpstreamError::Refused),
                Some(Script::Fake(addr)) => {
                    q.server = SocketAddr::new(ip(addr), 53);
                    self.net.query(q).await
                }
                Some(Script::UpwardReferral) => Ok(upward_referral(&q)),
                // Anything else (the walk) goes to the fake internet as it is.
                None => self.net.query(q).await,
            }
        })
    }
}

/// A non-recursive server's reply to a query it will not recurse for: the root's NS set and
/// its address, without AA or RA (what BIND's upward referrals look like).
fn upward_referral(q: &UpstreamQuery) -> UpstreamReply {
    let id = 4242;
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(q.qname.clone(), q.qtype));
    m.metadata.recursion_desired = q.rd;
    m.metadata.recursion_available = false;
    m.metadata.authoritative = false;
    let root_ns = name("a.root-servers.test.");
    let address = RData::A(ARecord::new(127, 0, 0, 1));
    m.additionals
        .push(Record::from_rdata(root_ns.clone(), 518400, address));
    let ns = RData::NS(NS(root_ns));
    m.authorities
        .push(Record::from_rdata(name("."), 518400, ns));
    let expected = Expected::answer(id, &q.qname, q.qtype);
    let (message, rest) = crate::outbound::read_partial(m, &expected, false);
    UpstreamReply {
        message,
        rest,
        rtt: std::time::Duration::from_millis(1),
        lag: std::time::Duration::ZERO,
        at: Instant::now(),
    }
}

fn with_upstream(upstream: &Arc<Scripted>, forwards: Vec<Forward>) -> Arc<Resolver> {
    resolver_on(
        Arc::clone(upstream) as Arc<dyn crate::resolver::Upstream>,
        ResolverConfig {
            forwards,
            ..ResolverConfig::default()
        },
    )
}

/// Two forwarders on one host, on different ports (two resolver instances, or a local cache
/// beside the main one): each is a server of its own, asked on its own port.
#[tokio::test(start_paused = true)]
async fn forwarders_on_one_address_but_different_ports_are_each_asked_on_their_own_port() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_2));
    let host: IpAddr = ip(FWD_1);
    let dead = SocketAddr::new(host, 5301);
    let live = SocketAddr::new(host, 5302);
    let upstream = Scripted::new(
        &net,
        vec![(dead, Script::Refused), (live, Script::Fake(FWD_2))],
    );
    let r = with_upstream(
        &upstream,
        vec![forward_to("alpha.test.", &[dead, live], false)],
    );
    let res = resolve(&r, "www.alpha.test.", A).await;
    let asked = upstream.asked();
    assert!(
        asked.contains(&live),
        "the second port was never asked: {asked:?}"
    );
    let res = res.unwrap_or_else(|e| panic!("the live forwarder answers: {e}; asked {asked:?}"));
    assert_eq!(res.rcode, NoError);
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
}

/// README: "A forwarder that answers with a referral (it did not recurse) is treated as lame."
/// Forwarding everything ("."), a non-recursive server's upward referral names the root, the
/// forward zone's own apex: it must not be read as NODATA and cached as the answer.
#[tokio::test(start_paused = true)]
async fn an_upward_referral_from_a_root_forwarder_is_lame_not_nodata() {
    let net = FakeNet::lab();
    let fwd = SocketAddr::new(ip(FWD_1), 53);
    let upstream = Scripted::new(&net, vec![(fwd, Script::UpwardReferral)]);
    let r = with_upstream(&upstream, vec![forward_to(".", &[fwd], false)]);
    let res = resolve(&r, "www.alpha.test.", A).await;
    assert!(
        !matches!(&res, Ok(res) if res.rcode == NoError && res.answers.is_empty()),
        "a referral taken for NODATA: {res:?}"
    );
    assert!(res.is_err(), "the only forwarder is lame: {res:?}");
}

/// With two root forwarders, the one that does not recurse is left for the one that does.
#[tokio::test(start_paused = true)]
async fn an_upward_referral_from_a_root_forwarder_fails_over_to_the_next() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_2));
    let bad = SocketAddr::new(ip(FWD_1), 53);
    let good = SocketAddr::new(ip("127.9.0.3"), 53);
    let upstream = Scripted::new(
        &net,
        vec![(bad, Script::UpwardReferral), (good, Script::Fake(FWD_2))],
    );
    let r = with_upstream(&upstream, vec![forward_to(".", &[bad, good], false)]);
    // Whichever is asked first, the answer is the recursing one's.
    for _ in 0..4 {
        let res = expect(&r, "www.alpha.test.", A, NoError).await;
        assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    }
}

/// README: "`forward_first = true` falls back to iteration when every forwarder of the zone
/// fails"; a silent forwarder is a failing one ("a silent or SERVFAILing forwarder is left for
/// the next"). The first question after the forwarder went silent must be walked too, not
/// spend the whole budget on the forwarder and fail.
#[tokio::test(start_paused = true)]
async fn forward_first_walks_when_the_only_forwarder_is_silent() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.silence(ip(FWD_1));
    let fwd = SocketAddr::new(ip(FWD_1), 53);
    let upstream = Scripted::new(&net, Vec::new());
    let r = with_upstream(&upstream, vec![forward_to("alpha.test.", &[fwd], true)]);
    let res = resolve(&r, "www.alpha.test.", A).await;
    let res = res.unwrap_or_else(|e| panic!("walked after the forwarder failed: {e}"));
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
}
