//! Review: a secondary that transferred over a dual-stack listener (`[::]:53` over TCP, where
//! tokio's listener takes IPv4 too) is recorded as `::ffff:a.b.c.d`; it is the same secondary as
//! the NOTIFY target `a.b.c.d:53`.

use std::net::SocketAddr;

use tokio::time::Instant;

use super::secondaries;
use crate::handler::transferred::LastTransfer;

#[tokio::test(start_paused = true)]
async fn a_mapped_transfer_client_is_its_ipv4_notify_target() {
    let transfers = vec![LastTransfer {
        client: "::ffff:127.247.0.2".parse().expect("ip"),
        at: Instant::now(),
        serial: 5,
        kind: "AXFR",
    }];
    let targets: Vec<SocketAddr> = vec!["127.247.0.2:53".parse().expect("addr")];
    let v = secondaries(transfers, &targets, Some(5), Instant::now());
    let seen: Vec<_> = v.iter().map(|s| (s.address.as_str(), s.notified)).collect();
    assert_eq!(seen, [("127.247.0.2", true)], "one secondary, notified");
}
