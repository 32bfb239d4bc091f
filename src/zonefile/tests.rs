use super::*;
use crate::testing::{Scratch, name};

#[test]
fn inherits_owner_and_ttl_and_reports_lines() {
    let text = "$ORIGIN example.test.\n\
                @ 300 IN SOA ns1 host 1 2 3 4 5\n\
                \x20 NS ns1\n\
                ns1 A 192.0.2.1\n\
                $TTL 60\n\
                www A 192.0.2.2\n\
                \x20 AAAA 2001:db8::1\n";
    let recs = parse_zone_text(text, Path::new("t.zone"), None).expect("parses");
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[1].record.name, name("example.test."));
    assert_eq!(recs[1].record.ttl, 300);
    assert_eq!(recs[2].record.ttl, 300, "no $TTL yet: last TTL repeats");
    assert_eq!(recs[4].record.name, name("www.example.test."));
    assert_eq!(recs[4].record.ttl, 60);
    assert_eq!(recs[4].at.line, 7);
}

#[test]
fn errors_name_file_and_line() {
    let text = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\nwww A 999.1.1.1\nx BOGUSTYPE 1\n";
    let errs = parse_zone_text(text, Path::new("z/bad.zone"), None).expect_err("must fail");
    let lines: Vec<String> = errs.0.iter().map(|e| e.at.to_string()).collect();
    assert_eq!(lines, vec!["z/bad.zone:4", "z/bad.zone:5"]);
}

#[test]
fn include_with_origin_does_not_leak_origin() {
    let dir = Scratch::new("load");
    std::fs::write(dir.join("inc.zone"), "host A 192.0.2.9\n").expect("write");
    let text = "$ORIGIN example.test.\n$TTL 60\n$INCLUDE inc.zone sub\nafter A 192.0.2.8\n";
    let recs = parse_zone_text(text, &dir.join("main.zone"), None).expect("parses");
    assert_eq!(recs[0].record.name, name("host.sub.example.test."));
    assert_eq!(recs[0].at.file, dir.join("inc.zone"));
    assert_eq!(recs[1].record.name, name("after.example.test."));
}

#[test]
fn a_missing_file_is_not_found_without_a_line() {
    let dir = Scratch::new("missing");
    let missing = dir.join("absent.zone");
    let errs = parse_zone_file(&missing, None).expect_err("no file");
    assert_eq!(
        errs.to_string(),
        format!("{}: not found", missing.display())
    );
    let text = "$ORIGIN example.test.\n$TTL 60\n$INCLUDE absent.zone\n";
    let errs = parse_zone_text(text, &dir.join("main.zone"), None).expect_err("no include");
    assert_eq!(
        errs.to_string(),
        format!(
            "{}:3: $INCLUDE {}: not found",
            dir.join("main.zone").display(),
            missing.display()
        )
    );
}

#[test]
fn dname_records_parse() {
    let text = "$ORIGIN example.test.\n$TTL 60\nold 300 IN DNAME new.example.test.\n";
    let recs = parse_zone_text(text, Path::new("d.zone"), None).expect("parses");
    assert_eq!(
        recs[0].record.record_type(),
        hickory_proto::rr::RecordType::DNAME
    );
    assert_eq!(
        dname::target(&recs[0].record),
        Some(name("new.example.test."))
    );
}

#[test]
fn unbalanced_parenthesis_is_reported() {
    let text = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host ( 1 2 3 4 5\n";
    let errs = parse_zone_text(text, Path::new("p.zone"), None).expect_err("must fail");
    assert_eq!(
        errs.0[0].to_string(),
        "p.zone:3: unbalanced '(' at end of file"
    );
}
