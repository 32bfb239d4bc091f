//! The RRset tier on disk, so that a restart starts warm (Knot Resolver keeps its cache across
//! restarts; Unbound has `dump_cache`/`load_cache`): `[cache] persist`, written at shutdown and
//! every `persist_interval`, read at start; `tern ctl save-cache`/`load-cache` on demand.
//!
//! Every kind of entry goes with its rank, DNSSEC records and verdict, and the time it had
//! left (the layout is in [`format`]). Reading takes the wall-clock time since the write off
//! every entry: what expired meanwhile is dropped, but for what serve-stale may still answer
//! with. The message tier (whole answers) is not written: it refills from the RRsets on its
//! first miss. A file that is not exactly one this version wrote (another version, torn,
//! corrupted, hostile) loads nothing at all.
//!
//! Writing is atomic: a new file beside the old, synced, renamed over it, the folder synced;
//! a crash leaves the old file or the new one, never a mix.

mod format;
mod merge;

use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use self::format::Persisted;
use self::merge::Denials;
use super::{Cache, Data};

/// Why a cache file was not written or not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{len} bytes, more than a cache of max_bytes {max_bytes} writes (at most {cap})")]
    TooLarge {
        len: u64,
        max_bytes: usize,
        cap: u64,
    },
    /// A FIFO, a device, a folder: reading one could block for ever or never end.
    #[error("not a regular file: {kind}")]
    NotRegular { kind: &'static str },
    #[error("not a tern cache file (no TERNCACH magic)")]
    NotACacheFile,
    #[error("format version {0}, this tern reads version {v}", v = format::VERSION)]
    Version(u16),
    #[error("truncated (shorter than its header or its lengths say)")]
    Truncated,
    #[error("bytes after the checksum")]
    TrailingBytes,
    #[error("checksum mismatch (corrupted)")]
    Checksum,
    #[error("entry {index}: {why}")]
    Entry { index: u32, why: &'static str },
}

impl PersistError {
    /// No file there: a first start, not a damaged file.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, PersistError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Which way [`Cache::save_or_load`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileOp {
    Save,
    Load,
}

/// What [`Cache::save`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Saved {
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
}

/// What [`Cache::load`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// Entries in the file.
    pub(crate) entries: u32,
    /// Those now in the cache: not expired past serve-stale, not beaten by fresher data.
    pub(crate) restored: usize,
    /// Seconds between the write and `now`.
    pub(crate) age: u64,
}

