//! A secondary's reader of zone transfers, fed a stream of messages cut from the input (each
//! chunk a 2-byte length and a message, as over TCP): `Incoming::feed` must never panic, and a
//! finished transfer must be usable: a whole zone starts with the SOA of the zone asked for,
//! and increments apply (or are refused) without panicking.

#![no_main]

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData};
use libfuzzer_sys::fuzz_target;
use tern::{Incoming, Progress, Transfer, apply_deltas};

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let zone = Name::from_ascii("fuzz.test.").expect("zone");
    // The first byte picks AXFR or IXFR from one of a few serials (wrap-around included).
    let have = match first % 4 {
        0 => None,
        1 => Some(1),
        2 => Some(u32::MAX),
        _ => Some(0x8000_0000),
    };
    let mut incoming = Incoming::new(zone.clone(), have);
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + len).min(rest.len());
        let chunk = &rest[2..end];
        rest = &rest[end..];
        let Ok(message) = Message::from_vec(chunk) else {
            continue;
        };
        match incoming.feed(&message) {
            Ok(Progress::More) => {}
            Ok(Progress::Done(Transfer::Full(records))) => {
                let soa = records.first().expect("a whole zone is never empty");
                assert!(
                    matches!(soa.data, RData::SOA(_)),
                    "a whole zone starts with its SOA"
                );
                assert_eq!(soa.name, zone, "the SOA of the zone asked for");
                return;
            }
            Ok(Progress::Done(Transfer::Incremental(steps))) => {
                // Applied to an empty zone: refused, never a panic.
                let _ = apply_deltas(Vec::new(), &steps);
                return;
            }
            Ok(Progress::Done(Transfer::UpToDate(_))) | Err(_) => return,
        }
    }
});
