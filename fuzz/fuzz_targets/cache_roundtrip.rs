//! The resolver cache keeps RRsets in wire form (`cache/wire.rs`) and decodes them on the way
//! out: every RRset a reply can carry must come back from `Cache::get` exactly as it went in
//! (owner with its case, class, RDATA), with the TTL left; and as a negative answer's SOA.

#![no_main]

use hickory_proto::op::Message;
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use libfuzzer_sys::fuzz_target;
use tern::{Cache, CacheData as Data, CacheKey as Key, CachePolicy, Rank};
use tokio::time::Instant;

fn sets(records: Vec<Record>) -> Vec<Vec<Record>> {
    let mut sets: Vec<Vec<Record>> = Vec::new();
    for r in records {
        match sets
            .iter_mut()
            .find(|s| s[0].record_type() == r.record_type() && s[0].name == r.name)
        {
            Some(set) => set.push(r),
            None => sets.push(vec![r]),
        }
    }
    sets
}

fn same(got: &[Record], want: &[Record], ttl: u32) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        // The whole set takes the first record's owner spelling.
        assert_eq!(g.name.to_ascii(), want[0].name.to_ascii());
        assert_eq!(g.dns_class, w.dns_class);
        assert_eq!(g.data, w.data, "{w}");
        assert_eq!(g.ttl, ttl);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::from_vec(data) else {
        return;
    };
    let cache = Cache::new(CachePolicy::default());
    let now = Instant::now();
    let records: Vec<Record> = msg
        .answers
        .into_iter()
        .chain(msg.authorities)
        .chain(msg.additionals)
        // What no reply's answer is cached as: EDNS, signatures of the message, and records
        // whose RDATA does not encode (the cache declines those).
        .filter(|r| {
            !matches!(
                r.record_type(),
                RecordType::OPT | RecordType::TSIG | RecordType::SIG
            )
        })
        .filter(|r| r.data.to_bytes().is_ok_and(|b| !b.is_empty()))
        .collect();
    for set in sets(records) {
        let key = Key::new(&set[0].name, set[0].record_type());
        assert!(
            cache.insert(
                key.clone(),
                Data::Positive(set.clone()),
                60,
                Rank::Authoritative,
                now
            ),
            "not cached: {set:?}"
        );
        let got = cache.get(&key, now).expect("just cached");
        let Data::Positive(got) = got.data else {
            panic!("not positive: {got:?}");
        };
        same(&got, &set, 60);
        // As the SOA of a negative answer for a name elsewhere.
        let other =
            Key::name_only(&hickory_proto::rr::Name::from_ascii("x.invalid.").expect("name"));
        let soa = Box::new(set[0].clone());
        assert!(cache.insert(
            other.clone(),
            Data::NxDomain { soa: Some(soa) },
            30,
            Rank::Authoritative,
            now
        ));
        let Some(Data::NxDomain { soa: Some(back) }) = cache.get(&other, now).map(|c| c.data)
        else {
            panic!("negative entry lost");
        };
        same(std::slice::from_ref(&*back), &set[..1], 30);
    }
});
