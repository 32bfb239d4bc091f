//! Which RRSIGs and denial records each answer carries, for the signed example zone of
//! `zones/signed/` (an NSEC copy and an NSEC3 opt-out copy of one source). Records are written
//! `owner TYPE` (`owner RRSIG COVERED` for a signature), owners relative to the apex; NSEC3
//! owners are hashes, named in the comments (`ldns-nsec3-hash -t 0 -s aabbccdd NAME`).

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::{Name, Record, RecordType};

use super::{covered, covers};
use crate::authority::{Catalog, Zone};

const NSEC_ZONE: &str = include_str!("../../../zones/signed/signed.test.zone.signed");
const NSEC3_ZONE: &str = include_str!("../../../zones/signed/signed.test.nsec3.zone.signed");

fn catalog(text: &str) -> Catalog {
    let origin = Name::from_ascii(APEX).expect("origin");
    let zone = Zone::from_text(text, Path::new("signed.test.zone"), Some(&origin))
        .expect("the signed example zone loads");
    Catalog::new([zone]).expect("catalog")
}

const APEX: &str = "signed.test.";

/// `owner TYPE` (`owner RRSIG COVERED` for a signature), owners relative to the apex (`@`).
fn show(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| {
            let owner = r.name.to_ascii().to_lowercase();
            let owner = match owner.strip_suffix(&format!(".{APEX}")) {
                Some(relative) => relative.to_string(),
                None if owner == APEX => "@".to_string(),
                None => owner,
            };
            match covered(r) {
                Some(t) => format!("{owner} RRSIG {t}"),
                None => format!("{owner} {}", r.record_type()),
            }
        })
        .collect();
    v.sort();
    v
}

/// A question (`owner TYPE`), the RCODE, and the answer and authority sections with DO=1 as
/// RRsets, each standing for itself and its RRSIG; only a referral's NS RRset stands alone,
/// as it is the child's and is not signed (RFC 4035 §2.2).
type Case = (
    &'static str,
    ResponseCode,
    &'static [&'static str],
    &'static [&'static str],
);

const SOA: &str = "@ SOA";

fn signed(rrsets: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for set in rrsets {
        let (owner, rtype) = set.split_once(' ').expect("owner TYPE");
        v.push(set.to_string());
        if rtype != "NS" {
            v.push(format!("{owner} RRSIG {rtype}"));
        }
    }
    v.sort();
    v
}

/// Positive answers and a signed child's referral carry no denial, so either chain gives the
/// same. DS is the parent's: answered at the cut with its RRSIG, and in the referral.
#[rustfmt::skip]
const WITHOUT_DENIAL: &[Case] = &[
    ("www A", NoError, &["www A"], &[]),
    ("chain A", NoError, &["chain CNAME", "alias CNAME", "www A"], &[]),
    ("secure DS", NoError, &["secure DS"], &[]),
    ("www.secure A", NoError, &[], &["secure NS", "secure DS"]),
];

fn check(text: &str, cases: &[Case]) {
    let c = catalog(text);
    for &(q, rcode, answer, authority) in WITHOUT_DENIAL.iter().chain(cases) {
        let (owner, qtype) = q.split_once(' ').expect("owner TYPE");
        let qname = match owner {
            "@" => Name::from_ascii(APEX),
            _ => Name::from_ascii(format!("{owner}.{APEX}")),
        }
        .expect("name");
        let qtype: RecordType = qtype.parse().expect("type");
        let a = c.answer_to(&qname, qtype, true).expect("ours");
        assert_eq!(a.rcode, rcode, "{q}: rcode");
        assert_eq!(show(&a.answers), signed(answer), "{q}: answer");
        // Beside a positive answer the zone's NS RRset (and its RRSIG) is always there.
        let mut got = show(&a.authorities);
        got.retain(|l| l != "@ NS" && l != "@ RRSIG NS");
        assert_eq!(got, signed(authority), "{q}: authority");
        // Without DO nothing DNSSEC is added.
        let plain = c.answer_to(&qname, qtype, false).expect("ours");
        let dnssec = |r: &Record| {
            matches!(
                r.record_type(),
                RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3
            )
        };
        assert!(
            !plain
                .authorities
                .iter()
                .chain(&plain.additionals)
                .any(dnssec),
            "{q}: DO=0 adds nothing"
        );
        assert_eq!(
            plain,
            c.answer(&qname, qtype).expect("ours"),
            "{q}: DO=0 as before"
        );
    }
}

