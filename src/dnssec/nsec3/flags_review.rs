//! Review test: RFC 5155 §8.2, "Validators MUST ignore NSEC3 RRs with a Flag fields value
//! other than zero or one". Such a record reaches the validator as opaque RDATA of type NSEC3
//! (`rr::read`, hickory refuses it): signed by the zone, it still proves nothing, and it
//! spoils nothing beside a proof that holds without it. Unbound (val_nsec3.c `filter_next`)
//! and BIND skip it the same way.

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use crate::dnssec::sign::Nsec3Params;
use crate::dnssec::testing::{NOW, TestZone, name, owners, pick3};
use crate::dnssec::{Ede, Security, SignedRrset, Validation};

/// `record`, an NSEC3, with the undefined flag 0x02 set beside its own: opaque, as read.
fn flagged(record: &Record) -> Record {
    let mut rdata = Vec::new();
    record
        .data
        .emit(&mut BinEncoder::new(&mut rdata))
        .expect("encodes");
    rdata[1] |= 0x02;
    let data = RData::Unknown {
        code: RecordType::NSEC3,
        rdata: NULL::with(rdata),
    };
    Record::from_rdata(record.name.clone(), record.ttl, data)
}

fn nxdomain(zone: &TestZone, sets: &[SignedRrset]) -> Security {
    let mut v = Validation::new(NOW);
    let d = v.denial(&zone.keys(), sets).expect("the records verify");
    v.nxdomain(&d, &name("nx.example."))
}

#[test]
fn an_nsec3_with_an_undefined_flag_proves_nothing_and_spoils_nothing() {
    let zone = TestZone::new("example.", Algorithm::ED25519);
    let p = Nsec3Params {
        salt: vec![0xab, 0xcd],
        iterations: 0,
        opt_out: false,
    };
    let chain = zone.nsec3_chain(
        &owners(&[
            ("example.", "SOA NS DNSKEY NSEC3PARAM"),
            ("a.example.", "A"),
        ]),
        &p,
    );
    let proof = pick3(&chain, &p, &["example.", "nx.example.", "*.example."]);
    assert_eq!(nxdomain(&zone, &proof), Security::Secure);

    // The same proof, each record with the flag: signed by the zone, and ignored.
    let spoilt: Vec<SignedRrset> = proof
        .iter()
        .map(|s| zone.sign_records(s.records.iter().map(flagged).collect()))
        .collect();
    let s = nxdomain(&zone, &spoilt);
    assert!(
        matches!(&s, Security::Bogus(r) if r.ede == Ede::NsecMissing),
        "{s:?}"
    );

    // Beside the records that prove it, in their own RRsets: the proof holds.
    let both: Vec<SignedRrset> = proof
        .iter()
        .map(|s| {
            let mut records = s.records.clone();
            records.extend(s.records.iter().map(flagged));
            zone.sign_records(records)
        })
        .collect();
    assert_eq!(nxdomain(&zone, &both), Security::Secure);
}
