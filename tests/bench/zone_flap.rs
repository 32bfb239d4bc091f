//! What one health flap costs the zone store when it serves many zones with a long update
//! history: 1,000 zones, 10,000 journaled UPDATEs (10 per zone), then a service's records in
//! one zone flip between two addresses, as an instance going down and up does; each flip is
//! timed together with the catalog the handler would be handed. Issue 17 asks that this cost
//! grow with the zone that changed, not with every zone and every past update.
//!
//! `cargo bench --bench zone_flap` prints the load time and the flip's min/median/max. Under
//! `cargo test` the same steps run on 20 zones, to keep the code working without slowing the
//! suite down. Files go to /dev/shm when it exists (a journal append is synced; tmpfs makes
//! that free, so the figure is the store's own work).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern::{Owned, ZoneFile, ZoneStore};

struct Size {
    zones: usize,
    updates_per_zone: usize,
    flips: usize,
}

const BENCH: Size = Size {
    zones: 1_000,
    updates_per_zone: 10,
    flips: 200,
};
const SMOKE: Size = Size {
    zones: 20,
    updates_per_zone: 3,
    flips: 5,
};

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn a(owner: &Name, last: u8) -> Record {
    Record::from_rdata(owner.clone(), 30, RData::A(A::new(192, 0, 2, last)))
}

/// An UPDATE of `origin` adding `owner A 192.0.2.<last>`, as it comes off the wire.
fn update(origin: &Name, owner: &Name, last: u8) -> Message {
    let mut m = Message::new(1, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(origin.clone(), RecordType::SOA));
    m.add_authority(a(owner, last));
    Message::from_vec(&m.to_vec().expect("encodes")).expect("parses")
}

fn main() {
    let size = if std::env::args().any(|a| a == "--bench") {
        BENCH
    } else {
        SMOKE
    };
    let base = match PathBuf::from("/dev/shm") {
        shm if shm.is_dir() => shm,
        _ => std::env::temp_dir(),
    };
    let dir = base.join(format!("tern-zone-flap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let mut sources = Vec::new();
    for i in 0..size.zones {
        let origin = name(&format!("z{i}.test."));
        let file = dir.join(format!("z{i}.zone"));
        let mut text = format!(
            "$ORIGIN z{i}.test.\n$TTL 300\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\n\
             ns A 192.0.2.1\nweb A 192.0.2.2\n"
        );
        for h in 0..20 {
            text.push_str(&format!("host{h} A 192.0.2.{}\n", 10 + h));
        }
        std::fs::write(&file, text).expect("zone file");
        sources.push(ZoneFile {
            journal: Some(dir.join(format!("z{i}.zone.jnl"))),
            ..ZoneFile::new(origin, file)
        });
    }
    let mut store = ZoneStore::load(&sources).expect("loads");
    for source in &sources {
        for u in 0..size.updates_per_zone {
            let owner = name(&format!("u{u}.{}", source.origin));
            let msg = update(&source.origin, &owner, u as u8);
            store.update(&source.origin, &msg).expect("update applies");
        }
    }
    let started = Instant::now();
    let mut store = ZoneStore::load(&sources).expect("loads again, replaying every journal");
    let load = started.elapsed();

    let zone = sources[size.zones / 2].origin.clone();
    let web = name(&format!("web.{zone}"));
    let mut flips = Vec::with_capacity(size.flips);
    for i in 0..size.flips {
        let owned = Owned {
            names: vec![web.clone()],
            records: vec![a(&web, if i % 2 == 0 { 3 } else { 4 })],
        };
        let started = Instant::now();
        store
            .set_owned(&zone, "service web", owned)
            .expect("a valid service");
        let catalog = store.catalog().expect("builds");
        flips.push(started.elapsed());
        assert!(catalog.find(&web).is_some());
    }
    flips.sort();
    let median = flips[flips.len() / 2];
    let (min, max) = (flips[0], flips[flips.len() - 1]);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "zones {} updates {}: load {:.1} ms; one flip and its catalog: min {:.3} ms, median {:.3} ms, max {:.3} ms ({} flips)",
        size.zones,
        size.zones * size.updates_per_zone,
        ms(load),
        ms(min),
        ms(median),
        ms(max),
        size.flips
    );
    let _ = std::fs::remove_dir_all(&dir);
}
