use std::path::Path;

use super::*;
use crate::testing::name;

fn zone(origin: &str, body: &str) -> Zone {
    let text = format!(
        "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n{body}"
    );
    Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone")
}

/// The catalog's answer to `q`, written `"name TYPE"`, which must be one of its zones'.
fn ask(q: &str) -> LocalAnswer {
    let (qname, qtype) = q.split_once(' ').expect("name TYPE");
    let qtype: RecordType = qtype.parse().expect("type");
    catalog().answer(&name(qname), qtype).expect("ours")
}

fn catalog() -> Catalog {
    Catalog::new([
        zone("a.test.", "www CNAME www.b.test.\nmx MX 10 ns1\nout CNAME elsewhere.example.\nsub NS ns1.sub\nns1.sub A 192.0.2.9\nmxglue MX 10 ns1.sub\n"),
        zone("b.test.", "www A 192.0.2.2\n"),
        zone("sub.a.test.", "host A 192.0.2.10\n"),
    ])
    .expect("catalog")
}

#[test]
fn an_unavailable_zone_answers_servfail_not_its_parent() {
    let c = catalog().with_unavailable([name("c.a.test."), name("b.test.")]);
    let a = c
        .answer(&name("www.c.a.test."), RecordType::A)
        .expect("ours");
    assert_eq!(a.rcode, ResponseCode::ServFail);
    assert!(!a.authoritative && a.answers.is_empty());
    // Served zones win: b.test. is loaded, so it is not unavailable.
    let b = c.answer(&name("www.b.test."), RecordType::A).expect("ours");
    assert_eq!(b.rcode, ResponseCode::NoError);
    // Beside the unavailable zone, its parent answers as before.
    assert!(!c.is_unavailable(&name("mx.a.test.")));
    assert!(!c.is_unavailable(&name("host.sub.a.test.")));
}

#[test]
fn chases_cname_across_zones() {
    let a = ask("www.a.test. A");
    assert_eq!(a.answers.len(), 2);
    assert!(a.authoritative);
    assert_eq!(a.rcode, ResponseCode::NoError);
}

#[test]
fn mx_gets_additional_addresses() {
    let a = ask("mx.a.test. MX");
    assert_eq!(a.additionals.len(), 1);
}

#[test]
fn child_zone_wins_and_unknown_names_are_not_ours() {
    let a = ask("host.sub.a.test. A");
    assert_eq!(a.answers.len(), 1);
    assert!(
        catalog()
            .answer(&name("www.c.test."), RecordType::A)
            .is_none()
    );
    let out = ask("out.a.test. A");
    assert_eq!(out.unresolved_target, Some(name("elsewhere.example.")));
}

#[test]
fn positive_answers_carry_apex_ns_and_their_addresses() {
    let a = ask("www.a.test. A");
    // The chain ends in b.test.: its NS set, and the address of ns1.b.test.
    assert_eq!(a.authorities.len(), 1);
    assert_eq!(a.authorities[0].name, name("b.test."));
    assert_eq!(a.additionals.len(), 1);
    assert_eq!(a.additionals[0].name, name("ns1.b.test."));
    assert!(a.optional_authority);

    // NS is the answer: not repeated in the authority section.
    let ns = ask("a.test. NS");
    assert_eq!(ns.answers.len(), 1);
    assert!(ns.authorities.is_empty());
    assert_eq!(ns.additionals.len(), 1);

    // An address that is the answer is not repeated in the additional section.
    let ns1 = ask("ns1.a.test. A");
    assert_eq!(ns1.authorities.len(), 1);
    assert!(ns1.additionals.is_empty());
}

#[test]
fn any_and_ds_answers_stay_minimal() {
    let any = ask("a.test. ANY");
    assert_eq!(any.answers.len(), 1);
    assert!(any.authorities.is_empty());
    let ds = ask("sub.a.test. DS");
    assert!(ds.answers.is_empty());
    assert_eq!(ds.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(ds.authorities[0].name, name("a.test."));
    assert!(
        !ds.optional_authority,
        "a negative answer's SOA is required"
    );
}

#[test]
fn glue_is_no_additional_data_for_mx() {
    let a = ask("mxglue.a.test. MX");
    // Only the address of the apex NS target, not the glue of ns1.sub.a.test.
    assert_eq!(a.additionals.len(), 1);
    assert_eq!(a.additionals[0].name, name("ns1.a.test."));
}

#[test]
fn duplicate_origins_are_rejected() {
    assert!(Catalog::new([zone("a.test.", ""), zone("a.test.", "")]).is_err());
}

#[test]
fn a_name_is_found_under_its_zone_whatever_its_case_and_never_outside_them() {
    let builtin = Catalog::new(
        crate::authority::builtin::default_local_zones(|_| false).expect("builtin zones"),
    )
    .expect("catalog");
    let cases = [
        ("LocalHost.", true),
        ("x.INVALID.", true),
        ("1.0.0.127.in-addr.ARPA.", true),
        ("www.example.com.", false),
        ("arpa.example.", false),
        (".", false),
    ];
    for (qname, answered) in cases {
        let n = name(qname);
        assert_eq!(builtin.find(&n).is_some(), answered, "{qname}");
        assert_eq!(
            builtin.answer(&n, RecordType::A).is_some(),
            answered,
            "{qname}"
        );
    }
    // The same label under another top is not ours; a configured zone's case does not matter.
    let c = catalog();
    assert!(c.find(&name("www.A.TEST.")).is_some());
    assert!(c.find(&name("a.test.example.")).is_none());
    assert!(
        Catalog::new([])
            .expect("empty")
            .find(&name("a.test."))
            .is_none()
    );
    // A root zone holds every name.
    let root = Catalog::new([zone(".", "")]).expect("root");
    assert_eq!(
        root.find(&name("www.example.com."))
            .map(|z| z.origin().clone()),
        Some(name("."))
    );
}
