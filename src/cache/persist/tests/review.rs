//! Review probes: record types beyond the round-trip table, and a file that one entry of an
//! odd type must not make unloadable as a whole.

use hickory_proto::rr::RecordType;

use super::*;
use crate::cache::{CachePolicy, Key, Rank};
use crate::dnssec::testing::records;
use crate::testing::{Scratch, name};

/// Record types a resolver caches that the round-trip table leaves out.
const MORE: &[&str] = &[
    "t.test. 300 IN CAA 0 issue \"ca.example.net\"",
    "t.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "t.test. 300 IN SSHFP 4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "t.test. 300 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.t.test.",
    "t.test. 300 IN HINFO \"cpu\" \"os\"",
    "t.test. 300 IN SVCB 1 svc.t.test. alpn=h2,h3 port=8443",
    "t.test. 300 IN HTTPS 1 . alpn=h2 ipv4hint=192.0.2.1 ipv6hint=2001:db8::1",
    "t.test. 300 IN HTTPS 0 alias.t.test.",
    "t.test. 300 IN NSEC3PARAM 1 0 0 -",
    "t.test. 300 IN OPENPGPKEY AQID",
    "t.test. 300 IN CDS 0 0 0 00",
    "t.test. 300 IN TXT \"\"",
];

#[tokio::test(start_paused = true)]
async fn more_record_types_round_trip_through_the_file() {
    let dir = Scratch::new("persist-review-types");
    let mut failed = Vec::new();
    for (i, text) in MORE.iter().enumerate() {
        let set = records(text);
        let key = Key::new(&name("t.test."), set[0].record_type());
        let now = Instant::now();
        let cache = Cache::new(CachePolicy::default());
        if !cache.insert(
            key.clone(),
            Data::Positive(set.clone()),
            300,
            Rank::Authoritative,
            now,
        ) {
            eprintln!("cache declines {text}");
            continue;
        }
        let file = dir.join(format!("c{i}.bin"));
        let saved = cache.save(&file, now, wall(WRITTEN)).expect("saved");
        let fresh = Cache::new(CachePolicy::default());
        match fresh.load(&file, now, wall(WRITTEN)) {
            Ok(l) if l.restored == 1 && saved.entries == 1 => {
                let want = cache.get(&key, now).map(|c| c.data);
                let back = fresh.get(&key, now).map(|c| c.data);
                if want != back {
                    failed.push(format!("{text}: {back:?} != {want:?}"));
                }
            }
            other => failed.push(format!("{text}: saved {saved:?}, load {other:?}")),
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// `load-cache` keeps what the running cache has fresh because it is newer than the file. Fresh
/// data at a name says the name exists (RFC 2308 §5: an NXDOMAIN denies every type, and
/// `Cache::end_nxdomain` removes one when data arrives), so an older NXDOMAIN for that name
/// from the file must not come back in: the resolver reads it for every other type.
#[tokio::test(start_paused = true)]
async fn an_older_nxdomain_from_the_file_does_not_deny_a_name_the_cache_has_data_for() {
    let dir = Scratch::new("persist-review-nx");
    let file = dir.join("old.bin");
    let now = Instant::now();
    let www = name("www.test.");
    let old = Cache::new(CachePolicy::default());
    let nx = Key::name_only(&www);
    assert!(old.insert(
        nx.clone(),
        Data::NxDomain { soa: None },
        300,
        Rank::Authoritative,
        now
    ));
    old.save(&file, now, wall(WRITTEN)).expect("saved");

    let running = Cache::new(CachePolicy::default());
    let a = records("www.test. 300 IN A 192.0.2.1");
    let key = Key::new(&www, RecordType::A);
    assert!(running.insert(
        key.clone(),
        Data::Positive(a),
        300,
        Rank::Authoritative,
        now
    ));
    running
        .load(&file, now, wall(WRITTEN + 10))
        .expect("loaded");
    assert!(running.get(&key, now).is_some());
    let denied = running.get(&nx, now).map(|c| c.data);
    assert_eq!(
        denied, None,
        "the name has fresh data, yet the file's NXDOMAIN came in"
    );
}

/// A file written while the cache changed (each shard is copied under its own lock) can hold
/// a name's NXDOMAIN beside the data that ended it, learnt between two shards' copies. Data
/// at the name says it exists, so the NXDOMAIN does not come back with it; one that data of
/// a lower rank could not end (`Cache::end_nxdomain`), or that only stale data stands
/// against, does.
#[tokio::test(start_paused = true)]
async fn a_files_nxdomain_does_not_come_back_beside_fresh_data_at_the_name_in_the_file() {
    let dir = Scratch::new("persist-review-nx-file");
    let file = dir.join("raced.bin");
    let now = Instant::now();
    let nx = |owner: &str, rank| {
        let key = Key::name_only(&name(owner));
        (key, Data::NxDomain { soa: None }, None, rank)
    };
    let cases = [
        // Ended by the A beside it.
        nx("www.test.", Rank::Authoritative),
        super::positive("www.test. 300 IN A 192.0.2.1", Rank::Authoritative),
        // Glue says nothing of the name's existence.
        nx("ns.test.", Rank::Authoritative),
        super::positive("ns.test. 300 IN A 192.0.2.53", Rank::Glue),
        // An authoritative NXDOMAIN outranks a non-authoritative answer.
        nx("mail.test.", Rank::Authoritative),
        super::positive("mail.test. 300 IN A 192.0.2.25", Rank::NonAuthoritative),
    ];
    let old = super::filled(&cases, 300, now);
    // Data that is only stale after the downtime does not end a fresh NXDOMAIN.
    let short = super::positive("old.test. 10 IN A 192.0.2.9", Rank::Authoritative);
    assert!(old.insert(short.0.clone(), short.1, 10, short.3, now));
    let (old_nx, ..) = nx("old.test.", Rank::Authoritative);
    assert!(old.insert(
        old_nx.clone(),
        Data::NxDomain { soa: None },
        300,
        Rank::Authoritative,
        now
    ));
    old.save(&file, now, wall(WRITTEN)).expect("saved");
    let policy = CachePolicy {
        serve_stale_secs: 3600,
        ..CachePolicy::default()
    };
    let fresh = Cache::new(policy);
    let loaded = fresh.load(&file, now, wall(WRITTEN + 20)).expect("loaded");
    let denied = |key: &Key| fresh.get(key, now).map(|c| c.data);
    assert_eq!(denied(&cases[0].0), None, "www.test.'s NXDOMAIN came back");
    assert!(fresh.get(&cases[1].0, now).is_some());
    assert!(
        denied(&cases[2].0).is_some(),
        "glue ended ns.test.'s NXDOMAIN"
    );
    assert!(
        denied(&cases[4].0).is_some(),
        "a lower rank ended mail.test.'s"
    );
    assert!(
        denied(&old_nx).is_some(),
        "stale data ended old.test.'s NXDOMAIN"
    );
    assert!(fresh.get_stale(&short.0, now).is_some());
    assert_eq!(loaded.restored, 7);
}

/// Behind a good checksum (the file is trusted only as far as the reader's bounds go), every
/// single-byte change of every entry byte loads (and reads back out) or is refused: never a
/// panic.
#[tokio::test(start_paused = true)]
async fn every_byte_changed_behind_a_good_checksum_loads_or_is_refused() {
    let dir = Scratch::new("persist-review-flip");
    let file = dir.join("c.bin");
    let now = Instant::now();
    let cases = super::every_kind();
    let cache = super::filled(&cases, 300, now);
    cache.save(&file, now, wall(WRITTEN)).expect("saved");
    let good = std::fs::read(&file).expect("read");
    let body = 8 + 2 + 8 + 4 + 8;
    let mut refused = 0;
    for at in body..good.len() - 4 {
        let mut bytes = good.clone();
        bytes[at] ^= 0xff;
        let end = bytes.len() - 4;
        let crc = crc32(&bytes[..end]).to_be_bytes();
        bytes[end..].copy_from_slice(&crc);
        std::fs::write(&file, &bytes).expect("write");
        let fresh = Cache::new(CachePolicy::default());
        match fresh.load(&file, now, wall(WRITTEN)) {
            Err(_) => refused += 1,
            // What went in reads back out.
            Ok(_) => drop(fresh.dump(now)),
        }
    }
    assert!(refused > 0);
}
