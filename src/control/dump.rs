//! `dump-cache` text: every cached record as one zone-file line that reads back to the same
//! record (presentation form where that round-trips, else RFC 3597 generic form, both from the
//! journal's writer), and negative and failure entries as comment lines. Data from the network
//! never decides where a line ends: records are checked to round-trip and hold no control
//! character, and comments carry names as escaped ASCII and reasons quoted.

use std::fmt::Write as _;

use hickory_proto::rr::{Name, Record};

use crate::authority::journal::format::record_line;
use crate::cache::Data;
use crate::cache::admin::Dumped;

/// The text of `dumped`, one line per record or entry.
pub(super) fn text(dumped: &[Dumped]) -> String {
    let mut out = String::new();
    for d in dumped {
        // `to_ascii`, not Display: Display turns `xn--` labels into Unicode.
        let owner = d.key.name().to_ascii();
        let rtype = d.key.rtype.map_or("*".to_string(), |t| t.to_string());
        // Writing to a String cannot fail.
        let _ = match &d.data {
            Data::Positive(records) => {
                for r in records {
                    out.push_str(&line(r));
                    out.push('\n');
                }
                Ok(())
            }
            Data::NxDomain { soa } => {
                writeln!(out, "; {owner} {} NXDOMAIN{}", d.ttl, soa_note(soa))
            }
            Data::NoData { soa } => {
                writeln!(out, "; {owner} {} {rtype} NODATA{}", d.ttl, soa_note(soa))
            }
            Data::Failure { reason } => {
                writeln!(out, "; {owner} {} {rtype} SERVFAIL {reason:?}", d.ttl)
            }
        };
    }
    out
}

/// The record's line, or a comment saying it has none (an owner hickory cannot write back).
fn line(record: &Record) -> String {
    record_line(record, &Name::root()).unwrap_or_else(|| {
        format!(
            "; {} {} {}: no text form reads back to this record",
            record.name.to_ascii(),
            record.ttl,
            record.record_type()
        )
    })
}

fn soa_note(soa: &Option<Box<Record>>) -> String {
    soa.as_deref()
        .and_then(|r| record_line(r, &Name::root()))
        .map(|l| format!(" (SOA: {l})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{NULL, TXT};
    use hickory_proto::rr::{RData, RecordType};
    use tokio::time::Instant;

    use super::*;
    use crate::authority::journal::format::parse_record;
    use crate::cache::{Cache, CachePolicy, Key, Rank};
    use crate::zonefile::parse_zone_text;

    fn name(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    #[tokio::test(start_paused = true)]
    async fn hostile_txt_and_unknown_types_dump_as_lines_that_read_back() {
        let cache = Cache::new(CachePolicy::default());
        let now = Instant::now();
        let txt_owner = name("txt.test.");
        let hostile: Vec<Vec<u8>> = vec![
            b"line\nbreak".to_vec(),
            b"a \"quoted\" word".to_vec(),
            b"; not a comment".to_vec(),
            vec![b'n', 0xff, b'n'],
            b"plain".to_vec(),
        ];
        let txt = Record::from_rdata(
            txt_owner.clone(),
            300,
            RData::TXT(TXT::from_bytes(hostile.iter().map(Vec::as_slice).collect())),
        );
        let plain = Record::from_rdata(
            name("plain.test."),
            300,
            RData::TXT(TXT::new(vec!["v=spf1 -all".to_string()])),
        );
        let unknown_owner = name("xn--bcher-kva.test.");
        let code = RecordType::Unknown(65280);
        let unknown = Record::from_rdata(
            unknown_owner.clone(),
            300,
            RData::Unknown {
                code,
                rdata: NULL::with(vec![0, 1, 2, b'\n', 0xff]),
            },
        );
        let want = [txt.clone(), plain.clone(), unknown.clone()];
        for r in &want {
            let key = Key::new(&r.name, r.record_type());
            let data = Data::Positive(vec![r.clone()]);
            assert!(cache.insert(key, data, 300, Rank::Authoritative, now));
        }
        let dump = text(&cache.dump(now));
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 3, "one line per record:\n{dump}");
        // The journal's reader: the zone-file reader, plus RFC 3597 generic lines (which
        // hickory's text parser does not take).
        let mut read: Vec<Record> = lines
            .iter()
            .map(|l| parse_record(l, &Name::root()).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        read.sort_by(|a, b| a.name.cmp(&b.name));
        let mut want = want.to_vec();
        want.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(read, want);
        // The plain TXT is presentation form, through the zone-file reader itself.
        let plain_line = lines
            .iter()
            .find(|l| l.starts_with("plain."))
            .expect("line");
        assert!(plain_line.contains("TXT \"v=spf1 -all\""), "{plain_line}");
        let parsed =
            parse_zone_text(plain_line, Path::new("dump"), Some(&Name::root())).expect("zone");

        assert_eq!(parsed[0].record, plain);
        // The hostile TXT and the unknown type are generic, owners in ASCII.
        for l in &lines[..] {
            assert!(!l.starts_with(';'), "{l}");
        }
        assert!(dump.contains("xn--bcher-kva.test. 300 IN TYPE65280 \\# 5 0001020aff"));
        assert!(dump.contains("txt.test. 300 IN TYPE16 \\# "));
    }

    #[tokio::test(start_paused = true)]
    async fn negative_and_failure_entries_are_single_comment_lines() {
        let cache = Cache::new(CachePolicy::default());
        let now = Instant::now();
        let owner = name("gone.test.");
        cache.insert(
            Key::new(&owner, RecordType::A),
            Data::Failure {
                reason: "evil\nwww.test. 300 IN A 192.0.2.1".to_string(),
            },
            30,
            Rank::Authoritative,
            now,
        );
        let dump = text(&cache.dump(now));
        assert_eq!(dump.lines().count(), 1, "{dump}");
        assert!(
            dump.starts_with("; gone.test. 30 A SERVFAIL \"evil\\nwww"),
            "{dump}"
        );
    }
}
