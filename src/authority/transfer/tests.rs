//! AXFR and IXFR over zone-file text: the primary's records go through `pack`, the wire
//! encoding and `Incoming`, as a secondary would receive them.

use std::path::Path;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use super::*;
use crate::zonefile::{Located, Location, parse_zone_text};

const HEAD: &str = "$ORIGIN example.test.\n$TTL 300\n@ NS ns1\nns1 A 192.0.2.1\n";

fn origin() -> Name {
    Name::from_ascii("example.test.").expect("origin")
}

/// A zone at `serial` with `body` (relative names) besides its SOA, NS and ns1.
fn zone(serial: u32, body: &str) -> Zone {
    let text = format!("{HEAD}@ SOA ns1 host {serial} 3600 600 86400 60\n{body}");
    Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone")
}

/// One record from zone-file text, names relative to example.test.
fn rr(line: &str) -> Record {
    let text = format!("$ORIGIN example.test.\n$TTL 300\n{line}\n");
    let mut parsed = parse_zone_text(&text, Path::new("case"), None).expect("test RR");
    parsed.remove(0).record
}

fn soa(serial: u32) -> Record {
    rr(&format!("@ SOA ns1 host {serial} 3600 600 86400 60"))
}

/// Records as zone-file lines, sorted: equality with TTLs, blind to order.
fn texts<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<String> {
    let mut out: Vec<String> = records.into_iter().map(Record::to_string).collect();
    out.sort();
    out
}

fn request(qtype: RecordType) -> Message {
    let mut msg = Message::new(42, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(origin(), qtype));
    msg
}

/// A response message with `records`, as a primary would send it.
fn reply(records: Vec<Record>) -> Message {
    let mut msg = Message::new(42, MessageType::Response, OpCode::Query);
    msg.metadata.authoritative = true;
    msg.answers = records;
    msg
}

/// Encodes and decodes, as the other end sees it.
fn wire(msg: &Message) -> Message {
    Message::from_vec(&msg.to_vec().expect("encodes")).expect("decodes")
}

/// Feeds every message; the last one must complete the transfer and no earlier one may.
fn receive(have: Option<u32>, messages: &[Message]) -> Result<Transfer, TransferError> {
    let mut incoming = Incoming::new(origin(), have);
    let (last, rest) = messages.split_last().expect("at least one message");
    for msg in rest {
        match incoming.feed(&wire(msg))? {
            Progress::More => {}
            Progress::Done(t) => panic!("done before the last message: {t:?}"),
        }
    }
    match incoming.feed(&wire(last))? {
        Progress::Done(t) => Ok(t),
        Progress::More => panic!("not done after the last message"),
    }
}

const BODY: &str = "www A 192.0.2.10\nwww A 192.0.2.11\nwww 60 TXT \"hello\" \"world\"\n\
                    @ MX 10 mail\nmail A 192.0.2.3\nalias CNAME www\na.b.deep AAAA 2001:db8::1\n\
                    sub NS ns.sub\nns.sub A 192.0.2.30\n";

#[test]
fn axfr_round_trips_through_pack_and_incoming() {
    let z = zone(7, BODY);
    let records = axfr_records(&z);
    assert_eq!(records.len(), z.record_count() + 1, "SOA twice");
    assert_eq!(records.first(), Some(z.soa()));
    assert_eq!(records.last(), Some(z.soa()));
    for max_len in [150, 512, 65535] {
        let messages = pack(&request(RecordType::AXFR), records.clone(), max_len);
        match receive(None, &messages).expect("complete AXFR") {
            Transfer::Full(got) => {
                assert_eq!(texts(&got), texts(z.records()), "max_len {max_len}");
            }
            other => panic!("not a full transfer: {other:?}"),
        }
    }
}