impl Cache {
    /// Writes every entry that is fresh or still servable stale at `now` to `path`; `wall`
    /// is the wall-clock time of `now`, which the file records.
    pub(crate) fn save(
        &self,
        path: &Path,
        now: Instant,
        wall: SystemTime,
    ) -> Result<Saved, PersistError> {
        let window = self.stale_window();
        let copied = self
            .copy_out(|e| e.expires > now || (!e.stored.is_failure() && e.expires + window > now));
        let mut file = format::Writer::new();
        for (key, entry) in oldest_first(copied) {
            let left = seconds_left(entry.expires, now);
            // The records' own TTLs are not what reading goes by (`left` is); the time left
            // keeps them readable in a hex dump.
            let ttl = u32::try_from(left).unwrap_or(0);
            let Some(data) = entry.stored.data(&key, ttl) else {
                continue;
            };
            let signed = match &entry.signed {
                Some(s) => match s.decode(ttl) {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            let persisted = Persisted {
                key,
                data,
                signed,
                rank: entry.rank,
                left,
                window: entry.prefetch_window,
            };
            if !file.push(&persisted) {
                tracing::debug!(key = ?persisted.key, "cache entry left out of the file");
            }
        }
        let entries = file.count() as usize;
        let bytes = file.finish(unix_seconds(wall));
        write_atomically(path, &bytes)?;
        Ok(Saved {
            entries,
            bytes: bytes.len(),
        })
    }

    /// Reads `path` into the cache, each entry aged by the wall-clock time since the write
    /// (`wall` is the wall-clock time of `now`). Entries already fresh in the cache stay: they
    /// are newer than the file's. A file that is not wholly good loads nothing.
    pub(crate) fn load(
        &self,
        path: &Path,
        now: Instant,
        wall: SystemTime,
    ) -> Result<Loaded, PersistError> {
        let bytes = self.read_bounded(path)?;
        let (header, body) = format::open(&bytes)?;
        // Every entry checked before any is used: a hostile file behind a good checksum loads
        // nothing rather than its first half. Decoding twice is cheaper than holding the
        // decoded records (some ten times the file) in between.
        // A file from the future (the clock was set back) is taken as just written.
        let age = unix_seconds(wall).saturating_sub(header.written);
        let mut denials = Denials::default();
        for entry in format::entries(header, body) {
            denials.note(&entry?, age);
        }
        denials.settle(self, now);
        let restored = format::entries(header, body)
            .filter_map(Result::ok)
            .filter(|p| !denials.overruled(p))
            .filter_map(|p| self.restore(p, age, now).then_some(()))
            .count();
        Ok(Loaded {
            entries: header.count,
            restored,
            age,
        })
    }

    /// [`Cache::save`] or [`Cache::load`] with its one log line, naming the file: what was
    /// done, that there was no file to load, or (a warning) why it was not written or was
    /// refused. What was done comes back as text too, for `tern ctl`.
    pub(crate) fn save_or_load(
        &self,
        op: FileOp,
        path: &Path,
        now: Instant,
        wall: SystemTime,
    ) -> Result<String, PersistError> {
        let done = match op {
            FileOp::Save => self.save(path, now, wall).map(|s| s.to_string()),
            FileOp::Load => self.load(path, now, wall).map(|l| l.to_string()),
        };
        let file = path.display();
        match (&done, op) {
            (Ok(done), _) => tracing::info!(%file, %done, "cache file"),
            (Err(e), FileOp::Load) if e.is_missing() => {
                tracing::info!(%file, "no cache file; nothing loaded")
            }
            (Err(reason), FileOp::Load) => {
                tracing::warn!(%file, %reason, "cache file refused; nothing loaded from it")
            }
            (Err(reason), FileOp::Save) => tracing::warn!(%file, %reason, "cache not saved"),
        }
        done
    }

    fn stale_window(&self) -> Duration {
        Duration::from_secs(u64::from(self.policy.serve_stale_secs))
    }

    /// Puts one entry `age` seconds after its write into the cache; whether it went in.
    fn restore(&self, p: Persisted, age: u64, now: Instant) -> bool {
        let left = left_after(p.left, age);
        let servable_stale = !matches!(p.data, Data::Failure { .. })
            && left.unsigned_abs() < u64::from(self.policy.serve_stale_secs);
        if left <= 0 && !servable_stale {
            return false;
        }
        if self
            .shard(&p.key)
            .lru
            .peek(&p.key)
            .is_some_and(|e| e.expires > now)
        {
            return false;
        }
        // Stale data goes in as a one-second entry that ended `-left` seconds ago, so it is
        // never fresh (an answer built from it in that moment would be kept as fresh by the
        // message tier); with `min_ttl` set, only until the cut below. An instant before the
        // clock's start (a machine up for less than the entry's age) is not representable:
        // that entry is left out.
        let (ttl, at) = match u32::try_from(left) {
            Ok(ttl) if ttl > 0 => (ttl, now),
            _ => {
                let ended = now.checked_sub(Duration::from_secs(left.unsigned_abs()));
                match ended.and_then(|e| e.checked_sub(Duration::from_secs(1))) {
                    Some(at) => (1, at),
                    None => return false,
                }
            }
        };
        let expires = at + Duration::from_secs(u64::from(ttl));
        let (key, window) = (p.key.clone(), p.window);
        if !self.insert_signed(p.key, p.data, p.signed, ttl, p.rank, at) {
            return false;
        }
        if let Some(entry) = self.shard(&key).lru.peek_mut(&key) {
            // `insert` raises a TTL to `min_ttl`: the entry keeps only what the file had left.
            entry.expires = entry.expires.min(expires);
            // `insert` made the window a fraction of what was left; it is one of the TTL the
            // entry first had. A refresh claimed before the restart died with that process:
            // unclaimed, the next hit in the window starts another.
            entry.prefetch_window = window;
        }
        true
    }

    /// The largest file worth reading for this cache: a file holds each record's owner and
    /// TTL, which the cache does not, so a full cache's file can outgrow `max_bytes` but not
    /// double it. Larger is refused unread.
    fn read_bounded(&self, path: &Path) -> Result<Vec<u8>, PersistError> {
        let max_bytes = self.policy.max_bytes;
        let cap = u64::try_from(max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(2)
            .max(1 << 20);
        // Looked at before it is opened: opening a FIFO waits for a writer, opening a device
        // may do something (a tape rewinds), and a device or a FIFO can be read for ever.
        regular(&std::fs::metadata(path)?)?;
        // Non-blocking in case it became a FIFO since (no effect on a regular file's reads),
        // and looked at again as opened.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        regular(&meta)?;
        let len = meta.len();
        let too_large = |len| PersistError::TooLarge {
            len,
            max_bytes,
            cap,
        };
        if len > cap {
            return Err(too_large(len));
        }
        // `len` is within `cap`, so the buffer is too; `take` holds it there if the file grows.
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(cap + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > cap {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(bytes)
    }
}

impl Display for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "saved {} entries ({} bytes)", self.entries, self.bytes)
    }
}

impl Display for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, of, age) = (self.restored, self.entries, self.age);
        write!(f, "loaded {n} of {of} entries, written {age} s ago")
    }
}

