//! NSD's own server cookies (RFC 9018 format, `answer-cookie: yes`): tern learns them and
//! sends them back, and NSD finds them valid — its response rate limiting exempts a query
//! with a valid server cookie, and slips (TC=1) the rest.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

use super::scripted::cookie_of;
use crate::support::nsd::Nsd;
use crate::support::{TempDir, addr, name};

/// NSD's subnet in this module: 127.43.0.x.
const SUBNET: u8 = 43;

const ZONE: &str = "$TTL 300
cookie.test. IN SOA ns.cookie.test. admin.cookie.test. 1 3600 600 86400 300
cookie.test. IN NS ns.cookie.test.
ns.cookie.test. IN A 127.43.0.1
www.cookie.test. IN A 192.0.2.43
";

/// What passed through the relay: each query and NSD's reply.
type Passed = Arc<Mutex<Vec<(Message, Message)>>>;

/// A UDP relay on `listen` to `server`, one datagram at a time, keeping what it passes: the
/// queries exactly as tern sent them.
async fn relay(listen: SocketAddr, server: SocketAddr) -> (SocketAddr, Passed) {
    let sock = UdpSocket::bind(listen).await.expect("bind relay");
    let at = sock.local_addr().expect("addr");
    let passed: Passed = Arc::default();
    let log = Arc::clone(&passed);
    tokio::spawn(async move {
        let mut buf = [0; 4096];
        let mut back = [0; 4096];
        loop {
            let Ok((len, client)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let out = UdpSocket::bind((listen.ip(), 0)).await.expect("bind");
            let _ = out.send_to(&buf[..len], server).await;
            let wait = tokio::time::timeout(Duration::from_secs(2), out.recv(&mut back));
            let Ok(Ok(n)) = wait.await else { continue };
            let _ = sock.send_to(&back[..n], client).await;
            if let (Ok(q), Ok(r)) = (
                Message::from_vec(&buf[..len]),
                Message::from_vec(&back[..n]),
            ) {
                log.lock().expect("log").push((q, r));
            }
        }
    });
    (at, passed)
}

/// `count` queries for www.cookie.test. A through `upstream`, one after the other; how many
/// came back truncated (NSD's rate-limit slips).
async fn ask(upstream: &tern::NetUpstream, server: SocketAddr, count: usize) -> usize {
    let mut slipped = 0;
    for _ in 0..count {
        let q = tern::UpstreamQuery {
            server,
            qname: name("www.cookie.test."),
            qtype: RecordType::A,
            tcp: false,
            edns: true,
            rd: false,
            cd: false,
            tls: None,
        };
        let reply =
            tokio::time::timeout(Duration::from_secs(5), tern::Upstream::query(upstream, q))
                .await
                .expect("NSD answers")
                .expect("no transport error");
        if reply.message.metadata.truncation {
            slipped += 1;
        } else {
            assert_eq!(reply.message.answers.len(), 1, "{:?}", reply.message);
        }
    }
    slipped
}

#[tokio::test]
async fn tern_learns_nsds_cookie_and_nsd_finds_it_valid() {
    let state = TempDir::new("cookies-out-nsd");
    std::fs::write(state.0.join("cookie.test.zone"), ZONE).expect("zone file");
    let nsd_addr = SocketAddr::new(addr(SUBNET, 1), 53);
    // A later `server:` clause adds to the first: cookies on, and a rate limit that a run of
    // queries without a valid cookie exceeds at once, each limited one answered with TC=1.
    let sections = "server:\n  answer-cookie: yes\n  rrl-ratelimit: 5\n  rrl-slip: 1\n  \
                    rrl-whitelist-ratelimit: 5\n\
                    zone:\n  name: \"cookie.test.\"\n  zonefile: \"cookie.test.zone\"\n";
    let mut nsd = Nsd::start_with(&state.0, nsd_addr.ip(), sections);
    nsd.wait_ready(nsd_addr, "cookie.test.").await;
    let (relay, passed) = relay(SocketAddr::new(addr(SUBNET, 2), 53), nsd_addr).await;

    let upstream = tern::NetUpstream::default();
    assert_eq!(ask(&upstream, relay, 1).await, 0);
    let learned = {
        let log = passed.lock().expect("log");
        let (query, reply) = &log[0];
        let client = cookie_of(query).expect("tern sends a client cookie");
        assert_eq!(client.len(), 8);
        let echoed = cookie_of(reply).expect("NSD answers with a cookie");
        assert_eq!(
            echoed.len(),
            24,
            "RFC 9018: client cookie and a 16-octet server cookie"
        );
        assert_eq!(&echoed[..8], &client[..], "our client cookie echoed");
        assert_eq!(echoed[8], 1, "RFC 9018 version 1");
        echoed
    };
    assert_eq!(
        upstream.server_cookie(relay),
        Some(learned[8..].to_vec()),
        "tern keeps NSD's cookie"
    );

    // With the cookie: every query carries it and NSD's rate limit lets every one through.
    let slipped = ask(&upstream, relay, 30).await;
    {
        let log = passed.lock().expect("log");
        let (query, _) = &log[1];
        assert_eq!(
            cookie_of(query),
            Some(learned.clone()),
            "sent back as it came"
        );
        assert!(
            log[1..]
                .iter()
                .all(|(q, _)| cookie_of(q).is_some_and(|c| c.len() == 24))
        );
    }
    assert_eq!(
        slipped, 0,
        "NSD takes tern's cookie as valid: exempt from its rate limit"
    );
    assert_eq!(upstream.discarded_cookies(), 0);

    // The control: the same run without cookies is rate limited.
    let plain = tern::NetUpstream::new(false);
    let slipped = ask(&plain, relay, 30).await;
    assert!(
        slipped > 0,
        "without a cookie NSD's rate limit applies: {}",
        nsd.log()
    );
}