/// Four versions of one zone: v2 changes a TTL and adds a name, v3 removes names, v4 adds
/// to an RRset and changes an address.
fn versions() -> Vec<Zone> {
    vec![
        zone(1, BODY),
        zone(
            2,
            &(BODY.replace("www 60 TXT", "www 120 TXT") + "new A 192.0.2.50\n"),
        ),
        zone(
            3,
            &BODY
                .replace("alias CNAME www\n", "")
                .replace("www 60 TXT", "www 120 TXT"),
        ),
        zone(
            4,
            &(BODY
                .replace("alias CNAME www\n", "")
                .replace("www 60 TXT", "www 120 TXT")
                .replace("192.0.2.3", "192.0.2.4")
                + "www A 192.0.2.12\n"),
        ),
    ]
}

fn history(zones: &[Zone]) -> Vec<Delta> {
    zones
        .windows(2)
        .map(|w| delta(&w[0], &w[1]).expect("versions differ"))
        .collect()
}

#[test]
fn ixfr_with_three_deltas_reproduces_the_newest_zone() {
    let zones = versions();
    let history = history(&zones);
    let newest = &zones[3];
    // From every older version: the increments since, applied to that version's records.
    for (start, old) in zones[..3].iter().enumerate() {
        let IxfrAnswer::Incremental(records) = ixfr_answer(newest, &history, old.serial()) else {
            panic!("no increments from serial {}", old.serial());
        };
        let messages = pack(&request(RecordType::IXFR), records, 200);
        let Transfer::Incremental(deltas) =
            receive(Some(old.serial()), &messages).expect("complete IXFR")
        else {
            panic!("not incremental");
        };
        assert_eq!(deltas, history[start..], "from serial {}", old.serial());
        let applied = apply_deltas(old.records().cloned().collect(), &deltas).expect("applies");
        assert_eq!(texts(&applied), texts(newest.records()));
    }
}

#[test]
fn delta_counts_ttl_changes_and_ignores_name_case() {
    let d = delta(
        &zone(1, "www 60 A 192.0.2.9\n"),
        &zone(2, "www 90 A 192.0.2.9\n"),
    )
    .expect("the TTL changed");
    assert_eq!(texts(&d.removed), ["www.example.test. 60 IN A 192.0.2.9"]);
    assert_eq!(texts(&d.added), ["www.example.test. 90 IN A 192.0.2.9"]);
    assert_eq!(
        (d.from.to_string(), d.to.to_string()),
        (soa(1).to_string(), soa(2).to_string())
    );
    // A snapshot keeps owner names as written (the reader folds case, an UPDATE need not).
    let shouting: Vec<Located> = zone(2, "www A 192.0.2.9\n")
        .records()
        .map(|r| {
            let mut record = r.clone();
            record.name = Name::from_ascii(r.name.to_ascii().to_uppercase()).expect("name");
            let at = Location {
                file: "t.zone".into(),
                line: 1,
            };
            Located { record, at }
        })
        .collect();
    let shouting = Zone::from_records(None, shouting, Path::new("t.zone")).expect("valid");
    assert!(
        shouting
            .records()
            .any(|r| r.name.to_ascii().starts_with("WWW"))
    );
    assert_eq!(delta(&zone(1, "www A 192.0.2.9\n"), &shouting), None);
}

