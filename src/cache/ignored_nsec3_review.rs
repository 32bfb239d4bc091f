//! Review test: an NSEC3 (or NSEC3PARAM) a validator ignores (RFC 5155 §8.1-8.2) is read from
//! a reply as opaque RDATA of its own type (`rr::read`). Cached, as an RRset of its own or in
//! a negative answer's proof, it must read back, from memory and from a saved cache file:
//! hickory refuses its RDATA, so an entry holding it read as nothing before.

use std::time::{Duration, SystemTime};

use hickory_proto::rr::rdata::{NULL, SOA};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::time::Instant;

use super::*;
use crate::testing::{Scratch, name};

/// An NSEC3 with an undefined flag, and an NSEC3PARAM of an unknown hash algorithm.
fn ignored() -> [Record; 2] {
    let mut nsec3 = vec![1, 0x02, 0, 0, 0, 20];
    nsec3.extend([0xab; 20]);
    nsec3.extend([0, 1, 0x40]);
    let owner = name("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.test.");
    let opaque = |code, rdata| RData::Unknown {
        code,
        rdata: NULL::with(rdata),
    };
    [
        Record::from_rdata(owner, 300, opaque(RecordType::NSEC3, nsec3)),
        Record::from_rdata(
            name("test."),
            300,
            opaque(RecordType::NSEC3PARAM, vec![9, 0, 0, 0, 0]),
        ),
    ]
}

#[tokio::test(start_paused = true)]
async fn an_ignored_nsec3_reads_back_from_the_cache_and_its_file() {
    let cache = Cache::new(CachePolicy::default());
    let now = Instant::now();
    let [nsec3, param] = ignored();
    let mut keys = Vec::new();
    for rr in [&nsec3, &param] {
        let key = Key::new(&rr.name, rr.record_type());
        let data = Data::Positive(vec![rr.clone()]);
        assert!(cache.insert(key.clone(), data, 300, Rank::Authoritative, now));
        keys.push((key, Some(rr.clone())));
    }
    // An NXDOMAIN whose proof holds the NSEC3.
    let soa = SOA::new(name("ns1.test."), name("h.test."), 1, 3600, 600, 86400, 300);
    let soa = Box::new(Record::from_rdata(name("test."), 300, RData::SOA(soa)));
    let nx = Key::name_only(&name("nope.test."));
    let proof = Signed::unchecked(vec![nsec3.clone()]);
    let data = Data::NxDomain { soa: Some(soa) };
    assert!(cache.insert_signed(nx.clone(), data, Some(proof), 300, Rank::Authoritative, now));
    keys.push((nx, None));

    let dir = Scratch::new("nsec3-review");
    let file = dir.join("cache.bin");
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let saved = cache.save(&file, now, wall).expect("saved");
    assert_eq!(saved.entries, 3);
    let loaded = Cache::new(CachePolicy::default());
    let restored = loaded.load(&file, now, wall).expect("loads");
    assert_eq!(restored.restored, 3);

    for c in [&cache, &loaded] {
        for (key, rr) in &keys {
            let hit = c.get(key, now).expect("the entry reads back");
            match rr {
                Some(rr) => assert!(
                    matches!(&hit.data, Data::Positive(set) if set.len() == 1 && set[0].data == rr.data),
                    "{:?}",
                    hit.data
                ),
                None => {
                    let signed = hit.signed.expect("the proof is kept");
                    assert_eq!(signed.records.len(), 1);
                    assert_eq!(signed.records[0].data, nsec3.data);
                }
            }
        }
    }
}
