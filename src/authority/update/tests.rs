//! RFC 2136 cases over one small zone. Each UPDATE is built with hickory and sent through its
//! wire encoding and decoding, so the records are exactly what a server would receive (the
//! RDLENGTH 0 forms as `RData::Update0`).

use std::str::FromStr;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};

use super::change::identical;
use super::*;
use crate::zonefile::parse_zone_text;

const ZONE: &str = r#"$ORIGIN example.test.
$TTL 300
@ SOA ns1 host 10 3600 600 86400 60
@ NS ns1
@ NS ns2
@ MX 10 mail
ns1 A 192.0.2.1
ns2 A 192.0.2.2
mail A 192.0.2.3
www A 192.0.2.10
www A 192.0.2.11
www TXT "hello" "world"
alias CNAME www
a.b.deep A 192.0.2.20
sub NS ns.sub
ns.sub A 192.0.2.30
_http._tcp SRV 0 5 80 www
"#;

fn origin() -> Name {
    Name::from_ascii("example.test.").expect("origin")
}

fn zone_from(text: &str) -> Zone {
    Zone::from_text(text, Path::new("t.zone"), None).expect("valid zone")
}

/// One RR as `OWNER TTL CLASS TYPE [RDATA]`, names relative to the origin. Without RDATA it is
/// the RDLENGTH 0 form of RFC 2136 §2.4/§2.5; with it, the RDATA is read by the zone-file
/// reader as class IN and the class set afterwards.
fn rr(line: &str) -> Record {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [owner, ttl, class, rtype, rdata @ ..] = words.as_slice() else {
        panic!("bad test RR: {line}");
    };
    let mut record = if rdata.is_empty() {
        let name = match *owner {
            "@" => origin(),
            o => Name::parse(o, Some(&origin())).expect("owner"),
        };
        let rtype = RecordType::from_str(rtype).expect("type");
        Record::update0(name, ttl.parse().expect("ttl"), rtype)
    } else {
        let text = format!(
            "$ORIGIN example.test.\n{owner} {ttl} IN {rtype} {}\n",
            rdata.join(" ")
        );
        let mut parsed = parse_zone_text(&text, Path::new("case"), None).expect("test RR");
        parsed.remove(0).record
    };
    record.dns_class = DNSClass::from_str(class).expect("class");
    record
}

/// Encodes and decodes, as the server will see it.
fn wire(msg: &Message) -> Message {
    Message::from_vec(&msg.to_vec().expect("encodes")).expect("decodes")
}

fn update_message(prerequisites: &[&str], updates: &[&str]) -> Message {
    let mut msg = Message::new(7, MessageType::Query, OpCode::Update);
    msg.add_zone(Query::query(origin(), RecordType::SOA));
    msg.add_pre_requisites(prerequisites.iter().map(|l| rr(l)));
    msg.add_updates(updates.iter().map(|l| rr(l)));
    wire(&msg)
}

/// `- RR` removed, `+ RR` added, in zone-file syntax relative to the origin.
fn expected_diff(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let (sign, text) = line.split_at(1);
            let text = format!("$ORIGIN example.test.\n{}\n", text.trim());
            let parsed = parse_zone_text(&text, Path::new("want"), None).expect("expected RR");
            format!("{sign} {}", parsed[0].record)
        })
        .collect()
}

fn shown(diff: &Diff) -> Vec<String> {
    let removed = diff.removed.iter().map(|r| format!("- {r}"));
    removed
        .chain(diff.added.iter().map(|r| format!("+ {r}")))
        .collect()
}

enum Want {
    Rcode(ResponseCode),
    /// The diff, removals first; empty: the update changes nothing.
    Changes(&'static [&'static str]),
}
use Want::{Changes, Rcode};

const FORMERR: Want = Rcode(ResponseCode::FormErr);
const NOTZONE: Want = Rcode(ResponseCode::NotZone);
const NXDOMAIN: Want = Rcode(ResponseCode::NXDomain);
const YXDOMAIN: Want = Rcode(ResponseCode::YXDomain);
const NXRRSET: Want = Rcode(ResponseCode::NXRRSet);
const YXRRSET: Want = Rcode(ResponseCode::YXRRSet);
const REFUSED: Want = Rcode(ResponseCode::Refused);
const NO_CHANGE: Want = Changes(&[]);

