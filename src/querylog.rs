//! The query log (`[log] queries = "stdout" | "/path/file"`): one JSON line per answered
//! query. The handler hands a small [`Entry`] to a bounded channel and goes on; a writer
//! thread formats and writes the lines, so a slow disk or a blocked pipe never stalls the
//! runtime. When the channel is full the entry is dropped and counted
//! (`query_log_dropped`). Off (no `QueryLog`), the handler pays one branch per query.

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use hickory_proto::rr::RecordType;
use serde::Serialize;

use crate::metrics::Metrics;
use crate::metrics::counts::{rcode_label, rcode_slot};

/// Lines waiting for the writer at most; past that they are dropped.
const BACKLOG: usize = 8_192;

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    Stdout,
    /// Appended to (created if missing).
    File(PathBuf),
}

impl Destination {
    /// `"stdout"` or a path.
    pub(crate) fn parse(s: &str) -> Destination {
        match s {
            "stdout" | "-" => Destination::Stdout,
            path => Destination::File(PathBuf::from(path)),
        }
    }
}

/// One answered query, as the handler saw it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub time: SystemTime,
    pub client: SocketAddr,
    pub tcp: bool,
    /// The question's name as [`zone_file_name`] writes it (RFC 1035 §5.1 escapes, case as
    /// asked, no IDNA decoding); JSON escaping on top is serde_json's.
    pub qname: String,
    pub qtype: u16,
    /// Bytes 2 and 3 of the response header: the flags (its 4 RCODE bits are not read).
    pub flags: [u8; 2],
    /// The response's full RCODE, the OPT record's extended bits included (BADVERS is 16).
    pub(crate) rcode: u16,
    /// The query's DO bit (RFC 3225).
    pub dnssec_ok: bool,
    pub latency_us: u64,
    /// Answered from the cache without asking upstream.
    pub cache: bool,
    /// Answered by the UDP hit path.
    pub hit_path: bool,
    /// Upstream queries this answer cost, when known.
    pub upstream: Option<usize>,
    /// The Extended DNS Error the answer carried (RFC 8914): code and text.
    pub ede: Option<(u16, String)>,
}

#[derive(Serialize)]
struct Flags {
    rd: bool,
    ra: bool,
    aa: bool,
    tc: bool,
    cd: bool,
    #[serde(rename = "do")]
    dnssec_ok: bool,
}

#[derive(Serialize)]
struct Ede<'e> {
    code: u16,
    name: &'static str,
    text: &'e str,
}

/// The line's fields, in order; serde_json escapes the strings.
#[derive(Serialize)]
struct Line<'e> {
    time: String,
    client: String,
    transport: &'static str,
    qname: &'e str,
    qtype: String,
    rcode: &'static str,
    flags: Flags,
    latency_us: u64,
    cache: bool,
    hit_path: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ede: Option<Ede<'e>>,
}

