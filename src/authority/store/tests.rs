//! The store: owned names, reloads, refusals, and dynamic updates with their journal.
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::A;

use super::*;
use crate::testing::{Scratch, name};

fn a(owner: &str, last: u8) -> Record {
    Record::from_rdata(name(owner), 5, RData::A(A::new(127, 0, 0, last)))
}

fn setup(tag: &str, text: &str) -> (Scratch, ZoneFile) {
    let dir = Scratch::new(&format!("store-{tag}"));
    let file = dir.join("c.zone");
    std::fs::write(&file, text).expect("write");
    let source = ZoneFile::new(name("c.test."), file);
    (dir, source)
}

/// A store of the one zone `source` (loaded again, a restart).
fn load(source: &ZoneFile) -> ZoneStore {
    ZoneStore::load(std::slice::from_ref(source)).expect("loads")
}

/// What a service named `web` owns: `web.c.test.` and its one address, `127.0.0.<last>`.
fn web(last: u8) -> Owned {
    Owned {
        names: vec![name("web.c.test.")],
        records: vec![a("web.c.test.", last)],
    }
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

/// The serials IXFR can lead a client through: each step of the served zone's history.
fn steps(store: &ZoneStore) -> Vec<(u32, u32)> {
    let catalog = store.catalog().expect("builds");
    let zone = catalog.find(&name("c.test.")).expect("zone");
    let serial = |r: &Record| match &r.data {
        RData::SOA(soa) => soa.serial,
        _ => 0,
    };
    zone.history()
        .iter()
        .map(|d| (serial(&d.from), serial(&d.to)))
        .collect()
}

#[test]
fn owned_names_replace_the_file_and_survive_a_reload() {
    let (_dir, source) = setup("own", ZONE);
    let mut store = load(&source);
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
}

#[test]
fn a_broken_reload_or_change_leaves_the_store_as_it_was() {
    let (_dir, source) = setup("bad", ZONE);
    let mut store = load(&source);
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
}

/// Applies an UPDATE of `c.test.` that adds `owner A 127.0.0.<last>`, after the prerequisite
/// that `must_exist` has an A RRset, if given.
fn add_a(
    store: &mut ZoneStore,
    owner: &str,
    last: u8,
    must_exist: Option<&str>,
) -> Result<u32, StoreError> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::DNSClass;
    let mut m = Message::new(9, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("c.test."), RecordType::SOA));
    if let Some(owner) = must_exist {
        let mut pre = Record::update0(name(owner), 0, RecordType::A);
        pre.dns_class = DNSClass::ANY;
        m.add_answer(pre);
    }
    m.add_authority(a(owner, last));
    // Through the wire format, as a server receives it.
    let m = Message::from_vec(&m.to_vec().expect("encodes")).expect("parses");
    store.update(&name("c.test."), &m).map(|u| u.serial)
}

