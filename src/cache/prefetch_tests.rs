//! The RRset tier's prefetch window: a read in the last part of an entry's TTL says so until
//! the refresh is claimed, once per entry; never for a failure, bogus data, or when off.

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn www() -> Name {
    Name::from_ascii("www.test.").expect("name")
}

fn key() -> Key {
    Key::new(&www(), RecordType::A)
}

fn a(ttl: u32) -> Data {
    Data::Positive(vec![Record::from_rdata(
        www(),
        ttl,
        RData::A(A::new(192, 0, 2, 1)),
    )])
}

/// Whether a read at `t` says the entry is due for its refresh.
fn due(cache: &Cache, t: Instant) -> bool {
    let hit = cache.get(&key(), t).expect("fresh");
    hit.signed.is_some_and(|s| s.prefetch)
}

#[tokio::test(start_paused = true)]
async fn the_last_tenth_of_the_ttl_is_due_until_claimed_once() {
    let cache = Cache::new(CachePolicy::default());
    let t0 = Instant::now();
    assert!(cache.insert(key(), a(100), 100, Rank::Authoritative, t0));
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    assert!(!due(&cache, at(89)), "11 s left of 100: before the window");
    assert!(!cache.claim_prefetch(&www(), RecordType::A, at(89)));
    // Unsigned data stays unsigned outside the window: nothing allocated for it.
    assert!(cache.get(&key(), at(89)).expect("fresh").signed.is_none());
    assert!(due(&cache, at(90)), "10 s left");
    assert!(due(&cache, at(95)), "a read alone claims nothing");
    assert!(cache.claim_prefetch(&www(), RecordType::A, at(95)));
    assert!(!cache.claim_prefetch(&www(), RecordType::A, at(96)), "once");
    assert!(!due(&cache, at(96)));
    // The refresh replaces the entry: a window of its own.
    assert!(cache.insert(key(), a(100), 100, Rank::Authoritative, at(96)));
    assert!(!due(&cache, at(100)));
    assert!(due(&cache, at(186)));
}

#[tokio::test(start_paused = true)]
async fn a_negative_entry_is_claimed_under_the_name() {
    let cache = Cache::new(CachePolicy::default());
    let t0 = Instant::now();
    let nx = Data::NxDomain { soa: None };
    assert!(cache.insert(Key::name_only(&www()), nx, 100, Rank::Authoritative, t0));
    let later = t0 + Duration::from_secs(95);
    assert!(cache.claim_prefetch(&www(), RecordType::AAAA, later));
    assert!(!cache.claim_prefetch(&www(), RecordType::A, later));
}

#[tokio::test(start_paused = true)]
async fn bogus_data_and_a_policy_of_none_are_never_due_short_ttls_only_as_they_end() {
    let t0 = Instant::now();
    let late = t0 + Duration::from_secs(95);
    let off = Cache::new(CachePolicy {
        prefetch_percent: 0,
        ..CachePolicy::default()
    });
    off.insert(key(), a(100), 100, Rank::Authoritative, t0);
    assert!(!due(&off, late));
    assert!(!due(&off, t0 + Duration::from_secs(100)));
    assert!(!off.claim_prefetch(&www(), RecordType::A, late));
    assert!(!off.claim_prefetch(&www(), RecordType::A, t0 + Duration::from_secs(100)));

    let cache = Cache::new(CachePolicy::default());
    // 10 % of 9 s is under a second: no window but the instant it ends, read at TTL 0
    // (Unbound's last whole second, in which its prefetch still fires).
    cache.insert(key(), a(9), 9, Rank::Authoritative, t0);
    assert!(!due(&cache, t0 + Duration::from_secs(8)));
    assert!(due(&cache, t0 + Duration::from_secs(9)));

    cache.insert(key(), a(100), 100, Rank::Authoritative, t0);
    let bogus = Trust::Bogus {
        ede: 6,
        why: "x".into(),
    };
    assert!(cache.set_trust(&key(), bogus, 60, t0));
    assert!(!due(&cache, t0 + Duration::from_secs(59)));
    assert!(!due(&cache, t0 + Duration::from_secs(60)));
}

/// A remembered failure is refreshed in its last part too (Unbound prefetches its SERVFAIL
/// entries), once.
#[tokio::test(start_paused = true)]
async fn a_failure_is_due_in_its_window_once() {
    let t0 = Instant::now();
    let cache = Cache::new(CachePolicy::default());
    let failure = Data::Failure {
        reason: "timeout".into(),
    };
    cache.insert(key(), failure, 100, Rank::Authoritative, t0);
    assert!(!cache.claim_prefetch(&www(), RecordType::A, t0 + Duration::from_secs(89)));
    assert!(cache.claim_prefetch(&www(), RecordType::A, t0 + Duration::from_secs(95)));
    assert!(!cache.claim_prefetch(&www(), RecordType::A, t0 + Duration::from_secs(96)));
}

#[tokio::test(start_paused = true)]
async fn a_lifetime_cut_by_validation_cuts_the_window() {
    let cache = Cache::new(CachePolicy::default());
    let t0 = Instant::now();
    cache.insert(key(), a(1000), 1000, Rank::Authoritative, t0);
    // Signatures valid for 100 s more: the entry lives 100 s, its window is their last 10.
    assert!(cache.set_trust(&key(), Trust::Secure, 100, t0));
    assert!(!due(&cache, t0 + Duration::from_secs(89)));
    assert!(due(&cache, t0 + Duration::from_secs(90)));
}
