//! One served zone inside the store: its sources (file, updates, what other sources own), the
//! snapshot served, and the rule that gives each new content its serial.
//!
//! A change never touches another zone: it builds this zone once, compares the digest of its
//! content with the content served, and only when they differ takes the next serial, writes
//! the step to the zone's journal (synced) and swaps in the new snapshot. Work per change is
//! proportional to this zone, never to the others or to the number of past updates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, RData, Record, RecordType, SerialNumber};
use hickory_proto::serialize::binary::BinEncodable;

use super::{Owned, ZoneFile};
use crate::authority::Zone;
use crate::authority::journal::{
    Entry, EntryKind, HISTORY_STEPS, Journal, JournalError, Recovered, recover,
};
use crate::authority::rules::BalanceRules;
use crate::authority::transfer::{Delta, delta};
use crate::authority::update::Diff;
use crate::zonefile::{Located, Location, ZoneErrors};

#[derive(Debug, Clone)]
pub(super) struct StoredZone {
    pub(super) source: ZoneFile,
    pub(super) file_records: Vec<Located>,
    /// By source ("service web.cluster.test."), in a stable order.
    pub(super) owned: BTreeMap<String, Owned>,
    /// Every accepted update, oldest first (replayed from the journal at start and on top of
    /// an edited file at reload).
    /// Shared between the clones a change is worked out on: a health flap never copies them.
    pub(super) updates: Arc<Vec<Diff>>,
    /// The file's records with every update applied: what owned records are laid over.
    pub(super) base: Vec<Located>,
    pub(super) balance: BalanceRules,
    /// The steps that led to the served serial, oldest first; shared with the snapshots.
    history: Arc<Vec<Delta>>,
    /// False for a secondary without a copy yet, or whose copy expired: served as SERVFAIL.
    pub(super) available: bool,
    /// The last serial served (or, before the first commit, the last one the journal holds)
    /// and the digest of the content served at it (`None`: not known, as after a v1 journal).
    pub(super) last: Option<(u32, Option<u64>)>,
    /// The snapshot served; `None` until the first commit.
    pub(super) served: Option<Arc<Zone>>,
    /// Before the first commit: the content the journal says was served last (at `last`),
    /// which the first change is an increment from.
    journaled: Option<Arc<Zone>>,
    /// Opened, not committed yet: changes gather until [`StoredZone::commit`] decides the
    /// serial once for all of them (a start registers every service before it serves).
    pub(super) pending: bool,
}

/// What a change would serve, worked out before anything is written.
pub(super) struct Prepared {
    zone: Zone,
    serial: u32,
    content: u64,
    /// What changed from the content served before (`None`: nothing was served before, or the
    /// journal could not say what).
    step: Option<Delta>,
    /// The journal entry that makes the change durable (none when the journal's last entry
    /// already says so).
    entry: Option<Entry>,
}

