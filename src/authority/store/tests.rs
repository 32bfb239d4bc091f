//! The store: owned names, reloads, refusals, and dynamic updates with their journal.
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::A;

use super::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn a(owner: &str, last: u8) -> Record {
    Record::from_rdata(name(owner), 5, RData::A(A::new(127, 0, 0, last)))
}

fn setup(tag: &str, text: &str) -> (PathBuf, ZoneFile) {
    let dir = std::env::temp_dir().join(format!("tern-store-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("c.zone");
    std::fs::write(&file, text).expect("write");
    let source = ZoneFile::new(name("c.test."), file);
    (dir, source)
}

const ZONE: &str = "$TTL 60\n@ SOA ns h 100 2 3 4 5\n@ NS ns\nns A 127.0.0.1\nweb A 127.0.0.9\n";

fn answers(store: &ZoneStore, qname: &str) -> Vec<String> {
    let catalog = store.catalog().expect("builds");
    let mut out: Vec<String> = catalog
        .answer(&name(qname), RecordType::A)
        .expect("served")
        .answers
        .iter()
        .map(|r| r.data.to_string())
        .collect();
    out.sort();
    out
}

fn serial(store: &ZoneStore) -> u32 {
    let catalog = store.catalog().expect("builds");
    catalog.find(&name("c.test.")).expect("zone").serial()
}

#[test]
fn owned_names_replace_the_file_and_survive_a_reload() {
    let (dir, source) = setup("own", ZONE);
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.9"]);
    assert_eq!(serial(&store), 100);
    let owned = Owned {
        names: vec![name("web.c.test.")],
        records: vec![a("web.c.test.", 21), a("web.c.test.", 22)],
    };
    store
        .set_owned(&name("c.test."), "service web", owned.clone())
        .expect("valid");
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.21", "127.0.0.22"]);
    assert_eq!(serial(&store), 101, "one change, one serial");
    store
        .set_owned(&name("c.test."), "service web", owned)
        .expect("same again");
    assert_eq!(serial(&store), 101, "no change, no new serial");
    // The file changes; a reload keeps the service's records.
    std::fs::write(
        &source.file,
        ZONE.replace("127.0.0.9", "127.0.0.10") + "x A 127.0.0.7\n",
    )
    .expect("write");
    store.reload().expect("reloads");
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.21", "127.0.0.22"]);
    assert_eq!(answers(&store, "x.c.test."), ["127.0.0.7"]);
    assert_eq!(serial(&store), 102);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_broken_reload_or_change_leaves_the_store_as_it_was() {
    let (dir, source) = setup("bad", ZONE);
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    std::fs::write(&source.file, ZONE.replace("127.0.0.9", "300.0.0.9")).expect("write");
    let err = store.reload().expect_err("broken file");
    assert!(err.to_string().contains("c.zone:5:"), "{err}");
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.9"]);
    let outside = Owned {
        names: vec![name("web.other.test.")],
        records: vec![a("web.other.test.", 1)],
    };
    assert!(matches!(
        store.set_owned(&name("c.test."), "service web", outside),
        Err(StoreError::OutsideZone { .. })
    ));
    assert!(matches!(
        store.set_owned(&name("nope.test."), "service web", Owned::default()),
        Err(StoreError::NoSuchZone(_))
    ));
    // A CNAME beside other data would not be a valid zone.
    let clash = Owned {
        names: vec![name("ns.c.test.")],
        records: vec![
            a("ns.c.test.", 1),
            Record::from_rdata(
                name("ns.c.test."),
                5,
                RData::CNAME(hickory_proto::rr::rdata::CNAME(name("web.c.test."))),
            ),
        ],
    };
    assert!(
        store
            .set_owned(&name("c.test."), "service ns", clash)
            .is_err()
    );
    assert_eq!(serial(&store), 100, "nothing changed");
    std::fs::remove_dir_all(&dir).ok();
}

/// An UPDATE for `c.test.` adding each record, after the prerequisite that `must_exist` has an
/// A RRset, if given.
fn update_adding(records: Vec<Record>, must_exist: Option<&str>) -> hickory_proto::op::Message {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::DNSClass;
    let mut m = Message::new(9, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("c.test."), RecordType::SOA));
    if let Some(owner) = must_exist {
        let mut pre = Record::update0(name(owner), 0, RecordType::A);
        pre.dns_class = DNSClass::ANY;
        m.add_answer(pre);
    }
    for r in records {
        m.add_authority(r);
    }
    // Through the wire format, as a server receives it.
    Message::from_vec(&m.to_vec().expect("encodes")).expect("parses")
}

#[test]
fn updates_are_journaled_replayed_and_survive_reloads() {
    let (dir, mut source) = setup("upd", ZONE);
    source.journal = Some(dir.join("c.zone.jnl"));
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    assert_eq!(serial(&store), 100);
    let serial_after = store
        .update(
            &name("c.test."),
            &update_adding(vec![a("api.c.test.", 40)], None),
        )
        .expect("accepted");
    assert_eq!(serial_after, 101);
    assert_eq!(answers(&store, "api.c.test."), ["127.0.0.40"]);
    assert!(
        std::fs::read_to_string(dir.join("c.zone.jnl"))
            .expect("journal")
            .contains("api.c.test.")
    );
    // Nothing new: no serial, no journal entry.
    let same = store
        .update(
            &name("c.test."),
            &update_adding(vec![a("api.c.test.", 40)], None),
        )
        .expect("accepted");
    assert_eq!(same, 101);
    // A failed prerequisite changes nothing.
    let refused = store
        .update(
            &name("c.test."),
            &update_adding(vec![a("x.c.test.", 1)], Some("nope.c.test.")),
        )
        .expect_err("prerequisite fails");
    assert_eq!(refused.rcode(), ResponseCode::NXRRSet);
    assert_eq!(serial(&store), 101);
    // A reload keeps the update; so does a restart, which replays the journal.
    store.reload().expect("reloads");
    assert_eq!(answers(&store, "api.c.test."), ["127.0.0.40"]);
    let mut restarted = ZoneStore::load(std::slice::from_ref(&source)).expect("loads again");
    assert_eq!(answers(&restarted, "api.c.test."), ["127.0.0.40"]);
    assert_eq!(serial(&restarted), 101);

    // A service steps the serial without a journal entry; updates go on from there, and its
    // names are not theirs to change.
    let owned = Owned {
        names: vec![name("web.c.test.")],
        records: vec![a("web.c.test.", 7)],
    };
    restarted
        .set_owned(&name("c.test."), "service web", owned)
        .expect("service");
    assert_eq!(serial(&restarted), 102);
    let next = restarted
        .update(
            &name("c.test."),
            &update_adding(vec![a("db.c.test.", 5)], None),
        )
        .expect("accepted after a serial step it did not make");
    assert_eq!(next, 103);
    let theirs = restarted
        .update(
            &name("c.test."),
            &update_adding(vec![a("web.c.test.", 8)], None),
        )
        .expect_err("a service's name");
    assert_eq!(theirs.rcode(), ResponseCode::Refused);
    assert_eq!(answers(&restarted, "web.c.test."), ["127.0.0.7"]);
    let again = ZoneStore::load(std::slice::from_ref(&source)).expect("loads a third time");
    assert_eq!(answers(&again, "db.c.test."), ["127.0.0.5"]);
    assert_eq!(serial(&again), 103);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_zone_without_a_journal_takes_no_updates() {
    let (dir, source) = setup("nojnl", ZONE);
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    let err = store
        .update(
            &name("c.test."),
            &update_adding(vec![a("api.c.test.", 40)], None),
        )
        .expect_err("no journal");
    assert_eq!(err.rcode(), ResponseCode::Refused);
    assert_eq!(serial(&store), 100);
    std::fs::remove_dir_all(&dir).ok();
}
