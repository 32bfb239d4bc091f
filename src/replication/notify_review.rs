//! Review probes of NOTIFY out: a zone with a `notify_key` signs what it sends (RFC 8945), so
//! a secondary that takes only signed NOTIFYs (BIND `allow-notify { key K; }`, a Knot acl with
//! a key) hears of each serial at once instead of at its REFRESH timer; without one, NOTIFY
//! stays unsigned.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::Name;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::notify::Notifier;
use crate::acl::TransferAcl;
use crate::authority::{Catalog, Zone};
use crate::config::PrimaryZone;
use crate::metrics::Metrics;
use crate::server::shutdown;
use crate::tsig::{Key, Keyring, TsigAlgorithm, Verified, now_unix, sign_response, verify};

const ZONE: &str = "$ORIGIN n.test.\n$TTL 300\n@ SOA ns h 7 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
/// Bounds each wait for the network; the exchanges themselves are immediate on loopback.
const WAIT: Duration = Duration::from_secs(10);

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn key(secret: &[u8]) -> Key {
    Key::new(
        name("notify-key."),
        TsigAlgorithm::HmacSha256,
        secret.to_vec(),
    )
    .expect("key")
}

/// What the fake secondary saw of one NOTIFY: its TSIG, checked with the crate's verifier
/// against the secondary's own copy of the key.
#[derive(Debug)]
struct Seen {
    op_code: OpCode,
    signed_by: Option<Name>,
    unsigned: bool,
}

/// A secondary on `addr` that checks each request's TSIG against `keyring`, reports it, and
/// answers NOERROR (signed when the request was, as RFC 8945 §5.3 wants).
async fn secondary(addr: SocketAddr, keyring: Keyring) -> (SocketAddr, mpsc::Receiver<Seen>) {
    let socket = UdpSocket::bind(addr).await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut buf = vec![0; 65_535];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let verified = verify(&buf[..len], &request, &keyring, now_unix());
            let mut ack = Message::response(request.metadata.id, request.metadata.op_code);
            ack.queries = request.queries.clone();
            ack.metadata.authoritative = true;
            let Ok(bytes) = ack.to_vec() else { continue };
            let bytes = match &verified {
                Verified::Unsigned => bytes,
                _ => sign_response(bytes, &verified, now_unix()).expect("sign"),
            };
            let seen = Seen {
                op_code: request.metadata.op_code,
                signed_by: verified.key().cloned(),
                unsigned: matches!(verified, Verified::Unsigned),
            };
            let _ = tx.send(seen).await;
            let _ = socket.send_to(&bytes, from).await;
        }
    });
    (addr, rx)
}

/// Starts a notifier for `n.test.` towards `target`, publishes the zone once, and returns
/// what the secondary saw of the first NOTIFY, and whether the notifier took the answer.
async fn one_notify(
    target: SocketAddr,
    mut seen: mpsc::Receiver<Seen>,
    notify_key: Option<Key>,
) -> (Seen, bool) {
    let metrics = Arc::new(Metrics::default());
    let (trigger, stop) = shutdown::channel();
    let zone = PrimaryZone {
        origin: name("n.test."),
        allow_transfer: TransferAcl::default(),
        notify: vec![target],
        notify_key,
    };
    let notifier = Notifier::start(&[zone], None, Arc::clone(&metrics), stop);
    let served = Zone::from_text(ZONE, Path::new("n.zone"), None).expect("zone");
    notifier.published(&Catalog::new([served]).expect("catalog"));
    let first = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("a NOTIFY within the wait")
        .expect("the secondary runs");
    let acknowledged = tokio::time::timeout(WAIT, async {
        while metrics.notifies_sent.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .is_ok();
    trigger.fire();
    (first, acknowledged)
}

#[tokio::test]
async fn a_zone_with_a_notify_key_signs_its_notify() {
    let shared = key(b"the notify secret");
    let (target, seen) = secondary(
        "127.105.0.1:0".parse().expect("addr"),
        Keyring::new([shared.clone()]),
    )
    .await;
    let (first, acknowledged) = one_notify(target, seen, Some(shared)).await;
    assert_eq!(first.op_code, OpCode::Notify);
    assert_eq!(first.signed_by, Some(name("notify-key.")), "{first:?}");
    assert!(acknowledged, "the signed answer is taken");
}

#[tokio::test]
async fn a_zone_without_one_sends_unsigned() {
    let (target, seen) = secondary(
        "127.105.0.2:0".parse().expect("addr"),
        Keyring::new([key(b"the notify secret")]),
    )
    .await;
    let (first, acknowledged) = one_notify(target, seen, None).await;
    assert_eq!(first.op_code, OpCode::Notify);
    assert!(first.unsigned, "{first:?}");
    assert!(acknowledged);
}
