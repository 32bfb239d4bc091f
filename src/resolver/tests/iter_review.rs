//! Review of the iteration core against misbehaving or unusual authorities: glue the cache
//! will not keep, DNAME without its synthesised CNAME, old servers that reject EDNS with
//! NOTIMP, and what a client gets in each case. Replies the lab's authority code would never
//! send are crafted by [`Crafted`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::Name;
use hickory_proto::rr::RecordType::A;

use super::*;
use crate::resolver::fake::zone;
use crate::resolver::upstream::{Upstream, UpstreamFuture, UpstreamQuery, UpstreamReply};

/// A crafted reply for a query, or `None` to let the fake internet answer.
type Craft = Box<dyn Fn(&UpstreamQuery) -> Option<Message> + Send + Sync>;

/// The fake internet, with some servers' replies crafted by hand.
struct Crafted {
    net: Arc<FakeNet>,
    hosts: Vec<(IpAddr, Craft)>,
    /// Queries (server, name, type) that never get a reply, as a firewall drops them.
    dropped: Vec<(IpAddr, Name, RecordType)>,
    sent: Mutex<Vec<UpstreamQuery>>,
}

impl Crafted {
    fn new(net: Arc<FakeNet>, hosts: Vec<(IpAddr, Craft)>) -> Arc<Crafted> {
        Crafted::dropping(net, hosts, Vec::new())
    }

    fn dropping(
        net: Arc<FakeNet>,
        hosts: Vec<(IpAddr, Craft)>,
        dropped: Vec<(IpAddr, Name, RecordType)>,
    ) -> Arc<Crafted> {
        Arc::new(Crafted {
            net,
            hosts,
            dropped,
            sent: Mutex::new(Vec::new()),
        })
    }

    fn sent_to(&self, addr: IpAddr) -> Vec<UpstreamQuery> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter()
            .filter(|q| q.server.ip() == addr)
            .cloned()
            .collect()
    }
}

/// A reply header for `q`, the question repeated.
fn reply_to(q: &UpstreamQuery, rcode: ResponseCode, aa: bool) -> Message {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(q.qname.clone(), q.qtype));
    m.metadata.response_code = rcode;
    m.metadata.authoritative = aa;
    m
}

impl Upstream for Crafted {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(q.clone());
        let crafted = self
            .hosts
            .iter()
            .find(|(a, _)| *a == q.server.ip())
            .and_then(|(_, craft)| craft(&q));
        let dropped = self
            .dropped
            .iter()
            .any(|(a, n, t)| *a == q.server.ip() && *n == q.qname && *t == q.qtype);
        Box::pin(async move {
            if dropped {
                return std::future::pending().await;
            }
            let Some(m) = crafted else {
                return self.net.query(q).await;
            };
            // Through the wire format, as a real reply would come.
            let bytes = m.to_vec().expect("crafted reply encodes");
            let message = Message::from_vec(&bytes).expect("crafted reply parses");
            Ok(UpstreamReply {
                message,
                rest: None,
                rtt: Duration::from_millis(1),
                lag: Duration::ZERO,
                at: tokio::time::Instant::now(),
            })
        })
    }
}

/// The lab with `extra` appended to the `test.` zone.
fn lab_with_test_zone(extra: &str) -> Arc<FakeNet> {
    let net = FakeNet::lab();
    let mut text = FakeNet::lab_file("test.zone");
    text.push_str(extra);
    net.replace_zone(zone("test.", &text));
    net
}

/// A delegation whose NS set and glue have TTL 0 (RFC 2181 §8 allows it: use once, do not
/// cache) is still usable for the walk that received it: Unbound builds the delegation point
/// from the referral message itself. tern read the glue back from the cache, which keeps
/// nothing with TTL 0, so the in-bailiwick server looked glueless, and its address lookup
/// led back to the same referral: SERVFAIL.
#[tokio::test(start_paused = true)]
async fn glue_with_ttl_zero_is_used_by_the_walk_that_got_it() {
    let net = lab_with_test_zone("\nzero 0 IN NS ns1.zero.test.\nns1.zero 0 IN A 127.85.0.1\n");
    net.add_host(
        ip("127.85.0.1"),
        vec![zone(
            "zero.test.",
            "$TTL 300\n@ IN SOA ns1 h 1 2 3 4 300\n@ IN NS ns1\nns1 IN A 127.85.0.1\nwww IN A 127.85.0.100\n",
        )],
    );
    let r = resolver(&net);
    let res = expect(&r, "www.zero.test.", A, ResponseCode::NoError).await;
    assert_eq!(lines(&res.answers), ["www.zero.test. 300 A 127.85.0.100"]);
}

