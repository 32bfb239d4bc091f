//! Round trips, torn writes and corruption, on real files in a temporary directory.
//!
//! What durability relies on cannot be observed without cutting the power, so it is stated
//! here instead: fdatasync(2) returning success means the appended bytes and the new file
//! length are on stable storage, and fsync(2) of the directory makes a newly created file's
//! entry durable (POSIX leaves that to the implementation; ext4, XFS and btrfs honour it).
//! Tests check the format and the recovery rules that make those two enough.

use std::path::PathBuf;

use hickory_proto::rr::rdata::{A, CNAME, NULL, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::*;

/// A change from another source than UPDATE.
fn step(from_serial: u32, to_serial: u32, content: u64) -> Entry {
    Entry {
        kind: EntryKind::Step,
        from_serial,
        to_serial,
        diff: Diff::default(),
        content: Some(content),
        delta: None,
    }
}
use crate::testing::{Scratch, name};
use crate::zonefile::parse_zone_text;

pub(super) fn origin() -> Name {
    name("example.test.")
}

/// A fresh directory for one test (`tag` its own), and the journal path in it; the directory
/// goes when the guard is dropped, a failed test's too.
pub(super) fn scratch(tag: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(&format!("journal-{tag}"));
    let path = dir.join("example.test.journal");
    (dir, path)
}

/// Zone-file lines (relative to example.test., TTL 300 unless given) as records.
pub(super) fn records(lines: &[&str]) -> Vec<Record> {
    let text = format!("$ORIGIN example.test.\n$TTL 300\n{}\n", lines.join("\n"));
    parse_zone_text(&text, Path::new("t"), None)
        .expect("test records")
        .into_iter()
        .map(|l| l.record)
        .collect()
}

fn entry(from: u32, to: u32, removed: &[&str], added: &[&str]) -> Entry {
    Entry {
        kind: EntryKind::Update,
        from_serial: from,
        to_serial: to,
        diff: Diff {
            removed: records(removed),
            added: records(added),
        },
        content: Some(u64::from(to) * 0x0101_0101),
        delta: None,
    }
}

/// Every byte of every record, TTL and owner case included (`Record`'s `==` ignores both),
/// one line per entry and per record.
fn exact(entries: &[Entry]) -> Vec<String> {
    let mut out = Vec::new();
    for e in entries {
        out.push(format!("{} -> {}", e.from_serial, e.to_serial));
        let signed = e.diff.removed.iter().map(|r| ('-', r));
        for (sign, r) in signed.chain(e.diff.added.iter().map(|r| ('+', r))) {
            let bytes = r.to_bytes().expect("encodes");
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            out.push(format!("{sign} {r} [{hex}]"));
        }
    }
    out
}

fn reopen(path: &Path) -> Result<Vec<Entry>, JournalError> {
    Journal::open(path, &origin()).map(|(_, entries)| entries)
}

fn first() -> Entry {
    entry(
        10,
        11,
        &["www 300 IN A 192.0.2.10"],
        &["www 60 IN A 192.0.2.10", "_http._tcp 60 IN SRV 0 5 80 www"],
    )
}

fn second() -> Entry {
    entry(
        11,
        12,
        &["alias 300 IN CNAME www"],
        &["alias 300 IN A 192.0.2.9"],
    )
}

fn third() -> Entry {
    entry(12, 13, &[], &["extra 300 IN TXT \"three\""])
}

#[test]
fn entries_round_trip_exactly() {
    let (_dir, path) = scratch("roundtrip");
    let mut every_type = entry(
        2024010101,
        2024010102,
        &[
            "@ 3600 IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300",
            "www 60 IN A 192.0.2.1",
        ],
        &[
            "@ 3600 IN SOA ns1 hostmaster 2024010102 7200 900 1209600 300",
            "@ 3600 IN NS ns2.Other.Test.",
            "@ 300 IN MX 10 Mail.Example.Test.",
            "www 5 IN A 192.0.2.1",
            "www 2147483647 IN AAAA 2001:db8::1",
            "_http._tcp 5 IN SRV 0 5 8080 web-1.web",
            r#"txt 300 IN TXT "one" "two words" "semi;colon" "quote\"d" "back\\slash" "" "héllo""#,
            "alias 300 IN CNAME www",
            "old 300 IN DNAME new.example.test.",
            r#"caa 300 IN CAA 0 issue "ca.example.net""#,
        ],
    );
    // Upper case, kept as sent (the zone-file reader folds names to lower case).
    let mixed = |s: &str| Name::from_ascii(s).expect("name");
    let rdata = RData::A(A::new(192, 0, 2, 7));
    let upper_owner = Record::from_rdata(mixed("MyLaptop.Example.test."), 30, rdata);
    let target = RData::CNAME(CNAME(mixed("MyLaptop.Example.test.")));
    let upper_target = Record::from_rdata(mixed("laptop.example.test."), 30, target);
    every_type.diff.added.extend([upper_owner, upper_target]);
    // Beyond what text can say: binary TXT, and a type hickory does not know.
    let owner = Name::from_ascii("bin.example.test.").expect("name");
    let binary = TXT::from_bytes(vec![b"\x00\xff\n".as_slice(), b"ok"]);
    every_type
        .diff
        .added
        .push(Record::from_rdata(owner.clone(), 7, RData::TXT(binary)));
    let unknown = RData::Unknown {
        code: RecordType::Unknown(65280),
        rdata: NULL::with(vec![1, 2, 3]),
    };
    every_type
        .diff
        .added
        .push(Record::from_rdata(owner, 8, unknown));

    let (mut journal, entries) = Journal::open(&path, &origin()).expect("creates");
    assert!(entries.is_empty());
    assert_eq!(journal.last_serial, None);
    journal.append(&every_type).expect("appends");
    journal
        .append(&entry(2024010102, 2024010103, &[], &[]))
        .expect("empty diff");
    drop(journal);

    let (journal, entries) = Journal::open(&path, &origin()).expect("reopens");
    let want = [every_type, entry(2024010102, 2024010103, &[], &[])];
    assert_eq!(exact(&entries), exact(&want));
    assert_eq!(journal.last_serial, Some(2024010103));

    // A human can read it: presentation format where it reads back, RFC 3597 where not.
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "; tern journal v3 for example.test.");
    // The content digest of the test's entry(): its TO serial times 0x01010101.
    let digest = |to: u64| format!("{:016x}", to * 0x0101_0101);
    assert_eq!(
        lines[1],
        format!(
            "; tern journal entry 2024010101 -> 2024010102 content {}",
            digest(2024010102)
        )
    );
    let has = |line: &str| lines.contains(&line);
    assert!(has("+ www.example.test. 5 IN A 192.0.2.1"), "{text}");
    assert!(has("+ MyLaptop.Example.test. 30 IN A 192.0.2.7"), "{text}");
    let cname =
        "+ laptop.example.test. 30 IN TYPE5 \\# 23 084d794c6170746f70074578616d706c65047465737400";
    assert!(
        has(cname),
        "upper case in RDATA only reads back in generic form: {text}"
    );
    assert!(has("+ old.example.test. 300 IN DNAME new.example.test."));
    assert!(has("+ bin.example.test. 8 IN TYPE65280 \\# 3 010203"));
    assert!(lines[18].starts_with("; end 16 records crc32 "), "{text}");
    assert_eq!(
        lines[19],
        format!(
            "; tern journal entry 2024010102 -> 2024010103 content {}",
            digest(2024010103)
        )
    );
    assert!(lines[20].starts_with("; end 0 records crc32 "), "{text}");
}

