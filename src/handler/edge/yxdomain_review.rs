//! A resolver's YXDOMAIN (RFC 6672 §2.2: a DNAME's substitution too long for a name) as a
//! client sees it: the RCODE and the DNAME, and the answer kept by the hit path for the
//! DNAME's TTL, capped as a negative answer's, as Unbound's message cache keeps it. The
//! resolver keeps no RRset for it: without the hit path every client would cost a walk.

use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::time::advance;

use super::prefetch_tests::recursive;
use crate::cache::CachePolicy;
use crate::handler::Transport;
use crate::handler::test_query::query;
use crate::resolver::fake::{FakeNet, ip, zone};

#[tokio::test(start_paused = true)]
async fn a_yxdomain_is_answered_and_kept_by_the_hit_path() {
    let label: String = std::iter::repeat_n('b', 63).collect();
    let mut text = FakeNet::lab_file("test.zone");
    text.push_str(&format!("\nd 86400 IN DNAME {label}.{label}.test.\n"));
    let net = FakeNet::lab();
    net.replace_zone(zone("test.", &text));
    let handler = recursive(&net, CachePolicy::default());
    let qname = format!(
        "{}.{}.d.test.",
        label.replace('b', "a"),
        label.replace('b', "a")
    );
    let q = query(&qname, true);
    let client = "127.0.0.1:40000".parse().expect("address");
    let first = handler
        .handle_bytes(&q, client, Transport::Udp)
        .await
        .expect("answered");
    let m = Message::from_vec(&first).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::YXDomain);
    assert_eq!(m.answers.len(), 1, "{m:?}");
    assert_eq!(m.answers[0].record_type(), RecordType::DNAME);
    assert_eq!(m.answers[0].ttl, 3600, "capped at negative_max_ttl");

    let asked = || net.count(ip("127.0.0.21")) + net.count(ip("127.0.0.22"));
    let before = asked();
    advance(Duration::from_secs(3000)).await;
    let mut out = Vec::new();
    assert!(handler.answer_fast(&q, client, &mut out), "a hit");
    let hit = Message::from_vec(&out).expect("parses");
    assert_eq!(hit.metadata.response_code, ResponseCode::YXDomain);
    assert_eq!(hit.answers[0].ttl, 600);
    assert_eq!(asked(), before, "no query upstream");
    advance(Duration::from_secs(600)).await;
    assert!(
        !handler.answer_fast(&q, client, &mut out),
        "gone with its TTL"
    );
}
