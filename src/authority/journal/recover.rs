//! What a journal's entries say about the content served: the content at the last serial
//! (from the last snapshot and the increments after it) and the increments that led there, so
//! a restart answers IXFR as before it and a secondary finds its copy; and the compaction that
//! keeps both while dropping what is older.

use hickory_proto::rr::{RData, Record};

use super::{Entry, EntryKind, HISTORY_STEPS};

#[cfg(test)]
mod tests;
use crate::authority::transfer::Delta;
use crate::authority::update::Diff;

/// The content served at the journal's last serial, and the history that led to it.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// Every record served at `serial` (SOA included); `None` when the journal cannot say
    /// (no snapshot, or an entry after it without its increment: a v1 or v2 journal).
    pub content: Option<(u32, Vec<Record>)>,
    /// The increments that end at the last serial, oldest first, at most [`HISTORY_STEPS`].
    pub history: Vec<Delta>,
}

/// Reads back what `entries` (a journal's, oldest first) say was served.
pub(crate) fn recover(entries: &[Entry]) -> Recovered {
    Recovered {
        content: content_at(entries, entries.len()),
        history: history(entries),
    }
}

/// Equal including the TTL (hickory's `Record` equality leaves it out).
fn identical(a: &Record, b: &Record) -> bool {
    a == b && a.ttl == b.ttl
}

/// The content after the first `upto` entries: the last snapshot among them with every
/// increment after it applied, each starting where the one before ended and removing only
/// records that are there. `None` when any of that does not hold.
fn content_at(entries: &[Entry], upto: usize) -> Option<(u32, Vec<Record>)> {
    let entries = &entries[..upto];
    let start = entries
        .iter()
        .rposition(|e| e.kind == EntryKind::Snapshot)?;
    let snapshot = &entries[start];
    let mut serial = snapshot.to_serial;
    let mut content = snapshot.delta.as_ref()?.added.clone();
    for entry in &entries[start + 1..] {
        let delta = entry.delta.as_ref()?;
        if entry.from_serial != serial {
            return None;
        }
        let before = content.len();
        content.retain(|r| !delta.removed.iter().any(|gone| identical(r, gone)));
        if before - content.len() != delta.removed.len() {
            return None;
        }
        content.extend(delta.added.iter().cloned());
        serial = entry.to_serial;
    }
    Some((serial, content))
}

/// The last run of increments, each continuing the one before, that ends at the last entry.
fn history(entries: &[Entry]) -> Vec<Delta> {
    let mut steps = Vec::new();
    let mut next_from: Option<u32> = None;
    for entry in entries.iter().rev() {
        if steps.len() == HISTORY_STEPS || next_from.is_some_and(|f| f != entry.to_serial) {
            break;
        }
        let Some(step) = entry
            .delta
            .as_ref()
            .filter(|_| entry.kind != EntryKind::Snapshot)
            .and_then(as_step)
        else {
            break;
        };
        next_from = Some(entry.from_serial);
        steps.push(step);
    }
    steps.reverse();
    steps
}

/// An entry's increment as IXFR serves it: the SOAs apart from the records.
fn as_step(delta: &Diff) -> Option<Delta> {
    let is_soa = |r: &&Record| matches!(r.data, RData::SOA(_));
    let from = delta.removed.iter().find(is_soa)?.clone();
    let to = delta.added.iter().find(is_soa)?.clone();
    Some(Delta {
        from,
        to,
        removed: delta
            .removed
            .iter()
            .filter(|r| !is_soa(r))
            .cloned()
            .collect(),
        added: delta.added.iter().filter(|r| !is_soa(r)).cloned().collect(),
    })
}

/// What a compacted journal keeps: every UPDATE's own lines (replayed at each start), a
/// snapshot of the content where the kept history begins, and the last [`HISTORY_STEPS`]
/// entries after it. Without a content to snapshot (an older journal), every UPDATE and the
/// last entry: the serial and content last served.
pub(super) fn compacted(mut entries: Vec<Entry>) -> Vec<Entry> {
    let cut = entries.len().saturating_sub(HISTORY_STEPS);
    // The snapshot stands for the content after entry `cut - 1`, digest included (a snapshot
    // header must carry one).
    let digest = cut.checked_sub(1).and_then(|i| entries[i].content);
    let base = digest.and_then(|d| Some((content_at(&entries, cut)?, d)));
    let Some(((serial, content), digest)) = base else {
        let last = entries.pop();
        entries.retain(|e| e.kind == EntryKind::Update);
        entries.extend(last);
        return entries;
    };
    let tail = entries.split_off(cut);
    let mut kept: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::Update)
        .map(|e| Entry { delta: None, ..e })
        .collect();
    kept.push(Entry {
        kind: EntryKind::Snapshot,
        from_serial: serial,
        to_serial: serial,
        diff: Diff::default(),
        content: Some(digest),
        delta: Some(Diff {
            removed: Vec::new(),
            added: content,
        }),
    });
    kept.extend(tail);
    kept
}
