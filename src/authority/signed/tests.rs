//! Which RRSIGs and denial records each answer carries, for the signed example zone of
//! `zones/signed/` (an NSEC copy and an NSEC3 opt-out copy of one source). Records are written
//! `owner TYPE` (`owner RRSIG COVERED` for a signature); NSEC3 owners are hashes, named in the
//! comments (`ldns-nsec3-hash -t 0 -s aabbccdd NAME`).

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};

use super::{covered, covers};
use crate::authority::{Catalog, Zone};

const NSEC_ZONE: &str = include_str!("../../../zones/signed/signed.test.zone.signed");
const NSEC3_ZONE: &str = include_str!("../../../zones/signed/signed.test.nsec3.zone.signed");

fn catalog(text: &str) -> Catalog {
    let origin = Name::from_ascii("signed.test.").expect("origin");
    let zone = Zone::from_text(text, Path::new("signed.test.zone"), Some(&origin))
        .expect("the signed example zone loads");
    Catalog::new([zone]).expect("catalog")
}

fn show(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| {
            let owner = r.name.to_ascii().to_lowercase();
            match covered(r) {
                Some(t) => format!("{owner} RRSIG {t}"),
                None => format!("{owner} {}", r.record_type()),
            }
        })
        .collect();
    v.sort();
    v
}

struct Case<'a> {
    q: &'static str,
    rcode: ResponseCode,
    answer: &'a [&'static str],
    authority: &'a [&'static str],
}

const NEG: &[&str] = &["signed.test. SOA", "signed.test. RRSIG SOA"];

fn check(text: &str, cases: &[Case<'_>]) {
    let c = catalog(text);
    for case in cases {
        let (qname, qtype) = case.q.split_once(' ').expect("name TYPE");
        let qname = Name::from_ascii(qname).expect("name");
        let qtype: RecordType = qtype.parse().expect("type");
        let a = c.answer_to(&qname, qtype, true).expect("ours");
        let q = case.q;
        assert_eq!(a.rcode, case.rcode, "{q}: rcode");
        let mut answer: Vec<String> = case.answer.iter().map(|s| s.to_string()).collect();
        answer.sort();
        assert_eq!(show(&a.answers), answer, "{q}: answer");
        let mut authority: Vec<String> = case.authority.iter().map(|s| s.to_string()).collect();
        authority.sort();
        // Beside a positive answer the zone's NS RRset (and its RRSIG) is always there.
        let mut got = show(&a.authorities);
        got.retain(|l| l != "signed.test. NS" && l != "signed.test. RRSIG NS");
        assert_eq!(got, authority, "{q}: authority");
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
    use ResponseCode::{NXDomain, NoError};
    check(
        NSEC_ZONE,
        &[
            Case {
                q: "www.signed.test. A",
                rcode: NoError,
                answer: &["www.signed.test. A", "www.signed.test. RRSIG A"],
                authority: &[],
            },
            // The NSEC covering the name, and the one before the wildcard *.signed.test.
            Case {
                q: "nope.signed.test. A",
                rcode: NXDomain,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "mail.signed.test. NSEC",
                    "mail.signed.test. RRSIG NSEC",
                    "signed.test. NSEC",
                    "signed.test. RRSIG NSEC",
                ],
            },
            Case {
                q: "www.signed.test. MX",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "www.signed.test. NSEC",
                    "www.signed.test. RRSIG NSEC",
                ],
            },
            // An empty non-terminal: the NSEC before it.
            Case {
                q: "b.ent.signed.test. A",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "chain.signed.test. NSEC",
                    "chain.signed.test. RRSIG NSEC",
                ],
            },
            // Wildcard: the RRSIG renamed, and the NSEC proving x.wild does not exist.
            Case {
                q: "x.wild.signed.test. A",
                rcode: NoError,
                answer: &["x.wild.signed.test. A", "x.wild.signed.test. RRSIG A"],
                authority: &["*.wild.signed.test. NSEC", "*.wild.signed.test. RRSIG NSEC"],
            },
            // Wildcard NODATA: *.wild's NSEC both covers x.wild and denies MX; sent once.
            Case {
                q: "x.wild.signed.test. MX",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "*.wild.signed.test. NSEC",
                    "*.wild.signed.test. RRSIG NSEC",
                ],
            },
            Case {
                q: "chain.signed.test. A",
                rcode: NoError,
                answer: &[
                    "chain.signed.test. CNAME",
                    "chain.signed.test. RRSIG CNAME",
                    "alias.signed.test. CNAME",
                    "alias.signed.test. RRSIG CNAME",
                    "www.signed.test. A",
                    "www.signed.test. RRSIG A",
                ],
                authority: &[],
            },
            // DS is the parent's: answered at the cut with its RRSIG; no DS → the cut's NSEC.
            Case {
                q: "secure.signed.test. DS",
                rcode: NoError,
                answer: &["secure.signed.test. DS", "secure.signed.test. RRSIG DS"],
                authority: &[],
            },
            Case {
                q: "insecure.signed.test. DS",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "insecure.signed.test. NSEC",
                    "insecure.signed.test. RRSIG NSEC",
                ],
            },
            // Referrals: DS and its RRSIG, or the NSEC proving there is no DS.
            Case {
                q: "www.secure.signed.test. A",
                rcode: NoError,
                answer: &[],
                authority: &[
                    "secure.signed.test. NS",
                    "secure.signed.test. DS",
                    "secure.signed.test. RRSIG DS",
                ],
            },
            Case {
                q: "www.insecure.signed.test. A",
                rcode: NoError,
                answer: &[],
                authority: &[
                    "insecure.signed.test. NS",
                    "insecure.signed.test. NSEC",
                    "insecure.signed.test. RRSIG NSEC",
                ],
            },
        ],
    );
}

