//! Round trips of every kind of entry, aging by the downtime, merging, atomic writes.

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::{Record, RecordType};

use super::format::crc32;
use super::*;
use crate::cache::{CachePolicy, Cached, Key, Rank, Signed, Trust};
use crate::dnssec::testing::{TestZone, owners, records};
use crate::testing::{Scratch, name};

/// The wall clock of every test's write (2023-11-14).
pub(super) const WRITTEN: u64 = 1_700_000_000;

pub(super) fn wall(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// One entry of the table below: key, data, DNSSEC side, rank.
pub(super) type Case = (Key, Data, Option<Signed>, Rank);

pub(super) fn positive(text: &str, rank: Rank) -> Case {
    let mut set = records(text);
    // The zone reader lowercases owners; an authority's answer need not be.
    if set[0].name == name("www.example.test.") && set[0].record_type() == RecordType::A {
        set.iter_mut()
            .for_each(|r| r.name = name("WWW.Example.test."));
    }
    let key = Key::new(&set[0].name, set[0].record_type());
    (key, Data::Positive(set), None, rank)
}

fn soa(zone: &str) -> Box<Record> {
    let text = format!("{zone} 300 IN SOA ns1.{zone} hostmaster.{zone} 1 3600 600 86400 300");
    Box::new(records(&text).remove(0))
}

/// Every kind of entry the RRset tier holds, every record type the resolver caches, each
/// DNSSEC verdict, and every rank.
fn every_kind() -> Vec<Case> {
    let zone = TestZone::new("example.", Algorithm::ED25519);
    let mut cases = vec![
        positive(
            "www.example.test. 300 IN A 192.0.2.1\nwww.example.test. 300 IN A 192.0.2.2",
            Rank::Authoritative,
        ),
        positive(
            "www.example.test. 300 IN AAAA 2001:db8::1",
            Rank::NonAuthoritative,
        ),
        positive(
            "example.test. 300 IN NS ns1.example.test.\nexample.test. 300 IN NS ns2.example.test.",
            Rank::Referral,
        ),
        positive("ns1.example.test. 300 IN A 192.0.2.53", Rank::Glue),
        positive(
            "alias.example.test. 300 IN CNAME www.example.test.",
            Rank::Authoritative,
        ),
        positive(
            "sub.example.test. 300 IN DNAME other.test.",
            Rank::Authoritative,
        ),
        positive(
            "example.test. 300 IN MX 10 mail.example.test.",
            Rank::Authoritative,
        ),
        positive(
            "example.test. 300 IN TXT \"v=spf1 -all\" \"second string\"",
            Rank::Authoritative,
        ),
        positive(
            "_sip._udp.example.test. 300 IN SRV 10 60 5060 sip.example.test.",
            Rank::Authoritative,
        ),
        positive(
            "1.2.0.192.in-addr.arpa. 300 IN PTR www.example.test.",
            Rank::Authoritative,
        ),
        positive(
            "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300",
            Rank::Authoritative,
        ),
    ];
    let ds = zone.ds();
    cases.push((
        Key::new(&zone.name, RecordType::DS),
        Data::Positive(ds),
        Some(Signed {
            records: Vec::new(),
            trust: Trust::Secure,
            prefetch: false,
        }),
        Rank::Referral,
    ));
    let keys = zone.dnskey_set();
    cases.push((
        Key::new(&zone.name, RecordType::DNSKEY),
        Data::Positive(keys.records),
        Some(Signed {
            records: keys.rrsigs,
            trust: Trust::Secure,
            prefetch: false,
        }),
        Rank::Authoritative,
    ));
    let signed = zone.sign("a.example. 300 IN A 192.0.2.7");
    cases.push((
        Key::new(&name("a.example."), RecordType::A),
        Data::Positive(signed.records),
        Some(Signed::unchecked(signed.rrsigs)),
        Rank::Authoritative,
    ));
    let bogus = zone.sign("b.example. 300 IN TXT \"forged\"");
    cases.push((
        Key::new(&name("b.example."), RecordType::TXT),
        Data::Positive(bogus.records),
        Some(Signed {
            records: bogus.rrsigs,
            trust: Trust::Bogus {
                ede: 6,
                why: "example.: signature expired".into(),
            },
            prefetch: false,
        }),
        Rank::Authoritative,
    ));
    // NODATA with its SOA and the signed NSEC that proves it, judged insecure.
    let mut proof = Vec::new();
    for set in zone.nsec_chain(&owners(&[("a.example.", "A"), ("c.example.", "TXT")])) {
        proof.extend(set.records);
        proof.extend(set.rrsigs);
    }
    cases.push((
        Key::new(&name("a.example."), RecordType::MX),
        Data::NoData {
            soa: Some(soa("example.")),
        },
        Some(Signed {
            records: proof,
            trust: Trust::Insecure,
            prefetch: false,
        }),
        Rank::Authoritative,
    ));
    cases.push((
        Key::name_only(&name("nope.example.test.")),
        Data::NxDomain {
            soa: Some(soa("example.test.")),
        },
        Some(Signed {
            records: Vec::new(),
            trust: Trust::Indeterminate,
            prefetch: false,
        }),
        Rank::Authoritative,
    ));
    cases.push((
        Key::name_only(&name("gone.example.test.")),
        Data::NxDomain { soa: None },
        None,
        Rank::NonAuthoritative,
    ));
    cases.push((
        Key::new(&name("x.example.test."), RecordType::SRV),
        Data::NoData { soa: None },
        None,
        Rank::Authoritative,
    ));
    cases.push((
        Key::new(&name("down.example.test."), RecordType::A),
        Data::Failure {
            reason: "no reachable server\nfor down.".into(),
        },
        None,
        Rank::Authoritative,
    ));
    cases
}

/// A cache holding `cases`, each for `ttl` seconds from `now`.
pub(super) fn filled(cases: &[Case], ttl: u32, now: Instant) -> Cache {
    let cache = Cache::new(CachePolicy::default());
    for (key, data, signed, rank) in cases.iter().cloned() {
        assert!(
            cache.insert_signed(key.clone(), data, signed, ttl, rank, now),
            "{key:?}"
        );
    }
    cache
}

fn got(cache: &Cache, cases: &[Case], now: Instant) -> Vec<Option<Cached>> {
    cases.iter().map(|(key, ..)| cache.get(key, now)).collect()
}

#[tokio::test(start_paused = true)]
async fn every_kind_and_record_type_round_trips_with_rank_trust_and_ttl() {
    let dir = Scratch::new("persist-round-trip");
    let file = dir.join("cache.bin");
    let now = Instant::now();
    let cases = every_kind();
    let cache = filled(&cases, 300, now);
    tokio::time::advance(Duration::from_secs(40)).await;
    let now = Instant::now();
    let saved = cache.save(&file, now, wall(WRITTEN)).expect("saved");
    assert_eq!(saved.entries, cases.len());
    let fresh = Cache::new(CachePolicy::default());
    let loaded = fresh.load(&file, now, wall(WRITTEN)).expect("loaded");
    assert_eq!(
        (loaded.entries as usize, loaded.restored, loaded.age),
        (cases.len(), cases.len(), 0)
    );
    let want = got(&cache, &cases, now);
    assert!(
        want.iter()
            .all(|c| c.as_ref().is_some_and(|c| c.ttl == 260))
    );
    assert_eq!(got(&fresh, &cases, now), want);
    // Case as the authority wrote it survives, though keys are lowercase.
    match &fresh.get(&cases[0].0, now).expect("cached").data {
        Data::Positive(set) => assert_eq!(set[0].name.to_ascii(), "WWW.Example.test."),
        other => panic!("{other:?}"),
    }
    // 20 s left: inside the prefetch window of the 300 s the entries were stored with (10 %),
    // not of the 260 s they were loaded with.
    tokio::time::advance(Duration::from_secs(240)).await;
    let now = Instant::now();
    let want = got(&cache, &cases, now);
    let windowed = |c: &Option<Cached>| {
        c.as_ref()
            .is_some_and(|c| c.signed.as_ref().is_some_and(|s| s.prefetch))
    };
    assert!(want[..3].iter().all(windowed));
    assert_eq!(got(&fresh, &cases, now), want);
}

#[tokio::test(start_paused = true)]
async fn ttls_are_aged_by_the_downtime_and_stale_data_kept_only_within_serve_stale() {
    let dir = Scratch::new("persist-aging");
    let file = dir.join("cache.bin");
    let now = Instant::now();
    let cache = Cache::new(CachePolicy::default());
    let cases = [
        positive("long.test. 300 IN A 192.0.2.1", Rank::Authoritative),
        positive("short.test. 60 IN A 192.0.2.2", Rank::Authoritative),
        positive("brief.test. 10 IN A 192.0.2.3", Rank::Authoritative),
    ];
    for ((key, data, _, rank), ttl) in cases.iter().cloned().zip([300, 60, 10]) {
        assert!(cache.insert(key, data, ttl, rank, now));
    }
    let failure = Key::new(&name("down.test."), RecordType::A);
    cache.insert(
        failure.clone(),
        Data::Failure { reason: "x".into() },
        30,
        Rank::Authoritative,
        now,
    );
    cache.save(&file, now, wall(WRITTEN)).expect("saved");
    // Down for 100 s: written at WRITTEN, read at WRITTEN + 100.
    let policy = CachePolicy {
        serve_stale_secs: 60,
        ..CachePolicy::default()
    };
    let later = Cache::new(policy);
    let loaded = later.load(&file, now, wall(WRITTEN + 100)).expect("loaded");
    assert_eq!((loaded.entries, loaded.restored, loaded.age), (4, 2, 100));
    let long = later.get(&cases[0].0, now).expect("fresh");
    assert_eq!(long.ttl, 200);
    match long.data {
        Data::Positive(set) => assert_eq!(set[0].ttl, 200),
        other => panic!("{other:?}"),
    }
    // Expired 40 s ago: stale, inside the 60 s window; never fresh.
    assert!(later.get(&cases[1].0, now).is_none());
    assert!(later.get_stale(&cases[1].0, now).is_some_and(|c| c.stale));
    // Expired 90 s ago, past the window; a failure is never served stale.
    assert!(later.get_stale(&cases[2].0, now).is_none());
    assert!(later.get_stale(&failure, now).is_none());
    assert_eq!(later.len(), 2);
    // With serve-stale off only the fresh entry comes back.
    let strict = Cache::new(CachePolicy {
        serve_stale_secs: 0,
        ..CachePolicy::default()
    });
    assert_eq!(
        strict
            .load(&file, now, wall(WRITTEN + 100))
            .expect("loaded")
            .restored,
        1
    );
    // `min_ttl` does not lengthen what the file had left.
    let floored = Cache::new(CachePolicy {
        min_ttl: 600,
        ..CachePolicy::default()
    });
    floored
        .load(&file, now, wall(WRITTEN + 100))
        .expect("loaded");
    assert_eq!(floored.get(&cases[0].0, now).expect("fresh").ttl, 200);
    assert!(floored.get(&cases[1].0, now).is_none(), "stale stays stale");
}

#[tokio::test(start_paused = true)]
async fn loading_merges_and_keeps_fresher_data_of_the_running_cache() {
    let dir = Scratch::new("persist-merge");
    let file = dir.join("cache.bin");
    let now = Instant::now();
    let old = positive("www.test. 300 IN A 192.0.2.1", Rank::Authoritative);
    let other = positive("mail.test. 300 IN A 192.0.2.25", Rank::Authoritative);
    let cache = filled(&[old.clone(), other.clone()], 300, now);
    cache.save(&file, now, wall(WRITTEN)).expect("saved");
    let running = Cache::new(CachePolicy::default());
    let new = positive("www.test. 300 IN A 192.0.2.99", Rank::NonAuthoritative);
    running.insert(new.0.clone(), new.1.clone(), 100, new.3, now);
    let loaded = running.load(&file, now, wall(WRITTEN)).expect("loaded");
    assert_eq!(loaded.restored, 1);
    assert_eq!(running.get(&old.0, now).expect("kept").data, new.1);
    assert!(running.get(&other.0, now).is_some());
}

/// Reading inserts in file order, so the file goes least recently used first: a smaller
/// cache then keeps the most recent. (Which shard a key lands in differs from process to
/// process, so a test through a real cache could only check that statistically.)
#[test]
fn entries_are_written_least_recently_used_first_across_shards() {
    // Two shards and an empty one, each most recently used first.
    let shards = vec![vec!["a3", "a2", "a1"], vec!["b2", "b1"], vec![]];
    assert_eq!(oldest_first(shards), ["a1", "b1", "a2", "b2", "a3"]);
}

#[tokio::test(start_paused = true)]
async fn writing_is_atomic_and_leaves_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("persist-atomic");
    let file = dir.join("cache.bin");
    let now = Instant::now();
    let cache = filled(
        &[positive("a.test. 300 IN A 192.0.2.1", Rank::Authoritative)],
        300,
        now,
    );
    std::fs::write(&file, b"the previous file").expect("write");
    cache.save(&file, now, wall(WRITTEN)).expect("saved");
    cache.save(&file, now, wall(WRITTEN)).expect("saved again");
    let names: Vec<_> = std::fs::read_dir(&*dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["cache.bin"]);
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // A rename that fails (a folder is in the way) leaves the temporary file removed.
    let blocked = dir.join("blocked");
    std::fs::create_dir_all(blocked.join("inside")).expect("dir");
    assert!(matches!(
        cache.save(&blocked, now, wall(WRITTEN)),
        Err(PersistError::Io(_))
    ));
    let mut names: Vec<_> = std::fs::read_dir(&*dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["blocked", "cache.bin"]);
}

#[test]
fn the_checksum_is_the_standard_crc_32() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

mod file_review;
mod refused;
mod review;
