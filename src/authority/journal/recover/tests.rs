//! The content and history a journal gives back after a restart, through real files.

use hickory_proto::rr::Record;

use super::super::{Entry, EntryKind, HISTORY_STEPS, Journal, MAX_STEPS};
use super::recover;
use crate::authority::journal::tests::{origin, records, scratch};
use crate::authority::update::Diff;

fn soa(serial: u32) -> String {
    format!("@ SOA ns admin {serial} 3600 600 86400 300")
}

fn snapshot(serial: u32, lines: &[&str]) -> Entry {
    let mut all = vec![soa(serial)];
    all.extend(lines.iter().map(|l| l.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Entry {
        kind: EntryKind::Snapshot,
        from_serial: serial,
        to_serial: serial,
        diff: Diff::default(),
        content: Some(u64::from(serial)),
        delta: Some(Diff {
            removed: Vec::new(),
            added: records(&all),
        }),
    }
}

/// A step from `from` to `from + 1` taking out `removed` and putting in `added`.
fn step(from: u32, removed: &[&str], added: &[&str]) -> Entry {
    let (old, new) = (soa(from), soa(from + 1));
    let mut taken = vec![old.as_str()];
    taken.extend(removed);
    let mut put = vec![new.as_str()];
    put.extend(added);
    Entry {
        kind: EntryKind::Step,
        from_serial: from,
        to_serial: from + 1,
        diff: Diff::default(),
        content: Some(u64::from(from + 1)),
        delta: Some(Diff {
            removed: records(&taken),
            added: records(&put),
        }),
    }
}

fn sorted(mut records: Vec<Record>) -> Vec<String> {
    let mut lines: Vec<String> = records.drain(..).map(|r| r.to_string()).collect();
    lines.sort();
    lines
}

#[test]
fn a_reopened_journal_gives_back_the_content_and_the_increments() {
    let (_dir, path) = scratch("recover-back");
    let (mut journal, _) = Journal::open(&path, &origin()).expect("creates");
    let update = Entry {
        kind: EntryKind::Update,
        diff: Diff {
            removed: records(&["www A 192.0.2.1"]),
            added: records(&["www 60 A 192.0.2.1"]),
        },
        ..step(11, &["www A 192.0.2.1"], &["www 60 A 192.0.2.1"])
    };
    for entry in [
        snapshot(10, &["www A 192.0.2.1"]),
        step(10, &[], &["api AAAA 2001:db8::1"]),
        update.clone(),
    ] {
        journal.append(&entry).expect("appends");
    }
    let (_, entries) = Journal::open(&path, &origin()).expect("reopens");
    assert_eq!(
        entries[2], update,
        "an UPDATE keeps its own lines beside its increment"
    );
    let back = recover(&entries);
    let (serial, content) = back.content.expect("content");
    assert_eq!(serial, 12);
    assert_eq!(
        sorted(content),
        sorted(records(&[
            &soa(12),
            "api AAAA 2001:db8::1",
            "www 60 A 192.0.2.1"
        ]))
    );
    let serials: Vec<(u32, usize, usize)> = back
        .history
        .iter()
        .map(|d| {
            let serial = |r: &Record| match &r.data {
                hickory_proto::rr::RData::SOA(soa) => soa.serial,
                _ => 0,
            };
            (serial(&d.to), d.removed.len(), d.added.len())
        })
        .collect();
    assert_eq!(serials, vec![(11, 0, 1), (12, 1, 1)]);
}

#[test]
fn an_entry_without_its_increment_ends_the_history_and_the_content() {
    let mut v2_step = step(11, &[], &[]);
    v2_step.delta = None;
    let entries = vec![
        snapshot(10, &["www A 192.0.2.1"]),
        step(10, &[], &["api A 192.0.2.2"]),
        v2_step,
        step(12, &["api A 192.0.2.2"], &[]),
    ];
    let back = recover(&entries);
    assert!(back.content.is_none(), "what led to 12 is not known");
    assert_eq!(back.history.len(), 1, "only the step after the gap");
    // A removal of what is not there: not the content the entries were written from.
    let wrong = vec![
        snapshot(10, &["www A 192.0.2.1"]),
        step(10, &["api A 192.0.2.9"], &[]),
    ];
    assert!(recover(&wrong).content.is_none());
    // Nor is an increment that starts at another serial.
    let gap = vec![snapshot(10, &[]), step(11, &[], &[])];
    assert!(recover(&gap).content.is_none());
}

#[test]
fn compaction_keeps_a_snapshot_and_the_last_increments() {
    let (_dir, path) = scratch("recover-compact");
    let (mut journal, _) = Journal::open(&path, &origin()).expect("creates");
    journal
        .append(&snapshot(1, &["www A 192.0.2.1"]))
        .expect("snapshot");
    let mut serial = 1;
    // Each step replaces the TXT record: the content stays small, the history grows.
    for n in 0..=MAX_STEPS {
        let old = format!("flap TXT \"{}\"", n.max(1) - 1);
        let new = format!("flap TXT \"{n}\"");
        let removed: Vec<&str> = if n == 0 { vec![] } else { vec![old.as_str()] };
        journal
            .append(&step(serial, &removed, &[new.as_str()]))
            .expect("step");
        serial += 1;
    }
    let (_, before) = Journal::open(&path, &origin()).expect("compacts");
    // Compacted at that open: a snapshot and the tail.
    assert_eq!(before.len(), HISTORY_STEPS + 1);
    assert_eq!(before[0].kind, EntryKind::Snapshot);
    let back = recover(&before);
    let (last, content) = back.content.expect("content after compaction");
    assert_eq!(last, serial);
    assert_eq!(
        sorted(content),
        sorted(records(&[
            &soa(serial),
            "www A 192.0.2.1",
            &format!("flap TXT \"{MAX_STEPS}\"")
        ]))
    );
    assert_eq!(back.history.len(), HISTORY_STEPS);
    // And reads back the same once more.
    let (_, again) = Journal::open(&path, &origin()).expect("reopens");
    assert_eq!(again, before);
}