#[test]
fn nsec3_proofs() {
    use ResponseCode::{NXDomain, NoError};
    // Hashes: signed.test. lnu59…, *.signed.test. brlas… (covered by 9jinm…), nope tt92i…
    // (covered by sjvja…), wild schcm…, *.wild sjvja…, x.wild 2uvev… (covered by 03mdb…),
    // b.ent 6an4h…, insecure 8jm6k… (covered by 7gffq…, opt-out), secure 9jinm….
    const APEX: [&str; 2] = [
        "lnu59rgtr5a135mbhnf920bqlhakp56t.signed.test. NSEC3",
        "lnu59rgtr5a135mbhnf920bqlhakp56t.signed.test. RRSIG NSEC3",
    ];
    check(
        NSEC3_ZONE,
        &[
            // RFC 5155 §7.2.2: closest encloser, next closer, wildcard.
            Case {
                q: "nope.signed.test. A",
                rcode: NXDomain,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    APEX[0],
                    APEX[1],
                    "sjvjtab2kjg3h1s7jjn0kbcml4uvhr0l.signed.test. NSEC3",
                    "sjvjtab2kjg3h1s7jjn0kbcml4uvhr0l.signed.test. RRSIG NSEC3",
                    "9jinmcktvt1v43i8n74kq2k3965n6f46.signed.test. NSEC3",
                    "9jinmcktvt1v43i8n74kq2k3965n6f46.signed.test. RRSIG NSEC3",
                ],
            },
            // §7.2.3 NODATA, also at an empty non-terminal (signed.test. is no ENT, b.ent is).
            Case {
                q: "b.ent.signed.test. A",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "6an4hb42jothv021uukd3r53maujkstk.signed.test. NSEC3",
                    "6an4hb42jothv021uukd3r53maujkstk.signed.test. RRSIG NSEC3",
                ],
            },
            // §7.2.6: a wildcard answer proves the next closer name absent.
            Case {
                q: "x.wild.signed.test. A",
                rcode: NoError,
                answer: &["x.wild.signed.test. A", "x.wild.signed.test. RRSIG A"],
                authority: &[
                    "03mdbic8q4rmm3qies5hqfn1addjgora.signed.test. NSEC3",
                    "03mdbic8q4rmm3qies5hqfn1addjgora.signed.test. RRSIG NSEC3",
                ],
            },
            // §7.2.5: wildcard NODATA: closest encloser, next closer, the wildcard's types.
            Case {
                q: "x.wild.signed.test. MX",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    "schcmip5m8m42rcd1te9627s7gvidrnp.signed.test. NSEC3",
                    "schcmip5m8m42rcd1te9627s7gvidrnp.signed.test. RRSIG NSEC3",
                    "03mdbic8q4rmm3qies5hqfn1addjgora.signed.test. NSEC3",
                    "03mdbic8q4rmm3qies5hqfn1addjgora.signed.test. RRSIG NSEC3",
                    "sjvjtab2kjg3h1s7jjn0kbcml4uvhr0l.signed.test. NSEC3",
                    "sjvjtab2kjg3h1s7jjn0kbcml4uvhr0l.signed.test. RRSIG NSEC3",
                ],
            },
            // §7.2.4: DS of an opt-out delegation: closest provable encloser and opt-out span.
            Case {
                q: "insecure.signed.test. DS",
                rcode: NoError,
                answer: &[],
                authority: &[
                    NEG[0],
                    NEG[1],
                    APEX[0],
                    APEX[1],
                    "7gffqhdsqkbp1jp8lbk8ha4v1m2h086t.signed.test. NSEC3",
                    "7gffqhdsqkbp1jp8lbk8ha4v1m2h086t.signed.test. RRSIG NSEC3",
                ],
            },
            // §7.2.7: the same proof in a referral to it; a signed child's referral has DS.
            Case {
                q: "www.insecure.signed.test. A",
                rcode: NoError,
                answer: &[],
                authority: &[
                    "insecure.signed.test. NS",
                    APEX[0],
                    APEX[1],
                    "7gffqhdsqkbp1jp8lbk8ha4v1m2h086t.signed.test. NSEC3",
                    "7gffqhdsqkbp1jp8lbk8ha4v1m2h086t.signed.test. RRSIG NSEC3",
                ],
            },
            Case {
                q: "www.secure.signed.test. A",
                rcode: NoError,
                answer: &[],
                authority: &[
                    "secure.signed.test. NS",
                    "secure.signed.test. DS",
                    "secure.signed.test. RRSIG DS",
                ],
            },
            // DS at the apex of a zone whose parent is not served: the apex's own NSEC3.
            Case {
                q: "signed.test. DS",
                rcode: NoError,
                answer: &[],
                authority: &[NEG[0], NEG[1], APEX[0], APEX[1]],
            },
        ],
    );
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
        let diff = apply(&zone, &msg).expect("the update applies");
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
        assert_eq!(show(&added.answers), ["new.signed.test. A"]);
        let gone = c
            .answer_to(&n("www.signed.test."), RecordType::A, true)
            .expect("ours");
        assert_eq!(gone.rcode, ResponseCode::NXDomain);
        assert!(gone.answers.is_empty());
    }
}