pub(super) fn file_serial(records: &[Located]) -> u32 {
    records
        .iter()
        .find_map(|l| match &l.record.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .unwrap_or(0)
}

/// RFC 1982: `a` is later than `b`.
fn later(a: u32, b: u32) -> bool {
    SerialNumber::new(a) > SerialNumber::new(b)
}

impl StoredZone {
    pub(super) fn new(source: ZoneFile, file_records: Vec<Located>, available: bool) -> Self {
        StoredZone {
            source,
            base: file_records.clone(),
            file_records,
            owned: BTreeMap::new(),
            updates: Arc::default(),
            balance: BalanceRules::default(),
            history: Arc::default(),
            available,
            last: None,
            served: None,
            journaled: None,
            pending: true,
        }
    }

    /// Takes the entries of the zone's journal: updates are replayed onto the file's records,
    /// the last entry says which serial and content were served before this start, and the
    /// increments that led there are the history IXFR answers from again.
    pub(super) fn replay(&mut self, entries: Vec<Entry>) {
        let Recovered { content, history } = recover(&entries);
        if let Some(last) = entries.last() {
            self.last = Some((last.to_serial, last.content));
            self.history = Arc::new(history);
        }
        // Only what matches the digest the journal wrote counts: anything else is not what
        // was served.
        self.journaled = content
            .and_then(|(serial, records)| {
                let zone = self.zone_of(records).ok()?;
                (self.last == Some((serial, Some(digest(&zone))))).then(|| Arc::new(zone))
            })
            .filter(|_| !self.source.secondary || self.journal_is_latest_copy());
        match &self.journaled {
            None => self.history = Arc::default(),
            Some(copy) if self.source.secondary => {
                let records = located(copy.records().cloned(), &self.journal_location());
                self.set_file_records(records);
                self.available = true;
            }
            Some(_) => {}
        }
        for entry in entries {
            if entry.kind == EntryKind::Update {
                self.add_update(entry.diff);
            }
        }
    }

    /// A secondary's copy is what its journal holds, unless the copy file is later (written
    /// by hand, or by an older tern).
    fn journal_is_latest_copy(&self) -> bool {
        let Some((serial, _)) = self.last else {
            return false;
        };
        let file = (!self.file_records.is_empty()).then(|| file_serial(&self.file_records));
        !file.is_some_and(|f| later(f, serial))
    }

    fn zone_of(&self, records: Vec<Record>) -> Result<Zone, ZoneErrors> {
        let located = located(records, &self.journal_location());
        Zone::from_records(Some(&self.source.origin), located, &self.source.file)
    }

    /// Replaces the file's records (a reload, a transfer): the updates are laid over them again.
    pub(super) fn set_file_records(&mut self, records: Vec<Located>) {
        let mut base = records.clone();
        let at = self.journal_location();
        for diff in self.updates.iter() {
            apply_diff(&mut base, diff, &at);
        }
        self.file_records = records;
        self.base = base;
    }

    /// Takes an accepted update's diff into the zone's sources.
    pub(super) fn add_update(&mut self, diff: Diff) {
        let at = self.journal_location();
        apply_diff(&mut self.base, &diff, &at);
        Arc::make_mut(&mut self.updates).push(diff);
    }

    fn journal_location(&self) -> Location {
        Location {
            file: self
                .source
                .journal
                .clone()
                .unwrap_or_else(|| PathBuf::from("update")),
            line: 0,
        }
    }

    /// The zone the sources make now, at `serial`.
    pub(super) fn build(&self, serial: u32) -> Result<Zone, ZoneErrors> {
        let owned_names: Vec<LowerName> = self
            .owned
            .values()
            .flat_map(|o| o.names.iter().map(LowerName::new))
            .collect();
        let mut records: Vec<Located> = self
            .base
            .iter()
            .filter(|l| !owned_names.contains(&LowerName::new(&l.record.name)))
            .cloned()
            .collect();
        for (source, owned) in &self.owned {
            let at = Location {
                file: PathBuf::from(source),
                line: 0,
            };
            records.extend(owned.records.iter().map(|r| Located {
                record: r.clone(),
                at: at.clone(),
            }));
        }
        for l in records.iter_mut() {
            if let RData::SOA(soa) = &mut l.record.data {
                soa.serial = serial;
            }
        }
        Ok(
            Zone::from_records(Some(&self.source.origin), records, &self.source.file)?
                .with_balance(self.balance.clone()),
        )
    }

    /// What the sources make now, and at which serial, or `None` when that is what is served
    /// already. `given` is a serial the change brings (an edited file's, an UPDATE's new SOA):
    /// taken when it is later than the one served; otherwise the serial goes up by one.
    ///
    /// The first commit after a start compares with what the journal says was served last:
    /// the same content keeps its serial, other content gets a later one, so a restart never
    /// serves other data under a serial a secondary may have taken already.
    pub(super) fn prepare(
        &self,
        given: Option<u32>,
        kind: EntryKind,
        diff: Diff,
    ) -> Result<Option<Prepared>, ZoneErrors> {
        let Some((zone, serial, content)) = self.next_content(given)? else {
            return Ok(None);
        };
        let before = self.served.as_ref().or(self.journaled.as_ref());
        let step = before.map(|before| step_between(before, &zone));
        // Journaled unless this is the journal's own last word coming back after a start.
        let entry = (self.last != Some((serial, Some(content)))).then(|| {
            let (kind, delta) = match (&step, kind) {
                (Some(step), kind) => (kind, Some(as_diff(step))),
                // Nothing to be an increment from: the whole content, for the next start.
                (None, EntryKind::Update) => (EntryKind::Update, None),
                (None, _) => (
                    EntryKind::Snapshot,
                    Some(Diff {
                        removed: Vec::new(),
                        added: zone.records().cloned().collect(),
                    }),
                ),
            };
            Entry {
                kind,
                from_serial: self.last.map_or(serial, |(s, _)| s),
                to_serial: serial,
                diff,
                content: Some(content),
                delta,
            }
        });
        Ok(Some(Prepared {
            zone,
            serial,
            content,
            step,
            entry,
        }))
    }

    /// The zone the sources make now, its serial and content digest; `None` when it is what
    /// is served already.
    fn next_content(&self, given: Option<u32>) -> Result<Option<(Zone, u32, u64)>, ZoneErrors> {
        // A secondary serves its primary's serials, whatever they are (RFC 1982 wrap-around and
        // resets are the primary's business).
        if self.source.secondary {
            let serial = file_serial(&self.file_records);
            let zone = self.build(serial)?;
            let content = digest(&zone);
            let unchanged = self.served.is_some() && self.last == Some((serial, Some(content)));
            return Ok((!unchanged).then_some((zone, serial, content)));
        }
        let probe = self.last.map_or(0, |(s, _)| s);
        let zone = self.build(probe)?;
        let content = digest(&zone);
        if zone.signed().is_some() {
            return self.signed_serial(zone, content);
        }
        let serial = match (self.last, given) {
            (None, _) => given.unwrap_or_else(|| file_serial(&self.file_records)),
            // A later serial the change brings is taken even for the same content: the
            // operator who raised a file's serial wants it served.
            (Some((served, _)), Some(given)) if later(given, served) => given,
            (Some((served, known)), _) if known == Some(content) => {
                if self.served.is_some() {
                    return Ok(None);
                }
                served
            }
            (Some((served, _)), _) => served.wrapping_add(1),
        };
        // The digest leaves the serial out, so the zone built to compare is the one served.
        Ok(Some((zone.with_serial(serial), serial, content)))
    }

    /// A zone signed offline is served at the serial its SOA's RRSIG covers, the file's (with
    /// any UPDATE's SOA): tern signs nothing, and any other serial would make the SOA, and so
    /// every negative answer, bogus to validators. So new content must come with a later
    /// serial (`dnssec-signzone -N increment`, or `unixtime`); without one it is refused, and
    /// what is served stays as it was.
    fn signed_serial(
        &self,
        zone: Zone,
        content: u64,
    ) -> Result<Option<(Zone, u32, u64)>, ZoneErrors> {
        let signed = file_serial(&self.base);
        let serial = match self.last {
            None => signed,
            Some((served, known)) if served == signed && known == Some(content) => {
                if self.served.is_some() {
                    return Ok(None);
                }
                served
            }
            Some((served, _)) if later(signed, served) => signed,
            Some((served, _)) => {
                let reason = format!(
                    "zone {} is signed: its content changed but its SOA serial {signed} is not \
                     later than the {served} already served, and tern cannot re-sign the SOA \
                     for a new serial; re-sign the zone with a later serial (dnssec-signzone \
                     -N increment); nothing was changed",
                    self.source.origin
                );
                return Err(ZoneErrors(vec![crate::zonefile::ZoneError {
                    at: Location {
                        file: self.source.file.clone(),
                        line: 0,
                    },
                    reason,
                }]));
            }
        };
        Ok(Some((zone.with_serial(serial), serial, content)))
    }

    /// Makes `prepared` durable (the journal entry, synced) and serves it.
    pub(super) fn commit(
        &mut self,
        prepared: Prepared,
        journal: Option<&mut Journal>,
    ) -> Result<u32, JournalError> {
        if let (Some(journal), Some(entry)) = (journal, &prepared.entry) {
            journal.append(entry)?;
        }
        // The same serial again (a start that finds what was served) is no step.
        let moved = self.last.map(|(s, _)| s) != Some(prepared.serial);
        match prepared.step {
            Some(step) if moved => self.remember(step),
            Some(_) => {}
            None => self.history = Arc::default(),
        }
        let serial = prepared.serial;
        self.served = Some(Arc::new(
            prepared.zone.with_history(Arc::clone(&self.history)),
        ));
        self.journaled = None;
        self.last = Some((serial, Some(prepared.content)));
        self.pending = false;
        Ok(serial)
    }

    /// Adds `step` to the history (the oldest steps go past `HISTORY_STEPS`).
    fn remember(&mut self, step: Delta) {
        let skip = (self.history.len() + 1).saturating_sub(HISTORY_STEPS);
        let mut history = Vec::with_capacity(self.history.len() + 1 - skip);
        history.extend(self.history.iter().skip(skip).cloned());
        history.push(step);
        self.history = Arc::new(history);
    }
}

/// The step from `before` to `after`. One without a change of records (only the SOA changed)
/// is still a step an IXFR client must be able to take.
fn step_between(before: &Zone, after: &Zone) -> Delta {
    delta(before, after).unwrap_or_else(|| Delta {
        from: before.soa().clone(),
        to: after.soa().clone(),
        removed: Vec::new(),
        added: Vec::new(),
    })
}

/// A step as a journal keeps it: the SOAs with the records (RFC 1995's increment).
fn as_diff(step: &Delta) -> Diff {
    let mut removed = Vec::with_capacity(step.removed.len() + 1);
    removed.push(step.from.clone());
    removed.extend(step.removed.iter().cloned());
    let mut added = Vec::with_capacity(step.added.len() + 1);
    added.push(step.to.clone());
    added.extend(step.added.iter().cloned());
    Diff { removed, added }
}

/// Records as read from `at`.
pub(super) fn located(records: impl IntoIterator<Item = Record>, at: &Location) -> Vec<Located> {
    records
        .into_iter()
        .map(|record| Located {
            record,
            at: at.clone(),
        })
        .collect()
}

/// Applies one update's diff to `records`. Record equality is RFC 2136 §1.1.1's: owner,
/// class, type and RDATA, not TTL.
///
/// The SOA is the exception: the sources' SOA keeps the file's serial while the update saw
/// the served one (`build` sets it), so an update's SOA replaces whichever one is there.
fn apply_diff(records: &mut Vec<Located>, diff: &Diff, at: &Location) {
    let soa = |r: &Record| r.record_type() == RecordType::SOA;
    let same = |a: &Record, b: &Record| a == b || (soa(a) && soa(b) && a.name == b.name);
    records.retain(|l| !diff.removed.iter().any(|r| same(r, &l.record)));
    for add in &diff.added {
        match records.iter_mut().find(|l| same(&l.record, add)) {
            Some(same) => same.record = add.clone(),
            None => records.push(Located {
                record: add.clone(),
                at: at.clone(),
            }),
        }
    }
}

/// A digest of everything a zone serves but its SOA serial: every record's owner, type,
/// class, TTL and RDATA. Order does not matter (a sum of per-record hashes), so two builds of
/// the same data compare equal however their sources listed it. Stable across builds and
/// versions of tern (FNV-1a and a fixed mixer, no random seed): it is kept in journals.
pub(super) fn digest(zone: &Zone) -> u64 {
    let mut sum = 0u64;
    for record in zone.records() {
        let bytes = if record.record_type() == RecordType::SOA {
            let mut plain = record.clone();
            if let RData::SOA(soa) = &mut plain.data {
                soa.serial = 0;
            }
            plain.to_bytes()
        } else {
            record.to_bytes()
        };
        // hickory encodes every record it decoded or built; one it cannot still counts,
        // by its text.
        let bytes = bytes.unwrap_or_else(|_| record.to_string().into_bytes());
        sum = sum.wrapping_add(mix(fnv1a(&bytes)));
    }
    sum
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: spreads FNV's output so that a sum of hashes does not cancel out.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