#[test]
fn ixfr_answer_by_client_serial() {
    let zones = versions();
    let full = history(&zones);
    let newest = &zones[3];
    // A history with a gap (no 2 → 3), and one that stops short of the zone's serial.
    let gap = vec![full[0].clone(), full[2].clone()];
    let short = full[..2].to_vec();
    #[derive(Debug, PartialEq)]
    enum Kind {
        UpToDate,
        Incremental(usize),
        Full,
    }
    #[rustfmt::skip]
    let cases: &[(&str, &[Delta], u32, Kind)] = &[
        ("current", &full, 4, Kind::UpToDate),
        ("later", &full, 5, Kind::UpToDate),
        ("later across the wrap", &full, 4 + (1 << 31) - 1, Kind::UpToDate),
        ("one behind", &full, 3, Kind::Incremental(1)),
        ("three behind", &full, 1, Kind::Incremental(3)),
        ("older than the history", &full, 0, Kind::Full),
        ("older across the wrap", &full, u32::MAX, Kind::Full),
        ("before a gap", &gap, 1, Kind::Full),
        ("after a gap", &gap, 3, Kind::Incremental(1)),
        ("history short of the zone", &short, 2, Kind::Full),
        ("no history", &[], 3, Kind::Full),
    ];
    for (what, history, client, want) in cases {
        let got = match ixfr_answer(newest, history, *client) {
            IxfrAnswer::UpToDate(soa) => {
                assert_eq!(soa, *newest.soa(), "{what}");
                Kind::UpToDate
            }
            IxfrAnswer::Incremental(records) => {
                let soas = records
                    .iter()
                    .filter(|r| r.record_type() == RecordType::SOA)
                    .count();
                Kind::Incremental((soas - 2) / 2)
            }
            IxfrAnswer::Full(records) => {
                assert_eq!(records, axfr_records(newest), "{what}");
                Kind::Full
            }
        };
        assert_eq!(&got, want, "{what}");
    }
}

#[test]
fn pack_respects_max_len_over_a_large_zone() {
    let body: String = (0..2000)
        .map(|i| format!("host{i} A 192.0.{}.{}\n", i / 250, i % 250))
        .collect();
    let z = zone(9, &body);
    let records = axfr_records(&z);
    let req = request(RecordType::AXFR);
    for max_len in [512, 4096, 16384] {
        let messages = pack(&req, records.clone(), max_len);
        assert!(messages.len() > 1, "max_len {max_len}");
        for (i, msg) in messages.iter().enumerate() {
            let len = msg.to_vec().expect("encodes").len();
            assert!(len <= max_len, "message {i}: {len} > {max_len}");
            assert!(!msg.answers.is_empty());
            assert_eq!(msg.queries.len(), usize::from(i == 0), "message {i}");
            let head = &msg.metadata;
            assert_eq!(head.id, 42);
            assert_eq!(head.message_type, MessageType::Response);
            assert_eq!(head.op_code, OpCode::Query);
            assert!(head.authoritative);
            assert_eq!(head.response_code, ResponseCode::NoError);
        }
        let sent: Vec<&Record> = messages.iter().flat_map(|m| &m.answers).collect();
        assert_eq!(
            sent,
            records.iter().collect::<Vec<_>>(),
            "in order, none lost"
        );
    }
}

#[test]
fn pack_sends_an_oversized_record_alone_and_zero_records_as_one_message() {
    let big = format!("big TXT \"{}\" \"{}\"", "x".repeat(255), "y".repeat(255));
    let records = vec![
        soa(1),
        rr("a A 192.0.2.1"),
        rr(&big),
        rr("b A 192.0.2.2"),
        soa(1),
    ];
    let messages = pack(&request(RecordType::AXFR), records.clone(), 300);
    let alone = messages
        .iter()
        .find(|m| m.answers.iter().any(|r| r.record_type() == RecordType::TXT))
        .expect("the big record is sent");
    assert_eq!(alone.answers.len(), 1);
    let sent: Vec<&Record> = messages.iter().flat_map(|m| &m.answers).collect();
    assert_eq!(sent, records.iter().collect::<Vec<_>>());

    let empty = pack(&request(RecordType::AXFR), Vec::new(), 512);
    assert_eq!(empty.len(), 1);
    assert_eq!(empty[0].queries.len(), 1);
}

