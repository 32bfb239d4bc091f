//! The counters' slots, labels and sums.

use super::*;

#[test]
fn every_named_qtype_has_its_own_slot() {
    for (i, (qtype, name)) in QTYPES.iter().enumerate() {
        assert_eq!(qtype_slot(Some(*qtype)), i, "{name}");
        assert_eq!(qtype_label(i), *name);
    }
    assert_eq!(qtype_label(qtype_slot(Some(4242))), "other");
    assert_eq!(qtype_label(qtype_slot(None)), "other");
}

#[test]
fn rcodes_past_the_table_are_other() {
    assert_eq!(rcode_label(rcode_slot(2)), "SERVFAIL");
    assert_eq!(rcode_label(rcode_slot(23)), "BADCOOKIE");
    assert_eq!(rcode_label(rcode_slot(3841)), "other");
}

#[test]
fn hit_path_shards_add_up_across_threads() {
    let counts = std::sync::Arc::new(HitPathCounts::default());
    let threads: Vec<_> = (0..HIT_SHARDS + 4)
        .map(|_| {
            let counts = std::sync::Arc::clone(&counts);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    counts.count(0, qtype_slot(Some(1)), rcode_slot(0), true);
                    counts.count(2, qtype_slot(Some(28)), rcode_slot(3), false);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let each = 100 * (HIT_SHARDS as u64 + 4);
    assert_eq!(counts.qtype(0, 0), each);
    assert_eq!(counts.rcode(0, 0), each);
    // Each in its transport's row alone.
    assert_eq!(counts.qtype(2, qtype_slot(Some(28))), each);
    assert_eq!(counts.rcode(2, 3), each);
    assert_eq!(counts.qtype(0, qtype_slot(Some(28))), 0);
    assert_eq!(counts.qtype(2, 0), 0);
    assert_eq!(counts.qtype(0, 1), 0);
    assert_eq!(counts.answers(), 2 * each);
    assert_eq!(counts.local(), each);
}

#[test]
fn histogram_buckets_hold_their_own_counts() {
    let h = Histogram::default();
    h.observe_us(50);
    h.observe_us(100);
    h.observe_us(20_000_000);
    let (buckets, sum) = h.snapshot();
    assert_eq!(buckets[0], (0.0001, 2));
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 1)));
    assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 3);
    assert!((sum - 20.00015).abs() < 1e-9);
}

#[test]
fn servfail_reasons_by_ede_code() {
    let r = Reasons::default();
    r.inc(Some(22));
    r.inc(Some(22));
    r.inc(None);
    r.inc(Some(4000));
    let seen = r.seen();
    assert!(seen.contains(&("22 No Reachable Authority".to_string(), 2)));
    assert!(seen.contains(&("none".to_string(), 1)));
    assert!(seen.contains(&("other".to_string(), 1)));
}

#[test]
fn upstream_servers_past_the_limit_share_other() {
    let t = UpstreamTable::default();
    for port in 0..UPSTREAM_SERIES as u16 + 5 {
        let s = t.server(SocketAddr::from(([127, 0, 0, 1], port)));
        s.queries.fetch_add(1, Ordering::Relaxed);
    }
    let snap = t.snapshot();
    assert_eq!(snap.len(), UPSTREAM_SERIES + 1);
    assert_eq!(
        snap.last()
            .map(|(l, s)| (l.as_str(), s.queries.load(Ordering::Relaxed))),
        Some(("other", 5))
    );
}