#[test]
fn a_torn_last_entry_is_cut_off_wherever_the_write_stopped() {
    let (_dir, path) = scratch("torn");
    let (mut journal, _) = Journal::open(&path, &origin()).expect("creates");
    journal.append(&first()).expect("appends");
    drop(journal);
    let good = std::fs::read(&path).expect("read");
    let torn = entry_text(&second(), &origin()).expect("text");

    // A crash after any byte of the second entry, including all of it but the last `\n`.
    for cut in 1..torn.len() {
        let mut bytes = good.clone();
        bytes.extend_from_slice(&torn.as_bytes()[..cut]);
        std::fs::write(&path, &bytes).expect("write");
        let entries = reopen(&path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(exact(&entries), exact(&[first()]), "cut at {cut}");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            good,
            "cut at {cut}: truncated"
        );
    }
    // Blocks written out of order: full length, garbage inside; or a tail of zeros.
    let mut scrambled = torn.clone().into_bytes();
    scrambled[40] ^= 0x20;
    for tail in [scrambled, vec![0u8; 4096]] {
        std::fs::write(&path, [good.as_slice(), &tail].concat()).expect("write");
        assert_eq!(exact(&reopen(&path).expect("opens")), exact(&[first()]));
    }

    // The journal is usable again: the next entry follows the last good one.
    let (mut journal, _) = Journal::open(&path, &origin()).expect("opens");
    journal.append(&second()).expect("appends");
    assert_eq!(
        exact(&reopen(&path).expect("opens")),
        exact(&[first(), second()])
    );
}

