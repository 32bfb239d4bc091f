//! A zone's change journal on disk, so an accepted change survives a restart or a crash: RFC
//! 2136 §3.5 wants an update on nonvolatile storage before the response goes out, so the
//! writer appends the entry, [`Journal::append`] returns only after `fsync`, and only then
//! does the server answer and publish the new snapshot. The same serial-to-serial entries
//! replay a zone's updates on start.
//!
//! Every serial the zone is served at is in the journal, not only an UPDATE's: a change from
//! another source (a service's records after a health flap, a reloaded file, a start that finds
//! the content changed, a transfer into a secondary) is a *step*. Every entry carries the
//! serial, a digest of the whole content served at it, and what it changed in that content
//! (the increment an IXFR client needs, SOAs included); a *snapshot* carries the whole content.
//! So a restart knows the last serial served and whether what it is about to serve is the same
//! (the serial never goes backwards, and a secondary never holds other data under a serial it
//! has already taken), it can still answer IXFR from the serials served before it
//! ([`recover`]), and a secondary finds its copy here.
//!
//! # Format
//!
//! One text file per zone, UTF-8, lines ending in `\n`, readable with `less`:
//!
//! ```text
//! ; tern journal v3 for example.test.
//! ; tern journal snapshot 10 -> 10 content 0c1d2e3f40516273
//! > example.test. 3600 IN SOA ns.example.test. admin.example.test. 10 3600 600 86400 300
//! > www.example.test. 300 IN A 192.0.2.10
//! ; end 2 records crc32 1e2d3c4b
//! ; tern journal entry 10 -> 11 content 5f0e3c1a9b2d4e67
//! - www.example.test. 300 IN A 192.0.2.10
//! + www.example.test. 60 IN A 192.0.2.10
//! < example.test. 3600 IN SOA ns.example.test. admin.example.test. 10 3600 600 86400 300
//! < www.example.test. 300 IN A 192.0.2.10
//! > example.test. 3600 IN SOA ns.example.test. admin.example.test. 11 3600 600 86400 300
//! > www.example.test. 60 IN A 192.0.2.10
//! ; end 6 records crc32 6206201f
//! ; tern journal step 11 -> 12 content 0b7a99e3c4d21f08
//! < example.test. 3600 IN SOA ns.example.test. admin.example.test. 11 3600 600 86400 300
//! > example.test. 3600 IN SOA ns.example.test. admin.example.test. 12 3600 600 86400 300
//! > _http._tcp.example.test. 60 IN SRV 0 5 80 www.example.test.
//! ; end 3 records crc32 2c1f4a77
//! ```
//!
//! * Line 1 names the zone; a journal of another zone is refused. v1 (entries without
//!   `content`, no steps) and v2 journals (steps without records) are read as well, and new
//!   entries are appended to them.
//! * An entry is a header line with its kind (`entry`: an UPDATE; `step`: a change from
//!   another source; `snapshot`: the content as a whole), the serials it leads from and to and
//!   the content digest at TO, then its record lines, then an end line with the number of
//!   record lines and the CRC-32 (IEEE) of every byte from the start of the header line to the
//!   end of the last record line. Record lines: `- `/`+ ` an UPDATE's own removals and
//!   additions (replayed on top of the zone file at every start), then `< `/`> ` the records
//!   the change took out of and put into the content served, the old and new SOA first (RFC
//!   1995's increment). Each entry's FROM is the previous entry's TO or later (RFC 1982):
//!   entries dropped by compaction leave gaps.
//! * Steps pile up (one per health flap); when more than [`MAX_STEPS`] stand in the file,
//!   [`Journal::open`] rewrites it (a new file, synced, renamed over the old one) keeping every
//!   UPDATE's own lines, a snapshot, and the last [`HISTORY_STEPS`] entries after it.
//! * A record line is zone-file text (fully qualified owner, TTL, class, type, RDATA), read by
//!   the crate's zone-file reader, so it reads exactly as a zone file would; the owner is read
//!   again as plain ASCII to keep its case, which the reader folds. A record whose
//!   presentation form would not read back to the very same bytes (upper case in an RDATA
//!   name, TXT strings with control characters or invalid UTF-8, types hickory cannot parse
//!   from text) is written in the RFC 3597 generic form `TYPEnnn \# LEN HEX`, which this
//!   module reads itself. Every line is checked to read back before it is written.
//!
//! # Crashes
//!
//! An entry is written with one `write` and then synced. A crash in between leaves the last
//! entry short, or (on file systems that write blocks out of order) full length with garbage
//! inside. So a defective entry with no complete entry header after it — a missing end line, a
//! wrong count or checksum, a cut line — is a torn write: it was never acknowledged, and
//! [`Journal::open`] drops it and cuts the file back to the last good entry. A defect with an
//! entry after it cannot come from a crash; it is corruption, reported as `file:line`, and the
//! journal is not used. An entry whose checksum holds but whose text does not read (or whose
//! serials go backwards) is an error too, wherever it is: those are the bytes tern wrote.