#[test]
fn nsec_proofs() {
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // The NSEC covering the name, and the one before the wildcard *.signed.test.
        ("nope A", NXDomain, &[], &[SOA, "mail NSEC", "@ NSEC"]),
        ("www MX", NoError, &[], &[SOA, "www NSEC"]),
        // An empty non-terminal: the NSEC before it.
        ("b.ent A", NoError, &[], &[SOA, "chain NSEC"]),
        // Wildcard: the RRSIG renamed, and the NSEC proving x.wild does not exist.
        ("x.wild A", NoError, &["x.wild A"], &["*.wild NSEC"]),
        // Wildcard NODATA: *.wild's NSEC both covers x.wild and denies MX; sent once.
        ("x.wild MX", NoError, &[], &[SOA, "*.wild NSEC"]),
        // No DS at the cut: its NSEC, alone or in the referral.
        ("insecure DS", NoError, &[], &[SOA, "insecure NSEC"]),
        ("www.insecure A", NoError, &[], &["insecure NS", "insecure NSEC"]),
    ];
    check(NSEC_ZONE, CASES);
}

#[test]
fn nsec3_proofs() {
    // The NSEC3 records by the name hashed to their owner, or the names whose hash they cover.
    const ZONE: &str = "lnu59rgtr5a135mbhnf920bqlhakp56t NSEC3";
    const WILD: &str = "schcmip5m8m42rcd1te9627s7gvidrnp NSEC3";
    const B_ENT: &str = "6an4hb42jothv021uukd3r53maujkstk NSEC3";
    // *.wild; covers nope (tt92i…).
    const STAR_WILD: &str = "sjvjtab2kjg3h1s7jjn0kbcml4uvhr0l NSEC3";
    // secure; covers *.signed.test. (brlas…).
    const SECURE: &str = "9jinmcktvt1v43i8n74kq2k3965n6f46 NSEC3";
    // Covers x.wild (2uvev…).
    const BEFORE_X_WILD: &str = "03mdbic8q4rmm3qies5hqfn1addjgora NSEC3";
    // Covers insecure (8jm6k…), opt-out.
    const BEFORE_INSECURE: &str = "7gffqhdsqkbp1jp8lbk8ha4v1m2h086t NSEC3";
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // RFC 5155 §7.2.2: closest encloser, next closer, wildcard.
        ("nope A", NXDomain, &[], &[SOA, ZONE, STAR_WILD, SECURE]),
        // §7.2.3 NODATA, also at an empty non-terminal (signed.test. is no ENT, b.ent is).
        ("b.ent A", NoError, &[], &[SOA, B_ENT]),
        // §7.2.6: a wildcard answer proves the next closer name absent.
        ("x.wild A", NoError, &["x.wild A"], &[BEFORE_X_WILD]),
        // §7.2.5: wildcard NODATA: closest encloser, next closer, the wildcard's types.
        ("x.wild MX", NoError, &[], &[SOA, WILD, BEFORE_X_WILD, STAR_WILD]),
        // §7.2.4: DS of an opt-out delegation: closest provable encloser and opt-out span.
        ("insecure DS", NoError, &[], &[SOA, ZONE, BEFORE_INSECURE]),
        // §7.2.7: the same proof in a referral to it.
        ("www.insecure A", NoError, &[], &["insecure NS", ZONE, BEFORE_INSECURE]),
        // DS at the apex of a zone whose parent is not served: the apex's own NSEC3.
        ("@ DS", NoError, &[], &[SOA, ZONE]),
    ];
    check(NSEC3_ZONE, CASES);
}