#[test]
fn updates_are_journaled_replayed_and_survive_reloads() {
    let (dir, mut source) = setup("upd", ZONE);
    source.journal = Some(dir.join("c.zone.jnl"));
    let mut store = load(&source);
    assert_eq!(serial(&store), 100);
    let serial_after = add_a(&mut store, "api.c.test.", 40, None).expect("accepted");
    assert_eq!(serial_after, 101);
    assert_eq!(answers(&store, "api.c.test."), ["127.0.0.40"]);
    assert!(
        std::fs::read_to_string(dir.join("c.zone.jnl"))
            .expect("journal")
            .contains("api.c.test.")
    );
    // Nothing new: no serial, no journal entry.
    let same = add_a(&mut store, "api.c.test.", 40, None).expect("accepted");
    assert_eq!(same, 101);
    // A failed prerequisite changes nothing.
    let refused =
        add_a(&mut store, "x.c.test.", 1, Some("nope.c.test.")).expect_err("prerequisite fails");
    assert_eq!(refused.rcode(), ResponseCode::NXRRSet);
    assert_eq!(serial(&store), 101);
    // A reload keeps the update; so does a restart, which replays the journal.
    store.reload().expect("reloads");
    assert_eq!(answers(&store, "api.c.test."), ["127.0.0.40"]);
    let mut restarted = load(&source);
    assert_eq!(answers(&restarted, "api.c.test."), ["127.0.0.40"]);
    assert_eq!(serial(&restarted), 101);

    // A service steps the serial (a step in the journal); updates go on from there, and its
    // names are not theirs to change.
    restarted
        .set_owned(&name("c.test."), "service web", web(7))
        .expect("service");
    assert_eq!(serial(&restarted), 102);
    let next = add_a(&mut restarted, "db.c.test.", 5, None)
        .expect("accepted after a serial step it did not make");
    assert_eq!(next, 103);
    let theirs = add_a(&mut restarted, "web.c.test.", 8, None).expect_err("a service's name");
    assert_eq!(theirs.rcode(), ResponseCode::Refused);
    assert_eq!(answers(&restarted, "web.c.test."), ["127.0.0.7"]);
    // A restart that registers the service again serves the same content: the same serial.
    let mut again = ZoneStore::open(std::slice::from_ref(&source)).expect("opens a third time");
    again
        .set_owned(&name("c.test."), "service web", web(7))
        .expect("service");
    again.commit_pending().expect("serves");
    assert_eq!(answers(&again, "db.c.test."), ["127.0.0.5"]);
    assert_eq!(serial(&again), 103);
    // Without the service the content differs from what 103 was: a later serial, never 103.
    let without = load(&source);
    assert_eq!(answers(&without, "web.c.test."), ["127.0.0.9"]);
    assert_eq!(serial(&without), 104);
}

#[test]
fn a_zone_without_a_journal_takes_no_updates() {
    let (_dir, source) = setup("nojnl", ZONE);
    let mut store = load(&source);
    let err = add_a(&mut store, "api.c.test.", 40, None).expect_err("no journal");
    assert_eq!(err.rcode(), ResponseCode::Refused);
    assert_eq!(serial(&store), 100);
}

/// The serial a restart serves never goes below the last one served, whatever changed it:
/// a service's records (a health flap), a reload of a file edited without a new serial.
#[test]
fn a_restart_goes_on_from_the_last_serial_served() {
    let (dir, mut source) = setup("restart", ZONE);
    source.journal = Some(dir.join("c.zone.jnl"));
    let start = |owned: Option<Owned>| {
        let mut store = ZoneStore::open(std::slice::from_ref(&source)).expect("opens");
        if let Some(owned) = owned {
            store
                .set_owned(&name("c.test."), "service web", owned)
                .expect("service");
        }
        store.commit_pending().expect("serves");
        store
    };
    let mut store = start(Some(web(1)));
    assert_eq!(
        serial(&store),
        100,
        "a first start serves the file's serial"
    );
    // Two flaps: down to another address and back.
    store
        .set_owned(&name("c.test."), "service web", web(2))
        .expect("flap");
    assert_eq!(serial(&store), 101);
    store
        .set_owned(&name("c.test."), "service web", web(1))
        .expect("flap back");
    assert_eq!(serial(&store), 102);
    drop(store);
    // Killed and started again with the same services: the same content, the same serial.
    let store = start(Some(web(1)));
    assert_eq!(serial(&store), 102);
    drop(store);
    // Started while the instance is down: other content, the next serial.
    let mut store = start(Some(web(2)));
    assert_eq!(serial(&store), 103);
    // The file edited without raising its serial, then reloaded: 104, and after a restart
    // with the same services, still 104 (not the file's 100).
    std::fs::write(&source.file, format!("{ZONE}x A 127.0.0.7\n")).expect("edit");
    store.reload().expect("reloads");
    assert_eq!(serial(&store), 104);
    assert_eq!(answers(&store, "x.c.test."), ["127.0.0.7"]);
    drop(store);
    let store = start(Some(web(2)));
    assert_eq!(serial(&store), 104);
    // Every step since the first start is still there for IXFR, across three restarts.
    assert_eq!(
        steps(&store),
        [(100, 101), (101, 102), (102, 103), (103, 104)]
    );
    drop(store);
    // An operator who raises the file's serial past ours gets it, content or not.
    std::fs::write(
        &source.file,
        format!("{ZONE}x A 127.0.0.7\n").replace(" 100 ", " 500 "),
    )
    .expect("edit");
    let store = start(Some(web(2)));
    assert_eq!(serial(&store), 500);
    assert_eq!(steps(&store).last(), Some(&(104, 500)));
    // The journal holds each step with what it changed: the first start's snapshot, then
    // increments (the restart that found the instance down took 127.0.0.1 out).
    let journal = std::fs::read_to_string(dir.join("c.zone.jnl")).expect("journal");
    assert!(
        journal.contains("; tern journal snapshot 100 -> 100 content "),
        "{journal}"
    );
    let step = journal
        .split("; tern journal step 102 -> 103 content ")
        .nth(1)
        .expect("the step of the restart with other content");
    assert!(step.contains("\n< web.c.test. "), "{journal}");
    assert!(step.contains("\n> web.c.test. "), "{journal}");
}