/// Also how `tern ctl dump-cache` writes records: one line that reads back to the record.
pub(crate) mod format;
mod read;
mod recover;

pub(crate) use self::recover::{Recovered, recover};

/// RFC 1982: an entry starting at `from` may follow one that ended at `last`: the same serial,
/// or a later one (other changes in between).
fn follows(from: u32, last: u32) -> bool {
    from == last || SerialNumber::new(from) > SerialNumber::new(last)
}
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use hickory_proto::rr::SerialNumber;

use self::format::{EntryHeader, crc32, end_line, entry_header, file_header, record_line};
use self::read::read_entries;
use super::update::Diff;
use crate::zonefile::Location;

/// Which source made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// An RFC 2136 UPDATE: its diff is replayed on top of the zone file at every start and
    /// reload.
    Update,
    /// Any other change (service records, a reloaded file, a transfer in): the serial, the
    /// digest of the content served at it and what changed in it, for the next start to
    /// compare against and to answer IXFR from.
    Step,
    /// The whole content served at a serial: where a restart rebuilds the content from.
    Snapshot,
}

/// One change: the zone went from `from_serial` to `to_serial`; an UPDATE's own `diff` (empty
/// for other kinds), the whole content at `to_serial` has the digest `content` (`None` in a
/// v1 entry), and `delta` is what changed in the content served (the old SOA removed and the
/// new one added; a snapshot adds everything; `None` in v1 and v2 entries).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    pub from_serial: u32,
    pub to_serial: u32,
    pub diff: Diff,
    pub content: Option<u64>,
    pub delta: Option<Diff>,
}

/// More steps than this in a journal and [`Journal::open`] compacts it: a zone whose services
/// flap all day must not grow its journal without bound.
pub(crate) const MAX_STEPS: usize = 1024;

/// How many steps of a zone's history are kept for IXFR, in memory and in a compacted journal:
/// older clients get the whole zone (RFC 1995 §4 allows it), which costs them one AXFR, never
/// a wrong answer.
pub(crate) const HISTORY_STEPS: usize = 128;

/// Why a journal cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Damage a crash cannot explain, or text tern would not have written.
    #[error("{at}: {reason}")]
    Corrupt { at: Location, reason: String },
    #[error("{}: the journal of zone {found}, not {expected}", path.display())]
    WrongZone {
        path: PathBuf,
        found: Box<Name>,
        expected: Box<Name>,
    },
    /// Serials only move forward: each entry starts at or after the serial the previous one
    /// ended at.
    #[error("{}: an entry from serial {from} cannot follow one ending at {last}", path.display())]
    Discontinuous { path: PathBuf, last: u32, from: u32 },
    #[error("{}: {record} cannot be written so that it reads back the same", path.display())]
    Unrepresentable { path: PathBuf, record: String },
    /// An earlier append failed part way; what is on disk is known only after a reopen.
    #[error("{}: an earlier write failed; reopen the journal", path.display())]
    Poisoned { path: PathBuf },
}

/// The journal of one zone, open for appending. One writer: the zone store's.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    origin: Name,
    file: File,
    /// Bytes of complete entries: where a failed append is cut back to.
    len: u64,
    last_serial: Option<u32>,
    /// The directory entry of a new file is durable only once its directory is synced.
    dir_synced: bool,
    poisoned: bool,
}

