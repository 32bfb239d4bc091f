//! Review: lines the log file refuses (a full disk) are lost, and must be counted as such.

use std::time::Duration;

use super::*;

fn entry() -> Entry {
    Entry {
        time: SystemTime::UNIX_EPOCH,
        client: "127.0.0.1:5300".parse().expect("addr"),
        transport: "udp",
        qname: "www.test.".to_string(),
        qtype: 1,
        flags: [0x81, 0x80],
        rcode: 0,
        dnssec_ok: false,
        latency_us: 7,
        cache: false,
        hit_path: false,
        upstream: None,
        ede: None,
    }
}

/// A full disk (`/dev/full` answers every write with ENOSPC): none of the lines reaches the
/// file, so each is counted in `query_log_dropped` (`tern_query_log_dropped_total`), as a line
/// the full queue refused is. They once sat in the writer's buffer, uncounted, while `sync`
/// said they were written.
#[test]
fn lines_a_full_disk_refuses_are_counted_as_dropped() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let metrics = Arc::new(Metrics::default());
    let log = QueryLog::start(&Destination::File(full.to_path_buf()), Arc::clone(&metrics))
        .expect("opens");
    for _ in 0..3 {
        log.log(entry());
    }
    assert!(
        !log.sync(Duration::from_secs(5)),
        "sync must not report lines written that were not"
    );
    assert_eq!(Metrics::get(&metrics.query_log_dropped), 3);
}

/// A sink that takes `room` bytes, then fails every write until `room` is raised.
#[derive(Clone, Default)]
struct Disk {
    data: Arc<std::sync::Mutex<Vec<u8>>>,
    room: Arc<std::sync::atomic::AtomicUsize>,
}

impl Write for Disk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = self.data.lock().expect("lock");
        let left = self.room.load(Ordering::SeqCst).saturating_sub(data.len());
        if left == 0 {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        let n = buf.len().min(left);
        data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A disk that fills in the middle of a line: the lines written whole stay, the rest of the
/// batch is counted as dropped, and once there is room again the next line starts on a line
/// of its own (the cut one is ended first), so a reader loses only the cut line.
#[test]
fn a_line_cut_by_a_full_disk_does_not_swallow_the_next() {
    let metrics = Arc::new(Metrics::default());
    let disk = Disk::default();
    let one = line(&entry()).len() + 1;
    disk.room.store(one * 2 + 10, Ordering::SeqCst);
    let (tx, rx) = sync_channel(16);
    let writer = Writer {
        dest: Destination::Recent,
        reopen: Arc::default(),
        recent: Arc::new(Recent::new(1)),
        metrics: Arc::clone(&metrics),
        pending: Vec::new(),
        lines: 0,
        failing: false,
        torn: false,
    };
    let out: Out = Box::new(disk.clone());
    let thread = std::thread::spawn(move || writer.run(rx, out));
    let log = QueryLog {
        tx,
        metrics: Arc::clone(&metrics),
        reopen: Arc::default(),
        recent: Arc::new(Recent::new(1)),
    };
    for _ in 0..4 {
        log.log(entry());
    }
    assert!(!log.sync(Duration::from_secs(5)), "two lines lost");
    assert_eq!(Metrics::get(&metrics.query_log_dropped), 2);
    disk.room.store(usize::MAX, Ordering::SeqCst);
    log.log(entry());
    assert!(log.sync(Duration::from_secs(5)));
    drop(log);
    thread.join().expect("writer");
    let data = disk.data.lock().expect("lock").clone();
    let text = String::from_utf8(data).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for l in [lines[0], lines[1], lines[3]] {
        assert_eq!(l, line(&entry()));
    }
    assert_eq!(lines[2].len(), 10, "the cut line, ended");
}