const DN_SERVER: &str = "127.85.0.2";

/// `dn.test.` delegated to [`DN_SERVER`], whose replies `craft` makes; for names below the
/// apex, `below` answers, for the apex itself an authoritative NODATA.
fn dname_lab(
    below: impl Fn(&UpstreamQuery) -> Message + Send + Sync + 'static,
) -> (Arc<Crafted>, Arc<Resolver>) {
    let net = lab_with_test_zone(&format!(
        "\ndn 3600 IN NS ns1.dn.test.\nns1.dn 3600 IN A {DN_SERVER}\n"
    ));
    let craft: Craft = Box::new(move |q| {
        if q.qname == name("dn.test.") {
            return Some(reply_to(q, ResponseCode::NoError, true));
        }
        Some(below(q))
    });
    let up = Crafted::new(net, vec![(ip(DN_SERVER), craft)]);
    let r = resolver_on(
        Arc::clone(&up) as Arc<dyn Upstream>,
        ResolverConfig::default(),
    );
    (up, r)
}

fn dname_record(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 300, crate::rr::dname::rdata(&name(target)))
}

/// RFC 6672 §2.2 / §3: a name below a DNAME's owner is redirected. An older server may send
/// the DNAME without the CNAME it synthesises; Unbound's scrubber (`scrub_normalize`)
/// synthesises it then and follows it. tern read the reply as an empty NOERROR (NODATA):
/// the client got no answer for a name that has one.
#[tokio::test(start_paused = true)]
async fn a_dname_without_its_cname_is_followed() {
    let (_up, r) = dname_lab(|q| {
        let mut m = reply_to(q, ResponseCode::NoError, true);
        m.add_answer(dname_record("dn.test.", "alpha.test."));
        m
    });
    let res = expect(&r, "www.dn.test.", A, ResponseCode::NoError).await;
    let got = lines(&res.answers);
    assert!(
        got.iter()
            .any(|l| l.starts_with("www.alpha.test.") && l.contains(" A ")),
        "the redirected name's address: {got:?}"
    );
    assert!(
        got.iter()
            .any(|l| l.starts_with("www.dn.test.") && l.contains("CNAME www.alpha.test.")),
        "the synthesised CNAME: {got:?}"
    );
}

/// A CNAME beside a DNAME that is not the one the DNAME synthesises for the name asked
/// (RFC 6672 §2.2) is not believed: Unbound's scrubber synthesises the right one in its
/// place. tern followed the server's CNAME wherever it pointed.
#[tokio::test(start_paused = true)]
async fn a_cname_that_does_not_follow_from_its_dname_is_replaced() {
    let (_up, r) = dname_lab(|q| {
        let mut m = reply_to(q, ResponseCode::NoError, true);
        m.add_answer(dname_record("dn.test.", "alpha.test."));
        m.add_answer(Record::from_rdata(
            q.qname.clone(),
            300,
            hickory_proto::rr::RData::CNAME(hickory_proto::rr::rdata::CNAME(name(
                "nope.alpha.test.",
            ))),
        ));
        m
    });
    let res = expect(&r, "www.dn.test.", A, ResponseCode::NoError).await;
    let got = lines(&res.answers);
    assert!(
        got.iter()
            .any(|l| l.starts_with("www.alpha.test.") && l.contains(" A ")),
        "the DNAME's redirection, not the stray CNAME's: {got:?}"
    );
}

/// A server that sends the DNAME without the YXDOMAIN its substitution calls for (RFC 6672
/// §2.2): the substitution is ours then, and so is the YXDOMAIN, with the DNAME, as BIND's
/// answer from its cached DNAME is. tern took the reply for a failure, asked every server
/// and answered SERVFAIL.
#[tokio::test(start_paused = true)]
async fn a_dname_whose_substitution_overflows_is_answered_yxdomain() {
    let long = |c: char| -> String { std::iter::repeat_n(c, 63).collect() };
    let target = format!("{}.{}.alpha.test.", long('b'), long('b'));
    let owner_target = target.clone();
    let (_up, r) = dname_lab(move |q| {
        let mut m = reply_to(q, ResponseCode::NoError, true);
        m.add_answer(dname_record("dn.test.", &owner_target));
        m
    });
    let qname = format!("{}.{}.dn.test.", long('a'), long('a'));
    let res = expect(&r, &qname, A, ResponseCode::YXDomain).await;
    assert_eq!(
        super::yxdomain_review::shown(&res.answers),
        [format!("dn.test. 300 DNAME {target}")]
    );
}