/// Records by short names: `soaN` is the apex SOA at serial N.
fn recs(spec: &str) -> Vec<Record> {
    let record = |word: &str| match word {
        "www" => rr("www A 192.0.2.10"),
        "ns" => rr("@ NS ns1"),
        "out" => rr("www.other.test. A 192.0.2.1"),
        "chaos" => {
            let mut r = rr("www A 192.0.2.10");
            r.dns_class = DNSClass::CH;
            r
        }
        "soa5ns2" => rr("@ SOA ns2 host 5 3600 600 86400 60"),
        "lowsoa" => rr("www SOA ns1 host 2 3600 600 86400 60"),
        other => soa(other.trim_start_matches("soa").parse().expect("test token")),
    };
    spec.split_whitespace().map(record).collect()
}

/// Response messages, `|` between them.
fn stream(spec: &str) -> Vec<Message> {
    spec.split('|').map(|part| reply(recs(part))).collect()
}

#[test]
fn incoming_recognises_each_kind_of_reply() {
    let full = |spec| Transfer::Full(recs(spec));
    let one_step = Transfer::Incremental(vec![Delta {
        from: soa(1),
        to: soa(2),
        removed: recs("www"),
        added: recs("ns"),
    }]);
    // One line per case: the table reads best unwrapped.
    #[rustfmt::skip]
    let cases: &[(&str, Option<u32>, &str, Transfer)] = &[
        ("IXFR, same serial", Some(5), "soa5", Transfer::UpToDate(soa(5))),
        ("IXFR, older serial", Some(5), "soa4", Transfer::UpToDate(soa(4))),
        ("IXFR, not ahead: the rest is unread", Some(5), "soa5 www", Transfer::UpToDate(soa(5))),
        ("IXFR, AXFR-style", Some(1), "soa5 www ns soa5", full("soa5 www ns")),
        ("IXFR, AXFR-style, 3 messages", Some(1), "soa5 www | ns | soa5", full("soa5 www ns")),
        ("IXFR, one increment", Some(1), "soa2 soa1 www soa2 ns soa2", one_step.clone()),
        ("IXFR, split anywhere", Some(1), "soa2 soa1 | www soa2 | ns | soa2", one_step),
        ("AXFR, one record a message", None, "soa5 | www | ns | soa5", full("soa5 www ns")),
        ("AXFR of only an SOA", None, "soa5 soa5", full("soa5")),
        ("IXFR, AXFR-style, only an SOA", Some(1), "soa5 soa5", full("soa5")),
    ];
    for (what, have, spec, want) in cases {
        let got = receive(*have, &stream(spec)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got, *want, "{what}");
    }
}

#[test]
fn incoming_rejects_broken_streams() {
    let with = |spec: &str, f: fn(&mut Message)| {
        let mut messages = stream(spec);
        if let Some(last) = messages.last_mut() {
            f(last);
        }
        messages
    };
    let other = Name::from_ascii("other.test.").expect("name");
    let mut wrong_question = stream("soa5 www soa5");
    wrong_question[0].add_query(Query::query(other, RecordType::AXFR));
    // What is fed, and the start of the error's Debug form. One line per case.
    #[rustfmt::skip]
    let cases: Vec<(&str, Option<u32>, Vec<Message>, &str)> = vec![
        ("REFUSED", None, with("soa5", |m| m.metadata.response_code = ResponseCode::Refused), "Rcode(Refused)"),
        ("a query", None, with("soa5", |m| m.metadata.message_type = MessageType::Query), "Malformed("),
        ("truncated", None, with("soa5", |m| m.metadata.truncation = true), "Malformed("),
        ("the id changes", None, with("soa5 | www", |m| m.metadata.id = 43), "IdChanged { expected: 42, found: 43 }"),
        ("question about another zone", None, wrong_question, "WrongQuestion"),
        ("no records", None, stream(""), "Empty"),
        ("first record not the SOA", None, stream("www soa5 soa5"), "NoOpeningSoa"),
        ("record outside the zone", None, stream("soa5 out soa5"), "OutsideZone"),
        ("another class", None, stream("soa5 chaos soa5"), "NotZoneData"),
        ("data after the final SOA", None, stream("soa5 www soa5 www"), "AfterEnd"),
        ("a message after the end", None, stream("soa5 www soa5 | www"), "Finished"),
        ("AXFR closing serial differs", None, stream("soa5 www soa6"), "UnexpectedSoa { expected: 5, found: 6 }"),
        ("AXFR closing SOA differs", None, stream("soa5 www soa5ns2"), "SoaChanged"),
        ("IXFR single later SOA", Some(1), stream("soa5"), "NeedAxfr { ours: 1, theirs: 5 }"),
        ("IXFR from another serial", Some(1), stream("soa5 soa2 soa5 soa5"), "UnexpectedSoa { expected: 1, found: 2 }"),
        ("IXFR gap", Some(1), stream("soa5 soa1 soa2 soa3 soa5 soa5"), "UnexpectedSoa { expected: 2, found: 3 }"),
        ("IXFR going backwards", Some(1), stream("soa5 soa1 soa0"), "Backwards { from: 1, to: 0 }"),
        ("IXFR SOA below the apex", Some(1), stream("soa5 soa1 lowsoa"), "NotZoneData"),
    ];
    for (what, have, messages, want) in cases {
        let mut incoming = Incoming::new(origin(), have);
        let err = messages
            .iter()
            .find_map(|msg| incoming.feed(&wire(msg)).err())
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(format!("{err:?}").starts_with(want), "{what}: {err:?}");
        let again = incoming.feed(&wire(&reply(recs("soa5"))));
        assert!(
            matches!(again, Err(TransferError::Finished)),
            "{what}: fed after failing"
        );
    }
}

