//! A zone signed offline keeps the serial its SOA's RRSIG covers: tern cannot re-sign, so a
//! change without a later serial is refused instead of served under a broken signature.

use hickory_proto::rr::RecordType;

use super::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

const SIGNED: &str = include_str!("../../../zones/signed/signed.test.zone.signed");
const SERIAL: u32 = 2026120601;

fn serial(store: &ZoneStore) -> u32 {
    let catalog = store.catalog().expect("builds");
    catalog.find(&name("signed.test.")).expect("zone").serial()
}

#[test]
fn a_signed_zone_keeps_its_signed_serial_and_refuses_new_content_without_a_later_one() {
    let dir = std::env::temp_dir().join(format!("tern-store-signed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let scratch = Scratch(dir);
    let file = scratch.0.join("signed.test.zone");
    std::fs::write(&file, SIGNED).expect("write");
    let source = ZoneFile {
        journal: Some(scratch.0.join("signed.test.zone.jnl")),
        ..ZoneFile::new(name("signed.test."), &file)
    };
    let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
    assert_eq!(serial(&store), SERIAL);

    // New content under the same serial (an unsigned record added by hand): refused, and
    // what is served stays the signed zone at its serial.
    std::fs::write(
        &file,
        format!("{SIGNED}extra.signed.test. 60 IN A 192.0.2.99\n"),
    )
    .expect("edit");
    let refused = store.reload().expect_err("refused");
    assert!(refused.to_string().contains("is signed"), "{refused}");
    assert!(refused.to_string().contains("-N increment"), "{refused}");
    assert_eq!(serial(&store), SERIAL);
    let served = store.catalog().expect("builds");
    assert!(
        served
            .answer(&name("extra.signed.test."), RecordType::A)
            .is_some_and(|a| a.answers.is_empty())
    );

    // Re-signed with a later serial: taken as it is, not bumped by one.
    let later = SIGNED.replace("2026120601 ; serial", "2026120605 ; serial");
    std::fs::write(&file, &later).expect("edit");
    store.reload().expect("a later serial is taken");
    assert_eq!(serial(&store), 2026120605);
    drop(store);
    // A restart with the same file keeps it (the journal agrees).
    let store = ZoneStore::load(std::slice::from_ref(&source)).expect("restarts");
    assert_eq!(serial(&store), 2026120605);
    // A service's records in a signed zone would be unsigned data: refused the same way.
    let mut store = store;
    let owned = Owned {
        names: vec![name("web.signed.test.")],
        records: vec![Record::from_rdata(
            name("web.signed.test."),
            60,
            RData::A("192.0.2.7".parse().expect("addr")),
        )],
    };
    let refused = store.set_owned(&name("signed.test."), "service web", owned);
    assert!(refused.is_err_and(|e| e.to_string().contains("is signed")));
    assert_eq!(serial(&store), 2026120605);
}
