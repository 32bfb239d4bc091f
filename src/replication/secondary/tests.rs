//! The secondary's timers on tokio's paused clock, against a primary that never answers, and
//! who may NOTIFY.

use std::sync::Mutex;

use hickory_proto::rr::rdata::SOA;
use tokio::net::UdpSocket;

use super::*;
use crate::server::shutdown;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

/// Our copy: an SOA with REFRESH 5, RETRY 2, EXPIRE 10.
fn copy() -> Vec<Record> {
    let soa = SOA::new(
        name("ns1.cluster.test."),
        name("hostmaster.cluster.test."),
        7,
        5,
        2,
        10,
        30,
    );
    vec![Record::from_rdata(
        name("cluster.test."),
        30,
        RData::SOA(soa),
    )]
}

/// A writer holding `copy()` that records every availability change, with its time.
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) availability: Mutex<Vec<(Instant, bool)>>,
}

impl Secondaries for Recorder {
    fn transfer_in(&self, zone: &Name, _records: Vec<Record>) -> Result<u32, StoreError> {
        Err(StoreError::NotSecondary(zone.clone()))
    }

    fn set_available(&self, _zone: &Name, available: bool) -> Result<(), StoreError> {
        self.availability
            .lock()
            .expect("lock")
            .push((Instant::now(), available));
        Ok(())
    }

    fn records(&self, _zone: &Name) -> Option<Vec<Record>> {
        Some(copy())
    }
}

pub(super) fn zone(primary: std::net::SocketAddr, file: &Path) -> SecondaryZone {
    SecondaryZone {
        origin: name("cluster.test."),
        primaries: vec![primary],
        file: file.to_path_buf(),
        journal: None,
        key: None,
        allow_transfer: crate::acl::TransferAcl::default(),
        notify: Vec::new(),
        notify_key: None,
    }
}

#[tokio::test(start_paused = true)]
async fn without_a_primary_the_copy_is_served_until_expire_then_servfail() {
    // A primary that takes every datagram and answers none: each SOA query times out.
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let primary = silent.local_addr().expect("addr");
    let dir = std::env::temp_dir().join(format!("tern-secondary-expire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("cluster.test.zone");
    std::fs::write(&file, "; a copy written just now\n").expect("copy");

    let writer = Arc::new(Recorder::default());
    let metrics = Arc::new(Metrics::default());
    let kept = Arc::new(Kept {
        config: zone(primary, &file),
        source: None,
        wake: Notify::new(),
        status: StatusCell::default(),
    });
    let (trigger, signal) = shutdown::channel();
    let start = Instant::now();
    let task = tokio::spawn(keep(
        Arc::clone(&kept),
        Arc::clone(&writer) as Arc<dyn Secondaries>,
        Arc::clone(&metrics),
        signal,
    ));
    // Before EXPIRE: failing since the first check, the expiry ahead.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let status = kept.status.get();
    assert!(status.error.is_some(), "{status:?}");
    assert!(
        status
            .failing_since
            .is_some_and(|t| t.duration_since(start) <= SOA_TIMEOUT)
    );
    assert!(!status.expired && status.confirmed.is_none(), "{status:?}");
    let left = status.expires.map(|e| e.duration_since(Instant::now()));
    assert!(
        left.is_some_and(|l| l > Duration::ZERO && l <= Duration::from_secs(4)),
        "expires in {left:?}"
    );
    // The second check (due at 5 s, after the first's 3 s and RETRY) is under way.
    let due = status.next.map(|n| n.duration_since(start));
    assert!(
        due.is_some_and(|d| d > SOA_TIMEOUT && d <= Duration::from_secs(6)),
        "next check due at {due:?}"
    );
    tokio::time::sleep(Duration::from_secs(24)).await;
    let status = kept.status.get();
    assert!(status.expired && status.error.is_some(), "{status:?}");
    trigger.fire();
    task.await.expect("the task ends on shutdown");
    let _ = std::fs::remove_dir_all(&dir);

    let changes = writer.availability.lock().expect("lock").clone();
    let expired: Vec<Duration> = changes
        .iter()
        .filter(|(_, available)| !available)
        .map(|(at, _)| at.duration_since(start))
        .collect();
    // EXPIRE (10 s) after the copy was written (its age is read from the real clock, a few
    // milliseconds before this paused one started), once; a timed-out poll may end just past
    // the deadline (SOA_TIMEOUT).
    assert_eq!(expired.len(), 1, "expired once: {changes:?}");
    assert!(
        expired[0] >= Duration::from_millis(9_900)
            && expired[0] <= Duration::from_secs(10) + SOA_TIMEOUT,
        "expired at {:?}",
        expired[0]
    );
    assert!(
        !changes.iter().any(|(_, available)| *available),
        "never served again without a primary: {changes:?}"
    );
    // One poll at start, then one every RETRY (2 s) plus the 3 s the silent primary costs.
    let failures = Metrics::get(&metrics.transfer_failures);
    assert!(
        (5..=7).contains(&failures),
        "{failures} failed polls in 30 s"
    );
}

#[tokio::test]
async fn notify_is_taken_only_from_a_primary_of_a_zone_we_keep() {
    let primary: std::net::SocketAddr = "127.0.0.211:53".parse().expect("addr");
    let secondary = Secondary::new(vec![zone(primary, Path::new("unused.zone"))], None);
    let from_primary = "127.0.0.211".parse().expect("ip");
    let stranger = "127.0.0.66".parse().expect("ip");
    assert_eq!(
        secondary.notified(&name("cluster.test."), stranger, None),
        ResponseCode::Refused
    );
    assert_eq!(
        secondary.notified(&name("other.test."), from_primary, None),
        ResponseCode::NotAuth
    );
    assert_eq!(
        secondary.notified(&name("Cluster.Test."), from_primary, None),
        ResponseCode::NoError
    );
    // With a transfer key: only signed with it (NSD `allow-notify: ADDR KEY`).
    let mut keyed = zone(primary, Path::new("unused.zone"));
    keyed.key = Some(
        crate::tsig::Key::new(
            name("xfr-key."),
            crate::tsig::TsigAlgorithm::HmacSha256,
            vec![7; 32],
        )
        .expect("key"),
    );
    let keyed = Secondary::new(vec![keyed], None);
    let zone_name = name("cluster.test.");
    assert_eq!(
        keyed.notified(&zone_name, from_primary, None),
        ResponseCode::Refused
    );
    assert_eq!(
        keyed.notified(&zone_name, from_primary, Some(&name("xfr-key."))),
        ResponseCode::NoError
    );
    assert_eq!(
        keyed.notified(&zone_name, from_primary, Some(&name("other-key."))),
        ResponseCode::Refused
    );
    // The accepted NOTIFY left a wake-up for the zone's task.
    let kept = secondary
        .zones
        .get(&LowerName::new(&name("cluster.test.")))
        .expect("kept");
    tokio::time::timeout(Duration::from_millis(100), kept.wake.notified())
        .await
        .expect("woken");
}