#[test]
fn a_file_cut_inside_its_first_line_starts_afresh() {
    let (_dir, path) = scratch("header");
    std::fs::write(&path, "; tern jour").expect("write");
    let (mut journal, entries) = Journal::open(&path, &origin()).expect("opens");
    assert!(entries.is_empty());
    journal.append(&first()).expect("appends");
    assert_eq!(exact(&reopen(&path).expect("opens")), exact(&[first()]));
}

/// The journal of `first`, `second` and `third`, as text.
fn three_entries(path: &Path) -> String {
    let (mut journal, _) = Journal::open(path, &origin()).expect("creates");
    for e in [first(), second(), third()] {
        journal.append(&e).expect("appends");
    }
    std::fs::read_to_string(path).expect("read")
}

#[test]
fn corruption_before_the_last_entry_is_an_error_with_file_line() {
    let (_dir, path) = scratch("corrupt");
    let text = three_entries(&path);
    // Lines: 1 file header; 2-6 first (3 records); 7-10 second; 11-13 third.
    let p = path.display();
    let cases = [
        (
            "a flipped byte in a record",
            text.replace("192.0.2.9", "192.0.2.8"),
            format!("{p}:10: checksum mismatch in the entry from line 7"),
        ),
        (
            "a lost end line",
            text.lines()
                .filter(|l| !l.starts_with("; end 2"))
                .map(|l| format!("{l}\n"))
                .collect(),
            format!("{p}:10: expected a record line or `; end N records crc32 X`"),
        ),
        (
            "a record line that is not one",
            text.replace("+ alias", "* alias"),
            format!("{p}:9: expected a record line or `; end N records crc32 X`"),
        ),
        (
            "a lost record line",
            text.replace("- alias.example.test. 300 IN CNAME www.example.test.\n", ""),
            format!("{p}:9: the entry has 1 record lines, not 2"),
        ),
    ];
    for (name, corrupted, want) in cases {
        std::fs::write(&path, &corrupted).expect("write");
        let err = reopen(&path).expect_err(name);
        assert_eq!(err.to_string(), want, "{name}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            corrupted,
            "{name}: untouched"
        );
    }
}

/// An entry with a valid checksum around whatever lines are given.
fn sealed(from: u32, to: u32, lines: &[&str]) -> String {
    let mut body = format::entry_header(&format::EntryHeader {
        kind: EntryKind::Update,
        from,
        to,
        content: None,
    });
    for line in lines {
        body.push_str(line);
        body.push('\n');
    }
    let end = format::end_line(lines.len(), format::crc32(body.as_bytes()));
    body + &end
}

#[test]
fn what_tern_would_not_write_is_an_error_even_at_the_end() {
    let (_dir, path) = scratch("sealed");
    let header = format::file_header(&origin());
    let p = path.display();
    let cases = [
        (
            sealed(1, 2, &["+ www.example.test. 60 IN A 999.1.1.1"]),
            format!("{p}:3: "),
        ),
        (
            sealed(1, 2, &["+ www.example.test. 60 IN TYPE65280 \\# 3 0102"]),
            format!("{p}:3: RDATA is 2 bytes, not 3"),
        ),
        (
            sealed(1, 5, &[]) + &sealed(3, 4, &[]),
            format!("{p}:4: entry from serial 3 is before the previous entry's 5"),
        ),
    ];
    for (entries, want) in cases {
        std::fs::write(&path, format!("{header}{entries}")).expect("write");
        let err = reopen(&path).expect_err("corrupt").to_string();
        assert!(err.starts_with(&want), "{err}");
    }
    std::fs::write(&path, "$ORIGIN example.test.\n").expect("write");
    assert_eq!(
        reopen(&path).expect_err("not a journal").to_string(),
        format!("{p}:1: not a tern journal")
    );
    std::fs::write(
        &path,
        format::file_header(&Name::from_ascii("other.test.").expect("n")),
    )
    .expect("write");
    assert!(matches!(reopen(&path), Err(JournalError::WrongZone { .. })));
}

