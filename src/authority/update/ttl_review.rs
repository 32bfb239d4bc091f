//! Review probe: the TTLs of an RRset after an UPDATE (RFC 2181 §5.2).

use std::path::Path;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use super::{apply, patched};
use crate::authority::Zone;
use crate::authority::store::{ZoneFile, ZoneStore};
use crate::testing::{Scratch, name};

const ZONE: &str = "$ORIGIN t.test.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
www A 192.0.2.10\nwww A 192.0.2.11\n";

/// `update add www <ttl> A 192.0.2.<last>`, through the wire as a server gets it.
fn add_www(ttl: u32, last: u8) -> Message {
    let mut m = Message::new(1, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("t.test."), RecordType::SOA));
    m.add_authority(Record::from_rdata(
        name("www.t.test."),
        ttl,
        RData::A(A::new(192, 0, 2, last)),
    ));
    Message::from_vec(&m.to_vec().expect("encodes")).expect("parses")
}

/// The TTLs of `www A` among `records`, in order, deduplicated.
fn www_ttls<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<u32> {
    let mut ttls: Vec<u32> = records
        .into_iter()
        .filter(|r| r.name == name("www.t.test.") && r.record_type() == RecordType::A)
        .map(|r| r.ttl)
        .collect();
    ttls.sort_unstable();
    ttls.dedup();
    ttls
}

/// RFC 2181 §5.2: the RRs of an RRset must share one TTL, and a client seeing them differ
/// "should treat this as an error". After `update add www 60 A 192.0.2.10` (a member already
/// there, with another TTL) tern served `www` at 60 and 300 at once. BIND sets the whole RRset
/// to the new TTL (update.c: "TTL of the RRset is changed to the new TTL"); tern does too.
#[test]
fn an_update_leaves_each_rrset_with_one_ttl() {
    let zone = Zone::from_text(ZONE, Path::new("t.zone"), None).expect("zone");
    let applied = apply(&zone, &add_www(60, 10)).expect("accepted");
    let after = patched(zone.records().cloned(), &applied.diff);
    assert_eq!(www_ttls(&after), [60], "TTLs of www A");
    // A new member too: its TTL becomes the RRset's.
    let applied = apply(&zone, &add_www(600, 12)).expect("accepted");
    let after = patched(zone.records().cloned(), &applied.diff);
    assert_eq!(www_ttls(&after), [600], "TTLs of www A");
}

/// The TTL change of the members the update did not name reaches the journal and the IXFR
/// history as RFC 1995 wants it (each old RR removed, the new one added), and a restart that
/// replays the journal serves the same single TTL.
#[test]
fn the_rrsets_new_ttl_is_journalled_and_served_by_ixfr() {
    let dir = Scratch::new("rv-auth2-ttl");
    let file = dir.join("t.zone");
    std::fs::write(&file, ZONE).expect("write");
    let mut source = ZoneFile::new(name("t.test."), file);
    source.journal = Some(dir.join("t.zone.jnl"));
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    let updated = store
        .update(&name("t.test."), &add_www(600, 12))
        .expect("accepted");
    assert!(updated.changed);
    let catalog = store.catalog().expect("builds");
    let zone = catalog.find(&name("t.test.")).expect("zone");
    let step = zone.history().last().expect("one IXFR step");
    let shown = |rs: &[Record]| -> Vec<String> {
        let mut v: Vec<String> = rs
            .iter()
            .filter(|r| r.record_type() == RecordType::A)
            .map(|r| format!("{} {}", r.ttl, r.data))
            .collect();
        v.sort();
        v
    };
    assert_eq!(shown(&step.removed), ["300 192.0.2.10", "300 192.0.2.11"]);
    assert_eq!(
        shown(&step.added),
        ["600 192.0.2.10", "600 192.0.2.11", "600 192.0.2.12"]
    );
    assert_eq!(www_ttls(zone.records()), [600]);
    drop(store);
    let restarted = ZoneStore::load(std::slice::from_ref(&source)).expect("replays");
    let catalog = restarted.catalog().expect("builds");
    let zone = catalog.find(&name("t.test.")).expect("zone");
    assert_eq!(www_ttls(zone.records()), [600]);
    assert_eq!(zone.serial(), updated.serial);
}