/// A name's labels as text in the zone-file form of RFC 1035 §5.1, as BIND and `dig` print
/// it: a `.` after each label (the root alone is `.`); `\c` before the characters a zone file
/// gives a meaning (`. ; \ " ( ) @ $`); `\DDD`, three decimal digits, for a space, a control
/// byte or any byte past ASCII; every other byte as it is, case kept. Not hickory's
/// `Name::to_ascii`, which writes octal `\DDD`, nor its `Display`, which decodes IDNA.
pub(crate) fn zone_file_name<'l>(labels: impl IntoIterator<Item = &'l [u8]>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for label in labels {
        for &b in label {
            match b {
                b'.' | b';' | b'\\' | b'"' | b'(' | b')' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(char::from(b));
                }
                0x21..=0x7E => s.push(char::from(b)),
                _ => {
                    let _ = write!(s, "\\{b:03}");
                }
            }
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

/// The JSON line of `e` (no newline).
pub(crate) fn line(e: &Entry) -> String {
    let [f2, f3] = e.flags;
    let line = Line {
        time: rfc3339(e.time),
        client: e.client.to_string(),
        transport: if e.tcp { "tcp" } else { "udp" },
        qname: &e.qname,
        qtype: RecordType::from(e.qtype).to_string(),
        rcode: rcode_label(rcode_slot(e.rcode)),
        flags: Flags {
            rd: f2 & 0x01 != 0,
            tc: f2 & 0x02 != 0,
            aa: f2 & 0x04 != 0,
            ra: f3 & 0x80 != 0,
            cd: f3 & 0x10 != 0,
            dnssec_ok: e.dnssec_ok,
        },
        latency_us: e.latency_us,
        cache: e.cache,
        hit_path: e.hit_path,
        upstream: e.upstream,
        ede: e.ede.as_ref().map(|(code, text)| Ede {
            code: *code,
            name: crate::ede::name(*code),
            text,
        }),
    };
    // Serializing plain strings, numbers and bools cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

/// `SystemTime` as RFC 3339 UTC with microseconds: `2026-11-25T21:30:00.123456Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// What the writer thread is handed.
#[derive(Debug)]
enum Msg {
    Line(Box<Entry>),
    /// Answered once every line queued before it is written and flushed.
    Sync(std::sync::mpsc::Sender<()>),
    /// Wakes the writer to look at `reopen` (the flag carries the request, so a full queue
    /// cannot lose it).
    Reopen,
}

/// The handler's end of the query log.
#[derive(Debug, Clone)]
pub(crate) struct QueryLog {
    tx: SyncSender<Msg>,
    metrics: Arc<Metrics>,
    /// Set by `reopen`, cleared by the writer when it reopens the file.
    reopen: Arc<AtomicBool>,
}

impl QueryLog {
    /// Opens `dest` and starts the writer thread.
    pub(crate) fn start(dest: &Destination, metrics: Arc<Metrics>) -> io::Result<QueryLog> {
        let out = open(dest)?;
        let (tx, rx) = sync_channel(BACKLOG);
        let reopen = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            dest: dest.clone(),
            reopen: Arc::clone(&reopen),
            failed: Default::default(),
        };
        std::thread::Builder::new()
            .name("tern-querylog".to_string())
            .spawn(move || writer.run(rx, BufWriter::new(out)))?;
        Ok(QueryLog {
            tx,
            metrics,
            reopen,
        })
    }

    /// Asks the writer thread to close the file and open its path again, after writing what
    /// is queued: on SIGHUP, once logrotate has renamed the file (`postrotate systemctl
    /// reload tern`). Does not block; a failed open is logged and the old file kept. Nothing
    /// to do for stdout.
    pub(crate) fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
        // Full: the writer is busy and sees the flag after this batch. Gone: nothing to do.
        let _ = self.tx.try_send(Msg::Reopen);
    }

    /// Queues `entry`; drops it (and counts the drop) when the writer is behind.
    pub(crate) fn log(&self, entry: Entry) {
        match self.tx.try_send(Msg::Line(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                Metrics::inc(&self.metrics.query_log_dropped);
            }
        }
    }

    /// Waits (at most `timeout`, blocking this thread) until every line queued so far is
    /// written and flushed: `tern serve` calls it on its way out.
    pub(crate) fn sync(&self, timeout: Duration) -> bool {
        let (done, wait) = std::sync::mpsc::channel();
        // Edge: a blocking wait on the way out, outside the runtime: the system clock bounds it.
        let deadline = std::time::Instant::now() + timeout;
        let mut msg = Msg::Sync(done);
        // The queue may be full: retry until the deadline rather than drop the marker.
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => {
                    // Edge: the same blocking wait (see the deadline above).
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        // Edge: the same blocking wait.
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        wait.recv_timeout(left).is_ok()
    }
}

type Out = BufWriter<Box<dyn Write + Send>>;

fn open(dest: &Destination) -> io::Result<Box<dyn Write + Send>> {
    Ok(match dest {
        Destination::Stdout => Box::new(io::stdout()),
        Destination::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
    })
}

/// The writer thread's state.
struct Writer {
    dest: Destination,
    reopen: Arc<AtomicBool>,
    /// A write failed (warned once).
    failed: std::cell::Cell<bool>,
}

impl Writer {
    /// A line per entry, flushed whenever nothing more is waiting, until every sender is gone;
    /// the file reopened, when asked, between batches (after a flush).
    fn run(self, rx: Receiver<Msg>, mut out: Out) {
        while let Ok(first) = rx.recv() {
            self.write_batch(&rx, first, &mut out);
            // Asked while the queue was full (the wake-up message was not queued).
            self.reopen_if_asked(&mut out);
        }
        let _ = out.flush();
    }

    fn reopen_if_asked(&self, out: &mut Out) {
        if self.reopen.swap(false, Ordering::AcqRel) {
            self.reopen_file(out);
        }
    }

    fn reopen_file(&self, out: &mut Out) {
        let Destination::File(path) = &self.dest else {
            return;
        };
        match open(&self.dest) {
            Ok(file) => {
                let _ = out.flush();
                *out = BufWriter::new(file);
                tracing::info!(path = %path.display(), "query log reopened");
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "query log not reopened; writing to the old file");
            }
        }
    }

    /// Writes `first` and whatever else is waiting, flushes, and answers the syncs among them;
    /// a reopen happens where it was asked, so the lines queued after it go to the new file.
    fn write_batch(&self, rx: &Receiver<Msg>, first: Msg, out: &mut Out) {
        let warn_once = || {
            if !self.failed.replace(true) {
                tracing::warn!("query log: write failed; lines are being lost");
            }
        };
        let mut next = Some(first);
        let mut synced = Vec::new();
        while let Some(msg) = next {
            match msg {
                Msg::Line(e) => {
                    if writeln!(out, "{}", line(&e)).is_err() {
                        warn_once();
                    }
                }
                Msg::Sync(done) => synced.push(done),
                Msg::Reopen => self.reopen_if_asked(out),
            }
            // Empty or disconnected: flush what was written.
            next = rx.try_recv().ok();
        }
        if out.flush().is_err() {
            warn_once();
        }
        for done in synced {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        let at = |s| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_micros(s));
        assert_eq!(at(0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (a leap day of a century divisible by 400) 12:34:56.789012
        assert_eq!(at(951_827_696_789_012), "2000-02-29T12:34:56.789012Z");
        assert_eq!(at(4_102_444_799_000_000), "2099-12-31T23:59:59.000000Z");
    }

    fn entry() -> Entry {
        Entry {
            time: SystemTime::UNIX_EPOCH,
            client: "127.0.0.1:5300".parse().expect("addr"),
            tcp: false,
            qname: "we\"ird\\.name.".to_string(),
            qtype: 28,
            flags: [0x81, 0x82],
            rcode: 2,
            dnssec_ok: true,
            latency_us: 42,
            cache: false,
            hit_path: false,
            upstream: Some(3),
            ede: Some((22, "no server \"answered\"".to_string())),
        }
    }

    #[test]
    fn names_are_written_in_zone_file_form() {
        let name = |labels: &[&[u8]]| zone_file_name(labels.iter().copied());
        assert_eq!(name(&[]), ".");
        assert_eq!(name(&[b"WWW", b"Example", b"com"]), "WWW.Example.com.");
        assert_eq!(name(&[b"a.b", b"c\\d"]), "a\\.b.c\\\\d.");
        assert_eq!(
            name(&[b"x y\x00", b"\xff\"@$;()"]),
            "x\\032y\\000.\\255\\\"\\@\\$\\;\\(\\)."
        );
        assert_eq!(
            name(&[b"*", b"xn--bcher-kva", b"_tcp"]),
            "*.xn--bcher-kva._tcp."
        );
    }

    #[test]
    fn a_line_is_json_with_every_field() {
        let v: serde_json::Value = serde_json::from_str(&line(&entry())).expect("json");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(v["client"], "127.0.0.1:5300");
        assert_eq!(v["qname"], "we\"ird\\.name.");
        assert_eq!(v["qtype"], "AAAA");
        assert_eq!(v["rcode"], "SERVFAIL");
        assert_eq!(v["flags"]["rd"], true);
        assert_eq!(v["flags"]["ra"], true);
        assert_eq!(v["flags"]["aa"], false);
        assert_eq!(v["flags"]["do"], true);
        assert_eq!(v["latency_us"], 42);
        assert_eq!(v["upstream"], 3);
        assert_eq!(v["ede"]["code"], 22);
        assert_eq!(v["ede"]["name"], "No Reachable Authority");
        assert_eq!(v["ede"]["text"], "no server \"answered\"");
    }

    #[test]
    fn sync_waits_for_the_lines_queued_before_it() {
        let path = std::env::temp_dir().join(format!("tern-querylog-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let log = QueryLog::start(
            &Destination::File(path.clone()),
            Arc::new(Metrics::default()),
        )
        .expect("opens");
        for _ in 0..100 {
            log.log(entry());
        }
        assert!(log.sync(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).expect("written");
        let _ = std::fs::remove_file(&path);
        assert_eq!(text.lines().count(), 100);
    }

    #[test]
    fn a_full_backlog_drops_and_counts() {
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = sync_channel(1);
        let log = QueryLog {
            tx,
            metrics: Arc::clone(&metrics),
            reopen: Arc::default(),
        };
        log.log(entry());
        log.log(entry());
        assert_eq!(Metrics::get(&metrics.query_log_dropped), 1);
        drop(rx);
        log.log(entry());
        assert_eq!(Metrics::get(&metrics.query_log_dropped), 2);
        assert!(!log.sync(Duration::from_millis(10)), "no writer");
    }

    #[test]
    fn reopen_starts_a_new_file_after_a_rename() {
        let dir = std::env::temp_dir().join(format!("tern-querylog-reopen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (path, rotated) = (dir.join("q.jsonl"), dir.join("q.jsonl.1"));
        let log = QueryLog::start(&Destination::File(path.clone()), Arc::default()).expect("opens");
        for _ in 0..3 {
            log.log(entry());
        }
        assert!(log.sync(Duration::from_secs(5)));
        // What logrotate does before its postrotate: rename; the writer still holds the file.
        std::fs::rename(&path, &rotated).expect("rename");
        log.log(entry());
        assert!(log.sync(Duration::from_secs(5)));
        log.reopen();
        for _ in 0..2 {
            log.log(entry());
        }
        assert!(log.sync(Duration::from_secs(5)));
        let count = |p: &PathBuf| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
        let (old, new) = (count(&rotated), count(&path));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((old, new), (4, 2));
    }
}