/// Without a journal a zone still steps its serial on every change; a restart starts from
/// the file again (nothing durable to go on from).
#[test]
fn changes_step_the_serial_in_one_zone_only() {
    let (dir, source) = setup("onezone", ZONE);
    let other_file = dir.join("d.zone");
    std::fs::write(&other_file, ZONE).expect("write");
    let other = ZoneFile::new(name("d.test."), other_file);
    let mut store = ZoneStore::load(&[source, other]).expect("loads");
    let before = store.catalog().expect("builds");
    let d_before = Arc::clone(before.find(&name("d.test.")).expect("d"));
    store
        .set_owned(&name("c.test."), "service web", web(3))
        .expect("service");
    let after = store.catalog().expect("builds");
    assert_eq!(after.find(&name("c.test.")).expect("c").serial(), 101);
    // The other zone's snapshot is the very same one: it was not rebuilt.
    assert!(Arc::ptr_eq(
        &d_before,
        after.find(&name("d.test.")).expect("d")
    ));
}

/// A secondary's copy that expired is served again when a transfer brings the same data: the
/// catalog changes (the owner publishes it) although the zone's snapshot does not.
#[test]
fn an_expired_copy_confirmed_by_a_transfer_is_served_again() {
    let (dir, _) = setup("expired", ZONE);
    let source = ZoneFile::secondary(name("c.test."), dir.join("copy.zone"));
    let mut store = load(&source);
    let primary = ZoneStore::load(&[ZoneFile::new(name("c.test."), dir.join("c.zone"))])
        .expect("the primary's data");
    let records = primary.records(&name("c.test.")).expect("records");
    store
        .transfer_in(&name("c.test."), records.clone())
        .expect("first copy");
    assert_eq!(serial(&store), 100);
    let served = store.version();
    store
        .set_available(&name("c.test."), false)
        .expect("expires");
    assert!(store.version() > served);
    let gone = store.catalog().expect("builds");
    assert!(gone.is_unavailable(&name("web.c.test.")));
    let expired = store.version();
    store
        .transfer_in(&name("c.test."), records)
        .expect("the same data again");
    assert!(
        store.version() > expired,
        "{served} -> {expired} -> {}",
        store.version()
    );
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.9"]);
}

/// What the owner publishes is what the store holds, also when an edit of several changes
/// fails part way: the changes before the failure are served, not held back unpublished.
#[test]
fn the_owner_publishes_what_a_failed_edit_changed_before_failing() {
    let (_dir, source) = setup("owner", ZONE);
    let published = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&published);
    let store = ZoneStore::open(std::slice::from_ref(&source)).expect("opens");
    let owner = ZoneOwner::new(store, move |catalog| {
        let serial = catalog.find(&name("c.test.")).map(|z| z.serial());
        seen.lock().expect("lock").push(serial);
    });
    owner
        .change(|store| store.commit_pending())
        .expect("serves");
    let failed = owner.change(|store| {
        store.set_owned(&name("c.test."), "service web", web(3))?;
        store.set_owned(&name("nope.test."), "service web", Owned::default())
    });
    assert!(matches!(failed, Err(StoreError::NoSuchZone(_))));
    assert_eq!(*published.lock().expect("lock"), [Some(100), Some(101)]);
    // Nothing changed: nothing published.
    owner.change(|_| Ok(())).expect("no change");
    assert_eq!(published.lock().expect("lock").len(), 2);
}

