//! Files this version did not write whole: torn, corrupted, of another version or kind,
//! hostile behind a good checksum, too large. Each loads nothing, with one warning.

use std::sync::{Arc, Mutex};

use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncodable;

use super::super::format::{self, MAGIC, VERSION, crc32};
use super::super::*;
use super::{WRITTEN, filled, positive, wall};
use crate::cache::{CachePolicy, Rank};
use crate::dnssec::testing::records;
use crate::testing::Scratch;

/// A file of two small entries, and a cache it may be loaded into.
fn small_file(dir: &Path) -> (Vec<u8>, Instant) {
    let file = dir.join("small.bin");
    let now = Instant::now();
    let cache = filled(
        &[
            positive("a.test. 300 IN A 192.0.2.1", Rank::Authoritative),
            positive("b.test. 300 IN TXT \"b\"", Rank::Authoritative),
        ],
        300,
        now,
    );
    cache.save(&file, now, wall(WRITTEN)).expect("saved");
    (std::fs::read(&file).expect("read"), now)
}

/// Loads `bytes` from a file into an empty cache: the error, after checking nothing went in.
fn refused(dir: &Path, bytes: &[u8], now: Instant) -> PersistError {
    let file = dir.join("bad.bin");
    std::fs::write(&file, bytes).expect("write");
    let cache = Cache::new(CachePolicy::default());
    let e = match cache.load(&file, now, wall(WRITTEN)) {
        Ok(loaded) => panic!("{loaded:?} from {bytes:02x?}"),
        Err(e) => e,
    };
    assert!(cache.is_empty(), "{e}");
    e
}

#[tokio::test(start_paused = true)]
async fn a_torn_file_is_refused_at_every_length_and_a_flipped_byte_anywhere() {
    let dir = Scratch::new("persist-torn");
    let (bytes, now) = small_file(&dir);
    for len in 0..bytes.len() {
        let e = refused(&dir, &bytes[..len], now);
        assert!(matches!(e, PersistError::Truncated), "{len} bytes: {e}");
    }
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        refused(&dir, &bad, now);
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        refused(&dir, &longer, now),
        PersistError::TrailingBytes
    ));
    let mut flipped = bytes.clone();
    let last_body_byte = bytes.len() - 5;
    flipped[last_body_byte] ^= 1;
    assert!(matches!(
        refused(&dir, &flipped, now),
        PersistError::Checksum
    ));
}

/// `bytes` with its checksum made good again: what a forger (or a bug) would write.
fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let at = bytes.len() - 4;
    let crc = crc32(&bytes[..at]);
    bytes[at..].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// Header fields: magic 0..8, version 8..10, written 10..18, count 18..22, body length 22..30.
fn with_field(bytes: &[u8], at: std::ops::Range<usize>, value: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at].copy_from_slice(value);
    resealed(out)
}

#[tokio::test(start_paused = true)]
async fn other_files_versions_and_hostile_contents_are_refused() {
    let dir = Scratch::new("persist-hostile");
    let (bytes, now) = small_file(&dir);
    assert!(matches!(
        refused(&dir, b"#!/bin/sh\necho hi\n", now),
        PersistError::NotACacheFile
    ));
    let v2 = with_field(&bytes, 8..10, &(VERSION + 1).to_be_bytes());
    let e = refused(&dir, &v2, now);
    assert!(
        matches!(e, PersistError::Version(v) if v == VERSION + 1),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "format version {}, this tern reads version {VERSION}",
            VERSION + 1
        )
    );
    // A count far beyond the entries there: no allocation by it, the body simply runs out.
    let huge = with_field(&bytes, 18..22, &u32::MAX.to_be_bytes());
    let e = refused(&dir, &huge, now);
    assert!(matches!(e, PersistError::Entry { index: 2, .. }), "{e}");
    let fewer = with_field(&bytes, 18..22, &1u32.to_be_bytes());
    assert!(matches!(
        refused(&dir, &fewer, now),
        PersistError::Entry { index: 1, .. }
    ));
    // A body length beyond the file, and one wrapping the address space.
    let long = with_field(&bytes, 22..30, &u64::MAX.to_be_bytes());
    assert!(matches!(refused(&dir, &long, now), PersistError::Truncated));
    // An entry length past the end.
    let past = with_field(&bytes, 30..34, &u32::MAX.to_be_bytes());
    assert!(matches!(
        refused(&dir, &past, now),
        PersistError::Entry { index: 0, .. }
    ));
    // Garbage in the second entry (framing and checksum good): nothing of the first loads.
    let first_len = u32::from_be_bytes([bytes[30], bytes[31], bytes[32], bytes[33]]) as usize;
    let second = 30 + 4 + first_len + 4;
    let mut garbage = bytes.clone();
    let end = garbage.len() - 4;
    garbage[second..end].fill(0xff);
    let e = refused(&dir, &resealed(garbage), now);
    assert!(matches!(e, PersistError::Entry { index: 1, .. }), "{e}");
}

