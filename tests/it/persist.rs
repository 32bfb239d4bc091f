//! The persistent cache (`[cache] persist`, subnet 152): a `tern serve` that resolved through
//! the lab, stopped with SIGTERM and started again with the lab gone, answers what it had
//! cached (NOERROR and NXDOMAIN, TTLs lowered by the downtime); `tern ctl save-cache` and
//! `load-cache` round-trip through the running server; a corrupted file is refused with one
//! warning and an empty cache.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::control::ok;
use crate::support::{self, Serve, TempDir, query};

const SUBNET: u8 = 152;

fn tern_addr() -> SocketAddr {
    // Outside the lab's addresses (127.152.0.11..150).
    SocketAddr::new(support::addr(SUBNET, 200), 53)
}

async fn ask(qname: &str, qtype: RecordType) -> Message {
    support::udp(tern_addr(), &query(qname, qtype, true, Some(1232))).await
}

/// Starts tern on `config` (stderr to `log`) and waits for its control socket, which comes up
/// after the cache file was read.
async fn start(config: &Path, socket: &Path, log: &Path) -> Serve {
    let mut serve = Serve::start(config, "info", log);
    for _ in 0..200 {
        if socket.exists() {
            return serve;
        }
        if let Some(status) = serve.0.try_wait().expect("tern status") {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("tern exited ({status}): {log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no control socket at {} within 10 s", socket.display());
}

/// SIGTERM, then the exit status within 10 s: the cache is written on the way out.
async fn stop(mut serve: Serve) {
    support::signal(&serve.0, "TERM");
    for _ in 0..200 {
        if let Some(status) = serve.0.try_wait().expect("tern status") {
            assert_eq!(status.code(), Some(0), "exit 0 on SIGTERM");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tern did not stop within 10 s of SIGTERM");
}

fn write_config(dir: &Path, hints: &str) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join("root.hints"), hints).expect("hints");
    let config = dir.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{}\"]\n\
             [recursion]\nroot_hints = \"root.hints\"\nallow = [\"127.0.0.0/8\"]\n\
             [control]\nsocket = \"run/control.sock\"\n\
             [cache]\npersist = \"state/cache.bin\"\n\
             [limits]\ntimeout_ms = 1000\nclient_timeout_ms = 1000\n",
            tern_addr()
        ),
    )
    .expect("config");
    (config, dir.join("run/control.sock"))
}

fn a_ttl(m: &Message) -> u32 {
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    let a = m.answers.iter().find(|r| r.record_type() == RecordType::A);
    a.unwrap_or_else(|| panic!("no A in {m:?}")).ttl
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_tern_answers_from_its_saved_cache_with_the_authorities_gone() {
    let dir = TempDir::new("persist");
    let lab = support::start_lab(SUBNET).await;
    let (config, socket) = write_config(&dir.0, lab.files.root_hints().expect("lab hints"));
    std::fs::create_dir_all(dir.0.join("state")).expect("state folder");
    let file = dir.0.join("state/cache.bin");
    let log = |run: &str| dir.0.join(format!("tern-{run}.log"));

    // First run: resolved through the lab, written at shutdown.
    let serve = start(&config, &socket, &log("1")).await;
    let fetched = a_ttl(&ask("www.alpha.test.", RecordType::A).await);
    let nx = ask("nope.alpha.test.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    let txt = ask("www.alpha.test.", RecordType::TXT).await;
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    stop(serve).await;
    assert!(file.is_file(), "written at shutdown");
    let names: Vec<_> = std::fs::read_dir(dir.0.join("state"))
        .expect("state")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["cache.bin"], "no temporary file left");

    // The authorities gone, and some downtime for the TTLs to show.
    drop(lab);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let serve = start(&config, &socket, &log("2")).await;
    let logged = std::fs::read_to_string(log("2")).expect("log");
    assert!(
        logged.contains("cache file") && logged.contains("loaded"),
        "{logged}"
    );
    let cached = a_ttl(&ask("www.alpha.test.", RecordType::A).await);
    assert!(cached + 2 <= fetched, "TTL aged: {fetched} -> {cached}");
    let nx = ask("nope.alpha.test.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(!nx.authorities.is_empty(), "the SOA came back with it");
    let txt = ask("www.alpha.test.", RecordType::TXT).await;
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    assert!(!txt.answers.is_empty());
    // Nothing else can be had: the lab is gone.
    let gone = ask("mail.alpha.test.", RecordType::A).await;
    assert_eq!(gone.metadata.response_code, ResponseCode::ServFail);

    // tern ctl: saved, flushed, loaded back (a path with spaces is one FILE).
    let copy = dir.0.join("copy of the cache.bin");
    let saved = ok(&socket, &["save-cache", copy.to_str().expect("path")]).await;
    assert!(saved.contains(": saved "), "{saved}");
    ok(&socket, &["flush-all"]).await;
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(!dump.contains("www.alpha.test."), "{dump}");
    let loaded = ok(&socket, &["load-cache", copy.to_str().expect("path")]).await;
    assert!(loaded.contains(": loaded "), "{loaded}");
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(dump.contains("www.alpha.test. "), "{dump}");
    a_ttl(&ask("www.alpha.test.", RecordType::A).await);
    stop(serve).await;

    // A corrupted file: one warning naming it, nothing loaded.
    let mut bytes = std::fs::read(&file).expect("file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).expect("corrupt");
    let serve = start(&config, &socket, &log("3")).await;
    let logged = std::fs::read_to_string(log("3")).expect("log");
    let warnings: Vec<&str> = logged.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logged}");
    assert!(
        warnings[0].contains("cache file refused")
            && warnings[0].contains("cache.bin")
            && warnings[0].contains("checksum"),
        "{logged}"
    );
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(!dump.contains("alpha.test."), "{dump}");
    drop(serve);
}