/// A secondary with a journal keeps its copy there: a restart without the copy file serves
/// the last transfer's data at its serial, and still has the increments for IXFR.
#[test]
fn a_secondary_restarts_from_its_journal() {
    let (dir, _) = setup("secondary-journal", ZONE);
    let source = ZoneFile {
        journal: Some(dir.join("copy.zone.jnl")),
        ..ZoneFile::secondary(name("c.test."), dir.join("copy.zone"))
    };
    let mut store = load(&source);
    let mut primary = ZoneStore::load(&[ZoneFile::new(name("c.test."), dir.join("c.zone"))])
        .expect("the primary's data");
    let transfer = |store: &mut ZoneStore, primary: &ZoneStore| {
        let records = primary.records(&name("c.test.")).expect("records");
        store.transfer_in(&name("c.test."), records).expect("copy");
    };
    transfer(&mut store, &primary);
    primary
        .set_owned(&name("c.test."), "service web", web(3))
        .expect("the primary changes");
    transfer(&mut store, &primary);
    assert_eq!((serial(&store), steps(&store)), (101, vec![(100, 101)]));
    drop(store);
    // No copy file (never written, or lost): the journal is the copy.
    assert!(!dir.join("copy.zone").exists());
    let store = load(&source);
    assert_eq!(serial(&store), 101);
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.3"]);
    assert_eq!(steps(&store), [(100, 101)]);
    // A copy file later than the journal (put there by hand) wins.
    let newer = ZONE
        .replace(" 100 ", " 200 ")
        .replace("127.0.0.9", "127.0.0.4");
    std::fs::write(dir.join("copy.zone"), newer).expect("write");
    let store = load(&source);
    assert_eq!(serial(&store), 200);
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.4"]);
}

/// An UPDATE of the `c.test.` zone with `updates` in its update section, through the wire.
fn update_of(updates: Vec<Record>) -> hickory_proto::op::Message {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    let mut m = Message::new(9, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("c.test."), RecordType::SOA));
    for rr in updates {
        m.add_authority(rr);
    }
    Message::from_vec(&m.to_vec().expect("encodes")).expect("parses")
}

#[test]
fn a_cname_beside_other_data_is_accepted_unchanged_and_reported_ignored() {
    use crate::authority::update::Why;
    use hickory_proto::rr::rdata::CNAME;
    let (dir, mut source) = setup("cname", ZONE);
    source.journal = Some(dir.join("c.zone.jnl"));
    let mut store = load(&source);
    let cname = Record::from_rdata(
        name("web.c.test."),
        5,
        RData::CNAME(CNAME(name("ns.c.test."))),
    );
    // RFC 2136 §3.4.2.2: ignored, and the update succeeds; the zone stays as it was.
    let done = store
        .update(&name("c.test."), &update_of(vec![cname.clone()]))
        .expect("accepted");
    assert!(!done.changed);
    assert_eq!(done.serial, 100);
    assert_eq!(done.ignored.len(), 1);
    assert_eq!(done.ignored[0].name, name("web.c.test."));
    assert_eq!(done.ignored[0].why, Why::CnameBesideData);
    assert_eq!(answers(&store, "web.c.test."), ["127.0.0.9"]);
    // Beside a change that applies: the zone changes and the CNAME is still named.
    let done = store
        .update(
            &name("c.test."),
            &update_of(vec![cname, a("api.c.test.", 4)]),
        )
        .expect("accepted");
    assert!(done.changed);
    assert_eq!(done.serial, 101);
    assert_eq!(done.ignored.len(), 1);
}