/// The shards' entries (each list most recently used first) in one list, least recently used
/// first, so that reading, which inserts in file order, leaves the most recent on top and a
/// smaller cache keeps those. The shards' orders are merged by relative place (the next
/// process hashes keys to other shards, and the cache keeps no global order to go by): the
/// entry a fraction f from the end of its shard's list comes before those at a larger f.
fn oldest_first<T>(shards: Vec<Vec<T>>) -> Vec<T> {
    let mut placed: Vec<(u64, u64, T)> = Vec::new();
    for shard in shards {
        let len = shard.len() as u64 + 1;
        let at_lru = shard.into_iter().rev();
        placed.extend(at_lru.enumerate().map(|(i, t)| (i as u64 + 1, len, t)));
    }
    // a/b < c/d as a·d < c·b: a shard holds far fewer than 2^32 entries. Stable, so ties keep
    // shard order.
    placed.sort_by(|(a, b, _), (c, d, _)| (a * d).cmp(&(c * b)));
    placed.into_iter().map(|(_, _, t)| t).collect()
}

/// Seconds from `now` to `expires`: positive and rounded up while fresh (as `get` shows it),
/// zero or negative, rounded down, once expired. Within `i32` (TTLs are at most 2^31 - 1 by
/// RFC 2181 §8, stale windows days).
fn seconds_left(expires: Instant, now: Instant) -> i32 {
    if expires > now {
        i32::try_from(super::ttl_left(expires, now)).unwrap_or(i32::MAX)
    } else {
        let ago = now.saturating_duration_since(expires).as_secs();
        i32::try_from(ago).map_or(i32::MIN, |a| -a)
    }
}

/// An entry's seconds left (`left` at the write) `age` seconds after the write.
fn left_after(left: i32, age: u64) -> i64 {
    i64::from(left).saturating_sub(i64::try_from(age).unwrap_or(i64::MAX))
}

fn unix_seconds(wall: SystemTime) -> u64 {
    wall.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Refuses anything but a regular file (symbolic links are followed to what they name).
fn regular(meta: &std::fs::Metadata) -> Result<(), PersistError> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "of another kind"
    };
    Err(PersistError::NotRegular { kind })
}

/// Writes `bytes` to `path` atomically: a new file (private: it tells which names were
/// asked) in the same folder, synced, renamed over `path`, then the folder synced so the
/// rename itself survives a crash. A failure leaves no temporary file behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (temp, mut file) = create_temporary(dir, &name.to_string_lossy())?;
    let written = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        // Ours alone: `create_new` made it.
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    File::open(dir)?.sync_all()
}

/// A new private file beside `name` in `dir`, at a name no other writer has: the periodic
/// write and `tern ctl save-cache` may run at once, and so may two processes sharing the
/// folder with the same PID (each PID 1 in its own container), so neither the PID nor a
/// counter of this process is unique. The name carries 64 random bits, and `create_new`
/// (which also never follows a link someone left there) makes a name taken anyway an error,
/// on which another is drawn: another writer's file is never opened, and so never removed.
fn create_temporary(dir: &Path, name: &str) -> std::io::Result<(std::path::PathBuf, File)> {
    const ATTEMPTS: usize = 8;
    let pid = std::process::id();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let temp = dir.join(format!(".{name}.{pid}-{:016x}.tmp", rand::random::<u64>()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()))
}

#[cfg(test)]
mod tests;