/// Hand-made entries: each field a writer of this module never produces.
#[tokio::test(start_paused = true)]
async fn entries_with_impossible_fields_are_refused() {
    let dir = Scratch::new("persist-fields");
    let now = Instant::now();
    let a = records("a.test. 300 IN A 192.0.2.1").remove(0);
    let txt = records("a.test. 300 IN TXT \"x\"").remove(0);
    // owner a.test., key type A, kind, rank 3, 300 s left, a 30 s prefetch window, then the
    // kind's data (its record count at 21..23).
    let head = |kind: u8| {
        let mut e = vec![1, b'a', 4, b't', b'e', b's', b't', 0, 1, 0, 1, kind, 3];
        e.extend_from_slice(&300i32.to_be_bytes());
        e.extend_from_slice(&30u32.to_be_bytes());
        e
    };
    let with_records = |kind: u8, set: &[&Record], tail: &[u8]| {
        let mut e = head(kind);
        e.extend_from_slice(&(set.len() as u16).to_be_bytes());
        for r in set {
            e.extend_from_slice(&r.to_bytes().expect("record"));
        }
        e.extend_from_slice(tail);
        e
    };
    let good = with_records(0, &[&a], &[0]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an empty RRset", with_records(0, &[], &[0])),
        (
            "a negative answer's records are not one SOA",
            with_records(1, &[&txt], &[0]),
        ),
        ("bad kind", with_records(9, &[&a], &[0])),
        ("bad DNSSEC verdict", with_records(0, &[&a], &[6])),
        (
            "bytes after its last field",
            with_records(0, &[&a], &[0, 0]),
        ),
        ("a record does not decode", {
            // Two records said, one there.
            let mut e = good.clone();
            e[22] = 2;
            e
        }),
        ("bad rank", {
            let mut e = good.clone();
            e[12] = 4;
            e
        }),
        ("bad key type", {
            let mut e = good.clone();
            e[8] = 2;
            e
        }),
        ("text that is not UTF-8", {
            let mut e = head(3);
            e.extend_from_slice(&[0, 2, 0xc3, 0x28, 0]);
            e
        }),
    ];
    let file = |entry: &[u8]| {
        let mut w = format::Writer::new();
        assert!(w.push_encoded(entry));
        w.finish(WRITTEN)
    };
    let cache = Cache::new(CachePolicy::default());
    let path = dir.join("ok.bin");
    std::fs::write(&path, file(&good)).expect("write");
    assert_eq!(
        cache
            .load(&path, now, wall(WRITTEN))
            .expect("good entry")
            .restored,
        1
    );
    for (why, entry) in cases {
        let e = refused(&dir, &file(&entry), now);
        assert!(
            matches!(&e, PersistError::Entry { index: 0, why: w } if *w == why),
            "{why}: {e}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_oversized_file_is_refused_unread() {
    let dir = Scratch::new("persist-large");
    let now = Instant::now();
    let file = dir.join("large.bin");
    let mut bytes = MAGIC.to_vec();
    bytes.resize((2 << 20) + 1, 0);
    std::fs::write(&file, &bytes).expect("write");
    let cache = Cache::new(CachePolicy {
        max_bytes: 1 << 20,
        ..CachePolicy::default()
    });
    let e = cache.load(&file, now, wall(WRITTEN)).expect_err("refused");
    assert!(matches!(e, PersistError::TooLarge { .. }), "{e}");
}

/// A `tracing` writer into a shared buffer, to count log lines.
#[derive(Clone, Default)]
pub(super) struct Lines(pub(super) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_file_is_one_warning_naming_the_file_and_the_reason() {
    let dir = Scratch::new("persist-log");
    let (bytes, now) = small_file(&dir);
    let file = dir.join("torn.bin");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("write");
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let cache = Cache::new(CachePolicy::default());
    let missing = dir.join("missing.bin");
    tracing::subscriber::with_default(subscriber, || {
        assert!(
            cache
                .save_or_load(FileOp::Load, &file, now, wall(WRITTEN))
                .is_err()
        );
        assert!(
            cache
                .save_or_load(FileOp::Load, &missing, now, wall(WRITTEN))
                .is_err_and(|e| e.is_missing())
        );
    });
    let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("utf-8");
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains("torn.bin") && warnings[0].contains("truncated"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(cache.is_empty());
}