#[test]
fn feed_survives_every_prefix_and_shuffle_of_a_stream() {
    let zones = versions();
    let IxfrAnswer::Incremental(records) = ixfr_answer(&zones[3], &history(&zones), 1) else {
        panic!("incremental");
    };
    // Every prefix, every record dropped, every pair swapped: an answer or an error, no panic.
    let mut streams = Vec::new();
    for i in 0..records.len() {
        streams.push(records[..i].to_vec());
        let mut dropped = records.clone();
        dropped.remove(i);
        streams.push(dropped);
        for j in i + 1..records.len() {
            let mut swapped = records.clone();
            swapped.swap(i, j);
            streams.push(swapped);
        }
    }
    for stream in streams {
        for have in [None, Some(1), Some(4)] {
            let mut incoming = Incoming::new(origin(), have);
            for msg in pack(&request(RecordType::IXFR), stream.clone(), 120) {
                if !matches!(incoming.feed(&wire(&msg)), Ok(Progress::More)) {
                    break;
                }
            }
        }
    }
}

#[test]
fn apply_deltas_checks_its_starting_point() {
    let zones = versions();
    let history = history(&zones);
    let v1: Vec<Record> = zones[0].records().cloned().collect();
    let missing = Delta {
        removed: vec![rr("gone A 192.0.2.99")],
        ..history[0].clone()
    };
    let no_soa = v1
        .iter()
        .filter(|r| r.record_type() != RecordType::SOA)
        .cloned()
        .collect();
    let skip = vec![history[0].clone(), history[2].clone()];
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Record>, Vec<Delta>, &str)> = vec![
        ("a removed record is missing", v1.clone(), vec![missing], "MissingRecord { from: 1, to: 2"),
        ("the first starts elsewhere", v1.clone(), history[1..].to_vec(), "DeltaStart { expected: 1, found: 2 }"),
        ("not consecutive", v1.clone(), skip, "DeltaStart { expected: 2, found: 3 }"),
        ("no SOA", no_soa, history.clone(), "NoSoa"),
    ];
    for (what, records, deltas, want) in cases {
        let err = apply_deltas(records, &deltas).expect_err(what);
        assert!(format!("{err:?}").starts_with(want), "{what}: {err:?}");
    }
    let unchanged = apply_deltas(v1.clone(), &[]).expect("no deltas");
    assert_eq!(texts(&unchanged), texts(&v1));
}