struct Case {
    name: &'static str,
    prerequisites: &'static [&'static str],
    updates: &'static [&'static str],
    want: Want,
}

const fn case(
    name: &'static str,
    prerequisites: &'static [&'static str],
    updates: &'static [&'static str],
    want: Want,
) -> Case {
    Case {
        name,
        prerequisites,
        updates,
        want,
    }
}

const NEW_A: &[&str] = &["new 300 IN A 192.0.2.50"];
const PLUS_NEW_A: Want = Changes(&["+ new 300 IN A 192.0.2.50"]);

// One line per case: the table reads best unwrapped.
#[rustfmt::skip]
const CASES: &[Case] = &[
    // §2.4 / §3.2: the five prerequisites, each true and false.
    case("rrset exists (value independent)", &["www 0 ANY A"], NEW_A, PLUS_NEW_A),
    case("rrset exists (value independent), missing", &["www 0 ANY MX"], NEW_A, NXRRSET),
    case("rrset exists (value dependent), any order", &["www 0 IN A 192.0.2.11", "www 0 IN A 192.0.2.10"], NEW_A, PLUS_NEW_A),
    case("rrset exists (value dependent), repeated RR", &["www 0 IN A 192.0.2.11", "www 0 IN A 192.0.2.10", "www 0 IN A 192.0.2.11"], NEW_A, PLUS_NEW_A),
    case("rrset exists (value dependent), a subset", &["www 0 IN A 192.0.2.10"], NEW_A, NXRRSET),
    case("rrset exists (value dependent), a superset", &["www 0 IN A 192.0.2.10", "www 0 IN A 192.0.2.11", "www 0 IN A 192.0.2.12"], NEW_A, NXRRSET),
    case("rrset exists (value dependent), no such rrset", &["nope 0 IN A 192.0.2.10"], NEW_A, NXRRSET),
    case("rrset does not exist", &["www 0 NONE MX", "nope 0 NONE A"], NEW_A, PLUS_NEW_A),
    case("rrset does not exist, but does", &["www 0 NONE A"], NEW_A, YXRRSET),
    case("name is in use", &["alias 0 ANY ANY"], NEW_A, PLUS_NEW_A),
    case("name is in use, but is not", &["nope 0 ANY ANY"], NEW_A, NXDOMAIN),
    case("name is in use: an empty non-terminal is not", &["b.deep 0 ANY ANY"], NEW_A, NXDOMAIN),
    case("name is not in use (nor an empty non-terminal)", &["new 0 NONE ANY", "deep 0 NONE ANY"], NEW_A, PLUS_NEW_A),
    case("name is not in use, but is", &["www 0 NONE ANY"], NEW_A, YXDOMAIN),
    // §3.2.1-3.2.3, §3.2.5: malformed prerequisites.
    case("prerequisite TTL not 0", &["www 300 IN A 192.0.2.10", "www 300 IN A 192.0.2.11"], NEW_A, FORMERR),
    case("prerequisite CLASS ANY with RDATA", &["www 0 ANY A 192.0.2.10"], NEW_A, FORMERR),
    case("prerequisite CLASS NONE with RDATA", &["www 0 NONE A 192.0.2.10"], NEW_A, FORMERR),
    case("prerequisite in another class", &["www 0 CH A"], NEW_A, FORMERR),
    case("prerequisite outside the zone", &["www.other.test. 0 ANY A"], NEW_A, NOTZONE),
    // §2.5.1 / §3.4.2.2: add to an RRset.
    case("add to an rrset", &[], &["www 300 IN A 192.0.2.12"], Changes(&["+ www 300 IN A 192.0.2.12"])),
    case("a duplicate is not added twice", &[], &["www 300 IN A 192.0.2.10", "new 300 IN A 192.0.2.50", "new 300 IN A 192.0.2.50"], PLUS_NEW_A),
    case("a duplicate with another TTL sets the rrset's TTL", &[], &["www 60 IN A 192.0.2.10"], Changes(&["- www 300 IN A 192.0.2.10", "- www 300 IN A 192.0.2.11", "+ www 60 IN A 192.0.2.10", "+ www 60 IN A 192.0.2.11"])),
    case("a new member's TTL becomes the rrset's", &[], &["www 60 IN A 192.0.2.12"], Changes(&["- www 300 IN A 192.0.2.10", "- www 300 IN A 192.0.2.11", "+ www 60 IN A 192.0.2.10", "+ www 60 IN A 192.0.2.11", "+ www 60 IN A 192.0.2.12"])),
    case("the last add's TTL wins", &[], &["www 60 IN A 192.0.2.12", "www 300 IN A 192.0.2.13"], Changes(&["+ www 300 IN A 192.0.2.12", "+ www 300 IN A 192.0.2.13"])),
    case("updates apply in order", &[], &["new 300 IN A 192.0.2.50", "new 0 NONE A 192.0.2.50"], NO_CHANGE),
    // §2.5.2 / §2.5.3 / §2.5.4: the three deletions.
    case("delete an rrset", &[], &["www 0 ANY A"], Changes(&["- www 300 IN A 192.0.2.10", "- www 300 IN A 192.0.2.11"])),
    case("delete a missing rrset: ignored", &[], &["www 0 ANY MX", "nope 0 ANY A"], NO_CHANGE),
    case("delete all rrsets at a name", &[], &["www 0 ANY ANY"], Changes(&["- www 300 IN A 192.0.2.10", "- www 300 IN A 192.0.2.11", "- www 300 IN TXT \"hello\" \"world\""])),
    case("delete an RR", &[], &["www 0 NONE A 192.0.2.10"], Changes(&["- www 300 IN A 192.0.2.10"])),
    case("delete a missing RR: ignored", &[], &["www 0 NONE A 192.0.2.99", "nope 0 NONE A 192.0.2.10"], NO_CHANGE),
    case("a delegation can be deleted", &[], &["sub 0 ANY NS"], Changes(&["- sub 300 IN NS ns.sub"])),
    // §3.4.2.2-4: the apex SOA and NS.
    case("a higher SOA serial replaces the SOA", &[], &["@ 300 IN SOA ns1 host 11 3600 600 86400 60"], Changes(&["- @ 300 IN SOA ns1 host 10 3600 600 86400 60", "+ @ 300 IN SOA ns1 host 11 3600 600 86400 60"])),
    case("an equal SOA serial is ignored", &[], &["@ 300 IN SOA ns2 host 10 1 1 1 1"], NO_CHANGE),
    case("a lower SOA serial is ignored", &[], &["@ 300 IN SOA ns2 host 9 1 1 1 1"], NO_CHANGE),
    case("a serial lower by RFC 1982 is ignored", &[], &["@ 300 IN SOA ns2 host 4294967295 1 1 1 1"], NO_CHANGE),
    case("an SOA away from the apex is ignored", &[], &["www 300 IN SOA ns1 host 11 3600 600 86400 60"], NO_CHANGE),
    case("the SOA is never deleted", &[], &["@ 0 ANY SOA", "@ 0 NONE SOA ns1 host 10 3600 600 86400 60"], NO_CHANGE),
    case("the apex NS rrset is never deleted", &[], &["@ 0 ANY NS"], NO_CHANGE),
    case("an apex NS can go, the last one stays", &[], &["@ 0 NONE NS ns1", "@ 0 NONE NS ns2"], Changes(&["- @ 300 IN NS ns1"])),
    case("delete all at the apex keeps SOA and NS", &[], &["@ 0 ANY ANY"], Changes(&["- @ 300 IN MX 10 mail"])),
    // §3.4.2.2: CNAME and other data.
    case("a CNAME beside other data is ignored", &[], &["www 300 IN CNAME mail"], NO_CHANGE),
    case("other data beside a CNAME is ignored", &[], &["alias 300 IN A 192.0.2.9"], NO_CHANGE),
    case("a CNAME replaces the CNAME", &[], &["alias 300 IN CNAME mail"], Changes(&["- alias 300 IN CNAME www", "+ alias 300 IN CNAME mail"])),
    case("a CNAME at a new name", &[], &["new 300 IN CNAME www"], Changes(&["+ new 300 IN CNAME www"])),
    case("delete the CNAME, then add data", &[], &["alias 0 ANY CNAME", "alias 300 IN A 192.0.2.9"], Changes(&["- alias 300 IN CNAME www", "+ alias 300 IN A 192.0.2.9"])),
    case("an empty update changes nothing", &[], &[], NO_CHANGE),
    // §3.4.1: the prescan.
    case("update outside the zone", &[], &["new 300 IN A 192.0.2.50", "www.other.test. 300 IN A 192.0.2.9"], NOTZONE),
    case("update at the parent", &[], &["test. 0 ANY ANY"], NOTZONE),
    case("CLASS ANY with a TTL", &[], &["new 300 IN A 192.0.2.50", "www 300 ANY A"], FORMERR),
    case("CLASS ANY with RDATA", &[], &["www 0 ANY A 192.0.2.10"], FORMERR),
    case("CLASS NONE with a TTL", &[], &["www 300 NONE A 192.0.2.10"], FORMERR),
    case("CLASS NONE with type ANY", &[], &["www 0 NONE ANY"], FORMERR),
    case("add of type ANY", &[], &["www 300 IN ANY"], FORMERR),
    case("delete of a meta type", &[], &["www 0 ANY AXFR"], FORMERR),
    case("update in another class", &[], &["www 300 CH A 192.0.2.9"], FORMERR),
    // tern's own refusals.
    case("DNSSEC types are refused", &[], &["www 0 ANY RRSIG"], REFUSED),
    case("data below a zone cut is refused", &[], &["x.sub 300 IN TXT \"hidden\""], REFUSED),
    case("other data at a zone cut is refused", &[], &["sub 300 IN TXT \"at the cut\""], REFUSED),
    case("glue below a zone cut is fine", &[], &["ns.sub 300 IN AAAA 2001:db8::30"], Changes(&["+ ns.sub 300 IN AAAA 2001:db8::30"])),
];