#[test]
fn serials_never_go_back_but_may_skip() {
    let (_dir, path) = scratch("chain");
    let (mut journal, _) = Journal::open(&path, &origin()).expect("creates");
    journal.append(&third()).expect("appends");
    let err = journal.append(&first()).expect_err("10 is before 13");
    assert!(
        matches!(
            err,
            JournalError::Discontinuous {
                last: 13,
                from: 10,
                ..
            }
        ),
        "{err}"
    );
    // Other sources stepped the serial from 13 to 20 meanwhile.
    let mut later = second();
    (later.from_serial, later.to_serial) = (20, 21);
    journal.append(&later).expect("20 may follow 13");
    assert_eq!(journal.last_serial, Some(21));
    let (_, entries) = Journal::open(&path, &origin()).expect("reopens");
    assert_eq!(entries.len(), 2);
}

#[test]
fn crc32_is_the_ieee_one() {
    // The standard check value (the CRC of the ASCII digits 1 to 9).
    assert_eq!(format::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(format::crc32(b""), 0);
}

#[test]
fn steps_carry_serial_and_content_and_read_back() {
    let (_dir, path) = scratch("steps");
    let (mut journal, _) = Journal::open(&path, &origin()).expect("creates");
    journal.append(&first()).expect("update");
    journal
        .append(&step(11, 12, 0xfeed_0000_beef))
        .expect("step");
    journal.append(&third()).expect("update after a step");
    let (_, entries) = Journal::open(&path, &origin()).expect("reopens");
    assert_eq!(
        entries,
        vec![first(), step(11, 12, 0xfeed_0000_beef), third()]
    );
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.starts_with("; tern journal v3 for example.test.\n"),
        "{text}"
    );
    assert!(
        text.contains("; tern journal step 11 -> 12 content 0000feed0000beef\n"),
        "{text}"
    );
}

#[test]
fn a_v1_journal_is_read_and_appended_to() {
    let (_dir, path) = scratch("v1");
    let v1 = format!(
        "; tern journal v1 for example.test.\n{}",
        sealed(1, 2, &["+ www.example.test. 60 IN A 192.0.2.1"])
    );
    std::fs::write(&path, &v1).expect("write");
    let (mut journal, entries) = Journal::open(&path, &origin()).expect("a v1 journal opens");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].kind, entries[0].content),
        (EntryKind::Update, None)
    );
    journal.append(&step(2, 3, 7)).expect("appends");
    let (_, entries) = Journal::open(&path, &origin()).expect("reopens");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1], step(2, 3, 7));
    // A step without its digest is not something tern writes.
    assert_eq!(
        format::parse_entry_header("; tern journal step 2 -> 3"),
        None
    );
    assert!(format::parse_entry_header("; tern journal step 2 -> 3 content 07").is_none());
    assert_eq!(
        format::parse_entry_header("; tern journal entry 2 -> 3").map(|h| (h.kind, h.content)),
        Some((EntryKind::Update, None))
    );
}

#[test]
fn many_steps_are_compacted_keeping_updates_and_the_last_entry() {
    let (_dir, path) = scratch("compact");
    let (mut journal, _) = Journal::open(&path, &origin()).expect("creates");
    journal.append(&first()).expect("update");
    let mut serial = 11;
    for _ in 0..=MAX_STEPS {
        journal
            .append(&step(serial, serial + 1, u64::from(serial)))
            .expect("step");
        serial += 1;
    }
    let big = std::fs::metadata(&path).expect("stat").len();
    let last = step(serial - 1, serial, u64::from(serial - 1));
    let (mut journal, entries) = Journal::open(&path, &origin()).expect("compacts");
    assert_eq!(entries, vec![first(), last.clone()]);
    assert!(std::fs::metadata(&path).expect("stat").len() < big / 100);
    // The compacted file goes on as a journal: appends follow its last serial.
    let mut next = second();
    (next.from_serial, next.to_serial) = (serial, serial + 1);
    journal.append(&next).expect("appends after compaction");
    let (_, entries) = Journal::open(&path, &origin()).expect("reopens");
    assert_eq!(entries, vec![first(), last, next]);
}
