//! The query log (`[log] queries = "stdout" | "/path/file"`): one JSON line per answered
//! query. The handler hands a small [`Entry`] to a bounded channel and goes on; a writer
//! thread formats and writes the lines, so a slow disk or a blocked pipe never stalls the
//! runtime. When the channel is full the entry is dropped and counted
//! (`query_log_dropped`). Off (no `QueryLog`), the handler pays one branch per query.

use std::io::{self, Write};
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

mod recent;
pub(crate) use recent::{RECENT_LINES, Recent};

/// Lines waiting for the writer at most; past that they are dropped.
const BACKLOG: usize = 8_192;

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    Stdout,
    /// Appended to (created if missing).
    File(PathBuf),
    /// Nowhere: only the last lines, kept for the dashboard (`tern lab`, whose user reads
    /// them there).
    Recent,
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
    /// `udp`, `tcp`, `tls` or `https`.
    pub transport: &'static str,
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
        transport: e.transport,
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
    /// The last lines written, for the dashboard.
    recent: Arc<Recent>,
}

impl QueryLog {
    /// Opens `dest` and starts the writer thread.
    pub(crate) fn start(dest: &Destination, metrics: Arc<Metrics>) -> io::Result<QueryLog> {
        let out = open(dest)?;
        let (tx, rx) = sync_channel(BACKLOG);
        let reopen = Arc::new(AtomicBool::new(false));
        let recent = Arc::new(Recent::new(RECENT_LINES));
        let writer = Writer {
            dest: dest.clone(),
            reopen: Arc::clone(&reopen),
            recent: Arc::clone(&recent),
            metrics: Arc::clone(&metrics),
            pending: Vec::new(),
            lines: 0,
            failing: false,
            torn: false,
        };
        std::thread::Builder::new()
            .name("tern-querylog".to_string())
            .spawn(move || writer.run(rx, out))?;
        Ok(QueryLog {
            tx,
            metrics,
            reopen,
            recent,
        })
    }

    /// The last lines written (the dashboard reads them).
    pub(crate) fn recent(&self) -> Arc<Recent> {
        Arc::clone(&self.recent)
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
    /// written and flushed: `tern serve` calls it on its way out. `false` when that did not
    /// happen in time, or a write lost lines of the last batch (counted as dropped).
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

/// The log's file or stdout, unbuffered: the writer gathers a batch's lines itself, so that it
/// knows which of them a failed write lost.
type Out = Box<dyn Write + Send>;

fn open(dest: &Destination) -> io::Result<Out> {
    Ok(match dest {
        Destination::Stdout => Box::new(io::stdout()),
        Destination::Recent => Box::new(io::sink()),
        Destination::File(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
    })
}

/// Lines gathered before they are written, at most (about 250 lines).
const PENDING_BYTES: usize = 64 * 1024;

/// The writer thread's state.
struct Writer {
    dest: Destination,
    reopen: Arc<AtomicBool>,
    recent: Arc<Recent>,
    /// Where lines a write lost are counted (`query_log_dropped`), as the ones a full queue
    /// refused are: the counter is every line that did not reach the log.
    metrics: Arc<Metrics>,
    /// The lines not written yet, each ending in a newline, and how many they are.
    pending: Vec<u8>,
    lines: u64,
    /// The last write failed (warned once, until a write succeeds again).
    failing: bool,
    /// The last write stopped inside a line: the next starts with a newline, so that only the
    /// cut line is damaged and not the first whole one after it too.
    torn: bool,
}

impl Writer {
    /// A line per entry, written whenever nothing more is waiting, until every sender is gone;
    /// the file reopened, when asked, between batches (after a write).
    fn run(mut self, rx: Receiver<Msg>, mut out: Out) {
        while let Ok(first) = rx.recv() {
            self.write_batch(&rx, first, &mut out);
            // Asked while the queue was full (the wake-up message was not queued).
            self.reopen_if_asked(&mut out);
        }
        let _ = self.drain(&mut out);
        let _ = out.flush();
    }

    fn reopen_if_asked(&mut self, out: &mut Out) {
        if self.reopen.swap(false, Ordering::AcqRel) {
            self.reopen_file(out);
        }
    }

    fn reopen_file(&mut self, out: &mut Out) {
        let Destination::File(path) = &self.dest else {
            return;
        };
        match open(&self.dest) {
            Ok(file) => {
                let _ = out.flush();
                *out = file;
                // A line cut in the old file does not continue in the new one.
                self.torn = false;
                tracing::info!(path = %path.display(), "query log reopened");
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "query log not reopened; writing to the old file");
            }
        }
    }

    /// Writes `first` and whatever else is waiting, and answers the syncs among them when every
    /// line reached the log (a sync whose lines were lost is dropped unanswered: it fails); a
    /// reopen happens where it was asked, so the lines queued after it go to the new file.
    fn write_batch(&mut self, rx: &Receiver<Msg>, first: Msg, out: &mut Out) {
        let mut next = Some(first);
        let mut synced = Vec::new();
        let mut whole = true;
        while let Some(msg) = next {
            match msg {
                Msg::Line(e) => {
                    let text = line(&e);
                    self.pending.extend_from_slice(text.as_bytes());
                    self.pending.push(b'\n');
                    self.lines += 1;
                    self.recent.push(text);
                    if self.pending.len() >= PENDING_BYTES {
                        whole &= self.drain(out);
                    }
                }
                Msg::Sync(done) => synced.push(done),
                Msg::Reopen => {
                    whole &= self.drain(out);
                    self.reopen_if_asked(out);
                }
            }
            // Empty or disconnected: write what was gathered.
            next = rx.try_recv().ok();
        }
        whole &= self.drain(out);
        if out.flush().is_err() {
            whole = false;
        }
        if whole {
            for done in synced {
                let _ = done.send(());
            }
        }
    }

    /// Writes the pending lines; `false` when a write failed, after counting the lines that did
    /// not get out whole as dropped. They are not tried again: a disk that is full now would
    /// hold every later line behind them.
    fn drain(&mut self, out: &mut Out) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let mut buf = std::mem::take(&mut self.pending);
        let prefix = usize::from(self.torn);
        if self.torn {
            buf.insert(0, b'\n');
        }
        let mut written = 0;
        let failed = loop {
            if written == buf.len() {
                break None;
            }
            match out.write(&buf[written..]) {
                Ok(0) => break Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        let lines = std::mem::take(&mut self.lines);
        let ok = match failed {
            None => {
                if self.failing {
                    tracing::info!("query log: writing again");
                }
                self.failing = false;
                self.torn = false;
                true
            }
            Some(e) => {
                let out_whole = buf[..written].iter().filter(|&&b| b == b'\n').count();
                let complete = out_whole.saturating_sub(prefix.min(written)) as u64;
                let lost = lines.saturating_sub(complete);
                self.metrics
                    .query_log_dropped
                    .fetch_add(lost, Ordering::Relaxed);
                if written > 0 {
                    self.torn = buf[written - 1] != b'\n';
                }
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(error = %e, "query log: write failed; lines are being lost (counted in query_log_dropped)");
                }
                false
            }
        };
        buf.clear();
        self.pending = buf;
        ok
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_review;
