//! Unit tests of the cache: TTLs, ranks, and the entry and byte bounds.

use hickory_proto::rr::rdata::{A, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn a(ttl: u32) -> Vec<Record> {
    vec![Record::from_rdata(
        Name::from_ascii("www.test.").expect("name"),
        ttl,
        RData::A(A::new(192, 0, 2, 1)),
    )]
}

fn key() -> Key {
    Key::new(&Name::from_ascii("WWW.test.").expect("name"), RecordType::A)
}

#[tokio::test(start_paused = true)]
async fn ttl_counts_down_and_expires() {
    let cache = Cache::new(CachePolicy::default());
    let t0 = Instant::now();
    assert!(cache.insert(key(), Data::Positive(a(300)), 300, Rank::Authoritative, t0));
    tokio::time::advance(Duration::from_secs(100)).await;
    let hit = cache.get(&key(), Instant::now()).expect("fresh");
    assert_eq!(hit.ttl, 200);
    assert!(matches!(hit.data, Data::Positive(r) if r[0].ttl == 200));
    tokio::time::advance(Duration::from_secs(200)).await;
    // The instant the TTL ends it is still fresh, at TTL 0 (Unbound: expired once now > ttl).
    assert_eq!(cache.get(&key(), Instant::now()).expect("ends now").ttl, 0);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(cache.get(&key(), Instant::now()).is_none());
    let stale = cache
        .get_stale(&key(), Instant::now())
        .expect("within stale window");
    assert_eq!(stale.ttl, 30);
}

#[tokio::test(start_paused = true)]
async fn fresh_data_shows_its_full_ttl_and_zero_only_as_it_ends() {
    let cache = Cache::new(CachePolicy::default());
    cache.insert(
        key(),
        Data::Positive(a(300)),
        300,
        Rank::Authoritative,
        Instant::now(),
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(cache.get(&key(), Instant::now()).expect("fresh").ttl, 300);
    tokio::time::advance(Duration::from_millis(299_500)).await;
    assert_eq!(cache.get(&key(), Instant::now()).expect("fresh").ttl, 1);
    tokio::time::advance(Duration::from_millis(498)).await;
    assert_eq!(cache.get(&key(), Instant::now()).expect("fresh").ttl, 1);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(cache.get(&key(), Instant::now()).expect("ends now").ttl, 0);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(cache.get(&key(), Instant::now()).is_none());
}

#[tokio::test(start_paused = true)]
async fn lower_rank_does_not_replace_fresh_higher_rank() {
    let cache = Cache::new(CachePolicy::default());
    let now = Instant::now();
    cache.insert(key(), Data::Positive(a(300)), 300, Rank::Authoritative, now);
    assert!(!cache.insert(key(), Data::Positive(a(5)), 5, Rank::Glue, now));
    assert_eq!(
        cache.get(&key(), now).expect("hit").rank,
        Rank::Authoritative
    );
}

#[tokio::test(start_paused = true)]
async fn ttls_are_clamped_and_bounded_in_size() {
    let policy = CachePolicy {
        max_entries: 16,
        min_ttl: 60,
        max_ttl: 120,
        ..CachePolicy::default()
    };
    let cache = Cache::new(policy);
    let now = Instant::now();
    cache.insert(key(), Data::Positive(a(5)), 5, Rank::Authoritative, now);
    assert_eq!(cache.get(&key(), now).expect("hit").ttl, 60);
    for i in 0..1000 {
        let k = Key::new(
            &Name::from_ascii(format!("n{i}.test.")).expect("name"),
            RecordType::A,
        );
        cache.insert(k, Data::Positive(a(300)), 300, Rank::Authoritative, now);
    }
    assert!(cache.len() <= 16);
}

fn name(i: usize) -> Name {
    Name::from_ascii(format!("u{i}.wild.alpha.test.")).expect("name")
}

fn a_key(i: usize) -> Key {
    Key::new(&name(i), RecordType::A)
}

/// An RRset of `n` A records at `u{i}.wild.alpha.test.`.
fn rrset(i: usize, n: usize) -> Data {
    let records = (0..n)
        .map(|j| Record::from_rdata(name(i), 300, RData::A(A::new(192, 0, 2, j as u8))))
        .collect();
    Data::Positive(records)
}

fn nxdomain() -> Data {
    let apex = Name::from_ascii("alpha.test.").expect("name");
    let soa = SOA::new(
        Name::from_ascii("ns1.alpha.test.").expect("name"),
        Name::from_ascii("hostmaster.alpha.test.").expect("name"),
        1,
        3600,
        600,
        86400,
        300,
    );
    Data::NxDomain {
        soa: Some(Box::new(Record::from_rdata(apex, 300, RData::SOA(soa)))),
    }
}

fn bytes_policy(max_bytes: usize) -> CachePolicy {
    CachePolicy {
        max_entries: CACHE_MAX_ENTRIES.max,
        max_bytes,
        ..CachePolicy::default()
    }
}

#[tokio::test(start_paused = true)]
async fn byte_bound_holds_under_a_flood_of_distinct_names() {
    const MAX: usize = 1 << 20;
    let cache = Cache::new(bytes_policy(MAX));
    let now = Instant::now();
    // The hash tables are allocated whole up front, sized for as many of the smallest
    // entries as fit: at ~19 bytes a bucket against ~130 for a one-A entry, an eighth.
    assert!(
        cache.bytes() > 0 && cache.bytes() < MAX / 6,
        "fixed cost only: {}",
        cache.bytes()
    );
    let mut biggest = 0;
    for i in 0..100_000 {
        // Mostly one-record answers, as a unique-name flood produces, with NXDOMAINs, larger
        // RRsets and long TXT records mixed in so entries differ in size.
        let (key, data) = match i % 10 {
            0 => (Key::name_only(&name(i)), nxdomain()),
            1 => (a_key(i), rrset(i, 1 + i % 13)),
            2 => {
                let txt = TXT::new(vec!["x".repeat(i % 250)]);
                let record = Record::from_rdata(name(i), 300, RData::TXT(txt));
                (
                    Key::new(&name(i), RecordType::TXT),
                    Data::Positive(vec![record]),
                )
            }
            _ => (a_key(i), rrset(i, 1)),
        };
        biggest = biggest.max(size::entry_bytes(
            &key,
            &Entry {
                stored: Stored::new(data.clone(), &key).expect("cacheable"),
                rank: Rank::Authoritative,
                prefetched: false,
                prefetch_window: 0,
                expires: now,
                signed: None,
            },
        ));
        assert!(cache.insert(key, data, 300, Rank::Authoritative, now));
        assert!(
            cache.bytes() <= MAX,
            "{} > {MAX} after {i} inserts",
            cache.bytes()
        );
    }
    // Full, not merely bounded: every shard is within one entry of its share.
    assert!(cache.bytes() > MAX - SHARDS * biggest, "{}", cache.bytes());
    assert!(cache.len() > 1000, "{} entries", cache.len());
}

#[tokio::test(start_paused = true)]
async fn eviction_takes_the_least_recently_used() {
    let cache = Cache::new(bytes_policy(256 << 10));
    let now = Instant::now();
    let (kept, forgotten) = (a_key(1_000_000), a_key(1_000_001));
    cache.insert(
        kept.clone(),
        rrset(1_000_000, 1),
        300,
        Rank::Authoritative,
        now,
    );
    cache.insert(
        forgotten.clone(),
        rrset(1_000_001, 1),
        300,
        Rank::Authoritative,
        now,
    );
    // Far more than the cache holds, in every shard; the kept entry is read after each insert.
    for i in 0..20_000 {
        cache.insert(a_key(i), rrset(i, 1), 300, Rank::Authoritative, now);
        assert!(cache.get(&kept, now).is_some(), "evicted after {i} inserts");
    }
    assert!(cache.len() < 20_000);
    assert!(cache.get(&forgotten, now).is_none());
}

#[tokio::test(start_paused = true)]
async fn replacing_an_entry_keeps_the_accounting_exact() {
    let cache = Cache::new(CachePolicy::default());
    let now = Instant::now();
    let empty = cache.bytes();
    cache.insert(a_key(1), rrset(1, 1), 300, Rank::Authoritative, now);
    let one = cache.bytes();
    cache.insert(a_key(1), rrset(1, 20), 300, Rank::Authoritative, now);
    let twenty = cache.bytes();
    assert!(twenty > one && one > empty);
    for _ in 0..1000 {
        cache.insert(a_key(1), rrset(1, 1), 300, Rank::Authoritative, now);
        assert_eq!(cache.bytes(), one);
        cache.insert(a_key(1), rrset(1, 20), 300, Rank::Authoritative, now);
        assert_eq!(cache.bytes(), twenty);
    }
    // Refused by rank: nothing changes.
    assert!(!cache.insert(a_key(1), rrset(1, 1), 300, Rank::Glue, now));
    assert_eq!(cache.bytes(), twenty);
    // Expired data gives way to any rank, and is accounted as replaced.
    tokio::time::advance(Duration::from_secs(301)).await;
    assert!(cache.insert(a_key(1), rrset(1, 1), 300, Rank::Glue, Instant::now()));
    assert_eq!((cache.bytes(), cache.len()), (one, 1));
}

/// Below the configurable floor, so that a shard's share is small: 4 KiB.
const TINY: usize = 64 << 10;

#[tokio::test(start_paused = true)]
async fn an_rrset_larger_than_a_shard_share_is_not_cached() {
    let cache = Cache::new(bytes_policy(TINY));
    let now = Instant::now();
    for i in 0..8 {
        cache.insert(a_key(i), rrset(i, 1), 300, Rank::Authoritative, now);
    }
    let (len, bytes) = (cache.len(), cache.bytes());
    // 64 KiB across 16 shards leaves each about 3 KiB: 400 A records (4 KiB in wire form)
    // do not fit.
    assert!(!cache.insert(a_key(99), rrset(99, 400), 300, Rank::Authoritative, now));
    assert_eq!((cache.len(), cache.bytes()), (len, bytes));
    assert!(cache.get(&a_key(99), now).is_none());
}

#[test]
fn a_small_byte_bound_does_not_preallocate_for_max_entries() {
    let cache = Cache::new(bytes_policy(TINY));
    assert!(cache.bytes() <= TINY);
    assert!(cache.shard_entries * SHARDS * size::alloc(size::NODE) <= TINY);
}

#[tokio::test(start_paused = true)]
async fn the_configurable_floor_still_caches_large_rrsets() {
    let cache = Cache::new(bytes_policy(CACHE_MAX_BYTES.min));
    let now = Instant::now();
    let root = Name::root();
    let ns: Vec<Record> = (b'a'..=b'm')
        .map(|l| {
            let server = Name::from_ascii(format!("{}.root-servers.net.", l as char));
            let server = server.expect("name");
            Record::from_rdata(root.clone(), 518400, RData::NS(NS(server)))
        })
        .collect();
    let root_ns = Key::new(&root, RecordType::NS);
    assert!(cache.insert(
        root_ns,
        Data::Positive(ns),
        518400,
        Rank::Authoritative,
        now
    ));
    // The limit's doc promises room for an RRset of some 200 records in every shard.
    assert!(cache.insert(a_key(1), rrset(1, 200), 300, Rank::Authoritative, now));
}

#[tokio::test(start_paused = true)]
async fn a_verdict_is_written_only_over_data_not_yet_judged() {
    let cache = Cache::new(CachePolicy::default());
    let now = Instant::now();
    let bogus = Trust::Bogus {
        ede: 6,
        why: "broken".into(),
    };
    cache.insert(key(), Data::Positive(a(300)), 300, Rank::Authoritative, now);
    assert!(cache.set_trust(&key(), bogus.clone(), 60, now));
    // A later verdict is about other data (a reply that ranked too low to replace this).
    assert!(!cache.set_trust(&key(), Trust::Secure, 300, now));
    let hit = cache.get(&key(), now).expect("fresh");
    assert_eq!(hit.signed.map(|s| s.trust), Some(bogus));
    // New data in its place is judged afresh.
    cache.insert(key(), Data::Positive(a(300)), 300, Rank::Authoritative, now);
    assert!(cache.set_trust(&key(), Trust::Secure, 300, now));
    let hit = cache.get(&key(), now).expect("fresh");
    assert_eq!(hit.signed.map(|s| s.trust), Some(Trust::Secure));
}
