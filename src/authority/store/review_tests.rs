//! Review probes of UPDATE's serial handling across changes and restarts.

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::{A, SOA};

use super::*;
use crate::testing::{Scratch, name};

const ZONE: &str = "$TTL 60\n@ SOA ns h 100 2 3 4 5\n@ NS ns\nns A 127.0.0.1\n";

fn update(records: Vec<Record>) -> Message {
    let mut m = Message::new(9, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("c.test."), RecordType::SOA));
    for r in records {
        m.add_authority(r);
    }
    Message::from_vec(&m.to_vec().expect("encodes")).expect("parses")
}

fn a(owner: &str, last: u8) -> Record {
    Record::from_rdata(name(owner), 5, RData::A(A::new(127, 0, 0, last)))
}

fn soa(serial: u32) -> Record {
    let soa = SOA::new(name("ns.c.test."), name("h.c.test."), serial, 2, 3, 4, 5);
    Record::from_rdata(name("c.test."), 60, RData::SOA(soa))
}

fn served_serial(store: &ZoneStore) -> u32 {
    let catalog = store.catalog().expect("builds");
    catalog.find(&name("c.test.")).expect("zone").serial()
}

/// RFC 2136 §3.4.2.2 and §3.6: an UPDATE may replace the SOA with one of a later serial, and
/// the zone is then served at that serial. After an earlier change has stepped the serial
/// past the file's, the SOA the update replaces is the served one, not the file's: the update
/// must still apply (not leave two SOAs), and a restart replays it to the same serial.
#[test]
fn an_soa_update_after_a_serial_step_applies_and_replays() {
    let dir = Scratch::new("rev7-soa-update");
    let file = dir.join("c.zone");
    std::fs::write(&file, ZONE).expect("write");
    let mut source = ZoneFile::new(name("c.test."), file);
    source.journal = Some(dir.join("c.zone.jnl"));
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    let first = store
        .update(&name("c.test."), &update(vec![a("api.c.test.", 4)]))
        .expect("add A");
    assert_eq!(first.serial, 101);
    let raised = store
        .update(&name("c.test."), &update(vec![soa(600)]))
        .map(|u| u.serial)
        .map_err(|e| e.to_string());
    assert_eq!(raised, Ok(600));
    drop(store);
    let restarted = ZoneStore::load(std::slice::from_ref(&source)).map_err(|e| e.to_string());
    assert_eq!(restarted.as_ref().map(served_serial), Ok(600));
}