/// A pre-EDNS server may answer a query with an OPT record NOTIMP rather than FORMERR;
/// Unbound (`serviced_udp_callback`) retries without EDNS on either (RFC 6891 §7). tern
/// took NOTIMP for lameness, so a zone served only by such servers failed.
#[tokio::test(start_paused = true)]
async fn notimp_to_an_edns_query_is_asked_again_without_edns() {
    let net = FakeNet::lab();
    let notimp = || -> Craft {
        Box::new(|q: &UpstreamQuery| q.edns.then(|| reply_to(q, ResponseCode::NotImp, false)))
    };
    let up = Crafted::new(
        net,
        vec![(ip("127.0.0.41"), notimp()), (ip("127.0.0.42"), notimp())],
    );
    let r = resolver_on(
        Arc::clone(&up) as Arc<dyn Upstream>,
        ResolverConfig::default(),
    );
    expect(&r, "www.alpha.test.", A, ResponseCode::NoError).await;
    assert!(
        up.sent_to(ip("127.0.0.41"))
            .iter()
            .chain(up.sent_to(ip("127.0.0.42")).iter())
            .any(|q| !q.edns),
        "asked without EDNS"
    );
}

/// A glueless name server whose name has only an IPv6 address: its AAAA lookup finds it, as
/// Unbound (do-ip6, the default) looks up both address types of a glueless server. tern
/// looked up only A, found none, and the zone had no reachable server.
#[tokio::test(start_paused = true)]
async fn a_glueless_server_with_only_an_ipv6_address_is_reached() {
    let net = lab_with_test_zone(
        "\nv6 3600 IN NS ns1.v6ns.test.\n\
         v6ns 3600 IN NS ns.v6ns.test.\nns.v6ns 3600 IN A 127.85.0.4\n",
    );
    net.add_host(
        ip("127.85.0.4"),
        vec![zone(
            "v6ns.test.",
            "$TTL 300\n@ IN SOA ns h 1 2 3 4 300\n@ IN NS ns\nns IN A 127.85.0.4\n\
             ns1 IN AAAA fd00::85:5\n",
        )],
    );
    net.add_host(
        ip("fd00::85:5"),
        vec![zone(
            "v6.test.",
            "$TTL 300\n@ IN SOA ns1.v6ns.test. h 1 2 3 4 300\n@ IN NS ns1.v6ns.test.\n\
             www IN A 127.85.0.105\n",
        )],
    );
    let r = resolver(&net);
    let res = expect(&r, "www.v6.test.", A, ResponseCode::NoError).await;
    assert_eq!(lines(&res.answers), ["www.v6.test. 300 A 127.85.0.105"]);
}

/// RFC 6672 §2.2: when a DNAME substitution would exceed 255 octets, the server answers
/// YXDOMAIN with the DNAME; Unbound (`processQueryResponse`) takes that as the answer and
/// passes YXDOMAIN to its client. tern took the RCODE for lameness, tried every server, and
/// answered SERVFAIL (EDE 22, "no reachable authority").
#[tokio::test(start_paused = true)]
async fn yxdomain_from_a_dname_overflow_reaches_the_client() {
    let (_up, r) = dname_lab(|q| {
        let mut m = reply_to(q, ResponseCode::YXDomain, true);
        m.add_answer(dname_record("dn.test.", "alpha.test."));
        m
    });
    let res = resolve(&r, "www.dn.test.", A).await;
    assert_eq!(
        res.map(|r| r.rcode),
        Ok(ResponseCode::YXDomain),
        "the server's verdict, not a failure"
    );
}

/// RFC 9156 §2.3 (relaxed): some servers or middleboxes drop the minimised query (type A at
/// an empty non-terminal here) yet answer the full one. Unbound counts the minimised query's
/// timeouts and, after `MAX_MINIMISE_TIMEOUT_COUNT` (3), sends the full name instead. tern
/// failed the whole resolution when the probe got no answer.
#[tokio::test(start_paused = true)]
async fn a_minimised_query_that_is_never_answered_falls_back_to_the_full_name() {
    let net = FakeNet::lab();
    let mut text = FakeNet::lab_file("alpha.test.zone");
    text.push_str("\na.ent IN A 127.85.0.9\n");
    net.replace_zone(zone("alpha.test.", &text));
    let dropped = ["127.0.0.41", "127.0.0.42"]
        .into_iter()
        .map(|a| (ip(a), name("ent.alpha.test."), A))
        .collect();
    let up = Crafted::dropping(net, Vec::new(), dropped);
    let r = resolver_on(
        Arc::clone(&up) as Arc<dyn Upstream>,
        ResolverConfig::default(),
    );
    let res = expect(&r, "a.ent.alpha.test.", A, ResponseCode::NoError).await;
    assert_eq!(lines(&res.answers), ["a.ent.alpha.test. 3600 A 127.85.0.9"]);
}