#[test]
fn nsec3_owner_names_are_no_names_of_the_zone() {
    let c = catalog(NSEC3_ZONE);
    let hashed = Name::from_ascii("lnu59rgtr5a135mbhnf920bqlhakp56t.signed.test.").expect("name");
    for qtype in [RecordType::A, RecordType::NSEC3] {
        let a = c.answer_to(&hashed, qtype, true).expect("ours");
        assert_eq!(a.rcode, ResponseCode::NXDomain, "{qtype}");
        let nsec3 = a
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NSEC3);
        assert_eq!(nsec3.count(), 3, "{qtype}: a full closest encloser proof");
    }
    // Still transferred: every NSEC3 record is among the zone's records.
    let zone = c.zones().next().expect("one zone");
    let in_file = NSEC3_ZONE.matches(" NSEC3 1 1 0 ").count();
    let held = zone
        .records()
        .filter(|r| r.record_type() == RecordType::NSEC3)
        .count();
    assert_eq!((held, in_file), (13, 13));
}

#[test]
fn only_a_zone_with_a_signed_apex_is_signed() {
    // The example's source without its keys: no DNSSEC data at all.
    let unsigned = include_str!("../../../zones/signed/signed.test.zone")
        .lines()
        .filter(|l| !l.starts_with("$INCLUDE"))
        .collect::<Vec<_>>()
        .join("\n");
    let zone = Zone::from_text(&unsigned, Path::new("u.zone"), None).expect("loads");
    assert!(zone.signed().is_none());
    let signed = catalog(NSEC_ZONE);
    assert!(signed.zones().next().is_some_and(|z| z.signed().is_some()));
}

#[test]
fn nsec3_spans_wrap_around_the_end_of_the_hash_space() {
    assert!(covers(&[2], &[5], &[3]));
    assert!(!covers(&[2], &[5], &[5]));
    assert!(!covers(&[2], &[5], &[2]));
    // The last span runs from the greatest hash back to the first.
    assert!(covers(&[9], &[2], &[10]));
    assert!(covers(&[9], &[2], &[1]));
    assert!(!covers(&[9], &[2], &[5]));
}

/// RFC 2136 UPDATE of a signed zone is no online signing: new data is served without RRSIGs,
/// the NSEC3 chain stays as the file had it, and nothing fails on the way.
#[test]
fn an_update_to_a_signed_zone_serves_new_data_unsigned() {
    use hickory_proto::op::{Message, MessageType, OpCode, Query, UpdateMessage};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{DNSClass, RData};

    use crate::authority::update::{apply, patched};
    use crate::zonefile::{Located, Location};

    let origin = Name::from_ascii("signed.test.").expect("origin");
    let n = |s: &str| Name::from_ascii(s).expect("name");
    for text in [NSEC_ZONE, NSEC3_ZONE] {
        let zone = catalog(text).zones().next().expect("zone").as_ref().clone();
        let mut msg = Message::new(7, MessageType::Query, OpCode::Update);
        msg.add_zone(Query::query(origin.clone(), RecordType::SOA));
        let mut delete_www = Record::update0(n("www.signed.test."), 0, RecordType::ANY);
        delete_www.dns_class = DNSClass::ANY;
        let mut delete_hash = Record::update0(
            n("lnu59rgtr5a135mbhnf920bqlhakp56t.signed.test."),
            0,
            RecordType::ANY,
        );
        delete_hash.dns_class = DNSClass::ANY;
        let add = Record::from_rdata(n("new.signed.test."), 300, RData::A(A::new(127, 0, 0, 9)));
        msg.add_updates([delete_www, delete_hash, add]);
        let msg = Message::from_vec(&msg.to_vec().expect("encodes")).expect("decodes");
        let diff = apply(&zone, &msg).expect("the update applies").diff;
        let at = Location {
            file: "UPDATE".into(),
            line: 0,
        };
        let records = patched(zone.records().cloned(), &diff)
            .into_iter()
            .map(|record| Located {
                record,
                at: at.clone(),
            })
            .collect();
        let updated = Zone::from_records(Some(&origin), records, Path::new("UPDATE"))
            .expect("the updated zone builds");
        let c = Catalog::new([updated]).expect("catalog");
        let added = c
            .answer_to(&n("new.signed.test."), RecordType::A, true)
            .expect("ours");
        assert_eq!(show(&added.answers), ["new A"]);
        let gone = c
            .answer_to(&n("www.signed.test."), RecordType::A, true)
            .expect("ours");
        assert_eq!(gone.rcode, ResponseCode::NXDomain);
        assert!(gone.answers.is_empty());
    }
}
