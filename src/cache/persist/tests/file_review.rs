//! Review probes of the file itself: the temporary file of an atomic write, and a persist path
//! that is not a regular file.

use std::os::unix::fs::OpenOptionsExt;
use std::sync::mpsc;

use nix::sys::stat::Mode;

use super::super::*;
use super::{WRITTEN, filled, positive, wall};
use crate::cache::{CachePolicy, Rank};
use crate::testing::Scratch;

/// Two tern processes that share the folder (containers, each tern PID 1) must not pick the
/// same temporary name: a writer that finds its name taken must neither fail nor remove the
/// other writer's file (which would make that writer's rename fail in turn).
#[tokio::test(start_paused = true)]
async fn a_writer_never_takes_or_removes_another_writers_temporary_file() {
    let dir = Scratch::new("persist-review-temp");
    let file = dir.join("c.bin");
    let now = Instant::now();
    let cache = filled(
        &[positive("a.test. 300 IN A 192.0.2.1", Rank::Authoritative)],
        300,
        now,
    );
    // Another process with our PID, in the middle of its writes: every name a PID-and-counter
    // scheme would give this one for its next writes.
    let pid = std::process::id();
    let theirs: Vec<_> = (0..512)
        .map(|n| dir.join(format!(".c.bin.{pid}-{n}.tmp")))
        .collect();
    for path in &theirs {
        std::fs::write(path, b"the other writer's").expect("write");
    }
    cache.save(&file, now, wall(WRITTEN)).expect("saved");
    cache.save(&file, now, wall(WRITTEN)).expect("saved again");
    for path in &theirs {
        let kept = std::fs::read(path).expect("the other writer's file is still there");
        assert_eq!(kept, b"the other writer's", "{}", path.display());
    }
    // Ours renamed, none left behind: the folder holds the file and the other writer's.
    let count = std::fs::read_dir(&*dir).expect("dir").count();
    assert_eq!(count, theirs.len() + 1);
    let fresh = Cache::new(CachePolicy::default());
    assert_eq!(
        fresh
            .load(&file, now, wall(WRITTEN))
            .expect("loaded")
            .restored,
        1
    );
}

/// Loads `path` into an empty cache on a thread of its own; the error, or a panic if it
/// blocks (a FIFO with no writer would block in `open` for ever).
fn load_elsewhere(path: &Path, now: Instant) -> PersistError {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let cache = Cache::new(CachePolicy {
            max_bytes: 1 << 20,
            ..CachePolicy::default()
        });
        let done = cache.load(&p, now, wall(WRITTEN));
        let _ = tx.send((done, cache.is_empty()));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok((Err(e), true)) => e,
        Ok((done, empty)) => panic!("{}: {done:?}, cache empty {empty}", path.display()),
        Err(_) => {
            // Unblock the reader (a writer's open ends its wait, its close gives it EOF), so
            // the thread ends, then fail.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(path);
            panic!("{}: loading blocked", path.display());
        }
    }
}

/// A FIFO, a device, a folder at the persist path: refused at once as not a regular file,
/// never opened for a read that blocks or runs to the size cap.
#[tokio::test(start_paused = true)]
async fn a_persist_path_that_is_not_a_regular_file_is_refused_without_reading() {
    let dir = Scratch::new("persist-review-fifo");
    let now = Instant::now();
    let fifo = dir.join("fifo.bin");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let folder = dir.join("folder.bin");
    std::fs::create_dir(&folder).expect("dir");
    // A link to a FIFO is followed to it: the file it names is what counts.
    let link = dir.join("link.bin");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    for path in [fifo.as_path(), Path::new("/dev/zero"), &folder, &link] {
        let e = load_elsewhere(path, now);
        assert!(
            matches!(e, PersistError::NotRegular { .. }),
            "{}: {e}",
            path.display()
        );
    }
}

/// Start-up's one line for such a path: a warning naming the file and why.
#[tokio::test(start_paused = true)]
async fn a_fifo_at_the_persist_path_is_one_warning_and_an_empty_cache() {
    let dir = Scratch::new("persist-review-fifo-log");
    let now = Instant::now();
    let fifo = dir.join("fifo.bin");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let lines = super::refused::Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let (tx, rx) = mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let cache = Cache::new(CachePolicy::default());
        tracing::subscriber::with_default(subscriber, || {
            let done = cache.save_or_load(FileOp::Load, &path, now, wall(WRITTEN));
            let _ = tx.send((done.is_err(), cache.is_empty()));
        });
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(10));
    if got.is_err() {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&fifo);
    }
    assert_eq!(got, Ok((true, true)), "loading blocked or took the FIFO");
    let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("WARN") && text.contains("fifo.bin") && text.contains("not a regular file"),
        "{text}"
    );
}