impl Journal {
    /// Opens (creating if absent) the journal at `path` for zone `origin`; reads every complete
    /// entry. A torn last entry (crash mid-write) is ignored and truncated away; a corrupt
    /// entry elsewhere is an error naming file:line.
    pub(crate) fn open(path: &Path, origin: &Name) -> Result<(Journal, Vec<Entry>), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        // A secondary's state directory may not exist before its first transfer.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io)?;
        let header = file_header(origin);
        // Empty, or cut inside the first line: created, but never written to completion.
        let fresh = !data.contains(&b'\n') && header.as_bytes().starts_with(&data);
        let (mut entries, keep) = if fresh {
            (Vec::new(), 0)
        } else {
            read_entries(&data, path, origin)?
        };
        let steps = entries
            .iter()
            .filter(|e| e.kind != EntryKind::Update)
            .count();
        if steps > MAX_STEPS {
            entries = recover::compacted(entries);
            file = rewrite(path, origin, &entries).map_err(io)?;
        } else if keep < data.len() {
            // The torn entry goes now, so that the next append does not follow it.
            file.set_len(keep as u64).map_err(io)?;
        }
        if fresh {
            file.write_all(header.as_bytes()).map_err(io)?;
        }
        if fresh || keep < data.len() {
            file.sync_data().map_err(io)?;
        }
        let len = file.metadata().map_err(io)?.len();
        let journal = Journal {
            path: path.to_path_buf(),
            origin: origin.clone(),
            file,
            len,
            last_serial: entries.last().map(|e| e.to_serial),
            dir_synced: !fresh,
            poisoned: false,
        };
        Ok((journal, entries))
    }

    /// Appends one entry and fsyncs (file and, on creation, the directory) before returning.
    ///
    /// On an error the change must count as failed (SERVFAIL, RFC 2136 §3.4.2.1). Whatever
    /// part of the entry was written is cut off again, and the journal refuses further appends
    /// until reopened. If even the cut fails, the next [`Journal::open`] finds the entry torn
    /// (and drops it) or, rarely, complete: then a change the client saw fail is replayed, the
    /// same outcome as a response lost on the way back (RFC 2136 §7.8).
    pub(crate) fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let path = || self.path.clone();
        if self.poisoned {
            return Err(JournalError::Poisoned { path: path() });
        }
        if let Some(last) = self.last_serial
            && !follows(entry.from_serial, last)
        {
            return Err(JournalError::Discontinuous {
                path: path(),
                last,
                from: entry.from_serial,
            });
        }
        let text =
            entry_text(entry, &self.origin).map_err(|record| JournalError::Unrepresentable {
                path: path(),
                record,
            })?;
        if !self.dir_synced {
            // Before the entry: a failure here leaves nothing half done.
            sync_dir(&self.path).map_err(|source| JournalError::Io {
                path: path(),
                source,
            })?;
            self.dir_synced = true;
        }
        // fdatasync also writes the new file length, which is all the metadata an append
        // needs to be read back (fsync(2)).
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // After a failed fsync the page cache can no longer be trusted (Linux marks the
            // pages clean), so no more appends; cut off whatever part of the entry landed.
            // The cut is best effort: the journal is poisoned whether it works or not.
            self.poisoned = true;
            let _ = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            return Err(JournalError::Io {
                path: path(),
                source,
            });
        }
        self.len += text.len() as u64;
        self.last_serial = Some(entry.to_serial);
        Ok(())
    }
}

/// Replaces the journal at `path` with one holding just `entries`, crash-safe: the new file is
/// written and synced beside the old one, then renamed over it, then the directory is synced.
/// Returns the new file, open for appending.
fn rewrite(path: &Path, origin: &Name, entries: &[Entry]) -> std::io::Result<File> {
    let mut text = file_header(origin);
    for entry in entries {
        // These entries were read from this very file, so they write back.
        let body = entry_text(entry, origin).map_err(std::io::Error::other)?;
        text.push_str(&body);
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".compact");
    let temporary = PathBuf::from(temporary);
    {
        let mut out = File::create(&temporary)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    sync_dir(path)?;
    OpenOptions::new().read(true).append(true).open(path)
}

/// Syncs the directory holding `path`, so a newly created file stays after a crash.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// The entry as text; the error is the record that has no line reading back the same.
fn entry_text(entry: &Entry, origin: &Name) -> Result<String, String> {
    let mut body = entry_header(&EntryHeader {
        kind: entry.kind,
        from: entry.from_serial,
        to: entry.to_serial,
        content: entry.content,
    });
    let none = Vec::new();
    let (taken, put) = match &entry.delta {
        Some(delta) => (&delta.removed, &delta.added),
        None => (&none, &none),
    };
    let lines = [
        ("- ", &entry.diff.removed),
        ("+ ", &entry.diff.added),
        ("< ", taken),
        ("> ", put),
    ];
    let mut count = 0;
    for (sign, records) in lines {
        count += records.len();
        for record in records {
            let line = record_line(record, origin).ok_or_else(|| record.to_string())?;
            body.push_str(sign);
            body.push_str(&line);
            body.push('\n');
        }
    }
    let end = end_line(count, crc32(body.as_bytes()));
    Ok(body + &end)
}
