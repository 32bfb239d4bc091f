//! RFC 2136 UPDATE semantics, fed anything that parses as a message: `update::apply` must never
//! panic, and an update it accepts must describe a real change to the zone (every removed
//! record was there, every record is inside the zone) whose result builds as a zone, since the
//! store journals it and replays it at every start.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use hickory_proto::op::{Message, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;
use tern::Zone;
use tern::{Located, Location};
use tern::{apply_update as apply, patched};

/// Every kind of node an update can meet: apex, a delegation with glue, a CNAME, a DNAME, a
/// wildcard, an empty non-terminal, and an RRset of several records.
const ZONE: &str = r#"
$TTL 300
@        IN SOA  ns1 hostmaster 1 7200 3600 1209600 300
@        IN NS   ns1
ns1      IN A    192.0.2.53
www      IN A    192.0.2.1
www      IN A    192.0.2.2
www      IN AAAA 2001:db8::1
*.apps   IN A    192.0.2.80
old      IN DNAME apps.fuzz.test.
alias    IN CNAME www
sub      IN NS   ns.sub
ns.sub   IN A    192.0.2.54
a.b.ent  IN A    192.0.2.9
_web._tcp IN SRV 0 1 80 www
"#;

fn zone() -> &'static Zone {
    static ZONE_: OnceLock<Zone> = OnceLock::new();
    ZONE_.get_or_init(|| {
        let origin = Name::from_ascii("fuzz.test.").expect("origin");
        Zone::from_text(ZONE, Path::new("fuzz.test.zone"), Some(&origin)).expect("valid zone")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut update) = Message::from_vec(data) else {
        return;
    };
    let zone = zone();
    // Most inputs get a valid header and zone section, so the fuzzer spends its time on the
    // prerequisites and updates; the low bit of the first byte leaves them as sent.
    if data.first().is_some_and(|b| b & 1 == 0) {
        update.metadata.op_code = OpCode::Update;
        update.queries = vec![Query::query(zone.origin().clone(), RecordType::SOA)];
    }
    let Ok(applied) = apply(zone, &update) else {
        return;
    };
    // What §3.4.2 ignores was still an update RR of the zone (else the update is NOTZONE).
    for i in &applied.ignored {
        assert!(
            zone.origin().zone_of(&i.name),
            "ignored {} outside the zone",
            i.name
        );
    }
    let diff = applied.diff;
    let before: Vec<_> = zone.records().cloned().collect();
    for r in &diff.removed {
        assert!(
            before.contains(r),
            "removed a record that was not there: {r}"
        );
    }
    for r in diff.removed.iter().chain(&diff.added) {
        assert!(zone.origin().zone_of(&r.name), "{r} is outside the zone");
    }
    let at = Location {
        file: "UPDATE".into(),
        line: 0,
    };
    let after: Vec<Located> = patched(before, &diff)
        .into_iter()
        .map(|record| Located {
            record,
            at: at.clone(),
        })
        .collect();
    if let Err(e) = Zone::from_records(Some(zone.origin()), after, Path::new("fuzz.test.zone")) {
        panic!("an accepted update leaves a zone that does not build: {e}");
    }
});
