//! Review of the iteration core against misbehaving or unusual authorities: glue the cache
//! will not keep, DNAME without its synthesised CNAME, old servers that reject EDNS with
//! NOTIMP, and what a client gets in each case. Replies the lab's authority code would never
//! send are crafted by [`Crafted`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
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
    sent: Mutex<Vec<UpstreamQuery>>,
}

impl Crafted {
    fn new(net: Arc<FakeNet>, hosts: Vec<(IpAddr, Craft)>) -> Arc<Crafted> {
        Arc::new(Crafted {
            net,
            hosts,
            sent: Mutex::new(Vec::new()),
        })
    }

    fn sent_to(&self, addr: IpAddr) -> Vec<UpstreamQuery> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().filter(|q| q.server.ip() == addr).cloned().collect()
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
        Box::pin(async move {
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
    let net = lab_with_test_zone(
        "\nzero 0 IN NS ns1.zero.test.\nns1.zero 0 IN A 127.85.0.1\n",
    );
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
