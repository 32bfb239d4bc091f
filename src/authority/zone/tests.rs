use super::*;

fn zone(text: &str) -> Result<Zone, ZoneErrors> {
    Zone::from_text(text, Path::new("t.zone"), None)
}

const HEAD: &str =
    "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n";

#[test]
fn another_serial_changes_the_soa_everywhere_it_is_read() {
    let z = zone(HEAD).expect("valid").with_serial(42);
    assert_eq!(z.serial(), 42);
    let apex = z
        .node(&LowerName::new(z.origin()))
        .and_then(|n| n.get(RecordType::SOA))
        .expect("apex SOA");
    assert!(matches!(&apex[0].data, RData::SOA(soa) if soa.serial == 42));
    assert!(matches!(&z.negative_soa().data, RData::SOA(soa) if soa.serial == 42));
    assert_eq!(
        z.records().count(),
        zone(HEAD).expect("valid").records().count()
    );
}

fn first_error(text: &str) -> String {
    zone(text).expect_err("must fail").0[0].to_string()
}

#[test]
fn valid_zone_loads_with_empty_non_terminals() {
    let z = zone(&format!("{HEAD}a.b.c A 192.0.2.2\n")).expect("valid");
    assert_eq!(z.record_count(), 4);
    let ent = LowerName::new(&Name::from_ascii("b.c.example.test.").expect("name"));
    assert!(z.node(&ent).expect("ENT exists").is_empty());
    assert_eq!(z.negative_soa().ttl, 60);
}

#[test]
fn rejects_cname_beside_data() {
    assert_eq!(
        first_error(&format!("{HEAD}www CNAME ns1\nwww TXT hi\n")),
        "t.zone:6: CNAME at www.example.test. beside other data (RFC 1034 §3.6.2)"
    );
}

#[test]
fn rejects_data_outside_origin() {
    assert_eq!(
        first_error(&format!("{HEAD}www.other. A 192.0.2.9\n")),
        "t.zone:6: www.other. is outside the zone example.test."
    );
}

#[test]
fn rejects_missing_soa_and_second_soa_and_missing_ns() {
    assert!(first_error("$ORIGIN example.test.\n$TTL 1\nwww A 192.0.2.1\n").contains("no SOA"));
    assert_eq!(
        first_error(&format!("{HEAD}@ SOA ns2 host 2 2 3 4 5\n")),
        "t.zone:6: second SOA record (the first is at t.zone:3)"
    );
    assert!(
        first_error("$ORIGIN example.test.\n$TTL 1\n@ SOA ns1 host 1 2 3 4 5\n")
            .contains("no NS records")
    );
}

#[test]
fn rejects_data_below_an_apex_dname() {
    let err = first_error(&format!("{HEAD}@ DNAME other.test.\nwww A 192.0.2.9\n"));
    assert!(err.contains("below the DNAME at example.test."), "{err}");
}

#[test]
fn rejects_data_below_a_cut_but_allows_glue() {
    let ok = format!("{HEAD}sub NS ns.sub\nns.sub A 192.0.2.3\n");
    assert!(zone(&ok).is_ok());
    assert_eq!(
        first_error(&format!("{ok}www.sub TXT hidden\n")),
        "t.zone:8: www.sub.example.test. TXT is below the zone cut at sub.example.test. and would be occluded"
    );
    assert!(
        first_error(&format!("{ok}sub MX 10 ns1\n"))
            .starts_with("t.zone:8: sub.example.test. MX sits at the zone cut")
    );
}

/// A signed zone's DNSSEC records at a CNAME owner and at a zone cut are not "other data"
/// (RFC 2181 §10.1, RFC 4035 §2.3, §2.5); NSEC3 records live in the chain, not at a name.
#[test]
fn signed_zone_data_loads_beside_cnames_and_at_cuts() {
    let sig = |covered: &str, labels: u8| {
        format!(
            "RRSIG {covered} 13 {labels} 300 20361201000000 20261201000000 1 example.test. AAAA"
        )
    };
    let text = format!(
        "{HEAD}alias CNAME ns1\nalias {}\nalias NSEC sub CNAME RRSIG NSEC\nalias {}\n\
         sub NS ns.sub\nns.sub A 192.0.2.3\nsub DS 1 13 2 00FF\nsub {}\nsub NSEC www NS DS RRSIG NSEC\nsub {}\n\
         0123456789ABCDEFGHIJKLMNOPQRSTUV NSEC3 1 0 0 - 0123456789ABCDEFGHIJKLMNOPQRSTUV A\n\
         0123456789ABCDEFGHIJKLMNOPQRSTUV {}\n",
        sig("CNAME", 3),
        sig("NSEC", 3),
        sig("DS", 3),
        sig("NSEC", 3),
        sig("NSEC3", 3),
    );
    let z = zone(&text).expect("a signed zone loads");
    let hashed = LowerName::new(
        &Name::from_ascii("0123456789abcdefghijklmnopqrstuv.example.test.").expect("name"),
    );
    assert!(
        z.node(&hashed).is_none(),
        "a hashed owner is no name of the zone"
    );
    assert_eq!(z.record_count(), 15, "NSEC3 and its RRSIG are counted");
    assert_eq!(z.records().count(), 15);

    // The same types beside a CNAME that are data still are an error.
    assert!(first_error(&format!("{text}alias TXT hi\n")).contains("CNAME at alias"));
    // An NSEC3 owner must be a hash directly below the apex.
    let err = first_error(&format!("{HEAD}a.b NSEC3 1 0 0 - 00 A\n"));
    assert!(err.contains("is no base32hex hash directly below"), "{err}");
}