#[test]
fn rfc2136_cases() {
    let zone = zone_from(ZONE);
    let mut failures = Vec::new();
    for case in CASES {
        let got = apply(&zone, &update_message(case.prerequisites, case.updates)).map(|a| a.diff);
        match (&case.want, got) {
            (Rcode(want), Err(e)) if e.rcode() == *want => {}
            (Changes(want), Ok(diff)) if shown(&diff) == expected_diff(want) => {
                // The diff applies: every added record is in the result, no removed one is.
                let after = patched(zone.records().cloned(), &diff);
                assert!(
                    diff.added
                        .iter()
                        .all(|a| after.iter().any(|r| identical(r, a)))
                );
                assert!(
                    diff.removed
                        .iter()
                        .all(|d| !after.iter().any(|r| identical(r, d)))
                );
            }
            (Rcode(want), got) => failures.push(format!("{}: want {want}, got {got:?}", case.name)),
            (Changes(want), got) => failures.push(format!(
                "{}: want {:?}, got {:?}",
                case.name,
                expected_diff(want),
                got.map(|d| shown(&d))
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn zone_section_is_checked_first() {
    let zone = zone_from(ZONE);
    let with_zones = |zones: Vec<Query>| {
        let mut msg = update_message(&["www 0 ANY A"], NEW_A);
        msg.queries = zones;
        wire(&msg)
    };
    let soa = |name: &str| Query::query(Name::from_ascii(name).expect("name"), RecordType::SOA);
    let mut chaos = soa("example.test.");
    chaos.set_query_class(DNSClass::CH);
    let cases = [
        ("no zone", with_zones(vec![]), ResponseCode::FormErr),
        (
            "two zones",
            with_zones(vec![soa("example.test."), soa("example.test.")]),
            ResponseCode::FormErr,
        ),
        (
            "zone type not SOA",
            with_zones(vec![Query::query(origin(), RecordType::A)]),
            ResponseCode::FormErr,
        ),
        (
            "another zone",
            with_zones(vec![soa("other.test.")]),
            ResponseCode::NotAuth,
        ),
        (
            "a zone below ours",
            with_zones(vec![soa("sub.example.test.")]),
            ResponseCode::NotAuth,
        ),
        (
            "another class",
            with_zones(vec![chaos]),
            ResponseCode::NotAuth,
        ),
        (
            "not an UPDATE",
            wire(&Message::query()),
            ResponseCode::FormErr,
        ),
    ];
    for (name, msg, want) in cases {
        let got = apply(&zone, &msg).map_err(|e| e.rcode());
        assert_eq!(got, Err(want), "{name}");
    }
    // Upper case in the zone section names the same zone (RFC 1035 §2.3.3).
    let upper = with_zones(vec![soa("EXAMPLE.Test.")]);
    assert_eq!(
        shown(&apply(&zone, &upper).expect("ours").diff),
        expected_diff(&["+ new 300 IN A 192.0.2.50"])
    );
}

#[test]
fn soa_serial_compares_across_the_wrap() {
    let zone = zone_from(&ZONE.replace("host 10 ", "host 4294967290 "));
    let higher = update_message(&[], &["@ 300 IN SOA ns1 host 5 3600 600 86400 60"]);
    let diff = apply(&zone, &higher).expect("accepted").diff;
    assert_eq!(diff.added.len(), 1, "5 follows 4294967290 in RFC 1982");
    // 2^31 apart the order is undefined (RFC 1982 §3.2): not higher, so ignored.
    let undefined = update_message(&[], &["@ 300 IN SOA ns1 host 2147483642 3600 600 86400 60"]);
    assert!(apply(&zone, &undefined).expect("accepted").diff.is_empty());
}

#[test]
fn patched_records_build_the_next_zone() {
    let zone = zone_from(ZONE);
    let msg = update_message(
        &["new 0 NONE ANY"],
        &[
            "new 300 IN A 192.0.2.50",
            "www 0 ANY A",
            "www 60 IN A 192.0.2.12",
            "_http._tcp 0 NONE SRV 0 5 80 www",
        ],
    );
    let diff = apply(&zone, &msg).expect("accepted").diff;
    let records = patched(zone.records().cloned(), &diff);
    assert_eq!(records.len(), zone.record_count() - 3 + 2);
    let located = records
        .into_iter()
        .map(|record| Located {
            record,
            at: Location {
                file: "x".into(),
                line: 0,
            },
        })
        .collect();
    let next = Zone::from_records(Some(zone.origin()), located, Path::new("x")).expect("valid");
    let www = next.node(&LowerName::new(
        &Name::from_ascii("www.example.test.").expect("name"),
    ));
    let a = www.and_then(|n| n.get(RecordType::A)).expect("new A rrset");
    assert_eq!((a.len(), a[0].ttl), (1, 60));
    let srv = LowerName::new(&Name::from_ascii("_http._tcp.example.test.").expect("name"));
    assert!(
        next.node(&srv).is_none_or(|n| n.is_empty()),
        "last record gone"
    );
}

#[test]
fn errors_map_to_their_rcodes() {
    let name = || Box::new(origin());
    let table = [
        (UpdateError::FormErr("x"), ResponseCode::FormErr),
        (UpdateError::NotAuth(name()), ResponseCode::NotAuth),
        (
            UpdateError::NotZone {
                name: name(),
                zone: name(),
            },
            ResponseCode::NotZone,
        ),
        (UpdateError::NameNotInUse(name()), ResponseCode::NXDomain),
        (UpdateError::NameInUse(name()), ResponseCode::YXDomain),
        (
            UpdateError::RrsetMissing {
                name: name(),
                rtype: RecordType::A,
            },
            ResponseCode::NXRRSet,
        ),
        (
            UpdateError::RrsetDiffers {
                name: name(),
                rtype: RecordType::A,
            },
            ResponseCode::NXRRSet,
        ),
        (
            UpdateError::RrsetExists {
                name: name(),
                rtype: RecordType::A,
            },
            ResponseCode::YXRRSet,
        ),
        (
            UpdateError::TypeRefused(RecordType::NSEC),
            ResponseCode::Refused,
        ),
        (
            UpdateError::InvalidResult("x".into()),
            ResponseCode::Refused,
        ),
    ];
    for (err, rcode) in table {
        assert_eq!(err.rcode(), rcode, "{err}");
    }
}
