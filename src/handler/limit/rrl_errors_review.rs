//! Review: README "Rate limits" promises that `[rrl]` accounts every UDP answer of a server
//! with `no_recursion`, errors included (NSD runs every processed query's answer through RRL).
//! Replies the edge words before the query service (NOTIMP for an opcode we do not serve,
//! FORMERR, BADCOOKIE) never reach `limit_response`, so a spoofed flood of them is answered
//! in full.

use std::net::{IpAddr, SocketAddr};

use super::tests::authoritative;
use crate::handler::Transport;
use crate::handler::test_query::query;

#[tokio::test(start_paused = true)]
#[ignore = "bug: edge-worded error replies (NOTIMP, FORMERR, BADCOOKIE) bypass RRL"]
async fn a_flood_of_notimp_replies_is_held_to_rrl() {
    let h = authoritative(1, 0);
    let mut q = query("www.alpha.test.", false);
    // OPCODE 2 (STATUS): NOTIMP.
    q[2] = (q[2] & 0x87) | (2 << 3);
    let victim = SocketAddr::new("192.0.2.1".parse::<IpAddr>().expect("ip"), 40_000);
    let mut answered = 0;
    for _ in 0..10 {
        if h.handle_bytes(&q, victim, Transport::Udp).await.is_some() {
            answered += 1;
        }
    }
    assert!(answered <= 2, "{answered} of 10 answered at 1/s, slip 0");
}
