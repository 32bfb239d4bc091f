//! Review tests of zone-file reading against RFC 1035 §5 and what NSD and BIND accept.

use std::path::Path;

use hickory_proto::rr::RData;

use super::*;
use crate::testing::{Scratch, name};

const HEAD: &str = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n";

fn parse(body: &str) -> Result<Vec<Located>, ZoneErrors> {
    parse_zone_text(&format!("{HEAD}{body}"), Path::new("t.zone"), None)
}

fn txt_of(recs: &[Located]) -> Vec<Vec<u8>> {
    match &recs.last().expect("a record").record.data {
        RData::TXT(t) => t.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("not TXT: {other:?}"),
    }
}

/// RFC 1035 §5.1: `\DDD` is a decimal octet. hickory read it as octal: `\065` became `5`.
#[test]
fn decimal_escape_in_an_owner_name_is_decimal() {
    let recs = parse("\\065bc A 192.0.2.1\nx\\046y A 192.0.2.2\n").expect("parses");
    assert_eq!(recs[2].record.name, name("Abc.example.test."));
    assert_eq!(recs[3].record.name, name("x\\.y.example.test."));
    assert_eq!(
        recs[3].record.name.num_labels(),
        3,
        "\\046 is a dot inside a label"
    );
}

/// An octet a name cannot carry through hickory is refused at its line, not misread.
#[test]
fn unsupported_name_escape_is_refused_at_its_line() {
    let errs = parse("a\\000b A 192.0.2.1\n").expect_err("refused");
    assert_eq!(errs.0[0].at.to_string(), "t.zone:5");
}

/// RFC 1035 §5.1 escapes in TXT strings, quoted or not: decimal octets, `\"`, `\;`.
#[test]
fn txt_escapes_are_octets() {
    let recs = parse("t TXT \"x\\\"y\\059z\\255\" a\\;b \"\\\\\"\n").expect("parses");
    assert_eq!(
        txt_of(&recs),
        vec![b"x\"y;z\xff".to_vec(), b"a;b".to_vec(), b"\\".to_vec()]
    );
}

/// RFC 1035 §3.3: a <character-string> is at most 255 octets. hickory took a longer one,
/// which then failed to encode in every answer. NSD and BIND refuse the zone.
#[test]
fn txt_string_longer_than_255_is_refused_at_its_line() {
    let long = "a".repeat(256);
    let errs = parse(&format!("t TXT (\n \"ok\"\n \"{long}\" )\n")).expect_err("refused");
    assert_eq!(errs.0[0].at.to_string(), "t.zone:5");
    let ok = parse(&format!("t TXT \"{}\" \"{}\"\n", "a".repeat(255), "b")).expect("255 is fine");
    assert_eq!(txt_of(&ok)[0].len(), 255);
}

/// A TXT string with spaces, a multi-line TXT, and a UTF-8 string are kept as written.
#[test]
fn txt_plain_forms_still_parse() {
    let recs = parse("t TXT ( \"v=spf1 -all\"\n  \"two\" ) ; c\nu TXT \"é\"\n").expect("parses");
    assert_eq!(
        txt_of(&recs[..3]),
        vec![b"v=spf1 -all".to_vec(), b"two".to_vec()]
    );
    assert_eq!(txt_of(&recs), vec!["é".as_bytes().to_vec()]);
    assert_eq!(recs[3].at.line, 7);
}

/// RFC 2181 §8: a TTL is at most 2^31 - 1. Refused with its line, in a record or `$TTL`.
#[test]
fn ttl_above_2_31_is_refused_at_its_line() {
    let errs = parse("big 2147483648 A 192.0.2.2\n").expect_err("refused");
    assert_eq!(errs.0[0].at.to_string(), "t.zone:5");
    let errs = parse("$TTL 4294967295\nx A 192.0.2.2\n").expect_err("refused");
    assert_eq!(errs.0[0].at.to_string(), "t.zone:5");
    assert!(parse("max 2147483647 A 192.0.2.2\n").is_ok());
}

