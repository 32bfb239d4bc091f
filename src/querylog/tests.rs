//! The query log: line format, rotation, back-pressure.

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
        transport: "udp",
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
    // The dashboard's ring holds the same lines.
    let (kept, next) = log.recent().since(0, 1000);
    assert_eq!(next, 100);
    assert_eq!(kept.join("\n") + "\n", text);
}

#[test]
fn kept_only_for_the_dashboard_the_lines_go_nowhere_else() {
    let log = QueryLog::start(&Destination::Recent, Arc::new(Metrics::default())).expect("starts");
    for _ in 0..3 {
        log.log(entry());
    }
    assert!(log.sync(Duration::from_secs(5)));
    let (kept, next) = log.recent().since(0, 10);
    assert_eq!((kept.len(), next), (3, 3));
    assert_eq!(kept[0], line(&entry()));
}

#[test]
fn a_full_backlog_drops_and_counts() {
    let metrics = Arc::new(Metrics::default());
    let (tx, rx) = sync_channel(1);
    let log = QueryLog {
        tx,
        metrics: Arc::clone(&metrics),
        reopen: Arc::default(),
        recent: Arc::new(Recent::new(1)),
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