/// A file that includes itself is refused where the loop closes (BIND refuses it too),
/// instead of being read 16 levels deep, or 2^16 times when it includes itself twice.
#[test]
fn include_loop_is_refused_at_the_including_line() {
    let dir = Scratch::new("incloop");
    let a = dir.join("a.zone");
    std::fs::write(&a, "x A 192.0.2.1\n$INCLUDE b.zone\n").expect("write");
    std::fs::write(
        dir.join("b.zone"),
        "$INCLUDE a.zone\n$INCLUDE a.zone\n$INCLUDE a.zone\n",
    )
    .expect("write");
    let main = dir.join("main.zone");
    std::fs::write(&main, format!("{HEAD}$INCLUDE a.zone\n")).expect("write");
    let errs = parse_zone_file(&main, None).expect_err("loop");
    let b = dir.join("b.zone").display().to_string();
    assert!(errs.0.len() <= 3, "{errs}");
    assert!(
        errs.0.iter().all(|e| e.at.to_string() == format!("{b}:1")
            || e.at.to_string() == format!("{b}:2")
            || e.at.to_string() == format!("{b}:3")),
        "{errs}"
    );
}

/// A file that is not UTF-8 is refused at the line of its first bad byte, also when it is
/// an `$INCLUDE`d file.
#[test]
fn non_utf8_file_names_the_line() {
    let dir = Scratch::new("nonutf8");
    let main = dir.join("main.zone");
    let mut bytes = format!("{HEAD}t TXT \"ok\"\n").into_bytes();
    bytes.extend_from_slice(b"u TXT \"\xff\"\n");
    std::fs::write(&main, &bytes).expect("write");
    let errs = parse_zone_file(&main, None).expect_err("not UTF-8");
    assert_eq!(errs.0[0].at.to_string(), format!("{}:6", main.display()));
    std::fs::write(dir.join("inc.zone"), b"\n\xfe\n").expect("write");
    std::fs::write(&main, format!("{HEAD}$INCLUDE inc.zone\n")).expect("write");
    let errs = parse_zone_file(&main, None).expect_err("not UTF-8");
    assert_eq!(
        errs.0[0].at.to_string(),
        format!("{}:2", dir.join("inc.zone").display())
    );
}

/// Line numbers stay right after a parenthesised record and inside an `$INCLUDE`d file.
#[test]
fn lines_after_parentheses_and_inside_includes() {
    let dir = Scratch::new("lines");
    std::fs::write(
        dir.join("inc.zone"),
        "; c\nm MX ( 10\n ns1 )\nbad A 300.0.0.1\n",
    )
    .expect("write");
    let main = dir.join("main.zone");
    let text = format!("{HEAD}w TXT ( \"a\"\n \"b\" )\n$INCLUDE inc.zone\nbad2 A 1.2.3\n");
    let errs = parse_zone_text(&text, &main, None).expect_err("bad");
    let at: Vec<String> = errs.0.iter().map(|e| e.at.to_string()).collect();
    assert_eq!(
        at,
        vec![
            format!("{}:4", dir.join("inc.zone").display()),
            format!("{}:8", main.display())
        ]
    );
}

/// RFC 2181 §5.2: the RRs of an RRset must have one TTL. BIND loads such a file with "TTL
/// set to prior TTL" (the first one); tern served both TTLs in one RRset. Made one when the
/// file is read (`rrset_ttl.rs`), not in `Node::insert`, where an UPDATE that adds to an
/// RRset gives the whole RRset the new TTL instead (as BIND).
#[test]
fn rrset_ttls_are_made_one() {
    let text = format!("{HEAD}ns1 A 192.0.2.1\nd 10 A 192.0.2.1\nd 20 A 192.0.2.2\n");
    let zone = crate::authority::Zone::from_text(&text, Path::new("t.zone"), None).expect("loads");
    let ttls: Vec<u32> = zone
        .records()
        .filter(|r| r.name == name("d.example.test."))
        .map(|r| r.ttl)
        .collect();
    assert_eq!(ttls, vec![10, 10]);
}

/// One RRset whatever the owner's case (RFC 4343); another type at the name keeps its own TTL.
#[test]
fn rrset_ttls_are_one_per_rrset_only() {
    let text = format!("{HEAD}ns1 A 192.0.2.1\nd 10 A 192.0.2.1\nD 30 A 192.0.2.2\nd 20 TXT x\n");
    let zone = crate::authority::Zone::from_text(&text, Path::new("t.zone"), None).expect("loads");
    let mut ttls: Vec<(String, u32)> = zone
        .records()
        .filter(|r| r.name == name("d.example.test."))
        .map(|r| (r.record_type().to_string(), r.ttl))
        .collect();
    ttls.sort();
    assert_eq!(
        ttls,
        vec![("A".into(), 10), ("A".into(), 10), ("TXT".into(), 20)]
    );
}
